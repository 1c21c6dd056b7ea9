"""One experiment = data split + model + training + test evaluation, as the notebooks run them.

``run_experiment(...)`` trains (or resumes, or reloads a finished run) and scores the test split at the
model's input size and at the original resolution; ``runs.train_run`` calls it for the course's named runs.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.index import SegmentationIndex, is_strip
from ..data.rle import SEVERSTAL_SHAPE
from ..data.torch_dataset import SteelDataset
from ..evaluation.inference import predict_mask
from ..evaluation.metrics import all_empty_scores, image_miou, summarize
from ..evaluation.score_line import ScoreLine
from ..evaluation.scoring import original_resolution_counts
from ..models import build_model, pca_whitened_stem, zero_init_residual_blocks
from ..training.checkpoint import load_weights, run_is_finished
from ..training.config import TrainConfig
from ..training.device import default_device
from ..training.distributed import from_main
from ..training.loop import evaluate, fit
from .job_budget import describe_budget, estimated_seconds, timed_images, training_budget_s
from .profile import Profile

#: Training images whose patches set a PCA-whitened stem (``TrainConfig.pca_stem``): 32 of 128x128 give 131,072
#: patches of the 7x7 stem for 147-dimensional statistics.
PCA_STEM_IMAGES = 32


def is_wide(index: SegmentationIndex) -> bool:
    """Whether the dataset's images are wide strips (width > 2 x height, like Severstal's 256x1600), the
    case where the paper's square resize squashes defects and native-aspect training can help."""
    return index.image_shape is not None and is_strip(index.image_shape)


def native_geometry(index: SegmentationIndex, profile: Profile) -> tuple[tuple[int, int], int]:
    """Aspect-preserving (height, width) and training crop width for ``index``: the profile's
    ``native_size``/``crop_width`` are meant for 256x1600 strips and are scaled to other image sizes."""
    height, width = index.image_shape
    scale = profile.native_size[0] / SEVERSTAL_SHAPE[0]
    size = (round(height * scale), round(width * scale))
    return size, min(profile.crop_width, size[1])


def training_set(index: SegmentationIndex, train_ids: list[str], profile: Profile, config: TrainConfig,
                 augment: bool = True, native: bool = False) -> tuple[SteelDataset, tuple[int, int]]:
    """The training images as :func:`run_experiment` trains on them, and the (height, width) every split is
    resized to: the paper's random weighted augmentation adds copies of the images (``augment``), so an epoch
    has more steps than the split has images; ``native`` keeps the aspect ratio and trains on crops,
    ``config.train_crop`` crops a square input, and ``config.train_zoom`` zooms each item in before it is cropped
    back to the input size.

    Raises:
        ValueError: ``config.train_crop`` with ``native``, which crops already.
    """
    size, crop_width = native_geometry(index, profile) if native else (profile.input_size(index.image_shape), 0)
    crop_height = None
    if config.train_crop is not None:
        if native:
            raise ValueError(f"train_crop {config.train_crop} is for square-input runs; a native-aspect run crops "
                             "already")
        crop_height, crop_width = config.train_crop
    return SteelDataset(index, train_ids, mode="crop" if crop_width else "resize", size=size, crop_width=crop_width,
                        crop_height=crop_height, augment_weights=(1.0, 1.0, 1.0) if augment else None,
                        seed=config.seed, cache=True, flips=config.flip_order(),
                        zoom=config.train_zoom), size


@dataclass(frozen=True)
class Caption:
    """What a figure shows, as fields; ``str`` gives "neu-seg, profile default, DeepLabV3+ resnet18 (random
    init), test mIoU 0.809"."""

    dataset: str
    profile: str
    architecture: str  # the model's title, e.g. "DeepLabV3+" or "baseline"
    backbone: str
    weights: str  # "ImageNet-pretrained" or "random init"
    test_miou: float

    @property
    def model(self) -> str:
        """The model part, e.g. "DeepLabV3+ resnet18 (random init)"."""
        return f"{self.architecture} {self.backbone} ({self.weights})"

    @property
    def setting(self) -> str:
        """Data, profile and model without the score, for figures that compare runs of one setting."""
        return f"{self.dataset}, profile {self.profile}, {self.model}"

    def __str__(self) -> str:
        return f"{self.setting}, test mIoU {self.test_miou:.3f}"


