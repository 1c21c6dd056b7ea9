"""``python -m steelnb gpu-check OUT [--dry-run]``: the paper's own path on one GPU, in one command.

It writes its results into the folder ``OUT``: one CSV per stage and ``gpu_check.md``, a markdown page
naming the GPU and the torch, CUDA and cuDNN versions, with one table per stage. ``OUT`` must be new, empty,
or an earlier check's results (marked by its ``.steelnb-gpu-check`` file): any other folder, a data folder
named by mistake for one, is refused and left as it is. The stages, in order:

* ``speed``: Table 1 of the paper on this GPU: training iterations/s and images/s (batch 16, 256x256),
  evaluation images/s at 256x256 and 256x1600 with batch 1 and 16, each with and without mixed precision
  and ``channels_last``, for the baseline and the three DeepLabV3+ backbones;
* ``loader``: images/s of the DataLoader with the ``full`` profile's transforms at 2 workers (a Colab GPU
  runtime has 2 CPUs) and at all CPUs, beside the training step's images/s: does the GPU wait for data?
* ``train``: the ``full`` profile, short: baseline / ResNet101 / DenseNet201 / EfficientNet-B1 on the
  course's data (``STEELNB_DATA``, e.g. NEU-Seg), each trained for ``--train-seconds`` (mixed precision,
  batch 16, pinned DataLoader workers, cuDNN autotuning), then scored on the test split beside the
  all-empty prediction;
* ``severstal``: one epoch of each model on a Kaggle-format folder (``--severstal``, e.g. a few real
  images with their ``train.csv`` rows);
* ``smp``: ``benchmarks/vs_smp.py --device cuda`` (skipped when segmentation-models-pytorch is missing).

Each stage runs in a process of its own under a hard time limit, its share of ``--minutes`` (8 by
default): a stage that crashes, hangs or runs out of time is stopped, marked so in the page, and the
next one runs. ``--dry-run`` runs every stage on a few generated images at tiny sizes, on the CPU too,
in well under two minutes: it is how the check is tested where there is no GPU.

Runs (checkpoints) go to a temporary folder, so ``OUT`` holds the results alone. Without internet, set
``STEELNB_OFFLINE=1``: the backbones then start from random weights at once, and the tables say so.
"""
from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..course.paper import PAPER_MIOU
from ..course.profile import PAPER_IMAGE_SIZE, PAPER_RECIPE, Profile, profile_named
from ..course.runs import RUNS, main_run, train_run
from ..data.index import DEMO
from ..data.rle import SEVERSTAL_SHAPE
from ..data.severstal import SEVERSTAL_CLASSES
from ..data.staging import write_text_atomically, written_atomically
from ..env import PROJECT_ROOT
from ..training.device import default_device, device_name
from .arguments import positive_number

#: The paper's four models: (run name, architecture, backbone).
PAPER_MODELS = tuple((name, RUNS[name].architecture, RUNS[name].paper_backbone) for name in PAPER_MIOU)
#: The page the check writes, and the file that marks a folder as the check's own (a rerun may replace its files).
PAGE = "gpu_check.md"
MANIFEST = ".steelnb-gpu-check"
#: Stages in the order they run, each with its share of the whole check's time.
STAGES = {"speed": 0.15, "loader": 0.08, "train": 0.52, "severstal": 0.13, "smp": 0.12}


@dataclass(frozen=True)
class Plan:
    """How much work each stage does: the real check on a GPU, or the dry run on a few tiny images."""

    train_seconds: float | None  # per model; None: one epoch
    train_size: tuple[int, int]  # the training input (height, width), capped at the images' own size
    speed_sizes: tuple[tuple[int, int], ...]  # (height, width) of Table 1's evaluation inputs
    batches: tuple[int, ...]  # Table 1's evaluation batch sizes; the training batch is the last
    steps: int  # timed repetitions per measurement (after one warm-up)
    loader_images: int  # images the loader delivers per measurement
    max_images: int | None  # cap on the training data (None: all)


REAL = Plan(train_seconds=40.0, train_size=PAPER_IMAGE_SIZE, speed_sizes=(PAPER_IMAGE_SIZE, SEVERSTAL_SHAPE),
            batches=(1, PAPER_RECIPE.batch_size),
            steps=10, loader_images=640, max_images=None)
DRY = Plan(train_seconds=None, train_size=(32, 32), speed_sizes=((32, 32), (32, 200)), batches=(1, 2),
           steps=1, loader_images=8, max_images=20)


