import numpy as np
import pandas as pd
import pytest

from steelnb.data.images import ImageReadError
from steelnb.data.index import DatasetFormatError
from steelnb.data.layouts import open_dataset
from steelnb.data.rle import RLEError, rle_encode
from steelnb.data.severstal import load_severstal
from steelnb.data.stats import class_statistics, defect_free_share


def _write_dataset(root, rows, images):
    (root / "train_images").mkdir(parents=True)
    for name, image in images.items():
        import cv2
        cv2.imwrite(str(root / "train_images" / name), image)
    pd.DataFrame(rows, columns=["ImageId", "ClassId", "EncodedPixels"]).to_csv(root / "train.csv", index=False)
    return root


def test_label_mask_and_defect_free_images(tmp_path):
    blank = np.full((256, 1600), 100, np.uint8)
    mask1 = np.zeros((256, 1600), bool)
    mask1[10:20, 30:40] = True
    mask3 = np.zeros((256, 1600), bool)
    mask3[15:30, 35:60] = True  # overlaps class 1: class 3 wins
    root = _write_dataset(tmp_path / "d", [("a.jpg", 1, rle_encode(mask1)), ("a.jpg", 3, rle_encode(mask3))],
                          {"a.jpg": blank, "b.jpg": blank})
    index = open_dataset(root)
    assert index.image_ids == ["a.jpg", "b.jpg"]  # b.jpg has no row: defect-free, listed from the folder
    np.testing.assert_array_equal(index.presence(), [[True, False, True, False], [False] * 4])
    label = index.mask("a.jpg")
    assert (label == 3).sum() == 15 * 25
    assert (label == 1).sum() == 100 - 5 * 5
    assert not index.mask("b.jpg").any()
    assert defect_free_share(index) == 0.5


def test_old_kaggle_format(tmp_path):
    blank = np.zeros((256, 1600), np.uint8)
    root = tmp_path / "old"
    (root / "train_images").mkdir(parents=True)
    import cv2
    cv2.imwrite(str(root / "train_images" / "x.jpg"), blank)
    pd.DataFrame({"ImageId_ClassId": ["x.jpg_1", "x.jpg_2", "x.jpg_3", "x.jpg_4"],
                  "EncodedPixels": ["", "1 5", "", ""]}).to_csv(root / "train.csv", index=False)
    index = load_severstal(root)
    np.testing.assert_array_equal(index.presence(), [[False, True, False, False]])
    assert (index.mask("x.jpg")[:5, 0] == 2).all()


def test_malformed_row_names_csv_line(tmp_path):
    blank = np.zeros((256, 1600), np.uint8)
    root = _write_dataset(tmp_path / "bad", [("a.jpg", 2, "1 5"), ("a.jpg", 4, "10 3 5")], {"a.jpg": blank})
    index = open_dataset(root)
    with pytest.raises(RLEError, match=r"train.csv line 3: ImageId='a.jpg', ClassId=4: odd number"):
        index.mask("a.jpg")


def test_bad_class_and_missing_image(tmp_path):
    blank = np.zeros((256, 1600), np.uint8)
    root = _write_dataset(tmp_path / "c", [("a.jpg", 5, "1 5")], {"a.jpg": blank})
    with pytest.raises(DatasetFormatError, match="line 2.*ClassId '5'"):
        open_dataset(root)
    root = _write_dataset(tmp_path / "m", [("gone.jpg", 1, "1 5")], {"a.jpg": blank})
    with pytest.raises(ImageReadError, match="line 2: image .*gone.jpg not found"):
        open_dataset(root)


def test_corrupt_and_wrong_size_images(tmp_path):
    root = _write_dataset(tmp_path / "w", [], {"small.jpg": np.zeros((100, 100), np.uint8)})
    (root / "train_images" / "junk.jpg").write_bytes(b"not an image")
    index = open_dataset(root)
    with pytest.raises(ImageReadError, match=r"small.jpg has size 100x100 \(HxW\), expected 256x1600"):
        index.image("small.jpg")
    with pytest.raises(ImageReadError, match="junk.jpg"):
        index.image("junk.jpg")


