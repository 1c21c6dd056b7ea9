"""Colab support, tested off Colab with a stand-in ``google.colab`` module."""
import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from steelnb import env
from steelnb.course.colab import colab_badge, install_cell, prepare_colab, reference_chapter_minutes, runtime_summary
from steelnb.course.profile import current_profile
from steelnb.data import locations

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _fake_colab(monkeypatch):
    mounted = []
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mounted.append)
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    return mounted


def _drive_at(monkeypatch, tmp_path):
    """Point the course's Drive paths into ``tmp_path`` (a mount creates ``MyDrive``)."""
    monkeypatch.setattr(env, "DRIVE_MOUNT", tmp_path / "drive")
    monkeypatch.setattr(env, "DRIVE_RUNS", tmp_path / "drive" / "MyDrive" / "steelnb" / "runs")
    for name in ("STEELNB_RUNS", "STEELNB_DATA", *env.COLAB_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "drive" / "MyDrive"


def test_off_colab_nothing_changes(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    _drive_at(monkeypatch, tmp_path)
    environment = dict(os.environ)
    assert prepare_colab() is None
    assert dict(os.environ) == environment and not (tmp_path / "drive").exists()
    assert env.runs_root() == env.PROJECT_ROOT / "runs"


def test_on_colab_runs_and_checkpoints_go_to_drive(monkeypatch, tmp_path):
    mounted = _fake_colab(monkeypatch)
    my_drive = _drive_at(monkeypatch, tmp_path)

    def mount(folder):
        mounted.append(folder)
        my_drive.mkdir(parents=True)
    monkeypatch.setattr(sys.modules["google.colab"].drive, "mount", mount)
    monkeypatch.setenv("STEELNB_PROFILE", "default")
    environment = dict(os.environ)
    runs = prepare_colab()
    assert mounted == [str(tmp_path / "drive")]
    assert runs == env.DRIVE_RUNS and runs.is_dir() and dict(os.environ) == environment  # nothing written there
    assert current_profile().runs_dir == runs / "default"  # where fit() writes last.pt and previous.pt
    assert current_profile().figures_dir == runs / "default" / "figures"  # not over the course's own figures/
    assert locations.neu_seg_dir() == locations.COLAB_NEU_SEG  # on Drive: every chapter's runtime finds it
    assert str(runs / "default") in runtime_summary()
    assert prepare_colab() == runs and len(mounted) == 1  # mounted once


def test_a_command_started_from_a_colab_notebook_uses_the_same_runs_and_data(monkeypatch, tmp_path):
    # `!python -m steelnb` runs in a child process: no google.colab module, but Colab's variable and the mount
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    my_drive = _drive_at(monkeypatch, tmp_path)
    my_drive.mkdir(parents=True)
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20261130")
    monkeypatch.setattr(locations, "COLAB_SEVERSTAL", tmp_path / "content" / "data" / "severstal")
    (tmp_path / "content" / "data" / "severstal").mkdir(parents=True)
    (tmp_path / "content" / "data" / "severstal" / "train.csv").write_text("ImageId,ClassId,EncodedPixels\n")
    assert prepare_colab() == env.DRIVE_RUNS  # no mount attempted: the notebook's is used
    assert env.runs_root() == env.DRIVE_RUNS
    assert locations.real_data_dir() == locations.severstal_dir() == tmp_path / "content" / "data" / "severstal"


def test_runtime_summary_names_the_profile_and_its_times(monkeypatch):
    monkeypatch.setenv("STEELNB_PROFILE", "default")
    summary = runtime_summary()
    # the chapters that train are the registry's (04-07 the paper's models, 10 native aspect, 12 the losses);
    # the times are the reference run's, read from the provenance table of figures/README.md
    minutes = reference_chapter_minutes()
    assert "'default' profile" in summary and "chapters that train runs (04, 05, 06, 07, 10, 12)" in summary
    assert f"took about {sum(minutes.values()):.0f} min for the whole course" in summary
    longest = max(minutes, key=minutes.get)  # a training chapter: 04-07 and 12 each train for the budget
    assert longest in {"04", "05", "06", "07", "12"}
    assert f"the longest chapter {minutes[longest]:.0f} min ({longest})" in summary
    monkeypatch.setenv("STEELNB_PROFILE", "full")
    assert "for 30 epochs each" in runtime_summary() and "not been measured" in runtime_summary()


def test_the_chapter_times_are_read_from_the_provenance_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("| file | notebook | dataset | profile | command | commit | notebook wall time |\n|---|\n"
                      "| [a.png](a.png) | `04_baseline` | neu-seg | default | `cmd` | `abc` | 45.4 min |\n"
                      "| [b.csv](b.csv) | `04_baseline` | neu-seg | default | `cmd` | `abc` | 45.4 min |\n"
                      "| [c.png](c.png) | `12_losses_and_mixup` | neu-seg | default | `cmd` | `abc` | 15.0 min |\n")
    assert reference_chapter_minutes(readme) == {"04": 45.4, "12": 15.0}
    assert reference_chapter_minutes(tmp_path / "missing.md") == {}


def test_on_colab_the_downloaded_kaggle_data_is_used(monkeypatch, tmp_path):
    _fake_colab(monkeypatch)
    _drive_at(monkeypatch, tmp_path)
    monkeypatch.setattr(locations, "COLAB_SEVERSTAL", tmp_path / "severstal")
    assert locations.real_data_dir() != tmp_path / "severstal"  # not downloaded yet
    (tmp_path / "severstal").mkdir()
    (tmp_path / "severstal" / "train.csv").write_text("ImageId,ClassId,EncodedPixels\n")
    assert locations.real_data_dir() == tmp_path / "severstal" and "STEELNB_DATA" not in os.environ


def test_every_chapter_has_the_badge_and_the_install_cell_first():
    chapters = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not chapters:
        pytest.skip(f"no chapters in {NOTEBOOKS}")
    for path in chapters:
        cells = json.loads(path.read_text())["cells"]
        assert colab_badge(path.name) in "".join(cells[0]["source"]), path.name
        first_code = next(cell for cell in cells if cell["cell_type"] == "code")
        assert "".join(first_code["source"]) == install_cell(), f"{path.name}: run python -m steelnb.course.colab"


def _run_install_cell(monkeypatch, tmp_path, repo_url="", on_colab=True):
    """Execute the install cell with /content under ``tmp_path``; return the commands it ran."""
    commands = []

    def fake_run(command, check):
        commands.append(command)
        if command[:2] == ["git", "clone"]:
            Path(command[-1]).mkdir(parents=True)
            (Path(command[-1]) / "pyproject.toml").write_text("")

    if on_colab:
        _fake_colab(monkeypatch)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # as on a fresh runtime
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(install_cell(repo_url).replace("/content", str(tmp_path / "content")), {})
    return commands


def test_install_cell_does_nothing_off_colab(monkeypatch, tmp_path):
    assert _run_install_cell(monkeypatch, tmp_path, on_colab=False) == []


def test_install_cell_installs_the_course_on_drive(monkeypatch, tmp_path):
    course = tmp_path / "content" / "drive" / "MyDrive" / "steelnb"
    course.mkdir(parents=True)
    (course / "pyproject.toml").write_text("")
    commands = _run_install_cell(monkeypatch, tmp_path, repo_url="https://example.org/steelnb.git")
    assert commands == [[sys.executable, "-m", "pip", "install", "-q", "-e", str(course)]]
    assert sys.path[0] == str(course)


def test_install_cell_clones_repo_url_without_a_drive_copy(monkeypatch, tmp_path):
    commands = _run_install_cell(monkeypatch, tmp_path, repo_url="https://example.org/steelnb.git")
    clone = tmp_path / "content" / "steelnb"
    assert commands == [["git", "clone", "-q", "https://example.org/steelnb.git", str(clone)],
                        [sys.executable, "-m", "pip", "install", "-q", "-e", str(clone)]]


def test_install_cell_says_what_to_do_without_a_course(monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match="upload the course folder to Google Drive as MyDrive/steelnb"):
        _run_install_cell(monkeypatch, tmp_path)


def test_badge_points_at_the_repository_once_it_has_an_address():
    badge = colab_badge("04_baseline.ipynb", "https://github.com/someone/steelnb.git")
    assert badge.endswith("(https://colab.research.google.com/github/someone/steelnb/blob/main/notebooks/04_baseline.ipynb)")
