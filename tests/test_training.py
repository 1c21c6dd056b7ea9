import math
import os
import subprocess
import sys
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from toy_data import bright_squares

from steelnb.evaluation.inference import inference_model, predict_image_probs, predict_mask, predict_probs
from steelnb.evaluation.scoring import split_probabilities
from steelnb.models import build_model
from steelnb.training import budget as budget_module
from steelnb.training import loop as loop_module
from steelnb.training import precision
from steelnb.training.checkpoint import RunCheckpoints, load_checkpoint, load_weights, save_atomic
from steelnb.training.config import TrainConfig, early_share_for
from steelnb.training.loop import build_optimizer, epoch_scale, fit, planned_steps, replanned_length, weight_average
from steelnb.training.losses import DiceLoss, FocalLoss, HardPixelCELoss, build_loss, inverse_frequency_weights
from steelnb.training.precision import cpu_has_native_bf16


def _toy_sets():
    """12 training images, 4 validation images."""
    return bright_squares(12, width=64, step=4)


def _model():
    torch.manual_seed(0)
    return build_model("deeplabv3plus", "resnet18", num_classes=2, pretrained=False)


def test_finished_run_returns_at_once_and_config_must_match(tmp_path):
    train, val = _toy_sets()
    config = TrainConfig(epochs=1, batch_size=4)
    history = fit(_model(), train, val, tmp_path / "run", config, 2, progress=False)
    model = _model()
    again = fit(model, train, val, tmp_path / "run", config, 2, progress=False)
    assert again == history  # nothing retrained, the weights of the finished run are loaded
    assert torch.equal(model.segmentation_head.weight,
                       load_checkpoint(tmp_path / "run" / "last.pt")["model"]["segmentation_head.weight"])
    with pytest.raises(ValueError, match="trained with"):
        fit(_model(), train, val, tmp_path / "run", TrainConfig(epochs=1, batch_size=2), 2, progress=False)


def _train_until_killed_after_epoch_2(monkeypatch, train, val, run_dir, config):
    """Train in ``run_dir`` until the process is stopped (a Colab disconnect) right after epoch 2's save."""
    real_save = RunCheckpoints.save_last

    def stop_after_epoch_2(self, state):
        real_save(self, state)
        if len(state["history"]) == 2:
            raise KeyboardInterrupt("simulated disconnect after epoch 2")

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(RunCheckpoints, "save_last", stop_after_epoch_2)
        fit(_model(), train, val, run_dir, config, 2, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_crash_mid_run_resumes_bit_exact(tmp_path, monkeypatch, ema_decay):
    train, val = _toy_sets()
    config = TrainConfig(epochs=3, batch_size=4, ema_decay=ema_decay)
    reference = _model()
    expected = fit(reference, train, val, tmp_path / "ref", config, 2, progress=False)

    _train_until_killed_after_epoch_2(monkeypatch, train, val, tmp_path / "run", config)
    resumed_model = _model()
    resumed = fit(resumed_model, train, val, tmp_path / "run", config, 2, progress=False)
    assert [h["train_loss"] for h in resumed] == [h["train_loss"] for h in expected]
    for key, value in reference.state_dict().items():
        assert torch.equal(value, resumed_model.state_dict()[key])
    best = _model()
    checkpoint = load_weights(best, tmp_path / "run", "best")
    # best.pt: the highest validation class-mean defect IoU, the later epoch on a tie
    assert checkpoint["epoch"] == max(reversed(expected), key=lambda h: h["val_class_iou_defects"])["epoch"]
    reference_best = load_checkpoint(tmp_path / "ref" / "best.pt")["model"]
    assert all(torch.equal(value, checkpoint["model"][key]) for key, value in reference_best.items())


def test_weight_average_is_the_exponential_moving_average_of_weights_and_statistics():
    model = torch.nn.Sequential(torch.nn.Linear(1, 1, bias=False), torch.nn.BatchNorm1d(1))
    assert weight_average(model, TrainConfig()) is None
    average = weight_average(model, TrainConfig(ema_decay=0.9))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[1].running_mean.fill_(2.0)
        average.update_parameters(model)  # the first update copies
        model[0].weight.fill_(3.0)
        model[1].running_mean.fill_(4.0)
        average.update_parameters(model)
    assert float(average.module[0].weight) == pytest.approx(0.9 * 1.0 + 0.1 * 3.0)
    assert float(average.module[1].running_mean) == pytest.approx(0.9 * 2.0 + 0.1 * 4.0)


@pytest.mark.slow
def test_corrupt_last_checkpoint_falls_back_one_epoch(tmp_path, monkeypatch):
    train, val = _toy_sets()
    config = TrainConfig(epochs=3, batch_size=4)
    expected = fit(_model(), train, val, tmp_path / "ref", config, 2, progress=False)

    _train_until_killed_after_epoch_2(monkeypatch, train, val, tmp_path / "run", config)
    assert len(load_checkpoint(tmp_path / "run" / "previous.pt")["history"]) == 1
    (tmp_path / "run" / "last.pt").write_bytes(b"truncated by a full disk")
    with pytest.warns(RuntimeWarning, match="last.pt.*resuming from .*previous.pt \\(epoch 1\\)"):
        resumed = fit(_model(), train, val, tmp_path / "run", config, 2, progress=False)
    assert [h["train_loss"] for h in resumed] == [h["train_loss"] for h in expected]  # epoch 2 redone, same result


def test_unreadable_checkpoints_stop_with_the_folder_named(tmp_path):
    train, val = _toy_sets()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="no readable checkpoint in .*run"):
        fit(_model(), train, val, tmp_path / "run", TrainConfig(epochs=1, batch_size=4), 2, progress=False)
    assert (tmp_path / "run" / "last.pt").read_bytes() == b"garbage"  # left for the user to inspect


