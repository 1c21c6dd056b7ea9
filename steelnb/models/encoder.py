"""The encoder both segmentation models start with: input normalisation and a stride-16 backbone."""
from __future__ import annotations

import torch
from torch import nn

from .backbones import ImageNetInput, build_backbone


class Encoder(nn.Module):
    """ImageNet input normalisation, then a torchvision backbone split at stride 4 (``low``, the
    DeepLabV3+ skip) and stride 16 (``high``, the context); both feature maps are returned."""

    def __init__(self, backbone: str, pretrained: bool = True, weights_file: str | None = None) -> None:
        super().__init__()
        parts = build_backbone(backbone, pretrained, weights_file)
        self.name = backbone
        self.pretrained = parts.pretrained  # whether ImageNet weights were loaded (False: random initial weights)
        self.low_channels, self.high_channels = parts.low_channels, parts.high_channels
        self.input = ImageNetInput()
        self.low, self.high = parts.low, parts.high

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.input(image)  # (N, 3, H, W), ImageNet-normalised, channels_last
        low = self.low(x)      # (N, C_low, H/4, W/4)
        high = self.high(low)  # (N, C_high, H/16, W/16)
        return low, high


class SegmentationModel(nn.Module):
    """Base of both models: ``encoder`` -> ``decoder`` -> ``segmentation_head``, named as in
    segmentation-models-pytorch; says which backbone it runs and whether it started from ImageNet."""

    encoder: Encoder

    @property
    def backbone_name(self) -> str:
        """The torchvision backbone the encoder was built from, e.g. "resnet101"."""
        return self.encoder.name

    @property
    def pretrained(self) -> bool:
        """True when the encoder started from ImageNet weights, False for random initial weights."""
        return self.encoder.pretrained
