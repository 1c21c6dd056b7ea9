"""torchvision backbones as two-stage feature extractors at output stride 16.

Every backbone returns ``(low, high)``: ``low`` at stride 4 (the DeepLabV3+ skip) and ``high`` at
stride 16. The last stride-2 stage is turned into a stride-1 stage with dilation 2, as DeepLabV3+
does, so the field of view is kept while the resolution doubles. For DenseNet that means
dropping the pooling of ``transition3`` and dilating ``denseblock4``, which
segmentation-models-pytorch does not support.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torchvision import models

from .weights import load_imagenet_weights

#: The stride of torchvision's classification backbones: their last stage runs at 1/32 of the input.
CLASSIFIER_STRIDE = 32
#: The stride of the deepest features every backbone returns. A fact of the splitters below, not a knob: each
#: turns exactly its last stride-2 stage into a stride-1 stage dilated by ``CLASSIFIER_STRIDE // OUTPUT_STRIDE``,
#: and ``tests/test_models.py`` measures the stride of every backbone against this value.
OUTPUT_STRIDE = 16
#: The dilation of the stage that would run at stride 32 (DeepLabV3+ at output stride 16: 2).
LAST_STAGE_DILATION = CLASSIFIER_STRIDE // OUTPUT_STRIDE


def dilate_stage(stage: nn.Module, dilation: int = LAST_STAGE_DILATION) -> None:
    """Make a stride-2 stage stride-1 and dilate its spatial convolutions (kernel > 1) by ``dilation``."""
    for module in stage.modules():
        if isinstance(module, nn.Conv2d):
            module.stride = (1, 1)
        if isinstance(module, nn.Conv2d) and module.kernel_size[0] > 1:
            module.dilation = (dilation, dilation)
            module.padding = (dilation * (module.kernel_size[0] - 1) // 2,) * 2
        elif isinstance(module, (nn.AvgPool2d, nn.MaxPool2d)):
            module.kernel_size, module.stride = 1, 1


@dataclass
class BackboneParts:
    """The two halves of a backbone and their output channels."""

    low: nn.Module
    high: nn.Module
    low_channels: int = 0
    high_channels: int = 0
    pretrained: bool = False  # True when ImageNet weights were loaded, False for random initial weights

    def __post_init__(self) -> None:
        with torch.no_grad():
            low = self.low.eval()(torch.zeros(1, 3, 64, 64))
            self.low_channels, self.high_channels = low.shape[1], self.high.eval()(low).shape[1]
        self.low.train(), self.high.train()


def narrow_resnet_last_stage(net: models.ResNet, width: int) -> None:
    """Rebuild ``net.layer4`` with ``width`` planes instead of torchvision's 512 (output ``width`` x the block's
    expansion channels: 256 for ResNet18 at width 256), same block type and count, freshly initialised as
    torchvision initialises a ResNet (Kaiming-normal convolutions, batch norms at 1 and 0). The stage runs on the
    smallest map but, dilated at output stride 16, holds about half of a ResNet18 DeepLabV3+'s FLOPs at
    128x128; a narrower one buys epochs in a CPU time budget. Any ImageNet weights of that stage are dropped."""
    block = type(net.layer4[0])
    net.inplanes = net.layer3[-1].conv1.in_channels  # layer3's output channels, what layer4 reads
    net.layer4 = net._make_layer(block, width, len(net.layer4), stride=2)
    for module in net.layer4.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight), nn.init.zeros_(module.bias)


def _resnet(net: nn.Module) -> BackboneParts:
    dilate_stage(net.layer4)
    return BackboneParts(nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1),
                         nn.Sequential(net.layer2, net.layer3, net.layer4))


def _densenet(net: nn.Module) -> BackboneParts:
    f = net.features
    dilate_stage(f.transition3.pool)  # keep transition3's 1x1 conv, drop its stride-2 pooling
    dilate_stage(f.denseblock4)
    return BackboneParts(nn.Sequential(f.conv0, f.norm0, f.relu0, f.pool0, f.denseblock1),
                         nn.Sequential(f.transition1, f.denseblock2, f.transition2, f.denseblock3, f.transition3,
                                       f.denseblock4, f.norm5, nn.ReLU(inplace=True)))


def _efficientnet(net: nn.Module) -> BackboneParts:
    dilate_stage(net.features[6])
    dilate_stage(net.features[7])
    # features[8] is the ImageNet head's 1x1 conv 320 -> 1280; segmentation reads the 320 channels before it
    return BackboneParts(net.features[:3], net.features[3:8])


def _mobilenet(net: nn.Module) -> BackboneParts:
    return BackboneParts(net.features[:4], net.features[4:])  # built with dilated=True: already stride 16


@dataclass(frozen=True)
class Backbone:
    """One entry of :data:`BACKBONES`: how torchvision builds the network (random weights) and how it is split
    into the stride-4 and stride-16 parts."""

    build: Callable[[], nn.Module]
    split: Callable[[nn.Module], BackboneParts]
    narrow: Callable[[nn.Module, int], None] | None = None  # rebuilds the last stage at a width (ResNets only)


#: Every backbone the models take, by torchvision name; a new backbone is one more entry (and, for a new family,
#: a splitter above), as segmentation-models-pytorch's encoder dict and timm's model registry do.
BACKBONES: dict[str, Backbone] = {
    "resnet18": Backbone(models.resnet18, _resnet, narrow_resnet_last_stage),
    "resnet50": Backbone(models.resnet50, _resnet, narrow_resnet_last_stage),
    "resnet101": Backbone(models.resnet101, _resnet, narrow_resnet_last_stage),
    "densenet121": Backbone(models.densenet121, _densenet),
    "densenet201": Backbone(models.densenet201, _densenet),
    "efficientnet_b0": Backbone(models.efficientnet_b0, _efficientnet),
    "efficientnet_b1": Backbone(models.efficientnet_b1, _efficientnet),
    "mobilenet_v3_large": Backbone(partial(models.mobilenet_v3_large, dilated=True), _mobilenet),
}

#: The lightest backbone of :data:`BACKBONES`: the fast end of the speed tables.
LIGHTEST_BACKBONE = "mobilenet_v3_large"


def build_backbone(backbone: str, pretrained: bool = True, weights_file: str | None = None,
                   last_stage_width: int | None = None) -> BackboneParts:
    """Build ``backbone`` (a key of :data:`BACKBONES`) at output stride 16, with ImageNet weights when available.
    ``last_stage_width`` rebuilds the last stage narrower (ResNets only: :func:`narrow_resnet_last_stage`);
    None keeps torchvision's.

    Raises:
        ValueError: an unknown name (the message lists the known ones), or a width for a backbone that has none.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; the known backbones are {', '.join(BACKBONES)}")
    entry = BACKBONES[backbone]
    if last_stage_width is not None and entry.narrow is None:
        raise ValueError(f"last_stage_width is for ResNet backbones; {backbone} has no narrower last stage here "
                         f"(the ones that have: {', '.join(name for name, b in BACKBONES.items() if b.narrow)})")
    net = entry.build()
    loaded = pretrained and load_imagenet_weights(net, backbone, weights_file)
    if last_stage_width is not None:
        entry.narrow(net, last_stage_width)
    parts = entry.split(net)
    parts.pretrained = loaded
    return parts


