"""The main job's wall-clock target: the scoring estimate, the training budget it leaves, and a run under it."""
import time

import numpy as np
import torch
from test_checkpoints import _generic, _profile

import steelnb.course.experiment as experiment_module
from steelnb.course.experiment import run_experiment, score_images
from steelnb.course.job_budget import JOB_MARGIN_S, MIN_TRAINING_S, estimated_seconds, training_budget_s
from steelnb.course.setup import course_split
from steelnb.data.layouts import open_dataset
from steelnb.models import build_model
from steelnb.training.checkpoint import load_checkpoint


class _Clock:
    """A clock that only moves when told to."""
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_scoring_estimate_scales_the_timed_images_to_the_split_and_leaves_out_the_first_calls_setup():
    clock = _Clock()
    calls = []

    def score(image_ids):  # 0.5 s an image, and 10 s of setting up on the first call
        calls.append(list(image_ids))
        clock.now += 0.5 * len(image_ids) + (10.0 if len(calls) == 1 else 0.0)
    ids = [f"{i:03d}" for i in range(100)]
    assert estimated_seconds(score, ids, timed=32, warmup=2, clock=clock) == 50.0  # 100 images x 0.5 s
    assert calls == [ids[:2], ids[2:34]]
    clock.now, calls[:] = 0.0, []
    assert estimated_seconds(score, ids[:2], timed=32, warmup=2, clock=clock) == 1.0  # too few: all of them timed
    assert estimated_seconds(score, [], clock=clock) == 0.0


def test_the_training_budget_is_what_the_target_leaves_after_the_scoring_and_the_margin():
    # a 20-minute job, 100 s into it, whose scoring will take 90 s
    assert training_budget_s(deadline=1200.0, now=100.0, scoring_s=90.0) == 1200 - 100 - 90 - JOB_MARGIN_S
    assert training_budget_s(deadline=1200.0, now=1150.0, scoring_s=90.0) == MIN_TRAINING_S  # setup ran late


def test_scoring_leaves_the_model_as_it_was(tmp_path):
    # the job times its scoring on the untrained model just before training it
    index = open_dataset(_generic(tmp_path / "steel", 6, ("crack", "pit"), seed=0))
    torch.manual_seed(0)
    model = build_model("deeplabv3plus", "resnet18", index.num_classes, pretrained=False)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    counts, original = score_images(model, index, index.image_ids[:3], (32, 32), 2, "hv", (1.0, 1.5))
    assert counts.shape == original.shape == (3, 3, 3) and model.training
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())


def test_a_run_under_a_job_target_trains_for_what_it_leaves_and_resumes_under_another(tmp_path, monkeypatch):
    profile = _profile(tmp_path)
    index = open_dataset(_generic(tmp_path / "steel", 20, ("crack", "pit"), seed=0))
    split = course_split(index, profile)
    estimates = []

    def fake_estimate(score, image_ids):
        estimates.append(list(image_ids))
        return 30.0
    monkeypatch.setattr(experiment_module, "estimated_seconds", fake_estimate)
    start = time.perf_counter()
    run = run_experiment("run", index, split, profile, "deeplabv3plus", "resnet18", pretrained=False, progress=False,
                         epochs=2, time_budget_s=16 * 60, job_deadline=start + 10_000)
    budget = load_checkpoint(profile.runs_dir / index.name / "run" / "last.pt")["config"]["time_budget_s"]
    assert estimates == [split["test"]]  # the split it scores is what was timed
    assert 10_000 - 30 - JOB_MARGIN_S - (time.perf_counter() - start) <= budget <= 10_000 - 30 - JOB_MARGIN_S
    assert len(run.history) == 2 and np.isfinite(run.counts_original).all()
    # a later call with another target reloads the finished run: no estimate, no refusal of the other budget
    again = run_experiment("run", index, split, profile, "deeplabv3plus", "resnet18", pretrained=False,
                           progress=False, epochs=2, time_budget_s=16 * 60, job_deadline=time.perf_counter() + 500)
    assert len(again.history) == 2 and len(estimates) == 1
