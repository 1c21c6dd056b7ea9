"""Severstal at full scale on a CPU: does every data step stay fast and small at 12,568 images?

    python benchmarks/severstal_scale.py [--images 12568] [--keep DIR]

Generates a Kaggle-format set the size of Severstal's training set (12,568 synthetic 256x1600 JPEGs with
about 7,000 RLE rows in the real class mix, from the demo generator) in a temporary folder (``--keep``
writes it to a folder you name instead, and reuses it next time), then measures, in one run:

* ``open_dataset``: seconds and peak memory (Python allocations, numpy and pandas included);
* the augmentation plan (which images get a weighted-augmentation copy) and the hashed split;
* the data fingerprint a run is bound to: of the Kaggle layout (every image's ``train.csv`` rows), and of the
  same masks as 12,568 PNG files (a folder dataset: each file hashed, then remembered by path, size and time);
* the mask lookup of one image, at 1/8 of the rows and at all of them (it must not grow with the set);
* DataLoader images/s with the ``full`` profile's transforms (256x256, weighted augmentation) at 2 workers
  and at all CPUs;
* the first training steps of the ``default`` profile (DeepLabV3+ ResNet18, batch 16, 128x128).

It prints a markdown table with each target (index under 30 s and 2 GB, loader at least 200 img/s at 2
workers) and PASS or FAIL, and exits 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from steelnb.commands.bench import loader_images_per_second
from steelnb.course.profile import profile_named
from steelnb.course.runs import main_run
from steelnb.data.augment import class_shares, plan_augmented_copies
from steelnb.data.demo import generate_demo_dataset
from steelnb.data.digests import file_digests
from steelnb.data.layouts import is_severstal_folder, open_dataset
from steelnb.data.split import hashed_split
from steelnb.data.torch_dataset import SteelDataset
from steelnb.models import build_model
from steelnb.training.device import device_name
from steelnb.training.timing import model_step, time_calls

SEVERSTAL_TRAIN_IMAGES = 12_568


def timed(function, *args, **kwargs):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) the set, measure, print the table; 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=SEVERSTAL_TRAIN_IMAGES)
    parser.add_argument("--keep", type=Path, default=None, help="generate into (or reuse) this folder")
    parser.add_argument("--loader-images", type=int, default=1024)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="steelnb-scale-") as scratch:
        root = args.keep or Path(scratch) / "severstal"
        if not is_severstal_folder(root):
            _, seconds = timed(generate_demo_dataset, root, n_images=args.images, seed=11)
            print(f"generated {args.images:,} images in {seconds:.0f} s into {root}", flush=True)
        return measure(root, Path(scratch))


def mask_digest_rows(index, folder: Path) -> list[tuple[str, str, str, bool | None]]:
    """Seconds to hash every mask of ``index`` written as a PNG file into ``folder`` (a folder dataset's label
    fingerprint), the first time and again with the digests remembered (``data.digests.file_digests``)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for image_id in index.image_ids:
        path = folder / f"{Path(image_id).stem}.png"
        if not path.is_file():
            cv2.imwrite(str(path), index.mask(image_id))
        paths.append(path)
    cache = folder / "digests.json"
    cache.unlink(missing_ok=True)
    time.sleep(2.1)  # older than the racy window, as masks on a disk are
    _, first = timed(file_digests, paths, cache)
    _, again = timed(file_digests, paths, cache)
    return [(f"label digests of {len(paths):,} mask PNGs, first time", f"{first:.1f} s", "< 30 s", first < 30),
            ("the same, remembered by path, size and time", f"{again:.2f} s", "< 30 s", again < 30)]


def measure(root: Path, scratch: Path) -> int:
    """Measure every step on the Kaggle-format set in ``root`` (writing its masks as PNG files in ``scratch``)
    and print the table."""
    rows: list[tuple[str, str, str, bool | None]] = []  # (what, measured, target, met)
    tracemalloc.start()
    index, seconds = timed(open_dataset, root)
    peak_gb = tracemalloc.get_traced_memory()[1] / 1e9
    tracemalloc.stop()
    counts = index.rles.class_id.value_counts().sort_index().to_dict()
    rows.append((f"open_dataset: {len(index):,} images, {len(index.rles):,} RLE rows {counts}", f"{seconds:.1f} s",
                 "< 30 s", seconds < 30))
    rows.append(("open_dataset peak memory", f"{peak_gb:.2f} GB", "< 2 GB", peak_gb < 2))
    _, seconds = timed(index.fingerprint)
    rows.append(("data fingerprint, Kaggle layout (ids and every image's train.csv rows)", f"{seconds:.2f} s",
                 "< 30 s", seconds < 30))
    rows += mask_digest_rows(index, scratch / "masks")
    split, seconds = timed(hashed_split, index)
    rows.append((f"hashed 80/10/10 split ({len(split['train']):,} train images)", f"{seconds:.2f} s", "", None))
    presence = index.presence(split["train"])
    copies, seconds = timed(plan_augmented_copies, presence, class_shares(presence))
    rows.append((f"augmentation plan ({len(copies):,} copies)", f"{seconds:.3f} s", "", None))
    probe = list(dict.fromkeys(index.rles.image_id))[:200]  # 200 images with defects
    eighth = replace(index, rles=index.rles.iloc[:len(index.rles) // 8].reset_index(drop=True))
    eighth = replace(eighth, rles=pd.concat([eighth.rles, index.rles[index.rles.image_id.isin(probe)]]).drop_duplicates())
    for label, which in ((f"{len(eighth.rles):,} rows", eighth), (f"{len(index.rles):,} rows", index)):
        _, seconds = timed(lambda w=which: [w.mask(i) for i in probe])
        rows.append((f"mask lookup + RLE decode, index of {label}", f"{seconds / len(probe) * 1e3:.2f} ms/image", "",
                     None))
    full, default = profile_named("full"), profile_named("default")
    size = full.image_size
    dataset = SteelDataset(index, split["train"], size=size, augment_weights=(1.0, 1.0, 1.0))
    for workers in sorted({2, os.cpu_count() or 1}):
        loader = DataLoader(dataset, batch_size=full.recipe.batch_size, shuffle=True, num_workers=workers,
                            drop_last=True)
        rate = loader_images_per_second(loader, 1024)
        target = workers == 2
        rows.append((f"DataLoader, full profile's transforms ({size[0]}x{size[1]} + augmentation), {workers} workers",
                     f"{rate:.0f} img/s", ">= 200 img/s" if target else "", rate >= 200 if target else None))
    torch.manual_seed(0)
    main = main_run()
    backbone, batch, size = default.backbone(main.paper_backbone), default.recipe.batch_size, default.image_size
    model = build_model(main.architecture, backbone, index.num_classes, pretrained=False).train()
    images, target = torch.rand(batch, 1, *size), torch.randint(0, index.num_classes, (batch, *size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=default.recipe.lr)
    step_times = time_calls(model_step(model, images, target, optimizer, torch.device("cpu"), True), 5, 1,
                            torch.device("cpu"))
    rows.append((f"default profile's first training steps ({model.title} {backbone}, {batch} x {size[0]}x{size[1]})",
                 f"{np.median(step_times):.2f} s/step ({batch / np.median(step_times):.0f} img/s)", "", None))
    print(f"\n{device_name(torch.device('cpu'))}, torch {torch.__version__}, {len(index):,} images in {root}\n")
    print("| step | measured | target | |\n|---|---|---|---|")
    for what, measured, target, met in rows:
        print(f"| {what} | {measured} | {target} | {'' if met is None else 'PASS' if met else 'FAIL'} |")
    return 0 if all(met is not False for *_, met in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
