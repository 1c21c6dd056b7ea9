"""The NEU-Seg download, offline: a local HTTP server on 127.0.0.1 serves a small archive laid out like
GitHub's, with a manifest made for it; then a corrupt one, a truncated one and a dropped connection."""
from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from steelnb.data.download.neu_seg import MANIFEST, DownloadError, Source, download_neu_seg, read_manifest
from steelnb.data.index import DatasetFormatError
from steelnb.data.layouts import open_dataset

FOLDER = "UNet-NEU-SEG-0123abc/data_wenjian/"


def _png(array: np.ndarray) -> bytes:
    return cv2.imencode(".png", array)[1].tobytes()


def _files() -> dict[str, bytes]:
    """A tiny NEU-Seg: one image and mask per split, the split lists, and files the download must skip."""
    files = {}
    for i, split in enumerate(("train", "val", "test")):
        mask = np.zeros((8, 8), np.uint8)
        mask[2:4, 2:4] = i + 1
        files[f"img_dir/{split}/00000{i}.jpg"] = cv2.imencode(".jpg", np.full((8, 8), 100 + i, np.uint8))[1].tobytes()
        files[f"ann_dir/{split}/00000{i}.png"] = _png(mask)
        files[f"ImageSets/Segmentation/{split}.txt"] = f"00000{i}\n".encode()
    return files


