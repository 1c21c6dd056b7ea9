"""Runs that know their data, checkpoints that survive a kill at any point, one trainer per run folder,
and resumes that repeat the run bit for bit with DataLoader workers too."""
import os
import subprocess
import sys
import time
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch
from toy_data import bright_squares

import steelnb.course.experiment as experiment
import steelnb.training.checkpoint as checkpoint_module
from steelnb.course.experiment import run_experiment, training_set
from steelnb.course.profile import CPU_RECIPE, Profile
from steelnb.course.setup import course_split
from steelnb.data.layouts import open_dataset
from steelnb.data.torch_dataset import SteelDataset
from steelnb.models import SegmentationModel, build_model
from steelnb.training.checkpoint import (
    ORPHAN_WAIT_S,
    RunCheckpoints,
    RunFolderBusyError,
    hold_run_folder,
    load_checkpoint,
    save_atomic,
)
from steelnb.training.config import TrainConfig
from steelnb.training.loop import DataMismatchError, fit


def _model():
    torch.manual_seed(0)
    return build_model("deeplabv3plus", "resnet18", num_classes=2, pretrained=False)


def _generic(root, n_images: int, classes: tuple[str, ...], seed: int):
    """``n_images`` 32x32 noisy images, each with one bright 8x8 square of label (i % C) + 1."""
    rng = np.random.default_rng(seed)
    (root / "img_dir").mkdir(parents=True)
    (root / "ann_dir").mkdir()
    (root / "classes.txt").write_text("\n".join(classes) + "\n")
    for i in range(n_images):
        image = rng.integers(0, 60, (32, 32)).astype(np.uint8)
        mask = np.zeros((32, 32), np.uint8)
        top, left = rng.integers(0, 24, 2)
        mask[top:top + 8, left:left + 8] = i % len(classes) + 1
        image[mask > 0] = 200
        cv2.imwrite(str(root / "img_dir" / f"{i:03d}.png"), image)
        cv2.imwrite(str(root / "ann_dir" / f"{i:03d}.png"), mask)
    return root


def _profile(tmp_path):
    return Profile(name="test", max_images=None, image_size=(32, 32), paper_backbones=False,
                   figures_dir=tmp_path / "fig", runs_dir=tmp_path / "runs",
                   recipe=replace(CPU_RECIPE, epochs=1, batch_size=4, warmup_iters=1))


@pytest.mark.parametrize("classes", [("crack", "pit"), ("crack", "pit", "rust")])
def test_another_dataset_in_a_folder_of_the_same_name_is_refused(tmp_path, classes):
    profile = _profile(tmp_path)
    first = open_dataset(_generic(tmp_path / "a" / "steel", 20, ("crack", "pit"), seed=0))
    run_experiment("run", first, course_split(first, profile), profile, "deeplabv3plus", "resnet18", pretrained=False,
                   progress=False)
    # another data set, also in a folder called "steel": same class names, or one class more
    second = open_dataset(_generic(tmp_path / "b" / "steel", 24, classes, seed=1))
    assert second.name == first.name
    with pytest.raises(DataMismatchError, match=r"a/steel.*20 images.*b/steel.*24 images"):
        run_experiment("run", second, course_split(second, profile), profile, "deeplabv3plus", "resnet18",
                       pretrained=False, progress=False)


