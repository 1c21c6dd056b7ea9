"""Download NEU-Seg, the course's real-data track on a CPU, and check every file of it.

``python -m steelnb download neu-seg`` fetches the public copy of NEU-Seg this course uses: the
``data_wenjian`` folder of the UNet-NEU-SEG repository (github.com/Chris2wzk/UNet-NEU-SEG), pinned to one
commit, as GitHub's archive of that commit; a second copy of the same files in another repository is the
fallback. Only the images, the masks and the split lists are unpacked (``img_dir/``, ``ann_dir/`` and
``ImageSets/Segmentation/``, 8,943 files, about 62 MB, out of an archive of the whole repository that holds
47,349 files and about 329 MB unpacked), each checked against its SHA-256 in the manifest
shipped with the course (``manifests/neu_seg.sha256``, in ``sha256sum`` format, made from that commit).

The images are NEU's (Northeastern University's surface defect database), for academic use; the
repository's MIT license covers its code, not the data.

The archive is downloaded and unpacked in a temporary folder beside the target and moved to the target
only once every file checks out, so a cut-short or corrupt download is never used and never lands over
your files; a dropped connection is retried (resuming where the server allows it). A target that already
holds the verified copy is left as it is.
"""
from __future__ import annotations

import errno
import hashlib
import http.client
import shutil
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ..index import DatasetFormatError
from ..staging import move_into_place, remove_stale_staging, staging_folder

#: The manifest: one "sha256  data_wenjian/<path>" line per file (``sha256sum -c`` reads it too).
MANIFEST = Path(__file__).with_name("manifests") / "neu_seg.sha256"
#: Where the data comes from, and under which terms.
ATTRIBUTION = ("NEU-Seg: images and masks of Northeastern University's (NEU) surface defect database, for academic "
               "use, as published in the data_wenjian folder of github.com/Chris2wzk/UNet-NEU-SEG (that "
               "repository's MIT license covers its code, not the data).")
#: What is downloaded: GitHub serves the whole repository at the pinned commit as one zip, not only the data.
ARCHIVE_FILES, ARCHIVE_UNPACKED_MB = 47_349, 329
#: What is kept of it: the files of the manifest (images, masks, split lists), in megabytes on disk.
KEPT_MB = 62
#: The folders of ``data_wenjian`` the course reads.
KEPT_FOLDERS = ("img_dir/", "ann_dir/", "ImageSets/Segmentation/")
#: The largest file NEU-Seg holds is under 100 kB: an archive member beyond this is refused, not unpacked.
MAX_MEMBER_BYTES = 4 << 20
#: How long the whole download may take, retries included, before it gives up (a server that trickles).
DEADLINE_S = 3600.0
#: A staging folder left by a killed download is removed when nothing in it changed for this long.
STALE_STAGING_S = 600.0
#: Errors of a full disk (or quota, or file-size limit): retrying cannot help.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def download_size_note() -> str:
    """What a user is about to download and what is kept, in one line: the command prints it first, so that
    a user on a slow link knows the size before the transfer starts."""
    return (f"Downloading GitHub's archive of the whole UNet-NEU-SEG repository ({ARCHIVE_FILES:,} files, about "
            f"{ARCHIVE_UNPACKED_MB} MB unpacked; mostly images, which do not compress, so expect a transfer of a "
            f"few hundred MB); {len(read_manifest()):,} of its files (NEU-Seg, about {KEPT_MB} MB) are kept.")


@dataclass(frozen=True)
class Source:
    """A zip archive and the folder inside it that holds ``data_wenjian``'s content."""

    url: str
    folder: str  # e.g. "UNet-NEU-SEG-<commit>/data_wenjian/"


SOURCES = (
    Source("https://github.com/Chris2wzk/UNet-NEU-SEG/archive/e32b285a321bf51782560d46d7121d02fbffd0ad.zip",
           "UNet-NEU-SEG-e32b285a321bf51782560d46d7121d02fbffd0ad/data_wenjian/"),
    Source("https://github.com/findquestions/NEU_Seg__unet/archive/574abf8513b8551123d12c593ed3f229f05e74b1.zip",
           "NEU_Seg__unet-574abf8513b8551123d12c593ed3f229f05e74b1/U-Net/data_wenjian/"),
)


