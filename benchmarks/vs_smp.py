"""steelnb's DeepLabV3+ against segmentation-models-pytorch's on the same encoder, measured in one process.

    python benchmarks/vs_smp.py [--encoders resnet18 efficientnet_b1 mobilenet_v3_large] [--repeats 7] [--csv out.csv]
    python benchmarks/vs_smp.py --device cuda      # on a GPU: mixed precision, channels_last, synchronised timing

For each encoder both models are built with random weights, 5 classes and output stride 16, and
timed in alternation (ours, smp, ours, smp, ...) so that a background load slows both alike: a
training step (SGD, cross-entropy, batch 16 of 256x256) and an evaluation forward (batch 1 of
256x1600), the latter also with steelnb's batch norms folded into its convolutions for inference
(``steelnb.evaluation.inference.fold_batchnorm``; ratio column ``ratio eval, BN folded``). The first ``--warmup`` repetitions are dropped; the table shows medians, the spread
(interquartile range) and the ratio steelnb / smp (below 1: steelnb is faster). On the CPU both run in
float32 with their default memory format (steelnb's models are channels_last by design); with
``--device cuda`` both run with float16 autocast and in channels_last, and every timing waits for the
GPU to finish (``torch.cuda.synchronize``). The data pipeline's
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

from steelnb.course.bench import data_pipeline_images_per_second
from steelnb.evaluation.inference import fold_batchnorm
from steelnb.models import build_model
from steelnb.training.device import device_name
from steelnb.training.timing import model_step

#: smp's name for the same encoder (smp 0.6 has MobileNetV3 only through timm).
SMP_ENCODERS = {"resnet18": "resnet18", "efficientnet_b1": "efficientnet-b1",
                "mobilenet_v3_large": "tu-mobilenetv3_large_100"}


def strip_width(height: int) -> int:
    """The width of a Severstal-shaped strip (1600 / 256 = 6.25 times the height), a multiple of 16 (smp needs it)."""
    return height * 25 // 4 // 16 * 16


def _sgd(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)


def alternate(steps: dict[str, Callable[[], None]], repeats: int, warmup: int,
              device: torch.device) -> dict[str, np.ndarray]:
    """Seconds of each step, run in alternation ``repeats`` times, the first ``warmup`` dropped (on CUDA each
    timing waits for the GPU)."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    return {name: np.array(values[warmup:]) for name, values in times.items()}


def compare(encoder: str, repeats: int, warmup: int, batch: int, device: torch.device,
            size: int = 256) -> dict[str, float | str]:
    """One table row: train-step and eval medians of both models on ``encoder``, with ratios (inputs
    ``size`` x ``size`` for training and ``size`` x 6.25 ``size`` for evaluation)."""
    import segmentation_models_pytorch as smp
    torch.manual_seed(0)
    amp = device.type == "cuda"
    ours = build_model("deeplabv3plus", encoder, num_classes=5, pretrained=False).to(device)
    theirs = smp.DeepLabV3Plus(SMP_ENCODERS[encoder], encoder_weights=None, classes=5,
                               encoder_output_stride=16).to(device)
    if amp:
        theirs.to(memory_format=torch.channels_last)
    layout = torch.channels_last if amp else torch.contiguous_format
    gray = torch.rand(batch, 1, size, size, device=device)
    target = torch.randint(0, 5, (batch, size, size), device=device)
    strip = torch.rand(1, 1, size, strip_width(size), device=device)
    rgb = gray.expand(-1, 3, -1, -1).contiguous(memory_format=layout)
    rgb_strip = strip.expand(-1, 3, -1, -1).contiguous(memory_format=layout)
    ours.train(), theirs.train()
    train = alternate({"ours": model_step(ours, gray, target, _sgd(ours), device, amp),
                       "smp": model_step(theirs, rgb, target, _sgd(theirs), device, amp)}, repeats, warmup, device)
    ours.eval(), theirs.eval()
    evals = alternate({"ours": model_step(ours, strip, device=device, amp=amp),
                       "ours, BN folded": model_step(fold_batchnorm(ours), strip, device=device, amp=amp),
                       "smp": model_step(theirs, rgb_strip, device=device, amp=amp)}, repeats + 2, warmup, device)
    row: dict[str, float | str] = {
        "encoder": encoder,
        "params steelnb / smp (M)": f"{sum(p.numel() for p in ours.parameters()) / 1e6:.1f} / "
                                    f"{sum(p.numel() for p in theirs.parameters()) / 1e6:.1f}"}
    for label, times in ((f"train b{batch} {size}x{size} s", train), (f"eval b1 {size}x{strip_width(size)} ms", evals)):
        scale = 1000.0 if label.endswith("ms") else 1.0
        medians = {name: float(np.median(t)) * scale for name, t in times.items()}
        spreads = {name: float(np.subtract(*np.percentile(t, [75, 25]))) * scale for name, t in times.items()}
        row[label] = (f"{medians['ours']:.3g} ± {spreads['ours']:.2g} / {medians['smp']:.3g} ± "
                      f"{spreads['smp']:.2g}")
        row[f"ratio {label.split()[0]}"] = round(medians["ours"] / medians["smp"], 2)
    row["ratio eval, BN folded"] = round(float(np.median(evals["ours, BN folded"]) / np.median(evals["smp"])), 2)
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
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--size", type=int, default=256, help="input height (the paper's: 256)")
    parser.add_argument("--csv", default=None, help="also write the table here")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("segmentation_models_pytorch") is None:
        print("segmentation-models-pytorch is not installed (pip install segmentation-models-pytorch): nothing to compare.")
        return 0
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    precision = "float16 autocast, channels_last" if device.type == "cuda" else "float32"
    print(f"{device_name(device)}, torch {torch.__version__}, {precision}, random weights, 5 classes, output stride "
          f"16; medians ± interquartile range of {args.repeats} alternations after {args.warmup} warm-up")
    rows = []
    for encoder in args.encoders:
        rows.append(compare(encoder, args.repeats + args.warmup, args.warmup, args.batch, device, args.size))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index("encoder")
    print(table.drop(columns="train img/s steelnb").to_string())
    loader = data_pipeline_images_per_second(size=(args.size, args.size), images=64)
    print(f"data pipeline (SteelDataset + weighted augmentation, {args.size}x{args.size}, one process): {loader:.0f} "
          f"img/s; training step: {', '.join(f'{e} {r}' for e, r in table['train img/s steelnb'].items())} img/s")
    if args.csv:
        table.assign(device=device_name(device), torch=torch.__version__, dtype=precision).to_csv(args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
