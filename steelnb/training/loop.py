"""Training loop with per-epoch validation, checkpoints every epoch and automatic resume.

Defaults follow the paper: SGD, lr 0.01, momentum 0.9, weight decay 1e-4, batch 16, with a
polynomial (power 0.9) learning-rate decay per iteration as in DeepLab. Profiles may change the
recipe (the CPU profile trains from random weights with AdamW, a short warm-up and CE + Dice, see
``course/profile.py``). CUDA when available, CPU otherwise; mixed precision
(``amp``) as set out in ``training/precision.py``.

Calling :func:`fit` again on the same ``run_dir`` continues where the last finished epoch left off,
with the full history; a finished run returns at once. ``last.pt`` is written after every epoch and
the one before it is kept as ``previous.pt``, so a ``last.pt`` corrupted by a crash or a full disk
falls back one epoch (with a warning) instead of stopping the run.

The best epoch (``best.pt``) is chosen on ``select_on``, by default the validation class-mean IoU of
the defect classes: a model that predicts no defect at all scores 0 there and can never be chosen
over one that finds defects. On a tie the later epoch wins.
"""
from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from tqdm.auto import tqdm

from ..env import commit_description
from ..evaluation.inference import inference_model, predict_probs
from ..evaluation.metrics import MetricAccumulator, all_empty_scores, summarize
from .budget import plan_epochs
from .checkpoint import RunCheckpoints, RunFolderReadOnlyError, hold_run_folder, run_is_finished, save_atomic
from .config import TrainConfig
from .device import default_device, prepare_device
from .distributed import World, barrier, current_world, from_main, gather_objects, parallel_model, sum_across
from .losses import build_loss
from .machine import cpu_model
from .precision import make_grad_scaler, mixed_precision
from .seeding import rng_state, seed_everything, set_rng_state


@torch.inference_mode()
def evaluate(model: nn.Module, loader: DataLoader, num_classes: int, device: torch.device | None = None,
             loss_fn: nn.Module | None = None, amp: bool = True, tta: str = "none") -> tuple[float, MetricAccumulator]:
    """Mean loss (NaN without ``loss_fn``) and the per-image pixel counts of ``model`` on ``loader``, computed by
    its copy with the batch norms folded (``inference.inference_model``; ``model`` keeps its mode) (``amp``:
    mixed precision as in ``training/precision.py``, the same switch as training's). With flip
    test-time augmentation ``tta`` (``inference.TTA_FLIPS``) the counts come from the averaged probabilities
    and the loss is that of the plain prediction."""
    device = device or default_device()
    model = inference_model(model)  # batch norms folded: the same logits up to rounding, in less time
    accumulator, total_loss, n = MetricAccumulator(num_classes), 0.0, 0
    for images, masks in loader:
        images, masks = images.to(device, non_blocking=True), masks.to(device, non_blocking=True)
        with mixed_precision(device, amp):
            logits = model(images) if tta == "none" or loss_fn is not None else None  # TTA makes its own
            labels = logits.argmax(1) if tta == "none" else predict_probs(model, images, tta).argmax(1)
        if loss_fn is not None:
            total_loss += float(loss_fn(logits.float(), masks)) * len(images)
        n += len(images)
        accumulator.update(labels, masks)
    return (total_loss / n if loss_fn is not None else float("nan")), accumulator


