"""Measure the main job's levers one at a time, on the validation split only.

    STEELNB_DATA=/path/to/NEU-Seg python benchmarks/levers.py [--epochs 6] [--seeds 2] [--float32] [--csv FILE]
        [--base light] [--lever ema ...]

Each lever is the main job's run (chapter 05's DeepLabV3+ under the default profile) with one change,
trained for a fixed number of epochs (the main job's budget buys about 6 at 128x128 on 2 cores), so
the scores do not depend on how busy the machine is. Every run is scored on the validation split, plain
and with horizontal + vertical flip test-time augmentation, at the images' original resolution; the
test split is never read. Runs are kept under the course's runs folder (``STEELNB_RUNS``) by name, so a
second call reloads them. With ``--seeds N`` every lever trains with seeds 0 .. N-1, and each cell is the mean ±
the sample standard deviation over the seeds; the last column is the lever's gain over the reference in
class-mean defect IoU (flip TTA) with a 95% interval (± 1.96 x the standard error of a difference of two means
of N seeds). A gain whose interval holds 0 is no gain we can detect. ``--float32`` trains every lever, the reference
too, in float32, as a CPU without native bfloat16 would (runs of their own). ``--csv FILE`` also writes the table's
numbers, one row per lever, for the documents to quote (``course/quotes.py``). ``--base LEVER`` measures every gain
against that lever instead of the reference (``--base light --lever light_aux``: a change on top of the lighter
model), and the reference is then not trained. Prints one markdown table, then two of every run's epochs (their
seconds, and the validation score that picks ``best.pt``); pick the recipe from the first, then score the test split
once with ``benchmarks/main_job.py``.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from main_job import refuse_existing

from steelnb.course.experiment import ExperimentResult
from steelnb.course.profile import LIGHT_MODEL, PROGRESSIVE_RESIZING, Profile
from steelnb.course.runs import fixed_epochs_run_name, main_run, seeded_run_name, train_run, training_minutes
from steelnb.course.setup import course_setup
from steelnb.data.index import SegmentationIndex
from steelnb.evaluation.intervals import mean_sd, seed_gain, seed_gain_interval
from steelnb.evaluation.metrics import summarize
from steelnb.evaluation.scoring import original_resolution_counts
from steelnb.models.deeplab import aspp_rates_for
from steelnb.training.checkpoint import run_is_finished

#: Lever name -> (what changes, TrainConfig overrides (or a function of the profile that gives them), input size
#: or None for the profile's, epoch factor).
#: The epoch factor keeps a slower or faster step's run near the reference's training time (a 200x200 step
#: costs about 2.3x a 128x128 one, a 96x96 step about 0.56x, a "light" step 0.58-0.67x: 0.236-0.238 s against
#: 0.353-0.412 s, timed by ``budget.seconds_per_step`` on the 2-core AVX512-BF16 CPU); "epochs12" doubles it, to
#: show how far twice the budget would take the recipe.
LEVERS: dict[str, tuple[str, dict | Callable[[Profile], dict], tuple[int, int] | None, float]] = {
    "reference": ("the default profile's recipe", {}, None, 1.0),
    "ema": ("EMA of the weights, decay 0.995", {"ema_decay": 0.995}, None, 1.0),
    "lovasz": ("CE + Lovász instead of CE + Dice", {"loss": "ce+lovasz"}, None, 1.0),
    "size200": ("input 200x200 (the images' own size), epochs x 0.45", {}, (200, 200), 0.45),
    "noflips": ("without the random left-right and up-down training flips", {"flip_augment": False}, None, 1.0),
    "warmup": ("warm-up 300 steps and lr 4e-3 instead of 100 and 2e-3", {"warmup_iters": 300, "lr": 4e-3}, None, 1.0),
    "size96": ("input 96x96, epochs x 1.8 (a step costs about 0.56x)", {}, (96, 96), 1.8),
    "epochs12": ("twice the epochs: what twice the main job's budget would buy", {}, None, 2.0),
    "aspp_small": ("ASPP rates derived for the input's stride-16 map (1, 3, 4 for 8x8) instead of 6/12/18",
                   lambda profile: {"aspp_rates": aspp_rates_for(profile.image_size)}, None, 1.0),
    "crops200": ("random 128x128 crops of the 200x200 images in training; whole 200x200 images in scoring",
                 lambda profile: {"train_crop": profile.image_size}, (200, 200), 1.0),
    "zero_init": ("every ResNet block starts as the identity (last batch norm's gamma 0, zero_init_residual)",
                  {"zero_init_residual": True}, None, 1.0),
    "light": ("layer4 at 256 planes and a 128-channel decoder (half the FLOPs), epochs x 1.5 (a step costs 0.67x)",
              LIGHT_MODEL, None, 1.5),
    "light_aux": ("the light model with an auxiliary FCN head on layer3, loss weight 0.4 (training only), the light "
                  "model's epochs (the head's cost shows in the training minutes)", {**LIGHT_MODEL, "aux_weight": 0.4},
                  None, 1.5),
    "light_aux_time": ("the same with 8 epochs instead of 9: about the light model's training time, since the head's "
                       "step costs about 12% more", {**LIGHT_MODEL, "aux_weight": 0.4}, None, 4 / 3),
    "light_batch8": ("the light model with batches of 8 images instead of 16: twice the optimiser steps in the same "
                     "epochs (learning rate and warm-up steps unchanged), the light model's epochs",
                     {**LIGHT_MODEL, "batch_size": 8}, None, 1.5),
    "light_ohem": ("the light model with the cross-entropy of the hardest quarter of each batch's pixels only "
                   "(online hard example mining) + Dice, instead of CE + Dice, the light model's epochs",
                   {**LIGHT_MODEL, "loss": "ohem+dice"}, None, 1.5),
    "light_zoom": ("the light model with every training item zoomed in by a random factor from 1 to 1.375 and "
                   "cropped back to 128x128 (the scales that the main job's multi-scale TTA scores), the light "
                   "model's epochs", {**LIGHT_MODEL, "train_zoom": (1.0, 1.375)}, None, 1.5),
    "light_pca_stem": ("the light model with its 7x7 stem set to the whitened principal components of training "
                       "patches (and their negatives) instead of random weights, the light model's epochs",
                       {**LIGHT_MODEL, "pca_stem": True}, None, 1.5),
    "light_lr4e-3": ("the light model with AdamW's peak learning rate 4e-3 instead of 2e-3 (the same 100 warm-up "
                     "steps), the light model's epochs", {**LIGHT_MODEL, "lr": 4e-3}, None, 1.5),
    "light_cycled_flips": ("the light model with each training item shown in its four orientations in turn, one an "
                           "epoch, instead of flipped at random each time (SteelDataset's \"cycled\" flips), the light "
                           "model's epochs", {**LIGHT_MODEL, "cycled_flips": True}, None, 1.5),
    "light_progressive": ("the light model trained on 96x96 batches (0.75x the input size, 0.56x the pixels) for the "
                          "first half of its epochs and at 128x128 after them (progressive resizing), epochs x 2: "
                          "about the light model's FLOPs (4 x 0.56 + 4 = 6.25 of its epochs for its 6)",
                          {**LIGHT_MODEL, **PROGRESSIVE_RESIZING}, None, 2.0),
}


#: The scores of each row: (summarize key, flip TTA or not).
COLUMNS = [("miou", False), ("miou", True), ("class_iou_defects", False), ("class_iou_defects", True),
           ("dataset_miou", False), ("dataset_miou", True)]

#: The CSV's name of each of :data:`COLUMNS`.
CSV_COLUMNS = ["val mIoU", "val mIoU + TTA", "class-mean defect IoU", "class-mean defect IoU + TTA", "dataset mIoU",
               "dataset mIoU + TTA"]


def lever_run_name(lever: str, seed: int, epochs: int, float32: bool = False) -> str:
    """The run folder's name of ``lever`` trained with ``seed`` for ``epochs`` (the run's own count, after the
    lever's epoch factor), in float32 with ``float32``."""
    name = fixed_epochs_run_name(main_run().name, epochs, "" if lever == "reference" else lever)
    return seeded_run_name(f"{name}-float32" if float32 else name, seed)


