"""An ipywidgets browser: image, ground truth and prediction overlays, by class and threshold."""
from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from ..data.index import SegmentationIndex
from ..evaluation.inference import predict_image_probs
from .plots import class_legend, overlay


def threshold_mask(probs: np.ndarray, threshold: float, only_class: int = 0) -> np.ndarray:
    """Label mask (H, W) from probabilities (C+1, H, W): the most likely defect class where its
    probability exceeds ``threshold``, else background; ``only_class`` > 0 keeps just that class."""
    defect = probs[1:].argmax(0) + 1
    keep = probs[1:].max(0) > threshold
    if only_class:
        keep &= defect == only_class
    return np.where(keep, defect, 0).astype(np.uint8)


def browse(index: SegmentationIndex, image_ids: list[str], model: torch.nn.Module,
           input_size: tuple[int, int] | None) -> widgets.Widget:
    """Interactive viewer: pick an image, a class (0 = all) and a probability threshold. ``model`` sees each
    image resized to ``input_size`` (its training input, e.g. ``ExperimentResult.input_size``; None: as is)."""
    def show(position: int, only_class: int, threshold: float) -> None:
        image_id = image_ids[position]
        image, truth = index.image(image_id), index.mask(image_id)
        probs = predict_image_probs(model, image, input_size).cpu().numpy()
        if only_class:
            truth = np.where(truth == only_class, truth, 0)
        fig, axes = plt.subplots(2, 1, figsize=(12, 3.6))
        for ax, mask, title in zip(axes, (truth, threshold_mask(probs, threshold, only_class)),
                                   ("ground truth", f"prediction (p > {threshold:.2f})"), strict=True):
            ax.imshow(overlay(image, mask)), ax.set_axis_off(), ax.set_title(f"{image_id}: {title}", fontsize=9)
        class_legend(fig, index.class_names)
        plt.show()

    return widgets.interactive(
        show,
        position=widgets.IntSlider(0, 0, len(image_ids) - 1, description="image"),
        only_class=widgets.Dropdown(options=[("all", 0)] + [(n, c) for c, n in enumerate(index.class_names, 1)],
                                    description="class"),
        threshold=widgets.FloatSlider(0.5, min=0.05, max=0.95, step=0.05, description="threshold"))
