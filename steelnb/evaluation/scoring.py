"""Scoring a trained model on a split of a dataset: label pixel counts at the original resolution, class
probabilities for tuning post-processing, and masks resized to a prediction's size.

These need only the data and the evaluation stages, so chapters, commands and benchmarks share them."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from ..data.index import SegmentationIndex
from .inference import inference_model, predict_image_probs, predict_mask
from .metrics import MetricAccumulator


@torch.no_grad()
def original_resolution_counts(model: torch.nn.Module, index: SegmentationIndex, image_ids: list[str],
                               input_size: tuple[int, int] | None, tta: str = "none",
                               scales: tuple[float, ...] = (1.0,)) -> np.ndarray:
    """Pixel counts of ``model`` on full-resolution masks: predictions are made at ``input_size`` and
    their probabilities resized back (None = feed the original image), by the model with its batch norms
    folded, in float32 (``inference.inference_model``), with the flip and multi-scale test-time augmentation
    ``tta`` and ``scales`` (``inference.predict_image_probs``)."""
    model = inference_model(model)
    return label_counts([predict_mask(model, index.image(i), input_size, tta, scales) for i in image_ids],
                        index, image_ids)


def split_probabilities(model: torch.nn.Module, index: SegmentationIndex, image_ids: list[str],
                        input_size: tuple[int, int] | None, output_size: tuple[int, int],
                        tta: str = "none", scales: tuple[float, ...] = (1.0,)) -> list[np.ndarray]:
    """Per image, float16 class probabilities (C+1, *output_size), for tuning post-processing (computed by the
    model with its batch norms folded, in float32), with the flip TTA ``tta`` at each input size of ``scales``
    (``inference.predict_image_probs``)."""
    model = inference_model(model)
    return [predict_image_probs(model, index.image(i), input_size, tta, output_size, scales).cpu().numpy()
            .astype(np.float16) for i in image_ids]


def mask_at(index: SegmentationIndex, image_id: str, size: tuple[int, int]) -> np.ndarray:
    """The label mask of ``image_id`` resized (nearest) to ``size`` = (height, width)."""
    truth = index.mask(image_id)
    return truth if truth.shape == tuple(size) else cv2.resize(truth, size[::-1], interpolation=cv2.INTER_NEAREST)


def label_counts(labels: list[np.ndarray], index: SegmentationIndex, image_ids: list[str]) -> np.ndarray:
    """Pixel counts (N, C+1, 3) of predicted label masks against the truth resized (nearest) to their size."""
    accumulator = MetricAccumulator(index.num_classes)
    for label, image_id in zip(labels, image_ids, strict=True):
        truth = mask_at(index, image_id, label.shape)
        accumulator.update(torch.from_numpy(label)[None], torch.from_numpy(truth)[None])
    return accumulator.counts
