"""The paper under study, as data: its tables, its architecture choices and its internal contradictions.

Zheng Nie, Jiachen Xu and Shengchang Zhang, "Analysis on DeepLabV3+ Performance for Automatic Steel Defects
Detection", arXiv:2004.04822, 2020. Every value here is the paper's, as printed, so that the chapters print it
beside ours (chapters 01, 05, 08, 13) instead of quoting it from memory. Where the paper says two different
things, both are kept (:data:`PAPER_CONTRADICTIONS`): reading a paper critically is part of the course.
"""
from __future__ import annotations

import pandas as pd

from ..data.rle import SEVERSTAL_SHAPE

#: Its Table 2: per-image mean IoU on its test split, by the course's run name, in the paper's order.
PAPER_MIOU = {"baseline": 0.29, "resnet101": 0.57, "densenet201": 0.325, "efficientnet_b1": 0.57}

#: Its Table 1: training iterations per second on its GPU (batch 16, 256x256), by run name.
PAPER_ITERATIONS_PER_S = {"baseline": 24, "resnet101": 14, "densenet201": 25, "efficientnet_b1": 40}

#: Its section 5.2's ASPP rates, as printed: 1, 12, 24 and 3. The 1 is read as ASPP's 1x1 branch (DeepLabv3
#: calls it rate 1), so these are the dilations of the 3x3 branches: ``build_model(..., aspp_rates=...)``.
#: 1/12/24/36 are DeepLab's rates for output stride 8, so the "3" may have lost a digit; the course keeps
#: what is printed and says so.
PAPER_ASPP_RATES = (12, 24, 3)

#: Its decoder, in its words: two 3x3 convolutions and a 1x1 convolution after the skip join.
PAPER_DECODER = "3x3 conv, 3x3 conv, 1x1 conv"

#: Its training recipe (section 4): SGD, learning rate, batch, weight decay; 80/10/10 split; 256x256 inputs.
PAPER_RECIPE = {"optimizer": "SGD", "lr": 0.01, "batch": 16, "weight decay": 1e-4, "split": "80/10/10",
                "input": "256x256"}

#: Where the paper says two things that cannot both be true, or a thing its data contradicts:
#: (what, where it says one thing, where it says the other).
PAPER_CONTRADICTIONS = [
    ("which backbone trains fastest", "abstract: DeepLabV3+ with ResNet101 has the fewest training time",
     f"Table 1: ResNet101 is the slowest ({PAPER_ITERATIONS_PER_S['resnet101']} it/s), EfficientNet-B1 the fastest "
     f"({PAPER_ITERATIONS_PER_S['efficientnet_b1']} it/s)"),
    ("the image size", "data section: 256x1700 images",
     f"Kaggle's images are {SEVERSTAL_SHAPE[0]}x{SEVERSTAL_SHAPE[1]} (train.csv's run-length positions end there)"),
    ("the class shares", "section 3.1: the region shares of classes 1 and 2, class 2 the more common",
     "Kaggle's train.csv: class 1 has 897 regions and class 2 has 247, the other way round"),
    ("the baseline's score", "one passage: 0.30", f"another: {PAPER_MIOU['baseline']} (the value the course uses)"),
    ("which mean IoU", "Table 2: 'mean IoU', averaged per image",
     "its baseline (0.29) and DenseNet201 (0.325) are below what predicting no defect scores under a per-image "
     "mIoU that counts an empty image as 1 (chapter 08): so it averaged some other way, and does not say how"),
]


def paper_speed_table(ours: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paper's Table 1 (training iterations/s, and their rank, 1 = fastest) by run name, with ``ours`` (a
    table indexed by run name with a ``train it/s`` and a ``train img/s`` column, e.g. chapter 08's speed
    table) joined beside it and ranked the same way, so the two orders can be compared."""
    table = pd.DataFrame({"paper it/s (GPU)": PAPER_ITERATIONS_PER_S})
    table["paper rank"] = table["paper it/s (GPU)"].rank(ascending=False, method="min").astype(int)
    if ours is not None:
        mine = ours.reindex(table.index)
        table["our it/s"] = mine["train it/s"].round(2)
        table["our img/s"] = mine["train img/s"].round(1)
        table["our rank"] = mine["train it/s"].rank(ascending=False, method="min").astype("Int64")
    return table


def reading_the_paper() -> pd.DataFrame:
    """:data:`PAPER_CONTRADICTIONS` as a table (what / it says / but), for the "reading the paper" box."""
    return pd.DataFrame(PAPER_CONTRADICTIONS, columns=["what", "the paper says", "but"]).set_index("what")


def paper_architecture_table() -> pd.DataFrame:
    """The paper's DeepLabV3+ choices beside the course's (``models/deeplab.py``): ASPP rates, decoder, input."""
    from ..models.deeplab import DEEPLAB_ASPP_RATES
    return pd.DataFrame({
        "the paper (section 5.2)": {"ASPP": "1x1 + 3x3 at rates " + "/".join(map(str, PAPER_ASPP_RATES)),
                                    "decoder after the skip join": PAPER_DECODER,
                                    "input": PAPER_RECIPE["input"]},
        "this course": {"ASPP": "1x1 + 3x3 at rates " + "/".join(map(str, DEEPLAB_ASPP_RATES)) + " (DeepLabv3's)",
                        "decoder after the skip join": "separable 3x3 conv, then the 1x1 head (one separable 3x3 "
                                                       "moved before the join, to stride 16)",
                        "input": "256x256 (full profile), 128x128 (default)"},
    })