def _archive(files: dict[str, bytes], compression: int = zipfile.ZIP_STORED, extra: dict[str, bytes] | None = None
             ) -> bytes:
    """A GitHub-style archive of ``files`` under FOLDER, with ``extra`` members (relative to FOLDER) and files the
    download must skip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as bundle:
        for relative, content in {**files, **(extra or {})}.items():
            bundle.writestr(FOLDER + relative, content)
        bundle.writestr(FOLDER + "JPEGImages/000000.jpg", b"not kept")  # outside the kept folders
        bundle.writestr("UNet-NEU-SEG-0123abc/train.py", b"code, not data")
    return buffer.getvalue()


def _manifest(tmp_path: Path, files: dict[str, bytes]) -> Path:
    path = tmp_path / "manifest.sha256"
    path.write_text("".join(f"{hashlib.sha256(content).hexdigest()}  data_wenjian/{relative}\n"
                            for relative, content in sorted(files.items())))
    return path


class _Server:
    """Serves ``routes`` ({path: bytes}) on 127.0.0.1, with HTTP ranges; ``drop_first`` paths break off half way
    through their first response; every request is logged."""

    def __init__(self, routes: dict[str, bytes], drop_first: set[str] = frozenset(), errors_first: int = 0):
        self.routes, self.drop_first, self.requests = routes, set(drop_first), []
        self.errors_first = errors_first  # answer this many requests with 503 Service Unavailable first
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if server.errors_first:
                    server.errors_first -= 1
                    self.send_error(503)
                    return
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if self.path in server.drop_first:
                    server.drop_first.discard(self.path)
                    self.wfile.write(body[start:start + (len(body) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the connection drops half way
                    return
                self.wfile.write(body[start:])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _download(tmp_path, server, *paths, **kwargs):
    sources = tuple(Source(server.url(path), FOLDER) for path in paths)
    return download_neu_seg(tmp_path / "neu-seg", sources, _manifest(tmp_path, _files()), pause_s=0, progress=False,
                            **kwargs)


def test_download_verifies_keeps_only_the_data_and_a_second_run_does_nothing(tmp_path):
    with _Server({"/a.zip": _archive(_files())}) as server:
        root = _download(tmp_path, server, "/a.zip")
        assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == \
            sorted(f"data_wenjian/{relative}" for relative in _files())
        index = open_dataset(root)
        assert index.name == "neu-seg" and len(index) == 3 and (index.mask("test/000002.jpg") == 3).sum() == 4
        _download(tmp_path, server, "/a.zip")
        assert len(server.requests) == 1  # the verified copy was found: nothing downloaded
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.sha256", "neu-seg"]  # no temporary folder left


def test_a_corrupt_archive_is_named_and_the_mirror_is_used(tmp_path):
    corrupt = dict(_files())
    corrupt["ann_dir/val/000001.png"] = _png(np.full((8, 8), 3, np.uint8))  # a different mask
    with _Server({"/bad.zip": _archive(corrupt)}) as server:
        with pytest.raises(DownloadError, match=r"bad.zip: .*ann_dir/val/000001.png differs .*SHA-256"):
            _download(tmp_path, server, "/bad.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.sha256"]  # nothing kept, no target made
    with _Server({"/bad.zip": _archive(corrupt), "/mirror.zip": _archive(_files())}) as server:
        assert open_dataset(_download(tmp_path, server, "/bad.zip", "/mirror.zip")).name == "neu-seg"


def test_a_truncated_archive_is_named(tmp_path):
    whole = _archive(_files())
    with _Server({"/short.zip": whole[:len(whole) * 2 // 3]}) as server:
        with pytest.raises(DownloadError, match=r"short.zip: .*not a complete zip archive"):
            _download(tmp_path, server, "/short.zip")
    assert not (tmp_path / "neu-seg").exists()


def test_a_dropped_connection_resumes(tmp_path):
    with _Server({"/a.zip": _archive(_files())}, drop_first={"/a.zip"}) as server:
        root = _download(tmp_path, server, "/a.zip")
        assert len(open_dataset(root)) == 3
        assert [r for _, r in server.requests][0] is None and server.requests[1][1].startswith("bytes=")


def test_missing_archive_and_a_folder_of_other_files_are_refused(tmp_path):
    with _Server({}) as server:
        with pytest.raises(DownloadError, match="HTTP 404"):
            _download(tmp_path, server, "/gone.zip")
        mine = tmp_path / "neu-seg"
        mine.mkdir()
        (mine / "notes.txt").write_text("mine")
        with pytest.raises(DatasetFormatError, match="nothing was changed"):
            _download(tmp_path, server, "/gone.zip")
        assert (mine / "notes.txt").read_text() == "mine"


def test_the_shipped_manifest_covers_neu_seg():
    entries = read_manifest(MANIFEST)
    assert len(entries) == 8943  # 4,470 images + 4,470 masks + 3 split lists
    assert sum(k.startswith("data_wenjian/img_dir/") for k in entries) == 4470
    assert sum(k.startswith("data_wenjian/ann_dir/") for k in entries) == 4470


def test_the_shipped_manifest_matches_the_real_data(neu_root):
    from steelnb.data.download.neu_seg import verify
    verify(neu_root, MANIFEST)


def test_a_server_error_is_retried(tmp_path):
    with _Server({"/a.zip": _archive(_files())}, errors_first=2) as server:
        assert len(open_dataset(_download(tmp_path, server, "/a.zip"))) == 3
        assert len(server.requests) == 3  # 503, 503, then the archive


def _deflate_damaged(archive: bytes, member: str) -> bytes:
    """``archive`` with bytes in the middle of ``member``'s compressed data flipped (headers intact)."""
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged = bytearray(archive)
    for offset in range(start + info.compress_size // 3, start + info.compress_size // 3 + 8):
        damaged[offset] ^= 0xFF
    return bytes(damaged)


def test_a_damaged_compressed_stream_is_named_and_the_mirror_is_used(tmp_path):
    files = _files()
    good = _archive(files, zipfile.ZIP_DEFLATED)
    damaged = _deflate_damaged(good, FOLDER + "img_dir/train/000000.jpg")
    with _Server({"/bad.zip": damaged, "/good.zip": good}) as server:
        sources = tuple(Source(server.url(p), FOLDER) for p in ("/bad.zip", "/good.zip"))
        root = download_neu_seg(tmp_path / "neu-seg", sources, _manifest(tmp_path, files), pause_s=0, progress=False)
        assert len(open_dataset(root)) == 3
    with _Server({"/bad.zip": damaged}) as server:
        with pytest.raises(DownloadError, match=r"bad.zip: .*not a complete zip archive \((error|BadZipFile)"):
            download_neu_seg(tmp_path / "other", (Source(server.url("/bad.zip"), FOLDER),),
                             _manifest(tmp_path, files), pause_s=0, progress=False)


def test_members_the_manifest_does_not_list_are_never_unpacked_and_huge_ones_refused(tmp_path):
    # a 400 kB archive once unpacked 305 MB of members the manifest does not list, before checking anything
    bomb = _archive(_files(), zipfile.ZIP_DEFLATED, extra={"img_dir/train/zeros.jpg": bytes(50 << 20)})  # 50 MB
    assert len(bomb) < 1 << 20  # of zeros, about 50 kB packed
    with _Server({"/a.zip": bomb}) as server:
        root = _download(tmp_path, server, "/a.zip")
    assert not (root / "data_wenjian" / "img_dir" / "train" / "zeros.jpg").exists()
    huge = {**_files(), "img_dir/train/000000.jpg": bytes(5 << 20)}  # listed, but larger than any NEU-Seg file
    with _Server({"/huge.zip": _archive(huge)}) as server:
        with pytest.raises(DownloadError, match=r"unpacks to more than 4 MB, larger than any NEU-Seg file"):
            download_neu_seg(tmp_path / "huge", (Source(server.url("/huge.zip"), FOLDER),), _manifest(tmp_path, huge),
                             pause_s=0, progress=False)


def test_a_target_that_is_a_file_is_refused_before_downloading(tmp_path):
    (tmp_path / "neu-seg").write_text("a file of yours")
    with _Server({"/a.zip": _archive(_files())}) as server:
        with pytest.raises(DatasetFormatError, match="is a file, not a folder"):
            _download(tmp_path, server, "/a.zip")
        assert server.requests == []
    assert (tmp_path / "neu-seg").read_text() == "a file of yours"


def test_a_full_disk_is_named_as_such_and_not_retried(tmp_path):
    import resource
    import signal
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    files = {**_files(), "img_dir/train/000000.jpg": bytes(range(256)) * 400}
    with _Server({"/a.zip": _archive(files)}) as server:
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, hard))  # smaller than the archive: as a full disk
        try:
            with pytest.raises(DownloadError, match=r"the disk holding .* is full.*it needs about 0 MB there"):
                download_neu_seg(tmp_path / "neu-seg", (Source(server.url("/a.zip"), FOLDER),),
                                 _manifest(tmp_path, files), pause_s=0, progress=False)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, previous)
        assert len(server.requests) == 1  # not "the download broke off 4 times"


def test_the_whole_download_has_a_deadline(tmp_path):
    from steelnb.data.download.neu_seg import fetch
    with _Server({"/a.zip": _archive(_files())}) as server:
        with pytest.raises(DownloadError, match="took longer than its limit"):
            fetch(server.url("/a.zip"), tmp_path / "a.zip", pause_s=0, progress=False, deadline_s=0)


def test_a_killed_downloads_staging_folder_is_removed_by_the_next_run(tmp_path):
    import os
    import time
    stale, fresh = tmp_path / ".neu-seg.download-abc123", tmp_path / ".neu-seg.download-def456"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "archive.zip").write_bytes(b"half an archive")
    old = time.time() - 3600
    for path in (stale / "archive.zip", stale):
        os.utime(path, (old, old))
    mine = tmp_path / ".neu-seg.notes"  # not a staging folder's name: never touched
    mine.mkdir()
    with _Server({"/a.zip": _archive(_files())}) as server:
        _download(tmp_path, server, "/a.zip")
    assert not stale.exists() and fresh.exists() and mine.exists()  # a download in progress keeps its folder