class _Clock:
    """A stand-in for the training loop's ``time`` module: every ``perf_counter()`` call moves it ``tick``
    seconds on, and ``wait(s)`` moves it ``s`` more, so that an epoch's duration is set by the test, not by
    how busy this machine is (the loop reads the clock three times an epoch: 2 ticks per epoch)."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def perf_counter(self) -> float:
        self.now += self.tick
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds


def test_replanned_length_by_hand():
    # epochs of 10 steps: 8 s of training (0.8 s a step) and 2 s of validation, after a slow first epoch
    history = [{"seconds": 30.0, "train_seconds": 28.0, "train_steps": 10},
               {"seconds": 10.0, "train_seconds": 8.0, "train_steps": 10}]
    # 100 x 0.99 - 40 = 59 s left at the last epoch's 10 s: 5 whole epochs, then (9 - 2) / 0.8 = 8 steps
    assert replanned_length(history, 100.0, max_epochs=40, steps_per_epoch=10) == (2 + 5 + 1, 8)
    slow = history + [{"seconds": 30.0, "train_seconds": 28.0, "train_steps": 10}]  # the load is back
    # 29 s left at 30 s an epoch: no whole one; (29 - 2) / 2.8 = 9 steps
    assert replanned_length(slow, 100.0, 40, 10) == (4, 9)
    assert replanned_length(history, 100.0, 5, 10) == (5, None)  # the cap: whole epochs only
    assert replanned_length(history, 40.0, 40, 10) == (2, None)  # nothing left: stop after the epochs done
    assert replanned_length([{"seconds": 120.0}], 100.0, 40, 10) == (1, None)  # over budget already
    assert planned_steps(TrainConfig(epochs=8, last_epoch_steps=8), 10) == 78
    assert planned_steps(TrainConfig(epochs=8), 10) == 80


def test_the_replan_prices_each_epoch_at_its_own_size():
    # progressive resizing, the first half of the epochs at half the size: after a half-size epoch of 10 steps
    # (0.2 s a step, so 0.8 s at full size, which has 4x the pixels) and 2 s of validation, a half-size epoch costs
    # 4 s and a full-size one 10 s; 100 x 0.99 - 4 = 95 s are left
    history = [{"seconds": 4.0, "train_seconds": 2.0, "train_steps": 10, "train_scale": 0.5}]
    halves = TrainConfig(early_scale=0.5, early_share=0.5).batch_scale
    # 14 epochs: round(7) = 7 at half size, 6 of them to come (24 s), and 7 at full size (70 s): 94 s. 15 epochs
    # would have round(7.5) = 8 at half size: 28 + 70 = 98 s, too many. Priced at the last epoch's 4 s each (the
    # plan after a full-size epoch of 4 s), 1 + 23 whole epochs and (95 - 92 - 2) / 0.2 = 5 steps would be planned,
    # about 75 s over the budget once half of them are at full size
    assert replanned_length(history, 100.0, 40, 10, halves) == (14, None)
    assert replanned_length([{**history[0], "train_scale": 1.0}], 100.0, 40, 10) == (25, 5)
    # the same half-size epoch followed by full-size ones only: 9 whole epochs of 10 s (90 s), then
    # (95 - 90 - 2) / 0.8 = 3 steps of an eleventh
    assert replanned_length(history, 100.0, 40, 10) == (11, 3)
    # 2 s more budget: 96.98 - 94 = 2.98 s after 14 epochs, (2.98 - 2) / 0.8 = 1 step of a fifteenth at full size
    assert replanned_length(history, 102.0, 40, 10, halves) == (15, 1)



def test_early_share_for_gives_exactly_the_small_epochs_asked():
    # the count of epochs batch_scale makes small, for every length up to the budget's cap of 40 epochs
    for epochs in range(1, 41):
        for small in range(epochs + 1):
            config = TrainConfig(epochs=epochs, early_scale=0.75, early_share=early_share_for(small, epochs))
            scales = [config.batch_scale(epoch) for epoch in range(1, epochs + 1)]
            assert scales == [0.75] * small + [1.0] * (epochs - small)
    with pytest.raises(ValueError, match="give 0 to 14"):
        early_share_for(15, 14)


def test_small_epochs_never_come_back_after_a_full_size_one():
    # progressive resizing, the first half at 0.75x: under a plan of 12 epochs, epoch 7 trained at full size
    # (round(6) = 6 small ones); a re-plan to 16 puts the share's boundary at round(8) = 8, which would make epoch 8
    # small again; it stays at full size, and so does every later epoch the re-plan prices
    config = TrainConfig(epochs=12, early_scale=0.75, early_share=0.5)
    history = [{"train_scale": 0.75}] * 6 + [{"train_scale": 1.0}]
    assert config.batch_scale(8, 16) == 0.75
    assert [epoch_scale(config, history, epoch, 16) for epoch in (8, 9, 16)] == [1.0, 1.0, 1.0]
    # before the switch the share decides: epoch 4 of 12 after three small epochs is small, epoch 7 is not
    assert epoch_scale(config, history[:3], 4) == 0.75 and epoch_scale(config, history[:6], 7) == 1.0
    assert epoch_scale(config, history[:6], 7, 16) == 0.75  # a longer plan before the switch moves it later

def test_time_budget_plans_from_timed_steps_then_replans_from_measured_epochs(tmp_path, monkeypatch):
    import steelnb.training.loop as train_module
    train, val = _toy_sets()
    monkeypatch.setattr(budget_module, "seconds_per_step", lambda *args, **kwargs: 1.0)
    monkeypatch.setattr(train_module, "time", _Clock(tick=0.5))  # each epoch takes 1 s
    # the timing says 3 train steps + 1 val batch of 1 s each, x1.15 overhead = 4.6 s per epoch: a 10 s budget
    # fits 2 epochs; the epochs really take 1 s, so the first re-plan goes to 10, capped at 5
    config = TrainConfig(epochs=5, batch_size=4, time_budget_s=10.0)
    history = fit(_model(), train, val, tmp_path / "run", config, 2, progress=False)
    assert [h["planned_epochs"] for h in history] == [5] * 5
    assert load_checkpoint(tmp_path / "run" / "last.pt")["config"]["epochs"] == 5
    assert history[-1]["lr"] == 0.0  # the re-planned schedule still ends at zero
    assert all(h["load_1min"] >= 0 for h in history)  # each epoch records the machine's load
    monkeypatch.setattr(budget_module, "seconds_per_step", lambda *args, **kwargs: 0.01)  # another machine
    assert len(fit(_model(), train, val, tmp_path / "run", config, 2, progress=False)) == 5  # finished: kept


def test_a_slow_start_neither_overruns_the_budget_nor_wastes_it(tmp_path, monkeypatch):
    # the main job once planned 8 epochs from its first steps, then a burst of load made its first epoch 4x
    # longer: 16 minutes of training became 18; another planned from a slow start and used half its budget
    import steelnb.training.loop as train_module
    clock = _Clock(tick=0.5)  # 1 s an epoch when the machine is quiet
    monkeypatch.setattr(train_module, "time", clock)
    monkeypatch.setattr(budget_module, "seconds_per_step", lambda *args, **kwargs: 0.2)  # timed quiet: 8 s budget
    # fits 8 / (1.15 x (3 x 0.2 + 0.2)) = 8 epochs

    class SlowStart(torch.utils.data.Dataset):
        """The toy training set, whose first 7 items each take 1 s more: the machine is busy at the start (the
        first item is read once before training, for its shape)."""
        def __init__(self, items):
            self.items, self.calls = items, 0

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            self.calls += 1
            if self.calls <= 7:
                clock.wait(1.0)
            return self.items[i]
    train, val = _toy_sets()
    budget = 20.0
    history = fit(_model(), SlowStart(train), val, tmp_path / "run",
                  TrainConfig(epochs=200, batch_size=4, time_budget_s=budget), 2, progress=False)
    spent = sum(h["seconds"] for h in history)
    assert [h["seconds"] for h in history[:2]] == [7.0, 1.0]  # the slow start happened (6 s more), then 1 s
    # planned 20 / (1.15 x 0.8) = 21 epochs from the quiet timing: 7 + 20 = 27 s, 135% of the budget, without
    # re-planning; re-planned: 1 + 13 epochs (7 + 13 x 1 = 20 s)
    assert 0.9 * budget <= spent <= budget and len(history) == 14


def pixel_timed_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand in for the machine's clock: a training step of 4 images takes 1 s at full size and the square of its
    batches' scale at another (its pixels), validation 1 s, and the budget's timing says 1 s a step."""
    import steelnb.training.loop as train_module
    clock = _Clock(tick=0.0)
    monkeypatch.setattr(train_module, "time", clock)
    monkeypatch.setattr(budget_module, "seconds_per_step", lambda *args, **kwargs: 1.0)
    original, original_validate = train_module._train_epoch, train_module.validate

    def timed_epoch(*args, **kwargs):
        loss, seen = original(*args, **kwargs)
        clock.wait(seen / 4 * args[-1] ** 2)  # batches of 4 images; the last argument is the epoch's scale
        return loss, seen

    def timed_validate(*args, **kwargs):
        clock.wait(1.0)
        return original_validate(*args, **kwargs)
    monkeypatch.setattr(train_module, "_train_epoch", timed_epoch)
    monkeypatch.setattr(train_module, "validate", timed_validate)


