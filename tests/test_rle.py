import numpy as np
import pandas as pd
import pytest

from steelnb.data.rle import RLEError, rle_decode, rle_encode


def test_decode_hand_computed_column_major():
    # 4x3 mask; column-major positions: (r, c) -> c*4 + r + 1
    mask = rle_decode("2 2 5 1 12 1", (4, 3))
    expected = np.array([[0, 1, 0], [1, 0, 0], [1, 0, 0], [0, 0, 1]], dtype=bool)
    np.testing.assert_array_equal(mask, expected)


def test_encode_hand_computed():
    mask = np.zeros((4, 3), dtype=np.uint8)
    mask[1:3, 0] = 1
    mask[0, 1] = 1
    mask[:, 2] = 7  # any nonzero value is a defect; the run spans the whole last column
    assert rle_encode(mask) == "2 2 5 1 9 4"


@pytest.mark.parametrize("empty", ["", "   ", None, float("nan")])
def test_empty_masks(empty):
    assert not rle_decode(empty, (256, 1600)).any()
    assert rle_encode(np.zeros((256, 1600))) == ""


def test_round_trip_random_masks():
    rng = np.random.default_rng(0)
    for density in (0.001, 0.3, 0.97):
        mask = rng.random((256, 1600)) < density
        np.testing.assert_array_equal(rle_decode(rle_encode(mask)), mask)
    full = np.ones((256, 1600), bool)
    assert rle_encode(full) == f"1 {256 * 1600}"


def test_adjacent_runs_are_valid():
    np.testing.assert_array_equal(rle_decode("1 2 3 2", (4, 1))[:, 0], [True] * 4)


@pytest.mark.parametrize("text, message", [
    ("1 2 3", "odd number"),
    ("5 2 3 1", "not strictly increasing"),
    ("5 2 5 1", "not strictly increasing"),
    ("1 5 3 1", "overlapping"),
    ("409600 2", "past the image"),
    ("0 3", "below 1"),
    ("4 0", "length below 1"),
    ("1 x", "non-integer"),
])
def test_malformed_rows_name_image_and_class(text, message):
    with pytest.raises(RLEError, match=message) as info:
        rle_decode(text, image_id="abc.jpg", class_id=3)
    assert "abc.jpg" in str(info.value) and "ClassId=3" in str(info.value)


def test_real_rows_round_trip(severstal_samples):
    table = pd.read_csv(severstal_samples / "train.csv")
    assert len(table) == 10
    for row in table.itertuples():
        mask = rle_decode(row.EncodedPixels, image_id=row.ImageId, class_id=row.ClassId)
        assert mask.any()
        assert rle_encode(mask) == row.EncodedPixels
    # the first run of 002fc4e19 class 1 starts at pixel 146021 (1-indexed, column-major) for 3 pixels
    first = rle_decode(table.EncodedPixels[0])
    col, row = divmod(146021 - 1, 256)
    assert first[row:row + 3, col].all() and not first[row - 1, col] and not first[row + 3, col]


def test_token_too_large_for_int64_is_an_rle_error():
    with pytest.raises(RLEError, match=r"ImageId='a.jpg', ClassId=2.*too large"):
        rle_decode("99999999999999999999 3", image_id="a.jpg", class_id=2)


def test_start_plus_length_past_int64_names_the_file_line_and_image(tmp_path):
    # each token fits int64, their sum does not: it once wrapped to a negative end and asked for a huge array
    import cv2
    import pandas as pd

    from steelnb.data.severstal import load_severstal
    assert 9_000_000_000_000_000_000 * 2 > np.iinfo(np.int64).max
    with pytest.raises(RLEError, match=r"ImageId='a.jpg', ClassId=1.*past the image's 409600 pixels"):
        rle_decode("9000000000000000000 9000000000000000000", image_id="a.jpg", class_id=1)
    (tmp_path / "train_images").mkdir()
    cv2.imwrite(str(tmp_path / "train_images" / "a.jpg"), np.zeros((256, 1600), np.uint8))
    pd.DataFrame({"ImageId": ["a.jpg"], "ClassId": [3], "EncodedPixels": ["5 9000000000000000000"]}).to_csv(
        tmp_path / "train.csv", index=False)
    with pytest.raises(RLEError, match=r"train\.csv line 2: ImageId='a.jpg', ClassId=3: a run starts or ends past"):
        load_severstal(tmp_path).mask("a.jpg")
