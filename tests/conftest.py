"""Shared fixtures: a tiny Kaggle-format dataset written by the demo generator, and the real samples."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from steelnb.demo import generate_demo_dataset

os.environ.setdefault("STEELNB_OFFLINE", "1")  # never try to download weights in tests

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """12 synthetic 256x1600 images with train.csv (the same every run)."""
    return generate_demo_dataset(tmp_path_factory.mktemp("demo"), n_images=12, seed=3)


@pytest.fixture(scope="session")
def severstal_samples() -> Path:
    """The 10 real Severstal images with RLE rows; skips when ../shared is absent."""
    root = SHARED / "severstal"
    if not (root / "train.csv").is_file():
        pytest.skip("real Severstal samples not available (../shared/data/severstal)")
    return root


@pytest.fixture(scope="session")
def neu_root() -> Path:
    """NEU-Seg; skips when ../shared is absent."""
    root = SHARED / "neu-seg"
    if not root.is_dir():
        pytest.skip("NEU-Seg not available (../shared/data/neu-seg)")
    return root
