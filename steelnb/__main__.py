"""Command line: ``python -m steelnb [train|report|bench|gpu-check|download]``.

``train`` (the default) is the course's main job: it finds the real data or falls back to the
demo data, trains DeepLabV3+ with the profile's settings (resuming if interrupted; on a CPU for what the profile's
20-minute target leaves after setup and the test scoring, ``course/job_budget.py``; the lighter DeepLabV3+ where
the time budget buys fewer than 4 epochs of the full one, ``course/model_choice.py``), scores the
test split beside the all-empty prediction, saves learning curves and predictions as PNG, and ends
with one line of test scores at the original resolution. ``report`` runs every notebook in order
(see ``commands/report.py``). ``gpu-check OUT`` runs the paper's path on a GPU in one command of at most 8
minutes (see ``commands/gpu_check.py``). ``download [severstal|neu-seg]`` fetches and checks real steel data
(``data/download/kaggle.py``, ``data/download/neu_seg.py``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from .commands.arguments import positive_int
from .course.experiment import results_table
from .course.figures import curves_figure, prediction_figure
from .course.model_choice import MIN_FULL_EPOCHS, full_model_plan
from .course.plots import save_figure
from .course.profile import CPU_SIBLING, LIGHT_RECIPE, Profile, profile_named
from .course.runs import (
    MAIN_RUN,
    RUNS,
    backbone_run_name,
    fixed_epochs_run_name,
    main_run,
    seeded_run_name,
    train_run,
    training_summary,
)
from .course.setup import course_setup
from .data.index import SegmentationIndex
from .models.backbones import BACKBONES
from .training.config import early_share_for
from .training.distributed import from_main, init_from_env


def demo_notice() -> str:
    """What a run on the synthetic demo data ends with, just above its score line: how to get real steel, and
    how long the main job then takes (its target, from the ``default`` profile)."""
    target_min = profile_named("default").main_job_s / 60
    return ("These numbers come from the SYNTHETIC demo data (made to look like Severstal's), not from real steel.\n"
            "Get real steel with one command (NEU-Seg: 4,470 public images, no account needed; it comes in an archive "
            "of a few hundred MB, of which about 62 MB are kept):\n"
            "  python -m steelnb download neu-seg\n"
            "then run `python -m steelnb` again: it finds NEU-Seg in the course's data/neu-seg folder.\n"
            f"On a CPU the NEU-Seg main job takes about {target_min:.0f} minutes (the default profile's target): it "
            "trains for what setup and the scoring of its test split leave of them.")


def wants_light(args: argparse.Namespace, profile: Profile, index: SegmentationIndex, split: dict[str, list[str]],
                backbone: str, full_run_dir: Path, config_overrides: dict[str, Any], verbose: bool) -> bool:
    """Whether a budgeted main job without ``--light`` or ``--full-width`` trains the lighter DeepLabV3+: where the
    budget buys fewer than ``model_choice.MIN_FULL_EPOCHS`` epochs of the full-width model on this machine, from
    random weights, on a ResNet. A full-width run already in ``full_run_dir`` (finished or interrupted) keeps its
    model, so a second call reloads or resumes it. ``config_overrides`` are the run's TrainConfig fields (its
    precision). Under torchrun rank 0's timing decides for every process."""
    if (args.full_width or args.epochs is not None or args.architecture != "deeplabv3plus"
            or not profile.recipe.time_budget_s or BACKBONES[backbone].narrow is None or full_run_dir.exists()):
        return False
    plan = full_model_plan(profile, index, split, args.architecture, backbone, config_overrides)
    if verbose:
        print(f"Model: {plan.describe()}.")
    return from_main(plan.light)


