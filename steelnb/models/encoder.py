"""What every segmentation model shares: the encoder (input normalisation and a stride-16 backbone) and
one ``forward``: features by stride -> ``decoder`` -> ``segmentation_head`` -> upsampling.

This is segmentation-models-pytorch's contract: the encoder returns its feature maps keyed by their stride,
each decoder takes that mapping and reads the strides it needs, so one ``SegmentationModel.forward`` serves
every architecture. A new architecture is a new decoder (and a subclass naming it), nothing else.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import OUTPUT_STRIDE, ImageNetInput, build_backbone

#: The stride of the encoder's shallow features (the DeepLabV3+ skip connection).
LOW_STRIDE = 4


class Encoder(nn.Module):
    """ImageNet input normalisation, then a torchvision backbone split at stride 4 (``low``, the
    DeepLabV3+ skip) and stride 16 (``high``, the context). ``channels`` maps each stride to its channels.
    ``last_stage_width`` narrows a ResNet's last stage (``backbones.narrow_resnet_last_stage``)."""

    def __init__(self, backbone: str, pretrained: bool = True, weights_file: str | None = None,
                 last_stage_width: int | None = None) -> None:
        super().__init__()
        parts = build_backbone(backbone, pretrained, weights_file, last_stage_width)
        self.name = backbone
        self.pretrained = parts.pretrained  # whether ImageNet weights were loaded (False: random initial weights)
        self.channels = {LOW_STRIDE: parts.low_channels, OUTPUT_STRIDE: parts.high_channels}
        self.input = ImageNetInput()
        self.low, self.high = parts.low, parts.high

    def forward(self, image: torch.Tensor) -> dict[int, torch.Tensor]:
        """Feature maps by stride for images (N, 1 or 3, H, W) in [0, 1]:
        {4: (N, C_low, H/4, W/4), 16: (N, C_high, H/16, W/16)}."""
        x = self.input(image)  # (N, 3, H, W), ImageNet-normalised, channels_last
        low = self.low(x)      # (N, C_low, H/4, W/4)
        high = self.high(low)  # (N, C_high, H/16, W/16)
        return {LOW_STRIDE: low, OUTPUT_STRIDE: high}


class SegmentationModel(nn.Module):
    """Base of every model: ``encoder`` -> ``decoder`` -> ``segmentation_head`` (a 1x1 conv to the classes) ->
    bilinear upsampling to the input size, named as in segmentation-models-pytorch. A subclass sets
    ``architecture`` (its key in ``models.ARCHITECTURES``), ``title`` (its name in figure captions) and
    ``decoder_class``: a module built from the encoder's channels by stride (and ``decoder_options``, its keyword
    arguments, e.g. DeepLabV3+'s ``aspp_rates``), with an ``out_channels`` attribute.

    The model keeps its weights and activations in ``channels_last`` memory format, which is faster for
    convolutions on CPU and on GPU tensor cores; the interface (N, C, H, W) does not change."""

    architecture: str
    title: str
    decoder_class: type[nn.Module]

    def __init__(self, backbone: str, num_classes: int, pretrained: bool = True,
                 weights_file: str | None = None, last_stage_width: int | None = None,
                 **decoder_options: Any) -> None:
        super().__init__()
        self.encoder = Encoder(backbone, pretrained, weights_file, last_stage_width)
        self.decoder = self.decoder_class(self.encoder.channels, **decoder_options)
        self.segmentation_head = nn.Conv2d(self.decoder.out_channels, num_classes, 1)
        self.to(memory_format=torch.channels_last)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes, H, W) for images (N, 1 or 3, H, W) in [0, 1]."""
        features = self.encoder(image)                  # {4: (N, C_low, H/4, W/4), 16: (N, C_high, H/16, W/16)}
        decoded = self.decoder(features)                # (N, 256, H/s, W/s): s = 4 (DeepLabV3+) or 16 (baseline)
        logits = self.segmentation_head(decoded)        # (N, num_classes, H/s, W/s)
        return F.interpolate(logits, size=image.shape[2:], mode="bilinear", align_corners=False)  # (N, K, H, W)

    @property
    def backbone_name(self) -> str:
        """The torchvision backbone the encoder was built from, e.g. "resnet101"."""
        return self.encoder.name

    @property
    def pretrained(self) -> bool:
        """True when the encoder started from ImageNet weights, False for random initial weights."""
        return self.encoder.pretrained
