import numpy as np

from steelnb.evaluation.postprocess import PostProcessing, tune_postprocessing

PLAIN = PostProcessing(gate=[0.0], threshold=[0.5], min_area=[0])  # close to an argmax


def _probs(defect_prob: np.ndarray) -> np.ndarray:
    """(2, H, W) probabilities for one defect class."""
    return np.stack([1 - defect_prob, defect_prob])


def test_gate_threshold_and_min_area():
    prob = np.zeros((10, 10))
    prob[:2, :2] = 0.6  # 4 pixels at 0.6
    prob[5:, 5:] = 0.45  # 25 pixels at 0.45
    rule = PostProcessing(gate=[0.0], threshold=[0.4], min_area=[0])
    assert rule(_probs(prob)).sum() == 29
    assert PostProcessing([0.0], [0.5], [0])(_probs(prob)).sum() == 4
    assert PostProcessing([0.0], [0.4], [30])(_probs(prob)).sum() == 0  # 29 pixels < 30
    assert PostProcessing([0.7], [0.4], [0])(_probs(prob)).sum() == 0  # max prob 0.6 fails the gate
    assert PLAIN(_probs(prob)).sum() == 4


def test_overlapping_classes_take_the_most_probable():
    probs = np.zeros((3, 1, 2))
    probs[1] = [[0.6, 0.3]]
    probs[2] = [[0.35, 0.6]]
    probs[0] = 1 - probs[1] - probs[2]
    label = PostProcessing([0, 0], [0.3, 0.3], [0, 0])(probs)
    np.testing.assert_array_equal(label, [[1, 2]])


def test_tuning_removes_false_alarms_on_defect_free_images():
    rng = np.random.default_rng(0)
    probs, masks = [], []
    for i in range(8):
        mask = np.zeros((20, 20), np.uint8)
        prob = rng.uniform(0, 0.45, (20, 20))  # noise up to 0.45 everywhere: false alarms at low thresholds
        if i % 2 == 0:
            mask[5:15, 5:15] = 1
            prob[5:15, 5:15] = 0.8
        else:
            prob[0, 0] = 0.65  # a lone confident false positive on a defect-free image
        probs.append(_probs(prob))
        masks.append(mask)
    rule, dice = tune_postprocessing(probs, masks)
    assert dice[0] == 1.0  # perfect after tuning
    assert rule.min_area[0] > 1 or rule.gate[0] >= 0.65
    untuned = np.mean([(PLAIN(p) > 0).sum() == (m > 0).sum() for p, m in zip(probs, masks, strict=True)])
    assert untuned < 1.0  # the plain rule keeps the false positives


def test_min_area_keeps_a_mask_of_exactly_that_area():
    probs = np.zeros((2, 4, 4))
    probs[0] = 1.0
    probs[1, 0, :3], probs[0, 0, :3] = 0.9, 0.1  # 3 class-1 pixels
    assert PostProcessing([0.0], [0.5], [3])(probs).sum() == 3  # area == min_area: kept
    assert PostProcessing([0.0], [0.5], [4])(probs).sum() == 0  # one pixel short: dropped
