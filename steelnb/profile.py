"""Run profiles: how much work a notebook does, chosen from the environment.

* ``smoke`` (``STEELNB_SMOKE=1`` or ``CI`` set): tiny subsets, two short epochs, figures to
  ``runs/smoke/figures`` so the committed ``figures/`` are never overwritten. Each notebook < 2 min.
* ``default`` (no GPU): small sibling backbones (ResNet18 for ResNet101, ...) trained from 128x128
  inputs, half the paper's 256x256, for 15 epochs, so each notebook trains in minutes on 2 CPU cores.
* ``full`` (a CUDA GPU): the paper's settings: its backbones, batch 16, 30 epochs.

``STEELNB_PROFILE`` forces one of them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .paths import PROJECT_ROOT

#: The paper's backbones and the smaller sibling used on CPU.
CPU_SIBLING = {"resnet101": "resnet18", "densenet201": "densenet121", "efficientnet_b1": "efficientnet_b0"}


@dataclass(frozen=True)
class Profile:
    """Settings shared by the notebooks."""

    name: str
    max_images: int | None  # cap on the images used (None = all)
    epochs: int
    batch_size: int
    image_size: tuple[int, int]
    paper_backbones: bool  # False: use CPU_SIBLING instead of the paper's backbones
    figures_dir: Path
    runs_dir: Path
    native_size: tuple[int, int] = (256, 1600)  # aspect-preserving size for native-aspect experiments
    crop_width: int = 512  # training crop width at native_size

    def backbone(self, paper_backbone: str) -> str:
        """The backbone to train for one of the paper's (itself in the full profile, else its small sibling)."""
        return paper_backbone if self.paper_backbones else CPU_SIBLING.get(paper_backbone, paper_backbone)


def current_profile() -> Profile:
    """The profile for this run (see module docstring)."""
    name = os.environ.get("STEELNB_PROFILE")
    if name is None:
        if os.environ.get("STEELNB_SMOKE") == "1" or os.environ.get("CI"):
            name = "smoke"
        else:
            name = "full" if torch.cuda.is_available() else "default"
    runs = PROJECT_ROOT / "runs"
    if name == "smoke":
        return Profile("smoke", 40, 2, 8, (128, 128), False, runs / "smoke" / "figures", runs / "smoke",
                       (64, 400), 128)
    if name == "default":
        return Profile("default", None, 15, 8, (128, 128), False, PROJECT_ROOT / "figures", runs / "default",
                       (128, 800), 256)
    if name == "full":
        return Profile("full", None, 30, 16, (256, 256), True, PROJECT_ROOT / "figures", runs / "full")
    raise ValueError(f"STEELNB_PROFILE must be smoke, default or full, not {name!r}")
