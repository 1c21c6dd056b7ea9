"""Figures draw the numbers they are given."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from steelnb.course.plots import plot_learning_curves, plot_score_bars  # noqa: E402


def test_score_bars_draw_each_runs_scores_and_the_all_empty_line():
    scores = {"CE": {"mIoU": 0.75, "Dice": 0.5}, "focal": {"mIoU": 0.25, "Dice": 0.875}}
    fig = plot_score_bars(scores, {"mIoU": 0.4, "Dice": 0.6})
    ax = fig.axes[0]
    heights = [patch.get_height() for container in ax.containers for patch in container]
    assert heights == [0.75, 0.5, 0.25, 0.875]  # run by run, score by score
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert [float(c.get_segments()[0][0, 1]) for c in lines] == [0.4, 0.6]


def test_learning_curves_of_a_one_epoch_run_show_a_point_and_integer_epochs():
    history = [{"epoch": 1, "train_loss": 0.8, "val_loss": 0.7, "val_miou": 0.6, "empty_miou": 0.4}]
    fig = plot_learning_curves({"run": history})
    ax_loss, ax_iou = fig.axes
    assert all(line.get_marker() == "o" for line in ax_loss.lines)
    fig.canvas.draw()
    ticks = ax_iou.get_xticks()
    assert np.allclose(ticks, np.round(ticks))
