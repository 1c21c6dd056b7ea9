"""One experiment = data split + model + training + test evaluation, as the notebooks run them.

Keeps the notebooks to a few lines: ``run_experiment(...)`` trains (or resumes, or reloads a
finished run) and scores the test split at the model's input size and at the original resolution.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from .checkpoint import load_weights
from .dataset import SteelDataset
from .index import SegmentationIndex
from .inference import predict_image_probs, predict_mask
from .metrics import MetricAccumulator, all_empty_scores, image_miou, summarize
from .models import build_model
from .paths import load_course_dataset
from .profile import Profile, current_profile
from .rle import SEVERSTAL_SHAPE
from .split import stratified_split
from .train import TrainConfig, default_device, evaluate, fit

#: Per-image mean IoU reported in the paper (Table 2).
PAPER_MIOU = {"baseline": 0.29, "resnet101": 0.57, "densenet201": 0.325, "efficientnet_b1": 0.57}


def course_split(index: SegmentationIndex, profile: Profile, seed: int = 0) -> dict[str, list[str]]:
    """The 80/10/10 stratified split, each part capped to its share of ``profile.max_images``."""
    split = stratified_split(index, seed=seed)
    if profile.max_images is None:
        return split
    caps = {"train": 0.8, "val": 0.1, "test": 0.1}
    rng = np.random.default_rng(seed)
    return {name: sorted(rng.permutation(ids)[:max(2, round(caps[name] * profile.max_images))].tolist())
            for name, ids in split.items()}


def course_setup(verbose: bool = True) -> tuple[Profile, SegmentationIndex, dict[str, list[str]]]:
    """What every notebook starts with: the run profile, the dataset (real or demo) and its split."""
    profile = current_profile()
    index = load_course_dataset(verbose)
    split = course_split(index, profile)
    if verbose:
        print(f"Profile {profile.name!r}: {profile.epochs} epoch(s), batch {profile.batch_size}, "
              f"input {profile.image_size[0]}x{profile.image_size[1]}; split "
              f"{len(split['train'])}/{len(split['val'])}/{len(split['test'])} train/val/test images; "
              f"figures go to {profile.figures_dir}")
    return profile, index, split


def native_geometry(index: SegmentationIndex, profile: Profile) -> tuple[tuple[int, int], int]:
    """Aspect-preserving (height, width) and training crop width for ``index``: the profile's
    ``native_size``/``crop_width`` are meant for 256x1600 strips and are scaled to other image sizes."""
    height, width = index.image_shape
    scale = profile.native_size[0] / SEVERSTAL_SHAPE[0]
    size = (round(height * scale), round(width * scale))
    return size, min(profile.crop_width, size[1])


@dataclass
class ExperimentResult:
    """What a notebook needs from a trained model."""

    name: str
    model: torch.nn.Module = field(repr=False)
    history: list[dict] = field(repr=False)
    counts: np.ndarray = field(repr=False)  # test pixel counts at the model's input size (N, C+1, 3)
    counts_original: np.ndarray = field(repr=False)  # test pixel counts at the original resolution
    run_dir: Path | None = None
    input_size: tuple[int, int] | None = None  # the (height, width) images are resized to for this model

    @property
    def per_image_iou(self) -> np.ndarray:
        """Paper-style per-image IoU of each test image (at the model's input size)."""
        return image_miou(self.counts)

    def row(self) -> dict[str, float | str]:
        """Summary numbers for a results table."""
        return {"trained backbone": self.model.backbone_name,
                **score_columns(summarize(self.counts), summarize(self.counts_original))}


def score_columns(scores: dict[str, float], original: dict[str, float], per_class: bool = True) -> dict[str, float]:
    """Results-table columns from :func:`summarize` at the model's input size and at the original size."""
    columns = {"mIoU": scores["miou"], "mIoU defects": scores["miou_defects"], "Dice": scores["dice"],
               "mIoU @orig": original["miou"], "Dice @orig": original["dice"]}
    if per_class:
        columns.update({f"IoU c{key[4:]}": value for key, value in scores.items()
                        if key.startswith("iou_") and key != "iou_0"})
    return columns


@torch.no_grad()
def original_resolution_counts(model: torch.nn.Module, index: SegmentationIndex, image_ids: list[str],
                               input_size: tuple[int, int] | None, tta: bool = False) -> np.ndarray:
    """Pixel counts of ``model`` on full-resolution masks: predictions are made at ``input_size`` and
    their probabilities resized back (None = feed the original image)."""
    return label_counts([predict_mask(model, index.image(i), input_size, tta=tta) for i in image_ids],
                        index, image_ids)


def split_probabilities(model: torch.nn.Module, index: SegmentationIndex, image_ids: list[str],
                        input_size: tuple[int, int] | None, output_size: tuple[int, int],
                        tta: bool = False) -> list[np.ndarray]:
    """Per image, float16 class probabilities (C+1, *output_size), for tuning post-processing."""
    return [predict_image_probs(model, index.image(i), input_size, tta, output_size).cpu().numpy().astype(np.float16)
            for i in image_ids]


def mask_at(index: SegmentationIndex, image_id: str, size: tuple[int, int]) -> np.ndarray:
    """The label mask of ``image_id`` resized (nearest) to ``size`` = (height, width)."""
    truth = index.mask(image_id)
    return truth if truth.shape == tuple(size) else cv2.resize(truth, size[::-1], interpolation=cv2.INTER_NEAREST)


def label_counts(labels: list[np.ndarray], index: SegmentationIndex, image_ids: list[str]) -> np.ndarray:
    """Pixel counts (N, C+1, 3) of predicted label masks against the truth resized (nearest) to their size."""
    accumulator = MetricAccumulator(index.num_classes)
    for label, image_id in zip(labels, image_ids):
        truth = mask_at(index, image_id, label.shape)
        accumulator.update(torch.from_numpy(label)[None], torch.from_numpy(truth)[None])
    return accumulator.counts


def run_experiment(name: str, index: SegmentationIndex, split: dict[str, list[str]], profile: Profile,
                   architecture: str = "deeplabv3plus", backbone: str = "resnet18", augment: bool = True,
                   native: bool = False, pretrained: bool = True, progress: bool = True,
                   **config_overrides) -> ExperimentResult:
    """Train ``architecture`` on ``backbone`` (resuming a checkpointed run of the same name), then score it.

    By default images are squashed to ``profile.image_size`` as in the paper; ``native=True`` keeps
    the aspect ratio instead: training on random ``profile.crop_width`` crops of the image resized to
    ``profile.native_size``, evaluation on the whole image at that size.
    ``config_overrides`` go into :class:`TrainConfig` (loss, class_weights, mixup_alpha, epochs, lr, ...).
    """
    device = default_device()
    config = TrainConfig(**{"epochs": profile.epochs, "batch_size": profile.batch_size, **config_overrides})
    size, crop_width = native_geometry(index, profile) if native else (profile.image_size, 0)
    train_set = SteelDataset(index, split["train"], mode="crop" if native else "resize", size=size,
                             crop_width=crop_width, augment_weights=(1.0, 1.0, 1.0) if augment else None,
                             seed=config.seed, cache=True)
    val_set = SteelDataset(index, split["val"], size=size, cache=True)
    test_set = SteelDataset(index, split["test"], size=size)
    torch.manual_seed(config.seed)
    model = build_model(architecture, backbone, index.num_classes, pretrained=pretrained)
    run_dir = profile.runs_dir / index.name / name
    history = fit(model, train_set, val_set, run_dir, config, index.num_classes, device, progress)
    load_weights(model, run_dir, "best")
    model.to(device)
    _, accumulator = evaluate(model, torch.utils.data.DataLoader(test_set, batch_size=config.batch_size),
                              index.num_classes, device)
    original = original_resolution_counts(model, index, split["test"], size)
    return ExperimentResult(name, model, history, accumulator.counts, original, run_dir, size)


def results_table(results: list[ExperimentResult], paper: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per experiment plus the all-empty prediction, with the paper's mIoU where it has one."""
    rows = {r.name: r.row() for r in results}
    if results:
        rows["all-empty prediction"] = score_columns(all_empty_scores(results[0].counts),
                                                     all_empty_scores(results[0].counts_original), per_class=False)
    table = pd.DataFrame.from_dict(rows, orient="index")
    if paper:
        table.insert(0, "paper mIoU", [paper.get(name, np.nan) for name in table.index])
    return table.round(3)
