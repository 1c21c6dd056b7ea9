"""Settings that could be taken the wrong way are refused where they are typed: environment switches and
command-line numbers (each case once meant something else without a word)."""
import os
import subprocess
import sys

import pytest
import torch

from steelnb.__main__ import main
from steelnb.commands import gpu_check
from steelnb.course.profile import current_profile
from steelnb.models.weights import load_imagenet_weights


@pytest.mark.parametrize("epochs", ["0", "-1", "two"])
def test_epochs_below_one_are_refused_where_typed(epochs, capsys, monkeypatch):
    def train_main(args):  # --epochs 0 was once ignored, and the run trained for the profile's budget
        raise AssertionError(f"the job started with --epochs {args.epochs}")
    monkeypatch.setattr("steelnb.__main__.train_main", train_main)
    with pytest.raises(SystemExit) as stop:
        main(["--epochs", epochs])
    assert stop.value.code == 2 and "--epochs" in capsys.readouterr().err


@pytest.mark.parametrize("minutes", ["nan", "inf", "0", "-3"])
def test_gpu_check_minutes_must_be_a_finite_positive_number(minutes, tmp_path, capsys):
    with pytest.raises(SystemExit):
        gpu_check.main([str(tmp_path / "out"), "--dry-run", "--minutes", minutes])
    assert "--minutes" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("value, profile", [("false", "default"), ("0", "default"), ("true", "smoke"), ("1", "smoke")])
def test_ci_false_is_off_and_ci_true_is_the_smoke_profile(monkeypatch, value, profile):
    for name in ("STEELNB_SMOKE", "STEELNB_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CI", value)
    assert current_profile().name == profile


def test_a_mistyped_ci_is_an_error(monkeypatch):
    monkeypatch.delenv("STEELNB_PROFILE", raising=False)
    monkeypatch.delenv("STEELNB_SMOKE", raising=False)
    monkeypatch.setenv("CI", "ture")
    with pytest.raises(ValueError, match="CI='ture'"):
        current_profile()


def test_a_mistyped_offline_switch_is_an_error_not_random_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # no cached weights
    monkeypatch.setenv("STEELNB_OFFLINE", "yse")
    with pytest.raises(ValueError, match="STEELNB_OFFLINE='yse'"):
        load_imagenet_weights(torch.nn.Linear(1, 1), "resnet18")


def test_an_empty_steelnb_home_is_an_error_not_the_current_folder(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import steelnb.env"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "STEELNB_HOME": ""})
    assert done.returncode != 0 and "STEELNB_HOME is set but empty" in done.stderr
    assert list(tmp_path.iterdir()) == []
