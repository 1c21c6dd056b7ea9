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


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for relative, content in files.items():
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

    def __init__(self, routes: dict[str, bytes], drop_first: set[str] = frozenset()):
        self.routes, self.drop_first, self.requests = routes, set(drop_first), []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
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
