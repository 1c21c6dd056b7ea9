"""Segmentation models on torchvision backbones: DeepLabV3+ (deeplab.py) and the paper's bare-bone
baseline (baseline.py), both an ``encoder`` (encoder.py, backbones.py) -> ``decoder`` ->
``segmentation_head``."""
import inspect
from typing import Any

from .backbones import (
    BACKBONES,
    LIGHTEST_BACKBONE,
    OUTPUT_STRIDE,
    build_backbone,
    narrow_resnet_last_stage,
    pca_whitened_stem,
    set_memory_format,
    zero_init_residual_blocks,
)
from .baseline import BareBoneBaseline
from .deeplab import DeepLabV3Plus
from .encoder import LOW_STRIDE, Encoder, SegmentationModel
from .weights import PretrainedWeightsWarning, load_imagenet_weights

#: Every architecture by name; a new one is a SegmentationModel subclass (a new decoder) added here.
ARCHITECTURES = {model.architecture: model for model in (DeepLabV3Plus, BareBoneBaseline)}


def build_model(architecture: str, backbone: str, num_classes: int, pretrained: bool = True,
                weights_file: str | None = None, last_stage_width: int | None = None, aux_head: bool = False,
                **decoder_options: Any) -> SegmentationModel:
    """Build ``architecture`` ("deeplabv3plus" or "baseline") on ``backbone`` (one of BACKBONES) for
    ``num_classes`` labels (background included), with ImageNet weights unless ``pretrained`` is False.
    ``last_stage_width`` narrows a ResNet's last stage (None: torchvision's width); ``aux_head`` adds the
    training-only auxiliary head on a ResNet's layer3 (``SegmentationModel``).
    ``decoder_options`` go to the decoder: DeepLabV3+ takes ``aspp_rates`` (the dilations of ASPP's 3x3
    branches, default DeepLabv3's 6/12/18) and ``width`` (its channels, default 256); the baseline takes none."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {sorted(ARCHITECTURES)}")
    decoder = ARCHITECTURES[architecture].decoder_class
    accepted = [name for name in inspect.signature(decoder).parameters if name != "channels"]
    if unknown := sorted(set(decoder_options) - set(accepted)):
        raise ValueError(f"{architecture}'s decoder has no option {', '.join(unknown)}; it takes "
                         f"{', '.join(accepted) or 'none'}")
    return ARCHITECTURES[architecture](backbone, num_classes, pretrained, weights_file, last_stage_width, aux_head,
                                       **decoder_options)


__all__ = ["ARCHITECTURES", "BACKBONES", "LIGHTEST_BACKBONE", "LOW_STRIDE", "OUTPUT_STRIDE", "BareBoneBaseline",
           "DeepLabV3Plus", "Encoder",
           "SegmentationModel", "PretrainedWeightsWarning",
           "build_backbone", "build_model", "load_imagenet_weights", "narrow_resnet_last_stage", "pca_whitened_stem",
           "set_memory_format", "zero_init_residual_blocks"]
