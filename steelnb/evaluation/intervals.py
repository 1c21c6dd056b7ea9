"""How sure is a difference between two models? A paired bootstrap over the images they were both scored on.

Two models scored on the same test images differ partly by chance: which images the split happened to put
in the test set. Resampling those images with replacement (the same draw for both models, so the pairing
is kept) and recomputing both scores each time gives the spread of their difference at no training cost.
A 95% interval that holds 0 means: no difference we can detect on these images. It says nothing about the
other source of noise, the training seed, which only more training runs measure.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .metrics import summarize


@dataclass(frozen=True)
class Difference:
    """``metric`` of prediction a minus that of prediction b on the same images, with its interval."""

    metric: str
    a: float
    b: float
    low: float
    high: float
    level: float = 0.95

    @property
    def difference(self) -> float:
        """a - b on all the images."""
        return self.a - self.b

    @property
    def detected(self) -> bool:
        """Whether the interval leaves out 0: a difference the images can tell from chance."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        verdict = "" if self.detected else "; no difference we can detect"
        return (f"{self.metric}: {self.a:.3f} vs {self.b:.3f}, difference {self.difference:+.3f} "
                f"({self.level:.0%} interval {self.low:+.3f} to {self.high:+.3f}{verdict})")


def paired_bootstrap(counts_a: np.ndarray, counts_b: np.ndarray, metric: str = "miou", resamples: int = 1000,
                     level: float = 0.95, seed: int = 0) -> Difference:
    """The difference of ``metric`` (a key of :func:`metrics.summarize`, e.g. "miou", "class_iou_defects",
    "dataset_miou") between two predictions of the same N images, given as per-image pixel counts
    (N, C+1, 3) in the same image order, with a percentile interval at ``level`` from ``resamples`` draws
    of N images with replacement, the same draw for both (seeded: the same interval every run).

    Raises:
        ValueError: the two count arrays do not describe the same images (different shapes).
    """
    counts_a, counts_b = np.asarray(counts_a), np.asarray(counts_b)
    if counts_a.shape != counts_b.shape:
        raise ValueError(f"paired counts must cover the same images: shapes {counts_a.shape} and {counts_b.shape}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(counts_a), size=(resamples, len(counts_a)))
    differences = np.array([summarize(counts_a[d])[metric] - summarize(counts_b[d])[metric] for d in draws])
    differences = differences[~np.isnan(differences)]  # a draw without any pixel of some label has no class IoU
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail]) if len(differences) else (np.nan, np.nan)
    return Difference(metric, summarize(counts_a)[metric], summarize(counts_b)[metric], float(low), float(high), level)


def mean_sd(values: Sequence[float]) -> str:
    """``mean ± sd`` of one score over seeds (the sample standard deviation; the value alone for one seed),
    3 decimals."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def seed_gain_interval(lever: Sequence[float], reference: Sequence[float]) -> tuple[float, float]:
    """(mean gain of a lever over the reference, half-width of its 95% interval) from one score per seed of each:
    1.96 standard errors of a difference of two means; a half-width of 0 for one seed each, which has no
    spread. An interval that holds 0 is no gain the seeds can tell from chance."""
    gain = statistics.mean(lever) - statistics.mean(reference)
    if len(lever) < 2 or len(reference) < 2:
        return gain, 0.0
    return gain, 1.96 * math.sqrt(statistics.variance(lever) / len(lever) + statistics.variance(reference) / len(reference))


def seed_gain(lever: Sequence[float], reference: Sequence[float]) -> str:
    """:func:`seed_gain_interval` in words: ``+0.012 ± 0.008`` (the gain alone for one seed each)."""
    gain, half_width = seed_gain_interval(lever, reference)
    return f"{gain:+.3f}" if len(lever) < 2 or len(reference) < 2 else f"{gain:+.3f} ± {half_width:.3f}"
