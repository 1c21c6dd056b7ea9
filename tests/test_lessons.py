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


def test_every_chapter_s_check_accepts_the_hand_computed_answer_and_refuses_a_wrong_one(capsys):
    from steelnb.course import lessons
    # 00: the pixel in row 1, column 2 of a 3-row mask: 2 x 3 + 1 + 1 = 8
    assert lessons.check_rle_start(1, 2, 3, 8) and not lessons.check_rle_start(1, 2, 3, 6)
    presence = np.array([[0, 0], [0, 0], [1, 0], [1, 1]], dtype=bool)
    # 01: 2 of 4 images are defect-free; class 2 holds 1 of the 3 regions
    assert lessons.check_defect_free_share(presence, 0.5) and not lessons.check_defect_free_share(presence, 0.25)
    assert lessons.check_region_share(presence, 2, 1 / 3) and not lessons.check_region_share(presence, 2, 0.25)
    # 02: 1600 / 256 = 6.25, and a scratch must be 7 columns wide to cover any gap of the sampled columns
    assert lessons.check_squash_factor(6.25) and not lessons.check_squash_factor(6.0)
    assert lessons.check_surviving_width(7) and not lessons.check_surviving_width(6)
    # 03: p = (2/5, 2/5, 1/5): two defect-free images 0.6 each, [1] 0.6, [1, 2] 0.8 -> 2.6 copies
    assert lessons.check_expected_copies(presence, 2.6) and not lessons.check_expected_copies(presence, 2.0)
    # 04: equal scores over 5 labels: ln 5
    assert lessons.check_first_ce_loss(5, float(np.log(5))) and not lessons.check_first_ce_loss(5, 1.0)
    # 05: on an 8x8 map, a rate-12 kernel centred on cell (4, 4) keeps only its centre; rate 2 keeps all 9
    assert lessons.check_taps_inside(12, 8, 1) and lessons.check_taps_inside(2, 8, 9)
    assert not lessons.check_taps_inside(6, 8, 9)
    # 06: an ImageNet classifier's last map is at stride 32
    assert lessons.check_undilated_densenet_stride(32) and not lessons.check_undilated_densenet_stride(16)
    # 07: EfficientNet-B0's stage 2 has 24 channels, ResNet18's layer1 64
    assert lessons.check_skip_channels("efficientnet_b0", 24) and lessons.check_skip_channels("resnet18", 64)
    assert not lessons.check_skip_channels("resnet18", 24)
    # 08: P = 3 px, T = 2 px, overlap 2: Dice 4 / 5; both empty: 1
    p, t = np.array([[1, 1, 1, 0]], bool), np.array([[1, 1, 0, 0]], bool)
    assert lessons.check_dice(p, t, 0.8) and not lessons.check_dice(p, t, 2 / 3)
    assert lessons.check_dice(np.zeros((2, 2), bool), np.zeros((2, 2), bool), 1.0)
    # 09: 2 of 10 pixels missed: 8 / 10
    assert lessons.check_small_defect_iou(10, 2, 0.8) and not lessons.check_small_defect_iou(10, 2, 0.2)
    # 10: an 8-column scratch keeps 1 column after the squash (as squash_thin_scratch's test counts)
    assert lessons.check_squashed_columns(8, 1) and not lessons.check_squashed_columns(8, 8)
    # 11: hv TTA: the image and two flips
    assert lessons.check_tta_forward_passes("hv", 3) and not lessons.check_tta_forward_passes("hv", 2)
    assert lessons.check_tta_forward_passes("all", 4) and lessons.check_tta_forward_passes("none", 1)
    # multi-scale TTA: the three flip views at each of the main job's two sizes
    assert lessons.check_tta_forward_passes("hv", 6, scales=(1.0, 1.375))
    assert not lessons.check_tta_forward_passes("hv", 3, scales=(1.0, 1.375))
    # 12: p = 0.9, gamma 2: (1 - 0.9)^2 = 0.01
    assert lessons.check_focal_weight(0.9, 2.0, 0.01) and not lessons.check_focal_weight(0.9, 2.0, 0.1)
    # 13: DeepLabV3+ for 3 labels on a 64x96 image: (1, 3, 64, 96)
    model = build_model("deeplabv3plus", "resnet18", num_classes=3, pretrained=False)
    assert lessons.check_logit_shape(model, (64, 96), (1, 3, 64, 96))
    assert not lessons.check_logit_shape(model, (64, 96), (1, 64, 96))
    assert not lessons.check_rle_start(1, 2, 3, None)
    assert "Hint" in capsys.readouterr().out


def test_the_course_has_a_check_for_every_chapter_and_twenty_in_all():
    import json
    import re
    from pathlib import Path

    from steelnb.course import lessons
    helpers = {name for name in dir(lessons) if name.startswith("check_")}
    assert len(helpers) >= 20
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        used = set(re.findall(r"\b(check_\w+)\(", code)) & helpers
        assert used, f"{path.name} calls no check_ helper"


def test_every_cell_that_calls_a_check_is_tagged_as_an_exercise():
    # an untagged check cell printed "Set your answer first" on the reference page, which leaves out tagged ones
    import json
    import re
    from pathlib import Path

    from steelnb.commands.html_report import EXERCISE_TAG
    from steelnb.course import lessons
    helpers = {name for name in dir(lessons) if name.startswith("check_")}
    untagged = []
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for n, cell in enumerate(json.loads(path.read_text())["cells"]):
            calls = set(re.findall(r"\b(check_\w+)\(", "".join(cell["source"]))) & helpers
            if cell["cell_type"] == "code" and calls and EXERCISE_TAG not in cell["metadata"].get("tags", []):
                untagged.append(f"{path.name} cell {n}")
    assert not untagged
