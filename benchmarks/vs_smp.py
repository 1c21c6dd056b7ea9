"""steelnb's DeepLabV3+ against segmentation-models-pytorch's on the same encoder, measured in one process.

    python benchmarks/vs_smp.py [--encoders resnet18 efficientnet_b1 mobilenet_v3_large] [--steps 7] [--csv out.csv]

For each encoder both models are built with random weights, 5 classes and output stride 16, and
timed in alternation (ours, smp, ours, smp, ...) so that a background load slows both alike: a
training step (SGD, cross-entropy, batch 16 of 256x256) and an evaluation forward (batch 1 of
256x1600). The first ``--warmup`` repetitions are dropped; the table shows medians, the spread
(interquartile range) and the ratio steelnb / smp (below 1: steelnb is faster). Both run in float32
with their default memory format (steelnb's models are channels_last by design). The data pipeline's
images/s (SteelDataset with the paper's augmentation, on ``STEELNB_DATA`` or the demo data) is printed
beside the training step's, to show which one bounds training.

segmentation-models-pytorch is an optional extra (``pip install segmentation-models-pytorch``);
without it the script says so and exits.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from steelnb.bench import data_pipeline_images_per_second
from steelnb.models import build_model
from steelnb.steps import model_step
from steelnb.train import device_name

#: smp's name for the same encoder (smp 0.6 has MobileNetV3 only through timm).
SMP_ENCODERS = {"resnet18": "resnet18", "efficientnet_b1": "efficientnet-b1",
                "mobilenet_v3_large": "tu-mobilenetv3_large_100"}


def _sgd(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)


def alternate(steps: dict[str, Callable[[], None]], repeats: int, warmup: int) -> dict[str, np.ndarray]:
    """Seconds of each step, run in alternation ``repeats`` times, the first ``warmup`` dropped."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: np.array(values[warmup:]) for name, values in times.items()}


def compare(encoder: str, repeats: int, warmup: int, batch: int) -> dict[str, float | str]:
    """One table row: train-step and eval medians of both models on ``encoder``, with ratios."""
    import segmentation_models_pytorch as smp
    torch.manual_seed(0)
    ours = build_model("deeplabv3plus", encoder, num_classes=5, pretrained=False)
    theirs = smp.DeepLabV3Plus(SMP_ENCODERS[encoder], encoder_weights=None, classes=5, encoder_output_stride=16)
    gray = torch.rand(batch, 1, 256, 256)
    target = torch.randint(0, 5, (batch, 256, 256))
    strip = torch.rand(1, 1, 256, 1600)
    rgb, rgb_strip = gray.expand(-1, 3, -1, -1).contiguous(), strip.expand(-1, 3, -1, -1).contiguous()
    ours.train(), theirs.train()
    train = alternate({"ours": model_step(ours, gray, target, _sgd(ours)),
                       "smp": model_step(theirs, rgb, target, _sgd(theirs))}, repeats, warmup)
    ours.eval(), theirs.eval()
    evals = alternate({"ours": model_step(ours, strip), "smp": model_step(theirs, rgb_strip)}, repeats + 2, warmup)
    row: dict[str, float | str] = {
        "encoder": encoder,
        "params steelnb / smp (M)": f"{sum(p.numel() for p in ours.parameters()) / 1e6:.1f} / "
                                    f"{sum(p.numel() for p in theirs.parameters()) / 1e6:.1f}"}
    for label, times in ((f"train b{batch} 256x256 s", train), ("eval b1 256x1600 ms", evals)):
        scale = 1000.0 if label.endswith("ms") else 1.0
        medians = {name: float(np.median(t)) * scale for name, t in times.items()}
        spreads = {name: float(np.subtract(*np.percentile(t, [75, 25]))) * scale for name, t in times.items()}
        row[label] = (f"{medians['ours']:.3g} ± {spreads['ours']:.2g} / {medians['smp']:.3g} ± "
                      f"{spreads['smp']:.2g}")
        row[f"ratio {label.split()[0]}"] = round(medians["ours"] / medians["smp"], 2)
    row["train img/s steelnb"] = round(batch / float(np.median(train["ours"])), 1)
    return row


def main(argv: list[str] | None = None) -> int:
    """Print the comparison table (and write it as CSV); 0 also when smp is missing (then nothing is run)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoders", nargs="+", default=list(SMP_ENCODERS), choices=list(SMP_ENCODERS))
    parser.add_argument("--repeats", type=int, default=7, help="timed alternations per model (after warm-up)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the README's numbers: 2)")
    parser.add_argument("--csv", default=None, help="also write the table here")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("segmentation_models_pytorch") is None:
        print("segmentation-models-pytorch is not installed (pip install segmentation-models-pytorch): nothing to compare.")
        return 0
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    print(f"{device_name(device)}, torch {torch.__version__}, float32, random weights, 5 classes, output stride 16; "
          f"medians ± interquartile range of {args.repeats} alternations after {args.warmup} warm-up")
    rows = []
    for encoder in args.encoders:
        rows.append(compare(encoder, args.repeats + args.warmup, args.warmup, args.batch))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index("encoder")
    print(table.drop(columns="train img/s steelnb").to_string())
    loader = data_pipeline_images_per_second(size=(256, 256), images=64)
    print(f"data pipeline (SteelDataset + weighted augmentation, 256x256, one process): {loader:.0f} img/s; "
          f"training step: {', '.join(f'{e} {r}' for e, r in table['train img/s steelnb'].items())} img/s")
    if args.csv:
        table.assign(device=device_name(device), torch=torch.__version__, dtype="float32").to_csv(args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
