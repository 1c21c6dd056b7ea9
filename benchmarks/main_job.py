"""The course's main job as a speedrun record: run it from scratch over several seeds, print mean ± sd.

    STEELNB_DATA=/path/to/NEU-Seg python benchmarks/main_job.py [--seeds 3] [--csv FILE] [--logs DIR] [--homes DIR]
        [--float32] [--light | --budget-choice] [--max-minutes 20] ...

Runs ``python -m steelnb --seed S --full-width`` (or ``--light``, or with ``--budget-choice`` no model flag, so the
time budget picks the model as it does for a user) for S = 0 .. seeds-1, each in a fresh, temporary
``STEELNB_HOME`` (so no finished run is reused; ``--homes DIR`` keeps them as ``DIR/seed<S>``), measures its wall
time and reads what it ends with: the scores, the epochs, the images seen, its minutes of training and validation
(the rest of the wall time is setup, the budget's timing, test scoring and figures) and the model it trained.
``--logs DIR`` keeps each run's whole output (its epochs, the budget's re-plans, the machine's load) as
``DIR/seed<S>.log``. Prints one row per seed, then the mean ± sample standard deviation of every score, the
training compute (images seen and training FLOPs: forward and backward of every training image, as
``torch.utils.flop_counter`` counts one training step of the model that run trained at the input size, an image of a
smaller progressive-resizing epoch counted in proportion to its pixels; validation and scoring are not counted)
and the machine (CPU model, instruction sets, the kernel oneDNN runs bfloat16 on, threads, torch,
precision), the way speedrun records are stated. Then one PASS/FAIL line per target, on the means. ``--csv FILE``
also writes one row per seed (the columns of the printed table) for the course to read:
``benchmarks/results/main_job_seeds.csv`` is the record that chapter 13's verdict takes its seed noise from. The
CSV file, the log files and the kept homes must not exist yet: nothing is overwritten, and the check comes before
the first run. The defaults are the NEU-Seg targets of the CPU real-data track: the course's floor (mIoU, defect
mIoU) and the published level (a U-Net's 0.806 class-mean defect IoU, from random weights as ours, and PGA-Net's
0.8215 dataset mIoU with background, from ImageNet weights; both trained on a GPU). Score the test split this way
once per recipe chosen on validation (``benchmarks/levers.py``).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from steelnb.course.profile import light_model_options, profile_named
from steelnb.course.runs import main_run
from steelnb.evaluation.intervals import mean_sd
from steelnb.evaluation.score_line import ScoreLine
from steelnb.models import build_model
from steelnb.training.machine import machine_line
from steelnb.training.timing import counted_flops, model_step

#: The scores of the score line, in its order: (ScoreLine field, column name).
SCORES = [("miou", "test mIoU"), ("miou_defects", "defect mIoU"), ("dice", "Dice"),
          ("class_iou_defects", "class-mean defect IoU"), ("dataset_miou", "dataset mIoU with background")]


def training_flops_per_image(amp: bool = True, light: bool = False) -> float:
    """Training FLOPs per image of the main job's model (the lighter one with ``light``: ``profile.LIGHT_MODEL``)
    at the default profile's input size: one counted training step (forward, backward, in the profile's
    precision, or float32 without ``amp``) divided by its batch size."""
    profile, run = profile_named("default"), main_run()
    torch.manual_seed(0)
    options = light_model_options() if light else {}
    model = build_model(run.architecture, profile.backbone(run.paper_backbone), num_classes=4, pretrained=False,
                        **options)
    batch = 2
    images, target = torch.rand(batch, 1, *profile.image_size), torch.randint(0, 4, (batch, *profile.image_size))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    return counted_flops(model_step(model.train(), images, target, optimizer, torch.device("cpu"), amp=amp)) / batch


@dataclass(frozen=True)
class JobOutcome:
    """What one main job ended with: ``wall_min`` (minutes from start to exit, measured around it), ``train_min``
    (its own minutes of training and validation), ``epochs``, ``images_seen`` (training images, augmented copies
    included), ``input_size_images`` (the same counted at the input size's cost: fewer where progressive resizing
    trained epochs on smaller batches, ``runs.input_size_images``), ``light`` (whether it trained the lighter
    model) and its test ``scores``."""

    wall_min: float
    train_min: float
    epochs: int
    images_seen: int
    input_size_images: int
    light: bool
    scores: ScoreLine

    @property
    def model(self) -> str:
        """The model's name in the table: "light" or "full width"."""
        return "light" if self.light else "full width"


