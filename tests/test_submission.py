"""Kaggle submission files: hand-scored Dice, write -> score round trips, and clear errors."""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from steelnb.data.index import DatasetFormatError
from steelnb.data.layouts import open_dataset
from steelnb.evaluation.submission import predict_labels, score_submission, write_submission


def _two_image_dataset(root):
    """a.jpg: class 1 on rows 0-3 of column 0 (RLE "1 4"); b.jpg: no defect."""
    (root / "train_images").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg"):
        cv2.imwrite(str(root / "train_images" / name), np.zeros((256, 1600), np.uint8))
    pd.DataFrame({"ImageId": ["a.jpg"], "ClassId": [1], "EncodedPixels": ["1 4"]}).to_csv(root / "train.csv",
                                                                                          index=False)
    return open_dataset(root)


def test_kaggle_dice_by_hand(tmp_path):
    index = _two_image_dataset(tmp_path / "data")
    submission = tmp_path / "submission.csv"
    # a, class 1: rows 0,1 and 4,5 -> 2 of 4 truth pixels, Dice 2*2/(4+4) = 0.5; b, class 3: 1 false pixel -> 0.
    # b's class 4 has no row at all: an empty prediction of an empty truth, 1. The other 5 pairs are empty, 1.
    pd.DataFrame({"ImageId": ["a.jpg"] * 4 + ["b.jpg"] * 3, "EncodedPixels": ["1 2 5 2", "", "", "", "", "", "1 1"],
                  "ClassId": [1, 2, 3, 4, 1, 2, 3]}).to_csv(submission, index=False)
    with pytest.warns(UserWarning, match="1 of 8"):
        scores = score_submission(submission, index, ["a.jpg", "b.jpg"])
    assert scores["dice"] == pytest.approx(6.5 / 8) and scores["missing_rows"] == 1
    assert scores["dice_1"] == pytest.approx(0.75) and scores["dice_3"] == pytest.approx(0.5)
    assert scores["dice_2"] == scores["dice_4"] == 1.0 and scores["pairs"] == 8


def test_written_truth_scores_one_and_empty_scores_the_empty_share(demo_root, tmp_path):
    index = open_dataset(demo_root)
    ids = index.image_ids
    path = write_submission(tmp_path / "truth.csv", ((i, index.mask(i)) for i in ids))
    written = pd.read_csv(path, keep_default_na=False)
    assert list(written.columns) == ["ImageId", "EncodedPixels", "ClassId"] and len(written) == 4 * len(ids)
    assert score_submission(path, index, ids)["dice"] == 1.0
    empty = write_submission(tmp_path / "empty.csv", ((i, np.zeros((256, 1600), np.uint8)) for i in ids))
    assert score_submission(empty, index, ids)["dice"] == pytest.approx(1 - index.presence(ids).mean())


def test_real_train_rows_score_one_as_a_submission(severstal_samples):
    index = open_dataset(severstal_samples)
    with pytest.warns(UserWarning, match="have no row"):  # train.csv has rows for the defects only
        assert score_submission(severstal_samples / "train.csv", index, index.image_ids)["dice"] == 1.0


def test_errors_name_the_file_and_line(tmp_path):
    index = _two_image_dataset(tmp_path / "data")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"ImageId": ["a.jpg", "c.jpg"], "EncodedPixels": ["1 4", ""], "ClassId": [1, 1]}).to_csv(bad, index=False)
    with pytest.raises(DatasetFormatError, match=r"bad.csv line 3: ImageId='c.jpg' is not one of the 2 images"):
        score_submission(bad, index, ["a.jpg", "b.jpg"])
    pd.DataFrame({"ImageId": ["a.jpg"], "EncodedPixels": ["409600 5"], "ClassId": [2]}).to_csv(bad, index=False)
    with pytest.raises(DatasetFormatError, match=r"bad.csv line 2: ImageId='a.jpg', ClassId=2"):
        score_submission(bad, index, ["a.jpg", "b.jpg"])
    with pytest.raises(DatasetFormatError, match="submission file not found"):
        score_submission(tmp_path / "missing.csv", index, ["a.jpg"])


def test_an_interrupted_write_keeps_the_previous_file(tmp_path):
    path = write_submission(tmp_path / "submission.csv", [("a.jpg", np.ones((4, 4), np.uint8))])
    before = path.read_bytes()

    def failing():
        yield "b.jpg", np.zeros((4, 4), np.uint8)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_submission(path, failing())
    assert path.read_bytes() == before


class _Constant(torch.nn.Module):
    """Class 2 everywhere: logits (N, 5, H, W) with a large class-2 channel."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 5, *x.shape[2:])
        logits[:, 2] = 10
        return logits + self.weight


def test_predict_labels_at_the_original_size(tmp_path):
    index = _two_image_dataset(tmp_path / "data")
    paths = index.table["path"].to_dict()
    labels = dict(predict_labels(_Constant(), paths, input_size=(64, 64)))
    assert set(labels) == {"a.jpg", "b.jpg"}
    assert all(label.shape == (256, 1600) and (label == 2).all() for label in labels.values())


def _five_class_dataset(root):
    """Generic layout, 5 classes; a.png holds label 5 in a 2x2 block, b.png nothing."""
    for folder in ("img_dir", "ann_dir"):
        (root / folder).mkdir(parents=True)
    (root / "classes.txt").write_text("c1\nc2\nc3\nc4\nc5\n")
    mask = np.zeros((8, 8), np.uint8)
    mask[0:2, 0:2] = 5
    for name, labels in (("a.png", mask), ("b.png", np.zeros((8, 8), np.uint8))):
        cv2.imwrite(str(root / "img_dir" / name), np.full((8, 8), 90, np.uint8))
        cv2.imwrite(str(root / "ann_dir" / name), labels)
    return open_dataset(root)


def test_a_five_class_dataset_scores_the_file_it_wrote(tmp_path):
    index = _five_class_dataset(tmp_path / "data")
    ids = index.image_ids
    path = write_submission(tmp_path / "s.csv", [(i, index.mask(i)) for i in ids], n_defect_classes=5)
    scores = score_submission(path, index, ids)
    assert scores["dice"] == 1.0 and scores["pairs"] == 10 and scores["missing_rows"] == 0


def test_out_of_range_and_missing_rows_are_reported(tmp_path):
    index = _five_class_dataset(tmp_path / "data")
    submission = tmp_path / "s.csv"
    pd.DataFrame({"ImageId": ["a.png", "b.png"], "EncodedPixels": ["", ""], "ClassId": [6, 1]}).to_csv(
        submission, index=False)
    with pytest.raises(DatasetFormatError, match=r"s.csv line 2: .*ClassId '6', expected 1..5"):
        score_submission(submission, index, index.image_ids)
    pd.DataFrame({"ImageId": ["a.png"], "EncodedPixels": ["1 2 9 2"], "ClassId": [5]}).to_csv(submission, index=False)
    with pytest.warns(UserWarning, match=r"9 of 10 \(image, class\) pairs have no row"):
        scores = score_submission(submission, index, index.image_ids)
    assert scores["missing_rows"] == 9 and scores["dice"] == 1.0


def test_rle_token_too_large_in_a_submission_names_the_line(tmp_path):
    index = _two_image_dataset(tmp_path / "data")
    submission = tmp_path / "s.csv"
    pd.DataFrame({"ImageId": ["a.jpg"], "EncodedPixels": ["99999999999999999999 2"], "ClassId": [1]}).to_csv(
        submission, index=False)
    with pytest.raises(DatasetFormatError, match=r"s.csv line 2: .*too large"):
        score_submission(submission, index, ["a.jpg", "b.jpg"])
