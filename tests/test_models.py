import warnings

import pytest
import torch

from steelnb.models import BACKBONES, PretrainedWeightsWarning, build_backbone, build_model, rename_legacy_keys

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


def test_deeplab_structure():
    model = build_model("deeplabv3plus", "resnet18", pretrained=False)
    aspp = model.decoder.aspp[0]
    assert len(aspp.branches) == 4  # 1x1 + three dilated 3x3 (+ image pooling)
    assert [b[0].dilation for b in aspp.branches[1:]] == [(6, 6), (12, 12), (18, 18)]
    assert model.decoder.skip[0].out_channels == 48


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


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("vgg16")
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("unet")


def test_checkpoints_with_the_old_part_names_load():
    # Keys as checkpoints written before the encoder/decoder/segmentation_head names held them.
    deeplab = {"low.0.weight": 1, "high.0.0.conv1.weight": 2, "aspp.0.project.0.0.weight": 3, "skip.0.weight": 4,
               "decoder.0.weight": 5, "classifier.bias": 6}
    assert rename_legacy_keys(deeplab) == {
        "encoder.low.0.weight": 1, "encoder.high.0.0.conv1.weight": 2, "decoder.aspp.0.project.0.0.weight": 3,
        "decoder.skip.0.weight": 4, "decoder.fuse.0.weight": 5, "segmentation_head.bias": 6}
    baseline = {"encoder.0.0.weight": 1, "encoder.1.0.weight": 2, "head.1.0.weight": 3, "head.2.bias": 4}
    assert rename_legacy_keys(baseline) == {"encoder.low.0.weight": 1, "encoder.high.0.weight": 2,
                                            "decoder.1.0.weight": 3, "segmentation_head.bias": 4}
    today = build_model("deeplabv3plus", "resnet18", pretrained=False).state_dict()
    assert rename_legacy_keys(today) is today
    assert {key.split(".")[0] for key in today} == {"encoder", "decoder", "segmentation_head"}