def environment() -> dict[str, str]:
    """The machine the check ran on: GPU (or CPU), CPUs, torch, CUDA and cuDNN versions."""
    return {"device": device_name(default_device()), "CPUs": str(os.cpu_count()), "torch": torch.__version__,
            "CUDA": str(torch.version.cuda), "cuDNN": str(torch.backends.cudnn.version()),
            "python": platform.python_version()}


def speed_table(plan: Plan) -> pd.DataFrame:
    """Table 1 on this device: for each model, with and without mixed precision and channels_last, a
    training step's it/s and img/s and evaluation img/s at each size and batch (``bench.bench_model``)."""
    from ..models import build_model
    from .bench import bench_model
    device, rows = default_device(), []
    shapes = (("train", plan.batches[-1], plan.speed_sizes[0]),) + tuple(
        ("eval", batch, size) for size in plan.speed_sizes for batch in plan.batches)
    for name, architecture, backbone in PAPER_MODELS:
        torch.manual_seed(0)
        model = build_model(architecture, backbone, len(SEVERSTAL_CLASSES) + 1, pretrained=False).to(device)
        for amp in (True, False):
            for channels_last in (True, False):
                rows += bench_model(model, name, device, shapes, plan.steps, 1, amp, channels_last)
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return pd.DataFrame(rows).drop(columns=["device", "torch"])


def _course_data(plan: Plan, scratch: Path):
    """The course's dataset and its split, capped by the plan (the dry run generates a tiny demo set)."""
    from ..course.setup import course_split
    from ..data.demo import generate_demo_dataset
    from ..data.layouts import open_dataset
    from ..data.locations import load_course_dataset
    profile = check_profile(plan, scratch)
    if plan is DRY:
        index = open_dataset(generate_demo_dataset(scratch / "demo", n_images=plan.max_images, seed=5), name=DEMO)
    else:
        index = load_course_dataset(verbose=True)
    return index, course_split(index, profile), profile


def check_profile(plan: Plan, scratch: Path) -> Profile:
    """The ``full`` profile with the plan's training length and data cap, its runs in ``scratch`` (the dry run
    loads its few images in this process instead of the profile's worker processes)."""
    full = profile_named("full")
    recipe = replace(full.recipe, epochs=full.recipe.epochs if plan.train_seconds else 1,
                     time_budget_s=plan.train_seconds, num_workers=full.recipe.num_workers if plan is REAL else 0)
    return replace(full, name="gpu-check", max_images=plan.max_images, image_size=plan.train_size,
                   figures_dir=scratch / "figures", runs_dir=scratch / "runs", recipe=recipe)


