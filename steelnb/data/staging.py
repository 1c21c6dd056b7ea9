"""Build a data folder beside its destination and move it in only when it is complete.

The downloads and the folder converter all work this way: nothing half-made is ever used, a failure
leaves nothing behind, and nothing that is already at the destination is overwritten.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staging_folder(target: Path, label: str) -> Iterator[Path]:
    """A new, empty folder beside ``target`` (``.<name>.<label>-XXXXXX``), ours alone, removed with whatever
    is still in it when the block ends, however it ends."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.{label}-", dir=target.parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def move_into_place(folder: Path, target: Path) -> Path:
    """Rename the complete ``folder`` to ``target``, which must be missing or an empty folder (an
    ``OSError`` otherwise: nothing there is overwritten); returns ``target``."""
    if target.is_dir():
        target.rmdir()
    folder.rename(target)
    return target
