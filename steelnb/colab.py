"""Colab support: keep the runs on Google Drive, and say what will run and roughly how long it takes.

A Colab runtime forgets its disk when it disconnects. Checkpoints written under Google Drive survive,
and training resumes from the last finished epoch, so a disconnect costs at most the epoch in progress.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .profile import current_profile
from .train import default_device, device_name

#: Where the course keeps its runs on Google Drive.
DRIVE_MOUNT = Path("/content/drive")
DRIVE_RUNS = DRIVE_MOUNT / "MyDrive" / "steelnb" / "runs"

#: Minutes each chapter took with the ``default`` profile on NEU-Seg, on 2 CPU cores, when it trained its
#: runs (figures/README.md records them); chapters 05 and 12 train 1 and 5 runs.
DEFAULT_PROFILE_MINUTES = {"00": 0.2, "01": 0.2, "02": 0.2, "03": 0.1, "04": 14.2, "05": 15.6, "06": 13.4,
                           "07": 11.5, "08": 2.0, "09": 1.3, "10": 0.2, "11": 3.1, "12": 15.1, "13": 2.2}


def on_colab() -> bool:
    """Whether this Python runs in a Google Colab notebook."""
    return "google.colab" in sys.modules


def keep_runs_on_drive(runs: Path = DRIVE_RUNS) -> Path | None:
    """On Colab: mount Google Drive (Colab asks for permission once) and set ``STEELNB_RUNS`` to ``runs``,
    so that checkpoints survive a disconnect. Elsewhere: change nothing and return None."""
    if not on_colab():
        return None
    from google.colab import drive
    drive.mount(str(DRIVE_MOUNT))
    runs.mkdir(parents=True, exist_ok=True)
    os.environ["STEELNB_RUNS"] = str(runs)
    return runs


def runtime_summary() -> str:
    """Which accelerator this runtime has, which profile will run and how long the chapters take with it."""
    profile = current_profile()
    lines = [f"{device_name(default_device())}: the {profile.name!r} profile will run; runs and checkpoints go to "
             f"{profile.runs_dir}."]
    if profile.name == "default":
        training = [DEFAULT_PROFILE_MINUTES[chapter] for chapter in ("04", "05", "06", "07", "12")]
        rest = [m for chapter, m in DEFAULT_PROFILE_MINUTES.items() if chapter not in ("04", "05", "06", "07", "12")]
        lines.append(f"Measured with this profile on 2 CPU cores (NEU-Seg): chapters 04-07 and 12 train for "
                     f"{min(training):.0f}-{max(training):.0f} min each, the others take at most {max(rest):.0f} min; "
                     f"about {sum(training) + sum(rest):.0f} min for the whole course. Finished runs are reloaded, "
                     "not retrained.")
    elif profile.name == "full":
        lines.append("The full profile trains the paper's backbones for 30 epochs each; its chapter times on a GPU "
                     "have not been measured yet. On a Colab T4, start with one chapter and watch its progress bar.")
    return "\n".join(lines)
