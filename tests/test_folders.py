"""Bring-your-own-data layouts: generic img_dir/ann_dir, the official NEU-Seg release, the type-folder converter."""
import cv2
import numpy as np
import pytest

from steelnb.data.folders import convert_type_folders
from steelnb.data.images import ImageReadError
from steelnb.data.index import DatasetFormatError
from steelnb.data.layouts import open_dataset


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), array)


def _generic(root, splits=("",), classes=("crack", "pit", "stain", "scale", "rust"), shape=(24, 40)):
    """Two images per split; the first holds label k in a 4x4 square (k = 1..5 cycling), the second none."""
    (root).mkdir(parents=True, exist_ok=True)
    if classes:
        (root / "classes.txt").write_text("\n".join(classes) + "\n")
    label = 0
    for split in splits:
        for n in range(2):
            mask = np.zeros(shape, np.uint8)
            if n == 0:
                label = label % 5 + 1
                mask[2:6, 3:7] = label
            _write(root / "img_dir" / split / f"im{n}.png", np.full(shape, 90, np.uint8))
            _write(root / "ann_dir" / split / f"im{n}.png", mask)
    return root


def test_generic_layout_with_splits_and_five_classes(tmp_path):
    index = open_dataset(_generic(tmp_path / "d", splits=("train", "val", "test")))
    assert index.class_names == ("crack", "pit", "stain", "scale", "rust") and index.num_classes == 6
    assert index.table["split"].value_counts().to_dict() == {"train": 2, "val": 2, "test": 2}
    # train/im0 holds label 1, val/im0 label 2, test/im0 label 3 (hand-placed 4x4 squares)
    assert index.presence(["train/im0.png", "val/im0.png", "test/im0.png"]).tolist() == [
        [True, False, False, False, False], [False, True, False, False, False], [False, False, True, False, False]]
    assert (index.mask("val/im0.png") == 2).sum() == 16 and index.image("val/im0.png").shape == (24, 40)


def test_generic_layout_without_splits_or_class_file(tmp_path):
    root = _generic(tmp_path / "d", classes=())
    index = open_dataset(root)
    assert "split" not in index.table and index.class_names == ("class 1",)  # largest label found: 1


def test_mixed_image_sizes_are_allowed(tmp_path):
    root = _generic(tmp_path / "d")
    _write(root / "img_dir" / "wide.png", np.zeros((10, 60), np.uint8))
    _write(root / "ann_dir" / "wide.png", np.zeros((10, 60), np.uint8))
    index = open_dataset(root)
    assert index.image_shape is None and index.image("wide.png").shape == (10, 60)


@pytest.mark.parametrize("damage, error, named", [
    ("mask size", ImageReadError, "ann_dir/im0.png"),
    ("label too high", ImageReadError, "ann_dir/im0.png"),
    ("image without mask", DatasetFormatError, "img_dir/extra.png"),
    ("mask without image", DatasetFormatError, "ann_dir/orphan.png"),
    ("corrupt image", ImageReadError, "img_dir/im0.png"),
])
def test_bad_folders_name_the_file(tmp_path, damage, error, named):
    root = _generic(tmp_path / "d")
    if damage == "mask size":
        _write(root / "ann_dir" / "im0.png", np.zeros((10, 10), np.uint8))
    elif damage == "label too high":
        _write(root / "ann_dir" / "im0.png", np.full((24, 40), 6, np.uint8))  # classes.txt names 5
    elif damage == "image without mask":
        _write(root / "img_dir" / "extra.png", np.zeros((24, 40), np.uint8))
    elif damage == "mask without image":
        _write(root / "ann_dir" / "orphan.png", np.zeros((24, 40), np.uint8))
    else:
        (root / "img_dir" / "im0.png").write_bytes(b"not an image")
    with pytest.raises(error, match=named):
        open_dataset(root)


def test_empty_split_folder_is_named(tmp_path):
    root = _generic(tmp_path / "d", splits=("train", "test"))
    (root / "img_dir" / "val").mkdir()
    (root / "ann_dir" / "val").mkdir()
    with pytest.raises(DatasetFormatError, match="img_dir/val"):
        open_dataset(root)


def test_official_neu_release_layout_carves_validation(tmp_path):
    root = tmp_path / "NEU_Seg"
    for split, n in (("training", 16), ("test", 4)):
        for i in range(n):
            _write(root / "images" / split / f"{i:03d}.jpg", np.full((20, 20), 100, np.uint8))
            _write(root / "annotations" / split / f"{i:03d}.png", np.full((20, 20), i % 4, np.uint8))
    index = open_dataset(root)
    assert index.name == "neu-seg" and index.class_names == ("inclusion", "patches", "scratches")
    assert index.table["split"].value_counts().to_dict() == {"train": 14, "test": 4, "val": 2}  # 1/8 of 16
    again = open_dataset(root)
    assert again.table["split"].equals(index.table["split"])  # seeded


