"""Shared fixtures: a tiny Kaggle-format dataset written by the demo generator, and the real samples."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from steelnb.data.demo import generate_demo_dataset

os.environ.setdefault("STEELNB_OFFLINE", "1")  # never try to download weights in tests

#: Real data for the tests that need it: a folder holding ``severstal/`` (a few Kaggle train images with
#: their train.csv rows) and ``neu-seg/``. Those tests skip when it is absent.
SHARED = Path(os.environ.get("STEELNB_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """12 synthetic 256x1600 images with train.csv (the same every run)."""
    return generate_demo_dataset(tmp_path_factory.mktemp("demo"), n_images=12, seed=3)


@pytest.fixture(scope="session")
def severstal_samples() -> Path:
    """Real Severstal images with their RLE rows (``STEELNB_TEST_DATA/severstal``); skips when absent."""
    root = SHARED / "severstal"
    if not (root / "train.csv").is_file():
        pytest.skip(f"no Severstal samples in {root} (set STEELNB_TEST_DATA to a folder holding severstal/)")
    return root


@pytest.fixture(scope="session")
def neu_root() -> Path:
    """NEU-Seg (``STEELNB_TEST_DATA/neu-seg``); skips when absent."""
    root = SHARED / "neu-seg"
    if not root.is_dir():
        pytest.skip(f"no NEU-Seg in {root} (set STEELNB_TEST_DATA to a folder holding neu-seg/)")
    return root
