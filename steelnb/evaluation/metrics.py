"""Segmentation metrics: the per-image mean IoU (our reading of the paper's "mean IoU"), per-class IoU and
Kaggle's mean Dice.

All work from per-image, per-class pixel counts, so a whole test set is summarised from a
small (n_images, C+1, 3) table. Rules for empty masks, stated once:

* **Per-image mIoU** (our reading of the paper's metric; chapter 08 shows it probably averaged otherwise): for
  each image, the mean IoU over the labels that appear in the prediction *or* the ground truth, background
  included by default. Labels absent from both are skipped (neither rewarded nor penalised). An image is thus
  scored 1.0 when it is defect-free and predicted defect-free. With ``include_background=False`` an image with
  no defect in either mask scores 1.0.
* **Per-class IoU**: intersection over union of each label summed over the whole set.
* **Kaggle Dice**: mean over (image, defect class) pairs of 2|P∩G| / (|P|+|G|), 1.0 when both are empty.

Always compare against :func:`all_empty_scores`, the score of predicting "no defect" everywhere:
with background counted, that trivial prediction already scores high on defect-poor data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

#: The name each key of :func:`summarize` goes by in the course's tables, figures and glossary.
METRIC_NAMES = {"miou": "per-image mIoU", "miou_defects": "defect mIoU", "dice": "Kaggle Dice",
                "class_iou_defects": "class-mean defect IoU", "dataset_miou": "dataset mIoU"}

def pixel_counts(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per image and label: (intersection, predicted area, true area) in pixels.

    Args:
        pred, target: int label maps (N, H, W) with values 0..num_classes-1.

    Returns:
        int64 tensor (N, num_classes, 3).
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    n = pred.shape[0]
    pred, target = pred.reshape(n, -1).long(), target.reshape(n, -1).long()
    offsets = torch.arange(n, device=pred.device)[:, None] * num_classes
    size = n * num_classes
    inter = torch.bincount((offsets + target)[pred == target], minlength=size)
    pred_area = torch.bincount((offsets + pred).ravel(), minlength=size)
    true_area = torch.bincount((offsets + target).ravel(), minlength=size)
    return torch.stack([inter, pred_area, true_area], dim=1).view(n, num_classes, 3).cpu()


def image_miou(counts: np.ndarray | torch.Tensor, include_background: bool = True) -> np.ndarray:
    """The per-image mean IoU, shape (N,), from :func:`pixel_counts` (rules in the module docstring)."""
    counts = np.asarray(counts, dtype=np.float64)
    if not include_background:
        counts = counts[:, 1:]
    inter, pred_area, true_area = counts[..., 0], counts[..., 1], counts[..., 2]
    union = pred_area + true_area - inter
    present = union > 0
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=present)
    n_present = present.sum(axis=1)
    return np.where(n_present > 0, iou.sum(axis=1) / np.maximum(n_present, 1), 1.0)


def class_iou(counts: np.ndarray | torch.Tensor) -> np.ndarray:
    """IoU of each label over the whole set, shape (C+1,); NaN for a label absent from both."""
    totals = np.asarray(counts, dtype=np.float64).sum(axis=0)
    union = totals[:, 1] + totals[:, 2] - totals[:, 0]
    return np.divide(totals[:, 0], union, out=np.full(len(union), np.nan), where=union > 0)


def dataset_miou(counts: np.ndarray | torch.Tensor, include_background: bool = True) -> float:
    """Dataset-level mIoU: :func:`class_iou` averaged over the labels (background optional).

    This is how NEU-Seg results are usually reported (PGA-Net with background included; the
    "class-mean defect IoU" without it). A label absent from both prediction and truth everywhere
    is skipped; an all-background prediction scores 0 on the defect classes.
    """
    per_class = class_iou(counts)
    per_class = per_class if include_background else per_class[1:]
    return float(np.nanmean(per_class)) if np.isfinite(per_class).any() else float("nan")


def kaggle_dice(counts: np.ndarray | torch.Tensor) -> float:
    """Kaggle Severstal score: mean Dice over (image, defect class) pairs, empty-vs-empty = 1."""
    counts = np.asarray(counts, dtype=np.float64)[:, 1:]
    inter, denominator = counts[..., 0], counts[..., 1] + counts[..., 2]
    dice = np.divide(2 * inter, denominator, out=np.ones_like(inter), where=denominator > 0)
    return float(dice.mean())


def summarize(counts: np.ndarray | torch.Tensor) -> dict[str, float]:
    """Headline numbers: mIoU (paper, per image), mIoU of defect classes only (per image), Kaggle Dice,
    the dataset-level class-mean IoU of the defect classes and of all labels, and per-class IoU."""
    per_class = class_iou(counts)
    result = {"miou": float(image_miou(counts).mean()),
              "miou_defects": float(image_miou(counts, include_background=False).mean()),
              "dice": kaggle_dice(counts),
              "class_iou_defects": dataset_miou(counts, include_background=False),
              "dataset_miou": dataset_miou(counts),
              "defect_pixel_share": defect_pixel_share(counts)}
    result.update({f"iou_{c}": float(v) for c, v in enumerate(per_class)})
    return result


def defect_pixel_share(counts: np.ndarray | torch.Tensor) -> float:
    """Share of all pixels predicted as any defect class; 0.0 means the model predicts no defect at all."""
    totals = np.asarray(counts, dtype=np.float64).sum(axis=0)
    return float(totals[1:, 1].sum() / max(totals[:, 1].sum(), 1.0))


def all_empty_counts(counts: np.ndarray | torch.Tensor) -> np.ndarray:
    """The counts an all-background prediction would get on the same ground truth."""
    counts = np.asarray(counts)
    true_area = counts[..., 2]
    empty = np.zeros_like(counts)
    empty[..., 2] = true_area
    empty[:, 0, 1] = true_area.sum(axis=1)  # every pixel predicted background
    empty[:, 0, 0] = true_area[:, 0]
    return empty


def _label_iou(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image and label, IoU (0 where the label is absent from both masks) and whether it is present."""
    inter, pred_area, true_area = counts[..., 0], counts[..., 1], counts[..., 2]
    union = pred_area + true_area - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0), union > 0


