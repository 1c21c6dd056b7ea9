"""Count the training compute of the closest published NEU-Seg result: UNet-NEU-SEG's U-Net from random weights.

    python benchmarks/reference_flops.py /path/to/UNet-NEU-SEG [--epochs 50 75] [--train-images 3129]

Imports the U-Net of a checkout of github.com/Chris2wzk/UNet-NEU-SEG (``unet/unet_model.py``, as its
``train.py`` builds it: ``UNet(n_channels=3, n_classes=4)``, 200x200 crops), counts one training step with
``torch.utils.flop_counter`` (forward and backward, as ``benchmarks/main_job.py`` counts ours) and prints the
FLOPs per image and the training compute of its 50 to 75 epochs on NEU-Seg's training split. Its attention
blocks (``blocks/``) are not needed by the plain U-Net and are replaced by an empty module.
"""
from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import torch

from steelnb.training.timing import counted_flops


def main(argv: list[str] | None = None) -> int:
    """Print the U-Net's FLOPs per 200x200 training image and per training run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a checkout of github.com/Chris2wzk/UNet-NEU-SEG")
    parser.add_argument("--epochs", type=int, nargs="+", default=[50, 75])
    parser.add_argument("--train-images", type=int, default=3129, help="NEU-Seg's training split (default 3129)")
    args = parser.parse_args(argv)
    if not (args.checkout / "unet" / "unet_model.py").is_file():
        raise SystemExit(f"{args.checkout} has no unet/unet_model.py: point at a checkout of UNet-NEU-SEG")
    sys.modules.setdefault("blocks", types.ModuleType("blocks"))
    sys.path.insert(0, str(args.checkout))
    from unet.unet_model import UNet
    torch.manual_seed(0)
    model = UNet(n_channels=3, n_classes=4).train()
    images, target = torch.rand(2, 3, 200, 200), torch.randint(0, 4, (2, 200, 200))

    def step() -> None:
        torch.nn.functional.cross_entropy(model(images), target).backward()

    per_image = counted_flops(step) / len(images)
    print(f"UNet-NEU-SEG U-Net, 200x200: {per_image / 1e9:.1f} GFLOP per training image (forward + backward)")
    for epochs in args.epochs:
        print(f"{epochs} epochs x {args.train_images:,} images: {per_image * epochs * args.train_images / 1e15:.1f} PFLOP")
    return 0


if __name__ == "__main__":
    sys.exit(main())
