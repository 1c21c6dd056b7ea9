"""ImageNet weights for torchvision backbones without ever hanging offline.

Order: an explicit local file, then torchvision's cache (``$TORCH_HOME/hub/checkpoints``), then a
download with a short timeout unless ``STEELNB_OFFLINE`` is on (``1``, ``true``, ``yes``). When none works the backbone keeps
its random initialisation and a clearly visible message says so.
"""
from __future__ import annotations

import socket
import warnings
from pathlib import Path

import torch
from torch import nn
from torchvision.models import get_model_weights

from ..env import switch_is_on

DOWNLOAD_TIMEOUT_S = 10.0


class PretrainedWeightsWarning(UserWarning):
    """ImageNet weights could not be found or downloaded; the model starts from random weights."""


def weights_cache_path(backbone: str) -> Path:
    """Where torchvision caches the DEFAULT ImageNet weights of ``backbone``."""
    url = get_model_weights(backbone).DEFAULT.url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def _download(url: str) -> dict[str, torch.Tensor]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        return torch.hub.load_state_dict_from_url(url, progress=False, weights_only=True)
    finally:
        socket.setdefaulttimeout(previous)


def load_imagenet_weights(model: nn.Module, backbone: str, weights_file: str | Path | None = None) -> bool:
    """Load torchvision's DEFAULT ImageNet weights of ``backbone`` into ``model`` (the torchvision classifier).

    Returns True when weights were loaded, False (after a PretrainedWeightsWarning)
    when the model keeps its random initialisation.
    """
    offline = switch_is_on("STEELNB_OFFLINE")  # a mistyped value is an error here, never "train from scratch"
    try:
        if weights_file is not None:
            state = torch.load(weights_file, map_location="cpu", weights_only=True)
        elif weights_cache_path(backbone).is_file():
            state = torch.load(weights_cache_path(backbone), map_location="cpu", weights_only=True)
        elif offline:
            raise OSError("STEELNB_OFFLINE=1 forbids the download")
        else:
            state = _download(get_model_weights(backbone).DEFAULT.url)
        model.load_state_dict(state)
        return True
    except Exception as err:  # noqa: BLE001 - any failure means: train from scratch, loudly
        reason = f"{type(err).__name__}: {err}"[:200]
    message = (f"*** No ImageNet weights for {backbone}: {reason}\n"
               f"*** The backbone starts from RANDOM weights. To use pretrained weights, put the file at "
               f"{weights_cache_path(backbone)} (or pass weights_file=...).")
    warnings.warn(message, PretrainedWeightsWarning, stacklevel=2)
    return False
