"""One training step or inference forward as a callable, and its timing: what the time budget, the
benchmarks and the notebooks' speed tables all measure."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .precision import mixed_precision


def model_step(model: nn.Module, images: torch.Tensor, target: torch.Tensor | None = None,
               optimizer: torch.optim.Optimizer | None = None, device: torch.device | None = None,
               amp: bool = False) -> Callable[[], None]:
    """A function of no arguments that runs ``model`` once on ``images`` (N, C, H, W): with ``optimizer``
    a full training step (forward, cross-entropy against ``target`` (N, H, W), backward, step), without
    it an inference forward. ``amp`` runs the forward in the mixed precision of ``precision.py``."""
    device = device or images.device

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with mixed_precision(device, amp):
            logits = model(images)
        nn.functional.cross_entropy(logits.float(), target).backward()
        optimizer.step()

    def forward() -> None:
        with torch.inference_mode(), mixed_precision(device, amp):
            model(images)

    return train_step if optimizer is not None else forward


def time_calls(step: Callable[[], None], steps: int, warmup: int, device: torch.device) -> np.ndarray:
    """Seconds of each of ``steps`` calls of ``step`` after ``warmup`` untimed ones (CUDA synchronised)."""
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return np.array(times)
