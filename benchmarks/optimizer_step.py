"""What does AdamW's fused kernel buy the main job's training step on this CPU?

    python benchmarks/optimizer_step.py [--threads 2] [--repeats 30]

The main job trains with AdamW. PyTorch runs its update as a loop over the parameters ("for-loop"), as a few
batched ("foreach", the default when the parameters allow it) operations, or as one fused kernel per
parameter group ("fused=True"). This script builds the main job's model (the default profile's backbone and
input size, random weights), gives every parameter a random gradient, and times ``optimizer.step()`` alone
in each form, interleaved round by round so that a passing load hits all three alike. It also times one
whole training step as the time budget times it (forward, backward and a plain SGD update, which costs next
to nothing; the default profile's batch and mixed precision) and prints each form's update time as a share
of it: roughly the fraction of a time budget that a faster update would give back to training. All numbers
are medians of ``--repeats`` rounds measured in this one run.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from steelnb.course.profile import profile_named
from steelnb.course.runs import main_run
from steelnb.models import build_model
from steelnb.training.machine import cpu_instruction_sets, cpu_model
from steelnb.training.precision import cpu_has_native_bf16
from steelnb.training.timing import time_calls, time_model

CPU = torch.device("cpu")
DEFAULT = profile_named("default")
MAIN = main_run()
#: The forms of AdamW's update timed here: name -> keyword arguments of ``torch.optim.AdamW``.
FORMS: dict[str, dict[str, bool]] = {"for-loop": {"foreach": False}, "foreach": {"foreach": True},
                                     "fused": {"fused": True}}


def optimizer_step_seconds(model: torch.nn.Module, repeats: int) -> dict[str, float]:
    """Median seconds of one AdamW ``step()`` over ``model``'s parameters in each of :data:`FORMS`, with
    random gradients; the forms take turns round by round."""
    generator = torch.Generator().manual_seed(0)
    for parameter in model.parameters():
        parameter.grad = torch.randn(parameter.shape, generator=generator)
    recipe = DEFAULT.recipe
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay,
                                          **kwargs) for name, kwargs in FORMS.items()}
    times: dict[str, list[float]] = {name: [] for name in FORMS}
    for round_number in range(repeats + 1):  # round 0 warms up (creates the moment buffers)
        for name, optimizer in optimizers.items():
            seconds = float(time_calls(optimizer.step, 1, 0, CPU)[0])
            if round_number:
                times[name].append(seconds)
    return {name: float(np.median(values)) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    backbone = DEFAULT.backbone(MAIN.paper_backbone)
    model = build_model(MAIN.architecture, backbone, num_classes=4, pretrained=False)
    parameters = sum(p.numel() for p in model.parameters())
    amp = DEFAULT.recipe.amp and cpu_has_native_bf16()
    batch = (DEFAULT.recipe.batch_size, 1, *DEFAULT.image_size)
    whole_step = float(np.median(time_model(model, batch, 4, train=True, device=CPU, amp=amp, steps=5, warmup=2)))
    update = optimizer_step_seconds(model, args.repeats)
    print(f"CPU: {cpu_model()} ({', '.join(cpu_instruction_sets())}), {args.threads} threads, torch "
          f"{torch.__version__}; model: {MAIN.architecture} on {backbone}, {parameters / 1e6:.1f} M parameters, "
          f"random weights; whole training step with an SGD update (batch {batch[0]}, {batch[2]}x{batch[3]}, "
          f"{'bfloat16 autocast' if amp else 'float32'}): {whole_step * 1000:.0f} ms\n")
    print("| AdamW update | ms per step | x foreach's time | share of a whole SGD training step |\n|---|---|---|---|")
    for name, seconds in update.items():
        print(f"| {name} | {seconds * 1000:.1f} | {seconds / update['foreach']:.2f} | {seconds / whole_step:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
