import pytest
import torch

from steelnb.models import build_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from steelnb.evaluation.export import export_onnx, onnx_session, parity  # noqa: E402


def test_onnx_matches_pytorch_at_any_size(tmp_path):
    torch.manual_seed(0)
    model = build_model("deeplabv3plus", "mobilenet_v3_large", num_classes=5, pretrained=False).eval()
    session = onnx_session(export_onnx(model, tmp_path / "m.onnx", example_shape=(64, 128)))
    for shape in ((64, 128), (32, 320)):  # dynamic height and width
        result = parity(model, session, torch.rand(2, 1, *shape))
        assert result["max_abs_logit_diff"] < 1e-3 and result["label_agreement"] > 0.999