class DownloadError(RuntimeError):
    """No source delivered a complete, verified copy; the message says what went wrong with each."""


def read_manifest(manifest: Path = MANIFEST) -> dict[str, str]:
    """{relative path: sha256} from a ``sha256sum``-format file."""
    entries = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, _, relative = line.strip().partition("  ")
        if digest:
            entries[relative] = digest
    return entries


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(root: Path, manifest: Path = MANIFEST) -> None:
    """Check that ``root`` holds every file of the manifest with its SHA-256, and no other file in its folders.

    Raises:
        DatasetFormatError: a missing, extra or differing file, naming the first and the count.
    """
    expected = read_manifest(manifest)
    missing = [relative for relative in expected if not (root / relative).is_file()]
    if missing:
        raise DatasetFormatError(f"{root / missing[0]} is missing ({len(missing)} of {len(expected)} files missing)")
    found = {path.relative_to(root).as_posix() for path in (root / "data_wenjian").rglob("*") if path.is_file()}
    extra = sorted(found - set(expected))
    if extra:
        raise DatasetFormatError(f"{root / extra[0]} is not part of NEU-Seg ({len(extra)} such files)")
    wrong = [relative for relative, digest in expected.items() if _sha256(root / relative) != digest]
    if wrong:
        raise DatasetFormatError(f"{root / wrong[0]} differs from the published file (SHA-256 mismatch; "
                                 f"{len(wrong)} of {len(expected)} files differ)")


def fetch(url: str, path: Path, attempts: int = 4, pause_s: float = 2.0, progress: bool = True,
          deadline_s: float = DEADLINE_S) -> Path:
    """Download ``url`` to ``path`` with a progress bar; a dropped connection or a server error (HTTP 5xx) is
    tried again after a growing pause (``attempts`` in all, resuming with an HTTP range where the server allows
    it), within ``deadline_s`` seconds for the whole download.

    Raises:
        DownloadError: the server refused (HTTP 4xx), every attempt failed, the deadline passed, or the disk
            is full (named, with the space the download needs).
    """
    last_error: BaseException | None = None
    total = None
    give_up = time.monotonic() + deadline_s
    for attempt in range(attempts):
        have = path.stat().st_size if path.is_file() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                if have and response.status != 206:  # the server sent the whole file again
                    have = 0
                length = response.headers.get("Content-Length")
                total = have + int(length) if length else None
                with open(path, "ab" if have else "wb") as file, \
                        tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=path.name,
                             disable=not progress, leave=False) as bar:
                    while chunk := response.read(1 << 16):
                        file.write(chunk)
                        bar.update(len(chunk))
                        if time.monotonic() > give_up:
                            raise DownloadError(f"{url}: the download took longer than its limit of "
                                                f"{deadline_s / 60:.0f} min ({path.stat().st_size / 1e6:.0f} MB "
                                                "received); try again later, or from a faster connection")
                if total is not None and path.stat().st_size < total:
                    raise http.client.IncompleteRead(b"", total - path.stat().st_size)
                return path
        except urllib.error.HTTPError as err:
            if err.code < 500:
                raise DownloadError(f"{url} answered HTTP {err.code} {err.reason}") from None
            last_error, what = err, f"the server answered HTTP {err.code} {err.reason}"
        except OSError as err:
            if err.errno in DISK_FULL:
                needed = f"; it needs about {total / 1e6:.0f} MB there" if total else ""
                raise DownloadError(f"the disk holding {path.parent} is full ({err.strerror}){needed}: free some "
                                    "space, or download elsewhere with --to") from None
            last_error, what = err, f"the connection broke off ({err!r})"
        except http.client.HTTPException as err:
            last_error, what = err, f"the connection broke off ({err!r})"
        if attempt + 1 < attempts and time.monotonic() + pause_s * 2 ** attempt < give_up:
            print(f"{what}; trying again ({attempt + 2} of {attempts}).")
            time.sleep(pause_s * 2 ** attempt)
    raise DownloadError(f"{url}: the download failed {attempts} times (last: {last_error!r})")