def _mixup(images: torch.Tensor, masks: torch.Tensor, alpha: float):
    """Mixup for segmentation: blend image pairs with lam ~ Beta(alpha, alpha); the loss is blended too."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    order = torch.randperm(len(images), device=images.device)
    return lam * images + (1 - lam) * images[order], masks, masks[order], lam


def _mixed_loss(loss_fn: nn.Module, logits: torch.Tensor, masks_a: torch.Tensor, masks_b: torch.Tensor,
                lam: float) -> torch.Tensor:
    """``loss_fn`` of ``logits`` (N, K, H, W) against mixup's two label maps (N, H, W), weighted ``lam`` and
    1 - ``lam``; against ``masks_a`` alone where ``lam`` is 1 (no mixup)."""
    if lam == 1.0:
        return loss_fn(logits, masks_a)
    return lam * loss_fn(logits, masks_a) + (1 - lam) * loss_fn(logits, masks_b)


def resized_batch(images: torch.Tensor, masks: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` (N, C, H, W) area-averaged and ``masks`` (N, H, W) class indices resized (nearest) to ``scale``
    times their height and width, rounded; both as they are for ``scale`` 1."""
    if scale == 1.0:
        return images, masks
    size = (round(images.shape[-2] * scale), round(images.shape[-1] * scale))
    small_masks = F.interpolate(masks[:, None].float(), size=size, mode="nearest")[:, 0].long()
    return F.interpolate(images, size=size, mode="area"), small_masks


def _train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler, loss_fn: nn.Module,
                 config: TrainConfig, device: torch.device, description: str, progress: bool,
                 ema: AveragedModel | None = None, max_steps: int | None = None,
                 scale: float = 1.0) -> tuple[float, int]:
    """One pass over ``loader`` with optimiser steps (each followed by an update of ``ema``, if given), cut
    short after ``max_steps`` steps when given (a time budget's final, partial epoch), on batches resized by
    ``scale`` (:func:`resized_batch`); returns the summed training loss (per image) and the number of images."""
    model.train()
    total_loss, seen = 0.0, 0
    batches = loader if max_steps is None else itertools.islice(loader, max_steps)
    for images, masks in tqdm(batches, desc=description, disable=not progress, leave=False,
                              total=max_steps or len(loader)):
        images, masks = images.to(device, non_blocking=True), masks.to(device, non_blocking=True)
        images, masks = resized_batch(images, masks, scale)
        with mixed_precision(device, config.amp):
            if config.mixup_alpha > 0:
                images, masks_a, masks_b, lam = _mixup(images, masks, config.mixup_alpha)
            else:
                masks_a, masks_b, lam = masks, masks, 1.0
            loss = _mixed_loss(loss_fn, model(images).float(), masks_a, masks_b, lam)
            core = getattr(model, "module", model)  # DDP keeps the model in .module
            if core.aux_logits is not None:  # set by that forward; cleared, so no copy of the model holds the graph
                loss = loss + config.aux_weight * _mixed_loss(loss_fn, core.aux_logits.float(), masks_a, masks_b, lam)
                core.aux_logits = None
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        total_loss += loss.item() * len(images)
        seen += len(images)
    return total_loss, seen


def weight_average(model: nn.Module, config: TrainConfig) -> AveragedModel | None:
    """The exponential moving average of ``model``'s weights and batch-norm statistics that
    ``config.ema_decay`` asks for: after each step, average = decay * average + (1 - decay) * weights
    (the first step copies them). None when the decay is 0."""
    if not config.ema_decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)


#: Where PyTorch has a fused AdamW kernel that ``build_optimizer`` uses (elsewhere, e.g. MPS, its default form).
FUSED_ADAMW_DEVICES = ("cpu", "cuda")


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum (the paper) or AdamW, with ``config``'s learning rate and weight decay. AdamW runs its
    fused kernel on CPU and CUDA parameters: the same update in one pass over the parameters, 0.13-0.17x the
    time of the default multi-tensor form on the main job's model (``benchmarks/optimizer_step.py``)."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        fused = next(model.parameters()).device.type in FUSED_ADAMW_DEVICES
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                 fused=fused or None)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose 'sgd' or 'adamw'")


