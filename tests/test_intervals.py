"""The paired bootstrap against cases whose answer is known: no difference, a certain one, and the normal
approximation of a mean difference."""
import numpy as np
import pytest

from steelnb.evaluation.intervals import paired_bootstrap
from steelnb.evaluation.metrics import image_miou


def _counts(intersections: np.ndarray, area: int = 10) -> np.ndarray:
    """Per-image counts (N, 2, 3) of background and one defect class, each covering ``area`` pixels in truth
    and prediction, overlapping by ``intersections`` (N,) pixels."""
    counts = np.zeros((len(intersections), 2, 3))
    counts[:, :, 1] = counts[:, :, 2] = area
    counts[:, :, 0] = intersections[:, None]
    return counts


def test_the_same_prediction_differs_by_nothing():
    counts = _counts(np.arange(1, 11))
    result = paired_bootstrap(counts, counts.copy(), "class_iou_defects")
    assert (result.difference, result.low, result.high) == (0.0, 0.0, 0.0) and not result.detected
    assert "no difference we can detect" in str(result)


def test_a_perfect_prediction_beats_a_poor_one_on_every_draw():
    perfect, poor = _counts(np.full(30, 10)), _counts(np.full(30, 2))  # IoU 1 against 2 / 18 on every image
    result = paired_bootstrap(perfect, poor, "miou")
    assert result.difference == pytest.approx(1 - 2 / 18)
    assert result.low == pytest.approx(1 - 2 / 18) and result.detected  # no draw changes it


def test_the_interval_of_a_mean_difference_matches_the_normal_approximation():
    rng = np.random.default_rng(1)
    a, b = _counts(rng.integers(0, 11, 400)), _counts(rng.integers(0, 11, 400))
    per_image = image_miou(a) - image_miou(b)  # the per-image mIoU is a mean: its difference's standard error is
    half_width = 1.96 * per_image.std(ddof=1) / np.sqrt(len(per_image))  # sd / sqrt(N), by hand
    result = paired_bootstrap(a, b, "miou", resamples=2000)
    assert result.difference == pytest.approx(per_image.mean())
    assert (result.high - result.low) / 2 == pytest.approx(half_width, rel=0.1)


def test_counts_of_other_images_are_refused():
    with pytest.raises(ValueError, match="same images"):
        paired_bootstrap(_counts(np.ones(3)), _counts(np.ones(4)))
