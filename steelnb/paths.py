"""Where the data, runs and figures live, and which data a notebook uses.

The real data is looked for in ``$STEELNB_DATA`` (a Kaggle Severstal folder, NEU-Seg or your own
folders), then in ``<project>/data/severstal/`` (``train.csv`` + ``train_images/``), then in
``<project>/data/neu-seg/`` (where ``python -m steelnb download neu-seg`` puts NEU-Seg). When none is
there the course runs on the demo dataset, generated once into ``<project>/data/demo/``, and says so.
"""
from __future__ import annotations

import os
from pathlib import Path

from .datasets import open_dataset
from .demo import generate_demo_dataset
from .index import SegmentationIndex

PROJECT_ROOT = Path(os.environ.get("STEELNB_HOME", Path(__file__).resolve().parents[1]))
#: Where the course looks for the Kaggle data when ``STEELNB_DATA`` is not set (and downloads it, off Colab).
SEVERSTAL_DIR = PROJECT_ROOT / "data" / "severstal"
#: Where ``python -m steelnb download neu-seg`` puts NEU-Seg by default.
NEU_SEG_DIR = PROJECT_ROOT / "data" / "neu-seg"
DEMO_IMAGES = 400


def real_data_dir() -> Path | None:
    """The real data folder if present: ``$STEELNB_DATA`` (any layout ``open_dataset`` reads) first,
    then ``data/severstal`` when it holds ``train.csv``, then ``data/neu-seg`` when it holds NEU-Seg."""
    chosen = os.environ.get("STEELNB_DATA")
    if chosen is not None and not chosen.strip():
        raise ValueError("STEELNB_DATA is set but empty: unset it (to use data/severstal or the demo data) or set "
                         "it to your data folder")
    if chosen:
        if not Path(chosen).is_dir():
            raise FileNotFoundError(f"STEELNB_DATA={chosen} is not a folder")
        return Path(chosen)
    if (SEVERSTAL_DIR / "train.csv").is_file():
        return SEVERSTAL_DIR
    return NEU_SEG_DIR if (NEU_SEG_DIR / "data_wenjian").is_dir() else None


def demo_data_dir() -> Path:
    """The demo dataset folder, generating it (about 5 s, deterministic) when missing."""
    root = PROJECT_ROOT / "data" / "demo"
    if not (root / "train.csv").is_file():
        generate_demo_dataset(root, n_images=DEMO_IMAGES)
    return root


def load_course_dataset(verbose: bool = True) -> SegmentationIndex:
    """The dataset the notebooks use: the real data when found (see :func:`real_data_dir`), else the demo data
    (with a message)."""
    real = real_data_dir()
    if real is not None:
        index = open_dataset(real)
        if verbose:
            print(f"Using the real {index.name} data in {real} ({len(index)} images, classes {index.class_names}).")
        return index
    index = open_dataset(demo_data_dir(), name="demo")
    if verbose:
        print(f"No real data found (set STEELNB_DATA, put the Kaggle data in {SEVERSTAL_DIR}, or get NEU-Seg with "
              "`python -m steelnb download neu-seg`).\n"
              f"Using the synthetic DEMO dataset instead ({len(index)} images): numbers below are not the paper's.")
    return index
