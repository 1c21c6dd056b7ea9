"""Figures: mask overlays with a fixed class palette, IoU histograms, learning curves, class balance.

Every function returns the matplotlib Figure; :func:`save_figure` writes it as PNG into the
profile's figure folder (``figures/`` by default, a scratch folder in smoke runs).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..data.index import is_strip
from ..data.staging import written_atomically
from ..evaluation.metrics import METRIC_NAMES

#: RGB colour of labels 0..4 (background unused); the same in every figure of the course.
PALETTE = np.array([[0, 0, 0], [230, 57, 70], [42, 157, 143], [69, 123, 224], [244, 196, 48]], dtype=np.uint8)


def label_colors(num_labels: int) -> np.ndarray:
    """RGB uint8 (num_labels, 3): PALETTE for labels 0..4, then matplotlib's tab20 colours for datasets
    with more defect classes."""
    extra = max(0, num_labels - len(PALETTE))
    tab20 = (np.array(matplotlib.colormaps["tab20"].colors) * 255).astype(np.uint8)
    return np.concatenate([PALETTE, tab20[np.arange(extra) % len(tab20)]])[:max(num_labels, 1)]


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.5, outline: bool = False) -> np.ndarray:
    """RGB uint8 (H, W, 3): a grayscale image (H, W) with each defect label tinted by :func:`label_colors`."""
    rgb = np.repeat(image[..., None], 3, axis=2).astype(np.float32)
    colors = label_colors(int(mask.max(initial=0)) + 1)[mask].astype(np.float32)
    defect = mask > 0
    if outline:
        defect = defect & ~cv2.erode(defect.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        alpha = 1.0
    rgb[defect] = (1 - alpha) * rgb[defect] + alpha * colors[defect]
    return rgb.astype(np.uint8)


def class_legend(fig: plt.Figure, class_names: Sequence[str]) -> None:
    """Add the palette legend for ``class_names`` (labels 1..C) below the figure's panels."""
    colors = label_colors(len(class_names) + 1)
    handles = [matplotlib.patches.Patch(color=colors[c] / 255, label=f"{c}: {name}")
               for c, name in enumerate(class_names, start=1)]
    fig.legend(handles=handles, loc="lower center", fontsize=8, ncol=min(len(handles), 6), frameon=False)


