"""The building blocks the segmentation models share: conv + BN + ReLU, the atrous depthwise conv, and the
training-only auxiliary head."""
from __future__ import annotations

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn


@torch.fx.wrap  # one call in a torch.fx graph: the taps it keeps depend on the map's size
def atrous_depthwise(features: torch.Tensor, weight: torch.Tensor, dilation: int) -> torch.Tensor:
    """A depthwise 3x3 convolution with ``dilation`` (zero padding ``dilation``, no bias) of ``features``
    (N, C, H, W) by ``weight`` (C, 1, 3, 3), returning (N, C, H, W).

    A tap whose offset, ``dilation`` pixels up or down (left or right), is at least the map's height (width)
    reads zero padding at every output pixel, so it adds nothing, and its weight's gradient is zero. Those
    taps are left out: the same result and gradients from a 3x1, 1x3 or 1x1 kernel. It matters because
    ASPP's rates 12 and 18 on the 8x8 map a 128x128 input gives keep only the centre, and a dilated
    depthwise convolution runs on a slow path of CPU kernels (in its backward especially) where a 1x1 one
    runs on the fast path. While a model is traced for ONNX or TorchScript, whose graphs serve every input
    size, the whole kernel is kept."""
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        keep_rows = keep_cols = True
    else:
        keep_rows, keep_cols = dilation < features.shape[-2], dilation < features.shape[-1]
    kernel = weight[:, :, slice(None) if keep_rows else slice(1, 2), slice(None) if keep_cols else slice(1, 2)]
    return F.conv2d(features, kernel, None, 1, (dilation if keep_rows else 0, dilation if keep_cols else 0),
                    (dilation if keep_rows else 1, dilation if keep_cols else 1), weight.shape[0])


class AtrousDepthwiseConv2d(nn.Conv2d):
    """The depthwise half of an atrous separable convolution: a per-channel 3x3 conv with ``dilation``,
    (N, channels, H, W) -> (N, channels, H, W), run by :func:`atrous_depthwise`, which skips the taps that
    fall on zero padding at every pixel. Its weight (channels, 1, 3, 3) is an ``nn.Conv2d``'s, so
    checkpoints and weight initialisation are those of a plain convolution."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__(channels, channels, 3, padding=dilation, dilation=dilation, groups=channels, bias=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return atrous_depthwise(features, self.weight, self.dilation[0])


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1,
                 separable: bool = False) -> nn.Sequential:
    """Conv + BN + ReLU, (N, in_channels, H, W) -> (N, out_channels, H, W); ``separable`` makes a 3x3
    conv depthwise-separable (DeepLabV3+'s atrous separable convolution): a per-channel dilated 3x3
    followed directly by a 1x1 mix, with one BN + ReLU after both, as segmentation-models-pytorch does
    (no BN + ReLU between the two halves). A separable conv's kernel must be 3x3 (:class:`AtrousDepthwiseConv2d`)."""
    if separable and kernel_size > 1:
        if kernel_size != 3:
            raise ValueError(f"a separable conv here has a 3x3 depthwise kernel, not {kernel_size}x{kernel_size}")
        convs = [AtrousDepthwiseConv2d(in_channels, dilation), nn.Conv2d(in_channels, out_channels, 1, bias=False)]
    else:
        padding = dilation * (kernel_size - 1) // 2
        convs = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False)]
    return nn.Sequential(*convs, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def auxiliary_head(in_channels: int, num_classes: int) -> nn.Sequential:
    """An FCN head for deep supervision (PSPNet's auxiliary loss; torchvision's ``FCNHead``): a 3x3 conv to
    ``in_channels`` / 4 + BN + ReLU, dropout 0.1, a 1x1 conv to the classes; (N, in_channels, H, W) ->
    (N, num_classes, H, W). It reads the features before the encoder's last stage during training only, so its
    loss sends gradients straight into the middle of the backbone; inference never runs it."""
    return nn.Sequential(conv_bn_relu(in_channels, in_channels // 4), nn.Dropout(0.1),
                         nn.Conv2d(in_channels // 4, num_classes, 1))
