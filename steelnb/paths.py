"""Where the data, runs and figures live, and which data a notebook uses.

The real Kaggle data is looked for in ``$STEELNB_DATA`` or ``<project>/data/severstal/``
(``train.csv`` + ``train_images/``). When it is absent the course runs on the demo dataset,
generated once into ``<project>/data/demo/``, and says so.
"""
from __future__ import annotations

import os
from pathlib import Path

from .demo import generate_demo_dataset
from .index import SegmentationIndex, open_dataset

PROJECT_ROOT = Path(os.environ.get("STEELNB_HOME", Path(__file__).resolve().parents[1]))
DEMO_IMAGES = 400


def real_data_dir() -> Path | None:
    """The Kaggle Severstal folder if present: ``$STEELNB_DATA`` first, then ``data/severstal``."""
    candidates = [os.environ.get("STEELNB_DATA"), PROJECT_ROOT / "data" / "severstal"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train.csv").is_file():
            return Path(candidate)
    return None


def demo_data_dir() -> Path:
    """The demo dataset folder, generating it (about 5 s, deterministic) when missing."""
    root = PROJECT_ROOT / "data" / "demo"
    if not (root / "train.csv").is_file():
        generate_demo_dataset(root, n_images=DEMO_IMAGES)
    return root


def load_course_dataset(verbose: bool = True) -> SegmentationIndex:
    """The dataset the notebooks use: the real Kaggle data when found, else the demo data (with a message)."""
    real = real_data_dir()
    if real is not None:
        index = open_dataset(real, name="severstal")
        if verbose:
            print(f"Using the real Severstal data in {real} ({len(index)} images).")
        return index
    index = open_dataset(demo_data_dir(), name="demo")
    if verbose:
        print(f"Real Severstal data not found (set STEELNB_DATA or put it in {PROJECT_ROOT / 'data' / 'severstal'}).\n"
              f"Using the synthetic DEMO dataset instead ({len(index)} images): numbers below are not the paper's.")
    return index


def shared_sample_dir(name: str) -> Path | None:
    """A real-data sample folder under ``../shared/data/<name>`` (developer machines only), or None."""
    candidate = PROJECT_ROOT.parent / "shared" / "data" / name
    return candidate if candidate.is_dir() else None
