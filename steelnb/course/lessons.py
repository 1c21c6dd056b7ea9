"""Small demonstrations and answer checks for the notebooks' lessons and exercises.

The demonstrations make a chapter's reasoning visible (the feature-map shapes through a model, what the
6.25x squash does to a one-pixel scratch); the ``check_...`` helpers give a student feedback on an
exercise: they print whether the answer is right, with a hint when it is not, and return that as a bool.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ..data.augment import augmentation_probabilities, class_shares
from ..data.rle import SEVERSTAL_SHAPE, rle_encode
from ..data.torch_dataset import resize_pair
from ..evaluation.inference import predict_image_probs
from ..evaluation.metrics import class_iou, image_miou, kaggle_dice, pixel_counts
from ..models import LOW_STRIDE, OUTPUT_STRIDE, SegmentationModel
from ..models.backbones import CLASSIFIER_STRIDE
from ..training.losses import build_loss
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


def _report_exact(answer: object, right: object, hint: str) -> bool:
    """Like :func:`_report`, for an answer that must equal ``right`` exactly (a shape, a count)."""
    if answer is None:
        print("Set your answer first (it is None).")
        return False
    correct = tuple(answer) == tuple(right) if isinstance(right, tuple) else answer == right
    print("Correct." if correct else f"Not yet. Hint: {hint}")
    return correct


def check_rle_start(row: int, column: int, height: int, answer: int | None) -> bool:
    """Chapter 00: the RLE start of the single pixel at (``row``, ``column``), 0-based, of a mask ``height``
    rows high, as Kaggle counts it (column-major, 1-indexed); the truth is ``rle_encode``'s."""
    mask = np.zeros((height, column + 1), dtype=bool)
    mask[row, column] = True
    right = int(rle_encode(mask).split()[0])
    return _report_exact(answer, right, "count down each column first, from 1: start = column x height + row + 1.")


def check_defect_free_share(presence: np.ndarray, answer: float | None) -> bool:
    """Chapter 01: the share of images that hold no defect, from ``presence`` (n_images, C) booleans."""
    return _report(answer, float((~np.asarray(presence).any(axis=1)).mean()),
                   "count the images whose row has no True, and divide by all images.")


def check_region_share(presence: np.ndarray, class_id: int, answer: float | None) -> bool:
    """Chapter 01: class ``class_id``'s (1-based) share of all (image, defect class) regions in ``presence``."""
    counts = np.asarray(presence).sum(axis=0)
    return _report(answer, float(counts[class_id - 1] / counts.sum()),
                   "the images holding the class, divided by the sum of that count over every class.")


def check_squash_factor(answer: float | None) -> bool:
    """Chapter 02: how many times narrower the paper's resize makes a Severstal strip."""
    return _report(answer, SEVERSTAL_SHAPE[1] / PAPER_IMAGE_SIZE[1], "divide the strip's width by the input's width.")


def check_surviving_width(answer: int | None) -> bool:
    """Chapter 02: the narrowest vertical scratch (in columns) that survives the squash at every position,
    measured at every offset of one period of the resize's sampling grid (25 columns: 4 samples at 6.25)."""
    factor = SEVERSTAL_SHAPE[1] / PAPER_IMAGE_SIZE[1]
    period = next(n for n in range(1, 100) if (n / factor).is_integer())
    right = next(width for width in range(1, 20) if all(
        _scratch_survives(width, offset) for offset in range(period)))
    return _report_exact(answer, right, "nearest-neighbour keeps one column in 6.25: a scratch must cover any "
                                        "run of that many columns.")


def _scratch_survives(width: int, offset: int) -> bool:
    mask = np.zeros(SEVERSTAL_SHAPE, np.uint8)
    start = SEVERSTAL_SHAPE[1] // 2 + offset
    mask[:, start:start + width] = 1
    return bool(resize_pair(np.zeros(SEVERSTAL_SHAPE, np.uint8), mask, PAPER_IMAGE_SIZE)[1].any())


def check_expected_copies(presence: np.ndarray, answer: float | None) -> bool:
    """Chapter 03: how many augmented copies the paper's weighting adds to the images of ``presence``
    (n_images, C) in expectation: the sum of every image's copy probability."""
    right = float(augmentation_probabilities(np.asarray(presence), class_shares(np.asarray(presence))).sum())
    return _report(answer, right, "add up 1 - p_c of each image's rarest label (class 0 for a defect-free image).",
                   tolerance=0.05)


def check_first_ce_loss(num_labels: int, answer: float | None) -> bool:
    """Chapter 04: the cross-entropy of a model that gives every one of ``num_labels`` labels the same score
    (a random model, roughly), computed by the course's loss on a tiny batch."""
    logits = torch.zeros(1, num_labels, 2, 2)
    right = float(build_loss("ce", num_labels)(logits, torch.zeros(1, 2, 2, dtype=torch.long)))
    return _report(answer, right, "equal scores make every probability 1 / (C + 1); the loss is -log of it.")


