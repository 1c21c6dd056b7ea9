"""Export a trained model to ONNX and compare it with PyTorch (needs the optional ``onnx`` extra:
``pip install onnx onnxruntime``)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.rle import SEVERSTAL_SHAPE


def export_onnx(model: nn.Module, path: str | Path, example_shape: tuple[int, int] = SEVERSTAL_SHAPE) -> Path:
    """Write ``model`` as ONNX (opset 17) with dynamic batch, height and width.

    Input ``image``: float32 (N, 1, H, W) in [0, 1]; output ``logits``: (N, C+1, H, W).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    example = torch.rand(1, 1, *example_shape)
    axes = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(model, (example,), str(path), input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": axes, "logits": axes}, opset_version=17, dynamo=False)
    return path


def onnx_session(path: str | Path, threads: int | None = None):
    """An ONNX Runtime CPU session for ``path`` (``threads`` = intra-op threads, default: torch's)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def parity(model: nn.Module, session, images: torch.Tensor) -> dict[str, float]:
    """Largest absolute logit difference and label agreement between PyTorch and ONNX Runtime."""
    with torch.inference_mode():
        expected = model.cpu().eval()(images).numpy()
    got = session.run(None, {"image": images.numpy()})[0]
    return {"max_abs_logit_diff": float(np.abs(got - expected).max()),
            "label_agreement": float((got.argmax(1) == expected.argmax(1)).mean())}


def onnx_images_per_second(session, shape: tuple[int, int], steps: int = 5) -> float:
    """Measured ONNX Runtime throughput, one (1, 1, H, W) image at a time, after one warm-up run."""
    image = np.random.default_rng(0).random((1, 1, *shape), dtype=np.float32)
    session.run(None, {"image": image})
    start = time.perf_counter()
    for _ in range(steps):
        session.run(None, {"image": image})
    return steps / (time.perf_counter() - start)
