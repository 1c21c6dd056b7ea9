"""On/off switches read from the environment (``STEELNB_SMOKE``, ``STEELNB_OFFLINE``), one rule for all.

A switch set to a word it does not know is an error, not "off": ``STEELNB_SMOKE=ture`` must not quietly
start a 16-minute run.
"""
from __future__ import annotations

import os

#: How an on/off environment variable may be written.
ON_WORDS, OFF_WORDS = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def switch_is_on(name: str) -> bool:
    """Whether the environment variable ``name`` is set to on ("1", "true", "yes", "on", any case).

    Raises:
        ValueError: a value that is neither on nor off ("0", "false", "no", "off", empty, unset), which
            would otherwise silently mean off.
    """
    value = os.environ.get(name, "").strip().lower()
    if value in ON_WORDS or value in OFF_WORDS:
        return value in ON_WORDS
    raise ValueError(f"{name}={os.environ[name]!r}: use one of {', '.join(ON_WORDS)} to switch it on, or "
                     f"{', '.join(w for w in OFF_WORDS if w)} (or unset it) to switch it off")
