"""Command line: ``python -m steelnb [train|bench]``.

``train`` (the default) is the course's main job: it finds the real data or falls back to the
demo data, trains DeepLabV3+ with the profile's settings (resuming if interrupted), scores the
test split beside the all-empty prediction and saves learning curves and predictions as PNG.
"""
from __future__ import annotations

import argparse

from .experiment import course_split, results_table, run_experiment
from .inference import predict_mask
from .paths import load_course_dataset
from .plots import plot_examples, plot_learning_curves, save_figure
from .profile import current_profile


def train_main(args: argparse.Namespace) -> None:
    """Train and evaluate one model; print the results table and where the figures went."""
    profile = current_profile()
    index = load_course_dataset()
    split = course_split(index, profile)
    backbone = args.backbone or profile.backbone("resnet101")
    print(f"Profile {profile.name}: {args.architecture} on {backbone}, {profile.epochs} epochs, "
          f"{len(split['train'])}/{len(split['val'])}/{len(split['test'])} train/val/test images.")
    result = run_experiment(f"{args.architecture}-{backbone}", index, split, profile, args.architecture, backbone)
    print(results_table([result]).to_string())
    folder = profile.runs_dir / "figures"
    save_figure(plot_learning_curves({result.name: result.history}), "main_learning_curves", folder)
    rows = [{"image": index.image(i), "ground truth": index.mask(i),
             "prediction": predict_mask(result.model, index.image(i), profile.image_size)}
            for i in split["test"][:4]]
    print("Figures written to", save_figure(plot_examples(rows, index.class_names), "main_predictions", folder).parent)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m steelnb`` and the ``steelnb`` script."""
    parser = argparse.ArgumentParser(prog="steelnb", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    train = sub.add_parser("train", help="train and evaluate DeepLabV3+ (default)")
    for p in (parser, train):
        p.add_argument("--architecture", default="deeplabv3plus", choices=["deeplabv3plus", "baseline"])
        p.add_argument("--backbone", default=None, help="default: ResNet101, or ResNet18 without a GPU")
    bench = sub.add_parser("bench", help="print the speed benchmark")
    bench.add_argument("--quick", action="store_true", help="only the small CPU models")
    args = parser.parse_args(argv)
    if args.command == "bench":
        from .bench import main as bench_main
        bench_main(["--quick"] if args.quick else [])
    else:
        train_main(args)


if __name__ == "__main__":
    main()