def test_unknown_layout(tmp_path):
    with pytest.raises(DatasetFormatError, match="neither"):
        open_dataset(tmp_path)


def test_class_statistics_hand_computed(tmp_path):
    blank = np.zeros((256, 1600), np.uint8)
    dots = np.zeros((256, 1600), bool)
    dots[5, 5] = dots[50, 50] = dots[100, 100] = True  # 3 separate segments, 3 pixels
    block = np.zeros((256, 1600), bool)
    block[:10, 200:209] = True  # one segment of 90 pixels
    root = _write_dataset(tmp_path / "s", [("a.jpg", 1, rle_encode(dots)), ("b.jpg", 4, rle_encode(block))],
                          {"a.jpg": blank, "b.jpg": blank, "c.jpg": blank})
    stats = class_statistics(open_dataset(root))
    assert stats.loc[1, "images"] == 1 and stats.loc[1, "segments_per_image"] == 3
    assert stats.loc[4, "pixels"] == 90 and stats.loc[1, "pixels"] == 3
    assert stats.loc[4, "area_share"] == pytest.approx(90 / 93)
    assert stats.loc[1, "region_share"] == pytest.approx(0.5)


def test_real_severstal_samples(severstal_samples):
    index = open_dataset(severstal_samples)
    assert len(index) == 10
    # README of the samples: these three have no row, so they are defect-free
    for image_id in ("000789191.jpg", "002e73b3c.jpg", "005b92582.jpg"):
        assert not index.presence()[index.image_ids.index(image_id)].any()
    image = index.image("002fc4e19.jpg")  # PNG bytes under a .jpg name: decoded by content
    assert image.shape == (256, 1600) and image.dtype == np.uint8
    label = index.mask("002fc4e19.jpg")
    assert set(np.unique(label)) == {0, 1, 2}


def test_neu_seg(neu_root):
    index = open_dataset(neu_root)
    assert len(index) == 4470 and index.num_classes == 4
    assert index.table["split"].value_counts().to_dict() == {"train": 3129, "val": 894, "test": 447}
    # PROVENANCE.md: images holding class 1/2/3 in train: 1285/1266/1249
    train = index.table[index.table.split == "train"]
    assert [int(train[f"has_{c}"].sum()) for c in (1, 2, 3)] == [1285, 1266, 1249]
    first = index.image_ids[0]
    assert index.image(first).shape == (200, 200) and index.mask(first).max() <= 3


def test_a_strip_is_wider_than_twice_its_height():
    from steelnb.data.index import is_strip
    assert is_strip((256, 1600)) and is_strip((256, 1600, 3))  # Severstal, gray or colour
    assert not is_strip((200, 200)) and not is_strip((256, 512))  # NEU-Seg; exactly twice is not a strip


def test_one_place_says_which_layout_a_folder_is(tmp_path):
    from steelnb.data.index import DEMO, SegmentationIndex
    from steelnb.data.layouts import is_neu_seg_folder, is_severstal_folder
    kaggle, neu, mine = tmp_path / "kaggle", tmp_path / "neu", tmp_path / "mine"
    for folder in (kaggle, neu / "data_wenjian", mine / "img_dir"):
        folder.mkdir(parents=True)
    assert not is_severstal_folder(kaggle)  # train.csv is written last: without it the copy is incomplete
    (kaggle / "train.csv").write_text("ImageId,ClassId,EncodedPixels\n")
    assert is_severstal_folder(kaggle) and not is_neu_seg_folder(kaggle)
    assert is_neu_seg_folder(neu) and not is_severstal_folder(neu)
    assert not is_neu_seg_folder(mine) and not is_severstal_folder(mine)
    index = SegmentationIndex(DEMO, tmp_path, ("a",), None, table=pd.DataFrame())
    assert index.is_demo and not SegmentationIndex("my-data", tmp_path, ("a",), None, pd.DataFrame()).is_demo
