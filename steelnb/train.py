"""Training loop with per-epoch validation, checkpoints every epoch and automatic resume.

Defaults follow the paper: SGD, lr 0.01, momentum 0.9, weight decay 1e-4, batch 16, with a
polynomial (power 0.9) learning-rate decay per iteration as in DeepLab. CUDA with mixed
precision when available, CPU otherwise. Calling :func:`fit` again on the same ``run_dir``
continues where the last finished epoch left off, with the full history; a finished run
returns at once.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .checkpoint import load_checkpoint, save_atomic
from .losses import build_loss
from .metrics import MetricAccumulator, all_empty_scores, summarize
from .seed import rng_state, seed_everything, set_rng_state


@dataclass
class TrainConfig:
    """Hyper-parameters of one run (saved in every checkpoint)."""

    epochs: int = 30
    batch_size: int = 16
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    poly_power: float = 0.9
    loss: str = "ce"
    class_weights: tuple[float, ...] | None = None
    mixup_alpha: float = 0.0
    num_workers: int = 0
    seed: int = 0
    amp: bool = True


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, num_classes: int, device: torch.device | None = None,
             loss_fn: nn.Module | None = None) -> tuple[float, MetricAccumulator]:
    """Mean loss (NaN without ``loss_fn``) and the per-image pixel counts of ``model`` on ``loader``."""
    device = device or default_device()
    model.eval()
    accumulator, total_loss, n = MetricAccumulator(num_classes), 0.0, 0
    for images, masks in loader:
        images, masks = images.to(device), masks.to(device)
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            logits = model(images)
        if loss_fn is not None:
            total_loss += float(loss_fn(logits.float(), masks)) * len(images)
        n += len(images)
        accumulator.update(logits.argmax(1), masks)
    return (total_loss / n if loss_fn is not None else float("nan")), accumulator


def _mixup(images: torch.Tensor, masks: torch.Tensor, alpha: float):
    """Mixup for segmentation: blend image pairs with lam ~ Beta(alpha, alpha); the loss is blended too."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    order = torch.randperm(len(images), device=images.device)
    return lam * images + (1 - lam) * images[order], masks, masks[order], lam


def _train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler, loss_fn: nn.Module,
                 config: TrainConfig, device: torch.device, description: str, progress: bool) -> float:
    """One pass over ``loader`` with SGD steps; returns the mean training loss per image."""
    model.train()
    total_loss, seen = 0.0, 0
    for images, masks in tqdm(loader, desc=description, disable=not progress, leave=False):
        images, masks = images.to(device, non_blocking=True), masks.to(device, non_blocking=True)
        with torch.autocast(device.type, enabled=scaler.is_enabled()):
            if config.mixup_alpha > 0:
                mixed, masks_a, masks_b, lam = _mixup(images, masks, config.mixup_alpha)
                logits = model(mixed).float()
                loss = lam * loss_fn(logits, masks_a) + (1 - lam) * loss_fn(logits, masks_b)
            else:
                loss = loss_fn(model(images).float(), masks)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        total_loss += loss.item() * len(images)
        seen += len(images)
    return total_loss / seen


def _resume(run_dir: Path, config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer,
            scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler) -> list[dict]:
    """Restore every state from ``run_dir/last.pt`` if it exists; returns the history so far (or [])."""
    if not (run_dir / "last.pt").is_file():
        return []
    state = load_checkpoint(run_dir / "last.pt")
    if state["config"] != asdict(config):
        raise ValueError(f"{run_dir / 'last.pt'} was trained with {state['config']}, not {asdict(config)}; "
                         "use another run_dir or the same config")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    return state["history"]


def fit(model: nn.Module, train_set: Dataset, val_set: Dataset, run_dir: str | Path, config: TrainConfig,
        num_classes: int, device: torch.device | None = None, progress: bool = True) -> list[dict]:
    """Train ``model`` and return its history: one dict per epoch (losses, val metrics, lr, speed).

    ``run_dir/last.pt`` is written after every epoch and ``run_dir/best.pt`` whenever the validation
    mIoU improves. If ``last.pt`` exists the run resumes from it (same config required).
    """
    device = device or default_device()
    run_dir = Path(run_dir)
    seed_everything(config.seed)
    model.to(device)
    loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True,
                        drop_last=len(train_set) > config.batch_size, num_workers=config.num_workers,
                        pin_memory=device.type == "cuda")
    val_loader = DataLoader(val_set, batch_size=config.batch_size, num_workers=config.num_workers)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=config.epochs * len(loader),
                                                      power=config.poly_power)
    scaler = torch.amp.GradScaler(device.type, enabled=config.amp and device.type == "cuda")
    loss_fn = build_loss(config.loss, num_classes, config.class_weights).to(device)
    history = _resume(run_dir, config, model, optimizer, scheduler, scaler)
    if history and progress:
        print(f"Resuming {run_dir} after epoch {len(history)} of {config.epochs}.")
    for epoch in range(len(history) + 1, config.epochs + 1):
        start = time.perf_counter()
        train_loss = _train_epoch(model, loader, optimizer, scheduler, scaler, loss_fn, config, device,
                                  f"epoch {epoch}/{config.epochs}", progress)
        train_seconds = time.perf_counter() - start
        val_loss, accumulator = evaluate(model, val_loader, num_classes, device, loss_fn)
        scores, empty = summarize(accumulator.counts), all_empty_scores(accumulator.counts)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_miou": scores["miou"],
                        "val_dice": scores["dice"], "val_miou_defects": scores["miou_defects"],
                        "empty_miou": empty["miou"], "empty_dice": empty["dice"], "lr": optimizer.param_groups[0]["lr"],
                        "train_iter_per_s": len(loader) / train_seconds, "seconds": time.perf_counter() - start})
        if progress:
            h = history[-1]
            print(f"epoch {epoch}: train loss {h['train_loss']:.4f}  val loss {val_loss:.4f}  val mIoU {h['val_miou']:.3f}"
                  f" (all-empty {h['empty_miou']:.3f})  Dice {h['val_dice']:.3f} (all-empty {h['empty_dice']:.3f})"
                  f"  {h['seconds']:.0f}s")
        if history[-1]["val_miou"] > max((h["val_miou"] for h in history[:-1]), default=float("-inf")):
            save_atomic({"model": model.state_dict(), "epoch": epoch, "history": history, "config": asdict(config)},
                        run_dir / "best.pt")
        save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "history": history,
                     "rng": rng_state(), "config": asdict(config)}, run_dir / "last.pt")
    return history
