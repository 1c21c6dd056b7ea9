"""The one line of test scores every run ends with, as data: made from pixel counts, printed, parsed back.

``python -m steelnb`` ends with it, and ``benchmarks/main_job.py`` reads it back from that output, so its
format is written here only:

    test mIoU 0.809 (all-empty 0.405) | defect mIoU 0.688 | Dice 0.908 | class-mean defect IoU 0.725 | ...
"""
from __future__ import annotations

import re
from dataclasses import astuple, dataclass

import numpy as np

from .metrics import all_empty_scores, summarize


@dataclass(frozen=True)
class ScoreLine:
    """Test scores at the original resolution (keys of :func:`metrics.summarize`), beside the all-empty
    prediction's per-image mIoU, in the order the line prints them."""

    miou: float
    all_empty_miou: float
    miou_defects: float
    dice: float
    class_iou_defects: float
    dataset_miou: float

    @classmethod
    def from_counts(cls, counts: np.ndarray) -> ScoreLine:
        """The scores of pixel counts (N, C+1, 3) at the original resolution (see ``metrics.pixel_counts``)."""
        scores = summarize(counts)
        return cls(scores["miou"], all_empty_scores(counts)["miou"], scores["miou_defects"], scores["dice"],
                   scores["class_iou_defects"], scores["dataset_miou"])

    def __str__(self) -> str:
        return _TEMPLATE.format(*astuple(self))

    @classmethod
    def parse(cls, line: str) -> ScoreLine:
        """The scores printed in ``line`` (``str`` of a ScoreLine).

        Raises:
            ValueError: ``line`` is not a score line.
        """
        match = _PATTERN.fullmatch(line.strip())
        if match is None:
            raise ValueError(f"not a score line: {line!r}")
        return cls(*(float(value) for value in match.groups()))


#: The printed line, one "{:.3f}" per field in field order.
_TEMPLATE = ("test mIoU {:.3f} (all-empty {:.3f}) | defect mIoU {:.3f} | Dice {:.3f} | class-mean defect IoU {:.3f} | "
             "dataset mIoU with background {:.3f}")
_PATTERN = re.compile(re.escape(_TEMPLATE).replace(re.escape("{:.3f}"), r"(\d+\.\d{3}|nan)"))