@dataclass
class ExperimentResult:
    """What a notebook needs from a trained model."""

    name: str
    model: torch.nn.Module = field(repr=False)
    history: list[dict] = field(repr=False)
    counts: np.ndarray = field(repr=False)  # scored split's pixel counts at the model's input size (N, C+1, 3)
    counts_original: np.ndarray = field(repr=False)  # scored split's pixel counts at the original resolution
    run_dir: Path | None = None
    input_size: tuple[int, int] | None = None  # the (height, width) images are resized to for this model
    scored_split: str = "test"  # the split the counts come from ("val" when recipes are being compared)
    tta: str = "none"  # the flip test-time augmentation of the scores (a key of inference.TTA_FLIPS)
    tta_scales: tuple[float, ...] = (1.0,)  # the input scales averaged in the original-resolution scores

    @property
    def per_image_iou(self) -> np.ndarray:
        """Paper-style per-image IoU of each test image (at the model's input size)."""
        return image_miou(self.counts)

    def row(self) -> dict[str, float | str]:
        """Summary numbers for a results table; ``note`` flags a model that predicts no defect at all."""
        scores = summarize(self.counts)
        return {"trained backbone": self.model.backbone_name, "epochs": len(self.history),
                **score_columns(scores, summarize(self.counts_original)),
                "note": "predicts no defect at all" if scores["defect_pixel_share"] == 0 else ""}

    def best_validation_score(self) -> float:
        """The best of the run's per-epoch validation scores (``val_selected`` in its history: the recipe's
        ``select_on`` score, class-mean defect IoU by default, the one that chose the weights it holds)."""
        return max(h["val_selected"] for h in self.history)

    def score_line(self) -> ScoreLine:
        """The test scores at the original resolution, beside the all-empty prediction (printed as one line)."""
        return ScoreLine.from_counts(self.counts_original)

    def caption(self, index: SegmentationIndex, profile: Profile) -> Caption:
        """What a figure or table of this result shows: data, profile, model, weights and test mIoU."""
        return Caption(index.title, profile.name, self.model.title, self.model.backbone_name,
                       "ImageNet-pretrained" if self.model.pretrained else "random init",
                       summarize(self.counts_original)["miou"])

    def prediction_rows(self, index: SegmentationIndex, image_ids: list[str]) -> list[dict[str, np.ndarray]]:
        """For :func:`plots.plot_examples`: image, ground truth and this model's prediction, at original size, with
        the flip and multi-scale test-time augmentation its scores were computed with."""
        return [{"image": index.image(i), "ground truth": index.mask(i),
                 "prediction": predict_mask(self.model, index.image(i), self.input_size, self.tta, self.tta_scales)}
                for i in image_ids]