def loader_table(plan: Plan, scratch: Path) -> pd.DataFrame:
    """Loader img/s (the ``full`` profile's transforms: resize + weighted augmentation) at 2 workers and at
    all CPUs, beside the training step's img/s of DeepLabV3+ ResNet101 with mixed precision."""
    from torch.utils.data import DataLoader

    from ..data.torch_dataset import SteelDataset
    from ..models import build_model
    from ..training.timing import model_step, time_calls
    from .bench import loader_images_per_second
    index, split, profile = _course_data(plan, scratch)
    dataset = SteelDataset(index, split["train"], size=profile.input_size(index.image_shape),
                           augment_weights=(1.0, 1.0, 1.0))
    device, batch = default_device(), plan.batches[-1]
    rows = []
    for workers in sorted({2, os.cpu_count() or 1}):
        loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                            pin_memory=device.type == "cuda", drop_last=True)
        rows.append({"what": f"DataLoader, {workers} workers",
                     "img/s": loader_images_per_second(loader, plan.loader_images)})
    main = main_run()
    model = build_model(main.architecture, main.paper_backbone, index.num_classes, pretrained=False).to(device).train()
    shape = profile.input_size(index.image_shape)
    images = torch.rand(batch, 1, *shape, device=device)
    target = torch.randint(0, index.num_classes, (batch, *shape), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    seconds = float(np.median(time_calls(model_step(model, images, target, optimizer, device, True), plan.steps, 1,
                                         device)))
    rows.append({"what": f"training step, {model.title} {model.backbone_name}, AMP, {batch} x {shape[0]}x{shape[1]}",
                 "img/s": batch / seconds})
    return pd.DataFrame(rows).round(1)


def train_table(plan: Plan, scratch: Path, index=None, split=None, profile=None) -> pd.DataFrame:
    """Each of the paper's models trained with the check's profile, scored on the test split: the final
    line's scores beside the all-empty prediction's."""
    from ..evaluation.metrics import all_empty_scores, summarize
    if index is None:
        index, split, profile = _course_data(plan, scratch)
    rows = []
    for name in PAPER_MIOU:
        start = time.perf_counter()
        result = train_run(name, index, split, profile, progress=plan is REAL)
        scores, empty = summarize(result.counts_original), all_empty_scores(result.counts_original)
        rows.append({"data": index.name, "model": name, "weights": "ImageNet" if result.model.pretrained else "random init",
                     "input": f"{result.input_size[0]}x{result.input_size[1]}", "epochs": len(result.history),
                     "train img/s": np.mean([h["train_img_per_s"] for h in result.history]),
                     "train it/s": np.mean([h["train_iter_per_s"] for h in result.history]),
                     "test mIoU": scores["miou"], "all-empty mIoU": empty["miou"], "defect mIoU": scores["miou_defects"],
                     "Dice": scores["dice"], "class-mean defect IoU": scores["class_iou_defects"],
                     "dataset mIoU": scores["dataset_miou"], "seconds": time.perf_counter() - start})
        print(f"{name}: {result.score_line()}", flush=True)
    return pd.DataFrame(rows).round(3)


def severstal_table(plan: Plan, scratch: Path, folder: Path | None) -> pd.DataFrame:
    """One epoch of each model on a Kaggle-format folder (the dry run generates one of 10 images)."""
    from ..course.setup import course_split
    from ..data.demo import generate_demo_dataset
    from ..data.layouts import open_dataset
    if folder is None:
        if plan is not DRY:
            return pd.DataFrame([{"skipped": "no Kaggle-format folder given (--severstal DIR)"}])
        folder = generate_demo_dataset(scratch / "kaggle-sample", n_images=10, seed=7)
    index = open_dataset(folder, name="severstal" if plan is REAL else "demo in Kaggle format")
    profile = check_profile(plan, scratch / "severstal")
    profile = replace(profile, recipe=replace(profile.recipe, time_budget_s=None, epochs=1), max_images=None)
    return train_table(plan, scratch, index, course_split(index, profile), profile)


def smp_table(plan: Plan, scratch: Path) -> pd.DataFrame:
    """``benchmarks/vs_smp.py`` on this device (mixed precision and channels_last on CUDA), as a table.

    The script is run by its path, so this stage needs a source checkout of the course (``benchmarks/`` is not
    part of the installed package); without one, or without segmentation-models-pytorch, it is skipped."""
    import importlib.util
    script = PROJECT_ROOT / "benchmarks" / "vs_smp.py"
    if importlib.util.find_spec("segmentation_models_pytorch") is None or not script.is_file():
        return pd.DataFrame([{"skipped": "segmentation-models-pytorch is not installed (or benchmarks/ is missing)"}])
    csv = scratch / "smp.csv"
    arguments = ["--device", default_device().type, "--csv", str(csv)]
    if plan is DRY:
        smallest = profile_named("smoke").backbone(main_run().paper_backbone)
        arguments += ["--encoders", smallest, "--repeats", "1", "--warmup", "0", "--batch", "2", "--size", "32"]
    subprocess.run([sys.executable, str(script), *arguments], check=True)
    return pd.read_csv(csv)


def run_stage(stage: str, plan: Plan, out: Path, severstal: Path | None) -> None:
    """Run one stage in this process and write ``out/<stage>.csv``."""
    with tempfile.TemporaryDirectory(prefix=f"steelnb-gpu-check-{stage}-") as scratch:
        scratch = Path(scratch)
        table = {"speed": lambda: speed_table(plan), "loader": lambda: loader_table(plan, scratch),
                 "train": lambda: train_table(plan, scratch), "smp": lambda: smp_table(plan, scratch),
                 "severstal": lambda: severstal_table(plan, scratch, severstal)}[stage]()
    with written_atomically(out / f"{stage}.csv") as temporary:
        table.to_csv(temporary, index=False)


class OutputFolderError(Exception):
    """The output folder holds files this command did not write; nothing was written to it."""


def output_files() -> list[str]:
    """The files the check writes into its output folder: one CSV per stage and the page."""
    return [f"{stage}.csv" for stage in STAGES] + [PAGE]


def prepare_output_folder(out: Path) -> None:
    """Make ``out`` ready for the check's files, or refuse it. A new or empty folder, or one that holds only an
    earlier check's outputs (listed in its ``MANIFEST``), is taken; its outputs will be replaced. A folder with
    anything else in it (a data folder named by mistake: ``train.csv``, images) is refused, untouched.

    Raises:
        OutputFolderError: ``out`` is a file, or holds files that an earlier check did not write (named).
    """
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out} is a file, not a folder: name a new or empty folder for the results")
    present = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    ours = set(output_files()) | {MANIFEST} if (out / MANIFEST).is_file() else set()
    foreign = [name for name in present if name not in ours]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputFolderError(f"{out} holds files gpu-check did not write ({shown}); it writes "
                                f"{', '.join(output_files())} and would replace files of those names. Name a new or "
                                "empty folder (or one of its own earlier results).")
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out / MANIFEST, "Written by python -m steelnb gpu-check; it may replace these files:\n"
                          + "\n".join(output_files()) + "\n")