def plot_examples(rows: Sequence[Mapping[str, np.ndarray]], class_names: Sequence[str],
                  titles: Sequence[str] | None = None, width: float = 12.0, columns: int | None = None) -> plt.Figure:
    """Examples with their masks: each row dict is {"image": gray, "ground truth": mask, "prediction": mask, ...}.

    Entries named "image" are drawn in gray, the others as overlays on the image. Wide strips
    (256x1600) are stacked one panel per line; other images are laid out one example per row, or, for one
    example with ``columns``, wrapped into lines of that many panels (so that many panels of a square image
    stay large enough to judge a boundary). Each row's height follows its own image's aspect ratio, so
    images of different sizes mix without gaps.
    """
    keys = list(rows[0])
    stacked = all(is_strip(row["image"].shape) for row in rows)
    wrapped = not stacked and columns is not None and len(rows) == 1
    aspects = [row["image"].shape[0] / row["image"].shape[1] for row in rows]
    if stacked:
        ratios = [aspect for aspect in aspects for _ in keys]
        grid, panel_width = (len(ratios), 1), width
    elif wrapped:
        lines = math.ceil(len(keys) / columns)
        ratios, grid, panel_width = [aspects[0]] * lines, (lines, columns), width / columns
    else:
        ratios, grid, panel_width = aspects, (len(rows), len(keys)), width / len(keys)
    # each line of panels gets its images' height plus room for its titles' lines (about 0.15 in each at 8 pt)
    title_lines = 1 + max(key.count("\n") + (0 if titles is None else titles[r].count("\n"))
                          for r in range(len(rows)) for key in keys)
    heights = [panel_width * ratio + 0.15 * title_lines + 0.15 for ratio in ratios]
    fig, axes = plt.subplots(*grid, squeeze=False, figsize=(width, sum(heights) + 0.4 + 0.2 * len(class_names) / 6),
                             gridspec_kw={"height_ratios": heights})
    for ax in axes.flat:
        ax.axis("off")
    for r, row in enumerate(rows):
        for k, key in enumerate(keys):
            if stacked:
                ax = axes[r * len(keys) + k, 0]
            else:
                ax = axes[k // columns, k % columns] if wrapped else axes[r, k]
            ax.axis("on")
            shown = row["image"] if key == "image" else overlay(row["image"], row[key])
            ax.imshow(shown, cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([]), ax.set_yticks([])
            name = f"{titles[r]}: {key}" if titles is not None else key
            ax.set_title(name, fontsize=8, loc="left")
    fig.tight_layout(rect=(0, 0.04 + 0.02 * (len(class_names) // 7), 1, 1))
    class_legend(fig, class_names)
    return fig


def plot_iou_histograms(ious: Mapping[str, np.ndarray], bins: int = 20) -> plt.Figure:
    """Histogram of per-image IoU per model (the paper's Figure 4), one panel each, mean marked."""
    fig, axes = plt.subplots(1, len(ious), figsize=(3.2 * len(ious), 2.8), sharey=True, squeeze=False)
    for ax, (name, values) in zip(axes[0], ious.items(), strict=True):
        ax.hist(values, bins=bins, range=(0, 1), color="#457be0")
        ax.axvline(np.mean(values), color="k", ls="--", lw=1)
        ax.set_title(f"{name}\nmean {np.mean(values):.3f}", fontsize=9)
        ax.set_xlabel("per-image IoU")
    axes[0, 0].set_ylabel("images")
    fig.tight_layout()
    return fig


def plot_learning_curves(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> plt.Figure:
    """Training/validation loss and validation mIoU per epoch for each run (the paper's Figure 3)."""
    fig, (ax_loss, ax_iou) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, history in histories.items():
        epochs = [h["epoch"] for h in history]
        line, = ax_loss.plot(epochs, [h["train_loss"] for h in history], marker="o", ms=3, label=f"{name} train")
        ax_loss.plot(epochs, [h["val_loss"] for h in history], ls="--", marker="o", ms=3, color=line.get_color(),
                     label=f"{name} val")
        ax_iou.plot(epochs, [h["val_miou"] for h in history], color=line.get_color(), marker="o", ms=3, label=name)
    if histories:
        first = next(iter(histories.values()))
        ax_iou.axhline(first[-1]["empty_miou"], color="gray", ls=":", label="all-empty prediction")
    for ax in (ax_loss, ax_iou):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        low, high = ax.get_xlim()
        if high - low < 2:  # one epoch: widen the axis so that the integer ticks have room
            ax.set_xlim((low + high) / 2 - 1, (low + high) / 2 + 1)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_iou.set(xlabel="epoch", ylabel="mIoU", title="validation per-image mIoU")
    ax_loss.legend(fontsize=7), ax_iou.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_score_bars(scores: Mapping[str, Mapping[str, float]], empty: Mapping[str, float]) -> plt.Figure:
    """Grouped bars of test scores per run (one group per score name, one bar per run), with the
    all-empty prediction's score of each group as a dotted line: comparisons too short for learning
    curves, such as one-epoch variants. Scores are fractions in [0, 1]."""
    names = list(next(iter(scores.values())))
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(names) * max(len(scores), 2) / 3, 3.4))
    width = 0.8 / len(scores)
    for i, (run, values) in enumerate(scores.items()):
        positions = np.arange(len(names)) + (i - (len(scores) - 1) / 2) * width
        bars = ax.bar(positions, [values[n] for n in names], width, label=run)
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=1, rotation=90)  # upright labels: narrow bars
    for j, name in enumerate(names):
        ax.hlines(empty[name], j - 0.45, j + 0.45, colors="gray", linestyles=":",
                  label="all-empty prediction" if j == 0 else None)
    ax.set_xticks(np.arange(len(names)), names)
    ax.set(ylim=(0, 1.25), ylabel="test score")  # room above a bar of 1.0 for its label
    ax.legend(fontsize=7, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    return fig


def plot_differences(differences: Mapping[str, Sequence], title: str) -> plt.Figure:
    """A forest plot: for each name, one ``Difference`` per metric (``evaluation.intervals``) drawn as its point
    estimate with its interval, beside a line at 0. An interval that crosses the line is no difference the test
    images can detect; its marker is hollow."""
    names = list(differences)
    metrics = [d.metric for d in next(iter(differences.values()))]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 0.6 * len(names) + 1.4), squeeze=False,
                             sharey=True)
    for ax, k in zip(axes[0], range(len(metrics)), strict=True):
        for row, name in enumerate(names):
            d = differences[name][k]
            ax.errorbar(d.difference, row, xerr=[[d.difference - d.low], [d.high - d.difference]], fmt="o",
                        color="#457be0", mfc="#457be0" if d.detected else "white", capsize=3)
        ax.axvline(0, color="0.4", lw=1, ls="--")
        ax.set(title=METRIC_NAMES.get(metrics[k], metrics[k]), xlabel="difference, 95% interval")
    axes[0][0].set_yticks(range(len(names)), names)
    axes[0][0].invert_yaxis()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_label_balance(shares: Mapping[str, np.ndarray], labels: Sequence[str]) -> plt.Figure:
    """Grouped bars of label shares (e.g. before and after random weighted augmentation)."""
    fig, ax = plt.subplots(figsize=(7, 3))
    width = 0.8 / len(shares)
    x = np.arange(len(labels))
    for i, (name, values) in enumerate(shares.items()):
        bars = ax.bar(x + i * width, values, width, label=name)
        ax.bar_label(bars, labels=[f"{v:.1%}" for v in values], fontsize=7)
    ax.set_xticks(x + width * (len(shares) - 1) / 2, labels)
    ax.set_ylabel("share of labels")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)  # beside the bars, never over them
    fig.tight_layout()
    return fig


def save_figure(fig: plt.Figure, name: str, folder: str | Path) -> Path:
    """Save ``fig`` as ``folder/name.png`` (100 dpi) and return the path. The file is replaced whole or not at
    all (``data.staging.written_atomically``): a full disk leaves the previous figure as it was."""
    path = Path(folder) / f"{name}.png"
    with written_atomically(path) as temporary:
        fig.savefig(temporary, dpi=100, bbox_inches="tight")
    return path


def save_table(table: pd.DataFrame, name: str, folder: str | Path) -> Path:
    """Save ``table`` as ``folder/name.csv`` with its index, replaced whole or not at all; returns the path."""
    path = Path(folder) / f"{name}.csv"
    with written_atomically(path) as temporary:
        table.to_csv(temporary)
    return path


def plot_iou_vs_size(table: pd.DataFrame, class_names: tuple[str, ...]) -> plt.Figure:
    """Scatter of each true defect's IoU against its area (log scale), coloured by class."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    truth = table[table.true_px > 0]
    colors = label_colors(len(class_names) + 1) / 255
    for c, name in enumerate(class_names, start=1):
        part = truth[truth["class"] == c]
        ax.scatter(part.true_px, part.iou, s=14, alpha=0.7, color=colors[c], label=f"{c}: {name}")
    ax.set_xscale("log")
    ax.set(xlabel="true defect area (pixels, original image)", ylabel="IoU", title="IoU against defect size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
