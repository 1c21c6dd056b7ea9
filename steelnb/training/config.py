"""One training run's hyper-parameters. The field defaults are the paper's recipe, written once here."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    """Hyper-parameters of one run (saved in every checkpoint).

    ``time_budget_s`` (seconds, optional) turns ``epochs`` into a maximum: the run trains as many
    epochs as fit the budget on this machine (see ``training/budget.py``); the count is fixed at the start.
    ``optimizer`` is "sgd" (the paper's, with ``momentum``) or "adamw". ``warmup_iters`` ramps the
    learning rate linearly from 0 before the polynomial decay. ``select_on`` is the validation score
    (a key of ``metrics.summarize``) that picks ``best.pt``. ``ema_decay`` > 0 keeps an exponential moving
    average of the weights and batch-norm statistics (updated after every step with this decay); it is
    what is validated and saved as ``best.pt``, a smoother model than the last step's (0 = off).
    ``flip_augment`` flips every training item (original or augmented copy) left-right and up-down, each with
    probability 1/2, on top of the paper's weighted augmentation (off in the paper's recipe); with ``cycled_flips``
    each item goes through its four orientations in turn instead, one an epoch (``SteelDataset``'s "cycled").
    ``aspp_rates`` replaces DeepLabV3+'s ASPP dilations (None: DeepLabv3's 6/12/18; ``deeplab.aspp_rates_for``
    derives them from the input size). ``train_crop`` = (height, width) trains on random crops of that size
    of the images at the input size, while validation and scoring see whole images (None: whole images).
    ``train_zoom`` = (lowest, highest) zooms every training item in by a random factor from that range (1 = the
    input size) and crops it back to the input size (``SteelDataset``'s ``zoom``; None: no zoom).
    ``early_scale`` < 1 with ``early_share`` > 0 resizes the training batches of the first ``early_share`` of the
    epochs (rounded; of the plan at the time, under a time budget) by that factor (images area-averaged, masks nearest),
    so those epochs cost about ``early_scale``² as much (progressive resizing: e.g. 96x96 before 128x128); validation
    and the later epochs see the input size.
    ``zero_init_residual`` starts every ResNet block as the identity (``backbones.zero_init_residual_blocks``);
    it applies to random initial weights only, and a run that loads ImageNet weights refuses it. ``pca_stem`` sets
    the first convolution to the whitened principal components of the training images' patches
    (``backbones.pca_whitened_stem``); random initial weights only, likewise.
    ``last_stage_width`` rebuilds a ResNet's last stage with that many planes (``backbones.narrow_resnet_last_stage``)
    and ``decoder_width`` sets DeepLabV3+'s decoder channels (None: torchvision's stage and the decoder's 256):
    fewer FLOPs per step, so more epochs in a time budget. ``aux_weight`` > 0 adds an auxiliary head on a ResNet's
    layer3 for training (``SegmentationModel``) and that weight times its loss to the main loss (0 = off).
    These model options are kept here, with the recipe, because a checkpoint must say which model and data it was trained on.
    """

    epochs: int = 30
    batch_size: int = 16
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    poly_power: float = 0.9
    optimizer: str = "sgd"
    warmup_iters: int = 0
    loss: str = "ce"
    class_weights: tuple[float, ...] | None = None
    focal_gamma: float = 2.0  # the focal loss's exponent (loss="focal"); 0 is plain cross-entropy
    mixup_alpha: float = 0.0
    ema_decay: float = 0.0
    flip_augment: bool = False
    cycled_flips: bool = False
    num_workers: int = 0
    seed: int = 0
    amp: bool = True
    time_budget_s: float | None = None
    last_epoch_steps: int | None = None  # optimiser steps of a final, partial epoch (a time budget's); None: whole
    select_on: str = "class_iou_defects"
    aspp_rates: tuple[int, ...] | None = None
    train_crop: tuple[int, int] | None = None
    train_zoom: tuple[float, float] | None = None
    early_scale: float = 1.0
    early_share: float = 0.0
    zero_init_residual: bool = False
    pca_stem: bool = False
    last_stage_width: int | None = None
    decoder_width: int | None = None
    aux_weight: float = 0.0

    def batch_scale(self, epoch: int, epochs: int | None = None) -> float:
        """The factor by which epoch ``epoch`` (from 1) of a run of ``epochs`` (None: ``self.epochs``, the plan)
        resizes its training batches: ``early_scale`` in the first ``early_share`` of the epochs (rounded), 1 after
        them."""
        return self.early_scale if epoch <= round(self.early_share * (self.epochs if epochs is None else epochs)) else 1.0

    def flip_order(self) -> str:
        """How the training set flips its items (``torch_dataset.FLIP_ORDERS``): "none", "random" or "cycled".

        Raises:
            ValueError: ``cycled_flips`` without ``flip_augment``, which would cycle flips that are off.
        """
        if self.cycled_flips and not self.flip_augment:
            raise ValueError("cycled_flips orders the training flips, so it needs flip_augment=True")
        return ("cycled" if self.cycled_flips else "random") if self.flip_augment else "none"


def early_share_for(small_epochs: int, epochs: int) -> float:
    """The ``early_share`` with which exactly the first ``small_epochs`` of ``epochs`` train on resized batches
    (``TrainConfig.batch_scale`` rounds the share times the epochs). A budgeted run of progressive resizing fixes its
    small epochs by the plan it had when it switched, which a later re-plan may have lengthened, so repeating its
    length with ``--epochs`` needs the count it trained, not the recipe's share.

    Raises:
        ValueError: ``small_epochs`` is negative or above ``epochs``.
    """
    if not 0 <= small_epochs <= epochs:
        raise ValueError(f"{small_epochs} small epochs of {epochs}: give 0 to {epochs}")
    return small_epochs / epochs
