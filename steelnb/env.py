"""Where the course runs: its folder, Colab or not, where runs go, and the on/off switches.

* ``PROJECT_ROOT``: the course folder (``STEELNB_HOME`` moves it).
* :func:`on_colab` and :func:`runs_root`: on Colab, with Google Drive mounted, runs and checkpoints go to
  the course folder on Drive, so that they survive a disconnect. The notebooks and a ``!python -m steelnb``
  started from them agree, because both read the same mount and nothing is written into ``os.environ``.
* ``NOTEBOOKS`` and :func:`chapter_notebooks`: the course's chapters, ``notebooks/NN_title.ipynb``.
* :func:`commit_description`: the git commit the course runs at, which runs and figures record.
* :func:`switch_is_on` (``STEELNB_SMOKE``, ``STEELNB_OFFLINE``): one rule for every on/off variable. A switch
  set to a word it does not know is an error, not "off": ``STEELNB_SMOKE=ture`` must not quietly start a
  16-minute run.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _project_root() -> Path:
    """The course folder: ``STEELNB_HOME`` when set, else the folder this package sits in."""
    chosen = os.environ.get("STEELNB_HOME")
    if chosen is not None and not chosen.strip():
        raise ValueError("STEELNB_HOME is set but empty, which would put data/ and runs/ in the current folder: "
                         "unset it, or set it to the course folder")
    return Path(chosen) if chosen else Path(__file__).resolve().parents[1]


PROJECT_ROOT = _project_root()
#: The course's chapters live here, as ``NN_title.ipynb``.
NOTEBOOKS = PROJECT_ROOT / "notebooks"


def chapter_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The chapters in ``folder`` (by default the course's own ``notebooks/``), in order of their number: what
    the report runs, the preface lists and the Colab sync rewrites."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


#: Where Colab mounts Google Drive, the course folder on it, and the runs kept there.
DRIVE_MOUNT = Path("/content/drive")
DRIVE_COURSE = DRIVE_MOUNT / "MyDrive" / "steelnb"
DRIVE_RUNS = DRIVE_COURSE / "runs"
#: Environment variables every Colab runtime sets, inherited by the processes a notebook starts.
COLAB_VARIABLES = ("COLAB_RELEASE_TAG", "COLAB_GPU")

#: How an on/off environment variable may be written.
ON_WORDS, OFF_WORDS = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def switch_is_on(name: str) -> bool:
    """Whether the environment variable ``name`` is set to on ("1", "true", "yes", "on", any case).

    Raises:
        ValueError: a value that is neither on nor off ("0", "false", "no", "off", empty, unset), which
            would otherwise silently mean off.
    """
    value = os.environ.get(name, "").strip().lower()
    if value in ON_WORDS or value in OFF_WORDS:
        return value in ON_WORDS
    raise ValueError(f"{name}={os.environ[name]!r}: use one of {', '.join(ON_WORDS)} to switch it on, or "
                     f"{', '.join(w for w in OFF_WORDS if w)} (or unset it) to switch it off")


def on_colab() -> bool:
    """Whether this Python runs in a Google Colab runtime: its notebook kernel, or a process started from it
    (``!python -m steelnb``), which inherits the variables Colab sets (``COLAB_RELEASE_TAG``, ``COLAB_GPU``)."""
    return "google.colab" in sys.modules or any(name in os.environ for name in COLAB_VARIABLES)


def drive_mounted() -> bool:
    """Whether Google Drive is mounted at ``DRIVE_MOUNT`` (its ``MyDrive`` folder exists)."""
    return (DRIVE_MOUNT / "MyDrive").is_dir()


def runs_root() -> Path:
    """The folder that holds every profile's runs: ``STEELNB_RUNS`` when set; on Colab with Google Drive
    mounted, ``DRIVE_RUNS``; else ``runs/`` in the course folder."""
    chosen = os.environ.get("STEELNB_RUNS")
    if chosen:
        return Path(chosen)
    if on_colab() and drive_mounted():
        return DRIVE_RUNS
    return PROJECT_ROOT / "runs"


def commit_description() -> str:
    """The git commit of the project (with "+ uncommitted changes" when tracked files other than the
    report's own outputs in ``figures/`` differ from it), or "unknown"."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!figures"],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" + uncommitted changes" if dirty else "")
