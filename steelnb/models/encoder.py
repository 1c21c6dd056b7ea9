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
from torchvision.models.resnet import BasicBlock, Bottleneck

from .backbones import OUTPUT_STRIDE, ImageNetInput, build_backbone
from .layers import auxiliary_head

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
        return self.features_and_last_stage_input(image)[0]

    def features_and_last_stage_input(self, image: torch.Tensor) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
        """:meth:`forward`'s feature maps, and the input of the last stage of ``high`` (N, C_mid, H/16, W/16): a
        ResNet's layer3 output, which the auxiliary head reads."""
        x = self.input(image)              # (N, 3, H, W), ImageNet-normalised, channels_last
        low = self.low(x)                  # (N, C_low, H/4, W/4)
        *stages, last_stage = self.high    # each a registered submodule (a slice would not be, for torch.fx)
        middle = low
        for stage in stages:
            middle = stage(middle)         # (N, C_mid, H/16, W/16) at the end
        high = last_stage(middle)          # (N, C_high, H/16, W/16)
        return {LOW_STRIDE: low, OUTPUT_STRIDE: high}, middle


class SegmentationModel(nn.Module):
    """Base of every model: ``encoder`` -> ``decoder`` -> ``segmentation_head`` (a 1x1 conv to the classes) ->
    bilinear upsampling to the input size, named as in segmentation-models-pytorch. A subclass sets
    ``architecture`` (its key in ``models.ARCHITECTURES``), ``title`` (its name in figure captions, which a model
    built with a narrower last stage or decoder extends with their widths) and
    ``decoder_class``: a module built from the encoder's channels by stride (and ``decoder_options``, its keyword
    arguments, e.g. DeepLabV3+'s ``aspp_rates``), with an ``out_channels`` attribute.

    With ``aux_head`` (ResNets only) the model also has an ``auxiliary_head`` on layer3's output: each forward in
    training mode leaves its logits, upsampled to the input size, in ``aux_logits`` for the training loop's
    auxiliary loss (``TrainConfig.aux_weight``); in eval mode ``aux_logits`` is None and the head does not run.

    The model keeps its weights and activations in ``channels_last`` memory format, which is faster for
    convolutions on CPU and on GPU tensor cores; the interface (N, C, H, W) does not change."""

    architecture: str
    title: str
    decoder_class: type[nn.Module]

    def __init__(self, backbone: str, num_classes: int, pretrained: bool = True,
                 weights_file: str | None = None, last_stage_width: int | None = None, aux_head: bool = False,
                 **decoder_options: Any) -> None:
        super().__init__()
        self.encoder = Encoder(backbone, pretrained, weights_file, last_stage_width)
        self.decoder = self.decoder_class(self.encoder.channels, **decoder_options)
        self.segmentation_head = nn.Conv2d(self.decoder.out_channels, num_classes, 1)
        self.auxiliary_head = None
        if aux_head:
            last_stage = self.encoder.high[-1]
            if not (isinstance(last_stage, nn.Sequential) and isinstance(last_stage[0], (BasicBlock, Bottleneck))):
                raise ValueError(f"the auxiliary head reads a ResNet's layer3; {backbone} is not a ResNet")
            self.auxiliary_head = auxiliary_head(last_stage[0].conv1.in_channels, num_classes)
        self.aux_logits: torch.Tensor | None = None
        narrowed = [f"{label} {value}" for label, value in (("layer4", last_stage_width),
                                                             ("decoder", decoder_options.get("width"))) if value]
        if narrowed:  # the captions name the narrower model, e.g. "DeepLabV3+ light (layer4 256, decoder 128)"
            self.title = f"{self.title} light ({', '.join(narrowed)})"
        self.to(memory_format=torch.channels_last)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes, H, W) for images (N, 1 or 3, H, W) in [0, 1]."""
        self.aux_logits = None
        if self.auxiliary_head is not None and self.training:
            features, middle = self.encoder.features_and_last_stage_input(image)
            self.aux_logits = F.interpolate(self.auxiliary_head(middle), size=image.shape[2:], mode="bilinear",
                                            align_corners=False)  # (N, K, H, W), for the auxiliary loss
        else:
            features = self.encoder(image)              # {4: (N, C_low, H/4, W/4), 16: (N, C_high, H/16, W/16)}
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
