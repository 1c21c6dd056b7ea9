"""The notebooks' demonstrations and answer checks."""
import numpy as np

from steelnb.course.lessons import (
    check_copy_probability,
    check_dilated_extent,
    check_image_miou,
    check_output_stride,
    dilated_extent,
    squash_thin_scratch,
    stage_shapes,
)
from steelnb.models import build_model


def test_dilated_extent_hand_computed():
    assert dilated_extent(1) == (3, 48)  # a plain 3x3 at stride 16
    assert dilated_extent(6) == (13, 208)  # 3 + 2 * 5 cells
    assert dilated_extent(18, stride=4) == (37, 148)


def test_thin_scratch_survives_only_where_the_nearest_resize_samples():
    # OpenCV's nearest resize from 1600 to 256 columns reads source column floor(j * 6.25) for output j;
    # the scratch starts at column 803, between the sampled columns 800 and 806.
    for width, kept in ((1, 0), (3, 0), (4, 1), (8, 1)):
        big, small = squash_thin_scratch(width)
        assert big.sum() == 256 * width
        assert (small.any(axis=0)).sum() == kept, width


def test_stage_shapes_show_strides_4_and_16():
    shapes = stage_shapes(build_model("deeplabv3plus", "resnet18", num_classes=3, pretrained=False), (64, 96))
    assert shapes["encoder, stride 4 (low)"][2:] == (16, 24)
    assert shapes["encoder, stride 16 (high)"][2:] == (4, 6)
    assert shapes["decoder"] == (1, 256, 16, 24)
    assert shapes["logits after upsampling"] == (1, 3, 64, 96)
    baseline = stage_shapes(build_model("baseline", "resnet18", num_classes=3, pretrained=False), (64, 96))
    assert baseline["decoder"] == (1, 256, 4, 6)  # no skip: it stays at stride 16


def test_checks_accept_the_right_answer_only(capsys):
    assert check_output_stride(16) and not check_output_stride(32) and not check_output_stride(None)
    assert check_dilated_extent(6, 208) and not check_dilated_extent(6, 96)
    prediction = np.array([[0, 1, 1], [0, 1, 0], [0, 0, 0]])
    truth = np.array([[0, 1, 1], [0, 0, 0], [0, 0, 0]])
    # background: predicted 6, true 7, both 6 -> IoU 6/7; class 1: predicted 3, true 2, both 2 -> IoU 2/3
    assert check_image_miou(prediction, truth, (6 / 7 + 2 / 3) / 2)
    assert not check_image_miou(prediction, truth, 2 / 3)
    presence = np.array([[0, 0], [0, 0], [1, 0], [1, 1]], dtype=bool)  # p = (2/5, 2/5, 1/5)
    assert check_copy_probability([1, 2], presence, 0.8) and check_copy_probability([], presence, 0.6)
    assert not check_copy_probability([1], presence, 0.8)
    assert "Hint" in capsys.readouterr().out
