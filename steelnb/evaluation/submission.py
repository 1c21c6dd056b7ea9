"""Kaggle submission files: write one from a model's label masks, read it back, and score it like Kaggle.

A Severstal submission has the header ``ImageId,EncodedPixels,ClassId`` and one row per test image and defect
class: the class's mask at the image's original resolution (256x1600) as a run-length encoding, or an empty
EncodedPixels when the class is absent. Kaggle scores it by the mean Dice over all (image, class) pairs, where
an empty prediction of an empty truth scores 1. :func:`score_submission` computes that score for a file and a
split whose masks you have, so you can check a file on a held-out split before you upload it.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data.images import read_gray
from ..data.index import DatasetFormatError, SegmentationIndex
from ..data.rle import RLEError, rle_decode, rle_encode
from ..data.severstal import read_rle_csv
from .inference import inference_model, predict_image_probs
from .metrics import kaggle_dice
from .postprocess import PostProcessing

SUBMISSION_COLUMNS = ("ImageId", "EncodedPixels", "ClassId")


def predict_labels(model: nn.Module, image_paths: Mapping[str, str | Path], input_size: tuple[int, int] | None,
                   postprocessing: PostProcessing | None = None, tta: str = "none",
                   image_shape: tuple[int, int] | None = None,
                   dtype: torch.dtype | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """Per image, its id and predicted label mask, uint8 (H, W) at the image's own resolution.

    Each image is read from ``image_paths`` (id -> file), fed at ``input_size`` (None: as it is) and its class
    probabilities are resized back to (H, W), then turned into labels by ``postprocessing`` (default: argmax).
    The model runs with its batch norms folded, in autocast to ``dtype`` when given
    (``inference.inference_model``; ``training.precision.autocast_dtype(device)`` picks bfloat16 where the CPU
    computes it natively). A generator, so that a test set of thousands of images never sits in memory at once.

    Raises:
        ImageReadError: a missing or unreadable image, or one whose shape differs from ``image_shape``.
    """
    model = inference_model(model, dtype)
    for image_id, path in image_paths.items():
        probs = predict_image_probs(model, read_gray(path, image_shape), input_size, tta).cpu().numpy()
        yield image_id, (probs.argmax(0).astype(np.uint8) if postprocessing is None else postprocessing(probs))


def write_submission(path: str | Path, labels: Iterable[tuple[str, np.ndarray]], n_defect_classes: int = 4) -> Path:
    """Write a Kaggle submission: for each (image id, label mask (H, W)), one row per defect class 1..C.

    The file is written next to ``path`` first and renamed when complete, so an interrupted run never leaves
    a half-written submission (or destroys the previous one).

    Returns:
        the path of the written CSV.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [(image_id, rle_encode(label == class_id), class_id)
            for image_id, label in labels for class_id in range(1, n_defect_classes + 1)]
    partial = path.with_name(path.name + ".partial")
    pd.DataFrame(rows, columns=list(SUBMISSION_COLUMNS)).to_csv(partial, index=False)
    os.replace(partial, path)
    return path


def read_submission(path: str | Path, image_ids: Sequence[str], n_defect_classes: int = 4) -> pd.DataFrame:
    """Read a submission for the images ``image_ids`` of a dataset with ``n_defect_classes`` defect classes.

    Returns:
        every row, with columns image_id, class_id, rle ('' for no defect) and line (the file line). An
        (image, class) pair without a row is an empty prediction, as for Kaggle's scorer.

    Raises:
        DatasetFormatError: unreadable or missing file, unknown columns, a repeated (ImageId, ClassId), a
            ClassId outside 1..``n_defect_classes``, or an image that is not in ``image_ids`` (a file made for
            another split); naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"submission file not found: {path}")
    rows = read_rle_csv(path, keep_empty=True, n_defect_classes=n_defect_classes)
    unknown = rows[~rows.image_id.isin(set(image_ids))]
    if len(unknown):
        row = unknown.iloc[0]
        raise DatasetFormatError(f"{path} line {row.line}: ImageId={row.image_id!r} is not one of the "
                                 f"{len(image_ids)} images being scored ({len(unknown)} such rows)")
    return rows


def score_submission(path: str | Path, index: SegmentationIndex, image_ids: Sequence[str]) -> pd.Series:
    """Kaggle's score of a submission on images whose masks ``index`` has (a held-out split).

    Returns:
        ``dice``: the mean Dice over all (image, defect class) pairs, empty vs empty = 1, as on the leaderboard;
        ``dice_c``: the mean over the images for each defect class c; ``pairs``: the number of pairs;
        ``missing_rows``: the pairs without a row, scored as empty predictions like Kaggle does (with a
        warning, as a file that lacks rows was usually cut short or written for fewer classes).

    Raises:
        DatasetFormatError: see :func:`read_submission`; an EncodedPixels that does not fit the image (naming
            the line).

    The truth of class c is ``index.mask(image) == c``: where two classes overlap in Kaggle's train.csv, the
    label mask keeps the larger ClassId, so a pixel counts for one class only.
    """
    n_defect = index.num_classes - 1
    rows = {(row.image_id, row.class_id): row for row in read_submission(path, image_ids, n_defect).itertuples()}
    counts = np.zeros((len(image_ids), index.num_classes, 3), dtype=np.int64)  # (intersection, predicted, true)
    for i, image_id in enumerate(image_ids):
        truth = index.mask(image_id)
        for c in range(1, index.num_classes):
            row = rows.get((image_id, c))
            try:
                pred = rle_decode(row.rle if row else "", truth.shape, image_id=image_id, class_id=c)
            except RLEError as err:
                raise DatasetFormatError(f"{path} line {row.line}: {err}") from None
            counts[i, c] = np.logical_and(pred, truth == c).sum(), pred.sum(), (truth == c).sum()
    scores = {"dice": kaggle_dice(counts)}
    scores.update({f"dice_{c}": kaggle_dice(counts[:, [0, c]]) for c in range(1, index.num_classes)})
    scores["pairs"] = counts[:, 1:, 0].size
    scores["missing_rows"] = scores["pairs"] - len(rows)
    if scores["missing_rows"]:
        warnings.warn(f"{path}: {scores['missing_rows']} of {scores['pairs']} (image, class) pairs have no row and "
                      "were scored as empty predictions", UserWarning, stacklevel=2)
    return pd.Series(scores)
