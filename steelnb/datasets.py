"""Open any dataset folder the course reads: Kaggle Severstal, NEU-Seg, or your own image/mask folders."""
from __future__ import annotations

from pathlib import Path

from .folders import load_folder_dataset
from .index import DatasetFormatError, SegmentationIndex, load_severstal


def open_dataset(root: str | Path, name: str | None = None) -> SegmentationIndex:
    """Index ``root``: a Kaggle Severstal folder (``train.csv`` + ``train_images/``), or image folders with
    class-index masks (``img_dir/`` + ``ann_dir/``, see ``steelnb.folders``; NEU-Seg in either of its layouts).

    Raises:
        DatasetFormatError: ``root`` is missing or matches no layout; the message says what was expected.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(f"dataset folder not found: {root}")
    if (root / "train.csv").is_file():
        return load_severstal(root, name=name or "severstal")
    if any((root / sub).is_dir() for sub in ("img_dir", "data_wenjian", "images")):
        return load_folder_dataset(root, name=name)
    raise DatasetFormatError(f"{root}: neither a Kaggle Severstal folder (train.csv + train_images/) nor image "
                             "folders with class-index masks (img_dir/ + ann_dir/, optional classes.txt)")
