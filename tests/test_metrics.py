import numpy as np
import pytest
import torch

from steelnb.evaluation.metrics import (
    MetricAccumulator,
    all_empty_counts,
    all_empty_scores,
    class_iou,
    image_miou,
    kaggle_dice,
    miou_definitions,
    pixel_counts,
    summarize,
)


def _masks():
    target = torch.zeros(2, 4, 4, dtype=torch.long)
    target[0, :2, :2] = 1  # image 0: a 2x2 defect of class 1
    pred = torch.zeros_like(target)
    pred[0, :2, :1] = 1  # half of it found
    pred[1, 0, 0] = 2  # image 1: defect-free, one false-positive pixel of class 2
    return pred, target


def test_pixel_counts_hand_computed():
    counts = pixel_counts(*_masks(), num_classes=3)
    np.testing.assert_array_equal(counts[0], [[12, 14, 12], [2, 2, 4], [0, 0, 0]])
    np.testing.assert_array_equal(counts[1], [[15, 15, 16], [0, 0, 0], [0, 1, 0]])


def test_image_miou_rules():
    counts = pixel_counts(*_masks(), num_classes=3)
    # image 0: background 12/14, class 1 2/4 ; image 1: background 15/16, class 2 0/1 (class 1 absent: skipped)
    np.testing.assert_allclose(image_miou(counts), [(12 / 14 + 0.5) / 2, (15 / 16 + 0) / 2])
    np.testing.assert_allclose(image_miou(counts, include_background=False), [0.5, 0.0])
    perfect = pixel_counts(torch.zeros(1, 4, 4, dtype=torch.long), torch.zeros(1, 4, 4, dtype=torch.long), 3)
    assert image_miou(perfect)[0] == 1.0 and image_miou(perfect, include_background=False)[0] == 1.0


def test_class_iou_and_dice():
    counts = pixel_counts(*_masks(), num_classes=3)
    np.testing.assert_allclose(class_iou(counts), [27 / 30, 2 / 4, 0.0])
    # Dice per (image, defect class): img0 c1 = 2*2/6, img0 c2 empty = 1, img1 c1 empty = 1, img1 c2 = 0
    assert kaggle_dice(counts) == pytest.approx((4 / 6 + 1 + 1 + 0) / 4)


def test_all_empty_baseline_equals_scoring_a_zero_prediction():
    pred, target = _masks()
    counts = pixel_counts(pred, target, 3)
    direct = pixel_counts(torch.zeros_like(target), target, 3)
    np.testing.assert_array_equal(all_empty_counts(counts), direct.numpy())
    scores = all_empty_scores(counts)
    assert scores["dice"] == pytest.approx(3 / 4)  # only image 0 class 1 is missed
    assert scores["miou"] == pytest.approx(((12 / 16 + 0) / 2 + 1.0) / 2)  # image 0: bg 12/16, class 1 0/4


def test_accumulator_matches_one_shot():
    pred, target = _masks()
    accumulator = MetricAccumulator(3)
    accumulator.update(pred[:1], target[:1])
    accumulator.update(pred[1:], target[1:])
    assert summarize(accumulator.counts) == summarize(pixel_counts(pred, target, 3))


def test_four_miou_definitions_by_hand():
    # 2 labels of defect (C = 2, so 3 labels). Image A: defect-free, predicted empty. Image B: 6 background and
    # 2 class-1 pixels, predicted all background: background IoU 6/8, class 1 IoU 0.
    counts = np.array([[[8, 8, 8], [0, 0, 0], [0, 0, 0]],
                       [[6, 8, 6], [0, 0, 2], [0, 0, 0]]])
    scores = miou_definitions(counts)
    assert scores["ours: labels in prediction or truth"] == pytest.approx((1 + (6 / 8 + 0) / 2) / 2)
    assert scores["ours, defect images only"] == pytest.approx((6 / 8 + 0) / 2)
    assert scores["all labels, absent = 0"] == pytest.approx((1 / 3 + (6 / 8) / 3) / 2)
    assert scores["defect labels, absent = 0"] == 0
    assert np.isnan(miou_definitions(counts[:1])["ours, defect images only"])
