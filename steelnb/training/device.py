"""Which device trains and evaluates, how it is named in speed tables, and what it needs set first."""
from __future__ import annotations

import torch


def default_device() -> torch.device:
    """The current CUDA device when available (under torchrun: this rank's GPU), else the CPU."""
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")


def prepare_device(device: torch.device) -> None:
    """Settings for training on ``device``: on CUDA, cuDNN's autotuner (``cudnn.benchmark``), which picks the
    fastest convolution algorithms for each input shape once; training batches all have one shape."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def device_name(device: torch.device) -> str:
    """A readable name for speed tables: the GPU model, or "CPU, N threads"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU, {torch.get_num_threads()} threads"