def refuse_missing_runs(lever: str, seeds: int, epochs: int, float32: bool, runs: Path) -> None:
    """Stop, naming the first missing run and the command that trains it alone, unless ``runs`` (the runs folder of
    the profile and dataset) holds a finished run of ``lever`` at ``epochs`` (the runs' own count, after the
    lever's factor) for every seed 0 .. seeds-1. For the scripts that only score these runs
    (``tta_scales.py``, ``tta_views.py``): a wrong ``--epochs`` would otherwise start training runs that nobody
    asked for."""
    for seed in range(seeds):
        name = lever_run_name(lever, seed, epochs, float32)
        if not run_is_finished(runs / name):
            factor = LEVERS[lever][3]
            raise SystemExit(f"no finished run {name} in {runs}: --epochs is the runs' own count ({epochs}); "
                             f"train them with benchmarks/levers.py --base {lever} --lever {lever} --epochs "
                             f"{max(1, round(epochs / factor))} --seeds {seeds}{' --float32' if float32 else ''} "
                             f"(levers.py multiplies its --epochs by the lever's factor, {factor:g}, and trains "
                             "only its --base lever and its --lever levers)")


def lever_run(lever: str, seed: int, epochs: int, profile: Profile, index: SegmentationIndex,
              split: dict[str, list[str]], float32: bool = False) -> ExperimentResult:
    """Train (or reload, by its run name) ``lever`` with ``seed`` for ``epochs`` (in float32 with ``float32``),
    scored on the validation split without test-time augmentation."""
    _, overrides, size, _ = LEVERS[lever]
    overrides = overrides(profile) if callable(overrides) else overrides
    lever_profile = profile if size is None else replace(profile, image_size=size)
    name = lever_run_name(lever, seed, epochs, float32)
    return train_run(main_run().name, index, split, lever_profile, progress=False, run_name=name, score_on="val",
                     epochs=epochs, time_budget_s=None, seed=seed, **overrides, **({"amp": False} if float32 else {}))


