"""Where the data lives, and which data a notebook uses: the one place that decides.

The real data is looked for in ``$STEELNB_DATA`` (a Kaggle Severstal folder, NEU-Seg or your own
folders), then in :func:`severstal_dir` (``train.csv`` + ``train_images/``: ``<project>/data/severstal/``,
or on Colab the runtime's local disk, where chapter 00 downloads it), then in :func:`neu_seg_dir`
(``<project>/data/neu-seg/``, where ``python -m steelnb download neu-seg`` puts NEU-Seg; on Colab, Google
Drive). When none is
there the course runs on the demo dataset, generated once into ``<project>/data/demo/``, and says so.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..env import DRIVE_COURSE, PROJECT_ROOT, drive_mounted, on_colab
from .demo import generate_demo_dataset
from .download.kaggle import ARCHIVE_NAME
from .index import DEMO, NEU_SEG, SEVERSTAL, SegmentationIndex
from .layouts import is_neu_seg_folder, is_severstal_folder, open_dataset

#: Where the course downloads the Kaggle data and looks for it when ``STEELNB_DATA`` is not set: the course
#: folder off Colab, the runtime's local disk on Colab (reading 12,568 small files from Google Drive is slow).
SEVERSTAL_DIR = PROJECT_ROOT / "data" / SEVERSTAL
COLAB_SEVERSTAL = Path("/content/data/severstal")
#: Where ``python -m steelnb download neu-seg`` puts NEU-Seg by default (on Colab: ``COLAB_NEU_SEG``).
NEU_SEG_DIR = PROJECT_ROOT / "data" / NEU_SEG
#: On Colab, what must outlive the runtime is kept on Google Drive: NEU-Seg itself (about 62 MB kept) and the Kaggle zip.
COLAB_NEU_SEG = DRIVE_COURSE / "data" / NEU_SEG
COLAB_KEPT_ARCHIVE = DRIVE_COURSE / "data" / ARCHIVE_NAME
DEMO_IMAGES = 400


def severstal_dir() -> Path:
    """Where the Kaggle data is downloaded to and found: ``COLAB_SEVERSTAL`` on Colab, else ``SEVERSTAL_DIR``."""
    return COLAB_SEVERSTAL if on_colab() else SEVERSTAL_DIR


def neu_seg_dir() -> Path:
    """Where NEU-Seg is downloaded to and found: on Colab with Google Drive mounted, ``COLAB_NEU_SEG`` (a
    new runtime finds it there), else ``NEU_SEG_DIR``."""
    return COLAB_NEU_SEG if on_colab() and drive_mounted() else NEU_SEG_DIR


def kept_severstal_archive() -> Path | None:
    """Where the Kaggle zip is kept to restore the data in a new runtime: ``COLAB_KEPT_ARCHIVE`` on Colab with
    Google Drive mounted; None elsewhere (the data folder itself lasts)."""
    return COLAB_KEPT_ARCHIVE if on_colab() and drive_mounted() else None


def real_data_dir() -> Path | None:
    """The real data folder if present: ``$STEELNB_DATA`` (any layout ``open_dataset`` reads) first,
    then :func:`severstal_dir` when it holds ``train.csv``, then :func:`neu_seg_dir` when it holds NEU-Seg."""
    chosen = os.environ.get("STEELNB_DATA")
    if chosen is not None and not chosen.strip():
        raise ValueError("STEELNB_DATA is set but empty: unset it (to use data/severstal or the demo data) or set "
                         "it to your data folder")
    if chosen:
        if not Path(chosen).is_dir():
            raise FileNotFoundError(f"STEELNB_DATA={chosen} is not a folder")
        return Path(chosen)
    if is_severstal_folder(severstal_dir()):
        return severstal_dir()
    return neu_seg_dir() if is_neu_seg_folder(neu_seg_dir()) else None


def demo_data_dir() -> Path:
    """The demo dataset folder, generating it (about 5 s, deterministic) when missing."""
    root = PROJECT_ROOT / "data" / DEMO
    if not is_severstal_folder(root):  # the demo data is written in Kaggle's format
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
    index = open_dataset(demo_data_dir(), name=DEMO)
    if verbose:
        print(f"No real data found (set STEELNB_DATA, put the Kaggle data in {severstal_dir()}, or get NEU-Seg with "
              "`python -m steelnb download neu-seg`).\n"
              f"Using the synthetic DEMO dataset instead ({len(index)} images): numbers below are not the paper's.")
    return index
