"""Argument types the commands share: a value that argparse would take but the command could not use is
refused where it is typed, with a message that says what is allowed."""
from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """A whole number of at least 1 (``--epochs 0`` or ``-1`` would train nothing, or silently mean 'the budget')."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1: give at least 1")
    return value


def positive_number(text: str) -> float:
    """A finite number above 0 (``nan``, ``inf`` and negative minutes make a deadline that never or always passes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number above 0")
    return value
