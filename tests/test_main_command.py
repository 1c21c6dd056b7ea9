"""``python -m steelnb``, the README's main command, end to end in the smoke profile on a fresh home."""
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from steelnb.evaluation.score_line import ScoreLine


@pytest.mark.slow
def test_main_command_trains_scores_and_ends_with_the_summary_line(tmp_path):
    # no data anywhere: the command generates the demo data and says how to get real steel
    env = {key: value for key, value in os.environ.items() if key != "STEELNB_DATA"}
    env.update(STEELNB_HOME=str(tmp_path / "home"), STEELNB_PROFILE="smoke", STEELNB_OFFLINE="1")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "steelnb"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    scores = ScoreLine.parse(lines[-1])
    assert 0 <= scores.miou <= 1 and 0 <= scores.all_empty_miou <= 1
    assert (tmp_path / "home" / "runs" / "smoke" / "figures" / "demo" / "main_predictions.png").is_file()  # the demo's own
    assert not (tmp_path / "home" / "runs" / "smoke" / "figures" / "main_predictions.png").exists()
    assert (tmp_path / "home" / "runs" / "smoke" / "demo" / "resnet101" / "best.pt").is_file()
    notice = "\n".join(lines[-7:-1])  # just above the score line
    assert "SYNTHETIC" in notice and "python -m steelnb download neu-seg" in notice and "minutes" in notice
    assert lines[-2].startswith("Test scores with flip test-time augmentation ('hv'")  # the profile's main_job_tta
    # and its main_job_tta_scales, (1.0, 1.375) of the 128-pixel input
    assert "multi-scale test-time augmentation (the probabilities of the image fed at 128 and 176 pixels" in lines[-2]



@pytest.mark.slow
def test_float32_and_light_train_a_run_of_their_own(tmp_path):
    # float32 stands in for a CPU without native bfloat16, --light is the lighter model: each its own folder,
    # and a checkpoint that says what was trained
    from steelnb.training.checkpoint import load_checkpoint
    env = {key: value for key, value in os.environ.items() if key != "STEELNB_DATA"}
    env.update(STEELNB_HOME=str(tmp_path / "home"), STEELNB_PROFILE="smoke", STEELNB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "steelnb", "--float32", "--light", "--epochs", "1"], env=env,
                          timeout=300, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Run 'resnet101-1epochs-float32-light'" in done.stdout
    assert "(repeat its length with --light --epochs 1)" in done.stdout  # the model is part of what to repeat
    state = load_checkpoint(tmp_path / "home" / "runs" / "smoke" / "demo" / "resnet101-1epochs-float32-light" /
                            "last.pt")
    assert state["config"]["amp"] is False and len(state["history"]) == 1
    assert (state["config"]["last_stage_width"], state["config"]["decoder_width"]) == (256, 128)
    # with progressive resizing: the first half of its epochs on 0.75x-size batches
    assert (state["config"]["early_scale"], state["config"]["early_share"]) == (0.75, 0.5)


@pytest.mark.slow
def test_a_light_runs_small_epochs_are_repeated_as_its_summary_line_says(tmp_path):
    # a budgeted run whose plan grew after its switch to the input size trains fewer small epochs than the share
    # of its final length: --small-epochs repeats the count it trained, here 1 of 3 (the recipe's share: 2)
    from steelnb.training.checkpoint import load_checkpoint
    env = {key: value for key, value in os.environ.items() if key != "STEELNB_DATA"}
    env.update(STEELNB_HOME=str(tmp_path / "home"), STEELNB_PROFILE="smoke", STEELNB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "steelnb", "--light", "--epochs", "3", "--small-epochs", "1"],
                          env=env, timeout=300, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Run 'resnet101-3epochs-1small-light'" in done.stdout
    assert "(repeat its length with --light --epochs 3 --small-epochs 1)" in done.stdout
    state = load_checkpoint(tmp_path / "home" / "runs" / "smoke" / "demo" / "resnet101-3epochs-1small-light" / "last.pt")
    assert [h["train_scale"] for h in state["history"]] == [0.75, 1.0, 1.0]


