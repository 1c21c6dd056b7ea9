"""Small demonstrations and answer checks for the notebooks' lessons and exercises.

The demonstrations make a chapter's reasoning visible (the feature-map shapes through a model, what the
6.25x squash does to a one-pixel scratch); the ``check_...`` helpers give a student feedback on an
exercise: they print whether the answer is right, with a hint when it is not, and return that as a bool.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data.augment import augmentation_probabilities, class_shares
from ..data.rle import SEVERSTAL_SHAPE
from ..data.torch_dataset import resize_pair
from ..evaluation.metrics import image_miou, pixel_counts
from ..models import LOW_STRIDE, OUTPUT_STRIDE, SegmentationModel
from .profile import PAPER_IMAGE_SIZE


@torch.no_grad()
def stage_shapes(model: SegmentationModel, image_size: tuple[int, int]) -> dict[str, tuple[int, ...]]:
    """The tensor shape (1, C, H, W) after each part of a steelnb model for one gray image of
    ``image_size`` (height, width) pixels: input, encoder at stride 4 and 16, decoder, logits."""
    model.eval()
    image = torch.zeros(1, 1, *image_size)
    features = model.encoder(image)
    return {"input image": tuple(image.shape),
            **{f"encoder, stride {stride} ({'low' if stride == LOW_STRIDE else 'high'})": tuple(feature.shape)
               for stride, feature in features.items()},
            "decoder": tuple(model.decoder(features).shape), "logits after upsampling": tuple(model(image).shape)}


@torch.no_grad()
def part_shapes(model: SegmentationModel, image_size: tuple[int, int]) -> pd.DataFrame:
    """Each part of the encoder's two halves (``low``: up to stride 4, ``high``: up to stride 16) with the
    shape (1, C, H, W) it outputs and its stride, for one gray image of ``image_size`` (height, width): where
    a backbone downsamples, and where the DeepLabV3+ design keeps the resolution instead."""
    model.eval()
    x = model.encoder.input(torch.zeros(1, 1, *image_size))
    rows = []
    for half in ("low", "high"):
        for name, part in getattr(model.encoder, half).named_children():
            x = part(x)
            rows.append({"half": half, "part": f"{name}: {type(part).__name__}", "output shape": tuple(x.shape),
                         "stride": image_size[0] // x.shape[2]})
    return pd.DataFrame(rows)


def parameter_counts(model: torch.nn.Module) -> dict[str, int]:
    """Trainable parameters of each top-level part of a model (encoder, decoder, segmentation_head) and in all."""
    counts = {name: sum(p.numel() for p in part.parameters()) for name, part in model.named_children()}
    return {**counts, "total": sum(counts.values())}


def dilated_extent(rate: int, kernel_size: int = 3, stride: int = OUTPUT_STRIDE) -> tuple[int, int]:
    """How far a dilated convolution reaches: (extent in feature-map cells, extent in input pixels) of a
    ``kernel_size`` kernel with dilation ``rate`` on a stride-``stride`` feature map."""
    cells = kernel_size + (kernel_size - 1) * (rate - 1)
    return cells, cells * stride


def squash_thin_scratch(width_px: int, shape: tuple[int, int] = SEVERSTAL_SHAPE,
                        size: tuple[int, int] = PAPER_IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """A vertical scratch ``width_px`` columns wide (label 1) across an image of ``shape``, and the
    same mask after the paper's nearest-neighbour resize to ``size``: both uint8 (H, W) label masks."""
    mask = np.zeros(shape, np.uint8)
    start = shape[1] // 2 + 3  # off the resize's sampling grid's regular points
    mask[:, start:start + width_px] = 1
    return mask, resize_pair(np.zeros(shape, np.uint8), mask, size)[1]


def _report(answer: float | None, right: float, hint: str, tolerance: float = 5e-3) -> bool:
    """Print whether ``answer`` is within ``tolerance`` of ``right`` (with ``hint`` when not); False
    also when no answer was given yet."""
    if answer is None:
        print("Set your answer first (it is None).")
        return False
    correct = abs(answer - right) <= tolerance
    print("Correct." if correct else f"Not yet. Hint: {hint}")
    return correct


def check_output_stride(answer: int | None) -> bool:
    """Chapter 05: how many input pixels one cell of DeepLabV3+'s encoder output spans (per side)."""
    return _report(answer, OUTPUT_STRIDE, "divide the input size by the height of the 'encoder, stride 16' map.")


def check_dilated_extent(rate: int, answer_pixels: int | None) -> bool:
    """Chapter 05: the input pixels a 3x3 convolution with dilation ``rate`` spans at output stride 16."""
    return _report(answer_pixels, dilated_extent(rate)[1],
                   "a 3x3 kernel with dilation r spans 2r + 1 cells; each cell is 16 input pixels.")


def check_image_miou(prediction: np.ndarray, truth: np.ndarray, answer: float | None) -> bool:
    """Chapter 08: the per-image mIoU of ``prediction`` against ``truth`` (small label masks)."""
    labels = int(max(prediction.max(), truth.max())) + 1
    right = float(image_miou(pixel_counts(torch.from_numpy(prediction)[None], torch.from_numpy(truth)[None],
                                          labels))[0])
    return _report(answer, right, "IoU per label present in either mask (background included), then the mean of those.")


def check_copy_probability(image_classes: list[int], presence: np.ndarray, answer: float | None) -> bool:
    """Chapter 03: the probability that an image holding ``image_classes`` (1-based; [] = defect-free)
    gets an augmented copy, with p_c computed from ``presence`` (n_images, C)."""
    row = np.zeros((1, presence.shape[1]), dtype=bool)
    row[0, [c - 1 for c in image_classes]] = True
    right = float(augmentation_probabilities(row, class_shares(presence))[0])
    return _report(answer, right, "1 - p_c of the image's rarest label (class 0 = defect-free).")