def test_the_same_files_with_a_corrected_mask_are_not_the_same_data(tmp_path):
    # the fingerprint once covered names, count and classes only: other masks under the same file names
    # resumed the old run, and the old model was reported as the new data's result
    profile = _profile(tmp_path)
    root = _generic(tmp_path / "steel", 20, ("crack", "pit"), seed=0)
    index = open_dataset(root)
    run_experiment("run", index, course_split(index, profile), profile, "deeplabv3plus", "resnet18", pretrained=False,
                   progress=False)
    before = index.fingerprint()
    mask = cv2.imread(str(root / "ann_dir" / "003.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(root / "ann_dir" / "003.png"), np.where(mask > 0, 0, mask).astype(np.uint8))  # the defect removed
    corrected = open_dataset(root)
    assert corrected.fingerprint()["ids_sha256"] == before["ids_sha256"]
    assert corrected.fingerprint()["labels_sha256"] != before["labels_sha256"]
    with pytest.raises(DataMismatchError, match="the same images with other labels"):
        run_experiment("run", corrected, course_split(corrected, profile), profile, "deeplabv3plus", "resnet18",
                       pretrained=False, progress=False)


def test_a_run_is_not_reloaded_on_another_split_of_its_data(tmp_path):
    profile = _profile(tmp_path)
    index = open_dataset(_generic(tmp_path / "steel", 20, ("crack", "pit"), seed=0))
    split = course_split(index, profile)
    run_experiment("run", index, split, profile, "deeplabv3plus", "resnet18", pretrained=False, progress=False)
    swapped = {**split, "train": split["train"][1:] + split["test"][:1], "test": split["test"][1:] + split["train"][:1]}
    with pytest.raises(DataMismatchError, match=r"another split.*1 of its \d+ test images were in another split "
                                                r"\(1 in training\)"):
        run_experiment("run", index, swapped, profile, "deeplabv3plus", "resnet18", pretrained=False, progress=False)
    again = run_experiment("run", index, split, profile, "deeplabv3plus", "resnet18", pretrained=False, progress=False)
    assert len(again.history) == 1  # the same split reloads the finished run


def test_a_run_keeps_its_aspp_rates_and_training_crop(tmp_path):
    # ASPP dilations change no weight shape: a run reloaded with other rates would load silently as another model
    profile = _profile(tmp_path)
    index = open_dataset(_generic(tmp_path / "steel", 20, ("crack", "pit"), seed=0))
    split = course_split(index, profile)
    run = run_experiment("run", index, split, profile, "deeplabv3plus", "resnet18", pretrained=False, progress=False,
                         aspp_rates=(1, 2, 3), train_crop=(16, 24))
    assert [b[0].dilation for b in run.model.decoder.aspp[0].branches[1:]] == [(1, 1), (2, 2), (3, 3)]
    assert run.input_size == (32, 32)  # scored on whole images, trained on 16x24 crops
    with pytest.raises(ValueError, match="was trained with"):
        run_experiment("run", index, split, profile, "deeplabv3plus", "resnet18", pretrained=False, progress=False,
                       train_crop=(16, 24))
    with pytest.raises(ValueError, match="baseline's decoder has no option aspp_rates; it takes none"):
        run_experiment("other", index, split, profile, "baseline", "resnet18", pretrained=False, progress=False,
                       aspp_rates=(1, 2, 3))


def test_a_runs_zoom_reaches_its_training_set_only(tmp_path):
    profile = _profile(tmp_path)
    index = open_dataset(_generic(tmp_path / "steel", 20, ("crack", "pit"), seed=0))
    train_ids = course_split(index, profile)["train"]
    zoomed, size = training_set(index, train_ids, profile, TrainConfig(train_zoom=(1.0, 1.5)))
    assert zoomed.zoom == (1.0, 1.5) and size == (32, 32) and zoomed[0][0].shape == (1, 32, 32)
    assert training_set(index, train_ids, profile, TrainConfig())[0].zoom is None


def test_a_run_keeps_its_narrower_model(tmp_path):
    profile = _profile(tmp_path)
    index = open_dataset(_generic(tmp_path / "steel", 20, ("crack", "pit"), seed=0))
    split = course_split(index, profile)
    run = run_experiment("light", index, split, profile, "deeplabv3plus", "resnet18", pretrained=False,
                         progress=False, last_stage_width=128, decoder_width=64)
    assert run.model.encoder.channels[16] == 128 and run.model.decoder.out_channels == 64
    with pytest.raises(ValueError, match="was trained with"):
        run_experiment("light", index, split, profile, "deeplabv3plus", "resnet18", pretrained=False,
                       progress=False, last_stage_width=128)


def test_zero_init_residual_is_for_random_resnet_weights_only(tmp_path, monkeypatch):
    profile = _profile(tmp_path)
    index = open_dataset(_generic(tmp_path / "steel", 20, ("crack", "pit"), seed=0))
    split = course_split(index, profile)
    with pytest.raises(ValueError, match="needs a ResNet backbone; densenet121 has no residual blocks"):
        run_experiment("dense", index, split, profile, "deeplabv3plus", "densenet121", pretrained=False,
                       progress=False, zero_init_residual=True)
    monkeypatch.setattr(SegmentationModel, "pretrained", property(lambda model: True))  # as if ImageNet loaded
    with pytest.raises(ValueError, match="it would erase the ImageNet weights"):
        run_experiment("imagenet", index, split, profile, "deeplabv3plus", "resnet18", pretrained=False,
                       progress=False, zero_init_residual=True)


def test_a_pca_stem_run_whitens_on_its_first_training_images_at_the_input_size(tmp_path, monkeypatch):
    profile = _profile(tmp_path)
    index = open_dataset(_generic(tmp_path / "steel", 20, ("crack", "pit"), seed=0))
    split = course_split(index, profile)
    seen = {}

    class Whitened(Exception):
        pass

    def record(encoder, images):  # stands in for the whitening, and stops the run before it trains
        seen.update(encoder=encoder, images=images)
        raise Whitened

    monkeypatch.setattr(experiment, "pca_whitened_stem", record)
    with pytest.raises(Whitened):
        run_experiment("pca", index, split, profile, "deeplabv3plus", "resnet18", pretrained=False, progress=False,
                       pca_stem=True)
    first = split["train"][:experiment.PCA_STEM_IMAGES]
    expected = torch.stack([SteelDataset(index, first, size=profile.input_size(index.image_shape))[i][0]
                            for i in range(len(first))])
    assert seen["encoder"].name == "resnet18" and torch.equal(seen["images"], expected)
    monkeypatch.setattr(SegmentationModel, "pretrained", property(lambda model: True))  # as if ImageNet loaded
    with pytest.raises(ValueError, match="pca_stem is for random initial weights; it would erase the ImageNet"):
        run_experiment("imagenet", index, split, profile, "deeplabv3plus", "resnet18", pretrained=False,
                       progress=False, pca_stem=True)


def test_fingerprint_follows_names_count_and_ids_not_the_folder(tmp_path):
    index = open_dataset(_generic(tmp_path / "steel", 6, ("crack", "pit"), seed=0))
    fingerprint = index.fingerprint()
    assert fingerprint["class_names"] == ["crack", "pit"] and fingerprint["images"] == 6
    moved = open_dataset(_generic(tmp_path / "moved" / "elsewhere", 6, ("crack", "pit"), seed=5))
    assert moved.fingerprint()["ids_sha256"] == fingerprint["ids_sha256"]  # same names: same data, as far as we know
    (tmp_path / "steel" / "img_dir" / "005.png").rename(tmp_path / "steel" / "img_dir" / "999.png")
    (tmp_path / "steel" / "ann_dir" / "005.png").rename(tmp_path / "steel" / "ann_dir" / "999.png")
    assert open_dataset(tmp_path / "steel").fingerprint()["ids_sha256"] != fingerprint["ids_sha256"]


def test_a_second_trainer_on_one_run_folder_stops_at_once(tmp_path):
    train, val = bright_squares(8, width=32, step=2)
    with hold_run_folder(tmp_path / "run"):
        with pytest.raises(RunFolderBusyError, match=r"run.*another"):
            fit(_model(), train, val, tmp_path / "run", TrainConfig(epochs=1, batch_size=4), 2, progress=False)
    fit(_model(), train, val, tmp_path / "run", TrainConfig(epochs=1, batch_size=4), 2, progress=False)  # free again


def _trainer_killed_with_a_worker_left(run_dir, worker_seconds: float) -> None:
    """A process takes the run folder, forks a worker (which inherits the lock, as DataLoader workers do) and
    dies without cleaning up, like a SIGKILL; the worker lives on for ``worker_seconds``."""
    program = (f"import os, time\nfrom steelnb.training.checkpoint import hold_run_folder\n"
               f"with hold_run_folder({str(run_dir)!r}):\n"
               f"    if os.fork() == 0:\n        time.sleep({worker_seconds})\n        os._exit(0)\n"
               f"    os._exit(0)\n")
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60)


def test_a_restart_waits_for_the_orphaned_workers_of_a_killed_trainer(tmp_path):
    _trainer_killed_with_a_worker_left(tmp_path / "run", worker_seconds=2)
    start = time.monotonic()
    with hold_run_folder(tmp_path / "run"):  # the pid in the lock file is dead: wait for its worker to go
        assert 0.5 < time.monotonic() - start < ORPHAN_WAIT_S


def test_orphans_that_outlast_the_wait_are_named_as_such(tmp_path, monkeypatch):
    import steelnb.training.checkpoint as checkpoint
    monkeypatch.setattr(checkpoint, "ORPHAN_WAIT_S", 0.5)
    _trainer_killed_with_a_worker_left(tmp_path / "run", worker_seconds=5)
    with pytest.raises(RunFolderBusyError, match=r"worker processes of a training process that has ended \(pid \d+\)"):
        with hold_run_folder(tmp_path / "run"):
            pass


def test_a_full_disk_during_a_checkpoint_save_is_named_and_the_previous_one_kept(tmp_path):
    # torch's own message was "enforce fail at inline_container.cc ... file write failed"
    import resource
    import signal

    from steelnb.training.checkpoint import CheckpointWriteError
    path = tmp_path / "last.pt"
    save_atomic({"epoch": 1}, path)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    try:
        with pytest.raises(CheckpointWriteError, match=r"could not write the checkpoint .*last\.pt: the disk holding"):
            save_atomic({"epoch": 2, "weights": torch.zeros(1_000_000)}, path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert load_checkpoint(path)["epoch"] == 1 and [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_a_finished_run_in_a_read_only_folder_is_reloaded_an_unfinished_one_refused(tmp_path, monkeypatch):
    from steelnb.training.checkpoint import RunFolderReadOnlyError
    train, val = bright_squares(8, width=32, step=2)
    config = TrainConfig(epochs=1, batch_size=4)
    history = fit(_model(), train, val, tmp_path / "run", config, 2, progress=False)

    def read_only_open(path, *args, **kwargs):  # what a read-only folder answers (root may write anywhere)
        if str(path).endswith("run.lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return open(path, *args, **kwargs)
    monkeypatch.setattr(checkpoint_module, "open", read_only_open, raising=False)
    assert fit(_model(), train, val, tmp_path / "run", config, 2, progress=False) == history
    with pytest.raises(RunFolderReadOnlyError, match="cannot be written.*not finished: make the folder writable"):
        fit(_model(), train, val, tmp_path / "new", config, 2, progress=False)


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, files stay as they are."""


POINTS = ("writing", "before_rename", "between_renames", "after")


def _kill_at(monkeypatch, point: str, epoch: int) -> None:
    """Make the save of ``epoch``'s last.pt stop at ``point`` (one of POINTS): while its temporary file is
    written, before the first rename after that, after the first rename, or once last.pt is in place."""
    real_save, real_replace = torch.save, os.replace
    seen = {"epoch": None, "renames": 0}

    def save(obj, target, *args, **kwargs):
        if isinstance(obj, dict) and "optimizer" in obj:
            seen["epoch"], seen["renames"] = len(obj["history"]), 0
            if point == "writing" and seen["epoch"] == epoch:
                if hasattr(target, "write"):
                    target.write(b"half a checkpoint")
                else:
                    with open(target, "wb") as partial:
                        partial.write(b"half a checkpoint")
                raise _Killed
        return real_save(obj, target, *args, **kwargs)

    def replace(source, target):
        armed = seen["epoch"] == epoch
        if armed and point == "before_rename" and seen["renames"] == 0:
            raise _Killed
        real_replace(source, target)
        seen["renames"] += 1
        if armed and ((point == "between_renames" and seen["renames"] == 1)
                      or (point == "after" and str(target).endswith("last.pt"))):
            raise _Killed

    monkeypatch.setattr(checkpoint_module.torch, "save", save)
    monkeypatch.setattr(checkpoint_module.os, "replace", replace)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*resuming from:RuntimeWarning")
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("last_corrupt", [False, True])
def test_a_kill_at_any_point_of_a_save_leaves_a_readable_checkpoint(tmp_path, monkeypatch, point, last_corrupt):
    train, val = bright_squares(8, width=32, step=2)
    config = TrainConfig(epochs=3, batch_size=4)
    expected = fit(_model(), train, val, tmp_path / "ref", config, 2, progress=False)
    run = tmp_path / "run"
    with monkeypatch.context() as patch, pytest.raises(_Killed):
        _kill_at(patch, "after", epoch=2)
        fit(_model(), train, val, run, config, 2, progress=False)
    if last_corrupt:  # a full disk cut epoch 2's last.pt short: the run resumes from previous.pt (epoch 1)
        (run / "last.pt").write_bytes(b"truncated")
    with monkeypatch.context() as patch, pytest.raises(_Killed):
        _kill_at(patch, point, epoch=2 if last_corrupt else 3)
        fit(_model(), train, val, run, config, 2, progress=False)
    survivor = RunCheckpoints(run).read_last()
    assert survivor is not None and len(survivor["history"]) >= 1  # never nothing readable
    resumed = fit(_model(), train, val, run, config, 2, progress=False)
    assert [h["train_loss"] for h in resumed] == [h["train_loss"] for h in expected]
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))


def test_save_is_atomic_with_a_unique_temporary_name(tmp_path, monkeypatch):
    names = []
    real_replace = os.replace
    monkeypatch.setattr(checkpoint_module.os, "replace", lambda s, t: (names.append(str(s)), real_replace(s, t)))
    save_atomic({"a": torch.ones(2)}, tmp_path / "x.pt")
    save_atomic({"a": torch.zeros(2)}, tmp_path / "x.pt")
    assert len(set(names)) == 2 and all(".tmp" in n for n in names)
    assert torch.equal(load_checkpoint(tmp_path / "x.pt")["a"], torch.zeros(2))


def test_resume_is_bit_exact_with_dataloader_workers(tmp_path, demo_root):
    index = open_dataset(demo_root)
    ids = index.image_ids
    train = SteelDataset(index, ids[:8], size=(32, 64), augment_weights=(1.0, 1.0, 1.0))
    val = SteelDataset(index, ids[8:], size=(32, 64))
    assert len(train) > 8  # augmented copies: their random transforms run in the worker processes
    config = TrainConfig(epochs=3, batch_size=4, num_workers=2, amp=False)

    def model():
        torch.manual_seed(0)
        return build_model("deeplabv3plus", "resnet18", num_classes=index.num_classes, pretrained=False)
    expected = fit(model(), train, val, tmp_path / "ref", config, index.num_classes, progress=False)
    with pytest.MonkeyPatch.context() as patch, pytest.raises(_Killed):
        _kill_at(patch, "after", epoch=1)
        fit(model(), train, val, tmp_path / "run", config, index.num_classes, progress=False)
    resumed = fit(model(), train, val, tmp_path / "run", config, index.num_classes, progress=False)
    assert [h["train_loss"] for h in resumed] == [h["train_loss"] for h in expected]


def test_a_run_scores_the_split_it_is_asked_to(tmp_path):
    profile = _profile(tmp_path)
    index = open_dataset(_generic(tmp_path / "steel", 30, ("crack", "pit"), seed=0))
    split = course_split(index, profile)

    def true_areas(image_ids):  # pixels of each label in each original mask, counted by hand
        return np.stack([np.bincount(index.mask(i).ravel(), minlength=index.num_classes) for i in image_ids])

    scored = {}
    for split_name, tta in (("val", "none"), ("val", "hv"), ("test", "none")):
        scored[split_name, tta] = run_experiment("run", index, split, profile, "deeplabv3plus", "resnet18",
                                                 pretrained=False, progress=False, score_on=split_name, tta=tta)
    for (split_name, tta), result in scored.items():
        assert result.scored_split == split_name and result.tta == tta
        assert np.array_equal(result.counts_original[..., 2], true_areas(split[split_name]))
    assert len(scored["val", "none"].history) == 1  # trained once, then reloaded
