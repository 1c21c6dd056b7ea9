"""Speed benchmark (a script, not a test): RLE decoding, the data pipeline and model throughput.

``python -m steelnb bench [--quick] [--csv FILE]`` prints, on this machine:

* images/s of the vectorized RLE decoder against a plain per-run Python loop;
* images/s of the data pipeline (SteelDataset with the paper's augmentation, on your data or the demo);
* per model, a training step at batch 16 of 256x256 (the paper's) and an evaluation forward of one
  256x256 and one 256x1600 image: median seconds and interquartile range over ``--steps`` timed
  repetitions after ``--warmup``, one row per model naming the device, torch version, dtype, batch,
  size and parameters, as timm's benchmark does. The models are timed exactly as training runs
  them (channels_last, and the mixed precision of ``training/precision.py`` when ``--amp`` is given).
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..course.paper import PAPER_MIOU
from ..course.profile import PAPER_IMAGE_SIZE, PAPER_RECIPE, profile_named
from ..course.runs import RUNS, main_run
from ..data.rle import SEVERSTAL_SHAPE, rle_decode, rle_encode
from ..data.severstal import SEVERSTAL_CLASSES
from ..models import LIGHTEST_BACKBONE, build_model, set_memory_format
from ..training.device import default_device, device_name, prepare_device
from ..training.precision import autocast_dtype
from ..training.timing import model_step, time_calls

#: The models timed, as (architecture, backbone): the paper's four, then the CPU profiles' main backbone and the
#: lightest backbone the course offers (``--quick`` times these two only).
MODELS = [(RUNS[name].architecture, RUNS[name].paper_backbone) for name in PAPER_MIOU] + [
    (main_run().architecture, profile_named("default").backbone(main_run().paper_backbone)),
    (main_run().architecture, LIGHTEST_BACKBONE)]


def rle_decode_loop(encoded: str, shape: tuple[int, int] = SEVERSTAL_SHAPE) -> np.ndarray:
    """The textbook decoder: one Python loop iteration per run (the reference the bench compares to)."""
    flat = np.zeros(shape[0] * shape[1], dtype=bool)
    tokens = encoded.split()
    for start, length in zip(tokens[0::2], tokens[1::2], strict=True):
        flat[int(start) - 1:int(start) - 1 + int(length)] = True
    return flat.reshape(shape[1], shape[0]).T


def bench_rle(repeats: int = 200) -> dict[str, float]:
    """Images/s of both decoders on a realistic mask (a few hundred runs), checked to agree."""
    rng = np.random.default_rng(0)
    mask = np.zeros(SEVERSTAL_SHAPE, bool)
    for _ in range(12):
        r, c = rng.integers(0, 230), rng.integers(0, 1500)
        mask[r:r + rng.integers(5, 26), c:c + rng.integers(10, 100)] = True
    encoded = rle_encode(mask)
    assert (rle_decode_loop(encoded) == rle_decode(encoded)).all()
    rates = {}
    for name, decode in (("vectorized", rle_decode), ("python loop", rle_decode_loop)):
        start = time.perf_counter()
        for _ in range(repeats):
            decode(encoded)
        rates[name] = repeats / (time.perf_counter() - start)
    print(f"RLE decode ({len(encoded.split()) // 2} runs): vectorized {rates['vectorized']:.0f} img/s, "
          f"python loop {rates['python loop']:.0f} img/s, ratio {rates['vectorized'] / rates['python loop']:.2f}x")
    return rates


def data_pipeline_images_per_second(size: tuple[int, int], images: int = 64) -> float:
    """Items/s that SteelDataset (decode, resize, weighted-augmentation copies) delivers in one process,
    on the course's data (``STEELNB_DATA`` or the demo), uncached: the first epoch's cost."""
    from ..course.profile import current_profile
    from ..course.setup import course_split
    from ..data.locations import load_course_dataset
    from ..data.torch_dataset import SteelDataset
    index = load_course_dataset(verbose=False)
    train_ids = course_split(index, current_profile())["train"]
    dataset = SteelDataset(index, train_ids, size=size, augment_weights=(1.0, 1.0, 1.0))
    count = min(images, len(dataset))
    start = time.perf_counter()
    for item in range(count):
        dataset[item]
    return count / (time.perf_counter() - start)


#: What the speed table measures: (mode, batch, (height, width)): a training step at the paper's batch and
#: input, and evaluation of one squashed and one full-resolution image.
PAPER_SHAPES = (("train", PAPER_RECIPE.batch_size, PAPER_IMAGE_SIZE), ("eval", 1, PAPER_IMAGE_SIZE),
                ("eval", 1, SEVERSTAL_SHAPE))


def bench_model(model: nn.Module, name: str, device: torch.device, shapes=PAPER_SHAPES, steps: int = 10,
                warmup: int = 3, amp: bool = False, channels_last: bool = True) -> list[dict]:
    """One row per (mode, batch, size) of ``shapes``: median and interquartile range of the seconds per step,
    iterations/s and images/s of ``model`` (on ``device``), trained with SGD or evaluated on random inputs,
    in the mixed precision of ``training/precision.py`` when ``amp`` and in ``channels_last`` (or the default
    contiguous) memory format."""
    set_memory_format(model, torch.channels_last if channels_last else torch.contiguous_format)
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    dtype = autocast_dtype(device, amp) or torch.float32
    rows = []
    for mode, n, shape in shapes:
        images = torch.rand(n, 1, *shape, device=device)
        target = torch.randint(0, 5, (n, *shape), device=device)
        model.train(mode == "train")
        step = model_step(model, images, target, optimizer if mode == "train" else None, device, amp)
        times = time_calls(step, steps, warmup, device)
        median = float(np.median(times))
        rows.append({"model": name, "mode": mode, "batch": n, "size": f"{shape[0]}x{shape[1]}",
                     "median s": round(median, 4), "IQR s": round(float(np.subtract(*np.percentile(times, [75, 25]))), 4),
                     "it/s": round(1 / median, 2), "img/s": round(n / median, 2), "params M": round(params / 1e6, 1),
                     "dtype": str(dtype)[6:], "memory format": "channels_last" if channels_last else "contiguous",
                     "device": device_name(device), "torch": torch.__version__})
    return rows


def loader_images_per_second(loader: Iterable, images: int) -> float:
    """Images/s a DataLoader delivers once its workers run, over about ``images`` images (the first batch,
    which starts the workers, is not timed)."""
    delivered, start = 0, None
    for batch, _ in loader:
        if start is None:
            start = time.perf_counter()
            continue
        delivered += len(batch)
        if delivered >= images:
            break
    return delivered / (time.perf_counter() - start) if delivered else float("nan")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description="steelnb speed benchmark")
    parser.add_argument("--quick", action="store_true", help="only the small CPU models")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--amp", action="store_true", help="mixed precision as training uses it (training/precision.py)")
    parser.add_argument("--csv", default=None, help="also write one row per model and mode here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = default_device()
    prepare_device(device)
    print(f"{device_name(device)}, torch {torch.__version__}")
    bench_rle()
    print(f"data pipeline (SteelDataset + weighted augmentation, {PAPER_IMAGE_SIZE[0]}x{PAPER_IMAGE_SIZE[1]}, one process): "
          f"{data_pipeline_images_per_second(PAPER_IMAGE_SIZE):.0f} img/s")
    rows = []
    for architecture, backbone in MODELS[-2:] if args.quick else MODELS:
        torch.manual_seed(0)
        model = build_model(architecture, backbone, len(SEVERSTAL_CLASSES) + 1, pretrained=False).to(device)
        rows += bench_model(model, f"{architecture}-{backbone}", device, steps=args.steps, warmup=args.warmup,
                            amp=args.amp)
        print(pd.DataFrame(rows[-3:]).drop(columns=["device", "torch"]).to_string(index=False, header=len(rows) == 3))
    if args.csv:
        pd.DataFrame(rows).to_csv(args.csv, index=False)
