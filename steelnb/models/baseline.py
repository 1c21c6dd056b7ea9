"""The paper's bare-bone baseline: a backbone, two 3x3 convs and upsampling, without ASPP or skip."""
from __future__ import annotations

import torch
from torch import nn

from .backbones import OUTPUT_STRIDE
from .encoder import SegmentationModel
from .layers import conv_bn_relu


class BareBoneDecoder(nn.Sequential):
    """Two 3x3 conv + BN + ReLU on the stride-16 features only: (N, C_high, H/16, W/16) -> (N, 256, H/16, W/16).
    ``channels``: the encoder's channels by stride (only the stride-16 entry is read)."""

    out_channels = 256

    def __init__(self, channels: dict[int, int]) -> None:
        super().__init__(conv_bn_relu(channels[OUTPUT_STRIDE], self.out_channels),
                         conv_bn_relu(self.out_channels, self.out_channels))

    def forward(self, features: dict[int, torch.Tensor]) -> torch.Tensor:
        return super().forward(features[OUTPUT_STRIDE])


class BareBoneBaseline(SegmentationModel):
    """The paper's baseline: encoder -> 3x3 conv to 256 + BN + ReLU -> 3x3 conv 256 + BN + ReLU (the
    ``decoder``) -> 1x1 ``segmentation_head`` -> bilinear upsampling from stride 16 to the input size."""

    architecture = "baseline"
    title = "baseline"
    decoder_class = BareBoneDecoder
