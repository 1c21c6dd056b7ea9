"""Published NEU-Seg results, with their protocols, to print beside ours.

NEU-Seg papers report dataset-level IoU (intersection and union summed over the test set), either
averaged over the three defect classes ("class-mean defect IoU") or with background included
("dataset mIoU"). Most start from ImageNet-pretrained backbones and train for hours on a GPU. The
UNet-NEU-SEG rows, on the same split as the course's, are the exception: its ``train.py`` builds the model
(``model_class(n_channels=3, n_classes=4)``) and loads no weights, so they start from random weights too,
and train 50 to 75 epochs at 200x200 on a GPU. ``benchmarks/reference_flops.py`` counts that U-Net's training
step (175 GFLOP per 200x200 image, forward and backward), so the ``training compute`` column can say what
those epochs cost; the other papers do not give enough to estimate it. The course's CPU profile starts from random weights
and trains for minutes, so read ours beside those two rows first, and as a lower bound of what the method
does, not as a rival of the pretrained ones.
"""
from __future__ import annotations

import pandas as pd

from ..data.index import NEU_SEG

NEU_REFERENCES = pd.DataFrame.from_records([
    {"result": "PGA-Net (Dong et al., IEEE TII 2020, introduced NEU-Seg)", "dataset mIoU @orig": 0.8215,
     "protocol": "dataset mIoU incl. background; ImageNet-pretrained; GPU"},
    {"result": "DeepLabV3+ (Leinena et al., Sensors 2024)", "dataset mIoU @orig": 0.7131,
     "protocol": "official split, dataset mIoU incl. background; ImageNet-pretrained; GPU"},
    {"result": "U-Net (UNet-NEU-SEG repository)", "class-mean defect IoU @orig": 0.806,
     "protocol": "mmseg-style split as here; random initial weights; 200x200; 50-75 epochs on a GPU",
     "training compute": "27-41 PFLOP (counted)"},
    {"result": "improved U-Nets (UNet-NEU-SEG repository, best)", "class-mean defect IoU @orig": 0.848,
     "protocol": "mmseg-style split as here; random initial weights; 200x200; 50-75 epochs on a GPU",
     "training compute": "more than the U-Net's"},
    {"result": "transformer encoder + CNN decoder (Multimedia Tools and Applications 2023, "
               "doi:10.1007/s11042-023-15307-y)", "Dice": 0.9522,
     "protocol": "their own split and Dice definition; ImageNet-pretrained; GPU"},
]).set_index("result")


def with_references(table: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """``table`` (rows of ``results_table``) with the published NEU-Seg rows appended when ``dataset`` is NEU-Seg."""
    if dataset != NEU_SEG:
        return table
    ours = table.assign(protocol="ours: random init, CPU minutes (see profile)")
    return pd.concat([ours, NEU_REFERENCES])