class WarmupPoly:
    """Learning-rate factor per iteration: linear from 1/warmup to 1 over ``warmup_iters``, then
    (1 - progress)^power down to 0 at the last planned iteration (DeepLab's poly schedule).

    A time-budgeted run re-plans its length at epoch boundaries (:meth:`replan`): the progress then goes on
    from where it is, without a jump, and reaches 1 at the new last iteration. ``segments`` holds each plan as
    (first iteration, progress there, last iteration); LambdaLR saves it with the scheduler's state, so a
    resumed run keeps its plans."""

    def __init__(self, total_iters: int, warmup_iters: int = 0, power: float = 0.9) -> None:
        self.warmup_iters, self.power = warmup_iters, power
        self.segments: list[tuple[int, float, int]] = [(warmup_iters, 0.0, total_iters)]

    def progress(self, iteration: int) -> float:
        """How far the decay is at ``iteration``: 0 after the warm-up, 1 at the last planned iteration."""
        start, at_start, end = next(s for s in reversed(self.segments) if s[0] <= iteration or s is self.segments[0])
        return min(1.0, at_start + (1.0 - at_start) * max(0, iteration - start) / max(1, end - start))

    def replan(self, iteration: int, total_iters: int) -> None:
        """From ``iteration`` on (the end of the warm-up at the earliest), decay to 0 at ``total_iters`` instead,
        continuously."""
        start = max(iteration, self.warmup_iters)
        self.segments.append((start, self.progress(start), total_iters))

    def __call__(self, iteration: int) -> float:
        if iteration < self.warmup_iters:
            return (iteration + 1) / self.warmup_iters
        return max(0.0, 1.0 - self.progress(iteration)) ** self.power


#: The share of a time budget a plan leaves free, for the estimate's error (the last epoch is planned from the
#: steps before it, and a step can be a little slower).
BUDGET_MARGIN = 0.01


def planned_steps(config: TrainConfig, steps_per_epoch: int) -> int:
    """Optimiser steps of the whole run: every epoch's ``steps_per_epoch``, the last cut to
    ``config.last_epoch_steps`` when the plan ends with a partial epoch."""
    return (config.epochs - 1) * steps_per_epoch + (config.last_epoch_steps or steps_per_epoch)


def trained_scale(epoch_record: dict) -> float:
    """The factor by which the epoch of ``epoch_record`` (one dict of a run's history) resized its training batches:
    its ``train_scale``, below 1 for a small epoch of progressive resizing; 1 at the input size, and for a history
    written before progressive resizing, which has no such key."""
    return epoch_record.get("train_scale", 1.0)


def small_epochs(history: list[dict]) -> list[dict]:
    """The epochs of ``history`` that trained on resized batches (:func:`trained_scale` below 1): the first ones of a
    run with progressive resizing, none otherwise."""
    return [h for h in history if trained_scale(h) < 1.0]


def epoch_scale(config: TrainConfig, history: list[dict], epoch: int, epochs: int | None = None) -> float:
    """The factor by which epoch ``epoch`` (from 1) resizes its training batches, after the epochs of ``history``:
    ``config.batch_scale(epoch, epochs)``, except that once an epoch has trained at the input size every later one
    does too. A time budget's re-plan that lengthens the run after the switch moves the share's boundary past it,
    and would otherwise bring small epochs back between full-size ones."""
    if any(trained_scale(h) == 1.0 for h in history[:epoch - 1]):
        return 1.0
    return config.batch_scale(epoch, epochs)


