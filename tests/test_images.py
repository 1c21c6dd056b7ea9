"""Masks as labelling tools export them and images as cameras write them: read correctly, or refused by name."""
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from steelnb.data.images import ImageReadError, read_gray, read_label_png
from steelnb.data.layouts import open_dataset


def _labels() -> np.ndarray:
    """A 6x8 label mask drawn by hand: label 1 in the top-left 2x3 block, label 2 in the bottom-right 2x2."""
    labels = np.zeros((6, 8), np.uint8)
    labels[0:2, 0:3] = 1
    labels[4:6, 6:8] = 2
    return labels


def test_palette_mask_keeps_its_indices(tmp_path):
    # VOC, CVAT and LabelMe export mode "P": the pixel values are indices, the palette only colours them
    image = Image.fromarray(_labels(), mode="P")
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9))  # 1 = red, 2 = dark green
    image.save(tmp_path / "palette.png")
    assert Image.open(tmp_path / "palette.png").mode == "P"
    np.testing.assert_array_equal(read_label_png(tmp_path / "palette.png", num_classes=2), _labels())


def test_gray_stored_as_rgb_mask_is_read_and_a_colour_mask_is_refused_by_name(tmp_path):
    gray = np.repeat(_labels()[..., None], 3, axis=2)  # R == G == B: class indices saved as RGB
    Image.fromarray(gray, mode="RGB").save(tmp_path / "gray_rgb.png")
    np.testing.assert_array_equal(read_label_png(tmp_path / "gray_rgb.png", num_classes=2), _labels())
    colour = np.zeros((6, 8, 3), np.uint8)
    colour[_labels() == 1] = (255, 0, 0)  # a colour-coded mask: class 1 red, class 2 green
    colour[_labels() == 2] = (0, 255, 0)
    Image.fromarray(colour, mode="RGB").save(tmp_path / "colour.png")
    with pytest.raises(ImageReadError, match=r"colour.png.*colour.*class index"):
        read_label_png(tmp_path / "colour.png", num_classes=2)


def test_ignore_value_255_does_not_make_255_classes(tmp_path):
    root = tmp_path / "d"
    for folder in ("img_dir", "ann_dir"):
        (root / folder).mkdir(parents=True)
    labels = _labels()
    labels[3, 3] = 255  # the usual "ignore" pixel of VOC-style exports
    cv2.imwrite(str(root / "img_dir" / "a.png"), np.full((6, 8), 90, np.uint8))
    cv2.imwrite(str(root / "ann_dir" / "a.png"), labels)
    with pytest.raises(ImageReadError, match=r"ann_dir/a.png.*255.*ignore"):
        open_dataset(root)


def _exif_jpeg(path, pixels: np.ndarray, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, quality=100, exif=exif)


def test_exif_rotation_is_applied_by_every_reader(tmp_path):
    # stored 20x32 with orientation 6 ("rotate 90 degrees clockwise to view"): viewers and labelling tools
    # show it 32x20, and the mask drawn on it is 32x20
    stored = np.zeros((20, 32), np.uint8)
    stored[0:4, 0:4] = 255  # a bright block at the stored top-left ends up at the viewed top-right
    root = tmp_path / "d"
    (root / "img_dir").mkdir(parents=True)
    (root / "ann_dir").mkdir()
    _exif_jpeg(root / "img_dir" / "cam.jpg", stored, orientation=6)
    viewed = np.zeros((32, 20), np.uint8)
    viewed[0:4, 16:20] = 1
    cv2.imwrite(str(root / "ann_dir" / "cam.png"), viewed)
    index = open_dataset(root)
    assert tuple(index.table.loc["cam.jpg", ["height", "width"]]) == (32, 20)
    image = index.image("cam.jpg")
    assert image.shape == (32, 20) and image[0:4, 16:20].min() > 200 and image[0:4, 0:4].max() < 50
    np.testing.assert_array_equal(index.mask("cam.jpg"), viewed)


def test_sixteen_bit_image_is_refused_by_name(tmp_path):
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((8, 8), 1000, np.uint16))
    with pytest.raises(ImageReadError, match=r"deep.png.*16-bit"):
        read_gray(tmp_path / "deep.png")


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG whose header claims width x height gray pixels (and no pixel data)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


def test_decompression_bomb_is_named(tmp_path):
    root = tmp_path / "d"
    (root / "img_dir").mkdir(parents=True)
    (root / "ann_dir").mkdir()
    _png_header_only(root / "img_dir" / "huge.png", 20000, 20000)
    cv2.imwrite(str(root / "ann_dir" / "huge.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(ImageReadError, match=r"img_dir/huge.png.*400000000 pixels"):
        open_dataset(root)
    _png_header_only(tmp_path / "mask.png", 20000, 20000)
    with pytest.raises(ImageReadError, match=r"mask.png.*400000000 pixels"):
        read_label_png(tmp_path / "mask.png", num_classes=2)
