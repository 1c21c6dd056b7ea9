"""How the main job's cost grows with the data and with the cores.

    STEELNB_DATA=/path/to/NEU-Seg python benchmarks/scaling.py [--epochs 6] [--fractions 0.25 0.5 1] [--light]

Data: the main job's run (chapter 05's DeepLabV3+ under the default profile) trained for a fixed number
of epochs on 1/4, 1/2 and all of the training split (a seeded random subset; the same validation split),
with its training wall time and validation scores at the original resolution. The runs keep their
folders under the course's runs folder, and the whole-split run has the name ``benchmarks/levers.py``
gives its reference, so either script reloads what the other trained. Cores: the time of one training
step of the main job's batch at 1, 2, 4, ... threads, up to the cores this machine has, and the epoch
time it implies. Prints two markdown tables. ``--light``: the same for the lighter model and its recipe
(``profile.LIGHT_RECIPE``, what ``python -m steelnb --light`` trains: progressive resizing included), in runs of
its own.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np
import torch

from steelnb.course.profile import LIGHT_RECIPE, light_model_options
from steelnb.course.runs import fixed_epochs_run_name, main_run, train_run, training_minutes
from steelnb.course.setup import course_setup
from steelnb.data.torch_dataset import SteelDataset
from steelnb.evaluation.metrics import summarize
from steelnb.models import build_model
from steelnb.training.budget import seconds_per_step


def thread_counts(cores: int) -> list[int]:
    """1, 2, 4, 8, ... up to ``cores``, and ``cores`` itself."""
    counts = [2 ** k for k in range(int(math.log2(cores)) + 1)]
    return counts if counts[-1] == cores else counts + [cores]


def steps_per_epoch(index, image_ids: list[str], size: tuple[int, int], batch_size: int) -> int:
    """Training steps of one epoch on ``image_ids``: the images and their weighted-augmentation copies, in full
    batches (the loader drops the last, partial one)."""
    return len(SteelDataset(index, image_ids, size=size, augment_weights=(1.0, 1.0, 1.0))) // batch_size


def main(argv: list[str] | None = None) -> int:
    """Train and time; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--light", action="store_true", help="the lighter model and its recipe (python -m steelnb "
                        "--light), in runs of their own")
    args = parser.parse_args(argv)
    profile, index, split = course_setup(verbose=True)
    config = profile.train_config(len(split["train"]))
    main = main_run()
    size = profile.input_size(index.image_shape)
    recipe = LIGHT_RECIPE if args.light else {}
    print(f"Model: {'the lighter ' if args.light else ''}{main.architecture} ({main.name}'s run), "
          f"{args.epochs} epochs each.")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(split["train"]))
    print("| training images | epochs | steps | train + validation min | val mIoU | class-mean defect IoU | "
          "dataset mIoU |\n|---|---|---|---|---|---|---|")
    for fraction in args.fractions:
        count = round(fraction * len(split["train"]))
        train = sorted(split["train"][i] for i in order[:count])
        variant = "-".join(([] if count == len(split["train"]) else [f"train{count}"]) + (["light"] if args.light else []))
        name = fixed_epochs_run_name(main.name, args.epochs, variant)
        result = train_run(main.name, index, {**split, "train": train}, profile, progress=False, run_name=name,
                           score_on="val", epochs=args.epochs, time_budget_s=None, **recipe)
        scores = summarize(result.counts_original)
        steps = steps_per_epoch(index, train, size, config.batch_size)
        minutes = training_minutes(result.history)
        print(f"| {count} | {args.epochs} | {steps} per epoch | {minutes:.1f} | {scores['miou']:.3f} | "
              f"{scores['class_iou_defects']:.3f} | {scores['dataset_miou']:.3f} |", flush=True)
    epoch_steps = steps_per_epoch(index, split["train"], size, config.batch_size)
    model = build_model(main.architecture, profile.backbone(main.paper_backbone), index.num_classes, pretrained=False,
                        **(light_model_options() if args.light else {}))
    print(f"\n| threads | s per training step ({config.batch_size} x {size[0]}x{size[1]}) | epoch of {epoch_steps} "
          "steps, min | speed-up over 1 thread |\n|---|---|---|---|")
    one = None
    for threads in thread_counts(os.cpu_count() or 1):
        torch.set_num_threads(threads)
        step = seconds_per_step(model, (config.batch_size, 1, *size), index.num_classes, True, torch.device("cpu"),
                                config.amp, steps=4, warmup=2)
        one = one or step
        print(f"| {threads} | {step:.3f} | {step * epoch_steps / 60:.1f} | {one / step:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
