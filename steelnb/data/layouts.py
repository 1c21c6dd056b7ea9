"""Open any dataset folder the course reads: Kaggle Severstal, NEU-Seg, or your own image/mask folders.

:data:`LAYOUTS` is the one list of folder layouts; a new layout is one more entry (its reader can live in a
module of its own, like ``severstal.py`` and ``folders.py``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .folders import NEU_SEG_FOLDER, load_folder_dataset
from .index import SEVERSTAL, DatasetFormatError, SegmentationIndex
from .severstal import LABELS_CSV, load_severstal


def is_severstal_folder(root: Path) -> bool:
    """Whether ``root`` is a Kaggle Severstal folder (complete: its ``train.csv`` is written last)."""
    return (root / LABELS_CSV).is_file()


def is_neu_seg_folder(root: Path) -> bool:
    """Whether ``root`` holds NEU-Seg as the course downloads it (``data_wenjian/``)."""
    return (root / NEU_SEG_FOLDER).is_dir()


@dataclass(frozen=True)
class Layout:
    """A folder layout: what it looks like (for error messages), how to recognise it, how to read it."""

    description: str
    matches: Callable[[Path], bool]
    read: Callable[[Path, str | None], SegmentationIndex]  # (folder, dataset name or None) -> index


#: The layouts, in the order ``open_dataset`` tries them.
LAYOUTS = (
    Layout("a Kaggle Severstal folder (train.csv + train_images/)",
           is_severstal_folder,
           lambda root, name: load_severstal(root, name=name or SEVERSTAL)),
    Layout("image folders with class-index masks (img_dir/ + ann_dir/, optional classes.txt; NEU-Seg in either of "
           "its layouts)",
           lambda root: is_neu_seg_folder(root) or any((root / sub).is_dir() for sub in ("img_dir", "images")),
           lambda root, name: load_folder_dataset(root, name=name)),
)


def open_dataset(root: str | Path, name: str | None = None) -> SegmentationIndex:
    """Index ``root`` with the first of :data:`LAYOUTS` it matches; ``name`` names the dataset (default: the
    layout's choice, e.g. "severstal" or the folder's name).

    Raises:
        DatasetFormatError: ``root`` is missing or matches no layout; the message says what was expected.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(f"dataset folder not found: {root}")
    for layout in LAYOUTS:
        if layout.matches(root):
            return layout.read(root, name)
    raise DatasetFormatError(f"{root}: neither {' nor '.join(layout.description for layout in LAYOUTS)}")
