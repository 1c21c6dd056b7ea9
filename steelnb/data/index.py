"""Dataset indexes: which images exist, which defect classes each holds, and their masks.

This module holds the common interface, :class:`SegmentationIndex`, that every layout returns: the Kaggle
Severstal layout is in ``severstal.py``, image folders with class-index masks (NEU-Seg, your own data) in
``folders.py``, and ``layouts.open_dataset`` picks the right one for a folder.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .images import read_gray

#: The image files the readers take (OpenCV decodes them; industrial cameras often write TIFF).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")
#: Image files the readers do not take: named in an error, never left out without a word.
UNREADABLE_IMAGE_SUFFIXES = (".jp2", ".j2k", ".heic", ".heif", ".avif", ".dng", ".raw", ".cr2", ".nef", ".pgm", ".ppm")
#: Mask files whose compression may change label values (a JPEG mask's edges hold values between the labels).
LOSSY_MASK_SUFFIXES = (".jpg", ".jpeg", ".webp")


class DatasetFormatError(ValueError):
    """A dataset folder or CSV that does not match a known layout; the message names the file."""


#: The names of the datasets the course knows: runs, figures and tables are filed under them.
SEVERSTAL = "severstal"
NEU_SEG = "neu-seg"
DEMO = "demo"  # the synthetic demo data (``data/demo.py``)

#: How figures name the synthetic demo dataset (``data/demo.py``).
DEMO_TITLE = "synthetic demo with Severstal's shape and class statistics"


def is_strip(shape: tuple[int, ...]) -> bool:
    """Whether an image of ``shape`` (height, width, ...) is a wide strip: wider than twice its height, like
    Severstal's 256x1600. The paper's square resize squashes such images, and figures stack their panels."""
    return shape[1] > 2 * shape[0]


@dataclass
class SegmentationIndex:
    """Images of one dataset with their per-class presence.

    Attributes:
        name: short dataset name (``SEVERSTAL``, ``NEU_SEG``, ``DEMO`` or a folder's name).
        root: dataset folder.
        class_names: names of the defect classes 1..C (class 0 is background).
        image_shape: (height, width) every image must have, or None when not fixed.
        table: one row per image, indexed by ``image_id``, with columns ``path`` and
            ``has_1..has_C`` (bool), plus ``split`` when the dataset ships its own split.
    """

    name: str
    root: Path
    class_names: tuple[str, ...]
    image_shape: tuple[int, int] | None
    table: pd.DataFrame = field(repr=False)

    @property
    def title(self) -> str:
        """How figures and tables name this data: the name, or for the synthetic demo data what it is, so that
        a demo figure can never pass for one of real steel."""
        return DEMO_TITLE if self.is_demo else self.name

    @property
    def is_demo(self) -> bool:
        """Whether this is the synthetic demo data (its numbers are not real steel's, and its figures go apart)."""
        return self.name == DEMO

    @property
    def num_classes(self) -> int:
        """Number of label values including background (C + 1)."""
        return len(self.class_names) + 1

    @property
    def image_ids(self) -> list[str]:
        """All image ids, in a stable sorted order."""
        return list(self.table.index)

    def __len__(self) -> int:
        return len(self.table)

    def presence(self, image_ids: Sequence[str] | None = None) -> np.ndarray:
        """Bool array (n_images, C): does image i (of ``image_ids``, default all) hold defect class c+1."""
        columns = [f"has_{c}" for c in range(1, self.num_classes)]
        rows = self.table if image_ids is None else self.table.loc[list(image_ids)]
        return rows[columns].to_numpy(bool)

    def label_digests(self) -> list[str]:
        """A SHA-256 (hex) of each image's labels, in the order of :attr:`image_ids`: what a changed mask or
        label row changes. Each layout reads its own label source (``train.csv`` rows, mask files)."""
        raise NotImplementedError

    def fingerprint(self) -> dict[str, object]:
        """What identifies this data for a training run: the class names, the image count, a SHA-256 of the
        sorted image ids and one of every image's labels (:meth:`label_digests`), plus the name and folder
        (to tell the user which data a run was trained on).

        A checkpoint keeps it, so that a run is never resumed, reloaded and scored on other data that
        happens to sit in a folder of the same name, or on the same files with other labels; moving the same
        data elsewhere keeps it valid.
        """
        ids = hashlib.sha256("\n".join(sorted(self.image_ids)).encode("utf-8")).hexdigest()
        labels = "\n".join(f"{image_id} {digest}" for image_id, digest in zip(self.image_ids, self.label_digests(),
                                                                             strict=True))
        return {"name": self.name, "root": str(Path(self.root).resolve()), "class_names": list(self.class_names),
                "images": len(self), "ids_sha256": ids,
                "labels_sha256": hashlib.sha256(labels.encode("utf-8")).hexdigest()}

    def image(self, image_id: str) -> np.ndarray:
        """The grayscale image, uint8 (height, width)."""
        return read_gray(self.table.at[image_id, "path"], self.image_shape)

    def mask(self, image_id: str) -> np.ndarray:
        """The label mask, uint8 (height, width) with values 0 (background) .. C."""
        raise NotImplementedError


def list_images(folder: Path) -> dict[str, Path]:
    """Image id (file name) -> path for every image file in ``folder``, sorted by name; e.g. Kaggle's
    ``test_images/`` for a submission.

    Raises:
        DatasetFormatError: the folder does not exist.
    """
    if not folder.is_dir():
        raise DatasetFormatError(f"image folder not found: {folder}")
    return {p.name: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


