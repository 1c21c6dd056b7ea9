"""The Kaggle Severstal layout: ``train.csv`` (run-length rows) + ``train_images/``.

``train.csv`` comes in the current ``ImageId,ClassId,EncodedPixels`` format or the original
``ImageId_ClassId,EncodedPixels`` one. Defect-free images have no row and exist only as files, so the
image folder is listed too.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .images import ImageReadError
from .index import SEVERSTAL, DatasetFormatError, SegmentationIndex, list_images
from .rle import SEVERSTAL_SHAPE, RLEError, rle_decode

#: What makes a folder Kaggle Severstal's: the labels file and the image folder beside it.
LABELS_CSV = "train.csv"
IMAGE_FOLDER = "train_images"

SEVERSTAL_CLASSES: tuple[str, ...] = ("class 1", "class 2", "class 3", "class 4")


@dataclass
class SeverstalIndex(SegmentationIndex):
    """Kaggle Severstal layout. ``rles`` holds the non-empty rows: image_id, class_id, rle, line."""

    rles: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    csv_path: Path | None = None
    #: image id -> its (class_id, rle, line) rows in ClassId order, so that a mask is found in constant time
    #: however many rows the CSV has (a search of the whole table per image would make an epoch quadratic).
    rows_by_image: dict[str, list[tuple[int, str, int]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rows_by_image = {}
        if len(self.rles):
            for image_id, class_id, rle, line in zip(self.rles.image_id, self.rles.class_id, self.rles.rle,
                                                     self.rles.line, strict=True):
                self.rows_by_image.setdefault(image_id, []).append((int(class_id), rle, int(line)))
        for rows in self.rows_by_image.values():
            rows.sort()

    def label_digests(self) -> list[str]:
        """SHA-256 of each image's ``train.csv`` rows (ClassId and EncodedPixels, in ClassId order); a
        defect-free image has none."""
        return [hashlib.sha256("\n".join(f"{class_id} {rle}" for class_id, rle, _ in self.rows_by_image.get(i, ()))
                               .encode("utf-8")).hexdigest() for i in self.image_ids]

    def mask(self, image_id: str) -> np.ndarray:
        """Label mask 0..4 decoded from the RLE rows; where classes overlap the larger ClassId wins."""
        mask = np.zeros(self.image_shape, dtype=np.uint8)
        for class_id, rle, line in self.rows_by_image.get(image_id, ()):
            try:
                pixels = rle_decode(rle, self.image_shape, image_id=image_id, class_id=class_id)
            except RLEError as err:
                raise RLEError(f"{self.csv_path} line {line}: {err}") from None
            mask[pixels] = class_id
        return mask


def read_rle_csv(csv_path: Path, keep_empty: bool = False, n_defect_classes: int = len(SEVERSTAL_CLASSES)
                 ) -> pd.DataFrame:
    """Parse a Kaggle RLE file (train.csv in either format, or a submission) into image_id, class_id, rle and
    line (1-based file line). Rows with an empty EncodedPixels are dropped unless ``keep_empty``.

    Raises:
        DatasetFormatError: unreadable file, unknown columns, a ClassId outside 1..``n_defect_classes`` or a
            repeated (ImageId, ClassId) pair, naming the file and line.
    """
    try:
        raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DatasetFormatError(f"{csv_path} is empty; expected the header ImageId,ClassId,EncodedPixels "
                                 "and one row per defect") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DatasetFormatError(f"cannot read {csv_path}: {err}") from None
    raw["line"] = np.arange(len(raw)) + 2  # line 1 is the header
    if {"ImageId", "ClassId", "EncodedPixels"} <= set(raw.columns):
        image_ids, class_ids = raw["ImageId"], raw["ClassId"]
    elif {"ImageId_ClassId", "EncodedPixels"} <= set(raw.columns):
        parts = raw["ImageId_ClassId"].str.rsplit("_", n=1, expand=True)
        if parts.shape[1] != 2 or parts[1].isna().any():
            bad = raw.loc[parts[1].isna() if parts.shape[1] == 2 else raw.index, "line"].iloc[0]
            raise DatasetFormatError(f"{csv_path} line {bad}: ImageId_ClassId must look like '0002cc93b.jpg_1'")
        image_ids, class_ids = parts[0], parts[1]
    else:
        raise DatasetFormatError(
            f"{csv_path}: expected columns ImageId,ClassId,EncodedPixels (or ImageId_ClassId,EncodedPixels), "
            f"found {list(raw.columns)}"
        )
    table = pd.DataFrame({"image_id": image_ids.str.strip(), "class_id": class_ids.str.strip(),
                          "rle": raw["EncodedPixels"].str.strip(), "line": raw["line"]})
    bad_class = ~table.class_id.isin([str(c) for c in range(1, n_defect_classes + 1)])
    if bad_class.any():
        row = table[bad_class].iloc[0]
        raise DatasetFormatError(f"{csv_path} line {row.line}: ImageId={row.image_id!r} has ClassId "
                                 f"{row.class_id!r}, expected 1..{n_defect_classes} ({bad_class.sum()} such rows)")
    table["class_id"] = table.class_id.astype(int)
    duplicated = table.duplicated(["image_id", "class_id"])
    if duplicated.any():
        row = table[duplicated].iloc[0]
        raise DatasetFormatError(f"{csv_path} line {row.line}: second row for ImageId={row.image_id!r} "
                                 f"ClassId={row.class_id}")
    return table if keep_empty else table[table.rle != ""].reset_index(drop=True)


def _presence_table(image_paths: dict[str, Path], present: dict[str, set[int]], n_defect: int) -> pd.DataFrame:
    table = pd.DataFrame({"path": pd.Series(image_paths, dtype=object)})
    table.index.name = "image_id"
    for c in range(1, n_defect + 1):
        table[f"has_{c}"] = [c in present.get(i, ()) for i in table.index]
    return table.sort_index()


def load_severstal(root: str | Path, name: str = SEVERSTAL, image_dir: str = IMAGE_FOLDER,
                   csv_name: str = LABELS_CSV) -> SeverstalIndex:
    """Index a Kaggle-format folder: every image in ``image_dir`` and the RLE rows of ``csv_name``.

    Raises:
        DatasetFormatError: no CSV, unknown columns, bad ClassId, duplicate rows, no images.
        ImageReadError: a CSV row names an image that is not in the folder.
    """
    root = Path(root)
    csv_path = root / csv_name
    if not csv_path.is_file():
        raise DatasetFormatError(f"{csv_path} not found; expected Kaggle's train.csv there")
    rles = read_rle_csv(csv_path)
    images = list_images(root / image_dir)
    if not images:
        raise DatasetFormatError(f"no images in {root / image_dir}")
    missing = sorted(set(rles.image_id) - set(images))
    if missing:
        line = int(rles.loc[rles.image_id == missing[0], "line"].iloc[0])
        raise ImageReadError(f"{csv_path} line {line}: image {root / image_dir / missing[0]} not found "
                             f"({len(missing)} CSV images missing in all)")
    present = rles.groupby("image_id").class_id.agg(set).to_dict()
    table = _presence_table(images, present, len(SEVERSTAL_CLASSES))
    return SeverstalIndex(name=name, root=root, class_names=SEVERSTAL_CLASSES, image_shape=SEVERSTAL_SHAPE,
                          table=table, rles=rles, csv_path=csv_path)
