"""What does skipping the atrous taps that read only zero padding buy the main job on this CPU?

    python benchmarks/atrous_depthwise.py [--threads 2] [--repeats 7]

At the default profile's 128x128 input, ASPP sees an 8x8 map, so its rates 12 and 18 put every tap of their
depthwise 3x3 but the centre on zero padding. ``layers.atrous_depthwise`` leaves those taps out (the same
result and gradients, ``tests/test_models.py`` checks both against a plain convolution). This script builds
the main job's model, full width and light (``profile.LIGHT_MODEL``), random weights, and a copy of each whose
depthwise convolutions are plain ``nn.Conv2d`` with every tap, and times both in turn, round by round, so that
a passing load hits both alike: a training step (forward, backward, SGD update) on a batch of the default
profile, in bfloat16 autocast where the CPU has it natively and in float32, and an inference forward at the
200x200 of NEU-Seg's scoring (a 13x13 map, where only rate 18 drops taps). It prints the medians of
``--repeats`` rounds and the ratio of the two, all measured in this one run.
"""
from __future__ import annotations

import argparse
import copy
import sys

import numpy as np
import torch
from torch import nn

from steelnb.course.profile import light_model_options, profile_named
from steelnb.course.runs import main_run
from steelnb.models import build_model
from steelnb.models.layers import AtrousDepthwiseConv2d
from steelnb.training.machine import machine_line
from steelnb.training.precision import cpu_has_native_bf16
from steelnb.training.timing import time_model

CPU = torch.device("cpu")
DEFAULT = profile_named("default")
MAIN = main_run()
#: NEU-Seg's image side, at which the course scores (200x200 inputs: a 13x13 map at stride 16).
SCORING_SIDE = 200


def with_every_tap(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose :class:`AtrousDepthwiseConv2d` layers are plain ``nn.Conv2d`` with the same
    weights: every tap computed, the zero padding included."""
    plain = copy.deepcopy(model)
    for parent in plain.modules():
        for name, child in parent.named_children():
            if isinstance(child, AtrousDepthwiseConv2d):
                conv = nn.Conv2d(child.in_channels, child.out_channels, 3, padding=child.padding,
                                 dilation=child.dilation, groups=child.groups, bias=False)
                conv.weight.data.copy_(child.weight.data)
                setattr(parent, name, conv)
    return plain


def paired_medians(models: dict[str, nn.Module], batch: tuple[int, ...], train: bool, amp: bool,
                   repeats: int) -> dict[str, float]:
    """Median seconds of one training step (``train``) or inference forward of each model on a random batch
    of ``batch`` (N, 1, H, W), the models taking turns round by round after one untimed warm-up each."""
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            times[name].append(float(time_model(model, batch, 4, train, CPU, amp, steps=1, warmup=1)[0]))
    return {name: float(np.median(values)) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    backbone = DEFAULT.backbone(MAIN.paper_backbone)
    batch_size = DEFAULT.recipe.batch_size
    precisions = [True, False] if cpu_has_native_bf16() else [False]
    print(f"machine: {machine_line(args.threads)}; {MAIN.architecture} on {backbone}, random weights; "
          f"medians of {args.repeats} interleaved rounds\n")
    print("| model | what is timed | precision | every tap (ms) | taps on padding skipped (ms) | ratio |\n"
          "|---|---|---|---|---|---|")
    for label, options in (("full width", {}), ("light", light_model_options())):
        torch.manual_seed(0)
        model = build_model(MAIN.architecture, backbone, num_classes=4, pretrained=False, **options)
        models = {"every tap": with_every_tap(model), "skipped": model}
        cases = [(f"training step, {batch_size}x{DEFAULT.image_size[0]}x{DEFAULT.image_size[1]}",
                  (batch_size, 1, *DEFAULT.image_size), True, amp) for amp in precisions]
        cases.append((f"inference, {batch_size}x{SCORING_SIDE}x{SCORING_SIDE}",
                      (batch_size, 1, SCORING_SIDE, SCORING_SIDE), False, False))
        for what, batch, train, amp in cases:
            medians = paired_medians(models, batch, train, amp, args.repeats)
            print(f"| {label} | {what} | {'bfloat16' if amp else 'float32'} | {medians['every tap'] * 1000:.0f} | "
                  f"{medians['skipped'] * 1000:.0f} | {medians['skipped'] / medians['every tap']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
