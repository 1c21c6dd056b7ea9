"""Bring your own data: image folders with class-index PNG masks, any image size, any class count.

The generic layout (NEU-Seg's mmsegmentation-style copy is one instance of it)::

    my_data/
      classes.txt              one defect class name per line: line 1 is label 1, line 2 label 2, ...
      img_dir/[train|val|test/]name.jpg|png|bmp
      ann_dir/[train|val|test/]name.png    uint8 class index per pixel, 0 = background

The split subfolders are optional: without them the course makes its own seeded 80/10/10 split, each
image placed by a hash of its name (``split.hashed_split``). Without ``classes.txt`` the classes are called
"class 1".."class C", C being the largest label found. The official NEU-Seg release (``images/{training,test}`` +
``annotations/{training,test}``) is read too, with a seeded validation part carved from training.

:func:`convert_type_folders` turns the other common layout, one folder per defect type holding
images and binary masks, into this one.
"""
from __future__ import annotations

import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from .digests import file_digests
from .images import IGNORE_LABEL, ImageReadError, image_size, read_gray, read_label_png
from .index import (
    IMAGE_SUFFIXES,
    LOSSY_MASK_SUFFIXES,
    NEU_SEG,
    UNREADABLE_IMAGE_SUFFIXES,
    DatasetFormatError,
    SegmentationIndex,
)
from .split import hash_fraction
from .staging import move_into_place, staging_folder

#: The folder NEU-Seg's public copy (UNet-NEU-SEG) keeps its images, masks and split lists in.
NEU_SEG_FOLDER = "data_wenjian"

NEU_CLASSES: tuple[str, ...] = ("inclusion", "patches", "scratches")
CLASS_FILE = "classes.txt"
#: Split subfolder names: the mmseg-style ones and the official NEU-Seg release's.
SPLIT_FOLDERS = {"train": "train", "val": "val", "test": "test", "training": "train"}


@dataclass
class FolderIndex(SegmentationIndex):
    """Images with class-index PNG masks (``table`` has a ``mask_path`` column)."""

    def label_digests(self) -> list[str]:
        """SHA-256 of each mask file, remembered by path, size and time (``digests.file_digests``)."""
        return file_digests([Path(path) for path in self.table.loc[self.image_ids, "mask_path"]])

    def mask(self, image_id: str) -> np.ndarray:
        """Label mask (height, width) uint8 with values 0..C, read from its PNG."""
        return read_label_png(self.table.at[image_id, "mask_path"], self.num_classes - 1, self._shape_of(image_id))

    def _shape_of(self, image_id: str) -> tuple[int, int]:
        return tuple(int(v) for v in self.table.loc[image_id, ["height", "width"]])

    def image(self, image_id: str) -> np.ndarray:
        """The grayscale image, uint8 (height, width); its size is checked against the index."""
        return read_gray(self.table.at[image_id, "path"], self._shape_of(image_id))


def _image_files(folder: Path) -> dict[str, Path]:
    """{stem: path} of the image files directly in ``folder``, the stems in Unicode NFC form, so that an image
    and its mask pair up however their accented names were written (macOS writes them decomposed, NFD).

    Raises:
        DatasetFormatError: two image files share a stem (``x1.png`` and ``x1.jpg``): which one the mask
            ``x1.png`` belongs to cannot be told.
    """
    files: dict[str, Path] = {}
    entries = sorted(folder.iterdir())
    unreadable = [path for path in entries if path.suffix.lower() in UNREADABLE_IMAGE_SUFFIXES]
    if unreadable:
        raise DatasetFormatError(f"{unreadable[0]} is a {unreadable[0].suffix} file, which the readers do not decode "
                                 f"({len(unreadable)} such files in {folder}): convert them to PNG or TIFF "
                                 f"(the course reads {', '.join(IMAGE_SUFFIXES)})")
    dangling = [path for path in entries if path.is_symlink() and not path.exists()]
    if dangling:
        raise DatasetFormatError(f"{dangling[0]} is a link that leads nowhere, or in a loop ({len(dangling)} such "
                                 f"links in {folder}): point it at its file, or remove it")
    for path in entries:
        if not (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES):
            continue
        stem = unicodedata.normalize("NFC", path.stem)  # "é" typed as one character or as e + accent (macOS)
        if stem in files:
            same = "" if files[stem].stem == path.stem else (
                f" once accents are written one way ({ascii(files[stem].name)} and {ascii(path.name)})")
            raise DatasetFormatError(f"{files[stem]} and {path} share the name {stem!r}{same}: rename one, so "
                                     "that each image has one mask of its name")
        files[stem] = path
    return files


