"""Reading steel images and label masks from disk: correctly, or with an error that names the file.

Files are decoded by content, not by extension: the real Severstal samples shipped with some copies of
the data are PNG bytes under ``.jpg`` names. Every reader here agrees on three things that labelling
tools and cameras vary in:

* **orientation**: a JPEG's EXIF orientation is applied (the image is read as every viewer and labelling
  tool shows it), by the pixel readers and by :func:`image_size` alike;
* **masks**: a palette PNG (mode "P", the usual VOC / CVAT / LabelMe export) keeps its indices, a gray
  mask saved as RGB with R == G == B is read as its one channel, and a colour-coded mask is refused;
* **refusals**: 16-bit images, the "ignore" value 255 and headers that claim more than Pillow's
  ``Image.MAX_IMAGE_PIXELS`` (a decompression bomb) stop with a sentence that names the file.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: The label value VOC-style tools write for "ignore" (unlabelled or ambiguous pixels).
IGNORE_LABEL = 255
#: EXIF orientations that swap height and width (rotations by 90 or 270 degrees, with or without a mirror).
_TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}


class ImageReadError(OSError):
    """A missing, unreadable, refused or wrongly sized image or mask; the message names the file."""


def _open(path: Path, what: str) -> Image.Image:
    """Open ``path`` with Pillow (the header only), turning every failure into an ImageReadError; a header
    that claims more than Pillow's ``Image.MAX_IMAGE_PIXELS`` (89 million) pixels is refused."""
    if not path.is_file():
        raise ImageReadError(f"{what} file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageReadError(f"{what} {path} was not decoded: {err} (a damaged file or a decompression bomb)") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise ImageReadError(f"cannot decode {what} (corrupt or not an image): {path} ({err})") from None


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except (OSError, ValueError, TypeError):
        return 1


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image as it is shown (EXIF orientation applied), from its header only."""
    path = Path(path)
    with _open(path, "image") as image:
        width, height = image.size
        return (width, height) if _orientation(image) in _TRANSPOSING_ORIENTATIONS else (height, width)


def _decode_mask(path: Path) -> Image.Image:
    """The decoded mask with its EXIF orientation (if any) applied."""
    image = _open(path, "mask")
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageReadError(f"cannot decode mask (corrupt or truncated): {path} ({err})") from None
    finally:
        image.close()


def _check_shape(array: np.ndarray, path: Path, what: str, expected_shape: tuple[int, int] | None) -> None:
    if expected_shape is not None and array.shape[:2] != tuple(expected_shape):
        raise ImageReadError(f"{what} {path} has size {array.shape[0]}x{array.shape[1]} (HxW), expected "
                             f"{expected_shape[0]}x{expected_shape[1]}")


def read_gray(path: str | Path, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read an image file as a single-channel uint8 array of shape (height, width), EXIF orientation applied.

    Severstal and NEU-Seg images are grayscale stored as RGB with R == G == B, so one channel holds all the
    information and a third of the memory; a colour image is converted to its luminance. OpenCV decodes the
    pixels (the fastest decoder for the data loader); Pillow explains a file OpenCV cannot decode.

    Raises:
        ImageReadError: the file is missing, cannot be decoded, is a 16-bit image (convert it to 8 bits
            with your sensor's bit depth: no scale can be guessed), claims more pixels than Pillow's
            ``Image.MAX_IMAGE_PIXELS``, or its (height, width) differs from ``expected_shape``.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"image file not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH) if data.size else None
    if image is None:
        _open(path, "image").close()  # raises the precise reason: corrupt, not an image, too many pixels
        raise ImageReadError(f"cannot decode image (corrupt or not an image): {path}")
    if image.dtype != np.uint8:
        raise ImageReadError(f"{path} is a {image.dtype.itemsize * 8}-bit image; the course reads 8-bit images. "
                             "Convert it to 8 bits with the scale of your sensor (e.g. divide 12-bit values by 16)")
    _check_shape(image, path, "image", expected_shape)
    return image


def read_label_png(path: str | Path, num_classes: int, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a class-index mask (0 = background, 1..num_classes) as uint8 (height, width).

    A palette PNG keeps its indices (the palette only colours them); a mask stored as RGB(A) with equal
    channels is read as one channel.

    Raises:
        ImageReadError: missing/corrupt file, wrong size, a colour-coded mask (its colours are not class
            indices), the ignore value 255, or a pixel value above ``num_classes``.
    """
    path = Path(path)
    image = _decode_mask(path)
    if image.mode in ("RGB", "RGBA"):
        rgb = np.asarray(image)[..., :3]
        if not ((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()):
            raise ImageReadError(
                f"mask {path} is a colour image: its colours are not class indices. Save each mask as a "
                "single-channel (or palette) PNG whose pixel values are the class index, 0 = background, "
                "1..C = the lines of classes.txt; to convert colour masks, map each colour to its index first")
        labels = rgb[..., 0]
    elif image.mode in ("P", "L", "1"):  # a 1-bit mask reads as bool: 0 and 1
        labels = np.asarray(image)
    elif image.mode in ("LA", "PA"):
        labels = np.asarray(image)[..., 0]
    else:  # 16 or 32-bit integer masks: fine when the values are class indices
        labels = np.asarray(image)
    _check_shape(labels, path, "mask", expected_shape)
    largest = int(labels.max(initial=0))
    if largest == IGNORE_LABEL and num_classes < IGNORE_LABEL:
        raise ImageReadError(
            f"mask {path} holds the value {IGNORE_LABEL}, the usual 'ignore' label of VOC-style tools. The course "
            "has no ignore label: give those pixels their class (or 0 = background) before training")
    if largest > num_classes:
        raise ImageReadError(f"mask {path} holds class {largest} but the dataset has {num_classes} classes")
    return np.array(labels, dtype=np.uint8)  # a writable copy: Pillow's arrays are read-only
