"""The course's result figures, each titled with what it shows: data, profile, model, weights, mIoU."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..data.index import SegmentationIndex, is_strip
from ..evaluation.inference import predict_mask
from ..evaluation.metrics import all_empty_scores, image_miou, summarize
from ..training.loop import small_epochs, trained_scale
from .experiment import ExperimentResult, examples_by_iou
from .plots import plot_examples, plot_learning_curves, plot_score_bars
from .profile import CPU_SIBLING, Profile
from .runs import training_minutes

#: The rule that picks the example images of every prediction figure.
EXAMPLE_RULE = "best, median and worst test image by per-image IoU, among those with a defect (if 3 or more have one)"


def prediction_figure(result: ExperimentResult, index: SegmentationIndex, test_ids: Sequence[str], profile: Profile,
                      label: str) -> plt.Figure:
    """Image, ground truth and prediction of the best, median and worst test images (rule: EXAMPLE_RULE),
    each titled with its per-image IoU; ``label`` names the figure (e.g. "Figure 5")."""
    picks = examples_by_iou(result.per_image_iou, list(test_ids), index.presence(test_ids).any(axis=1))
    fig = plot_examples(result.prediction_rows(index, [image_id for _, image_id, _ in picks]), index.class_names,
                        titles=[f"{rule}: {image_id}, IoU {iou:.2f}" for rule, image_id, iou in picks])
    fig.suptitle(f"{label}: {result.caption(index, profile)}\n{EXAMPLE_RULE}", y=1.04, fontsize=9)
    return fig


#: The rule that picks the images of the paper-style Figures 5-7, which show one image across every model.
SHARED_EXAMPLE_RULE = ("test images with a defect (all, if fewer than 3 have one) ranked by the models' mean per-image "
                       "IoU at the original resolution: Figure 5 the best, 6 the median, 7 the worst")


def shared_examples(results: Sequence[ExperimentResult], test_ids: Sequence[str],
                    has_defect: np.ndarray) -> list[tuple[str, str, float]]:
    """The best, median and worst test images by the mean over ``results`` of their per-image IoU at the
    original resolution, among the images with a defect (``has_defect``, bool (N,)): (rule, image_id, mean IoU)."""
    mean_iou = np.mean([image_miou(result.counts_original) for result in results], axis=0)
    return examples_by_iou(mean_iou, list(test_ids), has_defect)


def model_comparison_figure(results: Sequence[ExperimentResult], index: SegmentationIndex, test_ids: Sequence[str],
                            image_id: str, profile: Profile, label: str) -> plt.Figure:
    """One test image, its ground truth and every model's prediction at the original resolution, each panel
    titled with the model and its per-image IoU on that image, as in the paper's Figures 5-7."""
    position = list(test_ids).index(image_id)
    image = index.image(image_id)
    row = {"image": image, "ground truth": index.mask(image_id)}
    # a wide strip's panels are stacked, each with the width for a one-line title; side by side, three short lines
    separator = ", " if is_strip(image.shape) else "\n"
    for result in results:
        iou = image_miou(result.counts_original)[position]
        caption = result.caption(index, profile)
        title = separator.join((result.name, f"{caption.architecture} {caption.backbone}",
                                f"{caption.weights}, IoU {iou:.2f}"))
        row[title] = predict_mask(result.model, image, result.input_size)
    # a square image's six panels side by side would each be a sixth of the page: two lines of three instead
    fig = plot_examples([row], index.class_names, columns=None if is_strip(image.shape) else 3)
    fig.suptitle(f"{label}: test image {image_id} of {index.title}, profile {profile.name}, every model\n"
                 f"{SHARED_EXAMPLE_RULE}", y=1.0, va="bottom", fontsize=9)  # above the panels' titles
    return fig


def run_label(result: ExperimentResult) -> str:
    """A legend label: "resnet18 (stand-in for resnet101)" for a CPU sibling of a paper backbone, else
    "name (backbone)"."""
    backbone = result.model.backbone_name
    if result.name in CPU_SIBLING and backbone != result.name:
        return f"{backbone} (stand-in for {result.name})"
    return result.name if result.name == backbone else f"{result.name} ({backbone})"


def progressive_words(history: list[dict]) -> str:
    """", epochs 1-8 on 0.75x batches" for a run whose first epochs trained on batches resized by a factor below 1
    (progressive resizing, their ``train_scale`` in ``history``), or "" for a run at the input size throughout."""
    small = small_epochs(history)
    if not small:
        return ""
    return f", epochs 1-{len(small)} on {trained_scale(small[0]):g}x batches"


def curves_figure(results: Sequence[ExperimentResult], index: SegmentationIndex, profile: Profile,
                  label: str) -> plt.Figure:
    """Learning curves of ``results``, titled with the data and profile on one line, then one line per run
    with its legend label, model, weights and test mIoU (lines, not wrapping, so that the title of several
    runs stays above the panels' titles). A run whose first epochs trained on smaller batches says so
    (:func:`progressive_words`): its validation curve is at the input size throughout."""
    fig = plot_learning_curves({run_label(r): r.history for r in results})
    lines = [f"{label}: {index.title}, profile {profile.name}"]
    for result in results:
        caption = result.caption(index, profile)
        lines.append(f"{run_label(result)}: {caption.model}{progressive_words(result.history)}, "
                     f"test mIoU {caption.test_miou:.3f}")
    fig.suptitle("\n".join(lines), y=1.0, va="bottom", fontsize=9)
    return fig


def comparison_figure(results: Sequence[ExperimentResult], index: SegmentationIndex, profile: Profile,
                      label: str) -> plt.Figure:
    """Test scores at the original resolution of runs that differ in one setting (bars; dotted: the
    all-empty prediction), titled with the data, profile and model they share and the range of their epochs and
    minutes (runs under one time budget can differ by an epoch)."""
    def scores(summary: dict[str, float]) -> dict[str, float]:
        per_class = {f"IoU {c}: {name}": summary[f"iou_{c}"] for c, name in enumerate(index.class_names, start=1)}
        return {"per-image mIoU": summary["miou"], "defect mIoU": summary["miou_defects"],
                "Kaggle Dice": summary["dice"], **per_class}

    fig = plot_score_bars({r.name: scores(summarize(r.counts_original)) for r in results},
                          scores(all_empty_scores(results[0].counts_original)))
    shared = results[0].caption(index, profile).setting
    epochs = span([len(r.history) for r in results], "d")
    minutes = span([training_minutes(r.history) for r in results], ".1f")
    fig.suptitle(f"{label}: {shared}, {epochs} epoch{'' if epochs == '1' else 's'} in {minutes} min of training and "
                 "validation each, test split", y=1.02, fontsize=9)
    return fig


def span(values: Sequence[float], fmt: str) -> str:
    """"2" or "1-2": the lowest and highest of ``values`` in the format ``fmt``, once when they read the same."""
    low, high = format(min(values), fmt), format(max(values), fmt)
    return low if low == high else f"{low}-{high}"
