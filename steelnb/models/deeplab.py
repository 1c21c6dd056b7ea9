"""DeepLabV3+ (Chen et al. 2018): the paper's model."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import OUTPUT_STRIDE
from .encoder import LOW_STRIDE, SegmentationModel
from .layers import conv_bn_relu

#: DeepLabv3's ASPP rates for output stride 16 (Chen et al. 2017, section 3.3), chosen for 33x33 feature maps.
DEEPLAB_ASPP_RATES = (6, 12, 18)
#: The side of the stride-16 feature map DeepLabv3 chose its rates for (its 513x513 training crops).
DEEPLAB_FEATURE_SIDE = 33
#: DeepLabV3+'s decoder width: the channels of ASPP's branches and of the fused stride-4 features.
DECODER_WIDTH = 256
#: DeepLabV3+'s 1x1 projection of the stride-4 skip features.
SKIP_CHANNELS = 48


def aspp_rates_for(input_size: tuple[int, int], output_stride: int = OUTPUT_STRIDE) -> tuple[int, ...]:
    """ASPP dilations for inputs of ``input_size`` = (height, width) pixels: DeepLabv3's 6/12/18 scaled by the
    shorter side of the stride-``output_stride`` feature map over the 33 they were chosen for, rounded, at
    least 1 and strictly increasing. A 128x128 input gives an 8x8 map and rates (1, 3, 4), whose taps stay on
    the map, where 12 and 18 put every tap but the centre on zero padding; 256x256 gives (3, 6, 9)."""
    side = -(-min(input_size) // output_stride)  # the feature map's shorter side (convolutions round up)
    rates: list[int] = []
    for rate in DEEPLAB_ASPP_RATES:
        scaled = max(1, round(rate * side / DEEPLAB_FEATURE_SIDE))
        rates.append(max(scaled, rates[-1] + 1) if rates else scaled)
    return tuple(rates)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1x1 conv, one dilated 3x3 conv per rate in ``rates`` and image-level
    pooling, fused by a 1x1 conv. A rate at least as large as the feature map puts every tap but the centre
    on zero padding, so that branch acts as a 1x1 conv, and :func:`layers.atrous_depthwise` runs it as one."""

    def __init__(self, in_channels: int, out_channels: int = DECODER_WIDTH,
                 rates: tuple[int, ...] = DEEPLAB_ASPP_RATES) -> None:
        super().__init__()
        self.branches = nn.ModuleList([conv_bn_relu(in_channels, out_channels, 1)] +
                                      [conv_bn_relu(in_channels, out_channels, 3, r, separable=True) for r in rates])
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                        nn.ReLU(inplace=True))  # no BN: it is undefined for 1x1 maps of batch 1
        self.project = nn.Sequential(conv_bn_relu(out_channels * (len(rates) + 2), out_channels, 1), nn.Dropout(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C_high, H/16, W/16); C = out_channels below
        pooled = self.image_pool(x).expand(-1, -1, x.shape[2], x.shape[3])  # (N, C, H/16, W/16)
        branches = torch.cat([branch(x) for branch in self.branches] + [pooled], dim=1)  # (N, (rates+2) * C, ...)
        return self.project(branches)  # (N, C, H/16, W/16)


class DeepLabV3PlusDecoder(nn.Module):
    """ASPP on the stride-16 features, upsampled x4 and joined with a 48-channel 1x1 projection of the
    stride-4 features, then fused by a separable 3x3 conv. ``channels``: the encoder's channels by stride;
    ``aspp_rates``: the dilations of ASPP's 3x3 branches; ``width``: the channels of ASPP and of the fused
    output (DeepLabV3+'s 256; at 128 the decoder's forward counts about a third of the FLOPs: 1.66 against 4.66
    GFLOP for 16 x 128x128 inputs on ResNet18)."""

    def __init__(self, channels: dict[int, int], aspp_rates: tuple[int, ...] = DEEPLAB_ASPP_RATES,
                 width: int = DECODER_WIDTH) -> None:
        super().__init__()
        low_channels, high_channels = channels[LOW_STRIDE], channels[OUTPUT_STRIDE]
        self.out_channels = width
        self.aspp = nn.Sequential(ASPP(high_channels, width, aspp_rates), conv_bn_relu(width, width, separable=True))
        self.skip = conv_bn_relu(low_channels, SKIP_CHANNELS, 1)
        self.fuse = conv_bn_relu(width + SKIP_CHANNELS, width, separable=True)

    def forward(self, features: dict[int, torch.Tensor]) -> torch.Tensor:
        low, high = features[LOW_STRIDE], features[OUTPUT_STRIDE]  # (N, C_low, H/4, W/4), (N, C_high, H/16, W/16)
        context = self.aspp(high)                                                        # (N, width, H/16, W/16)
        context = F.interpolate(context, size=low.shape[2:], mode="bilinear", align_corners=False)  # (N, width, H/4, W/4)
        return self.fuse(torch.cat([context, self.skip(low)], dim=1))                    # (N, width, H/4, W/4)


class DeepLabV3Plus(SegmentationModel):
    """DeepLabV3+ (Chen et al. 2018): output stride 16 encoder with ASPP (rates 6/12/18 unless ``aspp_rates``
    says otherwise), 48-channel low-level skip at stride 4, a 3x3 decoder conv, then x4 bilinear upsampling
    to the input size.

    Kept from DeepLabV3+'s design (Chen et al. 2018), not from the paper under study: output stride 16
    (DenseNet included), ASPP with DeepLabv3's rates 6/12/18 and image pooling, the 48-channel 1x1 skip at
    stride 4, separable convolutions, bilinear upsampling. The paper gives other ASPP rates, 1, 12, 24 and 3,
    in its section 5.2 (``build_model(..., aspp_rates=PAPER_ASPP_RATES)`` builds them, the 1 being the 1x1
    branch; ``course/paper.py``), and a 3x3 / 3x3 / 1x1 decoder.
    Deviations, chosen for speed (they make the decoder about as cheap as segmentation-models-pytorch's,
    which uses the same layout): one BN + ReLU per separable conv instead of one after each half, and
    the decoder's two separable 3x3 convs at stride 4 are split into one at stride 16 (after ASPP,
    16x fewer pixels) and one at stride 4. EfficientNet's final 1x1 conv to 1280 channels (an
    ImageNet-classifier layer) is dropped, so ASPP reads its 320-channel features.
    """

    architecture = "deeplabv3plus"
    title = "DeepLabV3+"
    decoder_class = DeepLabV3PlusDecoder
