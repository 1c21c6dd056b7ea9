"""Colab support, tested off Colab with a stand-in ``google.colab`` module."""
import os
import sys
import types

from steelnb.colab import keep_runs_on_drive, runtime_summary
from steelnb.profile import current_profile


def _fake_colab(monkeypatch):
    mounted = []
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mounted.append)
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    return mounted


def test_off_colab_nothing_changes(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("STEELNB_RUNS", raising=False)
    assert keep_runs_on_drive(tmp_path / "runs") is None
    assert "STEELNB_RUNS" not in os.environ and not (tmp_path / "runs").exists()


def test_on_colab_runs_and_checkpoints_go_to_drive(monkeypatch, tmp_path):
    mounted = _fake_colab(monkeypatch)
    monkeypatch.setenv("STEELNB_RUNS", str(tmp_path / "elsewhere"))  # restored after the test
    monkeypatch.setenv("STEELNB_PROFILE", "default")
    runs = keep_runs_on_drive(tmp_path / "MyDrive" / "steelnb" / "runs")
    assert mounted == ["/content/drive"]
    assert runs.is_dir() and os.environ["STEELNB_RUNS"] == str(runs)
    assert current_profile().runs_dir == runs / "default"  # where fit() writes last.pt and previous.pt
    assert str(runs / "default") in runtime_summary()


def test_runtime_summary_names_the_profile_and_its_times(monkeypatch):
    monkeypatch.setenv("STEELNB_PROFILE", "default")
    summary = runtime_summary()
    assert "'default' profile" in summary and "chapters 04-07 and 12 train for 12-16 min each" in summary
    monkeypatch.setenv("STEELNB_PROFILE", "full")
    assert "not been measured" in runtime_summary()