def parse_job_output(stdout: str, wall_min: float) -> JobOutcome:
    """Read a finished ``python -m steelnb`` run's console output: its training summary line
    (``runs.training_summary``: epochs, images seen and their input-size count where it differs, minutes of training
    and validation, and ``--light`` in the length to repeat when it trained the lighter model) and its last line,
    the score line.

    Raises:
        ValueError: the output holds no training summary, or its last line is no score line.
    """
    summary = re.search(r"Trained (\d+) epochs, ([\d,]+) images seen(?: \(the pixels of ([\d,]+) at the input "
                        r"size\))?, ([\d.]+) min of training and validation.*\(repeat its length with (--light )?"
                        r"--epochs", stdout)
    if summary is None:
        raise ValueError("the main job's output holds no line 'Trained N epochs, M images seen, ...'")
    seen = int(summary.group(2).replace(",", ""))
    return JobOutcome(wall_min=wall_min, train_min=float(summary.group(4)), epochs=int(summary.group(1)),
                      images_seen=seen, input_size_images=int((summary.group(3) or str(seen)).replace(",", "")),
                      light=summary.group(5) is not None, scores=ScoreLine.parse(stdout.strip().splitlines()[-1]))


def run_main_job(seed: int, root: Path, flags: list[str], log: Path | None = None,
                 home: Path | None = None) -> JobOutcome:
    """One from-scratch main job with ``seed`` and the extra command-line ``flags`` of ``python -m steelnb``
    (``--float32``, ``--light`` or ``--full-width``, or none: the budget's choice). ``log``: a new file that gets the
    run's whole output (stdout, then stderr). ``home``: a new folder that becomes the job's ``STEELNB_HOME`` and
    keeps its trained run and figures; None: a temporary one, removed afterwards.

    Raises:
        RuntimeError: the job failed or its output could not be read (its output's end is in the message).
    """
    with contextlib.ExitStack() as stack:
        if home is None:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        home.mkdir(parents=True, exist_ok=True)  # a kept home is new: main refuses an existing one before any run
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "steelnb", "--seed", str(seed), *flags], cwd=root,
                              env={**os.environ, "STEELNB_HOME": str(home)}, capture_output=True, text=True)
        minutes = (time.perf_counter() - start) / 60
    if log is not None:
        with log.open("x", encoding="utf-8") as file:
            file.write(done.stdout + done.stderr)
    problem = f"it exited with status {done.returncode}"
    if done.returncode == 0:
        try:
            return parse_job_output(done.stdout, minutes)
        except ValueError as err:
            problem = str(err)
    raise RuntimeError(f"the main job with seed {seed} failed ({problem}):\n{done.stdout[-3000:]}\n"
                       f"{done.stderr[-3000:]}")


#: The table's columns before the scores, in the CSV's order.
COLUMNS = ["seed", "model", "wall min", "train min", "epochs", "images seen", "training PFLOP"]


def training_pflop(job: JobOutcome, per_image: dict[bool, float]) -> float:
    """The run's training compute in PFLOP: its images seen, counted at the input size's cost, times ``per_image``
    (training FLOPs per input-size image, by whether the model is the lighter one) of the model it trained."""
    return job.input_size_images * per_image[job.light] / 1e15


def seed_cells(seed: int, job: JobOutcome, per_image: dict[bool, float]) -> tuple[list, list[str]]:
    """One run's row: (the CSV's cells, rounded; the printed table's cells): :data:`COLUMNS`, then every score of
    :data:`SCORES`."""
    pflop, scores = training_pflop(job, per_image), [getattr(job.scores, field) for field, _ in SCORES]
    csv_cells = [seed, job.model, round(job.wall_min, 1), round(job.train_min, 1), job.epochs, job.images_seen,
                 round(pflop, 3), *(round(score, 3) for score in scores)]
    printed = [str(seed), job.model, f"{job.wall_min:.1f}", f"{job.train_min:.1f}", str(job.epochs),
               f"{job.images_seen:,}", f"{pflop:.2f}", *(f"{score:.3f}" for score in scores)]
    return csv_cells, printed


def table_line(cells: list[str]) -> str:
    """One markdown table row."""
    return "| " + " | ".join(cells) + " |"


def refuse_existing(paths: list[Path]) -> None:
    """Stop before the first run when an output file exists already: nothing the user made is overwritten."""
    existing = [str(path) for path in paths if path.exists()]
    if existing:
        raise SystemExit(f"{', '.join(existing)} exists already: name a new file or folder (nothing was run)")