def test_a_budget_with_progressive_resizing_is_used_but_not_overrun(tmp_path, monkeypatch):
    # steps cost their pixels: 1 s at full size, 0.25 s at half size; validation 1 s; 3 steps an epoch. The first
    # half of the epochs train at half size, so the first epochs are cheap and the last ones are not
    pixel_timed_training(monkeypatch)
    train, val = _toy_sets()
    budget = 40.0
    config = TrainConfig(epochs=40, batch_size=4, time_budget_s=budget, early_scale=0.5, early_share=0.5)
    history = fit(_model(), train, val, tmp_path / "run", config, 2, progress=False)
    spent = sum(h["seconds"] for h in history)
    assert 0.9 * budget <= spent <= budget
    scales = [h["train_scale"] for h in history]
    assert scales == sorted(scales) and scales[0] == 0.5 and scales[-1] == 1.0  # half size first, then full size
    assert history[-1]["lr"] == 0.0


def test_a_budget_of_few_long_epochs_is_used_to_its_end_by_a_partial_last_epoch(tmp_path, monkeypatch):
    # the main job's epochs take about a fifth of its budget: whole epochs alone would leave up to a fifth
    # unused (13.9 of 16 min, once). Each training step here takes 1 s and validation 1 s; the toy set has 3
    # steps an epoch, so an epoch takes 4 s of a 15.5 s budget: 3 whole epochs would use 12 s (77%)
    pixel_timed_training(monkeypatch)
    train, val = _toy_sets()
    budget = 15.5
    history = fit(_model(), train, val, tmp_path / "run", TrainConfig(epochs=40, batch_size=4, time_budget_s=budget),
                  2, progress=False)
    spent = sum(h["seconds"] for h in history)
    # 3 whole epochs (12 s), then (15.5 x 0.99 - 12 - 1 s of validation) / 1 s = 2 steps: 15 s in all
    assert [h["train_steps"] for h in history] == [3, 3, 3, 2] and spent == 15.0
    assert 0.9 * budget <= spent <= budget
    assert history[-1]["lr"] == 0.0  # the schedule ends at zero on the last, partial epoch's last step
    saved = load_checkpoint(tmp_path / "run" / "last.pt")["config"]
    assert (saved["epochs"], saved["last_epoch_steps"]) == (4, 2)  # kept with the run, to repeat its length
    assert len(fit(_model(), train, val, tmp_path / "run", TrainConfig(epochs=40, batch_size=4, time_budget_s=budget),
                   2, progress=False)) == 4  # finished: reloaded, not trained further


