"""Segmentation models: the paper's bare-bone baseline and DeepLabV3+.

Both take a (N, 1 or 3, H, W) image in [0, 1] and return class logits (N, num_classes, H, W)
at the input resolution, for any H and W (features are resized to match where strides round).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import BackboneParts, ImageNetInput, build_backbone


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1,
                 separable: bool = False) -> nn.Sequential:
    """Conv + BN + ReLU; ``separable`` makes a 3x3 conv depthwise-separable (DeepLabV3+'s atrous
    separable convolution): a per-channel dilated 3x3 followed directly by a 1x1 mix, with one BN + ReLU
    after both, as segmentation-models-pytorch does (no BN + ReLU between the two halves)."""
    padding = dilation * (kernel_size - 1) // 2
    if separable and kernel_size > 1:
        convs = [nn.Conv2d(in_channels, in_channels, kernel_size, padding=padding, dilation=dilation,
                           groups=in_channels, bias=False),
                 nn.Conv2d(in_channels, out_channels, 1, bias=False)]
    else:
        convs = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False)]
    return nn.Sequential(*convs, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: 1x1 conv, three dilated 3x3 convs and image-level pooling, fused by 1x1."""

    def __init__(self, in_channels: int, out_channels: int = 256, rates: tuple[int, int, int] = (6, 12, 18)) -> None:
        super().__init__()
        self.branches = nn.ModuleList([conv_bn_relu(in_channels, out_channels, 1)] +
                                      [conv_bn_relu(in_channels, out_channels, 3, r, separable=True) for r in rates])
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                        nn.ReLU(inplace=True))  # no BN: it is undefined for 1x1 maps of batch 1
        self.project = nn.Sequential(conv_bn_relu(out_channels * (len(rates) + 2), out_channels, 1), nn.Dropout(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C_high, H/16, W/16) -> (N, 256, H/16, W/16)
        pooled = self.image_pool(x).expand(-1, -1, x.shape[2], x.shape[3])
        return self.project(torch.cat([branch(x) for branch in self.branches] + [pooled], dim=1))


class _BackboneModel(nn.Module):
    """Shared start of both models: ImageNet input normalisation and a stride-16 backbone."""

    def _init_backbone(self, backbone: str, pretrained: bool, weights_file: str | None) -> BackboneParts:
        self.backbone_name = backbone
        self.input = ImageNetInput()
        parts = build_backbone(backbone, pretrained, weights_file)
        self.pretrained = parts.pretrained  # whether ImageNet weights were loaded (False: random initial weights)
        return parts


class DeepLabV3Plus(_BackboneModel):
    """DeepLabV3+ (Chen et al. 2018): output stride 16 encoder with ASPP (rates 6/12/18), 48-channel
    low-level skip at stride 4, a 3x3 decoder conv, then x4 bilinear upsampling to the input size.

    Kept from the paper's design: output stride 16 (DenseNet included), ASPP with rates 6/12/18 and
    image pooling, the 48-channel 1x1 skip at stride 4, separable convolutions, bilinear upsampling.
    Deviations, chosen for speed (they make the decoder about as cheap as segmentation-models-pytorch's,
    which uses the same layout): one BN + ReLU per separable conv instead of one after each half, and
    the decoder's two separable 3x3 convs at stride 4 are split into one at stride 16 (after ASPP,
    16x fewer pixels) and one at stride 4. EfficientNet's final 1x1 conv to 1280 channels (an
    ImageNet-classifier layer) is dropped, so ASPP reads its 320-channel features.
    The model keeps its weights and activations in ``channels_last`` memory format, which is faster for
    convolutions on CPU and on GPU tensor cores; the interface (N, C, H, W) does not change.
    """

    def __init__(self, backbone: str = "resnet101", num_classes: int = 5, pretrained: bool = True,
                 weights_file: str | None = None) -> None:
        super().__init__()
        parts = self._init_backbone(backbone, pretrained, weights_file)
        self.low, self.high = parts.low, parts.high
        self.aspp = nn.Sequential(ASPP(parts.high_channels), conv_bn_relu(256, 256, separable=True))
        self.skip = conv_bn_relu(parts.low_channels, 48, 1)
        self.decoder = conv_bn_relu(256 + 48, 256, separable=True)
        self.classifier = nn.Conv2d(256, num_classes, 1)
        self.to(memory_format=torch.channels_last)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.input(image)                                  # (N, 3, H, W), channels_last
        low = self.low(x)                                      # (N, C_low, H/4, W/4)
        context = self.aspp(self.high(low))                    # (N, 256, H/16, W/16)
        context = F.interpolate(context, size=low.shape[2:], mode="bilinear", align_corners=False)
        features = self.decoder(torch.cat([context, self.skip(low)], dim=1))  # (N, 256, H/4, W/4)
        logits = self.classifier(features)                     # (N, num_classes, H/4, W/4)
        return F.interpolate(logits, size=image.shape[2:], mode="bilinear", align_corners=False)


class BareBoneBaseline(_BackboneModel):
    """The paper's baseline: backbone -> 3x3 conv to 256 + BN + ReLU -> 3x3 conv 256 + BN + ReLU ->
    1x1 classifier -> bilinear upsampling from stride 16 to the input size. No ASPP, no skip."""

    def __init__(self, backbone: str = "resnet101", num_classes: int = 5, pretrained: bool = True,
                 weights_file: str | None = None) -> None:
        super().__init__()
        parts = self._init_backbone(backbone, pretrained, weights_file)
        self.encoder = nn.Sequential(parts.low, parts.high)
        self.head = nn.Sequential(conv_bn_relu(parts.high_channels, 256), conv_bn_relu(256, 256),
                                  nn.Conv2d(256, num_classes, 1))
        self.to(memory_format=torch.channels_last)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.encoder(self.input(image)))   # (N, num_classes, H/16, W/16)
        return F.interpolate(logits, size=image.shape[2:], mode="bilinear", align_corners=False)


ARCHITECTURES = {"deeplabv3plus": DeepLabV3Plus, "baseline": BareBoneBaseline}


def build_model(architecture: str = "deeplabv3plus", backbone: str = "resnet101", num_classes: int = 5,
                pretrained: bool = True, weights_file: str | None = None) -> nn.Module:
    """Build ``architecture`` ("deeplabv3plus" or "baseline") on ``backbone`` for ``num_classes`` labels."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](backbone, num_classes, pretrained, weights_file)
