"""Fit a training run into a wall-clock budget: how many epochs this machine can do in N seconds.

Instead of a fixed epoch count, a run can be given ``time_budget_s``. Before the first epoch a few
training steps and one evaluation batch are timed on a throw-away copy of the model, with random
inputs of the real batch shape, and the first plan of the epoch count is set so that training plus
per-epoch validation fits the budget. After every epoch the training loop re-plans from the epochs'
measured times (``loop.replanned_length``), because the machine's load in the first seconds says little
about the next minutes, and cuts the final epoch to the steps that still fit, so the run ends within the
budget rather than up to an epoch short of it; the learning-rate decay follows each plan (``loop.WarmupPoly``)
and ends at zero on the last step. The plan is saved
with the run, so a resumed run keeps it.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .timing import time_model

#: Data loading, augmentation and bookkeeping on top of the timed model steps (measured: 5-15% on CPU).
OVERHEAD = 1.15


def seconds_per_step(model: nn.Module, batch_shape: tuple[int, ...], num_classes: int, train: bool,
                     device: torch.device, amp: bool = True, steps: int = 4, warmup: int = 2) -> float:
    """Seconds of one optimiser step (``train``) or one inference forward of ``model`` on a random batch
    (N, 1, H, W), in the mixed precision that training will use (``amp``): the fastest of ``steps``
    timed repetitions, which a passing load on the machine does not inflate. The model is copied, so
    its weights, statistics and the global RNG are untouched (:func:`steps.time_model`)."""
    return float(time_model(model, batch_shape, num_classes, train, device, amp, steps, warmup).min())


def epochs_for_budget(budget_s: float, train_steps: int, step_s: float, eval_batches: int, eval_s: float,
                      max_epochs: int) -> int:
    """Epochs (at least 1, at most ``max_epochs``) whose training steps and validation fit ``budget_s``."""
    epoch_s = OVERHEAD * (train_steps * step_s + eval_batches * eval_s)
    return max(1, min(max_epochs, math.floor(budget_s / epoch_s)))


def plan_epochs(model: nn.Module, batch_shape: tuple[int, ...], num_classes: int, device: torch.device, amp: bool,
                budget_s: float, train_steps: int, eval_batches: int, max_epochs: int) -> tuple[int, float]:
    """(epochs, seconds per training step): time ``model``'s training step and inference forward on a random
    batch of ``batch_shape`` (N, C, H, W) in the precision training will use (``amp``), then fit epochs of
    ``train_steps`` steps and ``eval_batches`` validation batches into ``budget_s`` (:func:`epochs_for_budget`)."""
    step_s = seconds_per_step(model, batch_shape, num_classes, True, device, amp)
    eval_s = seconds_per_step(model, batch_shape, num_classes, False, device, amp)
    return epochs_for_budget(budget_s, train_steps, step_s, eval_batches, eval_s, max_epochs), step_s