def replanned_length(history: list[dict], budget_s: float, max_epochs: int, steps_per_epoch: int,
                     batch_scale: Callable[[int, int], float] = lambda epoch, epochs: 1.0) -> tuple[int, int | None]:
    """(epochs, steps of the last epoch or None for a whole one) that a time-budgeted run should have after the
    epochs in ``history``: those done, then as many whole epochs as fit the budget left, then a final epoch cut
    to the steps that still fit, so that the run ends within the budget (less :data:`BUDGET_MARGIN`) instead of
    up to an epoch short of it. The speeds are the last epoch's (``train_seconds`` per ``train_steps`` for a
    step, the rest of ``seconds`` for validation), the load the machine has now: a slow epoch before it, under
    a load that has passed, would leave part of the budget unused (and a re-plan after every epoch corrects
    a load that comes back); at most ``max_epochs``. ``(len(history), None)`` when nothing more fits.

    ``batch_scale(epoch, epochs)``: the factor by which epoch ``epoch`` (from 1) of a run of ``epochs`` resizes its
    training batches (``TrainConfig.batch_scale``, progressive resizing). A step is taken to cost in proportion to
    its pixels, the scale squared, so the last epoch's speed (at its own ``train_scale``) prices every later epoch
    at its own size: after a 96x96 epoch the 128x128 ones are not taken for as cheap."""
    done, spent, last = len(history), sum(h["seconds"] for h in history), history[-1]
    train_s = last.get("train_seconds", last["seconds"])  # an older history: its validation counted as training
    val_s = last["seconds"] - train_s
    full_step_s = train_s / last.get("train_steps", steps_per_epoch) / trained_scale(last) ** 2

    def step_s(epoch: int, epochs: int) -> float:
        return full_step_s * batch_scale(epoch, epochs) ** 2

    def seconds_after_done(epochs: int) -> float:  # the whole epochs done + 1 .. epochs of a run of ``epochs``
        return sum(steps_per_epoch * step_s(epoch, epochs) + val_s for epoch in range(done + 1, epochs + 1))

    left = budget_s * (1 - BUDGET_MARGIN) - spent
    epochs = done
    while epochs < max_epochs and seconds_after_done(epochs + 1) <= left:  # it grows with the epochs
        epochs += 1
    rest = left - seconds_after_done(epochs)
    steps = math.floor((rest - val_s) / max(step_s(epochs + 1, epochs + 1), 1e-9)) if epochs < max_epochs else 0
    if 0 < steps < steps_per_epoch:
        return epochs + 1, steps
    return epochs, None


class DataMismatchError(ValueError):
    """A run folder holds a run trained on other data than the data given now."""


#: The parts of a data fingerprint (``SegmentationIndex.fingerprint``) that must match to resume a run.
FINGERPRINT_KEYS = ("class_names", "images", "ids_sha256", "labels_sha256")


def _describe(data: dict) -> str:
    return f"{data['name']} in {data['root']} ({data['images']} images, classes {', '.join(data['class_names'])})"


def check_same_data(saved: dict | None, data: dict | None, run_dir: Path) -> None:
    """Raise DataMismatchError unless the checkpoint's data fingerprint ``saved`` matches ``data`` (the
    fingerprint of the data given now; None skips the check, for data without an index)."""
    if data is None:
        return
    if saved is None:
        raise DataMismatchError(f"{run_dir} holds a run saved without a record of its data (by an older steelnb), "
                                f"so it cannot be told whether it was trained on {_describe(data)}. Move that "
                                "folder away, or point STEELNB_RUNS at a new folder, to train anew")
    if any(key not in saved for key in FINGERPRINT_KEYS) or ("split" in data and "split" not in saved):
        raise DataMismatchError(f"{run_dir} holds a run saved by an older steelnb, without a record of its labels "
                                f"and split, so it cannot be told whether it was trained on {_describe(data)} with "
                                "this split. Move that folder away, or point STEELNB_RUNS at a new folder, to train "
                                "anew")
    if any(saved[key] != data[key] for key in FINGERPRINT_KEYS):
        changed = "the same images with other labels" if saved["ids_sha256"] == data["ids_sha256"] else "other data"
        raise DataMismatchError(f"{run_dir} holds a run trained on {_describe(saved)}; the data given now "
                                f"({_describe(data)}) is {changed}. Give this run another name, or point "
                                "STEELNB_RUNS at another folder; nothing was changed")
    if "split" in data and saved["split"] != data["split"]:
        raise DataMismatchError(f"{run_dir} holds a run trained on another split of this data: "
                                f"{split_changes(saved['split'], data['split'])}. Scoring it on this split could "
                                "score it on images it trained on. Give this run another name, or point "
                                "STEELNB_RUNS at another folder; nothing was changed")


