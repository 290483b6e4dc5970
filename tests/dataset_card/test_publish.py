"""From simulated sessions to a published, verified release, and every way that can go wrong."""

from __future__ import annotations

import json
import shutil
import subprocess

import cv2
import pytest
from typer.testing import CliRunner

from dataset_card.cli import app
from dataset_card.croissant import validate_croissant
from dataset_card.errors import BadRelease, DamagedRelease, DatasetError
from dataset_card.publish import ReleaseMeta, check_release, publish, read_manifest
from tests._release import META, curated_scene, dynamic_session
from tests.curate._sessions import static_session

runner = CliRunner()
SIZE = (96, 128)


def _scene(root, name, seed, frames=4):
    return curated_scene(root, name, seed=seed, size=SIZE, frames=frames)


def _dynamic(root, name):
    return dynamic_session(root, name, size=SIZE)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    out = [_scene(root, f"scene{i}", seed=10 + i) for i in range(5)]
    out.append(_dynamic(root, "street"))
    return out


@pytest.fixture(scope="module")
def published(sessions, tmp_path_factory):
    """The release, and the progress calls its publish made."""
    dest = tmp_path_factory.mktemp("rel") / "v1"
    calls = []
    path = publish(sessions, dest, META, shard_bytes=60_000, progress=lambda *a: calls.append(a))
    return path, calls


@pytest.fixture(scope="module")
def release(published):
    return published[0]