def test_the_test_time_augmentation_is_said_in_words():
    from steelnb.__main__ import tta_description
    assert tta_description("hv", (1.0,), (128, 128)) == ("flip test-time augmentation ('hv': the prediction averaged "
                                                          "with that of the flipped image)")
    assert tta_description("none", (1.0, 1.375), (128, 128)) == (
        "multi-scale test-time augmentation (the probabilities of the image fed at 128 and 176 pixels high, averaged)")
    assert tta_description("h", (1.0, 1.5), None).endswith("fed at 1x and 1.5x its own size, averaged)")


def test_the_main_jobs_prediction_figure_predicts_as_its_scores_were_made(monkeypatch):
    # the figure beside the score line shows the predictions that were scored: with the same test-time augmentation
    import numpy as np

    import steelnb.course.experiment as experiment_module
    from steelnb.course.experiment import ExperimentResult
    calls = []
    monkeypatch.setattr(experiment_module, "predict_mask",
                        lambda model, image, size, tta, scales: calls.append((size, tta, scales)) or image)

    class Index:
        image = mask = staticmethod(lambda image_id: np.zeros((4, 4), np.uint8))
    counts = np.zeros((1, 3, 3))
    result = ExperimentResult("run", None, [], counts, counts, input_size=(128, 128), tta="hv", tta_scales=(1.0, 1.375))
    assert len(result.prediction_rows(Index(), ["a", "b"])) == 2
    assert calls == [((128, 128), "hv", (1.0, 1.375))] * 2


def test_light_is_refused_for_the_baseline_before_anything_runs():
    from steelnb.__main__ import main
    with pytest.raises(SystemExit, match="--light narrows DeepLabV3\\+'s decoder.*baseline has no such decoder"):
        main(["--light", "--architecture", "baseline"])


def test_the_score_line_prints_what_it_parses_and_refuses_other_lines():
    line = ("test mIoU 0.809 (all-empty 0.405) | defect mIoU 0.688 | Dice 0.908 | class-mean defect IoU 0.725 | "
            "dataset mIoU with background 0.784")
    scores = ScoreLine.parse(line)
    assert scores == ScoreLine(0.809, 0.405, 0.688, 0.908, 0.725, 0.784) and str(scores) == line
    assert math.isnan(ScoreLine.parse(line.replace("0.725", "nan")).class_iou_defects)
    with pytest.raises(ValueError, match="not a score line"):
        ScoreLine.parse("wall time 12 s")


def test_fixed_epoch_runs_share_one_folder_name():
    # `python -m steelnb --epochs 6`, benchmarks/levers.py's reference and benchmarks/scaling.py's whole-split
    # run are the same training; one name lets each reload what another finished
    from steelnb.course.runs import fixed_epochs_run_name
    assert fixed_epochs_run_name("resnet101", 6) == "resnet101-6epochs"
    assert fixed_epochs_run_name("resnet101", 3, "size200") == "resnet101-3epochs-size200"


def _copy_of_the_course(target: Path) -> Path:
    """The course's tracked files (as they are in this working tree) in ``target``, as a git repository with one
    commit: a clean clone whose ``git status`` shows what a command changed."""
    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True)
    for relative in filter(None, tracked.stdout.split("\0")):
        if (root / relative).is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / relative, target / relative)
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
        subprocess.run(["git", *command], cwd=target, check=True, capture_output=True)
    return target


@pytest.mark.slow
def test_a_chapter_and_the_main_job_leave_the_reference_figures_untouched(tmp_path):
    # a student's chapter 00 in JupyterLab once replaced figures/demo/fig0_examples.png, a reference figure
    course = _copy_of_the_course(tmp_path / "course")
    env = {key: value for key, value in os.environ.items() if key not in ("STEELNB_DATA", "STEELNB_SMOKE", "CI")}
    env.update(STEELNB_PROFILE="default", STEELNB_OFFLINE="1", PYTHONPATH=str(course))  # the kernels use the copy
    for command in (["report", "--from", "00", "--to", "00"], ["--epochs", "1"]):
        done = subprocess.run([sys.executable, "-m", "steelnb", *command], cwd=course, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    assert (course / "runs" / "default" / "figures" / "demo" / "fig0_examples.png").is_file()  # the chapter's
    assert (course / "runs" / "default" / "figures" / "demo" / "main_predictions.png").is_file()  # the main job's
    changed = subprocess.run(["git", "status", "--porcelain", "--", "figures"], cwd=course, capture_output=True,
                             text=True, check=True).stdout
    assert changed == ""