def test_adamw_runs_fused_and_updates_as_the_for_loop_reference_does():
    # the independent truth is AdamW's plain for-loop implementation, one parameter at a time
    torch.manual_seed(0)
    fused_model, loop_model = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
    loop_model.load_state_dict(fused_model.state_dict())
    config = TrainConfig(optimizer="adamw", lr=1e-2, weight_decay=1e-4)
    fused = build_optimizer(fused_model, config)
    assert fused.defaults["fused"]
    reference = torch.optim.AdamW(loop_model.parameters(), lr=1e-2, weight_decay=1e-4, foreach=False)
    x = torch.randn(8, 5)
    for _ in range(3):
        for model, optimizer in ((fused_model, fused), (loop_model, reference)):
            optimizer.zero_grad()
            model(x).square().sum().backward()
            optimizer.step()
    for ours, theirs in zip(fused_model.parameters(), loop_model.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)


def test_training_learns_the_toy_task(tmp_path):
    train, val = _toy_sets()
    model = _model()
    history = fit(model, train, val, tmp_path / "learn", TrainConfig(epochs=8, batch_size=4, lr=0.02), 2, progress=False)
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 2
    assert history[-1]["val_miou"] > history[-1]["empty_miou"]


def test_losses_hand_computed():
    logits = torch.tensor([[[[10.0, -10.0]], [[-10.0, 10.0]]]])  # (1, 2, 1, 2): predicts [0, 1] confidently
    target = torch.tensor([[[0, 1]]])
    assert float(DiceLoss(smooth=0)(logits, target)) == pytest.approx(0.0, abs=1e-6)
    assert float(build_loss("ce", 2)(logits, target)) == pytest.approx(0.0, abs=1e-6)
    undecided = torch.zeros(1, 2, 1, 2)  # p = 0.5 for both classes: CE = ln 2, focal = (1 - 0.5)^2 ln 2
    assert float(build_loss("ce", 2)(undecided, target)) == pytest.approx(math.log(2))
    assert float(build_loss("focal", 2)(undecided, target)) == pytest.approx(0.25 * math.log(2))
    assert float(build_loss("focal", 2, focal_gamma=1.0)(undecided, target)) == pytest.approx(0.5 * math.log(2))
    assert float(build_loss("focal", 2, focal_gamma=0.0)(undecided, target)) == pytest.approx(math.log(2))  # CE
    assert float(FocalLoss(gamma=1.0)(undecided, target)) == pytest.approx(0.5 * math.log(2))
    weights = inverse_frequency_weights([900, 100], power=1.0)
    assert weights[1] == pytest.approx(9 * weights[0], rel=1e-3) and np.mean(weights) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="class_weights"):
        build_loss("ce", 3, [1.0, 2.0])