def run_with_limit(command: list[str], timeout_s: float) -> str:
    """Run ``command`` in a new process group; kill the whole group (DataLoader workers included) when it
    outlasts ``timeout_s`` seconds. Returns "ok", "failed (exit N)" or "stopped after its budget of N s"."""
    child = subprocess.Popen(command, start_new_session=True)
    try:
        code = child.wait(timeout=max(1.0, timeout_s))
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return f"stopped after its budget of {timeout_s:.0f} s"
    return "ok" if code == 0 else f"failed (exit {code})"


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (no extra package needed)."""
    def cell(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def write_page(out: Path, outcomes: dict[str, str], info: dict[str, str], dry_run: bool, minutes: float) -> Path:
    """``out/gpu_check.md``: the machine, then each stage's outcome and table."""
    lines = ["# steelnb gpu-check" + (" (dry run: tiny inputs, numbers mean nothing)" if dry_run else ""), "",
             ", ".join(f"{key} {value}" for key, value in info.items()) + f"; {minutes:.1f} min in all.", ""]
    for stage, outcome in outcomes.items():
        lines += [f"## {stage}: {outcome}", ""]
        csv = out / f"{stage}.csv"
        if csv.is_file():
            lines += [markdown_table(pd.read_csv(csv)), ""]
    return write_text_atomically(out / PAGE, "\n".join(lines))


def check(out: Path, dry_run: bool = False, minutes: float = 8.0, severstal: Path | None = None,
          stages: tuple[str, ...] = tuple(STAGES)) -> dict[str, str]:
    """Run the stages, each in its own process with its share of ``minutes`` (a stage may use the time the
    ones before it left), write the page, and return each stage's outcome."""
    prepare_output_folder(out)
    start, deadline = time.perf_counter(), time.perf_counter() + minutes * 60
    info = environment()
    print(", ".join(f"{key} {value}" for key, value in info.items()), flush=True)
    outcomes: dict[str, str] = {}
    shares_left = sum(STAGES[s] for s in stages)
    for stage in stages:
        left = deadline - time.perf_counter()
        budget = left * STAGES[stage] / shares_left
        shares_left -= STAGES[stage]
        if budget < 5:
            outcomes[stage] = "skipped: no time left"
            continue
        arguments = ["--stage", stage, str(out)] + (["--dry-run"] if dry_run else []) + \
            (["--severstal", str(severstal)] if severstal else [])
        stage_start = time.perf_counter()
        outcome = run_with_limit([sys.executable, "-m", "steelnb.commands.gpu_check", *arguments], budget)
        outcomes[stage] = f"{outcome} ({time.perf_counter() - stage_start:.0f} s)"
        print(f"stage {stage}: {outcomes[stage]}", flush=True)
    page = write_page(out, outcomes, info, dry_run, (time.perf_counter() - start) / 60)
    print(f"Results: {page}")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    """Command line of the check (``python -m steelnb gpu-check``); exit 1 when a stage did not finish."""
    parser = argparse.ArgumentParser(prog="steelnb gpu-check", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the CSV files and gpu_check.md")
    parser.add_argument("--dry-run", action="store_true", help="every stage on a few tiny images (CPU is fine)")
    parser.add_argument("--minutes", type=positive_number, default=8.0, help="the whole check's time (default 8)")
    parser.add_argument("--severstal", type=Path, default=None, help="a Kaggle-format folder for the one-epoch stage")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)  # internal: run one stage here
    args = parser.parse_args(argv)
    plan = DRY if args.dry_run else REAL
    if args.stage:
        run_stage(args.stage, plan, args.out, args.severstal)
        return 0
    if not args.dry_run and not torch.cuda.is_available():
        print("No CUDA GPU here: the check measures a GPU. Use --dry-run to exercise it on the CPU.")
        return 1
    try:
        outcomes = check(args.out, args.dry_run, args.minutes, args.severstal, tuple(args.stages))
    except OutputFolderError as err:
        print(err)
        return 2
    return 0 if all(o.startswith("ok") for o in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