def split_changes(saved: dict[str, list[str]], now: dict[str, list[str]]) -> str:
    """In words, how the split ``now`` differs from the ``saved`` one: per split, the images that moved in
    from another split (train/val/test id lists)."""
    home = {image_id: name for name, ids in saved.items() for image_id in ids}
    moves = []
    for name, ids in now.items():
        moved = [image_id for image_id in ids if home.get(image_id, name) != name]
        from_train = sum(home[i] == "train" for i in moved)
        if moved:
            moves.append(f"{len(moved)} of its {len(ids)} {name} images were in another split"
                         + (f" ({from_train} in training)" if from_train and name != "train" else ""))
    return "; ".join(moves) or "its image lists differ"


def _comparable(config: dict) -> dict:
    """A config as the resume check compares it: every TrainConfig field, those a saved config predates at
    their defaults (a run saved before a field existed was trained with its default), and without the epoch
    count (and the cut of a final, partial epoch) that a time budget chose, nor the budget itself: a budgeted run
    resumes under the budget it is given now (the main job's depends on how long its setup took). Fields
    TrainConfig no longer has are kept, so such a run does not match."""
    known = {name: config[name] for name in config if name in TrainConfig.__dataclass_fields__}
    full = {**asdict(TrainConfig(**known)), **config}
    chosen = ("epochs", "last_epoch_steps", "time_budget_s")  # how long to train, not what to train
    return {key: value for key, value in full.items() if not (key in chosen and config.get("time_budget_s"))}


def _resume(state: dict | None, run_dir: Path, config: TrainConfig, data: dict | None, model: nn.Module,
            optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
            scaler: torch.amp.GradScaler, ema: AveragedModel | None) -> list[dict]:
    """Restore every state from a checkpoint of ``run_dir`` if there is one (same data and config required);
    returns the history so far (or [])."""
    if state is None:
        return []
    check_same_data(state.get("data"), data, run_dir)
    if _comparable(state["config"]) != _comparable(asdict(config)):
        raise ValueError(f"{run_dir / 'last.pt'} was trained with {state['config']}, not {asdict(config)}; "
                         "use another run_dir or the same config")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    if ema is not None:
        ema.load_state_dict(state["ema"])
    set_rng_state(state["rng_per_rank"][current_world().rank] if "rng_per_rank" in state else state["rng"])
    return state["history"]


def resolve_epochs(config: TrainConfig, model: nn.Module, batch_shape: tuple[int, ...], train_steps: int,
                   eval_batches: int, num_classes: int, device: torch.device, progress: bool) -> TrainConfig:
    """``config`` with ``epochs`` set from ``time_budget_s`` by timing this machine on batches of
    ``batch_shape`` (N, 1, H, W) (unchanged without a budget; rank 0's count under torchrun)."""
    if not config.time_budget_s:
        return config
    epochs, step_s = plan_epochs(model, batch_shape, num_classes, device, config.amp, config.time_budget_s,
                                 train_steps, eval_batches, config.epochs)
    epochs = from_main(epochs)
    if progress:
        print(f"Time budget {config.time_budget_s / 60:.1f} min: {step_s:.2f} s per training step of "
              f"{batch_shape[0]} x {tuple(batch_shape[1:])}, {train_steps} steps per epoch -> {epochs} epoch(s).")
    return replace(config, epochs=epochs)


