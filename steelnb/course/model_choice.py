"""Which DeepLabV3+ a budgeted ``python -m steelnb`` trains: the full-width model, or the lighter one
(:data:`profile.LIGHT_RECIPE`: :data:`profile.LIGHT_MODEL` with progressive resizing) where the time budget buys too
few epochs of the full one.

On a CPU without native bfloat16, or a slow one, the main job's budget may buy only two or three epochs of the
full-width model, which then stops far from where it would go. The lighter model costs half the FLOPs per image,
so the same minutes buy about 1.5x the epochs. Below :data:`MIN_FULL_EPOCHS` planned epochs of the full model the
main job trains the lighter one instead, when the model starts from random weights (the narrower last stage would
drop a ResNet's ImageNet weights for that stage, and the trade was measured from random weights only);
``benchmarks/levers.py --float32 --epochs 2 --lever light`` measures the trade in float32 at that length. The
choice is made once, before the first epoch, by timing the full model's steps the way the training loop plans its
budget (``training/budget.py``); the run keeps it (its folder name ends in ``-light`` and its checkpoints' config
holds the narrower widths), so a resumed or reloaded run never changes model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..data.index import SegmentationIndex
from ..models import build_model
from ..training.budget import plan_epochs
from ..training.device import default_device
from .experiment import training_set
from .profile import Profile

#: Fewer planned epochs of the full-width DeepLabV3+ than this, and a budgeted main job trains the lighter model.
MIN_FULL_EPOCHS = 4


@dataclass(frozen=True)
class BudgetPlan:
    """What the time budget buys of the full-width model on this machine: its planned ``epochs`` of
    ``train_steps`` steps and the timed ``step_s`` (seconds per training step of ``batch_size`` images), whether it
    loaded ImageNet weights (``pretrained``), and so whether to train the lighter one."""

    epochs: int
    step_s: float
    batch_size: int
    budget_s: float
    pretrained: bool
    train_steps: int

    @property
    def light(self) -> bool:
        """True where the budget buys fewer than :data:`MIN_FULL_EPOCHS` epochs of the full-width model and that
        model starts from random weights."""
        return self.epochs < MIN_FULL_EPOCHS and not self.pretrained

    def describe(self) -> str:
        """One line for the console: the plan, and the model it leads to."""
        plan = (f"the full-width DeepLabV3+ takes {self.step_s:.2f} s per training step of {self.batch_size} images "
                f"here, so the {self.budget_s / 60:.0f}-minute budget buys {self.epochs} epoch(s) of it")
        if self.light:
            return (f"{plan}, fewer than {MIN_FULL_EPOCHS}: training the lighter model instead (as --light does; "
                    "--full-width keeps the full one)")
        if self.epochs < MIN_FULL_EPOCHS:
            return f"{plan}; it starts from ImageNet weights, which the lighter model would partly drop: training it"
        return f"{plan}: training it"


def full_model_plan(profile: Profile, index: SegmentationIndex, split: dict[str, list[str]], architecture: str,
                    backbone: str, config_overrides: dict[str, Any], device: torch.device | None = None) -> BudgetPlan:
    """Time the full-width ``architecture`` on ``backbone`` (with ImageNet weights where they can be had, as the
    run will; on a random batch of the training input's shape) and plan its epochs in the profile's time budget,
    as the training loop's first plan does (``budget.plan_epochs``), with the run's recipe: the profile's and
    ``config_overrides`` (TrainConfig fields, e.g. ``amp=False`` for ``--float32``)."""
    device = device or default_device()
    budget_s = profile.recipe.time_budget_s
    if not budget_s:
        raise ValueError(f"profile {profile.name!r} trains a fixed number of epochs: there is no budget to plan")
    config = profile.train_config(len(split["train"]), **config_overrides)
    train_set, _ = training_set(index, split["train"], profile, config)  # with the augmented copies, as trained
    batch_shape = (config.batch_size, *train_set[0][0].shape)  # (N, C, H, W)
    model = build_model(architecture, backbone, index.num_classes)
    # the training loader drops its last partial batch (loop.make_loaders); validation keeps it
    train_steps = len(train_set) // config.batch_size if len(train_set) > config.batch_size else 1
    eval_batches = -(-len(split["val"]) // config.batch_size)
    epochs, step_s = plan_epochs(model, batch_shape, index.num_classes, device, config.amp, budget_s, train_steps,
                                 eval_batches, config.epochs)
    return BudgetPlan(epochs, step_s, config.batch_size, budget_s, model.pretrained, train_steps)
