"""Segmentation models on torchvision backbones (see heads.py and backbones.py)."""
from .backbones import BACKBONES, build_backbone
from .heads import ARCHITECTURES, BareBoneBaseline, DeepLabV3Plus, build_model
from .weights import PretrainedWeightsWarning, load_imagenet_weights

__all__ = ["ARCHITECTURES", "BACKBONES", "BareBoneBaseline", "DeepLabV3Plus", "PretrainedWeightsWarning",
           "build_backbone", "build_model", "load_imagenet_weights"]
