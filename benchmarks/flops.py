"""How close the model's steps come to this machine's arithmetic limit.

    python benchmarks/flops.py [--backbone B] [--threads 2]

For the main job's training step (the default profile's batch, input size, backbone and mixed precision) and
for the evaluation of one 256x1600 strip (float32, and bfloat16 on CPUs that have it), prints the FLOPs
counted by ``torch.utils.flop_counter`` (convolutions and matrix products, forward and backward), the
median time of the step, the achieved GFLOP/s and, measured in the same run, the peak GFLOP/s of a
large matrix product in the same precision, and the ratio of the two. Elementwise work (batch norm,
ReLU, the optimiser) is not counted, so the ratio is a lower bound of how busy the arithmetic units are.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from steelnb.course.profile import profile_named
from steelnb.course.runs import main_run
from steelnb.data.rle import SEVERSTAL_SHAPE
from steelnb.models import build_model
from steelnb.training.precision import autocast_dtype, cpu_has_native_bf16
from steelnb.training.timing import counted_flops, model_step, time_calls

CPU = torch.device("cpu")
#: The main job's profile and run: the training step measured is theirs.
DEFAULT = profile_named("default")
MAIN = main_run()


def matmul_peak_gflops(dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of the fastest of ``repeats`` (size x size) @ (size x size) products in ``dtype``."""
    a, b = torch.rand(size, size).to(dtype), torch.rand(size, size).to(dtype)
    best = float(time_calls(lambda: a @ b, repeats, 1, CPU).min())
    return 2 * size ** 3 / best / 1e9


def measure(label: str, step, dtype: torch.dtype, repeats: int) -> dict[str, float | str]:
    """One table row: counted GFLOP, median seconds, achieved GFLOP/s, matmul peak in ``dtype`` and the ratio."""
    flops = counted_flops(step)
    seconds = float(np.median(time_calls(step, repeats, 1, CPU)))
    peak = matmul_peak_gflops(dtype)
    achieved = flops / seconds / 1e9
    return {"step": label, "precision": str(dtype).removeprefix("torch."), "GFLOP": round(flops / 1e9, 1),
            "seconds": round(seconds, 3), "achieved GFLOP/s": round(achieved, 1),
            "matmul peak GFLOP/s": round(peak, 1), "share of peak": round(achieved / peak, 2)}


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default=DEFAULT.backbone(MAIN.paper_backbone))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(MAIN.architecture, args.backbone, num_classes=4, pretrained=False)
    batch, size = DEFAULT.recipe.batch_size, DEFAULT.image_size
    images, target = torch.rand(batch, 1, *size), torch.randint(0, 4, (batch, *size))
    train_dtype = autocast_dtype(CPU) or torch.float32
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    rows = [measure(f"training step, {batch} x {size[0]}x{size[1]} (the main job's)",
                    model_step(model.train(), images, target, optimizer, CPU, amp=True), train_dtype, args.repeats)]
    strip = torch.rand(1, 1, *SEVERSTAL_SHAPE)
    strip_label = f"evaluation, 1 x {SEVERSTAL_SHAPE[0]}x{SEVERSTAL_SHAPE[1]}"
    model.eval()
    rows.append(measure(strip_label, model_step(model, strip, device=CPU), torch.float32, args.repeats))
    if cpu_has_native_bf16():
        rows.append(measure(strip_label, model_step(model, strip, device=CPU, amp=True),
                            torch.bfloat16, args.repeats))
    print(f"DeepLabV3+ {args.backbone}, {args.threads} threads, torch {torch.__version__}")
    header = list(rows[0])
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[key]) for key in header) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
