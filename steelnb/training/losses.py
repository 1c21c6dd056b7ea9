"""Losses: cross-entropy (the paper), class-weighted cross-entropy, soft Dice, focal (the paper's future work),
Lovász-softmax (a convex surrogate of the IoU itself) and online hard example mining (cross-entropy of the hardest
pixels only)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class DiceLoss(nn.Module):
    """1 - mean soft Dice over the defect classes (background excluded), from logits (N, C+1, H, W)."""

    def __init__(self, smooth: float = 1.0) -> None:
        super().__init__()
        self.smooth = smooth

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probs = logits.softmax(1)[:, 1:]
        onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2)[:, 1:].to(probs.dtype)
        inter = (probs * onehot).sum((0, 2, 3))
        total = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
        return 1 - ((2 * inter + self.smooth) / (total + self.smooth)).mean()


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_true)^gamma to focus on hard pixels."""

    def __init__(self, gamma: float = 2.0, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits, 1)
        ce = F.nll_loss(log_p, target, weight=self.weight, reduction="none")
        p_true = log_p.gather(1, target[:, None])[:, 0].exp()
        return ((1 - p_true) ** self.gamma * ce).mean()


class SumOfLosses(nn.Module):
    """The sum of loss terms on the same logits (N, C+1, H, W) and target (N, H, W): "ce+dice" pairs cross-entropy,
    which gives every pixel a gradient from the start, with soft Dice, the usual pairing for small structures;
    "ce+lovasz" pairs it with Lovász-softmax, which aligns the end of training with the IoU; "ohem+dice" keeps
    only the hard pixels' cross-entropy (:class:`HardPixelCELoss`)."""

    def __init__(self, *terms: nn.Module) -> None:
        super().__init__()
        self.terms = nn.ModuleList(terms)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(term(logits, target) for term in self.terms)


def lovasz_gradient(truth_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovász extension of the Jaccard loss at pixels sorted by decreasing error: for a
    0/1 vector (P,) of whether each sorted pixel is in the class, the increments of 1 - IoU as the pixels
    are added to the predicted set one by one (Berman et al. 2018, eq. 8). Sums to 1 - IoU of all pixels."""
    in_class = truth_sorted.sum()
    intersection = in_class - truth_sorted.cumsum(0)
    union = in_class + (1 - truth_sorted).cumsum(0)
    jaccard = 1 - intersection / union
    return torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])


class LovaszSoftmaxLoss(nn.Module):
    """Lovász-softmax (Berman et al. 2018): per label present in the batch's truth, the Lovász extension of
    1 - IoU evaluated at the pixel errors |1[truth = c] - p_c|, averaged over those labels. On a confident
    (one-hot) prediction it equals 1 - IoU exactly, so it optimises the score we report, not a proxy.
    Logits (N, C+1, H, W), labels (N, H, W); the whole batch is one set of pixels."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probs = logits.softmax(1).permute(0, 2, 3, 1).reshape(-1, logits.shape[1])  # (P, C+1)
        labels = target.reshape(-1)                                                 # (P,)
        losses = []
        for label in labels.unique():
            truth = (labels == label).to(probs.dtype)
            errors, order = (truth - probs[:, label]).abs().sort(descending=True)
            losses.append(torch.dot(errors, lovasz_gradient(truth[order])))
        return torch.stack(losses).mean()


class HardPixelCELoss(nn.Module):
    """Online hard example mining (Shrivastava et al. 2016; bootstrapped cross-entropy, Wu et al. 2016): the mean
    cross-entropy of the ``keep`` share of a batch's pixels with the largest loss. On steel, most pixels are
    background the model gets right after a few hundred steps; their small losses stop diluting the gradient of
    the thin, rare defects and their edges."""

    def __init__(self, keep: float = 0.25, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        if not 0 < keep <= 1:
            raise ValueError(f"keep must be a share of the pixels in (0, 1], not {keep}")
        self.keep = keep
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        losses = F.cross_entropy(logits, target, weight=self.weight, reduction="none").flatten()  # (N*H*W,)
        return losses.topk(max(1, round(self.keep * losses.numel())), sorted=False).values.mean()


def inverse_frequency_weights(pixel_counts: Sequence[float], power: float = 0.5) -> tuple[float, ...]:
    """Class weights proportional to frequency^-power, normalised so the mean weight is 1."""
    counts = np.maximum(np.asarray(pixel_counts, dtype=float), 1.0)
    weights = (counts / counts.sum()) ** -power
    return tuple((weights / weights.mean()).round(4).tolist())


def build_loss(name: str, num_classes: int, class_weights: Sequence[float] | None = None,
               focal_gamma: float = 2.0) -> nn.Module:
    """"ce", "focal", "dice", "ce+dice", "lovasz", "ce+lovasz" or "ohem+dice" (the cross-entropy of the hardest quarter
    of the pixels, + Dice); ``class_weights`` (length num_classes) weight the CE terms and ``focal_gamma`` is the
    focal loss's exponent (0 makes it plain cross-entropy)."""
    weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights is not None else None
    if weight is not None and len(weight) != num_classes:
        raise ValueError(f"class_weights has {len(weight)} entries, expected {num_classes}")
    def ce() -> nn.Module:
        return nn.CrossEntropyLoss(weight=weight)

    losses = {"ce": ce, "focal": lambda: FocalLoss(focal_gamma, weight), "dice": DiceLoss,
              "ce+dice": lambda: SumOfLosses(ce(), DiceLoss()), "lovasz": LovaszSoftmaxLoss,
              "ce+lovasz": lambda: SumOfLosses(ce(), LovaszSoftmaxLoss()),
              "ohem+dice": lambda: SumOfLosses(HardPixelCELoss(weight=weight), DiceLoss())}
    if name not in losses:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(losses)}")
    return losses[name]()
