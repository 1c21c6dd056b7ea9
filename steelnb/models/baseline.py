"""The paper's bare-bone baseline: a backbone, two 3x3 convs and upsampling, without ASPP or skip."""
from __future__ import annotations

import torch
from torch import nn

from .backbones import OUTPUT_STRIDE
from .encoder import Encoder, SegmentationModel
from .layers import conv_bn_relu


class BareBoneDecoder(nn.Sequential):
    """Two 3x3 conv + BN + ReLU on the stride-16 features only: (N, C_high, H/16, W/16) -> (N, 256, H/16, W/16)."""

    def __init__(self, high_channels: int) -> None:
        super().__init__(conv_bn_relu(high_channels, 256), conv_bn_relu(256, 256))

    def forward(self, features: dict[int, torch.Tensor]) -> torch.Tensor:
        return super().forward(features[OUTPUT_STRIDE])


class BareBoneBaseline(SegmentationModel):
    """The paper's baseline: encoder -> 3x3 conv to 256 + BN + ReLU -> 3x3 conv 256 + BN + ReLU (the
    ``decoder``) -> 1x1 ``segmentation_head`` -> bilinear upsampling from stride 16 to the input size."""

    architecture = "baseline"
    title = "baseline"

    def __init__(self, backbone: str, num_classes: int, pretrained: bool = True,
                 weights_file: str | None = None) -> None:
        super().__init__()
        self.encoder = Encoder(backbone, pretrained, weights_file)
        self.decoder = BareBoneDecoder(self.encoder.channels[OUTPUT_STRIDE])
        self.segmentation_head = nn.Conv2d(256, num_classes, 1)
        self.to(memory_format=torch.channels_last)
