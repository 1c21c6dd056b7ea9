"""One training step or inference forward as a callable, and its timing: what the time budget, the
benchmarks and the notebooks' speed tables all measure."""
from __future__ import annotations

import copy
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .precision import mixed_precision


def model_step(model: nn.Module, images: torch.Tensor, target: torch.Tensor | None = None,
               optimizer: torch.optim.Optimizer | None = None, device: torch.device | None = None,
               amp: bool = False) -> Callable[[], None]:
    """A function of no arguments that runs ``model`` once on ``images`` (N, C, H, W): with ``optimizer``
    a full training step (forward, cross-entropy against ``target`` (N, H, W), backward, step), without
    it an inference forward. ``amp`` runs the forward in the mixed precision of ``training/precision.py``."""
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


def counted_flops(step: Callable[[], None]) -> int:
    """FLOPs of one call of ``step`` (a :func:`model_step`), as ``torch.utils.flop_counter`` counts them:
    convolutions and matrix products, forward and backward (a multiply-add is 2 FLOPs); elementwise work
    (batch norm, ReLU, the optimiser) is not counted."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


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


def time_model(model: nn.Module, batch_shape: tuple[int, ...], num_classes: int, train: bool,
               device: torch.device | str = "cpu", amp: bool = False, steps: int = 5, warmup: int = 1) -> np.ndarray:
    """Seconds of each of ``steps`` optimiser steps (``train``) or inference forwards of ``model`` on a random
    batch of ``batch_shape`` (N, 1, H, W) with labels 0..``num_classes``-1, after ``warmup`` untimed ones.

    It runs on a copy of ``model`` with its own random generator, so the caller's weights, batch-norm
    statistics and mode, and the global RNG, are the same afterwards (a training step on noise would
    otherwise shift the batch-norm statistics of the model you then train or evaluate)."""
    device = torch.device(device)
    probe = copy.deepcopy(model).to(device).train(train)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(batch_shape, generator=generator).to(device)
    target = torch.randint(0, num_classes, (batch_shape[0], *batch_shape[2:]), generator=generator).to(device)
    optimizer = torch.optim.SGD(probe.parameters(), lr=0.0) if train else None
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        return time_calls(model_step(probe, images, target, optimizer, device, amp), steps, warmup, device)


def images_per_second(model: nn.Module, shape: tuple[int, int], batch_size: int = 1, steps: int = 5,
                      train: bool = False, device: torch.device | str = "cpu", warmup: int = 1) -> float:
    """Measured throughput of ``model`` on random (batch, 1, H, W) inputs: eval forward or a full SGD step.
    It times a copy, so ``model`` is unchanged afterwards (:func:`steps.time_model`)."""
    times = time_model(model, (batch_size, 1, *shape), 2, train, device, steps=steps, warmup=warmup)
    return steps * batch_size / float(times.sum())
