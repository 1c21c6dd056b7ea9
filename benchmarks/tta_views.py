"""Does the fourth flip view pay? Three-view flip TTA ("hv") against four views ("all"), on validation only.

    STEELNB_DATA=/path/to/NEU-Seg python benchmarks/tta_views.py [--epochs 6] [--seeds 2]

The training flips show every image in four orientations (as it is, flipped left-right, up-down, and both
ways). The main job's test-time augmentation averages three of them ("hv"); "all" adds the fourth, both flips
at once, for one more forward pass per image (4 instead of 3). This script reloads finished reference runs of
``benchmarks/levers.py`` (the main job's recipe at a fixed number of epochs, one run per seed), refuses to start
where one is missing rather than train it, and scores each on the validation split at the images' original
resolution with "none", "hv" and "all". The test split is never read.

The same model scores both variants on the same images, so each seed's row gives the gain with a paired
bootstrap interval over the validation images; the seeds show whether it holds for other trainings of the
recipe. A gain counts only where every seed's interval leaves out 0.
"""
from __future__ import annotations

import argparse
import sys

from levers import lever_run, refuse_missing_runs

from steelnb.course.setup import course_setup
from steelnb.evaluation.intervals import paired_bootstrap
from steelnb.evaluation.metrics import summarize
from steelnb.evaluation.scoring import original_resolution_counts

#: The test-time augmentation variants compared (keys of ``inference.TTA_FLIPS``), fewest views first.
VARIANTS = ("none", "hv", "all")
#: The scores printed for each variant (keys of ``metrics.summarize``).
METRICS = ("class_iou_defects", "dataset_miou")


def main(argv: list[str] | None = None) -> int:
    """Score the reference's seeds with each TTA variant on validation; print one markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs of the reference runs (default 6)")
    parser.add_argument("--seeds", type=int, default=2, help="reference runs with seeds 0 .. seeds-1 (default 2)")
    args = parser.parse_args(argv)
    profile, index, split = course_setup(verbose=True)
    refuse_missing_runs("reference", args.seeds, args.epochs, False, profile.runs_dir / index.name)
    print(f"Validation split, {len(split['val'])} images, reference recipe at {args.epochs} epochs\n")
    print("| seed | " + " | ".join(f"{metric} {variant}" for variant in VARIANTS for metric in METRICS)
          + " | gain of all over hv, class-mean defect IoU (paired bootstrap over images) |\n"
          + "|---" * (2 + len(VARIANTS) * len(METRICS)) + "|")
    for seed in range(args.seeds):
        run = lever_run("reference", seed, args.epochs, profile, index, split)
        counts = {variant: original_resolution_counts(run.model, index, split["val"], run.input_size, tta=variant)
                  for variant in VARIANTS}
        difference = paired_bootstrap(counts["all"], counts["hv"], "class_iou_defects")
        print(f"| {seed} | " + " | ".join(f"{summarize(counts[variant])[metric]:.4f}" for variant in VARIANTS
                                         for metric in METRICS)
              + f" | {difference.difference:+.4f} ({difference.low:+.4f} to {difference.high:+.4f}) |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