def extract(archive: Path, folder: str, target: Path, expected: set[str] | None = None) -> int:
    """Unpack the files of ``KEPT_FOLDERS`` under ``folder`` in the zip ``archive`` into ``target/data_wenjian``;
    returns how many. Only members the manifest lists (``expected``, its relative paths; default: the shipped
    manifest's) are written, each of at most ``MAX_MEMBER_BYTES``, so a damaged or hostile archive cannot fill
    the disk; member names are checked, so nothing is written outside ``target``.

    Raises:
        DownloadError: not a complete zip (a download cut short), a damaged compressed stream, a member larger
            than any NEU-Seg file, or ``folder`` is not in it.
    """
    expected = set(read_manifest()) if expected is None else expected
    written = 0
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                relative = member.filename[len(folder):] if member.filename.startswith(folder) else None
                if (member.is_dir() or not relative or not relative.startswith(KEPT_FOLDERS) or ".." in relative
                        or f"data_wenjian/{relative}" not in expected):
                    continue
                destination = target / "data_wenjian" / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(destination, "wb") as copy:
                    content = source.read(MAX_MEMBER_BYTES + 1)  # never more, whatever the header claims
                    if len(content) > MAX_MEMBER_BYTES:
                        raise DownloadError(f"{archive.name}: {member.filename} unpacks to more than "
                                            f"{MAX_MEMBER_BYTES >> 20} MB, larger than any NEU-Seg file: not NEU-Seg")
                    copy.write(content)
                written += 1
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, zlib.error) as err:
        raise DownloadError(f"{archive.name} is not a complete zip archive ({type(err).__name__}: {err}): the "
                            "download was cut short or damaged") from None
    if not written:
        raise DownloadError(f"{archive.name} holds no {folder}{{{','.join(KEPT_FOLDERS)}}}")
    return written


def download_neu_seg(target: str | Path, sources: tuple[Source, ...] = SOURCES, manifest: Path = MANIFEST,
                     attempts: int = 4, pause_s: float = 2.0, progress: bool = True) -> Path:
    """Download NEU-Seg into ``target`` (``target/data_wenjian/...``), verified file by file; returns ``target``,
    the folder to set ``STEELNB_DATA`` to. A ``target`` that already holds the verified copy is kept as it is.

    Raises:
        DatasetFormatError: ``target`` holds other files (nothing is changed there).
        DownloadError: no source delivered a complete copy whose every file matches the manifest.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise DatasetFormatError(f"{target} is a file, not a folder: name a new or empty folder for NEU-Seg "
                                 "(nothing was downloaded)")
    remove_stale_staging(target, "download", STALE_STAGING_S)
    if target.is_dir() and any(target.iterdir()):
        try:
            verify(target, manifest)
            return target
        except DatasetFormatError as err:
            raise DatasetFormatError(f"{target} holds files but not the verified NEU-Seg ({err}). Move them away or "
                                     "choose another folder; nothing was changed.") from None
    problems = []
    with staging_folder(target, "download") as work:
        for source in sources:
            unpacked = work / "data"
            shutil.rmtree(unpacked, ignore_errors=True)
            try:
                archive = fetch(source.url, work / "archive.zip", attempts, pause_s, progress)
                extract(archive, source.folder, unpacked, set(read_manifest(manifest)))
                verify(unpacked, manifest)
            except (DownloadError, DatasetFormatError) as err:
                problems.append(f"{source.url}: {err}")
                (work / "archive.zip").unlink(missing_ok=True)
                continue
            return move_into_place(unpacked, target)
    raise DownloadError("No source delivered a complete, verified copy of NEU-Seg; nothing was kept:\n  "
                        + "\n  ".join(problems))
