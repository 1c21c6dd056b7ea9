"""Time the course's main job from scratch and check its scores against targets.

    STEELNB_DATA=/path/to/NEU-Seg python benchmarks/main_job.py [--max-minutes 20] [--min-miou 0.80] ...

Runs ``python -m steelnb`` in a fresh, temporary ``STEELNB_HOME`` (so no finished run is reused),
measures its wall time, reads the one-line summary it ends with and prints a README table row and
one PASS/FAIL line per target. The defaults are the NEU-Seg targets of the CPU real-data track: the
course's floor (mIoU, defect mIoU) and the published level (PGA-Net's 0.8215 dataset mIoU with
background, from ImageNet weights, and a U-Net's 0.806 class-mean defect IoU, from random weights as ours;
both trained on a GPU).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from steelnb.evaluation.score_line import ScoreLine


def main(argv: list[str] | None = None) -> int:
    """Run the main job once; exit status 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-minutes", type=float, default=20.0)
    parser.add_argument("--min-miou", type=float, default=0.80)
    parser.add_argument("--min-defect-miou", type=float, default=0.68)
    parser.add_argument("--min-class-iou", type=float, default=0.78)
    parser.add_argument("--min-dataset-miou", type=float, default=0.82)
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as home:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "steelnb"], cwd=root, env={**os.environ, "STEELNB_HOME": home},
                              capture_output=True, text=True)
        minutes = (time.perf_counter() - start) / 60
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        return 1
    try:
        scores = ScoreLine.parse(done.stdout.strip().splitlines()[-1])
    except ValueError:
        print("no score line at the end of the output:", done.stdout[-1000:])
        return 1
    epochs = re.search(r"-> (\d+) epoch", done.stdout)
    print(f"| {minutes:.1f} min | {epochs.group(1) if epochs else '?'} | {scores.miou:.3f} ({scores.all_empty_miou:.3f}) | "
          f"{scores.miou_defects:.3f} | {scores.dice:.3f} | {scores.class_iou_defects:.3f} | {scores.dataset_miou:.3f} |")
    checks = [("wall time", minutes, args.max_minutes, minutes <= args.max_minutes),
              ("test mIoU", scores.miou, args.min_miou, scores.miou >= args.min_miou),
              ("defect mIoU", scores.miou_defects, args.min_defect_miou, scores.miou_defects >= args.min_defect_miou),
              ("class-mean defect IoU", scores.class_iou_defects, args.min_class_iou,
               scores.class_iou_defects >= args.min_class_iou),
              ("dataset mIoU with background", scores.dataset_miou, args.min_dataset_miou,
               scores.dataset_miou >= args.min_dataset_miou)]
    for name, value, target, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'} {name} {value:.3f} (target {target})")
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
