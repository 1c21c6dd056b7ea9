"""Inference on resized (paper) or original-resolution images, with optional flip and multi-scale test-time
augmentation."""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.fx import GraphModule
from torch.fx.experimental.optimization import fuse
from torch.fx.proxy import TraceError
from torch.optim.swa_utils import AveragedModel

#: Test-time augmentation variants: the flips (tensor dimensions of (N, C, H, W)) whose predictions are
#: averaged with the plain one. "hv" (the horizontal and the vertical flip, 3 views) is the usual Kaggle
#: choice; "all" adds the fourth view, both flips at once (a 180-degree turn), so every orientation the
#: training flips show is seen once.
TTA_FLIPS: dict[str, tuple[tuple[int, ...], ...]] = {"none": (), "h": ((3,),), "v": ((2,),), "hv": ((3,), (2,)),
                                                      "all": ((3,), (2,), (2, 3))}


@torch.inference_mode()
def predict_probs(model: nn.Module, images: torch.Tensor, tta: str = "none") -> torch.Tensor:
    """Softmax probabilities (N, C+1, H, W) for images (N, 1, H, W) in [0, 1].

    ``tta`` (a key of :data:`TTA_FLIPS`) averages the probabilities with those of the horizontally ("h"),
    vertically ("v"), horizontally and vertically ("hv", 3 views) or also both-ways ("all", 4 views) flipped
    image, each flipped back.
    """
    if tta not in TTA_FLIPS:
        raise ValueError(f"tta must be one of {list(TTA_FLIPS)}, not {tta!r}")
    model.eval()
    device = next(model.parameters()).device
    images = images.to(device)
    probs = model(images).float().softmax(1)
    for dims in TTA_FLIPS[tta]:
        probs += model(images.flip(dims)).float().softmax(1).flip(dims)
    return probs / (1 + len(TTA_FLIPS[tta]))


def predict_image_probs(model: nn.Module, image: np.ndarray, input_size: tuple[int, int] | None,
                        tta: str = "none", output_size: tuple[int, int] | None = None,
                        scales: tuple[float, ...] = (1.0,)) -> torch.Tensor:
    """Class probabilities (C+1, H', W') for one uint8 grayscale image (H, W).

    The image is resized to ``input_size`` (None: fed as it is) and the probabilities are resized
    back (bilinear) to ``output_size``, by default the image's own (H, W). ``scales`` is multi-scale
    test-time augmentation: the image is also fed at each scaled size (``input_size``, or the image's own
    size, times the factor, rounded to whole pixels) and the probabilities of all the sizes, each resized
    back to ``output_size``, are averaged; ``(1.0,)`` feeds ``input_size`` alone.
    """
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales must be positive factors of the input size, not {scales!r}")
    output_size = output_size or image.shape
    base = input_size or image.shape
    probs = sum(_probs_at_size(model, image, (round(base[0] * scale), round(base[1] * scale)), tta, output_size)
                for scale in scales)
    return probs / len(scales)


def _probs_at_size(model: nn.Module, image: np.ndarray, size: tuple[int, int], tta: str,
                   output_size: tuple[int, int]) -> torch.Tensor:
    """Class probabilities (C+1, *output_size) of ``image`` (H, W) fed to ``model`` resized to ``size``."""
    small = image if tuple(size) == image.shape else cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA)
    probs = predict_probs(model, torch.from_numpy(small)[None, None].float() / 255, tta)
    if probs.shape[2:] != tuple(output_size):
        probs = F.interpolate(probs, size=output_size, mode="bilinear", align_corners=False)
    return probs[0]


def predict_mask(model: nn.Module, image: np.ndarray, input_size: tuple[int, int] | None,
                 tta: str = "none", scales: tuple[float, ...] = (1.0,)) -> np.ndarray:
    """Label mask (H, W) uint8 for one uint8 grayscale image (H, W) at its original resolution.

    ``input_size=(256, 256)`` reproduces the paper: the image is squashed to the model's input size
    and the class probabilities are resized back (bilinear) before the argmax. ``None`` feeds the
    original image (e.g. 256x1600) directly. ``tta`` and ``scales``: :func:`predict_image_probs`.
    """
    return predict_image_probs(model, image, input_size, tta, scales=scales).argmax(0).byte().cpu().numpy()


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An inference copy of ``model`` in eval mode, traced with torch.fx, in which every batch norm that
    directly follows a convolution is folded into that convolution's weights and bias: the same logits up to
    float rounding, one pass over the activations fewer per folded layer. ``model`` itself is unchanged (its
    train or eval mode included). Batch norms that follow a ReLU instead (DenseNet's pre-activation layers)
    cannot be folded and stay."""
    training = model.training
    folded = fuse(model.eval(), inplace=False)
    model.train(training)
    return folded


class MixedPrecisionInference(nn.Module):
    """``model`` run in autocast to ``dtype`` (bfloat16 on a CPU, float16 on CUDA), returning float32 logits
    (N, C+1, H, W)."""

    def __init__(self, model: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with torch.autocast(images.device.type, dtype=self.dtype):
            return self.model(images).float()


def inference_model(model: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
    """The model the course predicts with: a copy of ``model`` in eval mode with its batch norms folded
    (:func:`fold_batchnorm`), run in autocast to ``dtype`` when given (:class:`MixedPrecisionInference`).

    Scores are computed in float32 (``dtype=None``), so that they are the same on every CPU. The submission
    writer takes ``training.precision.autocast_dtype(device)``: bfloat16 on a CPU that computes it natively,
    about half the float32 time, with at least 99% of the labels kept (``tests/test_training.py`` checks that
    tolerance). A model this returned comes back as it is; an EMA (``AveragedModel``) gives its averaged
    model; a model torch.fx cannot trace (control flow on its input's values or shape) is used unfolded."""
    if isinstance(model, MixedPrecisionInference) or (isinstance(model, GraphModule) and dtype is None):
        return model.eval()
    if isinstance(model, AveragedModel):
        model = model.module
    try:
        folded = fold_batchnorm(model)
    except (TraceError, RuntimeError, TypeError):  # folding only saves time: the model gives the same logits
        folded = model.eval()
    return folded if dtype is None else MixedPrecisionInference(folded, dtype).eval()
