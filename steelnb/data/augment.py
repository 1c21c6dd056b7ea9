"""The paper's "random weighted augmentation" for class balance.

Each training image that holds class c gets an extra augmented copy with probability
``1 - p_c``, where ``p_c`` is class c's share of the training labels (class 0 = defect-free
image). Rare classes are therefore copied almost always, the common class 3 and defect-free
images less often. A copy is transformed by one of random crop, vertical flip or random
rotation, chosen with weights ``W``. Image and mask are transformed together with
torchvision.transforms.v2; the mask is a ``tv_tensors.Mask`` so it is resampled with nearest
neighbour and never gets blended class values.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2


def class_shares(presence: np.ndarray) -> np.ndarray:
    """p_c for c = 0..C: each class's share of the (image, class) labels; class 0 counts defect-free images.

    Args:
        presence: bool (n_images, C) from ``SegmentationIndex.presence()``.
    """
    counts = np.concatenate([[(~presence.any(axis=1)).sum()], presence.sum(axis=0)]).astype(float)
    return counts / counts.sum()


def augmentation_probabilities(presence: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Per image, the probability of an augmented copy: max over its classes of ``1 - p_c``."""
    labels = np.concatenate([~presence.any(axis=1, keepdims=True), presence], axis=1)
    return np.where(labels, 1.0 - shares[None, :], 0.0).max(axis=1)


def plan_augmented_copies(presence: np.ndarray, shares: np.ndarray, seed: int = 0) -> np.ndarray:
    """Indices of the training images that get one augmented copy (a seeded Bernoulli draw each)."""
    rng = np.random.default_rng(seed)
    return np.flatnonzero(rng.random(len(presence)) < augmentation_probabilities(presence, shares))


def random_choice_transform(size: tuple[int, int], weights: Sequence[float] = (1.0, 1.0, 1.0),
                            crop_scale: float = 0.75, degrees: float = 10.0) -> v2.Transform:
    """One of crop / vertical flip / rotation, chosen with probabilities proportional to ``weights``.

    The crop takes a random ``crop_scale`` window and resizes it back to ``size`` (height, width),
    so the output shape never changes; rotation fills the corners with black image / background mask.
    """
    crop_size = (max(1, round(size[0] * crop_scale)), max(1, round(size[1] * crop_scale)))
    transforms = [
        v2.Compose([v2.RandomCrop(crop_size), v2.Resize(size, antialias=True)]),
        v2.RandomVerticalFlip(p=1.0),
        v2.RandomRotation(degrees, fill={tv_tensors.Image: 0, tv_tensors.Mask: 0}),
    ]
    total = float(sum(weights))
    return v2.RandomChoice(transforms, p=[w / total for w in weights])


def apply_joint(transform: v2.Transform, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply a v2 transform to an image (1, H, W) uint8 and its mask (H, W) together."""
    out_image, out_mask = transform(tv_tensors.Image(image), tv_tensors.Mask(mask))
    return out_image.as_subclass(torch.Tensor), out_mask.as_subclass(torch.Tensor)
