"""Speed benchmark (a script, not a test): RLE decoding and model throughput on this machine.

Prints images/s of the vectorized RLE decoder against a plain per-run Python loop, then the
train-step and eval images/s of each model at 256x256 and 256x1600 (the paper's Table 1 on CPU).
Run ``python -m steelnb bench`` (add ``--quick`` through ``benchmarks/bench.py`` for fewer models).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from .inference import images_per_second
from .models import build_model
from .rle import SEVERSTAL_SHAPE, rle_decode, rle_encode

MODELS = [("baseline", "resnet101"), ("deeplabv3plus", "resnet101"), ("deeplabv3plus", "densenet201"),
          ("deeplabv3plus", "efficientnet_b1"), ("deeplabv3plus", "resnet18"), ("deeplabv3plus", "mobilenet_v3_large")]


def rle_decode_loop(encoded: str, shape: tuple[int, int] = SEVERSTAL_SHAPE) -> np.ndarray:
    """The textbook decoder: one Python loop iteration per run (the reference the bench compares to)."""
    flat = np.zeros(shape[0] * shape[1], dtype=bool)
    tokens = encoded.split()
    for start, length in zip(tokens[0::2], tokens[1::2]):
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


def bench_models(models: list[tuple[str, str]], device: str = "cpu", train_batch: int = 2, steps: int = 2) -> pd.DataFrame:
    """Train and eval images/s per model at 256x256 and 256x1600 (random weights: speed does not depend on them)."""
    rows = []
    for architecture, backbone in models:
        torch.manual_seed(0)
        model = build_model(architecture, backbone, pretrained=False).to(memory_format=torch.channels_last)
        row = {"model": f"{architecture}-{backbone}"}
        for label, shape in (("256x256", (256, 256)), ("256x1600", (256, 1600))):
            row[f"train img/s {label}"] = images_per_second(model, shape, train_batch, steps, train=True, device=device)
            row[f"eval img/s {label}"] = images_per_second(model, shape, 1, steps + 2, device=device)
        rows.append(row)
        print(row)
    return pd.DataFrame(rows).set_index("model").round(2)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description="steelnb speed benchmark")
    parser.add_argument("--quick", action="store_true", help="only the small CPU models")
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench_rle()
    models = MODELS[-2:] if args.quick else MODELS
    print(bench_models(models, device).to_string())
