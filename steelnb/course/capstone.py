"""The capstone's model answer (``teachers/capstone.md``): the course applied end to end, written up as one page.

    python -m steelnb.course.capstone OUT_FOLDER

On whatever data the course finds (your own folder in ``STEELNB_DATA``, NEU-Seg, or the synthetic demo), it
trains the paper's baseline and DeepLabV3+ (or reloads them), scores both on the test split beside the
all-empty prediction, gives three metrics with paired-bootstrap intervals, draws one Figures 5-7-style
comparison, and measures one lever (training without the random flips) over three seeds on the validation
split. It writes ``OUT_FOLDER/capstone_note.md``, the one-page "paper vs ours" note the brief asks for, and
its figure. Every sentence of the note that states a result is computed from the runs it names.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..evaluation.intervals import mean_sd, paired_bootstrap, seed_gain, seed_gain_interval
from ..evaluation.metrics import METRIC_NAMES, summarize
from .experiment import ExperimentResult, results_table
from .figures import model_comparison_figure, shared_examples
from .paper import PAPER_MIOU
from .plots import save_figure
from .runs import main_run, seeded_run_name, train_run
from .setup import course_setup

#: The lever the model answer measures: a TrainConfig field and the value that changes it, in words.
LEVER = ("flip_augment", False, "without the random training flips")
#: The metrics the note gives intervals for: (summarize key, name).
METRICS = [(key, METRIC_NAMES[key]) for key in ("miou", "dice", "class_iou_defects")]
SEEDS = 3


def lever_scores(seed_runs: list[ExperimentResult]) -> list[float]:
    """Class-mean defect IoU on the validation split at the original size, one per seed's run."""
    return [summarize(result.counts_original)["class_iou_defects"] for result in seed_runs]


def write_model_answer(out: Path, seeds: int = SEEDS) -> Path:
    """Train (or reload) what the note needs on the course's data and write ``out/capstone_note.md``."""
    out.mkdir(parents=True, exist_ok=True)
    profile, index, split = course_setup(verbose=False)
    main_name = main_run().name
    baseline = train_run("baseline", index, split, profile, progress=False)
    model = train_run(main_name, index, split, profile, progress=False)
    table = results_table([baseline, model], PAPER_MIOU)
    caption = model.caption(index, profile)

    picks = shared_examples([baseline, model], split["test"], index.presence(split["test"]).any(axis=1))
    rule, image_id, _ = picks[1]  # the median image: neither the showcase nor the failure
    figure = save_figure(model_comparison_figure([baseline, model], index, split["test"], image_id, profile,
                                                 f"Capstone figure ({rule})"), "capstone_figure", out)

    field, value, change = LEVER
    reference, lever = [], []
    for seed in range(seeds):
        reference.append(train_run(main_name, index, split, profile, progress=False, score_on="val", seed=seed,
                                   run_name=seeded_run_name(main_name, seed)))  # seed 0: the main run itself
        lever.append(train_run(main_name, index, split, profile, progress=False, score_on="val", seed=seed,
                               run_name=seeded_run_name(f"{main_name}-{field}-{value}", seed), **{field: value}))
    reference_scores, lever_values = lever_scores(reference), lever_scores(lever)

    empty = table.loc["all-empty prediction"]
    lines = [f"# Capstone note: the paper vs ours on {index.title}", "",
             f"**Setting.** Profile `{profile.name}`; {caption.model}; {len(split['train'])} training, "
             f"{len(split['val'])} validation and {len(split['test'])} test images; scores on the test split at "
             "the images' original size.", "",
             "**The paper vs ours.** The paper reports a per-image mIoU of "
             f"{PAPER_MIOU[main_name]} for DeepLabV3+ and {PAPER_MIOU['baseline']} for the baseline on Severstal, "
             f"from ImageNet weights on a GPU. Here: {model.row()['mIoU @orig']:.3f} and "
             f"{baseline.row()['mIoU @orig']:.3f}, against {empty['mIoU @orig']:.3f} for predicting no defect at "
             "all (the all-empty line).", "",
             "| model | per-image mIoU | Dice | class-mean defect IoU | epochs |", "|---|---|---|---|---|"]
    for name in ("baseline", main_name, "all-empty prediction"):
        row = table.loc[name]
        epochs = "" if name == "all-empty prediction" else f"{row['epochs']:.0f}"
        lines.append(f"| {name} | {row['mIoU @orig']:.3f} | {row['Dice @orig']:.3f} | "
                     f"{row['class-mean defect IoU @orig']:.3f} | {epochs} |")
    lines += ["", "**DeepLabV3+ minus the baseline**, 95% paired-bootstrap intervals over the test images:", ""]
    for key, label in METRICS:
        d = paired_bootstrap(model.counts_original, baseline.counts_original, key)
        lines.append(f"* {label}: {d.a:.3f} vs {d.b:.3f}, difference {d.difference:+.3f}, interval {d.low:+.3f} to "
                     f"{d.high:+.3f}" + ("" if d.detected else ": no difference we can detect"))
    lines += ["", f"**One image, both models** (the {rule} test image by their mean IoU): "
                  f"![capstone figure]({figure.name})", "",
              f"**One lever, three seeds.** Training {change}, against the recipe, each over seeds 0-{seeds - 1}, "
              "scored on the validation split (class-mean defect IoU at the original size):", "",
              "| recipe | mean ± sd over seeds | per seed |", "|---|---|---|",
              f"| the recipe | {mean_sd(reference_scores)} | {', '.join(f'{v:.3f}' for v in reference_scores)} |",
              f"| {change} | {mean_sd(lever_values)} | {', '.join(f'{v:.3f}' for v in lever_values)} |", "",
              f"Gain of the lever: {seed_gain(lever_values, reference_scores)} (95% interval from the seeds)."]
    lines += ["", "**What this shows.** " + conclusion(model, baseline, lever_values, reference_scores)]
    note = out / "capstone_note.md"
    note.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return note


def conclusion(model: ExperimentResult, baseline: ExperimentResult, lever: list[float], reference: list[float]) -> str:
    """The note's last paragraph, from the numbers: whether DeepLabV3+'s lead over the baseline and the lever's
    gain are differences their intervals can detect."""
    lead = paired_bootstrap(model.counts_original, baseline.counts_original, "miou")
    first = ("DeepLabV3+ leads the baseline by more than the test images' noise"
             if lead.detected and lead.difference > 0 else
             "DeepLabV3+ and the baseline differ by no more than the test images' noise")
    gain, half_width = seed_gain_interval(lever, reference)
    second = ("the lever's effect is no difference the seeds can detect" if abs(gain) <= half_width else
              f"the lever {'raises' if gain > 0 else 'lowers'} the score by more than the seeds' noise")
    return f"{first}, and {second}. One dataset, one profile: a finding here is a question for the next dataset."


def main(argv: list[str] | None = None) -> int:
    """``python -m steelnb.course.capstone OUT``: write the model answer into the folder OUT."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for capstone_note.md and its figure")
    parser.add_argument("--seeds", type=int, default=SEEDS)
    args = parser.parse_args(argv)
    print("Model answer:", write_model_answer(args.out, args.seeds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
