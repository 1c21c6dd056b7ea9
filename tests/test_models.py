import warnings

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from steelnb.evaluation.inference import fold_batchnorm, inference_model
from steelnb.models import (
    BACKBONES,
    LOW_STRIDE,
    OUTPUT_STRIDE,
    PretrainedWeightsWarning,
    build_backbone,
    build_model,
    pca_whitened_stem,
    zero_init_residual_blocks,
)
from steelnb.models.backbones import LAST_STAGE_DILATION
from steelnb.models.baseline import BareBoneDecoder
from steelnb.models.deeplab import DeepLabV3PlusDecoder, aspp_rates_for
from steelnb.models.layers import AtrousDepthwiseConv2d
from steelnb.training.checkpoint import load_weights

SMALL_BACKBONES = ["resnet18", "densenet121", "efficientnet_b0", "mobilenet_v3_large"]
LARGER_BACKBONES = {"resnet101": (256, 2048), "densenet201": (256, 1920), "efficientnet_b1": (24, 320),
                    "resnet50": (256, 2048)}  # (stride-4 channels, stride-16 channels)


def test_every_backbone_has_its_output_stride_checked():
    assert set(SMALL_BACKBONES) | set(LARGER_BACKBONES) == set(BACKBONES)


@pytest.mark.parametrize("backbone", SMALL_BACKBONES)
def test_backbones_reach_stride_16_and_4(backbone):
    parts = build_backbone(backbone, pretrained=False)
    with torch.no_grad():
        low = parts.low.eval()(torch.zeros(1, 3, 64, 160))
        high = parts.high.eval()(low)
    assert low.shape[2:] == (16, 40) and high.shape[2:] == (4, 10)
    assert (low.shape[1], high.shape[1]) == (parts.low_channels, parts.high_channels)
    # OUTPUT_STRIDE is a fact of the splitters, not a knob: it must be the stride they build
    assert (64 // LOW_STRIDE, 64 // OUTPUT_STRIDE) == (low.shape[2], high.shape[2])


@pytest.mark.parametrize("backbone, channels", LARGER_BACKBONES.items())
def test_larger_backbones_build_at_stride_16(backbone, channels):
    parts = build_backbone(backbone, pretrained=False)
    with torch.no_grad():
        low = parts.low.eval()(torch.zeros(1, 3, 64, 96))
        high = parts.high.eval()(low)
    assert low.shape[2:] == (16, 24) and high.shape[2:] == (4, 6)  # stride 4 skip, stride 16 (not 32) context
    assert (parts.low_channels, parts.high_channels) == channels


@pytest.mark.parametrize("architecture", ["deeplabv3plus", "baseline"])
def test_logits_at_input_resolution_and_trainable(architecture):
    torch.manual_seed(0)
    model = build_model(architecture, "resnet18", num_classes=5, pretrained=False)
    images = torch.rand(2, 1, 64, 320)
    logits = model(images)
    assert logits.shape == (2, 5, 64, 320)
    torch.nn.functional.cross_entropy(logits, torch.zeros(2, 64, 320, dtype=torch.long)).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_both_decoders_take_the_encoder_channels_by_stride():
    channels = {LOW_STRIDE: 24, OUTPUT_STRIDE: 40}
    features = {LOW_STRIDE: torch.rand(1, 24, 16, 16), OUTPUT_STRIDE: torch.rand(1, 40, 4, 4)}
    assert DeepLabV3PlusDecoder(channels).eval()(features).shape == (1, 256, 16, 16)  # at stride 4
    assert BareBoneDecoder(channels).eval()(features).shape == (1, 256, 4, 4)  # at stride 16, no skip
    assert LAST_STAGE_DILATION == 2  # the stage that would run at stride 32 runs at 16, dilated by 32 / 16


def test_deeplab_structure():
    model = build_model("deeplabv3plus", "resnet18", num_classes=5, pretrained=False)
    aspp = model.decoder.aspp[0]
    assert len(aspp.branches) == 4  # 1x1 + three dilated 3x3 (+ image pooling)
    assert [b[0].dilation for b in aspp.branches[1:]] == [(6, 6), (12, 12), (18, 18)]
    assert model.decoder.skip[0].out_channels == 48
    small = build_model("deeplabv3plus", "resnet18", num_classes=5, pretrained=False, aspp_rates=(1, 3, 4))
    assert [b[0].dilation for b in small.decoder.aspp[0].branches[1:]] == [(1, 1), (3, 3), (4, 4)]


def test_aspp_rates_follow_the_feature_map():
    assert aspp_rates_for((513, 513)) == (6, 12, 18)  # DeepLabv3's own 513x513 crops: its 33x33 map
    assert aspp_rates_for((128, 128)) == (1, 3, 4)  # 8x8: 6 * 8 / 33 = 1.45, 12 * 8 / 33 = 2.9, 18 * 8 / 33 = 4.4
    assert aspp_rates_for((256, 1600)) == (3, 6, 9)  # the shorter side decides: 16 * 6 / 33 = 2.9
    assert aspp_rates_for((32, 32)) == (1, 2, 3)  # 2x2: all round to 1, kept strictly increasing
    assert max(aspp_rates_for((128, 128))) < 128 // OUTPUT_STRIDE  # every rate keeps taps on the map


def test_offline_weights_fall_back_to_random_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("STEELNB_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.warns(PretrainedWeightsWarning, match="RANDOM weights"):
        build_backbone("resnet18", pretrained=True)


def test_weights_from_local_file(tmp_path):
    import torchvision
    torch.manual_seed(1)
    reference = torchvision.models.resnet18()
    path = tmp_path / "r18.pth"
    torch.save(reference.state_dict(), path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PretrainedWeightsWarning)
        parts = build_backbone("resnet18", pretrained=True, weights_file=str(path))
    assert torch.equal(parts.low[0].weight, reference.conv1.weight)


def test_zero_init_residual_makes_every_resnet_block_an_identity():
    model = build_model("deeplabv3plus", "resnet18", num_classes=3, pretrained=False)
    assert zero_init_residual_blocks(model.encoder) == 8  # ResNet18: 2 blocks in each of its 4 stages
    block = next(m for m in model.modules() if type(m).__name__ == "BasicBlock" and m.downsample is None)
    x = torch.randn(2, block.conv1.in_channels, 9, 9)
    assert torch.allclose(block.train()(x), x.relu())  # the branch adds 0 (gamma 0, beta 0): relu(0 + x)
    assert zero_init_residual_blocks(build_model("deeplabv3plus", "densenet121", 3, pretrained=False).encoder) == 0


def test_the_pca_whitened_stem_makes_its_outputs_uncorrelated_with_unit_variance():
    # smoothed noise: neighbouring pixels correlate, so the raw 7x7x3 patches do too
    torch.manual_seed(0)
    images = torch.nn.functional.avg_pool2d(torch.rand(6, 3, 38, 38), 3, stride=1)  # (6, 3, 36, 36) in [0, 1]
    model = build_model("deeplabv3plus", "resnet18", num_classes=3, pretrained=False)
    stem = pca_whitened_stem(model.encoder, images, eps=0.0)
    assert stem is model.encoder.low[0]  # the 7x7 stride-2 stem, 64 filters
    with torch.no_grad():
        outputs = stem(model.encoder.input(images)).permute(1, 0, 2, 3).flatten(1).double()  # (64, every position)
    covariance = torch.cov(outputs)
    # the 32 strongest components, whitened: the identity; the other 32 filters are their negatives
    assert torch.allclose(covariance[:32, :32], torch.eye(32, dtype=torch.float64), atol=1e-3)
    assert torch.equal(stem.weight[32:], -stem.weight[:32])
    # the strongest component first: with eps, each variance is lambda / (lambda + eps), which grows with lambda
    pca_whitened_stem(model.encoder, images, eps=1e-2)
    with torch.no_grad():
        variances = stem(model.encoder.input(images))[:, :32].permute(1, 0, 2, 3).flatten(1).var(1)
    assert (variances[:-1] >= variances[1:] - 1e-4).all() and variances[-1] < 0.99 * variances[0]


def test_a_narrower_last_stage_and_decoder_keep_the_shapes_and_cost_less():
    # 16 x 128 x 128 inputs: hand-counted, layer4 of ResNet18 at 512 planes is 2 blocks of 3x3 convs 256->512 and
    # 512->512 on 8x8; at 256 planes every one of them is 256->256, about a quarter of the multiply-adds
    model = build_model("deeplabv3plus", "resnet18", num_classes=4, pretrained=False, last_stage_width=256, width=128)
    assert model.encoder.channels == {LOW_STRIDE: 64, OUTPUT_STRIDE: 256}
    assert model.decoder.out_channels == model.segmentation_head.in_channels == 128
    assert all(branch[-2].num_features == 128 for branch in model.decoder.aspp[0].branches)
    layer4 = model.encoder.high[-1]
    assert [block.conv1.in_channels for block in layer4] == [256, 256]
    assert layer4[0].conv2.dilation == (LAST_STAGE_DILATION,) * 2  # still dilated: output stride 16
    assert model(torch.rand(2, 1, 64, 48)).shape == (2, 4, 64, 48)
    assert torch.equal(layer4[0].bn1.weight, torch.ones(256))  # torchvision's initialisation
    assert model.title == "DeepLabV3+ light (layer4 256, decoder 128)"  # the captions say which model they show
    assert build_model("deeplabv3plus", "resnet18", 4, pretrained=False).title == "DeepLabV3+"
    assert build_model("deeplabv3plus", "resnet50", 4, pretrained=False, last_stage_width=256).encoder.channels[
        OUTPUT_STRIDE] == 1024  # Bottleneck: 256 planes x expansion 4
    with pytest.raises(ValueError, match="last_stage_width is for ResNet backbones; densenet121"):
        build_model("deeplabv3plus", "densenet121", 4, pretrained=False, last_stage_width=256)
    with pytest.raises(ValueError, match="baseline's decoder has no option width"):
        build_model("baseline", "resnet18", 4, pretrained=False, width=128)


def test_unknown_names():
    # an unknown name is refused with the list of known ones (never sent to another family's splitter)
    with pytest.raises(ValueError, match="unknown backbone 'vgg16'; the known backbones are resnet18, resnet50, "
                                         "resnet101, densenet121, densenet201, efficientnet_b0, efficientnet_b1, "
                                         "mobilenet_v3_large"):
        build_backbone("vgg16")
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("unet", "resnet18", num_classes=5)


def test_parts_are_named_like_smp_and_the_encoder_returns_features_by_stride():
    model = build_model("deeplabv3plus", "resnet18", num_classes=5, pretrained=False).eval()
    assert {key.split(".")[0] for key in model.state_dict()} == {"encoder", "decoder", "segmentation_head"}
    with torch.no_grad():
        features = model.encoder(torch.zeros(1, 1, 64, 96))
    assert {stride: tuple(f.shape[2:]) for stride, f in features.items()} == {4: (16, 24), 16: (4, 6)}


def test_weights_written_under_other_part_names_are_refused_naming_the_file(tmp_path):
    # a run saved before the parts were named encoder / decoder / segmentation_head (steelnb 0.1)
    old = {"low.0.weight": torch.zeros(64, 3, 7, 7), "classifier.bias": torch.zeros(5)}
    torch.save({"model": old}, tmp_path / "best.pt")
    model = build_model("deeplabv3plus", "resnet18", num_classes=5, pretrained=False)
    with pytest.raises(RuntimeError, match=r"best\.pt do not fit this DeepLabV3Plus.*before 0\.2"):
        load_weights(model, tmp_path)


#: The DeepLabV3+ design, stage by stage of each backbone's stride-4-to-16 part (``BackboneParts.high``): the
#: stage that would run at stride 32 runs at stride 16 with its spatial convolutions dilated by 2, every other
#: stage keeps dilation 1. Keys: index of the stage in ``high``; values: dilation of its k > 1 convolutions.
STAGE_DILATIONS = {
    "resnet": {0: 1, 1: 1, 2: 2},  # layer2, layer3, layer4
    "densenet": {1: 1, 3: 1, 5: 2},  # denseblock2, denseblock3, denseblock4
    "efficientnet": {0: 1, 1: 1, 2: 1, 3: 2, 4: 2},  # features 3..7: stages 6 (stride 2 in ImageNet) and 7
    "mobilenet": {**{i: 1 for i in range(9)}, 9: 2, 10: 2, 11: 2},  # features 4..15: the three 160-channel blocks
}


@pytest.mark.parametrize("backbone", BACKBONES)
def test_every_stage_has_the_dilation_of_the_deeplab_design(backbone):
    parts = build_backbone(backbone, pretrained=False)
    expected = next(rates for family, rates in STAGE_DILATIONS.items() if backbone.startswith(family))

    def spatial_convs(module):
        return [m for m in module.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size[0] > 1]
    assert {conv.dilation for conv in spatial_convs(parts.low)} == {(1, 1)}
    for stage, dilation in expected.items():
        convs = spatial_convs(parts.high[stage])
        assert convs and {conv.dilation for conv in convs} == {(dilation, dilation)}, f"stage {stage}"
        if dilation > 1:  # a dilated stage keeps the resolution: no stride anywhere in it
            assert {m.stride for m in parts.high[stage].modules() if isinstance(m, torch.nn.Conv2d)} == {(1, 1)}
            assert {conv.padding for conv in convs} == {(dilation * (conv.kernel_size[0] - 1) // 2,) * 2
                                                        for conv in convs}


@pytest.mark.parametrize("size", [(8, 8), (13, 13), (16, 100), (1, 1)])
@pytest.mark.parametrize("dilation", [1, 6, 12, 18])
def test_the_atrous_depthwise_conv_equals_the_whole_kernel(size, dilation):
    # the truth: a plain dilated depthwise nn.Conv2d with the same weight, every tap computed
    torch.manual_seed(0)
    pruned = AtrousDepthwiseConv2d(3, dilation).double()
    whole = torch.nn.Conv2d(3, 3, 3, padding=dilation, dilation=dilation, groups=3, bias=False).double()
    whole.weight.data.copy_(pruned.weight.data)
    features = torch.randn(2, 3, *size, dtype=torch.float64, requires_grad=True)
    out, expected = pruned(features), whole(features)
    upstream = torch.randn_like(expected)
    grads = torch.autograd.grad(out, (features, pruned.weight), upstream)
    expected_grads = torch.autograd.grad(expected, (features, whole.weight), upstream)
    assert torch.allclose(out, expected, atol=1e-12)
    assert all(torch.allclose(g, e, atol=1e-12) for g, e in zip(grads, expected_grads, strict=True))


def test_the_atrous_depthwise_conv_skips_the_taps_on_padding():
    # 8x8 map: rate 12 keeps only the centre (1/9 of the multiply-adds), rate 6 keeps all 9 taps;
    # a 16x100 map at rate 18 keeps the middle row (3 of 9)
    def flops(dilation, size):
        with FlopCounterMode(display=False) as counter:
            AtrousDepthwiseConv2d(4, dilation)(torch.rand(1, 4, *size))
        return counter.get_total_flops()

    full = 2 * 4 * 9 * 64  # 2 FLOPs per multiply-add, 4 channels, 9 taps, 64 pixels
    assert flops(6, (8, 8)) == full and flops(12, (8, 8)) == full // 9
    assert flops(18, (16, 100)) == 2 * 4 * 3 * 1600


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.trace, which the ONNX export uses, is deprecated
def test_a_traced_atrous_depthwise_conv_keeps_every_tap_for_other_sizes():
    # torch.jit.trace (as the ONNX export) records one graph for every input size: traced on an 8x8 map,
    # where rate 12 keeps only the centre, it must still compute all 9 taps on a 32x32 map
    conv = AtrousDepthwiseConv2d(2, 12).eval()
    whole = torch.nn.Conv2d(2, 2, 3, padding=12, dilation=12, groups=2, bias=False)
    whole.weight.data.copy_(conv.weight.data)
    with torch.no_grad():
        traced = torch.jit.trace(conv, torch.rand(1, 2, 8, 8))
        larger = torch.rand(1, 2, 32, 32)
        assert torch.allclose(traced(larger), whole(larger), atol=1e-6)


@pytest.mark.parametrize("backbone, batch_norms_left", [("resnet18", 0), ("efficientnet_b0", 0), ("densenet121", 62)])
def test_folding_batch_norms_keeps_the_predictions(backbone, batch_norms_left):
    model = build_model("deeplabv3plus", backbone, num_classes=5, pretrained=False).eval()
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():  # statistics far from 0 and 1, so that a wrong fold shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.rand(module.num_features, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    folded = fold_batchnorm(model)
    images = torch.rand(2, 1, 64, 96, generator=generator)
    with torch.no_grad():
        expected, logits = model(images), folded(images)
    assert torch.allclose(logits, expected, rtol=1e-4, atol=1e-4)
    assert (logits.argmax(1) == expected.argmax(1)).float().mean() > 0.999
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules()) == batch_norms_left
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the original is unchanged


def test_the_course_predicts_with_the_folded_model():
    model = build_model("deeplabv3plus", "resnet18", num_classes=3, pretrained=False).train()
    folded = inference_model(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules()) and not folded.training
    assert model.training  # the model being trained stays in training mode
    assert inference_model(folded) is folded  # folded once
    ema = torch.optim.swa_utils.AveragedModel(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in inference_model(ema).modules())
    in_bf16 = inference_model(model, torch.bfloat16)
    images = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        assert in_bf16(images).dtype == torch.float32  # float32 logits out of a bfloat16 forward
        assert torch.allclose(in_bf16(images), folded(images), atol=0.1)  # bfloat16 keeps about 3 digits

    class Untraceable(torch.nn.Module):  # control flow on the input's shape: torch.fx cannot trace it
        def forward(self, images):
            return torch.zeros(images.shape[0], 3, *images.shape[2:])

    assert inference_model(Untraceable())(images).shape == (1, 3, 32, 32)  # used unfolded


def test_the_auxiliary_head_reads_layer3_in_training_only():
    torch.manual_seed(0)
    model = build_model("deeplabv3plus", "resnet18", num_classes=4, pretrained=False, aux_head=True)
    images = torch.rand(2, 1, 64, 48)
    encoder = model.encoder
    with torch.no_grad():
        low = encoder.low(encoder.input(images))
        layer3 = encoder.high[1](encoder.high[0](low))  # ResNet18: high = layer2, layer3, layer4
        features, middle = encoder.features_and_last_stage_input(images)
    assert torch.equal(middle, layer3) and middle.shape == (2, 256, 4, 3)  # stride 16, layer3's 256 channels
    assert torch.equal(features[OUTPUT_STRIDE], encoder.high(low))  # the split changes nothing
    model.train()
    assert model(images).shape == model.aux_logits.shape == (2, 4, 64, 48)  # upsampled like the main logits
    model.eval()
    with torch.no_grad():
        plain = model(images)
    assert model.aux_logits is None
    without = build_model("deeplabv3plus", "resnet18", num_classes=4, pretrained=False).eval()
    without.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("auxiliary_head")})
    with torch.no_grad():
        assert torch.equal(without(images), plain)  # inference never runs the head
    with pytest.raises(ValueError, match="reads a ResNet's layer3; densenet121 is not a ResNet"):
        build_model("deeplabv3plus", "densenet121", 4, pretrained=False, aux_head=True)