def test_hard_pixel_cross_entropy_averages_the_hardest_share_of_the_pixels():
    # four pixels of label 0 with p(0) = 1/2, 1/(1 + e), 1/(1 + e^2), 1/(1 + e^3): CE ln(1 + e^d) for d = 0..3
    logits = torch.tensor([[[[0.0, 0.0, 0.0, 0.0]], [[0.0, 1.0, 2.0, 3.0]]]])  # (1, 2, 1, 4)
    target = torch.zeros(1, 1, 4, dtype=torch.long)
    ce = [math.log(1 + math.exp(d)) for d in range(4)]
    assert float(HardPixelCELoss(keep=0.5)(logits, target)) == pytest.approx((ce[2] + ce[3]) / 2)
    assert float(HardPixelCELoss(keep=0.25)(logits, target)) == pytest.approx(ce[3])
    assert float(HardPixelCELoss(keep=1.0)(logits, target)) == pytest.approx(sum(ce) / 4)  # plain CE
    assert float(HardPixelCELoss(keep=0.01)(logits, target)) == pytest.approx(ce[3])  # at least one pixel
    # no defect in truth, p(defect) up to e^3/(1 + e^3): Dice 1 - smooth / (sum p + smooth)
    dice = 1 - 1 / (sum(math.exp(d) / (1 + math.exp(d)) for d in range(4)) + 1)
    assert float(build_loss("ohem+dice", 2)(logits, target)) == pytest.approx(ce[3] + dice)
    with pytest.raises(ValueError, match="keep must be a share"):
        HardPixelCELoss(keep=0.0)


