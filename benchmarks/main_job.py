"""The course's main job as a speedrun record: run it from scratch over several seeds, print mean ± sd.

    STEELNB_DATA=/path/to/NEU-Seg python benchmarks/main_job.py [--seeds 3] [--csv FILE] [--float32] [--light] [--max-minutes 20] ...

Runs ``python -m steelnb --seed S --full-width`` (or ``--light``) for S = 0 .. seeds-1, each in a fresh, temporary ``STEELNB_HOME`` (so no
finished run is reused), measures its wall time and reads the scores it ends with. Prints one row per seed,
then the mean ± sample standard deviation of every score, the training compute (images seen and training
FLOPs: forward and backward of every training image, as ``torch.utils.flop_counter`` counts one training
step; validation and scoring are not counted) and the machine (CPU model, instruction sets, the kernel oneDNN
runs bfloat16 on, threads, torch, precision), the way speedrun records are stated. Then one PASS/FAIL line
per target, on the means. ``--csv FILE`` also writes one row per seed (the columns of the printed table) for
the course to read: ``benchmarks/results/main_job_seeds.csv`` is the record that chapter 13's verdict takes
its seed noise from. The defaults are the NEU-Seg targets of the CPU real-data track: the course's
floor (mIoU, defect mIoU) and the published level (a U-Net's 0.806 class-mean defect IoU, from random
weights as ours, and PGA-Net's 0.8215 dataset mIoU with background, from ImageNet weights; both trained on
a GPU). Score the test split this way once per recipe chosen on validation (``benchmarks/levers.py``).
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
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


def run_main_job(seed: int, root: Path, flags: list[str]) -> tuple[float, ScoreLine, int, int]:
    """One from-scratch main job with ``seed`` and the extra command-line ``flags`` of ``python -m steelnb``
    (``--float32``, ``--light`` or ``--full-width``): (wall minutes, scores, epochs, images seen).

    Raises:
        RuntimeError: the job failed or printed no score line (its output's end is in the message).
    """
    with tempfile.TemporaryDirectory() as home:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "steelnb", "--seed", str(seed), *flags], cwd=root,
                              env={**os.environ, "STEELNB_HOME": home}, capture_output=True, text=True)
        minutes = (time.perf_counter() - start) / 60
    trained = re.search(r"Trained (\d+) epochs, ([\d,]+) images seen", done.stdout)
    if done.returncode != 0 or trained is None:
        raise RuntimeError(f"the main job with seed {seed} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return minutes, ScoreLine.parse(done.stdout.strip().splitlines()[-1]), int(trained.group(1)), \
        int(trained.group(2).replace(",", ""))


def write_seed_rows(path: Path, runs: list[tuple[float, ScoreLine, int, int]], per_image: float) -> None:
    """Write one CSV row per seed: wall minutes, epochs, images seen, training PFLOP and every score."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["seed", "wall min", "epochs", "images seen", "training PFLOP", *(c for _, c in SCORES)])
        for seed, (minutes, scores, epochs, seen) in enumerate(runs):
            writer.writerow([seed, round(minutes, 1), epochs, seen, round(seen * per_image / 1e15, 3),
                             *(round(getattr(scores, field), 3) for field, _ in SCORES)])


def main(argv: list[str] | None = None) -> int:
    """Run the main job over the seeds; exit status 1 when a target is missed on the mean."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="runs, with seeds 0 .. seeds-1 (default 3)")
    parser.add_argument("--csv", type=Path, default=None, help="also write one row per seed to this CSV file")
    parser.add_argument("--max-minutes", type=float, default=20.0, help="per run, wall time")
    parser.add_argument("--min-miou", type=float, default=0.80)
    parser.add_argument("--min-defect-miou", type=float, default=0.68)
    parser.add_argument("--min-class-iou", type=float, default=0.78)
    parser.add_argument("--min-dataset-miou", type=float, default=0.82)
    parser.add_argument("--float32", action="store_true", help="train in float32 where the CPU has native bfloat16: "
                        "a stand-in, on this CPU, for one without it")
    parser.add_argument("--light", action="store_true", help="the lighter DeepLabV3+ (python -m steelnb --light)")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    print("machine:", machine_line(amp=not args.float32), flush=True)
    per_image = training_flops_per_image(amp=not args.float32, light=args.light)
    # the model is named, never left to the budget's choice (python -m steelnb --full-width), so every row of a
    # record trains the model whose FLOPs it counts
    flags = (["--float32"] if args.float32 else []) + ["--light" if args.light else "--full-width"]
    print("| seed | wall min | epochs | images seen | training PFLOP | " + " | ".join(c for _, c in SCORES) + " |\n"
          + "|---" * (5 + len(SCORES)) + "|", flush=True)
    runs = []
    for seed in range(args.seeds):
        minutes, scores, epochs, seen = run_main_job(seed, root, flags)
        runs.append((minutes, scores, epochs, seen))
        print(f"| {seed} | {minutes:.1f} | {epochs} | {seen:,} | {seen * per_image / 1e15:.2f} | "
              + " | ".join(f"{getattr(scores, field):.3f}" for field, _ in SCORES) + " |", flush=True)
    if args.csv is not None:
        write_seed_rows(args.csv, runs, per_image)
    minutes = [r[0] for r in runs]
    print(f"| mean ± sd | {mean_sd(minutes)} | {mean_sd([r[2] for r in runs])} | "
          f"{statistics.mean(r[3] for r in runs):,.0f} | {statistics.mean(r[3] for r in runs) * per_image / 1e15:.2f} | "
          + " | ".join(mean_sd([getattr(r[1], field) for r in runs]) for field, _ in SCORES) + " |")
    print(f"training FLOPs per image: {per_image / 1e9:.2f} GFLOP (forward + backward, counted by "
          "torch.utils.flop_counter; validation and scoring not counted); every run from random initial weights")
    means = {field: statistics.mean(getattr(r[1], field) for r in runs) for field, _ in SCORES}
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