def lever_scores(lever: str, seed: int, epochs: int, profile: Profile, index: SegmentationIndex,
                 split: dict[str, list[str]], float32: bool = False) -> tuple[list[dict], list[float]]:
    """Train (or reload) ``lever`` with ``seed`` for ``epochs`` (in float32 with ``float32``); (the run's history,
    one dict per epoch as the training loop records it, the :data:`COLUMNS` scores on the validation split)."""
    plain = lever_run(lever, seed, epochs, profile, index, split, float32)
    flipped = original_resolution_counts(plain.model, index, split["val"], plain.input_size, tta="hv")
    scores = {False: summarize(plain.counts_original), True: summarize(flipped)}
    return plain.history, [scores[tta][key] for key, tta in COLUMNS]


def epoch_tables(histories: dict[tuple[str, int], list[dict]]) -> str:
    """Two markdown tables of the runs' epochs, one row per (lever, seed) of ``histories``: each epoch's seconds (the
    loop's clock: training and validation) with the steps an epoch and the minutes in all; and each epoch's
    validation score that picks ``best.pt`` (``val_selected``, at the input size, no TTA). They show when the load
    slowed a run, and whether a lever's lead is there from the start or grows."""
    width = max(len(history) for history in histories.values())
    epochs = [f"epoch {epoch}" for epoch in range(1, width + 1)]

    def markdown(header: list[str], rows: list[list[str]]) -> str:
        return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, ["---"] * len(header), *rows])

    def padded(cells: list[str]) -> list[str]:
        return cells + [""] * (width - len(cells))

    seconds = [[lever, str(seed), str(history[0]["train_steps"]),
                *padded([f"{epoch['seconds']:.0f}" for epoch in history]), f"{training_minutes(history):.1f}"]
               for (lever, seed), history in histories.items()]
    scores = [[lever, str(seed), *padded([f"{epoch['val_selected']:.3f}" for epoch in history])]
              for (lever, seed), history in histories.items()]
    return ("Each run's epochs (seconds by the training loop's clock: training and validation):\n\n"
            + markdown(["lever", "seed", "steps an epoch", *epochs, "minutes"], seconds)
            + "\n\nEach epoch's validation score that picks best.pt (at the input size, no TTA):\n\n"
            + markdown(["lever", "seed", *epochs], scores))


