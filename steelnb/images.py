"""Reading steel images from disk with clear errors.

Files are decoded by content, not by extension: the real Severstal samples shipped with
some copies of the data are PNG bytes under ``.jpg`` names, and OpenCV handles both.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class ImageReadError(OSError):
    """A missing, unreadable or wrongly sized image; the message names the file."""


def read_gray(path: str | Path, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read an image file as a single-channel uint8 array of shape (height, width).

    Severstal and NEU-Seg images are grayscale stored as RGB with R == G == B, so one channel
    holds all the information and a third of the memory.

    Raises:
        ImageReadError: the file is missing, cannot be decoded, or its (height, width)
            differs from ``expected_shape``.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"image file not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None:
        raise ImageReadError(f"cannot decode image (corrupt or not an image): {path}")
    if expected_shape is not None and image.shape != tuple(expected_shape):
        raise ImageReadError(
            f"image {path} has size {image.shape[0]}x{image.shape[1]} (HxW), expected "
            f"{expected_shape[0]}x{expected_shape[1]}"
        )
    return image


def read_label_png(path: str | Path, num_classes: int, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a class-index PNG mask (0 = background, 1..num_classes) as uint8 (height, width).

    Raises:
        ImageReadError: missing/corrupt file, wrong size, or a pixel value above ``num_classes``.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"mask file not found: {path}")
    mask = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ImageReadError(f"cannot decode mask: {path}")
    if mask.ndim == 3:
        mask = mask[..., 0]
    if expected_shape is not None and mask.shape != tuple(expected_shape):
        raise ImageReadError(f"mask {path} has size {mask.shape}, expected {tuple(expected_shape)}")
    if mask.max(initial=0) > num_classes:
        raise ImageReadError(f"mask {path} holds class {mask.max()} but the dataset has {num_classes} classes")
    return mask.astype(np.uint8, copy=False)