def examples_by_iou(per_image_iou: np.ndarray, image_ids: list[str], has_defect: np.ndarray) -> list[tuple[str, str, float]]:
    """The best, median and worst images by per-image IoU among those with a defect in the ground truth
    (among all images when fewer than three have one, so that the three differ where they can): a list of
    (rule, image_id, IoU)."""
    candidates = np.flatnonzero(has_defect) if has_defect.sum() >= 3 else np.arange(len(image_ids))
    order = candidates[np.argsort(per_image_iou[candidates], kind="stable")]
    picks = {"best": order[-1], "median": order[len(order) // 2], "worst": order[0]}
    return [(rule, image_ids[i], float(per_image_iou[i])) for rule, i in picks.items()]


def score_columns(scores: dict[str, float], original: dict[str, float], per_class: bool = True) -> dict[str, float]:
    """Results-table columns from :func:`summarize` at the model's input size and at the original size."""
    columns = {"mIoU": scores["miou"], "mIoU defects": scores["miou_defects"], "Dice": scores["dice"],
               "mIoU @orig": original["miou"], "Dice @orig": original["dice"],
               "class-mean defect IoU @orig": original["class_iou_defects"],
               "dataset mIoU @orig": original["dataset_miou"],
               "defect px predicted": scores["defect_pixel_share"]}
    if per_class:
        columns.update({f"IoU c{key[4:]}": value for key, value in scores.items()
                        if key.startswith("iou_") and key != "iou_0"})
    return columns


def run_experiment(name: str, index: SegmentationIndex, split: dict[str, list[str]], profile: Profile,
                   architecture: str, backbone: str, augment: bool = True,
                   native: bool = False, pretrained: bool = True, progress: bool = True,
                   score_on: str = "test", tta: str = "none", tta_scales: tuple[float, ...] = (1.0,),
                   job_deadline: float | None = None, **config_overrides) -> ExperimentResult:
    """Train ``architecture`` on ``backbone`` (resuming a checkpointed run of the same name), then score it.

    By default images are squashed to the profile's input size as in the paper; ``native=True`` keeps
    the aspect ratio instead: training on random ``profile.crop_width`` crops of the image resized to
    ``profile.native_size``, evaluation on the whole image at that size. A ``train_crop`` override trains on
    random crops of that (height, width) of the square input instead, evaluating whole inputs.
    ``config_overrides`` go into :class:`TrainConfig` (loss, class_weights, mixup_alpha, epochs,
    time_budget_s, lr, ...) on top of the profile's recipe. The trained model scores the split ``score_on``
    ("test"; "val" compares recipes without looking at the test split) with the flip test-time augmentation
    ``tta`` (a key of ``inference.TTA_FLIPS``); at the original resolution, also with the multi-scale
    test-time augmentation ``tta_scales`` (factors of the input size, ``inference.predict_image_probs``).
    ``job_deadline`` (a ``time.perf_counter`` instant, the main job's) replaces a time budget by what is left
    until then after the scoring, timed beforehand on a few of the scored images (``course/job_budget.py``).
    """
    device = default_device()
    config = profile.train_config(len(split["train"]), **config_overrides)
    train_set, size = training_set(index, split["train"], profile, config, augment, native)
    val_set = SteelDataset(index, split["val"], size=size, cache=True)
    if not split[score_on]:  # found now, not after the training
        raise ValueError(f"run {name!r}: the {score_on} split of {index.name} has no images (empty split): nothing "
                         "to score")
    torch.manual_seed(config.seed)
    decoder_options = {name: value for name, value in (("aspp_rates", config.aspp_rates),
                                                        ("width", config.decoder_width)) if value is not None}
    model = build_model(architecture, backbone, index.num_classes, pretrained=pretrained,
                        last_stage_width=config.last_stage_width, aux_head=config.aux_weight > 0,
                        **decoder_options)
    for option in ("zero_init_residual", "pca_stem"):
        if getattr(config, option) and model.pretrained:
            raise ValueError(f"run {name!r}: {option} is for random initial weights; it would erase the ImageNet "
                             "weights this model loaded")
    if config.zero_init_residual and not zero_init_residual_blocks(model.encoder):
        raise ValueError(f"run {name!r}: zero_init_residual needs a ResNet backbone; {backbone} has no residual blocks")
    if config.pca_stem:
        stem_images = SteelDataset(index, split["train"][:PCA_STEM_IMAGES], size=size)
        pca_whitened_stem(model.encoder, torch.stack([stem_images[i][0] for i in range(len(stem_images))]))
    run_dir = profile.runs_dir / index.name / name
    model.to(device)

    def score(image_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return score_images(model, index, image_ids, size, config.batch_size, tta, tta_scales)
    if job_deadline is not None and config.time_budget_s and not run_is_finished(run_dir):
        # fit reseeds every random stream, so the untrained model's scoring here changes nothing it trains
        scoring_s, now = estimated_seconds(score, split[score_on]), time.perf_counter()
        config = replace(config, time_budget_s=from_main(training_budget_s(job_deadline, now, scoring_s)))
        if progress:
            print(describe_budget(job_deadline, now, scoring_s, len(timed_images(split[score_on]))))
    history = fit(model, train_set, val_set, run_dir, config, index.num_classes, device, progress,
                  data={**index.fingerprint(), "split": {name: list(ids) for name, ids in split.items()}})
    load_weights(model, run_dir, "best")
    model.to(device)
    counts, original = score(split[score_on])
    return ExperimentResult(name, model, history, counts, original, run_dir, size, score_on, tta, tta_scales)


def score_images(model: torch.nn.Module, index: SegmentationIndex, image_ids: list[str], size: tuple[int, int],
                 batch_size: int, tta: str = "none", tta_scales: tuple[float, ...] = (1.0,)
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Pixel counts (N, C+1, 3) of ``model`` on ``image_ids``: at the input ``size`` (height, width), in batches of
    ``batch_size``, with the flip test-time augmentation ``tta``; and at the original resolution, with ``tta`` and
    the multi-scale ``tta_scales`` too. In float32, like every inference helper: mixed precision only speeds up
    training."""
    _, accumulator = evaluate(model, torch.utils.data.DataLoader(SteelDataset(index, image_ids, size=size),
                                                                 batch_size=batch_size),
                              index.num_classes, default_device(), amp=False, tta=tta)
    return accumulator.counts, original_resolution_counts(model, index, image_ids, size, tta, tta_scales)


def results_table(results: list[ExperimentResult], paper: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per experiment plus the all-empty prediction, with the paper's Table 2 mIoU where it has one."""
    rows = {r.name: r.row() for r in results}
    if results:
        rows["all-empty prediction"] = score_columns(all_empty_scores(results[0].counts),
                                                     all_empty_scores(results[0].counts_original), per_class=False)
    table = pd.DataFrame.from_dict(rows, orient="index")
    if paper:
        table.insert(0, "paper mIoU", [paper.get(name, np.nan) for name in table.index])
    return table.round(3)


def chosen_on_validation(results: Sequence[ExperimentResult]) -> ExperimentResult:
    """The result with the best validation score (:meth:`ExperimentResult.best_validation_score`): how a chapter
    picks the model it analyses, browses or exports, so that the test split it shows is only scored, never used to
    choose (a model picked by its test score would look better on that split than it is).

    Raises:
        ValueError: ``results`` is empty.
    """
    if not results:
        raise ValueError("no results to choose from")
    return max(results, key=lambda result: result.best_validation_score())
