"""Colab support: install the course, keep the runs on Google Drive, find the Kaggle data, and say what will
run and roughly how long it takes.

A Colab runtime forgets its disk when it disconnects. Checkpoints written under Google Drive survive
(``env.runs_root``), and training resumes from the last finished epoch, so a disconnect costs at most the
epoch in progress. The Kaggle data is better kept on the runtime's own disk (reading 12,568 small files
from Drive is slow; ``data.locations.severstal_dir``); chapter 00 downloads it again in a minute or two
after a disconnect.
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from .. import env
from ..data import locations
from ..data.download.kaggle import restore_severstal
from ..data.layouts import is_severstal_folder
from ..data.staging import write_text_atomically
from ..env import DRIVE_COURSE, DRIVE_MOUNT, drive_mounted, on_colab
from ..training.device import default_device, device_name
from .profile import REFERENCE_FIGURES, current_profile
from .runs import RUNS

#: The course's public git address, for the Colab badges and install cells of every chapter. Empty until the
#: course has one: the install cell then uses the course folder on your Google Drive (``env.DRIVE_COURSE``).
#: After changing it, run ``python -m steelnb.course.colab`` to rewrite the chapters' badges and install cells.
REPO_URL = ""

def prepare_colab() -> Path | None:
    """On Colab: mount Google Drive (Colab asks for permission once) and create the runs folder there, so that
    :func:`env.runs_root` puts checkpoints where a disconnect cannot lose them. Returns that folder; elsewhere
    changes nothing and returns None. Only a notebook kernel can mount Drive; a ``!python -m steelnb`` started
    from it uses the mount its notebook made."""
    if not on_colab():
        return None
    if not drive_mounted() and "google.colab" in sys.modules:
        from google.colab import drive
        drive.mount(str(env.DRIVE_MOUNT))
    if not drive_mounted():
        return None
    env.DRIVE_RUNS.mkdir(parents=True, exist_ok=True)
    restore_kaggle_data()
    return env.DRIVE_RUNS


def restore_kaggle_data() -> Path | None:
    """On Colab: when the runtime's disk has lost the Kaggle data that chapter 00 downloaded, unpack it again
    from the zip kept on Google Drive (about a minute, nothing downloaded). Returns the restored folder, or
    None when there was nothing to do."""
    archive, folder = locations.kept_severstal_archive(), locations.severstal_dir()
    if archive is None or not archive.is_file() or is_severstal_folder(folder):
        return None
    start = time.perf_counter()
    restore_severstal(archive, folder)
    print(f"Colab: the Kaggle data restored from {archive} into {folder} in {time.perf_counter() - start:.0f} s.")
    return folder


def training_chapters() -> list[str]:
    """The chapters that train runs (each named run's ``RunSpec.chapter``), in order."""
    return sorted({spec.chapter for spec in RUNS.values()})


def reference_chapter_minutes(readme: Path | None = None) -> dict[str, float]:
    """Each chapter's wall time (minutes, by its number) in the reference run, read from the provenance table
    of ``readme`` (default: the course's ``figures/README.md``), where every file a chapter wrote carries that
    chapter's time; empty when there is no such table. A chapter that wrote no file is not in it."""
    readme = readme or REFERENCE_FIGURES / "README.md"
    if not readme.is_file():
        return {}
    rows = re.findall(r"^\| \[[^]]+\]\([^)]+\) \| `(\d\d)_[^`]*` \|.*\| ([\d.]+) min \|$", readme.read_text(),
                      flags=re.MULTILINE)
    return {chapter: float(minutes) for chapter, minutes in sorted(dict(rows).items())}


def runtime_summary() -> str:
    """Which accelerator this runtime has, which profile will run and how long the chapters take with it."""
    profile = current_profile()
    lines = [f"{device_name(default_device())}: the {profile.name!r} profile will run; runs and checkpoints go to "
             f"{profile.runs_dir}."]
    if profile.name == "default":
        minutes = reference_chapter_minutes()
        if minutes:
            trained = training_chapters()
            longest = max(minutes, key=minutes.get)
            lines.append(f"The course's reference run with this profile (NEU-Seg, 2 CPU cores; {REFERENCE_FIGURES.name}"
                         f"/README.md records each chapter's wall time) took about {sum(minutes.values()):.0f} min "
                         f"for the whole course, the longest chapter {minutes[longest]:.0f} min ({longest}). The "
                         f"chapters that train runs ({', '.join(trained)}) train each run for the profile's budget "
                         f"({profile.recipe.time_budget_s / 60:.0f} min); a finished run is reloaded, not retrained.")
    elif profile.name == "full":
        lines.append(f"The full profile trains the paper's backbones for {profile.recipe.epochs} epochs each; its "
                     "chapter times on a GPU have not been measured yet. On a Colab T4, start with one chapter and "
                     "watch its progress bar.")
    return "\n".join(lines)


def colab_badge(notebook: str, repo_url: str = REPO_URL) -> str:
    """Markdown of the "Open in Colab" badge for ``notebook`` (file name), or, while the course has no public
    address, how to open it from Google Drive instead."""
    if not repo_url:
        return (f"**On Colab:** put the course folder on your Google Drive as `MyDrive/steelnb`, open "
                f"`notebooks/{notebook}` from Drive with Colab, and run the install cell below.")
    path = repo_url.removeprefix("https://github.com/").removesuffix(".git")
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{path}/blob/main/notebooks/{notebook})")


