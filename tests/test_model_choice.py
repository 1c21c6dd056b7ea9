"""The budget's choice of model in ``python -m steelnb``: the lighter DeepLabV3+ where the time budget buys fewer than
4 epochs of the full-width one, from random weights, on a ResNet; the full one otherwise."""
import argparse
from dataclasses import replace

import pytest
import torch

from steelnb.__main__ import main, wants_light
from steelnb.course.experiment import training_set
from steelnb.course.model_choice import MIN_FULL_EPOCHS, BudgetPlan, full_model_plan
from steelnb.course.profile import profile_named
from steelnb.course.runs import training_summary
from steelnb.data.layouts import open_dataset
from steelnb.training import budget
from steelnb.training.distributed import current_world
from steelnb.training.loop import make_loaders


def test_the_lighter_model_is_chosen_below_four_full_epochs_from_random_weights_only():
    assert MIN_FULL_EPOCHS == 4
    assert BudgetPlan(3, 1.0, 16, 960.0, pretrained=False, train_steps=326).light
    assert not BudgetPlan(4, 1.0, 16, 960.0, pretrained=False, train_steps=326).light
    # ImageNet's layer4 would be dropped
    assert not BudgetPlan(2, 1.0, 16, 960.0, pretrained=True, train_steps=326).light
    three = BudgetPlan(3, 1.0, 16, 960.0, pretrained=False, train_steps=326)
    assert "training the lighter model instead" in three.describe()
    assert "buys 5 epoch(s)" in BudgetPlan(5, 1.0, 16, 960.0, pretrained=False, train_steps=326).describe()


