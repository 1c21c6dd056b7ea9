"""Every named run of the course, defined once: ``python -m steelnb``, ``gpu-check`` and chapters 04 to 13
train or reload them by name.

A run's name is its folder under ``<runs>/<profile>/<dataset>/``; a finished run is reloaded by any
chapter that names it, never trained twice. The profile fills in what a name leaves open: the backbone
(the paper's, or its CPU sibling), the input size and the recipe.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..data.index import SegmentationIndex
from ..data.stats import label_pixel_counts
from ..data.torch_dataset import SteelDataset
from ..training.config import TrainConfig
from ..training.loop import small_epochs, trained_scale
from ..training.losses import inverse_frequency_weights
from .experiment import ExperimentResult, run_experiment
from .paper import PAPER_MIOU
from .profile import PAPER_IMAGE_SIZE, Profile


@dataclass(frozen=True)
class RunSpec:
    """What one named run trains. ``overrides`` are TrainConfig fields on top of the profile's recipe;
    ``comparison`` gives it the shorter budget of the many-variant comparisons (chapter 12);
    ``class_weights_from_data`` weights the cross-entropy by inverse label frequency in the training split."""

    name: str
    chapter: str  # the chapter that introduces it
    architecture: str = "deeplabv3plus"
    paper_backbone: str = "resnet101"
    overrides: dict[str, Any] = field(default_factory=dict)
    native: bool = False
    comparison: bool = False
    class_weights_from_data: bool = False


#: The named runs, by name.
RUNS: dict[str, RunSpec] = {spec.name: spec for spec in (
    RunSpec("baseline", "04", architecture="baseline"),
    RunSpec("resnet101", "05"),
    RunSpec("densenet201", "06", paper_backbone="densenet201"),
    RunSpec("efficientnet_b1", "07", paper_backbone="efficientnet_b1"),
    RunSpec("resnet101-native", "10", native=True),
    RunSpec("CE + Dice", "12", overrides={"loss": "ce+dice"}, comparison=True),
    RunSpec("CE (paper)", "12", overrides={"loss": "ce"}, comparison=True),
    RunSpec("weighted CE", "12", overrides={"loss": "ce"}, comparison=True, class_weights_from_data=True),
    RunSpec("focal", "12", overrides={"loss": "focal"}, comparison=True),
    RunSpec("mixup", "12", overrides={"mixup_alpha": 0.4}, comparison=True),
)}

#: The run ``python -m steelnb`` trains for each architecture: chapter 05's DeepLabV3+ (the paper's main model) and
#: chapter 04's baseline, so a run finished in a chapter is reloaded by the command and the other way round.
MAIN_RUN = {"deeplabv3plus": "resnet101", "baseline": "baseline"}



def main_run(architecture: str = "deeplabv3plus") -> RunSpec:
    """The run ``python -m steelnb`` trains for ``architecture`` (:data:`MAIN_RUN`): its backbone, recipe and
    folder name are the ones the benchmarks time and train."""
    return RUNS[MAIN_RUN[architecture]]




def training_class_weights(index: SegmentationIndex, train_ids: list[str], profile: Profile) -> tuple[float, ...]:
    """Inverse-frequency (power 1/2) weights of the labels' pixel counts in the training split at the
    profile's input size, one per label including background (``losses.inverse_frequency_weights``)."""
    masks = SteelDataset(index, train_ids, size=profile.input_size(index.image_shape))
    return inverse_frequency_weights(label_pixel_counts(masks, index.num_classes))


def backbone_run_name(architecture: str, backbone: str) -> str:
    """The folder name of ``architecture`` trained on a ``backbone`` that the profile would not choose
    (``python -m steelnb --backbone B``), e.g. "deeplabv3plus-mobilenet_v3_large"."""
    return f"{architecture}-{backbone}"


def fixed_epochs_run_name(run_name: str, epochs: int, variant: str = "") -> str:
    """The folder name of ``run_name`` trained for a fixed ``epochs`` instead of the profile's time budget, with
    an optional ``variant`` suffix. ``python -m steelnb --epochs N`` and the benchmarks that train the main job
    for fixed epochs (levers, scaling) share it, so each reloads the runs the others finished."""
    return f"{run_name}-{epochs}epochs" + (f"-{variant}" if variant else "")


def seeded_run_name(run_name: str, seed: int | None) -> str:
    """The folder name of ``run_name`` trained with random seed ``seed`` (``python -m steelnb --seed S``): the
    recipe's own seed, or None for it, keeps the plain name, so ``--seed 0`` reloads the course's run."""
    return run_name if seed is None or seed == TrainConfig.seed else f"{run_name}-seed{seed}"


def training_minutes(history: list[dict]) -> float:
    """A run's minutes by the training loop's own clock, from its ``history`` (one dict per epoch): every epoch's
    training and validation."""
    return sum(epoch["seconds"] for epoch in history) / 60


