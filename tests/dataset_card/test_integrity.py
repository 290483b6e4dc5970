"""Issue 9, the dataset stage: a release never holds a frame its journal does not vouch for,
keeps every reference (with their mean as a cleaner ground truth), says what is simulated and
what was warned about, and leaves no partial folder behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from capture.session import open_session
from curate.pipeline import align_session
from curate.raw import read_raw, render_srgb
from dataset_card.build import plan_sessions, render_mean
from dataset_card.cli import app
from dataset_card.croissant import validate_croissant
from dataset_card.errors import BadRelease, FrameChanged
from dataset_card.h5writer import SplitWriter
from dataset_card.publish import (
    PARTIAL_INFO,
    check_release,
    publish,
    read_manifest,
    remove_stale_partials,
)
from dataset_card.reader import open_release
from sublux_common.hashing import sha256_file
from tests._release import META, SHIFTS, WARNING, curated_scene, multi_reference_scene
from tests.curate._sessions import static_session
from tests.dataset_card.test_hdf5 import session_attrs

runner = CliRunner()
SIZE = (96, 128)
ROOT = Path(__file__).resolve().parents[2]


def _publish_args(sessions, out, version="0.1.0"):
    return [
        "publish",
        *map(str, sessions),
        "--name",
        "night-desk",
        "--version",
        version,
        "--out",
        str(out),
        "--url",
        "https://example.org",
        "--creator",
        "Lab <lab@example.org>",
    ]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    plain = [curated_scene(root, f"scene{i}", seed=30 + i, size=SIZE, frames=6) for i in range(3)]
    return [multi_reference_scene(root, SIZE), *plain]


@pytest.fixture(scope="module")
def release(sessions, tmp_path_factory):
    return publish(sessions, tmp_path_factory.mktemp("rel") / "v1", META)


def _session_data(release: Path, sid: str):
    rel = open_release(release)
    for split in rel.splits:
        reader = rel.split(split)
        if sid in reader:
            return reader.session(sid)
    raise AssertionError(f"{sid} not in {release}")


# -- 1. integrity -------------------------------------------------------------------------------


def test_a_frame_replaced_after_curation_stops_the_publish(sessions, tmp_path):
    """The issue's case: dark/0003.dng replaced by a copy of 0005.dng after curation."""
    copies = [tmp_path / s.name for s in sessions[1:]]
    for s, c in zip(sessions[1:], copies, strict=True):
        shutil.copytree(s, c)
    bad = copies[0]
    expected = sha256_file(bad / "dark/0003.dng")
    shutil.copyfile(bad / "dark/0005.dng", bad / "dark/0003.dng")
    found = sha256_file(bad / "dark/0003.dng")
    with pytest.raises(FrameChanged) as info:
        publish(copies, tmp_path / "out" / "v1", META)
    msg = str(info.value)
    assert "0003.dng" in msg and expected in msg and found in msg
    assert "curate align" in msg and "--force" in msg and "hash_mismatch" in msg
    assert info.value.problem == "hash_mismatch" and info.value.found == found
    assert not (tmp_path / "out" / "v1").exists()
    assert not list((tmp_path / "out").iterdir()), "a partial folder was left behind"
    # the commands: a bad input, exit 2, nothing written (publish and a staging build)
    r = runner.invoke(app, _publish_args(copies, tmp_path / "cli"))
    assert r.exit_code == 2, r.output
    assert "0003.dng" in r.output and not (tmp_path / "cli").exists()
    r = runner.invoke(app, ["build", *map(str, copies), "--out", str(tmp_path / "staging")])
    assert r.exit_code == 2, r.output
    assert not (tmp_path / "staging").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_a_truncated_reference_stops_the_publish(sessions, tmp_path):
    copies = [tmp_path / s.name for s in sessions[1:]]
    for s, c in zip(sessions[1:], copies, strict=True):
        shutil.copytree(s, c)
    ref = copies[1] / "bright/0000.dng"
    size = ref.stat().st_size
    ref.write_bytes(ref.read_bytes()[: size // 2])
    with pytest.raises(FrameChanged, match=rf"expected {size} bytes .* found {size // 2} bytes"):
        publish(copies, tmp_path / "v1", META)
    assert not list(tmp_path.glob(".*partial*")) and not (tmp_path / "v1").exists()


# -- 3. every reference kept ------------------------------------------------------------------


def test_every_kept_reference_is_in_the_release_at_its_own_offset(sessions, release):
    s = sessions[0]
    sd = _session_data(release, open_session(s).session_id)
    assert sd.long.shape[0] == 3 and sd.gt_srgb.shape[0] == 3
    assert [r.decode() for r in sd.long_frames["file"]] == list(SHIFTS)
    assert sd.short_frames["ref"].tolist() == [0, 1, 2, 0, 1]
    assert b"0005.dng" not in sd.short_frames["file"].tolist()
    offsets = list(zip(sd.long_frames["offset_y"], sd.long_frames["offset_x"], strict=True))
    assert offsets == [(0, 0), (2, 2), (0, 0)]
    for k, f in enumerate(SHIFTS):
        oy, ox = offsets[k]
        assert sd.long_frames["dy"][k] == pytest.approx(SHIFTS[f][0] - oy, abs=1e-6)
        assert sd.long_frames["dx"][k] == pytest.approx(SHIFTS[f][1] - ox, abs=1e-6)
    for i, k in enumerate(sd.short_frames["ref"]):  # residual of each pair from its reference
        f = list(SHIFTS)[k]
        assert sd.short_frames["dy"][i] == pytest.approx(SHIFTS[f][0] - offsets[k][0], abs=1e-6)
    y0, x0, h, w = sd.attrs["crop"]
    for k, f in enumerate(SHIFTS):
        y, x = y0 + offsets[k][0], x0 + offsets[k][1]
        np.testing.assert_array_equal(
            sd.long[k], read_raw(s / "bright" / f).mosaic[y : y + h, x : x + w]
        )
        np.testing.assert_array_equal(
            sd.gt_srgb[k], render_srgb(s / "bright" / f)[y : y + h, x : x + w]
        )


def test_the_mean_of_the_references_is_a_second_ground_truth(sessions, release):
    sd = _session_data(release, open_session(sessions[0]).session_id)
    long = np.asarray(sd.long).astype(np.float64)
    mean = np.asarray(sd.long_mean)
    assert mean.dtype == np.float32 and mean.shape == long.shape[1:]
    np.testing.assert_array_equal(mean, (long.sum(axis=0) / 3).astype(np.float32))
    gt_mean = np.asarray(sd.gt_mean_srgb)
    np.testing.assert_array_equal(gt_mean, render_mean(mean, sd.attrs))
    for i, k in enumerate(sd.short_frames["ref"]):
        np.testing.assert_array_equal(sd.ground_truth(i, "pair"), sd.gt_srgb[k])
        np.testing.assert_array_equal(sd.ground_truth(i, "mean"), gt_mean)
    crop = (slice(2, 10), slice(4, 20))
    np.testing.assert_array_equal(sd.ground_truth(1, "mean", crop), gt_mean[2:10, 4:20])
    np.testing.assert_array_equal(sd.ground_truth(1, "pair", crop), sd.gt_srgb[1, 2:10, 4:20])
    with pytest.raises(BadRelease, match="'pair' or 'mean'"):
        sd.ground_truth(0, "median")
    plain = _session_data(release, open_session(sessions[1]).session_id)
    assert plain.long_mean is None and plain.gt_mean_srgb is None  # one reference: no mean
    np.testing.assert_array_equal(plain.ground_truth(0, "mean"), plain.gt_srgb[0])


def test_verify_checks_the_mean_datasets(release, tmp_path):
    assert check_release(release) == []
    copy = tmp_path / "copy"
    shutil.copytree(release, copy)
    sid = next(k for k, v in read_manifest(copy)["sessions"].items() if v["scene"] == "multi")
    for f in (copy / "data").glob("*.h5"):
        with h5py.File(f, "r+") as h5:
            if sid in h5["sessions"]:
                del h5["sessions"][sid]["gt_mean_srgb"]
    problems = check_release(copy, chunks=True)
    assert any("long_mean and gt_mean_srgb together" in p for p in problems), problems
    (tmp_path / "w").mkdir()
    root = {"dataset_name": "x", "version": "1.0.0", "tool_version": "0"}
    writer = SplitWriter(tmp_path / "w", "train", root_attrs=root)
    with pytest.raises(BadRelease, match="at least 2 references"):
        writer.add_session(
            "s",
            scene="a",
            attrs=session_attrs(32, 32),
            short_shape=(1, 32, 32),
            long_shape=(1, 32, 32),
            gt_shape=(1, 32, 32, 3),
            mean=True,
        )
    writer.abort()


def test_a_curation_from_before_the_references_key_still_builds(tmp_path):
    """A curation of the old kind (no ``references``) paired every frame with the first
    reference; the release takes the references its pairs name, at their pairs' median shift,
    and names the other kept one as not used rather than losing it silently."""
    s = static_session(tmp_path / "old", size=SIZE, frames=4, refs=2, seed=8)
    align_session(s)
    path = s / "curation/alignment.json"
    al = json.loads(path.read_text())
    al.pop("references", None)  # what a curation made before the key existed holds
    for i, p in enumerate(al["pairs"]):
        p.update(bright="0000.dng", dy=1.9 + 0.1 * i, dx=-0.2)
    al["dropped"] = [d for d in al["dropped"] if d["pass"] != "bright"]
    for fr in al["frames"]["bright"]:
        fr["kept"] = True
    path.write_text(json.dumps(al))
    plan = plan_sessions([s], split_lists=_lists(tmp_path, ["desk"], [], []))[0]
    assert [entry.file for entry in plan.long] == ["0000.dng"]
    median = float(np.median([1.9 + 0.1 * i for i in range(len(al["pairs"]))]))
    assert plan.long[0].offset == (2, 0)
    assert plan.long[0].residual[0] == pytest.approx(median - 2)
    assert not plan.mean_reference
    unused = plan.summary()["unused_references"]
    assert [u["file"] for u in unused] == ["0001.dng"]
    assert unused[0]["reason"] == "unused_reference"


def _lists(root: Path, train, val, test) -> Path:
    folder = root / "lists"
    folder.mkdir(exist_ok=True)
    for name, scenes in (("train", train), ("val", val), ("test", test)):
        (folder / f"{name}_list.txt").write_text("".join(f"{s}\n" for s in scenes))
    return folder


# -- 4 and 5. honest metadata, warnings, drops ------------------------------------------------


def _front_matter(card: str) -> tuple[dict, str]:
    _, front, body = card.split("---\n", 2)
    return yaml.safe_load(front), body


def test_a_simulated_release_says_so(release):
    card = (release / "README.md").read_text()
    front, body = _front_matter(card)
    assert {"synthetic", "simulated"} <= set(front["tags"])
    first = body.strip().splitlines()[:4]
    assert first[0].startswith("# ") and any("Simulated data" in line for line in first), first
    assert "the pairs here are real captures" not in card
    assert "captured tethered" not in card
    cr = json.loads((release / "croissant.json").read_text())
    kinds = cr["rai:dataCollectionType"]
    assert "Physical data collection" not in kinds and "Direct measurement" not in kinds
    assert "Simulation" in kinds and "simulated" in cr["rai:dataCollection"]
    assert validate_croissant(release / "croissant.json", check_files=True) == []


def test_a_mixed_release_lists_its_simulated_sessions(sessions, tmp_path):
    copies = []
    for s in sessions[1:]:
        shutil.copytree(s, tmp_path / s.name)
        copies.append(tmp_path / s.name)
    real = copies[0] / "session.json"
    meta = json.loads(real.read_text())
    meta["camera"]["driver"] = "gphoto2"  # as a real camera's session records it
    real.write_text(json.dumps(meta))
    out = publish(copies, tmp_path / "mixed", META)
    card = (out / "README.md").read_text()
    ids = [open_session(c).session_id for c in copies]
    head = card.split("## Motivation")[0]
    assert "Partly simulated" in head and "2 of 3" in head
    assert ids[0] not in head and all(i in head for i in ids[1:])
    assert "the pairs here are real captures" not in card
    cr = json.loads((out / "croissant.json").read_text())
    assert {"Physical data collection", "Simulation"} <= set(cr["rai:dataCollectionType"])
    manifest = read_manifest(out)["sessions"]
    assert [manifest[i]["simulated"] for i in ids] == [False, True, True]
    assert validate_croissant(out / "croissant.json", check_files=True) == []


def test_warnings_drops_and_unused_references_reach_the_card_and_manifest(sessions, release):
    sid = open_session(sessions[0]).session_id
    card = (release / "README.md").read_text()
    code, message = WARNING
    assert code in card and message in card and sid in card
    assert "`hash_mismatch`" in card and "changed after capture" in card
    assert "0003.dng" in card and "reference_moved" in card
    assert "long_mean" in card and "gt_mean_srgb" in card
    entry = read_manifest(release)["sessions"][sid]
    assert entry["warnings"] == [{"code": code, "message": message}]
    assert entry["dropped"] == {"hash_mismatch": 1, "reference_moved": 1}
    assert entry["references"] == 3 and entry["mean_reference"] is True
    assert entry["unused_references"] == [
        {"file": "0003.dng", "reason": "reference_moved", "detail": "9 px"}
    ]
    others = [v for k, v in read_manifest(release)["sessions"].items() if k != sid]
    assert all(v["warnings"] == [] and v["simulated"] for v in others)
    cr = json.loads((release / "croissant.json").read_text())
    assert message in cr["rai:dataCollectionMissingData"]
    r = runner.invoke(app, ["info", str(release)])
    text = " ".join(r.output.split())
    assert r.exit_code == 0 and f"{sid}: {code}: {message}" in text
    assert "4 of 4 sessions are simulated" in text


# -- 2. no litter -------------------------------------------------------------------------------


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_partials_of_dead_publishes_are_removed_and_said(sessions, tmp_path):
    out = tmp_path / "releases"
    out.mkdir()
    dead = _dead_pid()
    stale = out / f".v0.partial-{dead}"
    (stale / "data").mkdir(parents=True)
    (stale / "data/train.h5.part").write_bytes(b"x" * 1000)
    (stale / PARTIAL_INFO).write_text(json.dumps({"pid": dead, "host": socket.gethostname()}))
    no_info = out / f".v9.partial-{dead}"  # killed before it wrote its owner file
    no_info.mkdir()
    elsewhere = out / f".v2.partial-{dead}"  # another machine's publish on a shared disk
    elsewhere.mkdir()
    (elsewhere / PARTIAL_INFO).write_text(json.dumps({"pid": dead, "host": "another-host"}))
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    try:
        running = out / f".v3.partial-{live.pid}"
        running.mkdir()
        lines: list[str] = []
        new = publish(sessions[1:], out / "v1", META, say=lines.append)
        assert new.is_dir()
        assert not stale.exists() and not no_info.exists()
        assert elsewhere.exists() and running.exists()
        assert len(lines) == 2 and all(str(dead) in line and "\n" not in line for line in lines)
        assert any(str(stale) in line for line in lines)
        assert remove_stale_partials(out) == []  # nothing more to remove
    finally:
        live.communicate(b"")
    # the CLI says so on one line
    again = out / f".v4.partial-{dead}"
    again.mkdir()
    r = runner.invoke(app, _publish_args(sessions[1:], out / "v5"))
    assert r.exit_code == 0, r.output
    assert not again.exists() and f"removed {again}" in " ".join(r.output.split())


_CHILD = """
import signal, sys
from pathlib import Path
import dataset_card.cli as cli

def hook(bar):
    def progress(step, done, total):
        if done == 1:
            print("PARTIAL", flush=True)
            sys.stdin.read()  # held here until the parent's signal
    return progress

signal.signal(signal.SIGINT, signal.default_int_handler)
cli._progress = hook
cli.app(sys.argv[1:], prog_name="dataset")
"""


@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")]
)
def test_a_signalled_publish_removes_its_partial_folder(sessions, tmp_path, sig, code, word):
    out = tmp_path / "v1"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *_publish_args(sessions[1:], out)[0:]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        line = child.stdout.readline()  # blocks until the child is inside the build
        assert line.strip() == b"PARTIAL", line + child.stderr.read()
        partial = tmp_path / f".v1.partial-{child.pid}"
        assert partial.is_dir() and any(partial.rglob("*.h5*"))
        child.send_signal(sig)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == code, err.decode()
    assert word in err.decode() and "removed" in err.decode()
    assert not partial.exists() and not out.exists()
    assert not list(tmp_path.iterdir())


def test_a_listed_reference_without_pairs_is_still_in_the_release(sessions, tmp_path):
    """``references`` is what the release holds: a reference whose pairs were all rejected
    still reaches ``long`` (and the mean), at its own shift."""
    s = tmp_path / "multi"
    shutil.copytree(sessions[0], s)
    path = s / "curation" / "alignment.json"
    al = json.loads(path.read_text())
    al["rejected"] = [
        {**p, "reason": "low_aligned_corr"} for p in al["pairs"] if p["bright"] == "0002.dng"
    ]
    al["pairs"] = [p for p in al["pairs"] if p["bright"] != "0002.dng"]
    path.write_text(json.dumps(al))
    plan = plan_sessions([s], split_lists=_lists(tmp_path, ["multi"], [], []))[0]
    assert [e.file for e in plan.long] == list(SHIFTS)
    assert [e.offset for e in plan.long] == [(0, 0), (2, 2), (0, 0)]
    assert [e.ref for e in plan.short] == [0, 1, -1, 0, 1]
    assert plan.mean_reference and plan.summary()["rejected"] == 1


def test_a_changed_frame_of_a_dynamic_session_stops_the_publish(sessions, tmp_path):
    from tests._release import dynamic_session

    street = dynamic_session(tmp_path, "street", size=SIZE)
    frame = street / "dark" / "0001.dng"
    data = bytearray(frame.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte, same size
    frame.write_bytes(bytes(data))
    with pytest.raises(FrameChanged, match=r"0001\.dng.*leave the session out") as info:
        publish([*sessions[1:], street], tmp_path / "v1", META)
    assert info.value.problem == "hash_mismatch"
    assert not (tmp_path / "v1").exists() and not list(tmp_path.glob(".*partial*"))