def test_lovasz_is_one_minus_iou_on_confident_predictions():
    target = torch.tensor([[[0, 0, 1, 1]]])  # (1, 1, 4)
    predicted = torch.tensor([0, 1, 1, 1])
    logits = (torch.nn.functional.one_hot(predicted, 2).T.float() * 40 - 20)[None, :, None]  # (1, 2, 1, 4)
    # label 0: truth {0, 1}, predicted {0}: IoU 1/2; label 1: truth {2, 3}, predicted {1, 2, 3}: IoU 2/3
    assert float(build_loss("lovasz", 2)(logits, target)) == pytest.approx(((1 - 1 / 2) + (1 - 2 / 3)) / 2)
    # p = 1/2 everywhere: every error is 1/2, and with every pixel counted wrong the Jaccard loss is 1
    assert float(build_loss("lovasz", 2)(torch.zeros(1, 2, 1, 4), target)) == pytest.approx(0.5)
    assert float(build_loss("ce+lovasz", 2)(torch.zeros(1, 2, 1, 4), target)) == pytest.approx(math.log(2) + 0.5)


def test_inference_shapes_and_tta():
    model = _model().eval()
    image = (np.random.default_rng(0).random((64, 320)) * 255).astype(np.uint8)
    assert predict_mask(model, image, (32, 32)).shape == (64, 320)
    assert predict_mask(model, image, None).shape == (64, 320)


class _PixelwiseModel(torch.nn.Module):
    """Logits (image, -image) per pixel: flipping the input flips the output, so flip TTA that undoes
    its flip must give exactly the plain prediction, and one that does not gives a mirrored one."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(4.0))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([images, -images], dim=1) * self.scale


def test_flip_tta_undoes_its_flip():
    images = torch.linspace(0, 1, 64).repeat(2, 1, 32, 1)  # (2, 1, 32, 64), bright on the right
    plain = predict_probs(_PixelwiseModel(), images)
    for variant in ("h", "v", "hv", "all"):
        assert torch.allclose(predict_probs(_PixelwiseModel(), images, tta=variant), plain, atol=1e-6)
    assert not torch.allclose(plain, plain.flip(-1), atol=1e-3)  # the image is not symmetric
    with pytest.raises(ValueError, match="tta must be one of"):
        predict_probs(_PixelwiseModel(), images, tta="x")


class _SizeSignModel(torch.nn.Module):
    """Records the (height, width) of every input it sees; its logits are (2, -2) everywhere on a 32-pixel-high
    input and (-2, 2) on any other, so its class-0 probability is sigmoid(4) or sigmoid(-4) = 1 - sigmoid(4)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(2.0))
        self.sizes: list[tuple[int, int]] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.sizes.append(tuple(images.shape[2:]))
        sign = 1.0 if images.shape[2] == 32 else -1.0
        ones = torch.ones_like(images)
        return torch.cat([ones, -ones], dim=1) * self.scale * sign


def test_multiscale_tta_feeds_each_scaled_size_and_averages_them_equally():
    image = np.zeros((200, 200), np.uint8)
    model = _SizeSignModel()
    predict_image_probs(model, image, (128, 128), scales=(1.0, 1.375))
    assert model.sizes == [(128, 128), (176, 176)]  # 128 x 1.375 = 176
    model = _SizeSignModel()
    predict_image_probs(model, np.zeros((64, 320), np.uint8), None, scales=(1.0, 0.5))
    assert model.sizes == [(64, 320), (32, 160)]  # no input size: the image's own, then half of it
    # sigmoid(4) at 32 pixels high, sigmoid(-4) at 64: equal weights average to exactly 1/2, at the image's size
    probs = predict_image_probs(_SizeSignModel(), np.zeros((64, 320), np.uint8), (32, 32), scales=(1.0, 2.0))
    assert probs.shape == (2, 64, 320)
    assert torch.allclose(probs, torch.full_like(probs, 0.5), atol=1e-6)
    single = predict_image_probs(_SizeSignModel(), np.zeros((64, 320), np.uint8), (32, 32))
    assert torch.allclose(single[0], torch.full_like(single[0], torch.sigmoid(torch.tensor(4.0)).item()))
    for scales in ((), (0.0,), (1.0, -1.0)):
        with pytest.raises(ValueError, match="scales must be positive"):
            predict_image_probs(_SizeSignModel(), image, (128, 128), scales=scales)
    # chapter 11's probabilities for post-processing take the same scales
    index = SimpleNamespace(image=lambda image_id: np.zeros((64, 320), np.uint8))
    [averaged] = split_probabilities(_SizeSignModel(), index, ["a"], (32, 32), (64, 320), scales=(1.0, 2.0))
    assert averaged.shape == (2, 64, 320) and np.allclose(averaged, 0.5, atol=1e-3)  # float16


