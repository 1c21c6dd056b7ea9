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


def test_example_images_are_the_best_median_and_worst_with_a_defect():
    from steelnb.course.experiment import examples_by_iou
    ids = ["a", "b", "c", "d", "e"]
    iou = np.array([0.9, 0.2, 0.6, 1.0, 0.4])
    has_defect = np.array([True, True, True, False, True])  # "d" (defect-free, IoU 1) is never picked
    assert examples_by_iou(iou, ids, has_defect) == [("best", "a", 0.9), ("median", "c", 0.6), ("worst", "b", 0.2)]
    # one image with a defect: three different images from all of them instead of the same one three times
    one = np.array([False, True, False, False, False])
    assert [image for _, image, _ in examples_by_iou(iou, ids, one)] == ["d", "c", "b"]


def test_shared_examples_rank_by_the_models_mean_iou():
    from types import SimpleNamespace

    from steelnb.course.figures import shared_examples

    def counts(ious):  # one label per image: 100 pixels predicted, IoU x 100 of them true and right: IoU = ious
        return np.array([[[round(100 * i), 100, round(100 * i)]] for i in ious])

    first = SimpleNamespace(counts_original=counts([0.9, 0.1, 0.5]))
    second = SimpleNamespace(counts_original=counts([0.1, 0.3, 0.5]))
    # mean IoU: x 0.5, y 0.2, z 0.5; sorted (stable) y, x, z: best z, median x, worst y
    picks = shared_examples([first, second], ["x", "y", "z"], np.array([True, True, True]))
    assert [(rule, image) for rule, image, _ in picks] == [("best", "z"), ("median", "x"), ("worst", "y")]


def test_every_model_figure_titles_each_panel_with_its_model_and_its_iou_on_that_image():
    from types import SimpleNamespace

    from steelnb.course.experiment import Caption
    from steelnb.course.figures import model_comparison_figure
    from steelnb.models import build_model

    caption = Caption("toy data", "smoke", "baseline", "resnet18", "random init", 0.5)
    counts = np.array([[[25, 100, 25]], [[75, 100, 75]]])  # one label per image: IoU 0.25 on "a", 0.75 on "b"
    result = SimpleNamespace(name="baseline", model=build_model("baseline", "resnet18", 2, pretrained=False).eval(),
                             input_size=(32, 32), counts_original=counts, caption=lambda index, profile: caption)
    for shape, title in (((64, 64), "baseline\nbaseline resnet18\nrandom init, IoU 0.75"),  # side by side: 3 lines
                         ((32, 256), "baseline, baseline resnet18, random init, IoU 0.75")):  # stacked strips: one
        image, mask = np.full(shape, 128, np.uint8), np.zeros(shape, np.uint8)
        index = SimpleNamespace(image=lambda i, image=image: image, mask=lambda i, mask=mask: mask,
                                class_names=("scratch",), title="toy data")
        fig = model_comparison_figure([result], index, ["a", "b"], "b", SimpleNamespace(name="smoke"), "Figure 5")
        assert [ax.get_title(loc="left") for ax in fig.axes] == ["image", "ground truth", title]
        assert "Figure 5: test image b of toy data, profile smoke" in fig._suptitle.get_text()


def test_learning_curves_of_two_runs_title_each_run_on_its_own_line_above_the_panels():
    from types import SimpleNamespace

    from steelnb.course.experiment import Caption
    from steelnb.course.figures import curves_figure

    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "val_miou": 0.5 + 0.1 * e, "empty_miou": 0.4}
               for e in (1, 2)]
    runs = [SimpleNamespace(name=name, history=history, model=SimpleNamespace(backbone_name="resnet18"),
                            caption=lambda index, profile, miou=miou: Caption("toy data", "smoke", "DeepLabV3+",
                                                                               "resnet18", "random init", miou))
            for name, miou in (("resnet101", 0.888), ("resnet101-native", 0.906))]
    fig = curves_figure(runs, SimpleNamespace(title="toy data"), SimpleNamespace(name="smoke"), "Squash vs native")
    assert fig._suptitle.get_text().split("\n") == [
        "Squash vs native: toy data, profile smoke",
        "resnet18 (stand-in for resnet101): DeepLabV3+ resnet18 (random init), test mIoU 0.888",
        "resnet101-native (resnet18): DeepLabV3+ resnet18 (random init), test mIoU 0.906"]
    renderer = fig.canvas.get_renderer()
    title_bottom = fig._suptitle.get_window_extent(renderer).y0
    assert all(ax.title.get_window_extent(renderer).y1 <= title_bottom for ax in fig.axes)



