"""Checkpoints that survive crashes and Colab disconnects.

A run folder holds ``last.pt`` (written atomically after every epoch: model, optimizer,
scheduler, grad scaler, history, RNG states, config) and ``best.pt`` (weights of the best
validation epoch). Everything loads with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .models import rename_legacy_keys


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save to ``path`` via a temporary file, so a crash mid-write never corrupts the old checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) onto the CPU, its model weights under today's
    part names (:func:`models.rename_legacy_keys`); errors name the file."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint not found: {path}") from None
    except Exception as err:  # noqa: BLE001 - report which file is unreadable
        raise RuntimeError(f"cannot read checkpoint {path}: {err}") from err
    if isinstance(checkpoint, dict) and "model" in checkpoint:
        checkpoint["model"] = rename_legacy_keys(checkpoint["model"])
    return checkpoint


def load_weights(model: torch.nn.Module, run_dir: str | Path, which: str = "best") -> dict[str, Any]:
    """Put the ``best`` or ``last`` weights of a run into ``model``; returns the checkpoint (with its history)."""
    checkpoint = load_checkpoint(Path(run_dir) / f"{which}.pt")
    model.load_state_dict(checkpoint["model"])
    return checkpoint
