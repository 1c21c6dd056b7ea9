"""Checkpoints written before the models named their parts ``encoder`` / ``decoder`` /
``segmentation_head`` load into today's models after their keys are renamed here."""
from __future__ import annotations

import torch

#: Old key prefix -> new key prefix, DeepLabV3+ (recognised by ``classifier.``) and the baseline (``head.``).
_DEEPLAB = {"low.": "encoder.low.", "high.": "encoder.high.", "aspp.": "decoder.aspp.", "skip.": "decoder.skip.",
            "decoder.": "decoder.fuse.", "classifier.": "segmentation_head."}
_BASELINE = {"encoder.0.": "encoder.low.", "encoder.1.": "encoder.high.", "head.0.": "decoder.0.",
             "head.1.": "decoder.1.", "head.2.": "segmentation_head."}


def rename_legacy_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` (a model state dict) with old part names renamed; today's state dicts come back unchanged.
    Parameter order is the same under both names, so optimizer states need no change."""
    if any(key.startswith("classifier.") for key in state):
        prefixes = _DEEPLAB
    elif any(key.startswith("head.") for key in state):
        prefixes = _BASELINE
    else:
        return state

    def rename(key: str) -> str:
        old = next((old for old in prefixes if key.startswith(old)), None)
        return prefixes[old] + key[len(old):] if old else key

    return {rename(key): value for key, value in state.items()}