def make_loaders(train_set: Dataset, val_set: Dataset, config: TrainConfig, device: torch.device,
                 world: World) -> tuple[DataLoader, DataLoader, DistributedSampler | None]:
    """Shuffled training and ordered validation loaders. Under torchrun each rank gets an equal slice of
    every global batch of ``config.batch_size`` (a seeded DistributedSampler) and every world.size-th
    validation image; returns the sampler too (its epoch must be set)."""
    workers = {"num_workers": config.num_workers, "pin_memory": device.type == "cuda"}
    # With worker processes the shuffle and the workers' random streams come from a generator reseeded
    # from (seed, epoch) before every epoch (seed_epoch), and the workers start afresh each epoch: epoch k
    # is then the same however the run got there, resumed or not. Validation has its own generator, so
    # that starting its workers never draws from the global RNG. In one process the global RNG, which
    # every checkpoint saves, drives everything.
    with_workers = config.num_workers > 0
    training = {**workers, "persistent_workers": False, "generator": torch.Generator() if with_workers else None}
    validation = {**workers, "persistent_workers": with_workers,
                  "generator": torch.Generator().manual_seed(config.seed) if with_workers else None}
    if not world.active:
        return (DataLoader(train_set, batch_size=config.batch_size, shuffle=True,
                           drop_last=len(train_set) > config.batch_size, **training),
                DataLoader(val_set, batch_size=config.batch_size, **validation), None)
    if config.batch_size % world.size:
        raise ValueError(f"batch_size {config.batch_size} must be a multiple of the {world.size} processes")
    per_rank = config.batch_size // world.size
    sampler = DistributedSampler(train_set, world.size, world.rank, shuffle=True, seed=config.seed, drop_last=True)
    val_shard = Subset(val_set, range(world.rank, len(val_set), world.size))
    return (DataLoader(train_set, batch_size=per_rank, sampler=sampler, drop_last=True, **training),
            DataLoader(val_shard, batch_size=per_rank, **validation), sampler)


def seed_epoch(loader: DataLoader, sampler: DistributedSampler | None, seed: int, epoch: int) -> None:
    """Set epoch ``epoch``'s shuffle and worker seeds: the DistributedSampler's epoch, and the loader's
    generator (with worker processes, see :func:`make_loaders`) seeded from (``seed``, ``epoch``); and tell a
    dataset that has ``set_epoch`` (``SteelDataset``, whose cycled flips follow the epoch) which epoch it is."""
    if hasattr(loader.dataset, "set_epoch"):
        loader.dataset.set_epoch(epoch)
    if sampler is not None:
        sampler.set_epoch(epoch)
    if loader.generator is not None:
        loader.generator.manual_seed(seed * 1_000_003 + epoch)


def validate(model: nn.Module, loader: DataLoader, num_classes: int, device: torch.device, loss_fn: nn.Module,
             amp: bool) -> tuple[float, np.ndarray]:
    """Mean validation loss and pixel counts (n_images, C+1, 3), gathered from every rank under torchrun."""
    val_loss, accumulator = evaluate(model, loader, num_classes, device, loss_fn, amp)
    if not current_world().active:
        return val_loss, accumulator.counts
    counts = np.concatenate(gather_objects(accumulator.counts))
    loss_sum, images = sum_across([val_loss * len(accumulator.counts), float(len(accumulator.counts))])
    return loss_sum / images, counts


def fit(model: nn.Module, train_set: Dataset, val_set: Dataset, run_dir: str | Path, config: TrainConfig,
        num_classes: int, device: torch.device | None = None, progress: bool = True,
        data: dict | None = None) -> list[dict]:
    """Train ``model`` and return its history: one dict per epoch (losses, val metrics, lr, speed).

    ``run_dir/last.pt`` is written after every epoch (the one before kept as ``previous.pt``) and
    ``run_dir/best.pt`` whenever the validation ``config.select_on`` score improves or ties. Under a time budget
    the epoch count is planned before the first epoch and re-planned after each (:func:`replanned_length`),
    ``config.epochs`` being the cap. If a checkpoint exists the run resumes from it: same config required (a
    time budget's current plan is taken from the checkpoint) and, when ``data`` (``SegmentationIndex.fingerprint()``
    with the run's split) is given, the same data, labels and split.
    One process at a time may train in ``run_dir``. Under torchrun the work is shared by the ranks
    (``training/distributed.py``); rank 0 holds the folder, writes the checkpoints and prints.

    Raises:
        DataMismatchError: ``run_dir`` holds a run trained on other data.
        RunFolderBusyError: another process is training in ``run_dir``.
        RunFolderReadOnlyError: ``run_dir`` cannot be written and its run is not finished (a finished run in a
            read-only folder is reloaded).
        ValueError: ``config.cycled_flips`` with a ``train_set`` that has no ``set_epoch``: its flips could not
            follow the epochs, and every item would keep one orientation.
    """
    if config.cycled_flips and not hasattr(train_set, "set_epoch"):
        raise ValueError(f"cycled_flips needs a training set that is told its epoch (set_epoch, as SteelDataset "
                         f"has); a {type(train_set).__name__} has none, so each item would keep one orientation")
    run_dir = Path(run_dir)
    try:
        with hold_run_folder(run_dir) if current_world().is_main else nullcontext():
            return _fit(model, train_set, val_set, run_dir, config, num_classes, device, progress, data)
    except RunFolderReadOnlyError as err:
        if not run_is_finished(run_dir):
            raise RunFolderReadOnlyError(f"{err}, and its run is not finished: make the folder writable to resume "
                                         "it, or set STEELNB_RUNS to a folder you can write") from None
    # a finished run in a folder that cannot be written (a shared, read-only copy): read it, write nothing
    return _fit(model, train_set, val_set, run_dir, config, num_classes, device, progress, data)