def test_tta_variants_average_the_flips_they_name():
    # a model that sees only where it is: logits (x, -x) for a horizontal ramp x that ignores the input, so a
    # flipped prediction flipped back is the ramp mirrored; each variant averages exactly its own flips
    class Ramp(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(1.0))

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            ramp = torch.linspace(-1, 1, images.shape[3]).expand(images.shape[0], 1, images.shape[2], -1)
            return torch.cat([ramp, -ramp], dim=1) * self.scale

    images = torch.zeros(1, 1, 4, 8)
    plain = torch.cat([torch.linspace(-1, 1, 8), -torch.linspace(-1, 1, 8)]).reshape(2, 1, 8).expand(2, 4, 8)
    plain = plain.softmax(0)[None]
    mirrored = plain.flip(3)
    assert torch.allclose(predict_probs(Ramp(), images, "h"), (plain + mirrored) / 2, atol=1e-6)
    assert torch.allclose(predict_probs(Ramp(), images, "v"), plain, atol=1e-6)  # the ramp has no vertical change
    assert torch.allclose(predict_probs(Ramp(), images, "hv"), (2 * plain + mirrored) / 3, atol=1e-6)
    # the fourth view (both flips) flips the ramp left-right too: 2 plain + 2 mirrored
    assert torch.allclose(predict_probs(Ramp(), images, "all"), (plain + mirrored) / 2, atol=1e-6)


def test_bfloat16_is_native_only_where_torch_runs_avx512_code(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)  # a chip with AVX512-BF16
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert precision.native_bf16_instruction_sets() == ["AVX512-BF16"]
    assert precision.autocast_dtype(torch.device("cpu")) == torch.bfloat16
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")  # ATEN_CPU_CAPABILITY=avx2
    assert precision.native_bf16_instruction_sets() == []
    assert precision.autocast_dtype(torch.device("cpu")) is None  # float32, not emulated bfloat16


def test_an_avx2_cap_set_in_the_environment_turns_bfloat16_off():
    probe = ("import torch\nfrom steelnb.training.precision import autocast_dtype\n"
             "print(torch.backends.cpu.get_cpu_capability(), autocast_dtype(torch.device('cpu')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120,
                          env={**os.environ, "ATEN_CPU_CAPABILITY": "avx2"})
    capability, dtype = done.stdout.split()
    if capability != "AVX2":
        pytest.skip(f"this CPU runs {capability} code, below AVX2: nothing to cap")
    assert dtype == "None"


def test_the_auxiliary_loss_adds_its_weight_times_the_head_s_loss(tmp_path):
    # a loss of exactly 1 for any logits: each step's loss is 1 (main) + 0.4 x 1 (auxiliary head) = 1.4
    class One(torch.nn.Module):
        def forward(self, logits, masks):
            return logits.mean() * 0 + 1

    train, _ = _toy_sets()
    torch.manual_seed(0)
    model = build_model("deeplabv3plus", "resnet18", num_classes=2, pretrained=False, aux_head=True)
    config = TrainConfig(epochs=1, batch_size=4, aux_weight=0.4, amp=False)
    loader = torch.utils.data.DataLoader(train, batch_size=4)
    optimizer = build_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    total, seen = loop_module._train_epoch(model, loader, optimizer, scheduler, torch.amp.GradScaler(enabled=False),
                                           One(), config, torch.device("cpu"), "", False)
    assert seen == 12 and total / seen == pytest.approx(1.4)
    assert model.aux_logits is None  # cleared after each step: a copy of the model holds no graph
    history = fit(model, train, _toy_sets()[1], tmp_path / "run", config, 2, progress=False)
    assert len(history) == 1
    folded = inference_model(model)  # folding copies the model: it must copy after training too
    images = torch.stack([train[i][0] for i in range(2)])
    assert torch.allclose(predict_probs(folded, images), predict_probs(model, images), atol=1e-4)


