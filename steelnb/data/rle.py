"""Run-length encoding of Kaggle Severstal masks.

Kaggle stores each (image, class) mask as ``"start length start length ..."`` where
``start`` is a 1-indexed position in the *column-major* (Fortran order) flattening of
the 256x1600 mask: pixel (row r, column c) has position ``c * height + r + 1``.
Both functions are vectorized with NumPy (no Python loop over runs) and touch only defect
pixels, so decoding costs O(defect area), not O(image area).
"""
from __future__ import annotations

import numpy as np

SEVERSTAL_SHAPE: tuple[int, int] = (256, 1600)


class RLEError(ValueError):
    """A malformed EncodedPixels string; the message names the ImageId and ClassId."""


def _where(image_id: str | None, class_id: int | None) -> str:
    return f"ImageId={image_id!r}, ClassId={class_id}"


def rle_decode(
    encoded: str | float | None,
    shape: tuple[int, int] = SEVERSTAL_SHAPE,
    *,
    image_id: str | None = None,
    class_id: int | None = None,
) -> np.ndarray:
    """Decode one EncodedPixels string into a boolean mask.

    Args:
        encoded: the RLE string; ``""``, ``None`` or NaN (pandas' empty cell) mean an empty mask.
        shape: (height, width) of the mask in pixels.
        image_id, class_id: only used to name the row in error messages.

    Returns:
        bool array of ``shape``; True where the defect is.

    Raises:
        RLEError: odd token count, non-integer tokens, starts < 1, lengths < 1,
            non-increasing or overlapping runs, or runs past the last pixel.
    """
    height, width = shape
    n_pixels = height * width
    if encoded is None or (isinstance(encoded, float) and np.isnan(encoded)):
        return np.zeros(shape, dtype=bool)
    text = str(encoded).strip()
    if not text:
        return np.zeros(shape, dtype=bool)
    try:
        tokens = np.array(text.split(), dtype=np.int64)
    except ValueError as err:
        raise RLEError(f"{_where(image_id, class_id)}: non-integer token in EncodedPixels ({err})") from None
    except OverflowError:
        raise RLEError(f"{_where(image_id, class_id)}: a token is too large for any image "
                       f"({max(text.split(), key=len)[:30]}...)") from None
    if tokens.size % 2:
        raise RLEError(f"{_where(image_id, class_id)}: odd number of tokens ({tokens.size}); expected start/length pairs")
    starts, lengths = tokens[0::2] - 1, tokens[1::2]
    if (starts < 0).any():
        raise RLEError(f"{_where(image_id, class_id)}: run start below 1 (starts are 1-indexed)")
    if (lengths < 1).any():
        raise RLEError(f"{_where(image_id, class_id)}: run length below 1")
    if (starts >= n_pixels).any() or (lengths > n_pixels).any():  # checked before adding: start + length can't overflow
        raise RLEError(f"{_where(image_id, class_id)}: a run starts or ends past the image's {n_pixels} pixels {shape}")
    ends = starts + lengths
    if (np.diff(starts) <= 0).any():
        raise RLEError(f"{_where(image_id, class_id)}: run starts are not strictly increasing")
    if (starts[1:] < ends[:-1]).any():
        raise RLEError(f"{_where(image_id, class_id)}: overlapping runs")
    if ends[-1] > n_pixels:
        raise RLEError(
            f"{_where(image_id, class_id)}: run ends at pixel {ends[-1]} past the image's {n_pixels} pixels {shape}"
        )
    # Only defect pixels are touched: pixel k of run i sits at starts[i] + k, so one arange over all
    # run pixels plus each run's start offset (repeated over its length) gives every flat index.
    run_ends = np.cumsum(lengths)
    flat_index = np.arange(run_ends[-1]) + np.repeat(starts - (run_ends - lengths), lengths)
    flat = np.zeros(n_pixels, dtype=bool)
    flat[flat_index] = True
    return flat.reshape(width, height).T


def rle_encode(mask: np.ndarray) -> str:
    """Encode a 2-D mask (any dtype, nonzero = defect) as a Kaggle EncodedPixels string.

    Returns ``""`` for an empty mask. ``rle_decode(rle_encode(m), m.shape)`` equals ``m != 0``.
    """
    if mask.ndim != 2:
        raise ValueError(f"rle_encode expects a 2-D mask, got shape {mask.shape}")
    flat = np.asarray(mask, dtype=bool).T.ravel()
    padded = np.concatenate(([False], flat, [False]))
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    if changes.size == 0:
        return ""
    starts, ends = changes[0::2], changes[1::2]
    pairs = np.empty(2 * starts.size, dtype=np.int64)
    pairs[0::2] = starts + 1
    pairs[1::2] = ends - starts
    return " ".join(map(str, pairs.tolist()))