def _pairs(image_folder: Path, mask_folder: Path) -> list[tuple[str, Path, Path]]:
    """(stem, image path, mask path) for every image of ``image_folder``; unpaired files are an error."""
    if not mask_folder.is_dir():
        raise DatasetFormatError(f"mask folder not found: {mask_folder} (for the images in {image_folder})")
    images, masks = _image_files(image_folder), _image_files(mask_folder)
    lossy = [path for path in masks.values() if path.suffix.lower() in LOSSY_MASK_SUFFIXES]
    if lossy:
        raise DatasetFormatError(f"mask {lossy[0]} is a {lossy[0].suffix} file, whose lossy compression changes label "
                                 f"values along every edge ({len(lossy)} such masks in {mask_folder}): save the masks "
                                 "as PNG, from the labelling tool's original export")
    if not images:
        raise DatasetFormatError(f"no images in {image_folder} (an empty split)")
    lonely_images, lonely_masks = sorted(set(images) - set(masks)), sorted(set(masks) - set(images))
    if lonely_images:
        raise DatasetFormatError(f"image {images[lonely_images[0]]} has no mask {mask_folder / lonely_images[0]}.png "
                                 f"({len(lonely_images)} unpaired images in all)")
    if lonely_masks:
        raise DatasetFormatError(f"mask {masks[lonely_masks[0]]} has no image in {image_folder} "
                                 f"({len(lonely_masks)} unpaired masks in all)")
    return [(stem, images[stem], masks[stem]) for stem in sorted(images)]


def _read_class_names(root: Path) -> tuple[str, ...] | None:
    path = root / CLASS_FILE
    if not path.is_file():
        return None
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not names:
        raise DatasetFormatError(f"{path} names no class (one defect class name per line)")
    return names


def _layout(root: Path) -> tuple[Path, Path, bool]:
    """(image folder, mask folder, official NEU release?) of a dataset root."""
    if (root / "img_dir").is_dir():
        return root / "img_dir", root / "ann_dir", False
    if (root / "images").is_dir() and (root / "annotations").is_dir():
        return root / "images", root / "annotations", True
    raise DatasetFormatError(f"{root}: expected img_dir/ + ann_dir/ (or NEU-Seg's images/ + annotations/)")


def load_folder_dataset(root: str | Path, name: str | None = None, val_fraction: float = 0.125,
                        seed: int = 0) -> FolderIndex:
    """Index a dataset in the layout of the module docstring; every mask is read once (about 2 s for
    4,470 NEU-Seg masks) to check it and to know which classes each image holds.

    Args:
        root: the dataset folder (NEU-Seg's ``data_wenjian`` parent works too).
        name: dataset name for runs and titles (default: "neu-seg" for NEU-Seg, else the folder name).
        val_fraction: share of a ``train``-only split moved to validation (seeded) when no ``val`` exists.
        seed: seeds that validation draw.

    Raises:
        DatasetFormatError: unknown layout, missing mask folder, unpaired files, an empty split.
        ImageReadError: an unreadable image or mask, a mask whose size differs from its image's, or a
            label above the number of classes in ``classes.txt``; the message names the file.
    """
    root = Path(root)
    if (root / NEU_SEG_FOLDER).is_dir():
        root = root / NEU_SEG_FOLDER
    image_root, mask_root, official = _layout(root)
    is_neu = official or root.name == NEU_SEG_FOLDER
    class_names = _read_class_names(root) or (NEU_CLASSES if is_neu else None)
    parts = _split_parts(image_root, mask_root)
    rows = []
    for split, image_folder, mask_folder in parts:
        for _stem, image_path, mask_path in _pairs(image_folder, mask_folder):
            height, width = image_size(image_path)
            mask = read_label_png(mask_path, len(class_names) if class_names else IGNORE_LABEL - 1,
                                  (height, width))
            key = f"{image_folder.name}/{image_path.name}" if split else image_path.name
            rows.append({"image_id": key, "path": image_path, "mask_path": mask_path, "split": split,
                         "height": height, "width": width, "labels": set(np.unique(mask).tolist()) - {0}})
    table = pd.DataFrame(rows).set_index("image_id").sort_index()
    if class_names is None:
        largest = max((max(labels, default=0) for labels in table["labels"]), default=0)
        class_names = tuple(f"class {c}" for c in range(1, max(largest, 1) + 1))
    for c in range(1, len(class_names) + 1):
        table[f"has_{c}"] = [c in labels for labels in table["labels"]]
    table = table.drop(columns="labels")
    if table["split"].isna().all():
        table = table.drop(columns="split")
    elif "val" not in set(table["split"]):
        table = _carve_validation(table, val_fraction, seed)
    shapes = set(zip(table["height"], table["width"], strict=True))
    image_shape = next(iter(shapes)) if len(shapes) == 1 else None
    return FolderIndex(name=name or (NEU_SEG if is_neu else root.resolve().name), root=root, class_names=class_names,
                       image_shape=image_shape, table=table)


