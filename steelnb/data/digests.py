"""SHA-256 of label files, remembered by path, size and modification time, so that a dataset's fingerprint
covers its masks' content and still takes seconds, not minutes, at 12,568 images: a mask is read again only
when it changed."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from ..env import runs_root

#: How old (ns) a file must be before its digest is remembered.
RACY_NS = 2_000_000_000
from .staging import write_text_atomically


def digest_cache_file() -> Path:
    """Where the digests are remembered: beside the runs (``<runs>/.cache/label-digests.json``)."""
    return runs_root() / ".cache" / "label-digests.json"


def file_digests(paths: list[Path], cache_file: Path | None = None) -> list[str]:
    """The SHA-256 (hex) of each file's bytes, in the order of ``paths``. A file whose resolved path, size and
    modification time (ns) are in ``cache_file`` (default :func:`digest_cache_file`) is not read; the new ones
    are added to it once they are older than two seconds. A cache that cannot be read or written is only
    slower, never wrong: the key holds the size and time of the file it was computed from."""
    cache_file = cache_file or digest_cache_file()
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    digests, changed, now_ns = [], False, time.time_ns()
    for path in paths:
        stat = Path(path).stat()
        key = f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        digest = cache.get(key) or hashlib.sha256(Path(path).read_bytes()).hexdigest()
        # a file changed within the last RACY_NS could change again within the same clock tick, keeping its
        # size and time: it is not remembered until it is older (git's "racy clean" rule)
        if key not in cache and now_ns - stat.st_mtime_ns > RACY_NS:
            cache[key], changed = digest, True
        digests.append(digest)
    if changed:
        try:
            write_text_atomically(cache_file, json.dumps(cache))
        except OSError:
            pass  # a read-only runs folder: the digests are computed again next time
    return digests
