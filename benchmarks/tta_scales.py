"""Does a second input scale pay? Flip TTA at the training input size against flip TTA averaged over several
input sizes (multi-scale test-time augmentation), on validation only.

    STEELNB_DATA=/path/to/NEU-Seg python benchmarks/tta_scales.py [--lever light] [--epochs 6] [--seeds 2] [--float32]
        [--csv FILE]

The default profile trains on 128x128 inputs and scores at the images' own 200x200: each image is resized to
128x128, and the probabilities are resized back. A small defect (an inclusion a few pixels wide) shrinks with the
image. Multi-scale TTA also feeds the image at other sizes (factors of the input size: 1.375 is 176x176) and
averages the probabilities of every size, each resized back, before the argmax. Every size is scored with the
main job's flip TTA ("hv"), so the first variant, ``1`` (the input size alone), is what the main job scored
before. The cost is at test time only: one set of flip views per size, each costing its pixels.

This script reloads finished runs of ``benchmarks/levers.py`` (``--lever`` at ``--epochs``, the runs' own epochs
after the lever's factor, one run per seed, ``--float32`` as there) and refuses to start where one is missing, rather
than train it; it scores each on the validation split at the images' original resolution with every
variant of :data:`VARIANTS`, and prints one markdown table: each variant's class-mean defect IoU and dataset mIoU,
and its gain over ``1`` on both with a paired bootstrap interval over the validation images (the same model on the
same images). The seeds show whether a gain holds for another training of the recipe; a gain counts only where
every seed's interval leaves out 0. Choosing among the variants on validation is itself a selection: the table
shows all of them, so the count of what was tried is in plain view. The test split is never read.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from levers import LEVERS, lever_run, refuse_missing_runs, write_rows
from main_job import refuse_existing, table_line

from steelnb.course.setup import course_setup
from steelnb.evaluation.inference import inference_model, predict_image_probs
from steelnb.evaluation.intervals import paired_bootstrap
from steelnb.evaluation.metrics import summarize
from steelnb.evaluation.scoring import label_counts

#: The variants compared: the factors of the input size whose flip-TTA probabilities are averaged (the first is
#: the input size alone, the main job's scoring before multi-scale TTA). At 128x128 the factors are 112, 128, 144,
#: 160, 176, 200 (the images' own size) and 224 pixels.
VARIANTS: tuple[tuple[float, ...], ...] = ((1.0,), (1.0, 1.25), (0.875, 1.0, 1.125), (1.0, 1.125), (1.0, 1.375),
                                           (1.0, 1.5625), (1.0, 1.75), (1.375,), (1.5625,), (1.0, 1.375, 1.75),
                                           (1.0, 1.5625, 1.75))
#: The scores of each variant (keys of ``metrics.summarize``).
METRICS = ("class_iou_defects", "dataset_miou")


def variant_name(scales: tuple[float, ...]) -> str:
    """A variant's name: its factors joined by "+" (``(1.0, 1.375)`` -> "1+1.375")."""
    return "+".join(f"{scale:g}" for scale in scales)


def variant_sizes(scales: tuple[float, ...], input_size: tuple[int, int]) -> str:
    """The input sides, in pixels, that a variant feeds ("128+176"), as ``predict_image_probs`` rounds them."""
    return "+".join(str(round(input_size[0] * scale)) for scale in scales)


def main(argv: list[str] | None = None) -> int:
    """Score the lever's seeds with every variant on validation; print one markdown table (and write the CSV)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lever", choices=list(LEVERS), default="light", help="the runs scored (default light)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs of those runs (default 6)")
    parser.add_argument("--seeds", type=int, default=2, help="runs with seeds 0 .. seeds-1 (default 2)")
    parser.add_argument("--float32", action="store_true", help="the runs trained in float32 (levers.py --float32)")
    parser.add_argument("--csv", type=Path, default=None, help="also write the table's numbers to this new CSV file")
    args = parser.parse_args(argv)
    refuse_existing([args.csv] if args.csv is not None else [])
    profile, index, split = course_setup(verbose=True)
    refuse_missing_runs(args.lever, args.seeds, args.epochs, args.float32, profile.runs_dir / index.name)
    ids = split["val"]
    print(f"Validation split, {len(ids)} images, lever {args.lever!r} at {args.epochs} epochs\n")
    print("| seed | variant (factors) | input sides (px) | class-mean defect IoU | dataset mIoU | gain in class-mean "
          "defect IoU (paired bootstrap over images) | gain in dataset mIoU |\n" + "|---" * 7 + "|")
    rows = []
    for seed in range(args.seeds):
        run = lever_run(args.lever, seed, args.epochs, profile, index, split, args.float32)
        model = inference_model(run.model)  # batch norms folded, float32: the main job's scoring path
        scales = sorted({scale for variant in VARIANTS for scale in variant})
        probs = {scale: [predict_image_probs(model, index.image(i), run.input_size, "hv", scales=(scale,))
                         for i in ids] for scale in scales}
        counts = {variant: label_counts([(sum(probs[scale][k] for scale in variant) / len(variant))
                                         .argmax(0).byte().numpy() for k in range(len(ids))], index, ids)
                  for variant in VARIANTS}
        for variant in VARIANTS:
            rows.append(variant_row(seed, variant, run.input_size, counts[variant], counts[VARIANTS[0]]))
            print(table_line(table_cells(rows[-1])), flush=True)
        del probs
    if args.csv is not None:
        write_rows(args.csv, rows)
    return 0


def variant_row(seed: int, variant: tuple[float, ...], input_size: tuple[int, int], counts: np.ndarray,
                single: np.ndarray) -> dict[str, object]:
    """One CSV row: the variant's scores from its pixel counts (N, C+1, 3) and, against ``single`` (the input
    size alone, on the same images), its gains with their 95% paired bootstrap intervals."""
    scores = summarize(counts)
    row: dict[str, object] = {"run": f"{variant_name(variant)} seed {seed}", "seed": seed,
                              "variant": variant_name(variant), "sides": variant_sizes(variant, input_size)}
    for metric in METRICS:
        row[metric] = round(scores[metric], 4)
    for metric in METRICS:
        difference = paired_bootstrap(counts, single, metric)
        row[f"{metric} gain"] = round(difference.difference, 4)
        row[f"{metric} low"] = round(difference.low, 4)
        row[f"{metric} high"] = round(difference.high, 4)
    return row


def table_cells(row: dict[str, object]) -> list[str]:
    """The markdown table's cells of one :func:`variant_row`."""
    gains = [f"{row[f'{metric} gain']:+.4f} ({row[f'{metric} low']:+.4f} to {row[f'{metric} high']:+.4f})"
             for metric in METRICS]
    return [str(row["seed"]), str(row["variant"]), str(row["sides"]),
            *(f"{row[metric]:.4f}" for metric in METRICS), *gains]


if __name__ == "__main__":
    sys.exit(main())