def test_release_layout_and_checksums(release):
    m = read_manifest(release)
    assert set(m["splits"]) == {"train", "val", "test", "dynamic"}
    assert m["splits"]["dynamic"]["sessions"][0].startswith("street")
    scenes = [set(s["scenes"]) for k, s in m["splits"].items()]
    assert sum(len(s) for s in scenes) == len(set().union(*scenes)), "a scene in two splits"
    assert any("-of-" in f for s in m["splits"].values() for f in s["files"]), "sharding"
    for name in ("README.md", "croissant.json", "pairs.csv", "SHA256SUMS", "manifest.json"):
        assert (release / name).is_file()
    r = subprocess.run(
        ["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=release, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert not list(release.parent.glob(".*partial*")), "temporary folder left behind"


def test_metadata_validates(release):
    assert validate_croissant(release / "croissant.json", check_files=True) == []
    card = (release / "README.md").read_text()
    assert "image-to-image" in card and "night-desk" in card
    assert "SIM-0001" not in card + (release / "croissant.json").read_text()
    assert check_release(release) == []


def test_cli_verify_info_and_a_flipped_byte(release, tmp_path):
    r = runner.invoke(app, ["verify", str(release)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["info", str(release)])
    assert r.exit_code == 0 and "night-desk" in r.output and "train" in r.output
    copy = tmp_path / "copy"
    shutil.copytree(release, copy)
    h5 = sorted((copy / "data").glob("train*.h5"))[0]
    data = bytearray(h5.read_bytes())
    data[len(data) // 2] ^= 0xFF
    h5.write_bytes(bytes(data))
    r = runner.invoke(app, ["verify", str(copy)])
    assert r.exit_code == 1
    assert h5.name in r.output


def test_smid_export_reads_back(release, tmp_path):
    r = runner.invoke(app, ["export", str(release), str(tmp_path / "smid"), "--format", "smid"])
    assert r.exit_code == 0, r.output
    ids = (tmp_path / "smid/train_list.txt").read_text().split()
    assert ids
    gt = cv2.imread(
        str(next((tmp_path / "smid/long" / ids[0]).glob("half0001*.png"))), cv2.IMREAD_UNCHANGED
    )
    frames = sorted((tmp_path / "smid/VBM4D_rawRGB" / ids[0]).glob("*.png"))
    first = cv2.imread(str(frames[0]), cv2.IMREAD_UNCHANGED)
    assert gt.dtype == first.dtype == "uint16"
    assert gt.shape == first.shape and gt.shape[2] == 3
    assert len(frames) >= 2
    r = runner.invoke(
        app, ["export", str(release), str(tmp_path / "p"), "--format", "patches", "--size", "32"]
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "p/train/patches.csv").read_text().count("\n") > 1


def test_refuses_existing_dir_and_leaves_nothing_when_interrupted(
    sessions, release, tmp_path, monkeypatch
):
    with pytest.raises(BadRelease, match="never overwritten"):
        publish(sessions, release, META)
    import dataset_card.publish as pub

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pub, "write_croissant", boom)
    with pytest.raises(KeyboardInterrupt):
        publish(sessions, tmp_path / "v2", META)
    assert not (tmp_path / "v2").exists()
    assert not list(tmp_path.glob(".*")), "no partial release may remain"


def test_uncurated_and_too_few_scenes(sessions, tmp_path):
    raw = static_session(tmp_path / "raw", size=SIZE, frames=3)
    with pytest.raises(BadRelease, match="curate run"):
        publish([raw], tmp_path / "x", META)
    with pytest.raises(BadRelease, match="at least 3 scenes"):
        publish(sessions[:2], tmp_path / "y", META)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_planted_leak_is_caught(sessions, tmp_path):
    leak = tmp_path / "leak"
    shutil.copytree(sessions[0], leak)
    for name in ("session.json",):
        meta = json.loads((leak / name).read_text())
        meta["scene"], meta["session_id"] = "copycat", "copycat-1"
        (leak / name).write_text(json.dumps(meta))
    al = json.loads((leak / "curation/alignment.json").read_text())
    al["source"]["session_id"] = "copycat-1"
    (leak / "curation/alignment.json").write_text(json.dumps(al))
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train_list.txt").write_text("scene0\nscene1\nscene2\n")
    (lists / "val_list.txt").write_text("scene3\n")
    (lists / "test_list.txt").write_text("scene4\ncopycat\n")
    with pytest.raises(DatasetError, match=r"frame .* is in train"):
        publish([*sessions[:5], leak], tmp_path / "z", META, split_lists=lists)
    assert not (tmp_path / "z").exists()


def test_a_damaged_previous_manifest_is_refused_before_anything_is_built(
    sessions, release, tmp_path
):
    """``--previous`` is read as a typed manifest up front: a value of the wrong type is a
    :class:`DamagedRelease` naming it, before a frame is packaged (it was a TypeError from the
    version check once the data was built)."""
    prev = tmp_path / "prev"
    prev.mkdir()
    m = read_manifest(release)
    (prev / "manifest.json").write_text(json.dumps({**m, "version": 3}))
    meta = ReleaseMeta(**{**META.__dict__, "version": "2.0.0"})
    with pytest.raises(DamagedRelease, match=r"version to be str, found int 3"):
        publish(sessions, tmp_path / "v2", meta, previous=prev)
    assert not (tmp_path / "v2").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".v2")]


def test_previous_release_semver_and_changelog(sessions, release, tmp_path):
    extra = _scene(tmp_path, "scene9", seed=40)
    meta = ReleaseMeta(**{**META.__dict__, "version": "1.0.1"})
    with pytest.raises(BadRelease, match="MINOR"):
        publish([*sessions, extra], tmp_path / "v101", meta, previous=release)
    meta = ReleaseMeta(**{**META.__dict__, "version": "1.1.0"})
    new = publish([*sessions, extra], tmp_path / "v110", meta, previous=release)
    old_m, new_m = read_manifest(release), read_manifest(new)
    for split in ("train", "val", "test"):
        assert set(old_m["splits"][split]["sessions"]) <= set(new_m["splits"][split]["sessions"])
    log = (new / "CHANGELOG.md").read_text()
    assert "Added sessions" in log and "scene9" in log
    meta = ReleaseMeta(**{**META.__dict__, "version": "1.2.0"})
    with pytest.raises(BadRelease, match="MAJOR"):
        publish(sessions[1:], tmp_path / "v120", meta, previous=release)


def test_publish_cli_with_push_dry_run(sessions, tmp_path):
    r = runner.invoke(
        app,
        [
            "publish",
            *map(str, sessions),
            "--name",
            "night-desk",
            "--version",
            "0.1.0",
            "--out",
            str(tmp_path / "r"),
            "--url",
            "https://example.org",
            "--creator",
            "Lab <lab@example.org>",
            "--push",
            "hf://night-lab/night-desk",
            "--dry-run",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "would send" in r.output and "night-lab/night-desk" in r.output
    assert "croissant.json" in r.output and "v0.1.0" in r.output


def test_build_then_publish_from_staging_keeps_the_staged_splits(sessions, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train_list.txt").write_text("scene3\nscene4\nscene0\n")
    (lists / "val_list.txt").write_text("scene1\n")
    (lists / "test_list.txt").write_text("scene2\n")
    staged = tmp_path / "staging"
    r = runner.invoke(
        app, ["build", *map(str, sessions), "--out", str(staged), "--split-lists", str(lists)]
    )
    assert r.exit_code == 0, r.output
    common = ["--name", "night-desk", "--version", "0.1.0", "--url", "https://example.org"]
    common += ["--creator", "Lab <lab@example.org>"]
    r = runner.invoke(
        app, ["publish", "--from", str(staged), "--out", str(tmp_path / "r"), *common]
    )
    assert r.exit_code == 0, r.output
    splits = read_manifest(tmp_path / "r")["splits"]
    assert splits["train"]["scenes"] == ["scene0", "scene3", "scene4"]
    assert splits["val"]["scenes"] == ["scene1"] and splits["test"]["scenes"] == ["scene2"]
    # --from fixes the sessions and splits: giving others as well is refused, nothing written
    r = runner.invoke(
        app,
        [
            "publish",
            "--from",
            str(staged),
            "--split-lists",
            str(lists),
            "--out",
            str(tmp_path / "x"),
            *common,
        ],
    )
    assert r.exit_code == 2 and "not both" in r.output
    assert not (tmp_path / "x").exists()


def test_published_pixels_are_the_sources_windows(sessions, tmp_path):
    """Every short and long frame is its raw file's window, every ground truth the window of
    the reference's rendering, byte for byte; here with a tripod bumped between the burst and
    the reference, so the reference's window is offset from the burst's."""
    import numpy as np

    from capture.session import open_session
    from curate.pipeline import align_session
    from curate.raw import read_raw, render_srgb
    from dataset_card.reader import open_release

    bumped = static_session(tmp_path / "bumped", size=SIZE, frames=3, offset=(4.0, -6.0), seed=3)
    align_session(bumped)
    chosen = [*sessions, bumped]
    release = publish(chosen, tmp_path / "rel", META)
    by_id = {open_session(s).session_id: s for s in chosen}
    rel = open_release(release)
    offsets = set()
    checked = 0
    for split in rel.splits:
        reader = rel.split(split)
        for sid in reader.sessions():
            sd, root = reader.session(sid), by_id[sid]
            y0, x0, h, w = sd.attrs["crop"]
            for i, row in enumerate(sd.short_frames):
                src = read_raw(root / "dark" / row["file"].decode()).mosaic
                np.testing.assert_array_equal(sd.short[i], src[y0 : y0 + h, x0 : x0 + w])
                checked += 1
            for k, row in enumerate(sd.long_frames):
                path = root / "bright" / row["file"].decode()
                y, x = y0 + int(row["offset_y"]), x0 + int(row["offset_x"])
                offsets.add((int(row["offset_y"]), int(row["offset_x"])))
                np.testing.assert_array_equal(
                    sd.long[k], read_raw(path).mosaic[y : y + h, x : x + w]
                )
                np.testing.assert_array_equal(
                    sd.gt_srgb[k], render_srgb(path)[y : y + h, x : x + w]
                )
                checked += 1
    assert checked > 20 and len(offsets) > 1, "an offset reference was among them"


def test_verify_reports_its_progress(release):
    """`dataset verify` shows a bar: each file hashed, then each HDF5 file checked."""
    from dataset_card.publish import verify_release

    seen = []
    assert verify_release(release, progress=lambda *a: seen.append(a)) == []
    listed = len((release / "SHA256SUMS").read_text().splitlines())
    shards = len(list((release / "data").glob("*.h5")))
    assert [a for a in seen if a[0] == "checksums"] == [
        ("checksums", n, listed) for n in range(listed + 1)
    ]
    assert [a for a in seen if a[0] == "HDF5 files"] == [
        ("HDF5 files", n, shards) for n in range(shards + 1)
    ]


def test_publish_reports_every_long_phase(published):
    """`dataset publish` counts each phase on its bar: frames packaged, data files hashed, the
    SHA256SUMS list, then the checks (every file, every HDF5 file, card and Croissant)."""
    release, calls = published
    steps = list(dict.fromkeys(step for step, _, _ in calls))
    assert steps == ["package", "hashing", "SHA256SUMS", "checksums", "HDF5 files", "metadata"]
    m = read_manifest(release)
    shards = sum(len(s["files"]) for s in m["splits"].values())
    tables = sum(1 for s in m["splits"].values() if s["rows"])
    listed = len((release / "SHA256SUMS").read_text().splitlines())
    frames = sum(s["num_short_frames"] + s["num_long_frames"] for s in m["splits"].values())
    totals = {"package": frames, "hashing": shards + tables + 2, "SHA256SUMS": listed}
    totals |= {"checksums": listed, "HDF5 files": shards, "metadata": 2}
    for step, total in totals.items():
        seen = [(done, t) for s, done, t in calls if s == step]
        assert {t for _, t in seen} == {total}, step
        assert [done for done, _ in seen] == sorted(done for done, _ in seen), step
        assert seen[-1] == (total, total), step
