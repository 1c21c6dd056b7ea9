"""The one building block both segmentation models share."""
from __future__ import annotations

from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1,
                 separable: bool = False) -> nn.Sequential:
    """Conv + BN + ReLU, (N, in_channels, H, W) -> (N, out_channels, H, W); ``separable`` makes a 3x3
    conv depthwise-separable (DeepLabV3+'s atrous separable convolution): a per-channel dilated 3x3
    followed directly by a 1x1 mix, with one BN + ReLU after both, as segmentation-models-pytorch does
    (no BN + ReLU between the two halves)."""
    padding = dilation * (kernel_size - 1) // 2
    if separable and kernel_size > 1:
        convs = [nn.Conv2d(in_channels, in_channels, kernel_size, padding=padding, dilation=dilation,
                           groups=in_channels, bias=False),
                 nn.Conv2d(in_channels, out_channels, 1, bias=False)]
    else:
        convs = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False)]
    return nn.Sequential(*convs, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
