"""Checkpoints that survive crashes, kills, full disks and Colab disconnects.

A run folder holds ``last.pt`` (written after every epoch: model, optimizer, scheduler, grad scaler,
history, RNG states, config and the fingerprint of the data), ``previous.pt`` (the ``last.pt`` before it)
and ``best.pt`` (weights of the best validation epoch). Everything loads with
``torch.load(weights_only=True)``.

Every file is written under a unique temporary name, flushed to the disk (``fsync``) and renamed over
its target, so a reader sees the old file or the new one, never half of one; ``last.pt`` becomes
``previous.pt`` only after the new one is safely on disk, and never when it is itself unreadable. One
training process at a time holds a run folder (:func:`hold_run_folder`).
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data.staging import sync_folder

LOCK_FILE = "run.lock"
#: How long a new run waits for a lock whose holder has died: DataLoader workers forked by a killed trainer
#: inherit its lock and keep it until they notice, within a few seconds, that their parent is gone.
ORPHAN_WAIT_S = 15.0
#: Words of torch.save's errors when its file cannot be written ("enforce fail at inline_container.cc ...").
TORCH_WRITE_ERRORS = ("inline_container", "PytorchStreamWriter", "write failed")


class RunFolderBusyError(RuntimeError):
    """Another process is training in the same run folder."""


class RunFolderReadOnlyError(PermissionError):
    """The run folder cannot be written: a finished run is still read from it, an unfinished one is refused."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written whole (a full disk, a quota or a file-size limit); the previous one
    is kept."""


def _write_temporary(obj: Any, path: Path) -> Path:
    """torch.save ``obj`` to a new, uniquely named file beside ``path`` and flush it to the disk.

    Raises:
        CheckpointWriteError: the file could not be written whole; torch's own message for that ("enforce
            fail ... file write failed") names neither the file nor the cause.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
    except (OSError, RuntimeError) as err:
        Path(name).unlink(missing_ok=True)
        if isinstance(err, RuntimeError) and not any(word in str(err) for word in TORCH_WRITE_ERRORS):
            raise
        free = shutil.disk_usage(path.parent).free
        raise CheckpointWriteError(f"could not write the checkpoint {path}: the disk holding {path.parent} is full "
                                   f"or a file-size limit was reached ({free / 1e6:.0f} MB free). The previous "
                                   "checkpoint is kept: free some space and run again to resume from it") from None
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save to ``path`` through a unique temporary file, fsync and rename: ``path`` is always either
    the old file or the complete new one."""
    os.replace(_write_temporary(obj, path), path)
    sync_folder(path.parent)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) onto the CPU; errors name the file."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint not found: {path}") from None
    except Exception as err:  # noqa: BLE001 - report which file is unreadable
        raise RuntimeError(f"cannot read checkpoint {path}: {err}") from err
    return checkpoint


def load_weights(model: torch.nn.Module, run_dir: str | Path, which: str = "best") -> dict[str, Any]:
    """Put the ``best`` or ``last`` weights of a run into ``model``; returns the checkpoint (with its history).

    Raises:
        RuntimeError: the weights do not fit ``model`` (another architecture or backbone, or a run written by a
            steelnb before 0.2, whose models named their parts differently), naming the file.
    """
    path = Path(run_dir) / f"{which}.pt"
    checkpoint = load_checkpoint(path)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as err:
        raise RuntimeError(f"the weights in {path} do not fit this {type(model).__name__}: it was written for "
                           "another model, or by a steelnb before 0.2. Move the run folder away to train it "
                           f"again.\n{str(err)[:500]}") from None
    return checkpoint


def run_is_finished(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run that trained all its epochs (its ``last.pt`` says so)."""
    state = RunCheckpoints(Path(run_dir)).read_last()
    return state is not None and len(state["history"]) >= state["config"]["epochs"]