def input_size_images(history: list[dict]) -> float:
    """A run's training images counted at the input size's cost, from its ``history`` (one dict per epoch): each
    epoch's images times its ``train_scale`` squared (the share of the input size's pixels its batches had), so an
    image of a 0.75x epoch of progressive resizing counts 0.5625. A convolutional network's FLOPs scale with the
    pixels, so this times the FLOPs of one input-size image is the run's training compute."""
    return sum(h.get("train_images", 0) * trained_scale(h) ** 2 for h in history)


def training_summary(history: list[dict], light: bool = False) -> str:
    """One line on what a finished training did, from its ``history`` (one dict per epoch): the epochs, the
    images seen (and, where some epochs trained on smaller batches, the images of the input size they cost the
    pixels of: :func:`input_size_images`), the training minutes and the machine's load (1-minute average, min-max
    over the epochs), so a budgeted run can be repeated with ``--epochs`` (and ``--last-epoch-steps`` when its last
    epoch was cut short, and ``--light`` when it trained the lighter model, which a fixed length would not choose
    by itself, with ``--small-epochs`` for the epochs it trained on smaller batches, which its plan fixed when it
    switched to the input size) and a slow one told from a busy machine."""
    seen = sum(h.get("train_images", 0) for h in history)
    pixels = input_size_images(history)
    smaller = f" (the pixels of {pixels:,.0f} at the input size)" if round(pixels) != seen else ""
    loads = [h["load_1min"] for h in history if "load_1min" in h]
    load = f", load {min(loads):.1f}-{max(loads):.1f}" if loads else ""
    cut = history[-1].get("planned_last_epoch_steps") if history else None
    small = len(small_epochs(history))
    repeat = (("--light " if light else "") + f"--epochs {len(history)}" + (f" --last-epoch-steps {cut}" if cut else "")
              + (f" --small-epochs {small}" if light and small else ""))
    return (f"Trained {len(history)} epochs, {seen:,} images seen{smaller}, "
            f"{training_minutes(history):.1f} min of training and validation{load} "
            f"(repeat its length with {repeat}).")


def train_run(name: str, index: SegmentationIndex, split: dict[str, list[str]], profile: Profile,
              progress: bool = True, backbone: str | None = None, run_name: str | None = None,
              score_on: str = "test", tta: str = "none", tta_scales: tuple[float, ...] = (1.0,),
              job_deadline: float | None = None, **config_overrides: Any) -> ExperimentResult:
    """Train (or resume, or reload) the run ``name`` of :data:`RUNS` on ``index`` and score its test split.

    ``backbone`` replaces the profile's choice and ``config_overrides`` (TrainConfig fields) go on top of the
    run's own. Both change what is trained, so such a run needs its own folder name, ``run_name``
    (``python -m steelnb --backbone B --epochs N`` appends them to the name). ``score_on``, ``tta`` and
    ``tta_scales`` say which split the trained model scores and with which flip and multi-scale test-time
    augmentation (``run_experiment``); ``job_deadline`` is the main job's (``run_experiment``)."""
    if name not in RUNS:
        raise KeyError(f"no run named {name!r}; the course's runs are {', '.join(RUNS)}")
    spec = RUNS[name]
    overrides = dict(spec.overrides)
    if spec.comparison:
        overrides.update(profile.comparison_overrides())
    if spec.class_weights_from_data:
        overrides["class_weights"] = training_class_weights(index, split["train"], profile)
    overrides.update(config_overrides)
    return run_experiment(run_name or name, index, split, profile, spec.architecture,
                          backbone or profile.backbone(spec.paper_backbone), native=spec.native, progress=progress,
                          score_on=score_on, tta=tta, tta_scales=tta_scales, job_deadline=job_deadline, **overrides)


def paper_vs_ours(results: Sequence[ExperimentResult], index: SegmentationIndex, profile: Profile) -> pd.DataFrame:
    """One row per result that the paper reports: its per-image mIoU and setting beside ours (per-image mIoU at
    the original resolution, with the data, profile, model and initial weights it comes from)."""
    rows = {}
    for result in results:
        spec = RUNS.get(result.name)
        if spec is None or result.name not in PAPER_MIOU:
            continue
        caption = result.caption(index, profile)
        rows[result.name] = {
            "paper mIoU": PAPER_MIOU[result.name],
            "paper setting": f"Severstal, {PAPER_IMAGE_SIZE[0]}x{PAPER_IMAGE_SIZE[1]}, {spec.paper_backbone} "
                             "(ImageNet-pretrained), GPU",
            "our mIoU": round(caption.test_miou, 3),
            "our setting": f"{caption.dataset}, profile {caption.profile}, {caption.backbone} ({caption.weights})",
        }
    return pd.DataFrame.from_dict(rows, orient="index")
