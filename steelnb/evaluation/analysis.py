"""Error analysis: which defects a model misses, by class and by size."""
from __future__ import annotations

import numpy as np
import pandas as pd


def defect_table(counts: np.ndarray, image_ids: list[str]) -> pd.DataFrame:
    """One row per (image, defect class) present in the truth or the prediction, from pixel counts
    (N, C+1, 3): true and predicted pixels, IoU, and whether it is a miss or a false alarm."""
    rows = []
    for i, image_id in enumerate(image_ids):
        for c in range(1, counts.shape[1]):
            inter, pred_px, true_px = (int(v) for v in counts[i, c])
            if pred_px or true_px:
                rows.append({"image_id": image_id, "class": c, "true_px": true_px, "pred_px": pred_px,
                             "iou": inter / (pred_px + true_px - inter)})
    table = pd.DataFrame(rows, columns=["image_id", "class", "true_px", "pred_px", "iou"])
    table["outcome"] = np.select([table.true_px == 0, table.pred_px == 0], ["false alarm", "missed"], "found")
    return table


def iou_by_size(table: pd.DataFrame, bins: tuple[float, ...] = (0, 500, 2000, 8000, np.inf)) -> pd.DataFrame:
    """Mean IoU and miss rate of the true defects, per class and per true-area bin (pixels)."""
    truth = table[table.true_px > 0].copy()
    labels = [f"<{int(b)}" if np.isfinite(b) else f">={int(a)}" for a, b in zip(bins[:-1], bins[1:], strict=True)]
    truth["size"] = pd.cut(truth.true_px, bins, right=False, labels=labels)
    grouped = truth.groupby(["class", "size"], observed=True)
    return pd.DataFrame({"defects": grouped.size(), "mean IoU": grouped.iou.mean(),
                         "missed": grouped.apply(lambda g: (g.outcome == "missed").mean(), include_groups=False)}).round(3)