def main(argv: list[str] | None = None) -> int:
    """Train and score the chosen levers over the seeds; print their validation table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs of the reference run (default 6)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per lever, 0 .. seeds-1 (default 1)")
    parser.add_argument("--lever", action="append", choices=list(LEVERS), help="default: all of them")
    parser.add_argument("--float32", action="store_true",
                        help="train every lever in float32, as a CPU without native bfloat16 would")
    parser.add_argument("--csv", type=Path, default=None, help="also write the table's numbers to this new CSV file")
    parser.add_argument("--base", choices=list(LEVERS), default="reference",
                        help="the lever every gain is measured against, trained first (default: reference)")
    args = parser.parse_args(argv)
    refuse_existing([args.csv] if args.csv is not None else [])
    profile, index, split = course_setup(verbose=True)
    print("| lever | change | epochs | train min | val mIoU | + flip TTA | class-mean defect IoU | + flip TTA "
          "| dataset mIoU | + flip TTA | gain in class-mean defect IoU + TTA |\n" + "|---" * 11 + "|")
    reference: list[float] = []  # the base's per-seed scores: every gain is measured against them
    rows, histories = [], {}
    for lever in [args.base] + [name for name in args.lever or list(LEVERS) if name != args.base]:
        change, _, _, factor = LEVERS[lever]
        epochs = max(1, round(args.epochs * factor))
        runs = [lever_scores(lever, seed, epochs, profile, index, split, args.float32)
                for seed in range(args.seeds)]
        columns = [[scores[i] for _, scores in runs] for i in range(len(COLUMNS))]
        histories.update({(lever, seed): history for seed, (history, _) in enumerate(runs)})
        if lever == args.base:
            reference = columns[3]
        print(f"| {lever} | {change} | {epochs} | {statistics.mean(training_minutes(h) for h, _ in runs):.1f} | "
              + " | ".join(mean_sd(values) for values in columns)
              + f" | {'' if lever == args.base else seed_gain(columns[3], reference)} |", flush=True)
        rows.append(lever_row(lever, epochs, runs, columns, reference if lever != args.base else None))
    print("\n" + epoch_tables(histories))
    if args.csv is not None:
        write_rows(args.csv, rows)
    return 0


def lever_row(lever: str, epochs: int, runs: list[tuple[list[dict], list[float]]], columns: list[list[float]],
              reference: list[float] | None) -> dict[str, object]:
    """One lever's CSV row: epochs, mean training minutes, mean and sample sd of every score over the seeds
    (sd 0 for one seed), and the gain in class-mean defect IoU + TTA over ``reference`` (the base's per-seed scores)
    with its 95% half-width (empty on the base's own row, where ``reference`` is None)."""
    row: dict[str, object] = {"lever": lever, "seeds": len(runs), "epochs": epochs,
                              "train min": round(statistics.mean(training_minutes(h) for h, _ in runs), 2)}
    for name, values in zip(CSV_COLUMNS, columns, strict=True):
        row[name] = round(statistics.mean(values), 4)
        row[f"{name} sd"] = round(statistics.stdev(values), 4) if len(values) > 1 else 0.0
    gain, half_width = seed_gain_interval(columns[3], reference) if reference is not None else (None, None)
    row["gain"] = None if gain is None else round(gain, 4)
    row["gain 95% half-width"] = None if half_width is None else round(half_width, 4)
    return row


def write_rows(path: Path, rows: list[dict[str, object]]) -> None:
    """Write rows of one shape (the levers' :func:`lever_row`, or ``tta_scales.py``'s) as CSV, in the first row's
    column order, to a new file ``path``."""
    with path.open("x", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    sys.exit(main())
