"""The paper as data: its tables, its ASPP rates built as printed, and its contradictions."""
import pandas as pd
import torch

from steelnb.course.paper import PAPER_ASPP_RATES, PAPER_ITERATIONS_PER_S, PAPER_MIOU, paper_speed_table, reading_the_paper
from steelnb.models import build_model
from steelnb.models.deeplab import DEEPLAB_ASPP_RATES


def _dilations(model) -> list[int]:
    """The dilation of each of ASPP's branches: the largest dilation of the convolutions in it."""
    return [max(m.dilation[0] for m in branch.modules() if isinstance(m, torch.nn.Conv2d))
            for branch in model.decoder.aspp[0].branches]


def test_the_paper_aspp_rates_are_built_as_printed_and_deeplab_s_by_default():
    paper = build_model("deeplabv3plus", "resnet18", 4, pretrained=False, aspp_rates=PAPER_ASPP_RATES)
    assert _dilations(paper) == [1, 12, 24, 3]  # its section 5.2: the 1x1 branch, then 12, 24 and 3
    default = build_model("deeplabv3plus", "resnet18", 4, pretrained=False)
    assert _dilations(default) == [1, 6, 12, 18] and DEEPLAB_ASPP_RATES == (6, 12, 18)
    assert paper(torch.rand(1, 1, 64, 64)).shape == (1, 4, 64, 64)


def test_the_paper_tables_rank_as_the_paper_prints_them():
    assert PAPER_MIOU == {"baseline": 0.29, "resnet101": 0.57, "densenet201": 0.325, "efficientnet_b1": 0.57}
    table = paper_speed_table()
    assert table["paper rank"].to_dict() == {"efficientnet_b1": 1, "densenet201": 2, "baseline": 3, "resnet101": 4}
    ours = pd.DataFrame({"train it/s": [1.84, 1.46, 0.99, 1.65], "train img/s": [29.4, 23.4, 15.8, 26.4]},
                        index=["baseline", "resnet101", "densenet201", "efficientnet_b1"])
    beside = paper_speed_table(ours)
    assert beside.loc["baseline", "our rank"] == 1 and beside.loc["densenet201", "our rank"] == 4
    assert beside.loc["resnet101", "paper it/s (GPU)"] == PAPER_ITERATIONS_PER_S["resnet101"] == 14


def test_the_contradictions_quote_the_paper_s_own_numbers():
    box = reading_the_paper()
    assert "ResNet101 is the slowest (14 it/s)" in box.loc["which backbone trains fastest", "but"]
    assert "256x1700" in box.loc["the image size", "the paper says"]
    assert "256x1600" in box.loc["the image size", "but"]
