"""Messages of the dataset commands for a wrong path or a damaged release (review finding 12),
and the export summary's wording (finding 10)."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataset_card.cli import app
from dataset_card.errors import BadRelease, DamagedRelease, MissingFile
from dataset_card.export_smid import ExportSummary
from dataset_card.manifest import Manifest
from dataset_card.publish import check_release, read_manifest
from dataset_card.splits import read_split_lists
from sublux_common.oserrors import os_error_message

runner = CliRunner()


def _output(r) -> str:
    return " ".join(r.output.split())


def test_verify_of_a_folder_that_does_not_exist_says_so(tmp_path):
    r = runner.invoke(app, ["verify", str(tmp_path / "nothing")])
    assert r.exit_code == 2
    assert f"at {tmp_path / 'nothing'}, found no such folder; check the path" in _output(r)
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadRelease, match="found a file; give the release's folder"):
        read_manifest(tmp_path / "file")
    with pytest.raises(MissingFile, match="found no such folder"):
        Manifest.read(tmp_path / "nothing")
    with pytest.raises(BadRelease, match=r"found no manifest\.json; point at the folder"):
        read_manifest(tmp_path)


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    folder = tmp_path / "rel"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"name": "x", "splits": {"train": ', encoding="utf-8")
    return folder


def test_a_manifest_that_is_not_json_is_a_damaged_release(damaged):
    for read in (read_manifest, Manifest.read):
        with pytest.raises(DamagedRelease, match="the release is damaged") as exc:
            read(damaged)
        assert "download the release again" in str(exc.value)
        assert "sha256sum -c SHA256SUMS" in str(exc.value)
        assert isinstance(exc.value, BadRelease)  # what library callers caught before
    with pytest.raises(DamagedRelease, match="the release is damaged"):
        check_release(damaged)


def test_verify_and_info_of_a_damaged_release_fail_with_exit_1(damaged):
    r = runner.invoke(app, ["verify", str(damaged)])
    assert r.exit_code == 1, r.output
    assert "failed: expected JSON in" in _output(r) and "the release is damaged" in _output(r)
    r = runner.invoke(app, ["info", str(damaged)])
    assert r.exit_code == 1, r.output
    assert "failed: expected JSON in" in _output(r) and "download the release again" in _output(r)
    # a value of the wrong type: damaged too
    (damaged / "manifest.json").write_text(json.dumps({"version": 2, "splits": {}}))
    r = runner.invoke(app, ["info", str(damaged)])
    assert r.exit_code == 1 and "edited or damaged" in _output(r)
    r = runner.invoke(app, ["verify", str(damaged)])
    assert r.exit_code == 1 and "version to be str" in _output(r)


def test_split_lists_say_what_was_found(tmp_path):
    with pytest.raises(BadRelease, match=r"found no such folder; write the lists there"):
        read_split_lists(tmp_path / "nothere", ["a"])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(BadRelease, match=r"found none of them \(the folder holds notes.txt\)"):
        read_split_lists(tmp_path, ["a"])
    (tmp_path / "val_list.txt").write_text("# nothing yet\n\n")
    with pytest.raises(BadRelease, match=r"found val_list.txt without a scene name"):
        read_split_lists(tmp_path, ["a"])
    with pytest.raises(BadRelease, match=r"found a file, not a folder"):
        read_split_lists(tmp_path / "notes.txt", ["a"])


@pytest.mark.parametrize(
    ("make", "code", "advice"),
    [
        (
            lambda p: (p / "file").write_text("x") and (p / "file" / "x").mkdir(),
            errno.ENOTDIR,
            "every name before the last / must be a folder",
        ),
        (
            lambda p: (p / "dir").mkdir() or (p / "dir").read_text(),
            errno.EISDIR,
            "give the path of a file",
        ),
        (lambda p: (p / "a" / "b").mkdir(), errno.ENOENT, "check the path for a typo"),
    ],
    ids=["ENOTDIR", "EISDIR", "ENOENT"],
)
def test_path_errors_get_advice(tmp_path, make, code, advice):
    with pytest.raises(OSError) as exc:
        make(tmp_path)
    assert exc.value.errno == code
    message = os_error_message(exc.value)
    assert advice in message and str(tmp_path) in message


def test_patch_export_summary_counts_pairs_and_frames_apart(tmp_path):
    s = ExportSummary(tmp_path, written={"train patches": ["a", "b"], "val patches": ["c"]})
    s.patches, s.frames = 3, 2
    assert s.lines()[:3] == [
        "train patches: 2 dark/bright pairs",
        "val patches: 1 dark/bright pair",
        "patches written: 3 dark/bright pairs, cut from 2 short frames",
    ]
    smid = ExportSummary(tmp_path, written={"train_list.txt": ["x"]}, frames=9)
    assert smid.lines() == ["train_list.txt: 1 sequence", "frames written: 9"]
