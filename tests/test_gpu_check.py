"""The one-command GPU check, exercised where there is no GPU: its dry run, its time limits, its refusals."""
import importlib.util
import os
import sys
import time

import pandas as pd
import pytest

from steelnb.commands import gpu_check


@pytest.mark.slow
def test_dry_run_runs_every_stage_and_writes_one_page(tmp_path):
    outcomes = gpu_check.check(tmp_path, dry_run=True, minutes=60)  # about a minute alone; room for a loaded machine
    assert list(outcomes) == list(gpu_check.STAGES)
    assert all(outcome.startswith("ok") for outcome in outcomes.values()), outcomes
    page = (tmp_path / "gpu_check.md").read_text()
    assert "dry run" in page and "torch" in page and "cuDNN" in page
    speed = pd.read_csv(tmp_path / "speed.csv")
    assert set(speed["model"]) == {"baseline", "resnet101", "densenet201", "efficientnet_b1"}
    # each model with and without mixed precision and channels_last: one training step, 2 sizes x 2 batches of eval
    assert len(speed) == 4 * 4 * (1 + 2 * 2)
    assert set(speed["memory format"]) == {"channels_last", "contiguous"}
    train = speed[speed["mode"] == "train"]
    assert ((train["img/s"] - train["batch"] * train["it/s"]).abs() <= 0.02 * train["img/s"] + 0.01).all()
    train = pd.read_csv(tmp_path / "train.csv")
    assert list(train["model"]) == ["baseline", "resnet101", "densenet201", "efficientnet_b1"]
    assert train["all-empty mIoU"].between(0, 1).all() and (train["weights"] == "random init").all()
    loader = pd.read_csv(tmp_path / "loader.csv")
    assert loader["what"].str.contains("2 workers").any() and loader["what"].str.contains("training step").any()
    smp = pd.read_csv(tmp_path / "smp.csv")  # the comparison script is found from the installed package
    if importlib.util.find_spec("segmentation_models_pytorch") is None:
        assert "not installed" in smp["skipped"].iloc[0]
    else:
        assert "skipped" not in smp.columns and len(smp) >= 1


def test_a_stage_over_its_budget_is_stopped_with_its_workers(tmp_path):
    grandchild_pid = tmp_path / "pid"
    program = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; "
               f"time.sleep(60)']); open({str(grandchild_pid)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    start = time.perf_counter()
    outcome = gpu_check.run_with_limit([sys.executable, "-c", program], timeout_s=3)
    assert outcome == "stopped after its budget of 3 s" and time.perf_counter() - start < 20
    pid = int(grandchild_pid.read_text())
    for _ in range(50):  # the whole process group was killed: a DataLoader worker would be too
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the stage's child process survived")
    assert gpu_check.run_with_limit([sys.executable, "-c", "raise SystemExit(3)"], 10) == "failed (exit 3)"


def test_stages_left_without_time_are_skipped_and_said_so(tmp_path):
    outcomes = gpu_check.check(tmp_path, dry_run=True, minutes=0.01)
    assert set(outcomes.values()) == {"skipped: no time left"}
    assert "## train: skipped: no time left" in (tmp_path / "gpu_check.md").read_text()


def test_without_a_gpu_the_real_check_refuses(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert gpu_check.main([str(tmp_path)]) == 1
    assert "--dry-run" in capsys.readouterr().out


def test_a_folder_the_check_did_not_write_is_refused_untouched(tmp_path, capsys):
    # a Kaggle data folder named by mistake: gpu-check would have replaced its labels with a results table
    data = tmp_path / "severstal"
    data.mkdir()
    (data / "train.csv").write_text("ImageId,ClassId,EncodedPixels\nx.jpg,1,1 2\n")
    assert gpu_check.main([str(data), "--dry-run", "--stages", "smp"]) == 2
    assert "holds files gpu-check did not write (train.csv)" in capsys.readouterr().out
    assert [p.name for p in data.iterdir()] == ["train.csv"]
    assert (data / "train.csv").read_text() == "ImageId,ClassId,EncodedPixels\nx.jpg,1,1 2\n"
    with pytest.raises(gpu_check.OutputFolderError, match="is a file"):
        gpu_check.prepare_output_folder(data / "train.csv")


def test_an_earlier_checks_folder_is_taken_again_but_not_with_a_file_of_yours_in_it(tmp_path):
    out = tmp_path / "results"
    gpu_check.prepare_output_folder(out)  # new: created and marked as the check's own
    for name in gpu_check.output_files():
        (out / name).write_text("an earlier result")
    gpu_check.prepare_output_folder(out)  # its own earlier results: taken
    (out / "notes.txt").write_text("mine")
    with pytest.raises(gpu_check.OutputFolderError, match=r"did not write \(notes\.txt\)"):
        gpu_check.prepare_output_folder(out)
    assert (out / "notes.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    gpu_check.prepare_output_folder(empty)
    assert sorted(p.name for p in empty.iterdir()) == [gpu_check.MANIFEST]