def main(argv: list[str] | None = None) -> int:
    """Run the main job over the seeds; exit status 1 when a target is missed on the mean."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="runs, with seeds 0 .. seeds-1 (default 3)")
    parser.add_argument("--csv", type=Path, default=None, help="also write one row per seed to this new CSV file")
    parser.add_argument("--logs", type=Path, default=None,
                        help="keep each run's whole output as seed<S>.log in this folder (made if missing)")
    parser.add_argument("--homes", type=Path, default=None,
                        help="keep each run's home (its checkpoints and figures) as seed<S> in this folder, instead "
                             "of a temporary one")
    parser.add_argument("--max-minutes", type=float, default=20.0, help="per run, wall time")
    parser.add_argument("--min-miou", type=float, default=0.80)
    parser.add_argument("--min-defect-miou", type=float, default=0.68)
    parser.add_argument("--min-class-iou", type=float, default=0.78)
    parser.add_argument("--min-dataset-miou", type=float, default=0.82)
    parser.add_argument("--float32", action="store_true", help="train in float32 where the CPU has native bfloat16: "
                        "a stand-in, on this CPU, for one without it")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--light", action="store_true", help="the lighter DeepLabV3+ (python -m steelnb --light)")
    model.add_argument("--budget-choice", action="store_true",
                       help="no model flag: the time budget picks the model, as python -m steelnb does for a user "
                            "(each row names the model its run trained)")
    args = parser.parse_args(argv)
    logs = [args.logs / f"seed{seed}.log" for seed in range(args.seeds)] if args.logs is not None else []
    homes = [args.homes / f"seed{seed}" for seed in range(args.seeds)] if args.homes is not None else []
    refuse_existing(([args.csv] if args.csv is not None else []) + logs + homes)
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[1]
    print("machine:", machine_line(amp=not args.float32), flush=True)
    # every row's FLOPs are those of the model its run trained
    per_image = {light: training_flops_per_image(amp=not args.float32, light=light) for light in (False, True)}
    flags = (["--float32"] if args.float32 else []) + (
        [] if args.budget_choice else ["--light" if args.light else "--full-width"])
    header = COLUMNS + [column for _, column in SCORES]
    print(table_line(header) + "\n" + "|---" * len(header) + "|", flush=True)
    runs, csv_rows = [], []
    for seed in range(args.seeds):
        runs.append(run_main_job(seed, root, flags, logs[seed] if logs else None, homes[seed] if homes else None))
        csv_cells, printed = seed_cells(seed, runs[-1], per_image)
        csv_rows.append(csv_cells)
        print(table_line(printed), flush=True)
    if args.csv is not None:
        with args.csv.open("x", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows([header, *csv_rows])
    minutes = [job.wall_min for job in runs]
    print(table_line(["mean ± sd", ", ".join(sorted({job.model for job in runs})), mean_sd(minutes),
                      mean_sd([job.train_min for job in runs]), mean_sd([job.epochs for job in runs]),
                      f"{statistics.mean(job.images_seen for job in runs):,.0f}",
                      f"{statistics.mean(training_pflop(job, per_image) for job in runs):.2f}",
                      *(mean_sd([getattr(job.scores, field) for job in runs]) for field, _ in SCORES)]))
    print("training FLOPs per image: " + ", ".join(f"{per_image[light] / 1e9:.2f} GFLOP ({name})" for light, name
                                                 in ((False, "full width"), (True, "light")))
          + " at the input size (forward + backward, counted by torch.utils.flop_counter; an image of a smaller "
          "progressive-resizing epoch counts by its pixels; validation and scoring not counted); every run from random "
          "initial weights")
    means = {field: statistics.mean(getattr(job.scores, field) for job in runs) for field, _ in SCORES}
    checks = [("slowest run's wall minutes", max(minutes), args.max_minutes, max(minutes) <= args.max_minutes),
              ("mean test mIoU", means["miou"], args.min_miou, means["miou"] >= args.min_miou),
              ("mean defect mIoU", means["miou_defects"], args.min_defect_miou,
               means["miou_defects"] >= args.min_defect_miou),
              ("mean class-mean defect IoU", means["class_iou_defects"], args.min_class_iou,
               means["class_iou_defects"] >= args.min_class_iou),
              ("mean dataset mIoU with background", means["dataset_miou"], args.min_dataset_miou,
               means["dataset_miou"] >= args.min_dataset_miou)]
    for name, value, target, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'} {name} {value:.3f} (target {target})")
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