#: Four per-image mIoU definitions a paper may mean by "mean IoU", by the name tables show them under.
MIOU_DEFINITIONS = ("ours: labels in prediction or truth", "ours, defect images only",
                    "all labels, absent = 0", "defect labels, absent = 0")


def miou_definitions(counts: np.ndarray | torch.Tensor) -> dict[str, float]:
    """The split's mean of per-image mIoU under each of :data:`MIOU_DEFINITIONS`, from counts (N, C+1, 3):

    * ours (:func:`image_miou`): the labels present in the prediction or the truth, background included,
      so a defect-free image predicted defect-free scores 1;
    * ours over the images whose truth holds a defect (NaN when none does);
    * the mean over all C+1 labels, a label absent from both masks scoring 0 (a defect-free image
      predicted defect-free scores 1 / (C+1));
    * the same over the C defect labels only (predicting no defect scores 0 on every image).
    """
    counts = np.asarray(counts, dtype=np.float64)
    ours = image_miou(counts)
    has_defect = counts[:, 1:, 2].sum(axis=1) > 0
    iou, _ = _label_iou(counts)
    return dict(zip(MIOU_DEFINITIONS, (
        float(ours.mean()),
        float(ours[has_defect].mean()) if has_defect.any() else float("nan"),
        float(iou.mean(axis=1).mean()),
        float(iou[:, 1:].mean(axis=1).mean()),
    ), strict=True))


def all_empty_scores(counts: np.ndarray | torch.Tensor) -> dict[str, float]:
    """:func:`summarize` of the trivial "no defect anywhere" prediction, to print beside every result."""
    return summarize(all_empty_counts(counts))


@dataclass
class MetricAccumulator:
    """Collects :func:`pixel_counts` over batches; ``counts`` is (n_images, C+1, 3)."""

    num_classes: int
    _batches: list[torch.Tensor] = field(default_factory=list)

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of label maps (N, H, W)."""
        self._batches.append(pixel_counts(pred, target, self.num_classes))

    @property
    def counts(self) -> np.ndarray:
        if not self._batches:
            return np.zeros((0, self.num_classes, 3), dtype=np.int64)
        return torch.cat(self._batches).numpy()