@pytest.fixture
def budgeted(demo_root, monkeypatch, tmp_path):
    """A budgeted profile on 8/2/2 demo images, no ImageNet weights to find, and steps timed at 1 s (training)
    and 0.5 s (inference) whatever the machine; yields (profile, index, split, the timed batch shapes)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    shapes = []

    def fake_seconds_per_step(model, batch_shape, num_classes, train, device, amp):
        shapes.append(batch_shape)
        return 1.0 if train else 0.5
    monkeypatch.setattr(budget, "seconds_per_step", fake_seconds_per_step)
    index = open_dataset(demo_root)
    ids = index.image_ids
    smoke = profile_named("smoke")
    profile = replace(smoke, runs_dir=tmp_path / "runs", recipe=replace(smoke.recipe, epochs=30, time_budget_s=40.0))
    return profile, index, {"train": ids[:8], "val": ids[8:10], "test": ids[10:]}, shapes


def test_the_plan_counts_the_epochs_the_budget_buys(budgeted):
    profile, index, split, shapes = budgeted
    plan = full_model_plan(profile, index, split, "deeplabv3plus", "resnet18", {"amp": False})
    # as many steps as the training loader gives: the augmented copies count (14 images here, not the split's 8)
    config = profile.train_config(len(split["train"]))
    train_set, _ = training_set(index, split["train"], profile, config)
    loader, _, _ = make_loaders(train_set, train_set, config, torch.device("cpu"), current_world())
    assert plan.train_steps == len(loader) == 7 and len(train_set) == 14
    # batch max(2, min(16, 8 // 8)) = 2: 7 training steps of 1 s and 1 validation batch of 0.5 s per epoch,
    # times the 1.15 overhead = 8.625 s; 40 s buy 4 epochs, 20 s buy 2
    assert (plan.epochs, plan.batch_size, plan.step_s, plan.pretrained, plan.light) == (4, 2, 1.0, False, False)
    assert [shape[0] for shape in shapes] == [2, 2] and shapes[0][-2:] == (128, 128)  # the smoke input size
    short = replace(profile, recipe=replace(profile.recipe, time_budget_s=20.0))
    assert full_model_plan(short, index, split, "deeplabv3plus", "resnet18", {"amp": False}).epochs == 2


def test_the_command_trains_the_lighter_model_only_where_the_full_one_would_get_too_few_epochs(budgeted, tmp_path):
    profile, index, split, shapes = budgeted
    short = replace(profile, recipe=replace(profile.recipe, time_budget_s=15.0))
    args = argparse.Namespace(full_width=False, epochs=None, architecture="deeplabv3plus", light=False)
    full_run = tmp_path / "runs" / "demo" / "resnet101"
    assert wants_light(args, short, index, split, "resnet18", full_run, {}, verbose=False)
    assert not wants_light(args, profile, index, split, "resnet18", full_run, {}, verbose=False)
    timed = len(shapes)
    # nothing is timed where the choice is already made: by a flag, a fixed length, the architecture, a backbone
    # without a narrower last stage, or a full-width run already in its folder (resumed or reloaded as it is)
    for change in ({"full_width": True}, {"epochs": 2}, {"architecture": "baseline"}):
        assert not wants_light(argparse.Namespace(**{**vars(args), **change}), short, index, split, "resnet18",
                               full_run, {}, verbose=False)
    assert not wants_light(args, short, index, split, "efficientnet_b1", full_run, {}, verbose=False)
    full_run.mkdir(parents=True)
    assert not wants_light(args, short, index, split, "resnet18", full_run, {}, verbose=False)
    assert len(shapes) == timed


def test_light_and_full_width_together_are_refused_before_anything_runs():
    with pytest.raises(SystemExit, match="--light and --full-width ask for two different models"):
        main(["--light", "--full-width"])


def test_the_summary_line_repeats_a_lighter_run_with_light():
    # a budget that chose the lighter model: --epochs alone would train the full one
    history = [{"seconds": 90.0, "train_images": 3120}, {"seconds": 30.0, "train_images": 1040,
                                                          "planned_last_epoch_steps": 65}]
    assert training_summary(history, light=True).endswith(
        "4,160 images seen, 2.0 min of training and validation (repeat its length with --light --epochs 2 "
        "--last-epoch-steps 65).")
    assert "(repeat its length with --epochs 2 --last-epoch-steps 65)" in training_summary(history)


def test_the_summary_line_repeats_the_small_epochs_a_budget_fixed():
    # a budgeted run of progressive resizing switched to the input size after 6 epochs when its plan stood at 12,
    # then re-planned to 14: --epochs 14 alone would train round(0.5 x 14) = 7 small epochs
    history = [{"seconds": 55.0, "train_images": 4000, "train_scale": 0.75}] * 6 + [
        {"seconds": 87.0, "train_images": 4000, "train_scale": 1.0}] * 8
    assert training_summary(history, light=True).endswith("(repeat its length with --light --epochs 14 "
                                                          "--small-epochs 6).")
    assert "--small-epochs" not in training_summary(history[6:], light=True)  # none were small


@pytest.mark.parametrize("argv, words", [
    (["--small-epochs", "2"], "give --light and --epochs too"),
    (["--light", "--small-epochs", "2"], "give --light and --epochs too"),
    (["--epochs", "4", "--small-epochs", "2"], "give --light and --epochs too"),
    (["--light", "--epochs", "4", "--small-epochs", "5"], "give 0 to 4"),
    (["--light", "--epochs", "4", "--small-epochs", "-1"], "give 0 to 4")])
def test_small_epochs_without_a_light_fixed_length_is_refused_before_anything_runs(argv, words):
    with pytest.raises(SystemExit, match=words):
        main(argv)


def test_a_chapter_chooses_its_model_on_validation_not_on_test():
    # chapters 08, 09 and 13 pick the model they browse, analyse and export: by its best validation epoch, even when
    # another model scores higher on the test split they show
    import numpy as np

    from steelnb.course.experiment import ExperimentResult, chosen_on_validation
    from steelnb.evaluation.metrics import summarize
    perfect = np.array([[[90, 90, 90], [10, 10, 10]]])  # (image, label, intersection/predicted/true): all right
    wrong = np.array([[[90, 100, 90], [0, 0, 10]]])  # the defect missed
    on_test = ExperimentResult("best on test", None, [{"val_selected": 0.5}, {"val_selected": 0.6}], perfect, perfect)
    on_val = ExperimentResult("best on validation", None, [{"val_selected": 0.7}, {"val_selected": 0.65}], wrong, wrong)
    assert summarize(perfect)["class_iou_defects"] == 1 and summarize(wrong)["class_iou_defects"] == 0
    assert on_val.best_validation_score() == 0.7
    assert chosen_on_validation([on_test, on_val]).name == "best on validation"
    with pytest.raises(ValueError, match="no results"):
        chosen_on_validation([])
