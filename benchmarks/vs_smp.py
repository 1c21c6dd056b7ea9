"""steelnb's DeepLabV3+ against segmentation-models-pytorch's on the same encoder, measured in one process.

    python benchmarks/vs_smp.py [--encoders resnet18 efficientnet_b1 mobilenet_v3_large] [--repeats 7] [--csv out.csv]
    python benchmarks/vs_smp.py --device cuda      # on a GPU: mixed precision, channels_last, synchronised timing

For each encoder both models are built with random weights, 5 classes and output stride 16, and
timed in alternation (ours, smp, ours, smp, ...) so that a background load slows both alike: a
training step (SGD, cross-entropy, batch 16 of 256x256), and evaluation forwards on the same batch
and on one 256x1600 strip. Evaluation is timed for steelnb's eager model, for the model the course scores
with (batch norms folded into the convolutions, float32: ``steelnb.evaluation.inference.inference_model``),
for the one its submission writer predicts with (folded, in bfloat16 autocast on CPUs with native
bfloat16), and in ONNX Runtime (with the optional ``onnx`` extra), each against smp's eager model. The
first ``--warmup`` repetitions are dropped; the table shows medians, the spread (interquartile range) and
the ratio steelnb / smp (below 1: steelnb is faster). On the CPU both run in
float32 (except the bfloat16 variant) with their default memory format (steelnb's models are
channels_last by design), with the same number of threads (``--threads``, ONNX Runtime included); with
``--device cuda`` both run with float16 autocast and in channels_last, and every timing waits for the
GPU to finish (``torch.cuda.synchronize``). The data pipeline's images/s (SteelDataset with the paper's
augmentation, on ``STEELNB_DATA`` or the demo data) is printed beside the training step's, to show
which one bounds training.

segmentation-models-pytorch is an optional extra (``pip install segmentation-models-pytorch``);
without it the script says so and exits.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from steelnb.commands.bench import data_pipeline_images_per_second
from steelnb.evaluation.export import export_onnx, onnx_session
from steelnb.evaluation.inference import inference_model
from steelnb.models import build_model
from steelnb.training.device import device_name
from steelnb.training.precision import autocast_dtype, cpu_has_native_bf16
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


def onnx_runtime_step(model: torch.nn.Module, images: torch.Tensor, folder: Path) -> Callable[[], None] | None:
    """One ONNX Runtime run of ``model`` (exported to ``folder``) on ``images``, with torch's thread count;
    None when onnx or onnxruntime is not installed (the optional ``onnx`` extra)."""
    if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        return None
    session = onnx_session(export_onnx(model, folder / "model.onnx", tuple(images.shape[2:])))
    feed = {"image": images.cpu().numpy()}
    return lambda: session.run(None, feed)


def eval_steps(ours: torch.nn.Module, theirs: torch.nn.Module, gray: torch.Tensor, rgb: torch.Tensor,
               device: torch.device, amp: bool, folder: Path) -> dict[str, Callable[[], None]]:
    """Evaluation forwards on one input: steelnb eager; the model the course scores with (batch norms folded,
    float32 on a CPU); the model its submission writer predicts with (folded, in bfloat16 on CPUs that compute
    it natively: ``inference.inference_model``); in ONNX Runtime (CPU, when installed); and smp's eager model."""
    steps = {"eager": model_step(ours, gray, device=device, amp=amp),
             "BN folded": model_step(inference_model(ours), gray, device=device, amp=amp)}
    if device.type == "cpu" and cpu_has_native_bf16():
        submission_model = inference_model(ours, autocast_dtype(device))
        steps["BN folded, bf16"] = model_step(submission_model, gray, device=device, amp=False)
    onnx_step = onnx_runtime_step(ours, gray, folder) if device.type == "cpu" else None
    if onnx_step is not None:
        steps["ONNX Runtime"] = onnx_step
    return {**steps, "smp": model_step(theirs, rgb, device=device, amp=amp)}


def compare(encoder: str, repeats: int, warmup: int, batch: int, device: torch.device,
            size: int = 256) -> list[dict[str, float | str]]:
    """Rows of the table for ``encoder``: the median time of steelnb (each variant) and of smp, and their
    ratio, for a training step (batch ``batch`` of ``size`` x ``size``) and for evaluation on the same batch
    and on one ``size`` x 6.25 ``size`` strip."""
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
    ours.train(), theirs.train()
    timings = {(f"train b{batch} {size}x{size}", "eager"): alternate(
        {"ours": model_step(ours, gray, target, _sgd(ours), device, amp),
         "smp": model_step(theirs, gray.expand(-1, 3, -1, -1).contiguous(memory_format=layout), target, _sgd(theirs),
                           device, amp)}, repeats, warmup, device)}
    ours.eval(), theirs.eval()
    with tempfile.TemporaryDirectory() as folder:
        for task, images in ((f"eval b{batch} {size}x{size}", gray), (f"eval b1 {size}x{strip_width(size)}", strip)):
            rgb = images.expand(-1, 3, -1, -1).contiguous(memory_format=layout)
            times = alternate(eval_steps(ours, theirs, images, rgb, device, amp, Path(folder)), repeats, warmup, device)
            timings.update({(task, variant): {"ours": t, "smp": times["smp"]}
                            for variant, t in times.items() if variant != "smp"})
    return [{"encoder": encoder, "task": task, "steelnb": variant,
             "steelnb ms": round(float(np.median(t["ours"])) * 1000, 1),
             "smp ms": round(float(np.median(t["smp"])) * 1000, 1),
             "spread steelnb / smp ms": f"{np.subtract(*np.percentile(t['ours'], [75, 25])) * 1000:.2g} / "
                                        f"{np.subtract(*np.percentile(t['smp'], [75, 25])) * 1000:.2g}",
             "ratio": round(float(np.median(t["ours"]) / np.median(t["smp"])), 2)}
            for (task, variant), t in timings.items()]


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
        encoder_rows = compare(encoder, args.repeats + args.warmup, args.warmup, args.batch, device, args.size)
        print(pd.DataFrame(encoder_rows).to_string(header=False, index=False), flush=True)
        rows += encoder_rows
    table = pd.DataFrame(rows).set_index(["encoder", "task", "steelnb"])
    print(table.to_string())
    evaluation = table[table.index.get_level_values("task").str.startswith("eval")]
    largest = evaluation.groupby(level="steelnb")["ratio"].max()
    print("largest evaluation ratio of each steelnb variant over the encoders and inputs: "
          + ", ".join(f"{variant} {ratio:.2f}" for variant, ratio in largest.items()))
    loader = data_pipeline_images_per_second(size=(args.size, args.size), images=64)
    training = table.xs("eager", level="steelnb")
    speeds = ", ".join(f"{encoder} {args.batch / ms * 1000:.1f}" for (encoder, task), ms in training["steelnb ms"].items()
                       if task.startswith("train"))
    print(f"data pipeline (SteelDataset + weighted augmentation, {args.size}x{args.size}, one process): {loader:.0f} "
          f"img/s; training step: {speeds} img/s")
    if args.csv:
        table.assign(device=device_name(device), torch=torch.__version__, dtype=precision).to_csv(args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