def train_main(args: argparse.Namespace) -> None:
    """Train and evaluate one model; print the results table, where the figures went and the score line.

    It trains the course's run of ``args.architecture`` (chapter 05's DeepLabV3+ or chapter 04's baseline,
    ``course/runs.py``), so a finished notebook run is reloaded here and the other way round. Under
    ``torchrun --nproc_per_node=N -m steelnb train`` the N processes share the training
    (``training/distributed.py``); rank 0 prints, writes checkpoints and figures.
    """
    if args.light and args.full_width:
        raise SystemExit("--light and --full-width ask for two different models: give one of them")
    if args.light and args.architecture != "deeplabv3plus":
        raise SystemExit(f"--light narrows DeepLabV3+'s decoder and its ResNet's last stage; {args.architecture} "
                         "has no such decoder (drop --light, or train deeplabv3plus)")
    if args.last_epoch_steps is not None and args.epochs is None:
        raise SystemExit("--last-epoch-steps cuts the last of --epochs N epochs: give --epochs too")
    small_share = None
    if args.small_epochs is not None:
        if args.epochs is None or not args.light:
            raise SystemExit(f"--small-epochs sets how many of --epochs N epochs the lighter model trains on "
                             f"{LIGHT_RECIPE['early_scale']}x-size batches: give --light and --epochs too")
        try:
            small_share = early_share_for(args.small_epochs, args.epochs)
        except ValueError as err:
            raise SystemExit(f"--small-epochs: {err}") from None
    start = time.perf_counter()
    world = init_from_env()
    profile, index, split = course_setup(verbose=world.is_main)
    name = MAIN_RUN[args.architecture]
    backbone = args.backbone or profile.backbone(RUNS[name].paper_backbone)
    run_name = name if args.backbone is None else backbone_run_name(args.architecture, backbone)
    overrides = {}
    if args.epochs is not None:
        variant = "-".join(([f"{args.last_epoch_steps}steps"] if args.last_epoch_steps else [])
                           + ([f"{args.small_epochs}small"] if args.small_epochs is not None else []))
        run_name = fixed_epochs_run_name(run_name, args.epochs, variant)
        overrides = {"epochs": args.epochs, "time_budget_s": None, "last_epoch_steps": args.last_epoch_steps}
    if args.float32:
        run_name = f"{run_name}-float32"
        overrides["amp"] = False
    full_run_dir = profile.runs_dir / index.name / seeded_run_name(run_name, args.seed)
    if args.light or wants_light(args, profile, index, split, backbone, full_run_dir, overrides, world.is_main):
        run_name = f"{run_name}-light"
        overrides.update(LIGHT_RECIPE)
        if small_share is not None:
            overrides["early_share"] = small_share
    run_name = seeded_run_name(run_name, args.seed)
    if args.seed is not None:
        overrides["seed"] = args.seed
    deadline = start + profile.main_job_s if profile.main_job_s and args.epochs is None else None
    if world.is_main:
        length = (f"{args.epochs} epochs" if args.epochs else
                  f"the training that its {profile.main_job_s / 60:.0f}-minute target leaves" if deadline else
                  profile.training_length())
        print(f"Run {run_name!r}: {args.architecture} on {backbone}, {length}"
              + (f", {world.size} processes." if world.size > 1 else "."))
    result = train_run(name, index, split, profile, progress=world.is_main, backbone=backbone, run_name=run_name,
                       tta=profile.main_job_tta, tta_scales=profile.main_job_tta_scales, job_deadline=deadline,
                       **overrides)
    if not world.is_main:
        return
    print(results_table([result]).T.to_string())
    print(training_summary(result.history, light="last_stage_width" in overrides))
    folder = profile.figures_dir  # the demo data's own subfolder, or STEELNB_FIGURES where it is set
    save_figure(curves_figure([result], index, profile, "Learning curves"), "main_learning_curves", folder)
    augmented = result.tta != "none" or result.tta_scales != (1.0,)
    fig = prediction_figure(result, index, split["test"], profile,
                            "Test predictions" + (" with test-time augmentation" if augmented else ""))
    print("Figures written to", save_figure(fig, "main_predictions", folder).parent)
    print(f"wall time {time.perf_counter() - start:.0f} s")
    if index.is_demo:
        print(demo_notice())
    if augmented:
        print(f"Test scores with {tta_description(result.tta, result.tta_scales, result.input_size)}, as chosen on the "
              "validation split:")
    print(result.score_line())


def tta_description(tta: str, scales: tuple[float, ...], input_size: tuple[int, int] | None) -> str:
    """The test-time augmentation of the main job's scores, in words: its flips (a key of ``inference.TTA_FLIPS``)
    and its input scales (factors of ``input_size``, the (height, width) the model was trained at)."""
    words = []
    if tta != "none":
        words.append(f"flip test-time augmentation ({tta!r}: the prediction averaged with that of the flipped image)")
    if scales != (1.0,):
        sizes = (" and ".join(str(round(input_size[0] * scale)) for scale in scales) + " pixels high" if input_size
                 else " and ".join(f"{scale:g}x" for scale in scales) + " its own size")
        words.append(f"multi-scale test-time augmentation (the probabilities of the image fed at {sizes}, averaged)")
    return " and ".join(words)


