"""PyTorch datasets of steel images and label masks.

Two geometries, both starting by resizing the whole image to ``size`` (image area-averaged,
mask nearest; ``size=None`` keeps the original resolution):

* ``"resize"``: the whole resized image. ``size=(256, 256)`` is the paper's 6x squash of
  256x1600; ``size=None`` (or an aspect-preserving size like 128x800) keeps the native aspect.
* ``"crop"``: random crops of ``crop_width`` columns of the resized image, full height for
  training at native aspect on wide strips, or ``crop_height`` rows for training on patches of
  images kept at their own resolution (evaluate such models with mode "resize").

A "resize" training set can also zoom in (``zoom``): each item resizes the original image to ``size`` times a
random factor of at least 1, then takes a random crop of ``size``, so defects are seen at several scales.

Items are ``(image, mask)``: image float32 (1, H, W) in [0, 1] (models normalise and expand
to RGB themselves), mask int64 (H, W) with values 0..C.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .augment import apply_joint, class_shares, plan_augmented_copies, random_choice_transform
from .index import SegmentationIndex

MODES = ("resize", "crop")
#: How a training set flips its items: not at all; left-right and up-down each with probability 1/2 every time an
#: item is read; or through the four orientations in turn, one an epoch (``SteelDataset``'s ``flips``).
FLIP_ORDERS = ("none", "random", "cycled")
#: The width of a "crop" item at the full 256x1600 Severstal resolution (profiles scale it to their ``native_size``).
NATIVE_CROP_WIDTH = 512


def resize_pair(image: np.ndarray, mask: np.ndarray, size: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Resize an image (area interpolation) and its label mask (nearest) to ``size`` = (height, width)."""
    if size is None or image.shape[:2] == tuple(size):
        return image, mask
    dsize = (size[1], size[0])
    return (cv2.resize(image, dsize, interpolation=cv2.INTER_AREA),
            cv2.resize(mask, dsize, interpolation=cv2.INTER_NEAREST))


def random_start(length: int, window: int) -> int:
    """Where a random window of ``window`` pixels starts along a side of ``length`` pixels (torch's RNG: one
    draw, also when the window fills the side)."""
    return int(torch.randint(0, length - window + 1, ()))


