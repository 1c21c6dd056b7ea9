"""Reproducible train/val/test splits stratified by the set of defect classes in each image."""
from __future__ import annotations

import numpy as np

from .index import SegmentationIndex

SPLITS = ("train", "val", "test")
#: The share of the images in each of SPLITS: the paper's 80/10/10.
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def class_combination_keys(presence: np.ndarray) -> list[str]:
    """A stratum label per image from its bool presence row: "0" if defect-free, else e.g. "1+3"."""
    return ["+".join(str(c + 1) for c in np.flatnonzero(row)) or "0" for row in presence]


def stratified_split(index: SegmentationIndex, fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
                     seed: int = 0) -> dict[str, list[str]]:
    """Split image ids into train/val/test with the given fractions, per class-combination stratum.

    Within each stratum the images are shuffled with ``seed`` and cut by cumulative rounding, so
    every split gets its share of each combination (rare combinations go to train first).
    A dataset that ships its own split (NEU-Seg's ``split`` column) keeps it.

    Raises:
        ValueError: fractions that do not sum to 1, or a split that would be empty.
    """
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions {fractions} must sum to 1")
    if "split" in index.table:
        result = {name: sorted(index.table.index[index.table["split"] == name]) for name in SPLITS}
    else:
        rng = np.random.default_rng(seed)
        keys = np.array(class_combination_keys(index.presence()))
        ids = np.array(index.image_ids)
        result = {name: [] for name in SPLITS}
        bounds = np.cumsum(fractions)
        for key in sorted(set(keys)):
            members = rng.permutation(ids[keys == key])
            cuts = np.round(bounds * len(members)).astype(int)
            for name, start, stop in zip(SPLITS, np.r_[0, cuts[:-1]], cuts, strict=True):
                result[name] += members[start:stop].tolist()
        result = {name: sorted(members) for name, members in result.items()}
    for name, members in result.items():
        if not members:
            raise ValueError(f"the {name!r} split of {index.name} ({len(index)} images, fractions {fractions}) "
                             "is empty: use more images or other fractions")
    return result