def download_main(dataset: str, folder: str | None) -> None:
    """Download and check ``dataset`` ("severstal" or "neu-seg") into ``folder`` (default: the course's
    ``data/`` folder), then print the line that makes the course use it; errors end the command with
    their message."""
    from .data.download.kaggle import KaggleSetupError, download_severstal
    from .data.download.neu_seg import ATTRIBUTION, DownloadError, download_neu_seg, download_size_note, read_manifest
    from .data.index import DatasetFormatError
    from .data.locations import kept_severstal_archive, neu_seg_dir, severstal_dir
    if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
        raise SystemExit(f"--to {folder} is a file, not a folder: name a new or empty folder (nothing was downloaded)")
    try:
        if dataset == "neu-seg":
            print(download_size_note())
            print(ATTRIBUTION)
            root = download_neu_seg(folder or neu_seg_dir())
            print(f"NEU-Seg is complete and verified in {root} ({len(read_manifest()):,} files checked against "
                  "their SHA-256).")
        else:
            root = Path(folder or severstal_dir())
            print(download_severstal(root, keep_archive=kept_severstal_archive()).to_string())
    except (KaggleSetupError, DatasetFormatError, DownloadError) as err:
        raise SystemExit(str(err)) from None
    print(f"Use it with:\n  export STEELNB_DATA={Path(root).resolve()}\n  python -m steelnb\n(the course's own "
          "data/severstal and data/neu-seg folders are found without STEELNB_DATA)")


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m steelnb`` and the ``steelnb`` script."""
    parser = argparse.ArgumentParser(prog="steelnb", description=__doc__.split("\n\n")[0])
    paper_backbone = main_run().paper_backbone
    sub = parser.add_subparsers(dest="command")
    train = sub.add_parser("train", help="train and evaluate DeepLabV3+ (default)")
    for p in (parser, train):
        p.add_argument("--architecture", default="deeplabv3plus", choices=list(MAIN_RUN))
        p.add_argument("--backbone", default=None, help=f"default: {paper_backbone}, or {CPU_SIBLING[paper_backbone]} "
                       "without a GPU")
        p.add_argument("--epochs", type=positive_int, default=None,
                       help="train exactly this many epochs instead of the profile's time budget")
        p.add_argument("--last-epoch-steps", type=positive_int, default=None,
                       help="with --epochs: cut the last epoch to this many optimiser steps, as a time budget's last "
                            "epoch was (the run's summary line says how to repeat a budgeted run's length)")
        p.add_argument("--small-epochs", type=int, default=None,
                       help=f"with --light and --epochs: train this many of the first epochs on "
                            f"{LIGHT_RECIPE['early_scale']}x-size batches instead of the recipe's first half, as a "
                            "budgeted run's summary line says to repeat it")
        p.add_argument("--seed", type=int, default=None,
                       help="seed of the weights, the shuffle and the augmentation (default: the recipe's, 0); "
                            "another seed trains a run of its own, to measure the spread between seeds")
        p.add_argument("--float32", action="store_true",
                       help="train in float32 where the CPU would use bfloat16: what a CPU without native bfloat16 "
                            "gets, on this one (a run of its own)")
        p.add_argument("--light", action="store_true",
                       help="a lighter DeepLabV3+ (ResNet's last stage at 256 planes, a 128-channel decoder): half the "
                            "FLOPs, so about 1.5x the epochs in a time budget, and its first half of the epochs on "
                            "0.75x-size batches (progressive resizing; a run of its own)")
        p.add_argument("--full-width", action="store_true",
                       help="keep the full-width DeepLabV3+ even where the time budget buys fewer than "
                            f"{MIN_FULL_EPOCHS} epochs of it (then a budgeted run from random weights trains the "
                            "lighter model, as --light does)")
    report = sub.add_parser("report", help="run the notebooks in order; record each figure's provenance")
    report.add_argument("--from", dest="first", default="00", help="first notebook number (default 00)")
    report.add_argument("--to", dest="last", default="99", help="last notebook number (default: the last)")
    report.add_argument("--html-only", action="store_true",
                        help="only rebuild report.html from the notebooks executed before (nothing runs)")
    report.add_argument("--reference", action="store_true",
                        help="re-make the course's own figures/ and figures/report.html, the reference students "
                             "compare with (default: your figures go to runs/<profile>/figures)")
    sub.add_parser("bench", help="print the speed benchmark (python -m steelnb bench --help)", add_help=False)
    sub.add_parser("gpu-check", help="the paper's path on a GPU in 8 minutes (python -m steelnb gpu-check --help)",
                   add_help=False)
    download = sub.add_parser("download", help="download real steel data (Kaggle Severstal or NEU-Seg) and check it")
    download.add_argument("dataset", nargs="?", default="severstal", choices=["severstal", "neu-seg"],
                          help="severstal (default; needs a Kaggle account) or neu-seg (public, no account)")
    download.add_argument("--to", dest="folder", default=None,
                          help="data folder (default: data/severstal or data/neu-seg in the course; on Colab "
                               "/content/data/severstal for the Kaggle data)")
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in ("bench", "gpu-check"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "report":
        from .commands.report import ReportSetupError, run_report
        try:
            run_report(args.first, args.last, html_only=args.html_only, reference=args.reference)
        except ReportSetupError as err:
            raise SystemExit(str(err)) from None
    elif args.command == "download":
        download_main(args.dataset, args.folder)
    elif args.command == "bench":
        from .commands.bench import main as bench_main
        bench_main(rest)
    elif args.command == "gpu-check":
        from .commands.gpu_check import main as gpu_check_main
        raise SystemExit(gpu_check_main(rest))
    else:
        train_main(args)


if __name__ == "__main__":
    main()