def zero_init_residual_blocks(model: nn.Module) -> int:
    """Set to zero the scale (gamma) of the last batch norm of every torchvision ResNet block in ``model``, so
    each residual branch starts switched off and each block as the identity (Goyal et al. 2017; torchvision's
    ``zero_init_residual``). A network trained from random weights then behaves like a shallow one in its
    first steps, a common speedrun initialisation; whether it helps here is what the ``zero_init`` lever of
    ``benchmarks/levers.py`` measures. For random initial weights only: on ImageNet
    weights it would erase what they learned. Returns the number of blocks changed (0 for a backbone without
    residual blocks, such as DenseNet)."""
    changed = 0
    for module in model.modules():
        last_norm = (module.bn3 if isinstance(module, models.resnet.Bottleneck) else
                     module.bn2 if isinstance(module, models.resnet.BasicBlock) else None)
        if last_norm is not None:
            nn.init.zeros_(last_norm.weight)
            changed += 1
    return changed


def pca_whitened_stem(encoder: nn.Module, images: torch.Tensor, eps: float = 5e-4) -> nn.Conv2d:
    """Set the weights of ``encoder``'s first convolution (a ResNet's 7x7 stem) to the principal components of
    the image patches it reads, each divided by the square root of its variance (PCA whitening), so that its
    first outputs are uncorrelated and of unit variance on the data instead of random (the whitening layer of
    the airbench CIFAR-10 speedruns, Keller Jordan 2024). With N filters it keeps the N/2 strongest components
    and their negatives: the ReLU after the stem's batch norm then passes both signs of each. ``eps`` (in the
    variance's units, ImageNet-normalised intensity squared) keeps faint components from being blown up. The
    whitened filters are about 40 times larger than the random initial ones; the batch norm after the stem
    cancels their scale, and the optimiser's steps then move them little, so the stem stays close to the
    whitening (airbench freezes it).

    ``images``: (N, 1 or 3, H, W) in [0, 1], as the model reads them; ``encoder.input`` normalises them, and
    every stem-sized patch the convolution reads (with its stride and padding) counts. For random initial
    weights only; whether it helps is what the ``pca_stem`` lever of ``benchmarks/levers.py`` measures.
    Returns the convolution changed.

    Raises:
        ValueError: the first convolution has an odd number of filters, groups, or more filters than its
            patches have dimensions.
    """
    stem = next(module for module in encoder.modules() if isinstance(module, nn.Conv2d))
    dimensions = stem.in_channels * stem.kernel_size[0] * stem.kernel_size[1]
    if stem.out_channels % 2 or stem.groups != 1 or stem.out_channels > dimensions:
        raise ValueError(f"the PCA-whitened stem needs an ungrouped first convolution with an even number of filters "
                         f"at most its {dimensions} patch dimensions; this one has {stem.out_channels} filters and "
                         f"{stem.groups} groups")
    with torch.no_grad():
        normalised = encoder.input(images.float()).contiguous()
        patches = nn.functional.unfold(normalised, stem.kernel_size, stem.dilation, stem.padding, stem.stride)
        patches = patches.transpose(1, 2).reshape(-1, dimensions)  # (patches, C*kh*kw), in the weight's order
        centred = patches - patches.mean(0)
        variances, directions = torch.linalg.eigh((centred.T @ centred).double() / (len(centred) - 1))  # ascending
        strongest = stem.out_channels // 2
        filters = (directions[:, -strongest:] / (variances[-strongest:] + eps).sqrt()).T.flip(0)
        stem.weight.copy_(torch.cat((filters, -filters)).reshape(stem.weight.shape).to(stem.weight.dtype))
    return stem


class ImageNetInput(nn.Module):
    """Turn a (N, 1 or 3, H, W) image in [0, 1] into ImageNet-normalised RGB (N, 3, H, W), laid out in
    ``memory_format``: ``channels_last`` by default, the layout the models' convolutions run fastest in
    (:func:`set_memory_format` changes it for a whole model, e.g. to measure what it buys)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self.memory_format = torch.channels_last

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return ((image - self.mean) / self.std).contiguous(memory_format=self.memory_format)


def set_memory_format(model: nn.Module, memory_format: torch.memory_format) -> nn.Module:
    """Lay out ``model``'s weights and the activations its input layer makes in ``memory_format``
    (``torch.channels_last`` or ``torch.contiguous_format``); returns the model."""
    model.to(memory_format=memory_format)
    for module in model.modules():
        if isinstance(module, ImageNetInput):
            module.memory_format = memory_format
    return model