def _fit(model: nn.Module, train_set: Dataset, val_set: Dataset, run_dir: Path, config: TrainConfig,
         num_classes: int, device: torch.device | None, progress: bool, data: dict | None) -> list[dict]:
    """:func:`fit`, with the run folder held."""
    device = device or default_device()
    world = current_world()
    progress = progress and world.is_main
    seed_everything(config.seed)
    prepare_device(device)
    model.to(device)
    loader, val_loader, sampler = make_loaders(train_set, val_set, config, device, world)
    checkpoints = RunCheckpoints(run_dir)
    state = checkpoints.read_last()
    max_epochs = config.epochs  # under a time budget: the cap of the plans
    if state is not None and config.time_budget_s:
        config = replace(config, epochs=state["config"]["epochs"],
                         last_epoch_steps=state["config"].get("last_epoch_steps"))
    elif state is None:
        # the shape the loader yields (a crop in native-aspect runs), measured on any Dataset
        config = resolve_epochs(config, model, (loader.batch_size, *train_set[0][0].shape), len(loader),
                                len(val_loader), num_classes, device, progress)
    optimizer = build_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, WarmupPoly(planned_steps(config, len(loader)), config.warmup_iters, config.poly_power))
    scaler = make_grad_scaler(device, config.amp)
    loss_fn = build_loss(config.loss, num_classes, config.class_weights, config.focal_gamma).to(device)
    ema = weight_average(model, config)
    history = _resume(state, run_dir, config, data, model, optimizer, scheduler, scaler, ema)
    validated = ema.module if ema is not None else model  # what is validated and saved as best.pt
    trained = parallel_model(model, device, world)
    model = trained.module if world.active else model
    if history and progress:
        print(f"Resuming {run_dir} after epoch {len(history)} of {config.epochs}.")
    while len(history) < config.epochs:
        epoch = len(history) + 1
        steps = config.last_epoch_steps if epoch == config.epochs and config.last_epoch_steps else len(loader)
        scale = epoch_scale(config, history, epoch)  # before a re-plan changes the epochs
        start = time.perf_counter()
        seed_epoch(loader, sampler, config.seed, epoch)
        loss_sum, images = sum_across(list(_train_epoch(trained, loader, optimizer, scheduler, scaler, loss_fn,
                                                        config, device, f"epoch {epoch}/{config.epochs}", progress,
                                                        ema, None if steps == len(loader) else steps,
                                                        scale)))
        train_seconds = time.perf_counter() - start
        val_loss, counts = validate(validated, val_loader, num_classes, device, loss_fn, config.amp)
        scores, empty = summarize(counts), all_empty_scores(counts)
        history.append({"epoch": epoch, "train_loss": loss_sum / images, "val_loss": val_loss, "val_miou": scores["miou"],
                        "val_dice": scores["dice"], "val_miou_defects": scores["miou_defects"],
                        "val_class_iou_defects": scores["class_iou_defects"], "val_selected": scores[config.select_on],
                        "empty_miou": empty["miou"], "empty_dice": empty["dice"], "lr": optimizer.param_groups[0]["lr"],
                        "train_images": int(images), "train_steps": steps, "train_scale": scale,
                        "train_seconds": train_seconds,
                        "train_iter_per_s": steps / train_seconds,
                        "train_img_per_s": steps * config.batch_size / train_seconds,
                        "seconds": time.perf_counter() - start, "load_1min": _load_average(),
                        "cores": os.cpu_count(), "cpu": cpu_model(), "commit": commit_description()})
        ended_short = len(history) == config.epochs and config.last_epoch_steps  # a partial epoch ends the plan
        if config.time_budget_s and not ended_short:  # re-plan from this epoch's time: the start's load is not final
            epochs, last = from_main(replanned_length(history, config.time_budget_s, max_epochs, len(loader),
                                                      partial(epoch_scale, config, history)))
            if (epochs, last) != (config.epochs, config.last_epoch_steps):
                config = replace(config, epochs=epochs, last_epoch_steps=last)
                scheduler.lr_lambdas[0].replan(sum(h.get("train_steps", len(loader)) for h in history),
                                               planned_steps(config, len(loader)))
                if progress:
                    cut = f", the last cut to {last} of {len(loader)} steps" if last else ""
                    print(f"Time budget: epoch {epoch} took {history[-1]['seconds']:.0f} s, "
                          f"{sum(h['seconds'] for h in history):.0f} s of {config.time_budget_s:.0f} s spent: "
                          f"{epochs} epochs in all{cut}.")
        history[-1]["planned_epochs"] = config.epochs
        history[-1]["planned_last_epoch_steps"] = config.last_epoch_steps
        if progress:
            h = history[-1]
            print(f"epoch {epoch}/{config.epochs}: train loss {h['train_loss']:.4f}  val loss {val_loss:.4f}  "
                  f"val mIoU {h['val_miou']:.3f} (all-empty {h['empty_miou']:.3f})  Dice {h['val_dice']:.3f} "
                  f"(all-empty {h['empty_dice']:.3f})  class-mean defect IoU {h['val_class_iou_defects']:.3f}  "
                  f"{h['seconds']:.0f}s")
        _save_epoch(checkpoints, model, optimizer, scheduler, scaler, history, config, data, world, ema)
    return history