def _split_parts(image_root: Path, mask_root: Path) -> list[tuple[str | None, Path, Path]]:
    """(split or None, image folder, mask folder) of each part of the dataset: one per split subfolder
    (``train``/``val``/``test``, or the official release's ``training``/``test``), or the whole folder.

    Raises:
        DatasetFormatError: a subfolder the layout does not know (``validation/``), or image files lying
            beside split folders: both would otherwise be left out without a word.
    """
    subfolders = [d for d in sorted(image_root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    unknown = [d for d in subfolders if d.name not in SPLIT_FOLDERS]
    if unknown:
        raise DatasetFormatError(f"{unknown[0]}: unknown split folder; the split folders are named "
                                 f"{', '.join(sorted(SPLIT_FOLDERS))} (or put every image directly in {image_root})")
    if not subfolders:
        return [(None, image_root, mask_root)]
    loose = [p for p in sorted(image_root.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if loose:
        raise DatasetFormatError(f"{loose[0]} lies beside the split folders {[d.name for d in subfolders]}, so it "
                                 f"belongs to no split ({len(loose)} such images): move it into one of them")
    return [(SPLIT_FOLDERS[d.name], d, mask_root / d.name) for d in subfolders]


def _carve_validation(table: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Move a seeded ``fraction`` of the train split to a new val split (the official NEU release has none):
    the images with the lowest hash of (seed, id), so that which ones go depends on no random stream and a
    corrected mask moves none."""
    train = table.index[table["split"] == "train"]
    by_hash = sorted(train, key=lambda image_id: hash_fraction(seed, image_id))
    chosen = by_hash[:max(1, round(fraction * len(train)))]
    table = table.copy()
    table.loc[chosen, "split"] = "val"
    return table


def convert_type_folders(source: str | Path, target: str | Path, image_folder: str = "images",
                         mask_folder: str = "masks") -> Path:
    """Convert "one folder per defect type with binary masks" into the generic layout.

    ``source/<type>/images/x.png`` with ``source/<type>/masks/x.png`` (defect: 1 in a 0/1 mask,
    128 or more in a 0/255 one, see :func:`is_defect`)
    becomes ``target/img_dir/<type>_x.png`` and ``target/ann_dir/<type>_x.png`` holding label k for
    the k-th type in sorted order; ``target/classes.txt`` lists the types. Images are copied, never
    moved, and an existing ``target`` is refused so nothing there is overwritten.

    Raises:
        DatasetFormatError: ``target`` exists, no type folder, unpaired files.
        ImageReadError: an unreadable mask or one whose size differs from its image.
    """
    source, target = Path(source), Path(target)
    if target.exists():
        raise DatasetFormatError(f"{target} already exists; choose a new folder (nothing was changed)")
    types = sorted(d.name for d in source.iterdir() if (d / image_folder).is_dir()) if source.is_dir() else []
    if not types:
        raise DatasetFormatError(f"{source}: expected one folder per defect type, each with {image_folder}/ "
                                 f"and {mask_folder}/")
    with staging_folder(target, "partial") as work:
        _convert_into(work / "data", source, types, image_folder, mask_folder)
        return move_into_place(work / "data", target)


def is_defect(binary: np.ndarray) -> np.ndarray:
    """The defect pixels of a binary mask (H, W) uint8: non-zero for a 0/1 mask; at least 128 for a 0/255 one,
    so that the faint values a compressed or anti-aliased mask holds around its edges are not taken for defect."""
    return binary > 0 if binary.max(initial=0) <= 1 else binary >= 128


def _convert_into(work: Path, source: Path, types: list[str], image_folder: str, mask_folder: str) -> None:
    """Fill ``work`` with the generic layout of ``source``'s type folders (see :func:`convert_type_folders`)."""
    (work / "img_dir").mkdir(parents=True)
    (work / "ann_dir").mkdir()
    written: dict[str, Path] = {}
    for label, defect_type in enumerate(types, start=1):
        pairs = _pairs(source / defect_type / image_folder, source / defect_type / mask_folder)
        for stem, image_path, mask_path in pairs:
            name = f"{defect_type}_{stem}"
            if name in written:
                raise DatasetFormatError(f"{image_path} and {written[name]} would both become {name}"
                                         f"{image_path.suffix.lower()} (and {name}.png): rename one of them")
            written[name] = image_path
            binary = cv2.imdecode(np.fromfile(mask_path, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
            if binary is None:
                raise ImageReadError(f"cannot decode mask: {mask_path}")
            shape = image_size(image_path)
            if binary.shape != shape:
                raise ImageReadError(f"mask {mask_path} has size {binary.shape}, its image {image_path} {shape}")
            shutil.copyfile(image_path, work / "img_dir" / (name + image_path.suffix.lower()))
            cv2.imwrite(str(work / "ann_dir" / (name + ".png")), np.where(is_defect(binary), label, 0).astype(np.uint8))
    (work / CLASS_FILE).write_text("\n".join(types) + "\n", encoding="utf-8")