def test_convert_type_folders(tmp_path):
    source = tmp_path / "by_type"
    for defect_type in ("scratch", "dent"):
        mask = np.zeros((8, 8), np.uint8)
        mask[1:3, 1:4] = 255
        _write(source / defect_type / "images" / "a.png", np.full((8, 8), 50, np.uint8))
        _write(source / defect_type / "masks" / "a.png", mask)
    index = open_dataset(convert_type_folders(source, tmp_path / "generic"))
    assert index.class_names == ("dent", "scratch")  # sorted type names: dent = 1, scratch = 2
    assert (index.mask("scratch_a.png") == 2).sum() == 6 and set(np.unique(index.mask("dent_a.png"))) == {0, 1}
    with pytest.raises(DatasetFormatError, match="already exists"):
        convert_type_folders(source, tmp_path / "generic")
    assert (source / "dent" / "images" / "a.png").is_file()  # the source is never moved


def test_empty_train_csv_is_named(tmp_path):
    (tmp_path / "train_images").mkdir()
    (tmp_path / "train.csv").write_text("")
    with pytest.raises(DatasetFormatError, match="train.csv is empty"):
        open_dataset(tmp_path)


def test_example_figure_with_seven_classes_and_mixed_sizes():
    from steelnb.course.plots import plot_examples
    rows = [{"image": np.zeros((20, 20), np.uint8), "ground truth": np.full((20, 20), 7, np.uint8)},
            {"image": np.zeros((10, 40), np.uint8), "ground truth": np.zeros((10, 40), np.uint8)}]
    fig = plot_examples(rows, [f"c{i}" for i in range(1, 8)])
    # each row is as tall as its own image's aspect ratio: the 10x40 row is a quarter of the 20x20 row
    assert fig.axes[2].get_position().height == pytest.approx(fig.axes[0].get_position().height / 4, rel=0.25)


@pytest.mark.parametrize("stray, named", [
    ("img_dir/validation/im0.png", "img_dir/validation"),  # a split folder the layout does not know
    ("img_dir/loose.png", "img_dir/loose.png"),  # an image beside the split folders
])
def test_files_the_layout_would_ignore_are_named(tmp_path, stray, named):
    root = _generic(tmp_path / "d", splits=("train", "val", "test"))
    _write(root / stray, np.zeros((24, 40), np.uint8))
    _write(root / stray.replace("img_dir", "ann_dir"), np.zeros((24, 40), np.uint8))
    with pytest.raises(DatasetFormatError, match=named):
        open_dataset(root)


def test_two_images_with_one_name_are_named(tmp_path):
    root = _generic(tmp_path / "d")
    _write(root / "img_dir" / "im0.jpg", np.zeros((24, 40), np.uint8))  # beside im0.png: which one is meant?
    with pytest.raises(DatasetFormatError, match=r"im0.jpg.*im0.png|im0.png.*im0.jpg"):
        open_dataset(root)


def _type_folders(source, files: dict[str, str]) -> None:
    """``files``: {relative image path under source: type}; each gets a 6x6 mask with a 2x2 defect."""
    mask = np.zeros((6, 6), np.uint8)
    mask[1:3, 1:3] = 255
    for relative in files:
        image_path = source / relative
        _write(image_path, np.full((6, 6), 80, np.uint8))
        _write(image_path.parent.parent / "masks" / (image_path.stem + ".png"), mask)


def test_convert_never_deletes_a_partial_folder_of_the_user(tmp_path):
    source = tmp_path / "by_type"
    _type_folders(source, {"scratch/images/a.png": "scratch"})
    mine = tmp_path / "generic.partial"
    mine.mkdir()
    (mine / "notes.txt").write_text("my work")
    index = open_dataset(convert_type_folders(source, tmp_path / "generic"))
    assert len(index) == 1 and (mine / "notes.txt").read_text() == "my work"


@pytest.mark.parametrize("files, named", [
    ({"a/images/b_c.png": "a", "a_b/images/c.png": "a_b"}, "a_b_c.png"),  # flattened names collide
    ({"s/images/s1.png": "s", "s/images/s1.jpg": "s"}, "s1"),  # one stem, two image files
])
def test_convert_refuses_names_that_collide(tmp_path, files, named):
    source = tmp_path / "by_type"
    _type_folders(source, files)
    with pytest.raises(DatasetFormatError, match=named):
        convert_type_folders(source, tmp_path / "generic")
    assert not (tmp_path / "generic").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["by_type"]  # its own unfinished work is cleaned up


