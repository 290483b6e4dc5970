"""The ``capture`` command end to end on the simulated rig, through Typer's CliRunner."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import shutil
from collections import namedtuple

import numpy as np
import pytest
import rawpy
import tifffile
from typer.testing import CliRunner

from capture.cli import app
from capture.session import open_session

runner = CliRunner()
SIM = ["--camera", "sim", "--sim-size", "64x96"]


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def burst(session, *extra, frames=4, scene="desk"):
    return invoke(
        "burst",
        *SIM,
        "--iso",
        "2000",
        "--shutter",
        "1/30",
        "--frames",
        frames,
        "--session",
        session,
        "--scene",
        scene,
        *extra,
    )


def test_burst_writes_tagged_dngs(tmp_path):
    s = tmp_path / "s1"
    r = burst(s, frames=5)
    assert r.exit_code == 0, r.output
    sess = open_session(s)
    frames = sess.frames("dark")
    assert [f.index for f in frames] == list(range(5))
    assert sess.is_complete
    for f in frames:
        path = sess.frame_path(f)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256
        with rawpy.imread(str(path)) as raw:
            assert raw.raw_image.shape == (64, 96)
        with tifffile.TiffFile(path) as tif:
            exif = tif.pages[0].tags["ExifTag"].value
            assert exif["ISOSpeedRatings"] in (2000, (2000,))
            num, den = exif["ExposureTime"]
            assert num / den == pytest.approx(1 / 30)
        assert f.iso == 2000 and f.shutter_s == pytest.approx(1 / 30)
    assert len({f.sha256 for f in frames}) == 5


def test_reference_adds_the_bright_pass(tmp_path):
    s = tmp_path / "s"
    assert burst(s).exit_code == 0
    r = invoke(
        "reference",
        "--camera",
        "sim",
        "--iso",
        "2000",
        "--shutter",
        "10",
        "--frames",
        "2",
        "--session",
        s,
    )
    assert r.exit_code == 0, r.output
    sess = open_session(s)
    assert len(sess.frames("bright")) == 2
    assert sess.frames("bright")[0].shutter_s == pytest.approx(10)
    assert sess.is_complete
    # the reference is ~300x brighter: a DRV-style exposure ratio
    assert sess.frames("bright")[0].shutter_s / sess.frames("dark")[0].shutter_s == pytest.approx(
        300
    )


def test_bad_iso_lists_choices_and_writes_nothing(tmp_path):
    s = tmp_path / "s"
    r = burst(s, "--iso", "2001")
    assert r.exit_code == 2
    assert "2000" in r.output and "3200" in r.output
    assert not s.exists()


@pytest.mark.parametrize(
    ("option", "value", "listed"),
    [("--shutter", "1/33", "1/30"), ("--aperture", "1.4", "2.8")],
)
def test_bad_shutter_or_aperture(tmp_path, option, value, listed):
    s = tmp_path / "s"
    r = invoke("burst", *SIM, option, value, "--frames", "2", "--session", s, "--scene", "x")
    assert r.exit_code == 2, r.output
    assert listed in r.output
    assert not s.exists()


def test_refuses_to_touch_existing_sessions(tmp_path):
    s = tmp_path / "s"
    assert burst(s).exit_code == 0
    journal = (s / "journal.jsonl").read_bytes()
    again = burst(s)
    assert again.exit_code == 2 and "already has a dark pass" in again.output
    other = burst(s, scene="kitchen")
    assert other.exit_code == 2 and "belongs to scene 'desk'" in other.output
    sweep = invoke("sweep", *SIM, "--turntable", "sim", "--session", s, "--scene", "desk")
    assert sweep.exit_code == 2 and "nothing was changed" in sweep.output
    assert (s / "journal.jsonl").read_bytes() == journal


@pytest.mark.parametrize("command", ["resume", "repair"])
def test_a_path_that_is_no_session_is_a_bad_request(tmp_path, command):
    """Exit 2, as `curate` and `dataset` answer the same path, and nothing is written."""
    (tmp_path / "empty").mkdir()
    for path, said in [(tmp_path / "nope", "found nothing there"), (tmp_path / "empty", "not a")]:
        r = invoke(command, path)
        assert r.exit_code == 2 and said in r.output, r.output
    assert list(tmp_path.rglob("*")) == [tmp_path / "empty"]


def test_new_session_needs_a_scene(tmp_path):
    r = invoke("reference", *SIM, "--session", tmp_path / "s")
    assert r.exit_code == 2 and "--scene" in r.output


def test_refuses_before_the_first_exposure_when_disk_is_short(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 10**5, 10**5))
    s = tmp_path / "s"
    r = burst(s, frames=50)
    assert r.exit_code == 2
    assert "free" in r.output and "no exposure was taken" in r.output
    assert not s.exists()


def sweep(session, *extra):
    """A simulated sweep of scene "shelf" at ISO 2000 without settling, plus ``extra``."""
    return invoke(
        "sweep", *SIM, "--turntable", "sim", "--session", session, "--scene", "shelf",
        "--iso", "2000", "--settle", "0", *extra,
    )  # fmt: skip


def test_sweep_records_angles_of_both_passes(tmp_path):
    s = tmp_path / "sw"
    r = sweep(
        s, "--steps", "4", "--step-deg", "2", "--dark-shutter", "1/30", "--bright-shutter", "10",
        "--fps", "30",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    sess = open_session(s)
    assert sess.kind == "sweep" and sess.is_complete
    bright = [f.angle for f in sess.frames("bright")]
    assert bright == pytest.approx([0, 2, 4, 6], abs=1e-3)
    dark = [f.angle for f in sess.frames("dark")]
    assert len(dark) == 13
    assert (np.diff(dark) >= -1e-6).all(), dark
    assert dark[0] == pytest.approx(0, abs=0.5) and dark[-1] == pytest.approx(6, abs=0.5)
    assert dark[-1] - dark[0] > 4


def test_sweep_step_mode(tmp_path):
    s = tmp_path / "sw"
    r = sweep(s, "--steps", "3", "--step-deg", "1", "--dark-mode", "step", "--dark-frames", "5")
    assert r.exit_code == 0, r.output
    dark = [f.angle for f in open_session(s).frames("dark")]
    assert dark == pytest.approx([0, 0.5, 1, 1.5, 2], abs=1e-3)


def test_turntable_that_does_not_answer(tmp_path):
    master, slave = pty.openpty()
    try:
        r = invoke("turntable", "status", "--turntable", os.ttyname(slave))
    finally:
        os.close(master)
        os.close(slave)
    assert r.exit_code == 1
    assert "got nothing" in r.output and "is this a GRBL controller" in r.output


def test_turntable_commands_on_the_simulator():
    r = invoke("turntable", "move", "5", "--turntable", "sim")
    assert r.exit_code == 1 and "home" in r.output.lower()  # power-up alarm
    r = invoke("turntable", "move", "5", "--turntable", "sim", "--unlock")
    assert r.exit_code == 0 and "5.000" in r.output
    r = invoke("turntable", "home", "--turntable", "sim")
    assert r.exit_code == 0 and "0.000" in r.output


def test_doctor_on_the_simulator(tmp_path):
    r = invoke(
        "doctor",
        "--camera",
        "sim",
        "--turntable",
        "sim",
        "--session",
        tmp_path / "x",
        "--frames",
        "10",
        "--sim-size",
        "64x96",
    )
    assert r.exit_code == 0, r.output
    assert "12800" in r.output and "1/32000" in r.output
    assert "room for 10 frames" in r.output


def test_session_json_has_no_serial(tmp_path):
    s = tmp_path / "s"
    assert burst(s).exit_code == 0
    meta = json.loads((s / "session.json").read_text())
    assert meta["camera"]["serial_sha256"]
    assert "SIM-0001" not in (s / "session.json").read_text()


@pytest.mark.parametrize("size", ["20x20", "23x64", "64by96"])
def test_a_bad_sim_size_writes_nothing(tmp_path, size):
    s = tmp_path / "s"
    r = invoke("burst", "--camera", "sim", "--sim-size", size, "--scene", "desk", "--session", s)
    assert r.exit_code == 2
    assert "22" in r.output or "HxW" in r.output
    assert not s.exists()


def test_the_end_of_run_line_counts_frames_in_words(tmp_path):
    s = tmp_path / "s"
    r = burst(s, frames=1)
    assert r.exit_code == 0, r.output
    assert "done: 1 frame in" in " ".join(r.output.split())
    r = invoke("reference", "--camera", "sim", "--iso", "2000", "--shutter", "10", "--frames", "2",
               "--session", s)  # fmt: skip
    assert "done: 2 frames in" in " ".join(r.output.split())