def check_undilated_densenet_stride(answer: int | None) -> bool:
    """Chapter 06: the output stride of DenseNet's last dense block without the course's change (the stride of
    an ImageNet classifier's last feature map)."""
    return _report_exact(answer, CLASSIFIER_STRIDE, "every transition halves the map: count them from the stem's 4.")


def check_skip_channels(backbone: str, answer: int | None) -> bool:
    """Chapter 07: the channels of ``backbone``'s stride-4 features, the skip DeepLabV3+ joins (the encoder's own
    count, built from random weights)."""
    from ..models import Encoder
    right = Encoder(backbone, pretrained=False).channels[LOW_STRIDE]
    return _report_exact(answer, right, "read the stride-4 row of the part_shapes table.")


def check_dice(prediction: np.ndarray, truth: np.ndarray, answer: float | None) -> bool:
    """Chapter 08: Kaggle's Dice of one (image, class) pair, ``prediction`` and ``truth`` boolean masks."""
    counts = pixel_counts(torch.from_numpy(prediction.astype(np.int64))[None],
                          torch.from_numpy(truth.astype(np.int64))[None], 2)
    return _report(answer, kaggle_dice(counts), "2 |P and T| / (|P| + |T|), and 1 when both are empty.")


def check_small_defect_iou(true_px: int, missed_px: int, answer: float | None) -> bool:
    """Chapter 09: the IoU of a defect of ``true_px`` pixels when the prediction misses ``missed_px`` of them and
    adds none, counted on a one-row mask."""
    truth = np.zeros((1, true_px), np.int64) + 1
    prediction = truth.copy()
    prediction[0, :missed_px] = 0
    counts = pixel_counts(torch.from_numpy(prediction)[None], torch.from_numpy(truth)[None], 2)
    return _report(answer, float(class_iou(counts)[1]), "the overlap is what is left; the union is the true area.")


def check_squashed_columns(width_px: int, answer: int | None) -> bool:
    """Chapter 10: how many columns of a ``width_px``-wide scratch are left after the squash, counted on
    :func:`squash_thin_scratch`."""
    _, squashed = squash_thin_scratch(width_px)
    return _report_exact(answer, int(squashed.any(axis=0).sum()), "one column in 6.25 survives; count them.")


class _PassCounter(torch.nn.Module):
    """A stand-in model that counts the images it is fed and predicts two classes with equal logits."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # inference reads the device from a parameter
        self.passes = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.passes += len(images)
        return torch.zeros(len(images), 2, *images.shape[2:])


def check_tta_forward_passes(tta: str, answer: int | None, scales: tuple[float, ...] = (1.0,)) -> bool:
    """Chapter 11: the forward passes per image that flip TTA ``tta`` ("none", "h", "v", "hv" or "all") makes at
    each of the input sizes ``scales`` (multi-scale TTA), counted on a stand-in model that
    ``inference.predict_image_probs`` predicts one 8x8 image with."""
    counter = _PassCounter()
    predict_image_probs(counter, np.zeros((8, 8), np.uint8), (8, 8), tta, scales=scales)
    return _report_exact(answer, counter.passes, "one for the image itself and one for each flip, at every size.")


def check_focal_weight(probability: float, gamma: float, answer: float | None) -> bool:
    """Chapter 12: the factor by which the focal loss scales a pixel's cross-entropy when the model gives its
    true class ``probability``, measured as the course's focal loss over its cross-entropy."""
    logit = math.log(probability / (1 - probability))
    logits = torch.tensor([[[[0.0]], [[logit]]]])  # (1, 2, 1, 1): softmax gives the true class 1 that probability
    target = torch.ones(1, 1, 1, dtype=torch.long)
    right = float(build_loss("focal", 2, focal_gamma=gamma)(logits, target) / build_loss("ce", 2)(logits, target))
    return _report(answer, right, "(1 - p) to the power gamma.", tolerance=1e-3)


def check_logit_shape(model: torch.nn.Module, image_size: tuple[int, int], answer: tuple[int, ...] | None) -> bool:
    """Chapter 13: the shape of ``model``'s output for one gray image of ``image_size``, as the model returns it."""
    with torch.inference_mode():
        right = tuple(model.eval()(torch.zeros(1, 1, *image_size)).shape)
    return _report_exact(answer, right, "(images, labels with background, height, width).")


def check_taps_inside(rate: int, map_size: int, answer: int | None) -> bool:
    """Chapter 05: how many of the 9 taps of a 3x3 kernel with dilation ``rate`` fall inside a ``map_size`` x
    ``map_size`` feature map when centred on its middle cell, counted by running that convolution (weights 1,
    zero padding) on a map of ones."""
    conv = torch.nn.Conv2d(1, 1, 3, padding=rate, dilation=rate, bias=False)
    torch.nn.init.ones_(conv.weight)
    with torch.no_grad():
        counts = conv(torch.ones(1, 1, map_size, map_size))
    return _report_exact(answer, int(counts[0, 0, map_size // 2, map_size // 2]),
                         "the taps sit at the centre and rate cells away in each direction; count those inside.")


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
