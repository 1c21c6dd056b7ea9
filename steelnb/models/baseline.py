"""The paper's bare-bone baseline: a backbone, two 3x3 convs and upsampling, without ASPP or skip."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .encoder import Encoder, SegmentationModel
from .layers import conv_bn_relu


class BareBoneBaseline(SegmentationModel):
    """The paper's baseline: encoder -> 3x3 conv to 256 + BN + ReLU -> 3x3 conv 256 + BN + ReLU (the
    ``decoder``) -> 1x1 ``segmentation_head`` -> bilinear upsampling from stride 16 to the input size."""

    def __init__(self, backbone: str = "resnet101", num_classes: int = 5, pretrained: bool = True,
                 weights_file: str | None = None) -> None:
        super().__init__()
        self.encoder = Encoder(backbone, pretrained, weights_file)
        self.decoder = nn.Sequential(conv_bn_relu(self.encoder.high_channels, 256), conv_bn_relu(256, 256))
        self.segmentation_head = nn.Conv2d(256, num_classes, 1)
        self.to(memory_format=torch.channels_last)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        _, high = self.encoder(image)                  # (N, C_high, H/16, W/16)
        features = self.decoder(high)                  # (N, 256, H/16, W/16)
        logits = self.segmentation_head(features)      # (N, num_classes, H/16, W/16)
        return F.interpolate(logits, size=image.shape[2:], mode="bilinear", align_corners=False)  # (N, K, H, W)
