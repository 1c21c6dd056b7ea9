"""Build a file or a data folder beside its destination and move it in only when it is complete.

The downloads, the folder converter, the figures, tables, executed notebooks and pages the course writes all
work this way: nothing half-made is ever used, a failure (a full disk, a file-size limit, a crash) leaves the
previous good file as it was and nothing of its own behind, and nothing already at a folder's destination is
overwritten.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def sync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries (a rename in it) to the disk, where the system allows it (not on Windows)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # some file systems do not sync folders: the rename still happened
    finally:
        os.close(handle)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def written_atomically(path: str | Path) -> Iterator[Path]:
    """A unique temporary path beside ``path`` (same suffix, so writers that pick a format by it still do) for
    the block to write the whole file to. When the block ends without an error, the file is flushed to the
    disk (``fsync``) and renamed over ``path`` in one step; on any error it is removed and ``path`` keeps its
    previous content. Readers see the old file or the new one, never a part of it::

        with written_atomically(folder / "table.csv") as temporary:
            table.to_csv(temporary)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())  # not mkstemp's 0600
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`written_atomically`; returns ``path``."""
    with written_atomically(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


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


def remove_stale_staging(target: Path, label: str, older_than_s: float) -> list[Path]:
    """Remove the staging folders of ``target`` (``.<name>.<label>-XXXXXX``, made by :func:`staging_folder`)
    that a killed process left: those in which nothing changed for ``older_than_s`` seconds, so that a run in
    progress keeps its folder. Only folders of that name pattern are touched. Returns the removed ones."""
    removed = []
    for folder in target.parent.glob(f".{target.name}.{label}-*") if target.parent.is_dir() else []:
        times = [path.stat().st_mtime for path in [folder, *folder.rglob("*")]]
        if folder.is_dir() and time.time() - max(times) > older_than_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def move_into_place(folder: Path, target: Path) -> Path:
    """Rename the complete ``folder`` to ``target``, which must be missing or an empty folder (an
    ``OSError`` otherwise: nothing there is overwritten); returns ``target``."""
    if target.is_dir():
        target.rmdir()
    folder.rename(target)
    return target