def test_dataset_name_of_a_relative_path_with_dots(tmp_path):
    root = _generic(tmp_path / "mydata", splits=("train", "val", "test"))
    assert open_dataset(root / "img_dir" / "..").name == "mydata"


def test_jpeg_masks_are_refused_with_advice(tmp_path):
    # JPEG compression changed 11% of one small mask's labels without a word
    root = _generic(tmp_path / "d")
    mask = cv2.imread(str(root / "ann_dir" / "im0.png"), cv2.IMREAD_UNCHANGED)
    (root / "ann_dir" / "im0.png").unlink()
    _write(root / "ann_dir" / "im0.jpg", mask)
    with pytest.raises(DatasetFormatError, match=r"mask .*im0\.jpg is a \.jpg file, whose lossy compression.*PNG"):
        open_dataset(root)


@pytest.mark.parametrize("suffix", [".tif", ".tiff", ".webp", ".gif"])
def test_images_in_other_common_formats_are_read_not_dropped(tmp_path, suffix):
    # industrial cameras write TIFF: such pairs were once dropped without a word and the dataset shrank
    root = _generic(tmp_path / "d")
    image = np.full((24, 40), 90, np.uint8)
    image[5:9, 5:9] = 200
    from PIL import Image
    Image.fromarray(image).save(root / "img_dir" / f"cam{suffix}", lossless=True)  # WebP: exact pixels to compare
    mask = np.zeros((24, 40), np.uint8)
    mask[5:9, 5:9] = 2
    _write(root / "ann_dir" / "cam.png", mask)
    index = open_dataset(root)
    assert len(index) == 3 and f"cam{suffix}" in index.image_ids
    assert (index.image(f"cam{suffix}") == image).all() and (index.mask(f"cam{suffix}") == 2).sum() == 16


def test_images_the_readers_cannot_decode_and_dangling_links_are_named(tmp_path):
    root = _generic(tmp_path / "d")
    (root / "img_dir" / "cam.heic").write_bytes(b"not decodable here")
    with pytest.raises(DatasetFormatError, match=r"cam\.heic is a \.heic file.*convert them to PNG or TIFF"):
        open_dataset(root)
    (root / "img_dir" / "cam.heic").unlink()
    (root / "img_dir" / "loop.png").symlink_to(root / "img_dir" / "loop.png")  # a link to itself
    with pytest.raises(DatasetFormatError, match=r"loop\.png is a link that leads nowhere, or in a loop"):
        open_dataset(root)


def test_split_folders_without_test_say_which_folder_to_add(tmp_path):
    from steelnb.data.split import hashed_split
    index = open_dataset(_generic(tmp_path / "d", splits=("train", "val")))
    with pytest.raises(ValueError, match=r"none for test: add img_dir/test/ with ann_dir/test/"):
        hashed_split(index)


def test_the_converter_takes_faint_values_of_a_binary_mask_for_background(tmp_path):
    source = tmp_path / "by_type"
    mask = np.zeros((8, 8), np.uint8)
    mask[1:3, 1:4] = 255  # the defect: 6 pixels
    mask[5, :] = 12  # compression noise along a line
    _write(source / "scratch" / "images" / "a.png", np.full((8, 8), 50, np.uint8))
    _write(source / "scratch" / "masks" / "a.png", mask)
    index = open_dataset(convert_type_folders(source, tmp_path / "generic"))
    assert (index.mask("scratch_a.png") == 1).sum() == 6


def test_an_accented_name_written_two_ways_pairs_and_a_clash_shows_both_spellings(tmp_path):
    import unicodedata
    root = _generic(tmp_path / "d")
    composed, decomposed = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    assert composed != decomposed  # two spellings that print alike
    _write(root / "img_dir" / f"{composed}.png", np.full((24, 40), 90, np.uint8))
    _write(root / "ann_dir" / f"{decomposed}.png", np.zeros((24, 40), np.uint8))  # copied from a Mac
    assert len(open_dataset(root)) == 3
    _write(root / "img_dir" / f"{decomposed}.png", np.full((24, 40), 90, np.uint8))
    with pytest.raises(DatasetFormatError, match=r"once accents are written one way \('cafe\\u0301.png' and "
                                                 r"'caf\\xe9.png'\)"):
        open_dataset(root)