def install_cell(repo_url: str = REPO_URL) -> str:
    """Source of the guarded install cell every chapter starts with. It does nothing outside Colab or when the
    course is already installed; on Colab it installs the course from ``MyDrive/steelnb`` on Google Drive, or
    clones ``repo_url`` when Drive has no copy, and says what to do when neither is there."""
    return f'''# On Colab: install the course from your Google Drive or from REPO_URL. Elsewhere this cell does nothing.
import importlib.util
import subprocess
import sys
from pathlib import Path

REPO_URL = "{repo_url}"  # the course's git address; empty: use the copy on your Google Drive
COURSE = Path("{DRIVE_COURSE}")
if "google.colab" in sys.modules and importlib.util.find_spec("steelnb") is None:
    from google.colab import drive
    drive.mount("{DRIVE_MOUNT}")
    if REPO_URL and not (COURSE / "pyproject.toml").is_file():
        COURSE = Path("/content/steelnb")
        if not COURSE.exists():
            subprocess.run(["git", "clone", "-q", REPO_URL, str(COURSE)], check=True)
    if not (COURSE / "pyproject.toml").is_file():
        raise FileNotFoundError(f"No course in {{COURSE}}: upload the course folder to Google Drive as MyDrive/steelnb, "
                                "or set REPO_URL to the course's git address, then run this cell again.")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", str(COURSE)], check=True)
    sys.path.insert(0, str(COURSE))  # this kernel: pip's link is read when Python starts'''


INSTALL_CELL_MARK = "# On Colab: install the course"
BADGE_MARKS = ("[![Open In Colab]", "**On Colab:**")


def _source_lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def sync_notebooks(folder: Path, repo_url: str = REPO_URL) -> list[Path]:
    """Write the Colab badge (in the title cell) and the install cell (the first code cell) of every chapter in
    ``folder`` from :func:`colab_badge` and :func:`install_cell`, so that one ``REPO_URL`` serves them all.

    Returns:
        the notebooks that changed.
    """
    changed = []
    for path in env.chapter_notebooks(folder):
        notebook = json.loads(path.read_text())
        cells = notebook["cells"]
        title = "".join(cells[0]["source"]).split("\n")
        badge = colab_badge(path.name, repo_url)
        kept = [line for line in title if not line.startswith(BADGE_MARKS)]
        body = "\n".join(kept[1:]).strip("\n")
        cells[0]["source"] = _source_lines(f"{kept[0]}\n\n{badge}\n\n{body}")
        first_code = next(i for i, cell in enumerate(cells) if cell["cell_type"] == "code")
        install = {"cell_type": "code", "execution_count": None, "id": "", "metadata": {}, "outputs": [],
                   "source": _source_lines(install_cell(repo_url))}
        if "".join(cells[first_code]["source"]).startswith(INSTALL_CELL_MARK):
            cells[first_code] = install
        else:
            cells.insert(first_code, install)
        for number, cell in enumerate(cells):  # the cell ids nbstripout gives
            cell["id"] = str(number)
        text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        if text != path.read_text():
            write_text_atomically(path, text)
            changed.append(path)
    return changed


if __name__ == "__main__":
    for changed_path in sync_notebooks(env.NOTEBOOKS):
        print("updated", changed_path.name)
