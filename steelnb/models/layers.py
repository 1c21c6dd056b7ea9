"""The building blocks the segmentation models share: conv + BN + ReLU, and the training-only auxiliary head."""
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


def auxiliary_head(in_channels: int, num_classes: int) -> nn.Sequential:
    """An FCN head for deep supervision (PSPNet's auxiliary loss; torchvision's ``FCNHead``): a 3x3 conv to
    ``in_channels`` / 4 + BN + ReLU, dropout 0.1, a 1x1 conv to the classes; (N, in_channels, H, W) ->
    (N, num_classes, H, W). It reads the features before the encoder's last stage during training only, so its
    loss sends gradients straight into the middle of the backbone; inference never runs it."""
    return nn.Sequential(conv_bn_relu(in_channels, in_channels // 4), nn.Dropout(0.1),
                         nn.Conv2d(in_channels // 4, num_classes, 1))
