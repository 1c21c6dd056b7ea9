"""Post-processing from the top Kaggle Severstal solutions, tuned on the validation split.

For each defect class c, from the class probabilities (C+1, H, W):

1. **gate**: drop the class from the image unless its maximum probability exceeds ``gate[c]``
   (an image-level "is there a class-c defect at all?" decision that suppresses masks on
   defect-free images);
2. **threshold**: keep pixels where the probability of c exceeds ``threshold[c]``;
3. **minimum area**: drop the whole class mask when it covers fewer than ``min_area[c]`` pixels.

Kaggle's Dice averages over (image, class) pairs, so each class is tuned independently.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np


@dataclass
class PostProcessing:
    """Per-class gate, pixel threshold and minimum area (pixels), each a sequence of length C."""

    gate: Sequence[float]
    threshold: Sequence[float]
    min_area: Sequence[int]

    def class_masks(self, probs: np.ndarray) -> np.ndarray:
        """Bool (C, H, W): the kept defect pixels of each class; classes may overlap."""
        defect = probs[1:]
        masks = defect > np.asarray(self.threshold)[:, None, None]
        keep = (defect.reshape(len(defect), -1).max(1) > np.asarray(self.gate)) & \
               (masks.reshape(len(defect), -1).sum(1) >= np.asarray(self.min_area))
        return masks & keep[:, None, None]

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        """Label mask (H, W) uint8: the most probable kept class per pixel, 0 elsewhere."""
        masks = self.class_masks(probs)
        scores = np.where(masks, probs[1:], -1.0)
        return np.where(masks.any(0), scores.argmax(0) + 1, 0).astype(np.uint8)


def _dice(pred: np.ndarray, truth: np.ndarray) -> float:
    total = pred.sum() + truth.sum()
    return 1.0 if total == 0 else 2.0 * np.logical_and(pred, truth).sum() / total


def tune_postprocessing(probs: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                        gates: Sequence[float] = (0.0, 0.5, 0.7, 0.9),
                        thresholds: Sequence[float] = (0.3, 0.4, 0.5, 0.6),
                        min_areas: Sequence[int] = (0, 50, 200, 800)) -> tuple[PostProcessing, np.ndarray]:
    """Grid-search each class's (gate, threshold, min_area) for the best mean Dice on ``probs``/``masks``.

    Args:
        probs: per image, class probabilities (C+1, H, W) (e.g. the validation split).
        masks: per image, the label mask (H, W) at the same resolution.

    Returns:
        the tuned :class:`PostProcessing` and the best validation Dice of each class, shape (C,).
    """
    n_classes = probs[0].shape[0] - 1
    best = np.full(n_classes, -1.0)
    chosen = [(0.0, 0.5, 0)] * n_classes
    maxima = np.array([p[1:].reshape(n_classes, -1).max(1) for p in probs])  # (N, C)
    for c in range(n_classes):
        truths = [m == c + 1 for m in masks]
        dice_dropped = np.array([float(not t.any()) for t in truths])  # an empty mask scores 1 only on empty truth
        for threshold in thresholds:
            pixels = [p[c + 1] > threshold for p in probs]
            areas = np.array([px.sum() for px in pixels])
            dice_kept = np.array([_dice(px, t) for px, t in zip(pixels, truths, strict=True)])
            for gate, min_area in product(gates, min_areas):
                keep = (maxima[:, c] > gate) & (areas >= min_area)
                score = np.where(keep, dice_kept, dice_dropped).mean()
                if score > best[c]:
                    best[c], chosen[c] = score, (gate, threshold, min_area)
    gate, threshold, min_area = (list(v) for v in zip(*chosen, strict=True))
    return PostProcessing(gate, threshold, min_area), best