def test_a_progressive_run_s_curves_say_which_epochs_trained_smaller():
    from steelnb.course.figures import progressive_words
    history = [{"train_scale": 0.75}] * 3 + [{"train_scale": 1.0}] * 2
    assert progressive_words(history) == ", epochs 1-3 on 0.75x batches"
    assert progressive_words([{"train_scale": 1.0}, {}]) == ""

def test_one_square_example_with_many_panels_wraps_into_lines_of_columns():
    import numpy as np

    from steelnb.course.plots import plot_examples
    image, mask = np.zeros((200, 200), np.uint8), np.zeros((200, 200), np.uint8)
    row = {"image": image, "ground truth": mask, **{f"model {k}": mask for k in range(4)}}
    fig = plot_examples([row], ["a", "b", "c"], columns=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6
    assert len({round(ax.get_position().y0, 3) for ax in shown}) == 2  # two lines
    assert len({round(ax.get_position().x0, 3) for ax in shown}) == 3  # of three panels each
    wide = plot_examples([row], ["a", "b", "c"])  # without columns: one line of six
    assert len({round(ax.get_position().y0, 3) for ax in wide.axes if ax.images}) == 1


def test_three_line_panel_titles_of_a_wrapped_figure_stay_below_the_line_above():
    # Figures 5-7 title each model's panel with three lines; the second line's titles once covered the first
    # line's images
    import matplotlib.text
    import numpy as np

    from steelnb.course.plots import plot_examples
    image, mask = np.zeros((200, 200), np.uint8), np.zeros((200, 200), np.uint8)
    row = {"image": image, "ground truth": mask,
           **{f"model {k}\nDeepLabV3+ resnet18\nrandom init, IoU 0.97": mask for k in range(4)}}
    fig = plot_examples([row], ["a", "b", "c"], columns=3)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    shown = sorted((ax for ax in fig.axes if ax.images), key=lambda ax: -ax.get_position().y0)
    first_line_bottom = min(ax.get_window_extent(renderer).y0 for ax in shown[:3])
    second_line_titles = [ax.get_title(loc="left") for ax in shown[3:]]
    boxes = [text.get_window_extent(renderer) for text in fig.findobj(matplotlib.text.Text)
             if text.get_text() in second_line_titles]
    assert len(boxes) == 3 and all(box.y1 < first_line_bottom for box in boxes)


def test_the_forest_plot_fills_only_the_intervals_that_leave_out_zero():
    from steelnb.course.plots import plot_differences
    from steelnb.evaluation.intervals import Difference
    detected, noise = Difference("miou", 0.8, 0.7, 0.05, 0.15), Difference("miou", 0.7, 0.7, -0.01, 0.02)
    fig = plot_differences({"a": [detected], "b": [noise]}, "title")
    ax = fig.axes[0]
    assert ax.get_title() == "per-image mIoU" and [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    faces = [line.get_markerfacecolor() for line in ax.lines if line.get_marker() == "o"]
    assert faces[0] != "white" and faces[1] == "white"


def test_a_comparison_title_gives_the_range_of_epochs_and_minutes():
    # runs under one time budget can differ by an epoch: "1-2 epochs", not "1/2 epoch(s)"; one value once
    from steelnb.course.figures import span
    assert span([1, 2, 2], "d") == "1-2" and span([2, 2], "d") == "2"
    assert span([2.61, 2.64], ".1f") == "2.6" and span([2.34, 2.64], ".1f") == "2.3-2.6"