class SteelDataset(Dataset):
    """Images and label masks of ``image_ids`` from a :class:`SegmentationIndex`.

    Args:
        index: the dataset index.
        image_ids: which images (a split).
        mode: "resize" or "crop" (see module docstring).
        size: (height, width) the whole image is resized to; None keeps the original size.
        crop_width: crop width in pixels (of the resized image) for "crop".
        crop_height: crop height in pixels for "crop"; None crops the full height.
        augment_weights: if given, the paper's random weighted augmentation: extra augmented copies
            of images drawn with probability 1 - p_c, transformed by crop/flip/rotation with these weights.
        seed: seeds the choice of augmented copies (the transforms use torch's RNG).
        cache: keep decoded (resized) images and masks in memory after first use.
        flips: "random" flips every item left-right and up-down, each with probability 1/2 (torch's RNG),
            after the weighted augmentation: steel surfaces look alike mirrored, so this multiplies the
            distinct training images by 4 at no cost. "cycled" shows every item in the four orientations in turn,
            one an epoch (:meth:`set_epoch`), from a start drawn once per item with ``seed``: over any 4
            consecutive epochs each item is seen once as it is, once mirrored left-right, once up-down and once
            both, where four random draws leave out at least one of the four with probability 1 - 4!/4^4 = 0.91.
            "none": no flips.
        zoom: (lowest, highest) zoom factor, both at least 1, for "resize": each item is the image resized to
            ``size`` times a factor drawn uniformly from this range (torch's RNG), then randomly cropped back to
            ``size``, before the weighted augmentation and the flips. Multi-scale test-time augmentation feeds
            the model larger inputs; this lets it see those scales in training. None: whole images.
    """

    def __init__(self, index: SegmentationIndex, image_ids: Sequence[str], *, size: tuple[int, int] | None,
                 mode: str = "resize", crop_width: int = NATIVE_CROP_WIDTH, crop_height: int | None = None,
                 augment_weights: Sequence[float] | None = None, seed: int = 0, cache: bool = False,
                 flips: str = "none", zoom: tuple[float, float] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if flips not in FLIP_ORDERS:
            raise ValueError(f"flips must be one of {FLIP_ORDERS}, got {flips!r}")
        if zoom is not None and (mode != "resize" or not 1.0 <= zoom[0] <= zoom[1]):
            raise ValueError(f"SteelDataset of {index.name}: zoom {zoom} needs mode 'resize' and "
                             "1 <= lowest <= highest")
        if not image_ids:
            raise ValueError(f"SteelDataset of {index.name}: no images given (empty split)")
        self.index, self.image_ids, self.mode = index, list(image_ids), mode
        self.size = tuple(size) if size is not None else index.image_shape
        self.crop_width = crop_width
        self.crop_height = self.size[0] if crop_height is None else crop_height
        if mode == "crop" and not (0 < self.crop_height <= self.size[0] and 0 < crop_width <= self.size[1]):
            raise ValueError(f"SteelDataset of {index.name}: a {self.crop_height}x{crop_width} crop does not fit "
                             f"images of {self.size[0]}x{self.size[1]}")
        self.flips, self.zoom, self.epoch = flips, zoom, 0
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None
        self.items = [(i, False) for i in range(len(self.image_ids))]
        self.transform = None
        if augment_weights is not None:
            presence = index.presence(self.image_ids)
            copies = plan_augmented_copies(presence, class_shares(presence), seed)
            self.items += [(int(i), True) for i in copies]
            shape = self.size if mode == "resize" else (self.crop_height, crop_width)
            self.transform = random_choice_transform(shape, augment_weights)
        # each item's orientation in epoch 0 (bit 0: left-right, bit 1: up-down); "cycled" adds the epoch to it
        self._first_orientation = torch.randint(0, 4, (len(self.items),),
                                                generator=torch.Generator().manual_seed(seed))

    def set_epoch(self, epoch: int) -> None:
        """Tell the set which epoch reads it: with ``flips="cycled"`` item i is shown in orientation (its start +
        ``epoch``) mod 4. The training loop calls it before every epoch (``loop.seed_epoch``); worker processes,
        which start afresh each epoch, get the set as it is then."""
        self.epoch = epoch

    def orientation(self, item: int) -> tuple[bool, bool]:
        """(left-right, up-down): which flips item ``item`` gets when read now (draws from torch's RNG under
        ``flips="random"``)."""
        if self.flips == "random":
            return tuple((torch.rand(2) < 0.5).tolist())
        if self.flips == "cycled":
            orientation = (int(self._first_orientation[item]) + self.epoch) % 4
            return bool(orientation & 1), bool(orientation & 2)
        return False, False

    def __len__(self) -> int:
        return len(self.items)

    def label_presence(self) -> np.ndarray:
        """Bool (len(self), C+1): which labels (0 = defect-free image) each item holds; copies included."""
        presence = self.index.presence(self.image_ids)[[i for i, _ in self.items]]
        return np.concatenate([~presence.any(axis=1, keepdims=True), presence], axis=1)

    def _load(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is not None and image_id in self._cache:
            return self._cache[image_id]
        size = None if self.zoom else self.size  # a zoomed item is resized from the original, each time anew
        image, mask = resize_pair(self.index.image(image_id), self.index.mask(image_id), size)
        if self._cache is not None:
            self._cache[image_id] = (image, mask)
        return image, mask

    def _zoom_in(self, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The original ``image`` (H0, W0) and ``mask`` resized to ``size`` times a random zoom factor, then a
        random crop of ``size`` (height, width) pixels."""
        lowest, highest = self.zoom
        factor = lowest + (highest - lowest) * float(torch.rand(()))
        height, width = (max(side, round(side * factor)) for side in self.size)
        image, mask = resize_pair(image, mask, (height, width))
        top, left = random_start(height, self.size[0]), random_start(width, self.size[1])
        rows, columns = slice(top, top + self.size[0]), slice(left, left + self.size[1])
        return np.ascontiguousarray(image[rows, columns]), np.ascontiguousarray(mask[rows, columns])

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        position, augmented = self.items[item]
        image, mask = self._load(self.image_ids[position])
        if self.zoom is not None:
            image, mask = self._zoom_in(image, mask)
        image_t = torch.from_numpy(image)[None]
        mask_t = torch.from_numpy(mask)
        if self.mode == "crop":
            left = random_start(image.shape[1], self.crop_width)
            image_t, mask_t = image_t[..., left:left + self.crop_width], mask_t[:, left:left + self.crop_width]
            if self.crop_height < image.shape[0]:
                top = random_start(image.shape[0], self.crop_height)
                image_t, mask_t = image_t[..., top:top + self.crop_height, :], mask_t[top:top + self.crop_height]
        if augmented:
            image_t, mask_t = apply_joint(self.transform, image_t, mask_t)
        dims = [dim for dim, flip in zip((-1, -2), self.orientation(item), strict=True) if flip]
        if dims:
            image_t, mask_t = image_t.flip(dims), mask_t.flip(dims)
        return image_t.float().div_(255), mask_t.long()
