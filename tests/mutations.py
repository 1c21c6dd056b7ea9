"""Mutation check: does the unit-test suite fail for the bugs it is meant to catch?

Each mutation below plants one named bug in a copy of the package (an exact text replacement that
must match once), runs the unit tests on the copy (``pytest -x tests``, without the browser tests) and
reports the first test that fails, or MISSED when none does. Run it after changing a module or its tests::

    python tests/mutations.py            # all mutations, about a minute each at worst
    python tests/mutations.py tta rle    # only those whose name contains one of the words
    python tests/mutations.py --own rle  # each against the test file written for it, where it names one

The list and its last result are in tests/README.md. Exits 1 when a mutation is missed.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]


class Mutation(NamedTuple):
    name: str  # the bug, in words
    path: str  # file relative to the repository root
    old: str   # text that must occur exactly once
    new: str   # what replaces it
    own_test: str = ""  # the test file written for it: ``--own`` runs that file alone (minutes less per bug)


MUTATIONS = [
    Mutation("RLE starts not shifted from 1-indexed", "steelnb/data/rle.py",
             "starts, lengths = tokens[0::2] - 1, tokens[1::2]", "starts, lengths = tokens[0::2], tokens[1::2]"),
    Mutation("RLE decoded row-major", "steelnb/data/rle.py",
             "return flat.reshape(width, height).T", "return flat.reshape(height, width)"),
    Mutation("RLE encoded 0-indexed", "steelnb/data/rle.py", "pairs[0::2] = starts + 1", "pairs[0::2] = starts"),
    Mutation("per-image mIoU scores an empty-vs-empty image 0", "steelnb/evaluation/metrics.py",
             "iou.sum(axis=1) / np.maximum(n_present, 1), 1.0)", "iou.sum(axis=1) / np.maximum(n_present, 1), 0.0)"),
    Mutation("Kaggle Dice scores empty-vs-empty 0", "steelnb/evaluation/metrics.py",
             "out=np.ones_like(inter), where=denominator > 0", "out=np.zeros_like(inter), where=denominator > 0"),
    Mutation("class IoU divides by the summed areas (no intersection subtracted)", "steelnb/evaluation/metrics.py",
             "union = totals[:, 1] + totals[:, 2] - totals[:, 0]", "union = totals[:, 1] + totals[:, 2]"),
    Mutation("DenseNet's denseblock4 not dilated (OS32, not 16)", "steelnb/models/backbones.py",
             "    dilate_stage(f.transition3.pool)  # keep transition3's 1x1 conv, drop its stride-2 pooling\n"
             "    dilate_stage(f.denseblock4)\n", ""),
    Mutation("ResNet layer4 not dilated (OS32)", "steelnb/models/backbones.py", "    dilate_stage(net.layer4)\n", ""),
    Mutation("ASPP rates 6/12/24 instead of 6/12/18", "steelnb/models/deeplab.py",
             "rates: tuple[int, int, int] = (6, 12, 18)", "rates: tuple[int, int, int] = (6, 12, 24)"),
    Mutation("weighted augmentation replaced by a coin flip (p = 0.5 for every image)", "steelnb/data/augment.py",
             "return np.where(labels, 1.0 - shares[None, :], 0.0).max(axis=1)",
             "return np.full(len(presence), 0.5)"),
    Mutation("flip TTA does not undo its flip", "steelnb/evaluation/inference.py",
             "probs += model(images.flip(dims)).float().softmax(1).flip(dims)",
             "probs += model(images.flip(dims)).float().softmax(1)"),
    Mutation("focal loss ignores gamma (plain cross-entropy)", "steelnb/training/losses.py",
             "return ((1 - p_true) ** self.gamma * ce).mean()", "return ce.mean()"),
    Mutation("an image's split depends on the other images (one random stream)", "steelnb/data/split.py",
             "hash_fraction(seed, image_id), side=\"right\")", "np.random.default_rng(len(index)).random(), side=\"right\")",
             "tests/test_data_pipeline.py"),
    Mutation("post-processing ignores the minimum area", "steelnb/evaluation/postprocess.py",
             "(masks.reshape(len(defect), -1).sum(1) >= np.asarray(self.min_area))",
             "(masks.reshape(len(defect), -1).sum(1) >= 0)"),
    Mutation("best.pt keeps the earliest epoch when validation ties", "steelnb/training/loop.py",
             "return score(history[-1]) >= max(", "return score(history[-1]) > max("),
    Mutation("resume does not restore the random number generators", "steelnb/training/loop.py",
             "    set_rng_state(state[\"rng_per_rank\"]", "    (state[\"rng_per_rank\"]"),
    Mutation("last.pt overwritten without keeping previous.pt", "steelnb/training/checkpoint.py",
             "            os.replace(self.last, self.previous)\n", "            pass\n"),
    Mutation("mask labels above the class count accepted", "steelnb/data/images.py",
             "    if largest > num_classes:", "    if False:"),
    Mutation("unpaired image accepted in a folder dataset", "steelnb/data/folders.py",
             "    if lonely_images:\n", "    if False:\n"),
    Mutation("empty train.csv raises pandas' bare error", "steelnb/data/severstal.py",
             "    except pd.errors.EmptyDataError:\n", "    except ZeroDivisionError:\n"),
    Mutation("input size not a multiple of the output stride", "steelnb/course/profile.py",
             "max(OUTPUT_STRIDE, have // OUTPUT_STRIDE * OUTPUT_STRIDE)", "max(OUTPUT_STRIDE, have)"),
    Mutation("DDP metrics not summed across ranks", "steelnb/training/distributed.py",
             "    dist.all_reduce(tensor)\n", ""),
    Mutation("submission scorer counts the whole prediction as overlap", "steelnb/evaluation/submission.py",
             "counts[i, c] = np.logical_and(pred, truth == c).sum(), pred.sum()", "counts[i, c] = pred.sum(), pred.sum()"),
    Mutation("submission written for classes 0..C-1 instead of 1..C", "steelnb/evaluation/submission.py",
             "for class_id in range(1, n_defect_classes + 1)]", "for class_id in range(n_defect_classes)]"),
    Mutation("Kaggle's 403 not explained as the unaccepted rules", "steelnb/data/download/kaggle.py",
             "    if status == 403:\n", "    if status == 999:\n"),
    Mutation("ResNet layer4 at stride 1 but not dilated (still OS16)", "steelnb/models/backbones.py",
             "    dilate_stage(net.layer4)\n", "    dilate_stage(net.layer4, dilation=1)\n"),
    Mutation("minimum area off by one (a mask of exactly min_area pixels dropped)", "steelnb/evaluation/postprocess.py",
             "(masks.reshape(len(defect), -1).sum(1) >= np.asarray(self.min_area))",
             "(masks.reshape(len(defect), -1).sum(1) > np.asarray(self.min_area))"),
    Mutation("palette mask read through its colours", "steelnb/data/images.py",
             "    image = _decode_mask(path)\n", "    image = _decode_mask(path).convert(\"RGB\")\n"),
    Mutation("the ignore value 255 taken for a class", "steelnb/data/images.py",
             "if largest == IGNORE_LABEL and num_classes < IGNORE_LABEL:", "if False:"),
    Mutation("folder index reads the stored size, not the EXIF-rotated one", "steelnb/data/images.py",
             "return (width, height) if _orientation(image) in _TRANSPOSING_ORIENTATIONS else (height, width)",
             "return (height, width)"),
    Mutation("resume ignores the data fingerprint", "steelnb/training/loop.py",
             "    check_same_data(state.get(\"data\"), data, run_dir)\n", ""),
    Mutation("unreadable last.pt rotated over a good previous.pt", "steelnb/training/checkpoint.py",
             "if self.last_is_readable and self.last.is_file():", "if self.last.is_file():"),
    Mutation("second trainer on a run folder not stopped", "steelnb/training/checkpoint.py",
             "            _lock(lock)\n", "            pass\n"),
    Mutation("worker seeds not derived from (seed, epoch)", "steelnb/training/loop.py",
             "        loader.generator.manual_seed(seed * 1_000_003 + epoch)", "        pass"),
    Mutation("unknown split folder silently ignored", "steelnb/data/folders.py",
             "    if unknown:\n", "    if False:\n"),
    Mutation("submission scored for Severstal's 4 classes whatever the dataset", "steelnb/evaluation/submission.py",
             "    n_defect = index.num_classes - 1\n", "    n_defect = 4\n"),
    Mutation("gradient scaler's state not restored on resume", "steelnb/training/loop.py",
             "    scaler.load_state_dict(state[\"scaler\"])\n", ""),
    Mutation("pinned memory on CPUs too", "steelnb/training/loop.py",
             "\"pin_memory\": device.type == \"cuda\"", "\"pin_memory\": True"),
    Mutation("SyncBatchNorm on CPUs too", "steelnb/training/distributed.py",
             "    if device.type == \"cuda\":\n        model = nn.SyncBatchNorm",
             "    if True:\n        model = nn.SyncBatchNorm"),
    Mutation("gpu-check kills a stage over its budget but not its worker processes", "steelnb/commands/gpu_check.py",
             "os.killpg(child.pid, signal.SIGKILL)", "child.kill()"),
    Mutation("install cell runs off Colab too", "steelnb/course/colab.py",
             "if \"google.colab\" in sys.modules and importlib", "if importlib"),
    Mutation("an upward import (evaluation reaches into course)", "steelnb/evaluation/analysis.py",
             "import pandas as pd\n", "import pandas as pd\n\nfrom ..course import plots  # noqa: F401\n"),
    Mutation("a second source of the paper's input size (a 256x256 default)", "steelnb/data/torch_dataset.py",
             "*, size: tuple[int, int] | None,", "*, size: tuple[int, int] | None = (256, 256),"),
    Mutation("the encoder's features under swapped strides", "steelnb/models/encoder.py",
             "return {LOW_STRIDE: low, OUTPUT_STRIDE: high}", "return {LOW_STRIDE: high, OUTPUT_STRIDE: low}"),
    Mutation("a named run ignores the comparison budget", "steelnb/course/runs.py",
             "        overrides.update(profile.comparison_overrides())\n", "        pass\n"),
    Mutation("a file written in place (a full disk cuts the previous good one)", "steelnb/data/staging.py",
             "        yield temporary\n", "        yield path\n", "tests/test_safe_writes.py"),
    Mutation("gpu-check takes a folder it did not write", "steelnb/commands/gpu_check.py",
             "    if foreign:\n", "    if False:\n", "tests/test_gpu_check.py"),
    Mutation("RLE start + length wraps around int64", "steelnb/data/rle.py",
             "if (starts >= n_pixels).any() or (lengths > n_pixels).any():", "if False:", "tests/test_rle.py"),
    Mutation("a restart does not wait for a killed trainer's orphaned workers", "steelnb/training/checkpoint.py",
             "if _alive(lock.read().strip()) or time.monotonic() > deadline:", "if True:", "tests/test_checkpoints.py"),
    Mutation("the data fingerprint ignores the labels", "steelnb/training/loop.py",
             "FINGERPRINT_KEYS = (\"class_names\", \"images\", \"ids_sha256\", \"labels_sha256\")",
             "FINGERPRINT_KEYS = (\"class_names\", \"images\", \"ids_sha256\")", "tests/test_checkpoints.py"),
    Mutation("a finished run reloaded on another split", "steelnb/training/loop.py",
             "    if \"split\" in data and saved[\"split\"] != data[\"split\"]:", "    if False:",
             "tests/test_checkpoints.py"),
    Mutation("--epochs 0 accepted", "steelnb/commands/arguments.py",
             "    if value < 1:\n", "    if False:\n", "tests/test_settings.py"),
    Mutation("the time budget plans once and never re-plans", "steelnb/training/loop.py",
             "        if config.time_budget_s:  # re-plan", "        if False:  # re-plan", "tests/test_training.py"),
    Mutation("CI=false selects the smoke profile", "steelnb/course/profile.py",
             "switch_is_on(\"CI\")", "bool(os.environ.get(\"CI\"))", "tests/test_settings.py"),
]


def first_failure(output: str) -> str | None:
    """The first failing test's id in pytest's ``-q`` output, or None when all passed."""
    match = re.search(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", output, flags=re.MULTILINE)
    return match.group(1) if match else None


def run(mutation: Mutation, own: bool = False) -> str | None:
    """Apply ``mutation`` to a fresh copy of the package and tests; the first failing test or None. With
    ``own``, only the mutation's own test file runs (when it names one), not the whole unit suite."""
    with tempfile.TemporaryDirectory(prefix="steelnb-mutant-") as tmp:
        copy = Path(tmp)
        for name in ("steelnb", "tests"):
            shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
        target = copy / mutation.path
        text = target.read_text()
        if text.count(mutation.old) != 1:
            raise SystemExit(f"{mutation.name}: the text to replace occurs {text.count(mutation.old)} times "
                             f"in {mutation.path}; update tests/mutations.py")
        target.write_text(text.replace(mutation.old, mutation.new))
        env = {key: value for key, value in os.environ.items() 
               if not key.startswith("STEELNB_") or key == "STEELNB_TEST_DATA"}
        env.update(PYTHONPATH=str(copy), STEELNB_OFFLINE="1")  # the copy shadows an installed steelnb
        # the browser tests check the front end, not these rules, and take a minute and a half: left out
        tests = mutation.own_test if own and mutation.own_test else "tests"
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", tests,
                               "--ignore=tests/test_browser.py"],
                              cwd=copy, env=env, capture_output=True, text=True, check=False)
        return first_failure(done.stdout)


def main(words: list[str]) -> int:
    own = "--own" in words
    words = [w for w in words if w != "--own"]
    chosen = [m for m in MUTATIONS if not words or any(w.lower() in m.name.lower() for w in words)]
    missed = 0
    print("| planted bug | file | caught by |\n|---|---|---|")
    for mutation in chosen:
        caught = run(mutation, own)
        missed += caught is None
        print(f"| {mutation.name} | `{mutation.path}` | {f'`{caught}`' if caught else '**MISSED**'} |", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
