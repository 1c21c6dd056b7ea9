"""The Kaggle download cell's logic, off Kaggle: credentials, refusals and the completeness check,
with a stand-in kaggle API and a stand-in ``google.colab``."""
from __future__ import annotations

import json
import os
import shutil
import sys
import types
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from steelnb.data.download import kaggle as kaggle_data
from steelnb.data.download.kaggle import (
    COMPETITION,
    RULES_URL,
    TOKEN_URL,
    KaggleSetupError,
    download_severstal,
    find_credentials,
    verify_severstal,
)
from steelnb.data.index import DatasetFormatError


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    """A home and working folder without any Kaggle credential, and no Kaggle environment variables."""
    for name in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.setenv(name, "")  # so that monkeypatch restores the variable, whatever the test sets
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    return tmp_path


def test_missing_credentials_say_what_to_do(no_credentials):
    with pytest.raises(KaggleSetupError) as raised:
        find_credentials(kaggle_json_places=[no_credentials / "kaggle.json"])
    assert TOKEN_URL in str(raised.value) and RULES_URL in str(raised.value)


def test_uploaded_kaggle_json_is_used_and_a_broken_one_is_named(no_credentials, monkeypatch):
    upload = no_credentials / "kaggle.json"
    upload.write_text(json.dumps({"username": "student", "key": "abc123"}))
    assert find_credentials(kaggle_json_places=[upload]) == str(upload)
    assert (os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"]) == ("student", "abc123")
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(name)
    upload.write_text("{not json")
    with pytest.raises(KaggleSetupError, match="kaggle.json is not a Kaggle credential file"):
        find_credentials(kaggle_json_places=[upload])


def test_colab_secret_is_copied_to_the_environment(no_credentials, monkeypatch):
    secrets = {"KAGGLE_API_TOKEN": "token-from-secrets"}

    def get(name):
        if name not in secrets:
            raise KeyError(name)  # Colab raises SecretNotFoundError
        return secrets[name]

    colab = types.ModuleType("google.colab")
    colab.userdata = types.SimpleNamespace(get=get)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert find_credentials(kaggle_json_places=[]) == "the Colab secret KAGGLE_API_TOKEN"
    assert os.environ["KAGGLE_API_TOKEN"] == "token-from-secrets"


def _kaggle_zip(path, n_images: int, rows: list[tuple[str, int, str]]):
    """A competition-style zip: train.csv and train_images/ of blank 256x1600 JPEGs."""
    ok, jpeg = cv2.imencode(".jpg", np.zeros((256, 1600), np.uint8))
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("train.csv", pd.DataFrame(rows, columns=["ImageId", "ClassId", "EncodedPixels"]).to_csv(index=False))
        for i in range(n_images):
            bundle.writestr(f"train_images/{i:09d}.jpg", jpeg.tobytes())


class _FakeApi:
    """Stands in for kaggle's KaggleApi: 'downloads' a prepared zip, or fails with an HTTP status."""

    def __init__(self, archive_source=None, status=None):
        self.archive_source, self.status, self.calls = archive_source, status, 0

    def competition_download_files(self, competition, path, quiet):
        self.calls += 1
        if self.status is not None:
            error = RuntimeError(f"{self.status} Client Error")
            error.response = types.SimpleNamespace(status_code=self.status)
            raise error
        (Path(path) / f"{competition}.zip").write_bytes(self.archive_source.read_bytes())


def test_download_unzips_checks_and_skips_a_complete_copy(tmp_path, monkeypatch):
    rows = [("000000000.jpg", 3, "1 5"), ("000000001.jpg", 3, "1 5"), ("000000001.jpg", 1, "7 2")]
    source = tmp_path / "prepared.zip"
    _kaggle_zip(source, n_images=3, rows=rows)
    monkeypatch.setattr(kaggle_data, "TRAIN_IMAGES", 3)
    monkeypatch.setattr(kaggle_data, "TRAIN_ROWS_BY_CLASS", {1: 1, 2: 0, 3: 2, 4: 0})
    api = _FakeApi(source)
    table = download_severstal(tmp_path / "severstal", api=api)
    assert table["rows in train.csv"].to_dict() == {1: 1, 2: 0, 3: 2, 4: 0}
    assert not (tmp_path / "severstal" / f"{COMPETITION}.zip").exists()  # the zip is removed once checked
    download_severstal(tmp_path / "severstal", api=api)
    assert api.calls == 1  # a complete copy is not downloaded again


def test_a_cut_short_copy_is_named(tmp_path):
    source = tmp_path / "short.zip"
    _kaggle_zip(source, n_images=2, rows=[("000000000.jpg", 3, "1 5")])
    with zipfile.ZipFile(source) as bundle:
        bundle.extractall(tmp_path / "short")
    with pytest.raises(DatasetFormatError, match=r"train_images holds 2 images, a complete copy holds 12,568"):
        verify_severstal(tmp_path / "short")
    with pytest.raises(DatasetFormatError, match=r"train.csv has rows per ClassId \{1: 0, 2: 0, 3: 1, 4: 0\}"):
        verify_severstal(tmp_path / "short", train_images=2)


@pytest.mark.parametrize(("status", "advice"), [(403, RULES_URL), (401, TOKEN_URL)])
def test_refusals_are_explained(tmp_path, status, advice):
    with pytest.raises(KaggleSetupError, match=f"{status}") as raised:
        download_severstal(tmp_path / "severstal", api=_FakeApi(status=status))
    assert advice in str(raised.value)


def test_a_download_that_fails_its_check_never_touches_the_target(tmp_path, monkeypatch):
    source = tmp_path / "short.zip"
    _kaggle_zip(source, n_images=2, rows=[("000000000.jpg", 3, "1 5")])  # the check wants 3 images
    monkeypatch.setattr(kaggle_data, "TRAIN_IMAGES", 3)
    monkeypatch.setattr(kaggle_data, "TRAIN_ROWS_BY_CLASS", {1: 0, 2: 0, 3: 1, 4: 0})
    with pytest.raises(DatasetFormatError, match="holds 2 images"):
        download_severstal(tmp_path / "severstal", api=_FakeApi(source))
    assert not (tmp_path / "severstal").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["short.zip"]  # nothing left behind


def test_the_users_own_incomplete_copy_is_never_overwritten(tmp_path, monkeypatch):
    source = tmp_path / "full.zip"
    _kaggle_zip(source, n_images=3, rows=[("000000000.jpg", 3, "1 5")])
    monkeypatch.setattr(kaggle_data, "TRAIN_IMAGES", 3)
    monkeypatch.setattr(kaggle_data, "TRAIN_ROWS_BY_CLASS", {1: 0, 2: 0, 3: 1, 4: 0})
    mine = tmp_path / "severstal"
    (mine / "train_images").mkdir(parents=True)
    (mine / "train.csv").write_text("ImageId,ClassId,EncodedPixels\nmy_own.jpg,1,1 3\n")
    api = _FakeApi(source)
    with pytest.raises(KaggleSetupError, match=r"severstal.*not a complete copy.*nothing was changed"):
        download_severstal(mine, api=api)
    assert api.calls == 0 and (mine / "train.csv").read_text().endswith("my_own.jpg,1,1 3\n")


def test_a_kept_archive_restores_the_data_in_a_new_runtime(tmp_path, monkeypatch, capsys):
    from steelnb import env
    from steelnb.course.colab import prepare_colab
    from steelnb.data import locations
    rows = [("000000000.jpg", 3, "1 5"), ("000000001.jpg", 1, "7 2")]
    source = tmp_path / "prepared.zip"
    _kaggle_zip(source, n_images=2, rows=rows)
    monkeypatch.setattr(kaggle_data, "TRAIN_IMAGES", 2)
    monkeypatch.setattr(kaggle_data, "TRAIN_ROWS_BY_CLASS", {1: 1, 2: 0, 3: 1, 4: 0})
    # chapter 00 on Colab: the data goes to the runtime's disk, the checked zip to Google Drive
    runtime_disk, drive = tmp_path / "content" / "data" / "severstal", tmp_path / "drive"
    kept = drive / "MyDrive" / "steelnb" / "data" / f"{COMPETITION}.zip"
    first = download_severstal(runtime_disk, api=_FakeApi(source), keep_archive=kept)
    assert kept.read_bytes() == source.read_bytes()
    # a new runtime: its disk is empty, Drive is mounted, and the chapter's setup unpacks the kept zip
    shutil.rmtree(tmp_path / "content")
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    (drive / "MyDrive").mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(env, "DRIVE_MOUNT", drive)
    monkeypatch.setattr(env, "DRIVE_RUNS", drive / "MyDrive" / "steelnb" / "runs")
    monkeypatch.setattr(locations, "COLAB_SEVERSTAL", runtime_disk)
    monkeypatch.setattr(locations, "COLAB_KEPT_ARCHIVE", kept)
    monkeypatch.delenv("STEELNB_DATA", raising=False)
    prepare_colab()
    assert "restored" in capsys.readouterr().out
    assert locations.real_data_dir() == runtime_disk
    assert verify_severstal(runtime_disk).equals(first)
    prepare_colab()  # the data is there: nothing to do
    assert "restored" not in capsys.readouterr().out
    with pytest.raises(KaggleSetupError, match="already holds files"):
        kaggle_data.restore_severstal(kept, runtime_disk)
