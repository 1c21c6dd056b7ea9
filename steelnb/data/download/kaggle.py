"""Download the Kaggle Severstal competition data and check that all of it arrived.

Kaggle serves competition data only to a signed-in account that has accepted the competition's rules,
so a download needs two things from you: an API credential and one click on the rules page. This
module finds the credential (environment, Colab secrets, or a ``kaggle.json`` you uploaded), downloads
and unzips the data with the ``kaggle`` package (``pip install kaggle``; Colab has it), and checks the
counts every complete copy has. Each failure says what to do next.
"""
from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..images import ImageReadError
from ..index import DatasetFormatError
from ..severstal import load_severstal
from ..staging import move_into_place, staging_folder

COMPETITION = "severstal-steel-defect-detection"
#: The name of the zip Kaggle delivers.
ARCHIVE_NAME = f"{COMPETITION}.zip"
RULES_URL = f"https://www.kaggle.com/competitions/{COMPETITION}/rules"
TOKEN_URL = "https://www.kaggle.com/settings/api"
#: What a complete download holds: training images, and train.csv rows (one per defect mask) by ClassId.
TRAIN_IMAGES = 12_568
TRAIN_ROWS_BY_CLASS = {1: 897, 2: 247, 3: 5150, 4: 801}

#: Where an uploaded kaggle.json is looked for, after the environment and Colab secrets.
KAGGLE_JSON_PLACES = (Path("kaggle.json"), Path("/content/kaggle.json"), Path("/content/drive/MyDrive/kaggle.json"),
                      Path("~/.kaggle/kaggle.json"), Path("~/.config/kaggle/kaggle.json"))
#: Where the kaggle package itself looks for an access token file.
ACCESS_TOKEN_FILE = Path("~/.kaggle/access_token")

HOW_TO_GET_CREDENTIALS = (
    f"Create a token at {TOKEN_URL} (\"Generate New Token\"), then either\n"
    "  * on Colab: add it as the secret KAGGLE_API_TOKEN (key icon in the left bar), with notebook access on, or\n"
    "  * on Colab or anywhere: upload the legacy kaggle.json (\"Create Legacy API Key\") next to this notebook, or\n"
    "  * anywhere: export KAGGLE_API_TOKEN=<token> (or KAGGLE_USERNAME and KAGGLE_KEY) before starting Jupyter.\n"
    f"Then accept the competition rules once in your browser: {RULES_URL}"
)


class KaggleSetupError(RuntimeError):
    """Credentials, the kaggle package or the download are missing or refused; the message says what to do."""


def _colab_secret(name: str) -> str | None:
    """A Colab secret's value, or None off Colab, when it is not set or the notebook may not read it."""
    try:
        from google.colab import userdata
    except ImportError:
        return None
    try:
        return userdata.get(name) or None
    except Exception:  # SecretNotFoundError, NotebookAccessError: both mean "not available here"
        return None