def test_a_resized_batch_averages_the_images_and_keeps_the_masks_labels():
    # 2x2 blocks of one value each: halving the size leaves each block's mean and its label
    blocks = torch.tensor([[1.0, 3.0], [5.0, 7.0]])
    image = blocks.repeat_interleave(2, 0).repeat_interleave(2, 1)
    image[0, 0] = 2.0  # one pixel of the first block off: its mean is (2 + 1 + 1 + 1) / 4
    masks = torch.tensor([[0, 1], [2, 3]]).repeat_interleave(2, 0).repeat_interleave(2, 1)[None]
    small, small_masks = loop_module.resized_batch(image[None, None], masks, 0.5)
    assert torch.allclose(small[0, 0], torch.tensor([[1.25, 3.0], [5.0, 7.0]]))
    assert torch.equal(small_masks, torch.tensor([[[0, 1], [2, 3]]])) and small_masks.dtype == torch.long
    same = loop_module.resized_batch(image[None, None], masks, 1.0)
    assert same[0] is not None and torch.equal(same[0][0, 0], image) and torch.equal(same[1], masks)


def test_progressive_resizing_trains_the_first_epochs_on_smaller_batches(tmp_path, monkeypatch):
    # 4 epochs with early_share 0.5 at 0.75: epochs 1-2 see 48x48 batches of the 64x64 toy images, 3-4 64x64
    config = TrainConfig(epochs=4, batch_size=4, early_scale=0.75, early_share=0.5, amp=False)
    assert [config.batch_scale(epoch) for epoch in range(1, 5)] == [0.75, 0.75, 1.0, 1.0]
    assert TrainConfig(epochs=4).batch_scale(1) == 1.0
    train, val = _toy_sets()
    model = _model()
    sizes = []
    model.register_forward_pre_hook(lambda module, args: sizes.append((module.training, args[0].shape[-1])))  # (N, 1, H, W)
    history = fit(model, train, val, tmp_path / "run", config, 2, progress=False)
    assert [size for training, size in sizes if training] == [48] * 6 + [64] * 6  # 3 steps an epoch
    assert [h["train_scale"] for h in history] == [0.75, 0.75, 1.0, 1.0]


#: How far folded bfloat16 inference may drift from float32 (the tolerance benchmarks/vs_smp.py's bf16 row
#: relies on): at least 99% of the pixels keep their label, and no class probability moves by more than 0.05.
BF16_LABEL_AGREEMENT, BF16_PROBABILITY_ERROR = 0.99, 0.05


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bfloat16")
def test_folded_bfloat16_inference_keeps_the_trained_models_predictions(tmp_path):
    train, val = _toy_sets()
    model = _model()
    fit(model, train, val, tmp_path / "run", TrainConfig(epochs=8, batch_size=4, lr=0.02, amp=False), 2,
        progress=False)
    images = torch.stack([val[i][0] for i in range(len(val))])
    expected = predict_probs(model, images)
    probs = predict_probs(inference_model(model, torch.bfloat16), images)  # the submission writer's model
    assert (probs.argmax(1) == expected.argmax(1)).float().mean() >= BF16_LABEL_AGREEMENT
    assert float((probs - expected).abs().max()) <= BF16_PROBABILITY_ERROR
    assert (expected.argmax(1) == 1).any()  # the toy model finds the squares: the labels are not all background


def test_a_run_saved_before_a_config_field_existed_is_reloaded_when_it_used_the_default(tmp_path):
    train, val = _toy_sets()
    config = TrainConfig(epochs=1, batch_size=4)
    history = fit(_model(), train, val, tmp_path / "run", config, 2, progress=False)
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    del state["config"]["ema_decay"]  # as written before the field was added
    save_atomic(state, tmp_path / "run" / "last.pt")
    assert fit(_model(), train, val, tmp_path / "run", config, 2, progress=False) == history
    with pytest.raises(ValueError, match="trained with"):  # the default is not what is asked now
        fit(_model(), train, val, tmp_path / "run", replace(config, ema_decay=0.9), 2, progress=False)
    state["config"]["retired_field"] = 1  # a field this steelnb does not know: not the same recipe
    save_atomic(state, tmp_path / "run" / "last.pt")
    with pytest.raises(ValueError, match="trained with"):
        fit(_model(), train, val, tmp_path / "run", config, 2, progress=False)
