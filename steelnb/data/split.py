"""Reproducible train/val/test splits that stay put when the data changes.

Each image's split is fixed by a hash of the seed and its own id: correcting a mask or a ``train.csv`` row,
adding images or removing some never moves another image from one split to another, so a run reloaded
after such a change is still scored on images it never trained on. Every class combination (defect-free,
"1", "1+3", ...) gets its 80/10/10 share in expectation, as each of its images does.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .index import SegmentationIndex

SPLITS = ("train", "val", "test")
#: The share of the images in each of SPLITS: the paper's 80/10/10.
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def hash_fraction(seed: int, image_id: str) -> float:
    """A number in [0, 1) fixed by ``seed`` and ``image_id`` alone (the first 8 bytes of SHA-256 of
    "seed:image_id" over 2**64): uniform over ids, and the same on every machine and Python version."""
    digest = hashlib.sha256(f"{seed}:{image_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def hashed_split(index: SegmentationIndex, fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
                 seed: int = 0) -> dict[str, list[str]]:
    """Split image ids into train/val/test with the given fractions: an image goes to the split whose share
    of [0, 1) holds its :func:`hash_fraction`. Nothing but the seed and an image's own id decides where it
    goes. A dataset that ships its own split (NEU-Seg's ``split`` column) keeps it.

    Raises:
        ValueError: fractions that do not sum to 1, or a split that would be empty.
    """
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions {fractions} must sum to 1")
    if "split" in index.table:
        result = {name: sorted(index.table.index[index.table["split"] == name]) for name in SPLITS}
        missing = [name for name, members in result.items() if not members]
        if missing:
            raise ValueError(f"{index.name} ships its own split folders but none for {', '.join(missing)}: add "
                             + " and ".join(f"img_dir/{name}/ with ann_dir/{name}/" for name in missing)
                             + ", or put every image directly in img_dir/ (and ann_dir/) to let the course split them")
    else:
        bounds = np.cumsum(fractions)[:-1]  # the last split takes the rest of [0, 1)
        result = {name: [] for name in SPLITS}
        for image_id in index.image_ids:
            result[SPLITS[int(np.searchsorted(bounds, hash_fraction(seed, image_id), side="right"))]].append(image_id)
    for name, members in result.items():
        if not members:
            raise ValueError(f"the {name!r} split of {index.name} ({len(index)} images, fractions {fractions}) "
                             "is empty: use more images or other fractions")
    return result