def _read_kaggle_json(path: Path) -> tuple[str, str]:
    try:
        content = json.loads(path.read_text())
        return str(content["username"]), str(content["key"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise KaggleSetupError(f"{path} is not a Kaggle credential file: expected JSON with \"username\" and "
                               f"\"key\" ({err!r}). Download it again from {TOKEN_URL}.") from None


def find_credentials(kaggle_json_places: Sequence[Path] = KAGGLE_JSON_PLACES) -> str:
    """Make a Kaggle credential visible to the ``kaggle`` package and say where it came from.

    Looks, in order, at the environment (``KAGGLE_API_TOKEN``, or ``KAGGLE_USERNAME`` + ``KAGGLE_KEY``), Colab
    secrets of the same names, the kaggle package's own ``~/.kaggle/access_token``, and a ``kaggle.json`` in
    ``kaggle_json_places``. A secret or a ``kaggle.json`` is copied into the environment of this process only.

    Raises:
        KaggleSetupError: no credential anywhere (the message says how to make one), or a broken kaggle.json.
    """
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "the environment variable KAGGLE_API_TOKEN"
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "the environment variables KAGGLE_USERNAME and KAGGLE_KEY"
    token = _colab_secret("KAGGLE_API_TOKEN")
    if token:
        os.environ["KAGGLE_API_TOKEN"] = token
        return "the Colab secret KAGGLE_API_TOKEN"
    username, key = _colab_secret("KAGGLE_USERNAME"), _colab_secret("KAGGLE_KEY")
    if username and key:
        os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"] = username, key
        return "the Colab secrets KAGGLE_USERNAME and KAGGLE_KEY"
    if ACCESS_TOKEN_FILE.expanduser().is_file():
        return str(ACCESS_TOKEN_FILE.expanduser())
    for place in kaggle_json_places:
        path = place.expanduser()
        if path.is_file():
            os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"] = _read_kaggle_json(path)
            return str(path)
    raise KaggleSetupError("No Kaggle credentials found.\n" + HOW_TO_GET_CREDENTIALS)


def _http_status(err: BaseException) -> int | None:
    """The HTTP status behind a kaggle package error (requests' HTTPError, or the older ApiException)."""
    status = getattr(getattr(err, "response", None), "status_code", None) or getattr(err, "status", None)
    return status if isinstance(status, int) else None


def explain_download_error(err: BaseException) -> str:
    """What a failed download means and what to do, from the HTTP status Kaggle answered with."""
    status = _http_status(err)
    if status == 403:
        return (f"Kaggle answered 403 Forbidden: this account has not accepted the competition rules yet. Open "
                f"{RULES_URL} signed in as the account of your credential, click \"I Understand and Accept\", and "
                "run it again.")
    if status == 401:
        return ("Kaggle answered 401 Unauthorized: the credential is wrong or has expired. Make a new one.\n"
                + HOW_TO_GET_CREDENTIALS)
    if status == 404:
        return f"Kaggle answered 404 Not Found for the competition {COMPETITION!r}; check its address: {RULES_URL}"
    return f"The download failed ({type(err).__name__}: {err}). Check the connection and run it again."


def _kaggle_api() -> Any:
    """An authenticated ``kaggle`` API object; the package is imported only here, as it is optional."""
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError:
        raise KaggleSetupError("The kaggle package is not installed: pip install kaggle") from None
    api = KaggleApi()
    try:
        api.authenticate()
    except SystemExit:  # the package exits when it finds no credential
        raise KaggleSetupError("The kaggle package found no credential.\n" + HOW_TO_GET_CREDENTIALS) from None
    return api


def verify_severstal(root: str | Path, train_images: int | None = None,
                     rows_by_class: dict[int, int] | None = None) -> pd.DataFrame:
    """Check that ``root`` holds the complete training data: ``train_images`` images in ``train_images/`` and
    ``train.csv`` with ``rows_by_class`` rows per ClassId (defaults: the competition's counts).

    Returns:
        one row per ClassId with the expected and found train.csv rows, and the images found.

    Raises:
        DatasetFormatError: a count differs (a cut-short download or unzip), naming the folder or file.
    """
    train_images = TRAIN_IMAGES if train_images is None else train_images
    rows_by_class = TRAIN_ROWS_BY_CLASS if rows_by_class is None else rows_by_class
    index = load_severstal(root)
    if len(index) != train_images:
        raise DatasetFormatError(f"{index.root / 'train_images'} holds {len(index):,} images, a complete copy holds "
                                 f"{train_images:,}: the download or unzip was cut short. Delete the folder and "
                                 "download again.")
    found = index.rles.class_id.value_counts().reindex(list(rows_by_class), fill_value=0)
    table = pd.DataFrame({"expected rows": pd.Series(rows_by_class), "rows in train.csv": found})
    table.index.name = "ClassId"
    if (table["expected rows"] != table["rows in train.csv"]).any():
        raise DatasetFormatError(f"{index.csv_path} has rows per ClassId {found.to_dict()}, a complete copy has "
                                 f"{rows_by_class}: download train.csv again.")
    return table


def _unpack_verified(archive: Path, work: Path) -> pd.DataFrame:
    """Unzip ``archive`` into ``work/data`` and check it with :func:`verify_severstal`."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(work / "data")
    except zipfile.BadZipFile:
        raise KaggleSetupError(f"{archive} is not a complete zip file (interrupted download?); download it "
                               "again.") from None
    return verify_severstal(work / "data")


def _keep_copy(archive: Path, kept: Path) -> None:
    """Copy ``archive`` to ``kept`` (written under a temporary name, then renamed), unless it is there."""
    if kept.is_file():
        return
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = kept.with_name(f".{kept.name}.partial-{os.getpid()}")
    shutil.copyfile(archive, partial)
    os.replace(partial, kept)


def download_severstal(root: str | Path, api: Any = None, keep_archive: str | Path | None = None) -> pd.DataFrame:
    """Download the competition data into ``root`` (about 1.6 GB), unzip it and check it with
    :func:`verify_severstal`. A folder that already passes the check is not downloaded again.

    The zip is downloaded and unpacked into a temporary folder beside ``root`` and moved to ``root`` only
    once it passes the check, so a cut-short download is never used, and files you have in ``root`` are
    never overwritten: a non-empty ``root`` that fails the check is left as it is, with an error.

    Args:
        root: the data folder, e.g. ``data/severstal`` in the course, or the one ``STEELNB_DATA`` names.
        api: an authenticated kaggle API object (default: made from the credential :func:`find_credentials` finds).
        keep_archive: where to keep a copy of the checked zip (on Colab: Google Drive, see
            ``data.locations.kept_severstal_archive``), so that :func:`restore_severstal` can unpack it again
            after the runtime forgets its disk; None keeps none.

    Raises:
        KaggleSetupError: no credential, no kaggle package, Kaggle refused (403: rules not accepted), or
            ``root`` holds other files.
        DatasetFormatError: the unzipped data is incomplete (nothing is moved to ``root`` then).
    """
    root = Path(root)
    if root.is_dir() and any(root.iterdir()):
        try:
            return verify_severstal(root)
        except (DatasetFormatError, ImageReadError) as err:
            raise KaggleSetupError(f"{root} holds files but is not a complete copy of the data ({err}). Move them "
                                   "away or choose another folder, then run it again; nothing was changed.") from None
    if api is None:
        find_credentials()
        api = _kaggle_api()
    with staging_folder(root, "download") as work:
        try:
            api.competition_download_files(COMPETITION, path=str(work), quiet=False)
        except Exception as err:
            raise KaggleSetupError(explain_download_error(err)) from err
        archive = work / ARCHIVE_NAME
        if not archive.is_file():
            raise KaggleSetupError(f"Kaggle reported success but {archive.name} did not arrive; run it again.")
        table = _unpack_verified(archive, work)
        if keep_archive is not None:
            _keep_copy(archive, Path(keep_archive))
        move_into_place(work / "data", root)
    return table


def restore_severstal(archive: str | Path, root: str | Path) -> pd.DataFrame:
    """Unpack a zip kept by :func:`download_severstal` (``keep_archive``) into ``root`` and check it, without
    downloading anything: how a new Colab runtime gets the data back in a minute. Like the download, it
    unpacks beside ``root`` and moves the data in only once it passes the check.

    Raises:
        KaggleSetupError: ``root`` already holds files, or the archive is not a complete zip.
        DatasetFormatError: the unpacked data is incomplete (nothing is moved to ``root`` then).
    """
    archive, root = Path(archive), Path(root)
    if root.is_dir() and any(root.iterdir()):
        raise KaggleSetupError(f"{root} already holds files; nothing was restored there.")
    with staging_folder(root, "restore") as work:
        table = _unpack_verified(archive, work)
        move_into_place(work / "data", root)
    return table
