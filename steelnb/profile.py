"""Run profiles: how much work a notebook does, chosen from the environment.

* ``smoke`` (``STEELNB_SMOKE=1`` or ``CI`` set): tiny subsets, two short epochs, figures to
  ``runs/smoke/figures`` so the committed ``figures/`` are never overwritten. Each notebook < 2 min.
* ``default`` (no GPU): small sibling backbones (ResNet18 for ResNet101, ...) from 128x128 inputs,
  trained for a wall-clock budget rather than a fixed epoch count, so a run on real data (NEU-Seg:
  3,129 training images) ends in minutes on a 2-core CPU and a small dataset simply gets more epochs.
* ``full`` (a CUDA GPU): the paper's settings: its backbones, 256x256, SGD lr 0.01, batch 16, 30 epochs.

``STEELNB_PROFILE`` forces one of them. Runs (checkpoints) go to ``runs/<profile>/``, or under
``STEELNB_RUNS`` when it is set (on Colab, :func:`colab.prepare_colab` points it at Google Drive).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .env import switch_is_on
from .paths import PROJECT_ROOT

#: The paper's backbones and the smaller sibling used on CPU.
CPU_SIBLING = {"resnet101": "resnet18", "densenet201": "densenet121", "efficientnet_b1": "efficientnet_b0"}

#: The paper's recipe: SGD, lr 0.01, momentum 0.9, weight decay 1e-4, plain cross-entropy, poly decay.
PAPER_RECIPE: dict[str, Any] = {"optimizer": "sgd", "lr": 0.01, "weight_decay": 1e-4, "loss": "ce", "warmup_iters": 0}

#: The CPU recipe, for random initial weights and a budget of minutes (every value chosen on NEU-Seg validation).
CPU_RECIPE: dict[str, Any] = {
    "optimizer": "adamw",   # from random weights, Adam reaches in 3 epochs what SGD lr 0.01 needs 10+ for
    "lr": 2e-3,
    "weight_decay": 1e-4,
    "warmup_iters": 100,    # Adam's first steps on random BN statistics are noisy; ramp up over ~1 min
    "loss": "ce+dice",      # the Dice term keeps rare, tiny defects from being drowned by background pixels
}


@dataclass(frozen=True)
class Profile:
    """Settings shared by the notebooks; ``recipe`` goes into :class:`steelnb.train.TrainConfig`."""

    name: str
    max_images: int | None  # cap on the images used (None = all)
    epochs: int  # the epoch count, or the most epochs a time budget may use
    batch_size: int
    image_size: tuple[int, int]  # (height, width) of the paper's squashed input; never above an image's own size
    paper_backbones: bool  # False: use CPU_SIBLING instead of the paper's backbones
    figures_dir: Path
    runs_dir: Path
    time_budget_s: float | None = None  # training + validation seconds per run (None: train ``epochs``)
    recipe: dict[str, Any] = field(default_factory=lambda: dict(PAPER_RECIPE))
    native_size: tuple[int, int] = (256, 1600)  # aspect-preserving size for native-aspect experiments
    crop_width: int = 512  # training crop width at native_size

    def backbone(self, paper_backbone: str) -> str:
        """The backbone to train for one of the paper's (itself in the full profile, else its small sibling)."""
        return paper_backbone if self.paper_backbones else CPU_SIBLING.get(paper_backbone, paper_backbone)

    def input_size(self, image_shape: tuple[int, int] | None) -> tuple[int, int]:
        """The model input (height, width) for images of ``image_shape``: the profile's size, but never
        upsampled beyond the images' own size (a multiple of 16, the models' output stride)."""
        if image_shape is None:
            return self.image_size
        return tuple(min(want, max(16, have // 16 * 16)) for want, have in zip(self.image_size, image_shape, strict=True))

    def comparison_overrides(self) -> dict[str, Any]:
        """TrainConfig overrides for the many-variant comparisons (chapter 12): a sixth of the time budget
        per variant (on NEU-Seg about one epoch each), so five variants take about one chapter run."""
        return {"time_budget_s": self.time_budget_s / 6} if self.time_budget_s else {}

    def train_config(self, train_images: int, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for TrainConfig: the recipe, the epochs and time budget, and a batch size
        that still gives at least 8 steps per epoch on a small training set."""
        batch = max(2, min(self.batch_size, train_images // 8))
        return {**self.recipe, "epochs": self.epochs, "batch_size": batch, "time_budget_s": self.time_budget_s,
                **overrides}


def current_profile() -> Profile:
    """The profile for this run (see module docstring)."""
    name = os.environ.get("STEELNB_PROFILE")
    if name is None:
        if switch_is_on("STEELNB_SMOKE") or os.environ.get("CI"):
            name = "smoke"
        else:
            name = "full" if torch.cuda.is_available() else "default"
    runs = Path(os.environ.get("STEELNB_RUNS", PROJECT_ROOT / "runs"))  # checkpoints: on Colab, Google Drive
    if name == "smoke":
        return Profile(name="smoke", max_images=40, epochs=2, batch_size=8, image_size=(128, 128),
                       paper_backbones=False, figures_dir=runs / "smoke" / "figures", runs_dir=runs / "smoke",
                       recipe=dict(CPU_RECIPE, warmup_iters=2),  # 2 epochs of ~4 steps: a short ramp
                       native_size=(64, 400), crop_width=128)
    if name == "default":
        return Profile(name="default", max_images=None,
                       epochs=40,  # an upper bound: the budget decides (a 400-image set gets all 40)
                       batch_size=16,  # 30% more images/s than 8 on CPU, and steadier BN statistics
                       image_size=(128, 128), paper_backbones=False,
                       figures_dir=PROJECT_ROOT / "figures", runs_dir=runs / "default",
                       # + loading and test scoring (about 1 min on 2 cores): the main job ends within 20 min
                       time_budget_s=16 * 60,
                       recipe=dict(CPU_RECIPE), native_size=(128, 800), crop_width=256)
    if name == "full":
        return Profile(name="full", max_images=None, epochs=30, batch_size=16, image_size=(256, 256),
                       paper_backbones=True, figures_dir=PROJECT_ROOT / "figures", runs_dir=runs / "full",
                       # worker processes decode and augment while the GPU trains (pinned, persistent: train.py)
                       recipe=dict(PAPER_RECIPE, num_workers=min(8, os.cpu_count() or 1)))
    raise ValueError(f"STEELNB_PROFILE must be smoke, default or full, not {name!r}")