@dataclass
class RunCheckpoints:
    """The ``last.pt`` / ``previous.pt`` pair of one run folder.

    ``last_is_readable`` turns False when :meth:`read_last` had to fall back to ``previous.pt``: the next
    :meth:`save_last` then replaces the unreadable ``last.pt`` and keeps the good ``previous.pt``.
    """

    run_dir: Path
    last_is_readable: bool = True

    @property
    def last(self) -> Path:
        return self.run_dir / "last.pt"

    @property
    def previous(self) -> Path:
        return self.run_dir / "previous.pt"

    def read_last(self) -> dict | None:
        """``last.pt``, or ``previous.pt`` (one epoch older, with a warning) when ``last.pt`` is missing or
        unreadable; None for a new run.

        Raises:
            RuntimeError: checkpoints exist but none can be read (the files are left for you to inspect).
        """
        if not self.last.is_file() and not self.previous.is_file():
            return None
        errors = []
        for path in (self.last, self.previous):
            if not path.is_file():
                errors.append(f"{path} is missing")
                continue
            try:
                state = load_checkpoint(path)
            except RuntimeError as err:
                errors.append(str(err))
                continue
            if errors:
                self.last_is_readable = False
                warnings.warn(f"{errors[0]}; resuming from {path} (epoch {len(state['history'])}) instead",
                              RuntimeWarning, stacklevel=3)
            return state
        raise RuntimeError(f"no readable checkpoint in {self.run_dir}: " + "; ".join(errors))

    def save_last(self, state: dict) -> None:
        """Write ``state`` as ``last.pt``: first to a temporary file on disk, then the old ``last.pt`` (when
        it was readable) becomes ``previous.pt``, then the new file becomes ``last.pt``. A kill at any
        moment leaves ``last.pt`` or ``previous.pt`` readable."""
        written = _write_temporary(state, self.last)
        if self.last_is_readable and self.last.is_file():
            os.replace(self.last, self.previous)
        os.replace(written, self.last)
        sync_folder(self.run_dir)
        self.last_is_readable = True


@contextmanager
def hold_run_folder(run_dir: str | Path) -> Iterator[Path]:
    """Hold ``run_dir`` for one training process: a second one stops at once with RunFolderBusyError.

    The lock is the operating system's (``flock``, or ``msvcrt.locking`` on Windows), so it ends with the
    process however that ends: a killed run never leaves a stale lock. Its DataLoader workers, though, inherit
    the lock and hold it until they notice their parent is gone; when the pid that took the lock is no longer
    alive, the lock is tried again for up to :data:`ORPHAN_WAIT_S` seconds before giving up. Temporary files
    that a killed process left behind are removed once the folder is held.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock = open(run_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held open for the whole block
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise RunFolderReadOnlyError(f"{run_dir} cannot be written ({err.strerror})") from None
        raise
    try:
        if not _lock_or_wait_for_orphans(lock):
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            if _alive(holder):
                raise RunFolderBusyError(f"{run_dir} is in use by another training process (pid {holder}); wait "
                                         "for it to finish, or give this run another name")
            raise RunFolderBusyError(f"{run_dir} is still held by worker processes of a training process that has "
                                     f"ended (pid {holder}), {ORPHAN_WAIT_S:.0f} s after it ended; stop them "
                                     f"(e.g. `pkill -f steelnb`) or wait, then run again")
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        for stale in run_dir.glob(".*.pt.*.tmp"):
            stale.unlink(missing_ok=True)
        yield run_dir
    finally:
        lock.close()  # closing the file releases the lock


def _alive(pid: str) -> bool:
    """Whether the process ``pid`` (as written in the lock file) still runs; True when that can't be told."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, OverflowError):
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by another user
        return True
    return True


def _lock_or_wait_for_orphans(lock: Any) -> bool:
    """Take the lock; when another process holds it and the pid that took it has died (its orphaned workers
    hold it now), try again for up to :data:`ORPHAN_WAIT_S` seconds. Returns whether the lock was taken."""
    deadline = time.monotonic() + ORPHAN_WAIT_S
    while True:
        try:
            _lock(lock)
            return True
        except OSError:
            lock.seek(0)
            if _alive(lock.read().strip()) or time.monotonic() > deadline:
                return False
            time.sleep(0.2)


def _lock(file: Any) -> None:
    """Take an exclusive, non-blocking lock on an open file; OSError when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt
        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
