"""Segmentation models on torchvision backbones: DeepLabV3+ (deeplab.py) and the paper's bare-bone
baseline (baseline.py), both an ``encoder`` (encoder.py, backbones.py) -> ``decoder`` ->
``segmentation_head``."""
from torch import nn

from .backbones import BACKBONES, build_backbone, set_memory_format
from .baseline import BareBoneBaseline
from .deeplab import DeepLabV3Plus
from .legacy import rename_legacy_keys
from .weights import PretrainedWeightsWarning, load_imagenet_weights

ARCHITECTURES = {"deeplabv3plus": DeepLabV3Plus, "baseline": BareBoneBaseline}


def build_model(architecture: str = "deeplabv3plus", backbone: str = "resnet101", num_classes: int = 5,
                pretrained: bool = True, weights_file: str | None = None) -> nn.Module:
    """Build ``architecture`` ("deeplabv3plus" or "baseline") on ``backbone`` for ``num_classes`` labels."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](backbone, num_classes, pretrained, weights_file)


__all__ = ["ARCHITECTURES", "BACKBONES", "BareBoneBaseline", "DeepLabV3Plus", "PretrainedWeightsWarning",
           "build_backbone", "build_model", "load_imagenet_weights", "rename_legacy_keys", "set_memory_format"]
