"""Run profiles: how much work a notebook does, chosen from the environment.

* ``smoke`` (``STEELNB_SMOKE=1`` or ``CI`` on): tiny subsets, two short epochs. Each notebook < 2 min.
* ``default`` (no GPU): small sibling backbones (ResNet18 for ResNet101, ...) from 128x128 inputs,
  trained for a wall-clock budget rather than a fixed epoch count, so a run on real data (NEU-Seg:
  3,129 training images) ends in minutes on a 2-core CPU and a small dataset simply gets more epochs.
* ``full`` (a CUDA GPU): the paper's settings: its backbones, 256x256, SGD lr 0.01, batch 16, 30 epochs.

``STEELNB_PROFILE`` forces one of them. Runs (checkpoints) go to ``<runs>/<profile>/``, where ``<runs>``
is :func:`env.runs_root` (``runs/`` in the course, ``STEELNB_RUNS``, or Google Drive on Colab), and the
figures and tables to ``<runs>/<profile>/figures`` (or ``STEELNB_FIGURES``), so that the course's committed
``figures/`` are never overwritten: only ``python -m steelnb report --reference`` re-makes those.

A profile is the one source of its settings: the input size, the backbones, and the training recipe as a
:class:`TrainConfig` (epochs, batch size, time budget, optimizer, loss, ...). The paper's recipe is
TrainConfig's defaults; the CPU recipe changes five of them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..data.index import DEMO, SegmentationIndex
from ..data.rle import SEVERSTAL_SHAPE
from ..data.torch_dataset import NATIVE_CROP_WIDTH
from ..env import PROJECT_ROOT, runs_root, switch_is_on
from ..models import OUTPUT_STRIDE
from ..training.config import TrainConfig

#: The paper's backbones and the smaller sibling used on CPU.
CPU_SIBLING = {"resnet101": "resnet18", "densenet201": "densenet121", "efficientnet_b1": "efficientnet_b0"}

#: The paper's input: every 256x1600 image squashed to 256x256.
PAPER_IMAGE_SIZE = (256, 256)

#: The paper's recipe (TrainConfig's defaults): SGD, lr 0.01, momentum 0.9, weight decay 1e-4, batch 16,
#: 30 epochs, plain cross-entropy, poly decay.
PAPER_RECIPE = TrainConfig()

#: The CPU recipe, for random initial weights and a budget of minutes (every value chosen on NEU-Seg validation).
CPU_RECIPE = replace(
    PAPER_RECIPE,
    optimizer="adamw",  # from random weights, Adam reaches in 3 epochs what SGD lr 0.01 needs 10+ for
    lr=2e-3,
    warmup_iters=100,   # Adam's first steps on random BN statistics are noisy; ramp up over ~1 min
    loss="ce+dice",     # the Dice term keeps rare, tiny defects from being drowned by background pixels
    flip_augment=True,  # +1.4 to +2.0 points on every NEU-Seg validation score at the same cost (benchmarks/levers.py)
)

#: The lighter DeepLabV3+ for a CPU time budget (``python -m steelnb --light``): ResNet's last stage at 256 planes and
#: a 128-channel decoder, half the training FLOPs per image. Measured on NEU-Seg's validation split at the same
#: training time (``benchmarks/levers.py --lever light``): +0.016 ± 0.006 class-mean defect IoU over 2 seeds.
LIGHT_MODEL = {"last_stage_width": 256, "decoder_width": 128}

#: Progressive resizing: the first half of the epochs train on batches resized to 0.75x the input size (96x96 for
#: 128x128, 0.56x the pixels, so about 0.6x the time), the rest at the input size. Measured on NEU-Seg's validation
#: split on top of the lighter model, 8 such epochs against its 6 at the input size (``benchmarks/levers.py --base
#: light --lever light_progressive``, 2 seeds): a gain beyond the seed noise in float32 and in bfloat16, on two
#: CPUs (docs/benchmarks.md).
PROGRESSIVE_RESIZING = {"early_scale": 0.75, "early_share": 0.5}

#: What ``python -m steelnb --light`` (or a budget that chooses the lighter model) trains: TrainConfig fields on top
#: of the run's own, the lighter model with progressive resizing.
LIGHT_RECIPE = {**LIGHT_MODEL, **PROGRESSIVE_RESIZING}


def light_model_options() -> dict[str, int]:
    """``build_model`` keyword arguments that build :data:`LIGHT_MODEL` (its decoder width goes to the decoder as
    ``width``), for scripts that build the lighter model outside a training run."""
    return {"last_stage_width": LIGHT_MODEL["last_stage_width"], "width": LIGHT_MODEL["decoder_width"]}


@dataclass(frozen=True)
class Profile:
    """Settings shared by the notebooks and ``python -m steelnb``."""

    name: str
    max_images: int | None  # cap on the images used (None = all)
    image_size: tuple[int, int]  # (height, width) of the paper's squashed input; never above an image's own size
    paper_backbones: bool  # False: use CPU_SIBLING instead of the paper's backbones
    figures_dir: Path
    runs_dir: Path
    recipe: TrainConfig  # epochs (a maximum under ``time_budget_s``), batch size, optimizer, loss, ...
    native_size: tuple[int, int] = SEVERSTAL_SHAPE  # aspect-preserving size for native-aspect experiments
    crop_width: int = NATIVE_CROP_WIDTH  # training crop width at native_size
    main_job_tta: str = "none"  # flip test-time augmentation of the main job's test scores (inference.TTA_FLIPS)
    #: multi-scale test-time augmentation of the main job's test scores at the original resolution: factors of the
    #: input size whose (flip-TTA) probabilities are averaged (inference.predict_image_probs); (1.0,): none
    main_job_tta_scales: tuple[float, ...] = (1.0,)
    #: the main job's wall-clock target in seconds (``python -m steelnb`` without ``--epochs``): it trains for what
    #: setup and its test scoring leave of it (``course/job_budget.py``) instead of ``recipe.time_budget_s``, which
    #: the chapters' runs keep; None: the recipe's budget or epochs
    main_job_s: float | None = None

    def backbone(self, paper_backbone: str) -> str:
        """The backbone to train for one of the paper's (itself in the full profile, else its small sibling)."""
        return paper_backbone if self.paper_backbones else CPU_SIBLING.get(paper_backbone, paper_backbone)

    def input_size(self, image_shape: tuple[int, int] | None) -> tuple[int, int]:
        """The model input (height, width) for images of ``image_shape``: the profile's size, but never
        upsampled beyond the images' own size (a multiple of the models' output stride)."""
        if image_shape is None:
            return self.image_size
        return tuple(min(want, max(OUTPUT_STRIDE, have // OUTPUT_STRIDE * OUTPUT_STRIDE))
                     for want, have in zip(self.image_size, image_shape, strict=True))

    def for_dataset(self, index: SegmentationIndex) -> Profile:
        """This profile with the figures folder for the dataset ``index``: figures of the synthetic demo data go to
        a ``demo/`` subfolder, so that they never replace the real data's figures of the same name."""
        return replace(self, figures_dir=self.figures_dir / DEMO) if index.is_demo else self

    def training_length(self) -> str:
        """How long each run trains, in words: the time budget and its epoch cap (and the main job's target, where it
        has one), or the epoch count."""
        if self.recipe.time_budget_s:
            target = f"; the main job: its {self.main_job_s / 60:.0f}-minute target" if self.main_job_s else ""
            return (f"{self.recipe.time_budget_s / 60:.0f} min of training per chapter run (at most {self.recipe.epochs} "
                    f"epochs{target})")
        return f"{self.recipe.epochs} epoch(s)"

    def comparison_overrides(self) -> dict[str, Any]:
        """TrainConfig overrides for the many-variant comparisons (chapter 12): a sixth of the time budget
        per variant (on NEU-Seg about one epoch each), so five variants take about one chapter run."""
        return {"time_budget_s": self.recipe.time_budget_s / 6} if self.recipe.time_budget_s else {}

    def train_config(self, train_images: int, **overrides: Any) -> TrainConfig:
        """The recipe for a training split of ``train_images`` images, with ``overrides`` (TrainConfig fields)
        on top: the batch size (the recipe's, or a ``batch_size`` override) shrinks so that a small training set
        still gives at least 8 steps per epoch."""
        batch = max(2, min(overrides.pop("batch_size", self.recipe.batch_size), train_images // 8))
        return replace(self.recipe, **overrides, batch_size=batch)


#: The course's own reference figures and tables (and ``report.html``), which only
#: ``python -m steelnb report --reference`` re-makes.
REFERENCE_FIGURES = PROJECT_ROOT / "figures"


def figures_root() -> Path | None:
    """Where figures and tables go when ``STEELNB_FIGURES`` names a folder (``report --reference`` sets it for
    the chapters it runs, to :data:`REFERENCE_FIGURES`); None: beside the runs, ``<runs>/<profile>/figures``."""
    chosen = os.environ.get("STEELNB_FIGURES")
    return Path(chosen) if chosen else None


#: The profiles' names: ``STEELNB_PROFILE`` takes one of them.
PROFILE_NAMES = ("smoke", "default", "full")


def profile_named(name: str) -> Profile:
    """The profile called ``name`` (one of :data:`PROFILE_NAMES`), its runs under ``<runs>/<name>/``.

    Raises:
        ValueError: ``name`` is not a profile; the message lists them.
    """
    runs = runs_root()
    figures = figures_root() or runs / name / "figures"  # beside the runs, never over the course's figures/
    if name == "smoke":
        return Profile(name="smoke", max_images=40, image_size=(128, 128), paper_backbones=False,
                       figures_dir=figures, runs_dir=runs / "smoke",
                       recipe=replace(CPU_RECIPE, epochs=2, batch_size=8,
                                      warmup_iters=2),  # 2 epochs of ~4 steps: a short ramp
                       native_size=(64, 400), crop_width=128, main_job_tta="hv", main_job_tta_scales=(1.0, 1.375))
    if name == "default":
        return Profile(name="default", max_images=None, image_size=(128, 128), paper_backbones=False,
                       figures_dir=figures, runs_dir=runs / "default",
                       recipe=replace(CPU_RECIPE,
                                      epochs=40,  # an upper bound: the budget decides (a 400-image set gets all 40)
                                      batch_size=16,  # 30% more images/s than 8 on CPU, and steadier BN statistics
                                      time_budget_s=16 * 60),  # each chapter's run; the main job's is main_job_s
                       native_size=(128, 800), crop_width=256,
                       # +1.5 to +2.1 points on every validation score of NEU-Seg (benchmarks/levers.py, README)
                       main_job_tta="hv",
                       # + the image at 176x176 too: +0.008 to +0.009 class-mean defect IoU on NEU-Seg validation,
                       # the best of 10 sets on both seeds (benchmarks/tta_scales.py, docs/benchmarks.md)
                       main_job_tta_scales=(1.0, 1.375),
                       # setup, training and test scoring; benchmarks/main_job.py records its wall and training minutes
                       main_job_s=20 * 60)
    if name == "full":
        return Profile(name="full", max_images=None, image_size=PAPER_IMAGE_SIZE, paper_backbones=True,
                       figures_dir=figures, runs_dir=runs / "full",
                       # worker processes decode and augment while the GPU trains (pinned, persistent: training/loop.py)
                       recipe=replace(PAPER_RECIPE, num_workers=min(8, os.cpu_count() or 1)))
    raise ValueError(f"STEELNB_PROFILE must be one of {', '.join(PROFILE_NAMES)}, not {name!r}")


def current_profile() -> Profile:
    """The profile for this run (see module docstring)."""
    name = os.environ.get("STEELNB_PROFILE")
    if name is None:
        if switch_is_on("STEELNB_SMOKE") or switch_is_on("CI"):  # CI=false or CI=0 is off, a typo an error
            name = "smoke"
        else:
            name = "full" if torch.cuda.is_available() else "default"
    return profile_named(name)
