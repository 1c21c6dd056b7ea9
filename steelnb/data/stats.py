"""Per-class statistics of a dataset, as in the paper's data analysis (notebook 01)."""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from torch.utils.data import Dataset

from .index import SegmentationIndex

#: Counts from the full Kaggle train.csv (12,568 images), for comparison with a run on the real data.
KAGGLE_REFERENCE = pd.DataFrame(
    {"images": [897, 247, 5150, 801], "region_share": [0.126, 0.035, 0.726, 0.113]},
    index=pd.Index([1, 2, 3, 4], name="class"))
KAGGLE_DEFECT_FREE_SHARE = 5902 / 12568


def class_statistics(index: SegmentationIndex, image_ids: list[str] | None = None) -> pd.DataFrame:
    """One row per defect class: how many images hold it ("regions" in the paper: one per image-class
    pair), its share of those regions, its pixel area and share of all defect pixels, mean segments
    per image holding it, and the median segment size in pixels.

    Decodes every defect mask once (about 2 ms per Severstal image).
    """
    image_ids = index.image_ids if image_ids is None else list(image_ids)
    presence = index.presence(image_ids)
    pixels = np.zeros(index.num_classes - 1)
    segments: list[list[int]] = [[] for _ in range(index.num_classes - 1)]
    segment_sizes: list[list[int]] = [[] for _ in range(index.num_classes - 1)]
    for image_id in np.array(image_ids)[presence.any(axis=1)]:
        mask = index.mask(image_id)
        for c in np.unique(mask[mask > 0]):
            binary = (mask == c).astype(np.uint8)
            n, _, cc_stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
            pixels[c - 1] += binary.sum()
            segments[c - 1].append(n - 1)
            segment_sizes[c - 1] += cc_stats[1:, cv2.CC_STAT_AREA].tolist()
    images = presence.sum(axis=0)
    table = pd.DataFrame({
        "name": index.class_names, "images": images, "region_share": images / max(images.sum(), 1),
        "pixels": pixels.astype(np.int64), "area_share": pixels / max(pixels.sum(), 1),
        "segments_per_image": [np.mean(s) if s else 0.0 for s in segments],
        "median_segment_px": [float(np.median(s)) if s else 0.0 for s in segment_sizes],
    }, index=pd.Index(range(1, index.num_classes), name="class"))
    return table


def defect_free_share(index: SegmentationIndex) -> float:
    """Fraction of images with no defect at all."""
    return float((~index.presence().any(axis=1)).mean())


def label_pixel_counts(dataset: Dataset, num_classes: int) -> np.ndarray:
    """Pixels of each label 0..``num_classes``-1 over every mask of ``dataset`` ((image, mask) pairs, e.g. a
    ``SteelDataset`` at the model's input size): int64 (num_classes,)."""
    masks = [dataset[i][1].numpy().ravel() for i in range(len(dataset))]
    return np.bincount(np.concatenate(masks), minlength=num_classes)