def _load_average() -> float:
    """The machine's load over the last minute (processes running or waiting for a core), NaN where unknown:
    each epoch records it, so that a slow epoch can be told from a slow machine."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def _save_epoch(checkpoints: RunCheckpoints, model: nn.Module, optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler, history: list[dict],
                config: TrainConfig, data: dict | None, world: World, ema: AveragedModel | None = None) -> None:
    """Write best.pt (if this epoch is best: the weight average when there is one) and last.pt (the old one
    kept as previous.pt); rank 0 only, with every rank's RNG state, and the other ranks wait until it is on
    disk."""
    rngs = gather_objects(rng_state())
    if world.is_main:
        if is_best(history):
            best = ema.module if ema is not None else model
            save_atomic({"model": best.state_dict(), "epoch": len(history), "history": history,
                         "config": asdict(config), "data": data}, checkpoints.run_dir / "best.pt")
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "scaler": scaler.state_dict(), "history": history, "rng": rngs[0], "config": asdict(config),
                 "data": data}
        if ema is not None:
            state["ema"] = ema.state_dict()
        if world.active:
            state["rng_per_rank"] = rngs
        checkpoints.save_last(state)
    barrier()


def is_best(history: list[dict]) -> bool:
    """Whether the last epoch's ``val_selected`` score is at least every earlier one's (ties go to the later
    epoch; NaN, e.g. no defect in prediction or truth, counts as the lowest score)."""
    def score(h: dict) -> float:
        return float("-inf") if math.isnan(h["val_selected"]) else h["val_selected"]
    return score(history[-1]) >= max((score(h) for h in history[:-1]), default=float("-inf"))
