"""``capture import``: raw folders and videos into a new session, end to end through the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from capture.cli import app
from capture.session import open_session, serial_hash
from capture.sim.clock import SimClock
from capture.sim.rig import SimSettings, shoot_files
from sublux_common.fsio import CRASH_ENV

runner = CliRunner()
DNG = Path(__file__).parents[1] / "data" / "raw" / "colorchart.dng"


def invoke(*args):
    return runner.invoke(app, ["import", *[str(a) for a in args]], catch_exceptions=False)


_CARD = SimClock()  # the time on the simulated card's files (see shoot)


def shoot(folder: Path, n: int, *, shutter="1/30", size=(64, 96), make="Sony", seed=3, names=None):
    """``n`` DNGs of the simulated camera in ``folder`` (as copied from a card).

    The shots are 0.1 s apart on one simulated clock for the whole module: on the real clock
    several could fall in one millisecond (EXIF's resolution), and the importer would then
    order them by name, not by capture time."""
    cam = SimSettings(size=size, seed=seed).camera(fps=10, max_wait=0.0, make=make, clock=_CARD)
    kw = {"names": names} if names else {}
    return [shot for _, shot in shoot_files(folder, cam, n, shutter=shutter, **kw)]


def write_video(path: Path, n=24, size=(64, 96), level=30, fps=24.0, seed=1) -> list[np.ndarray]:
    """A tiny MP4 (mp4v) of a textured scene at mean ``level`` of 255."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(0, 2 * level, (size[0], size[1], 3)), (0, 0), 2)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size[1], size[0]))
    assert w.isOpened()
    frames = []
    for _ in range(n):
        f = np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)
        w.write(f)
        frames.append(f)
    w.release()
    return frames


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_raw_folder_is_copied_verified_journalled_and_ordered_by_capture_time(tmp_path):
    # names in reverse order of capture: the session follows the capture time, not the name
    dark = tmp_path / "card" / "dark"
    shots = shoot(dark, 4, names=["d.dng", "c.dng", "b.dng", "a.dng"])
    shoot(tmp_path / "card" / "bright", 1, shutter="10", names=["ref.dng"])
    (dark / "notes.txt").write_text("not a frame")
    (dark / "zz.dng").write_bytes((dark / "a.dng").read_bytes()[:3000])
    before = {p.name: sha(p) for p in dark.iterdir()}
    s = tmp_path / "s"
    r = invoke(
        "--session", s, "--scene", "desk", "--dark", dark, "--bright", tmp_path / "card" / "bright"
    )
    assert r.exit_code == 0, r.output
    assert {p.name: sha(p) for p in dark.iterdir()} == before  # copied, never moved
    sess = open_session(s)
    assert sess.is_complete and sess.imported is not None and sess.simulated
    frames = sess.frames("dark")
    assert [f.camera_name for f in frames] == ["d.dng", "c.dng", "b.dng", "a.dng"]
    for f, shot in zip(frames, shots, strict=True):
        assert sess.read_frame(f) == shot.data
        assert f.shutter_s == pytest.approx(1 / 30) and f.iso == 2000
        assert f.t_start == pytest.approx(shot.t_start, abs=1e-3)  # EXIF keeps milliseconds
    recs = [r for r in sess.records if r.get("type") == "frame"]
    assert recs[0]["imported"]["serial_sha256"] == serial_hash("SIM-0001")
    assert recs[0]["imported"]["make"] == "Sony"
    (said,) = [r for r in sess.records if r.get("what") == "import"]
    assert said["sources"]["dark"] == {"kind": "folder", "name": "dark", "files": 4}
    skipped = {r["file"]: r["reason"] for r in sess.records if r.get("what") == "import_skipped"}
    assert set(skipped) == {"notes.txt", "zz.dng"} and "truncated" in skipped["zz.dng"]
    text = (s / "journal.jsonl").read_text() + (s / "session.json").read_text()
    assert str(tmp_path) not in text and "SIM-0001" not in text  # names only, serial hashed
    assert sess.verify() == []


def test_real_dng_needs_exposure_then_imports_with_its_make(tmp_path):
    folder = tmp_path / "card"
    folder.mkdir()
    shutil.copy(DNG, folder / "IMG_0001.dng")
    s = tmp_path / "s"
    r = invoke("--session", s, "--scene", "chart", "--dark", folder)
    assert r.exit_code == 2 and "--exposure" in r.output and "--iso" in r.output
    assert not s.exists()
    r = invoke(
        "--session", s, "--scene", "chart", "--dark", folder, "--exposure", "1/30", "--iso", "800"
    )
    assert r.exit_code == 0, r.output
    sess = open_session(s)
    (f,) = sess.frames("dark")
    assert sess.meta["camera"]["make"] == "Canon" and not sess.simulated
    assert f.iso == 800 and f.shutter_s == pytest.approx(1 / 30)
    rec = next(r for r in sess.records if r.get("type") == "frame")
    assert rec["imported"]["exposure_from"] == "given"
    assert f.sha256 == sha(DNG)


def test_link_hard_links(tmp_path):
    shoot(tmp_path / "d", 2)
    s = tmp_path / "s"
    assert invoke("--session", s, "--scene", "x", "--dark", tmp_path / "d", "--link").exit_code == 0
    f = open_session(s).frames("dark")[0]
    assert os.stat(s / f.path).st_ino == os.stat(tmp_path / "d" / f.camera_name).st_ino


@pytest.mark.parametrize(
    "case",
    ["empty", "no_raw", "video_junk", "mixed_size", "mixed_camera", "exists", "cross_pass"],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, case):
    d = tmp_path / "d"
    d.mkdir()
    s = tmp_path / "s"
    args = ["--dark", d]
    if case == "no_raw":
        (d / "a.txt").write_text("x")
        (d / "b.dng").write_bytes(b"not a dng at all")
    elif case == "video_junk":
        v = tmp_path / "v.mp4"
        v.write_bytes(b"\0" * 4096)
        args = ["--dark", v, "--exposure", "1/30", "--iso", "2000"]
    elif case == "mixed_size":
        shoot(d, 2)
        shoot(tmp_path / "o", 1, size=(64, 64))
        shutil.copy(tmp_path / "o" / "DSC00000.DNG", d / "Z.DNG")
    elif case == "mixed_camera":
        shoot(d, 2)
        shoot(tmp_path / "o", 1, make="Canon")
        shutil.copy(tmp_path / "o" / "DSC00000.DNG", d / "Z.DNG")
    elif case == "exists":
        shoot(d, 2)
        s.mkdir()
        (s / "mine.txt").write_text("keep me")
    elif case == "cross_pass":
        shoot(d, 2)
        shoot(tmp_path / "b", 1, size=(64, 64), shutter="10")
        args += ["--bright", tmp_path / "b"]
    r = invoke("--session", s, "--scene", "x", *args)
    assert r.exit_code == 2, r.output
    assert "expected" in r.output
    if case == "exists":
        assert [p.name for p in s.iterdir()] == ["mine.txt"]
    else:
        assert not s.exists()
    assert not any(p.name.startswith(".s") for p in tmp_path.iterdir())


def test_interrupted_import_is_finished_by_running_it_again(tmp_path):
    shoot(tmp_path / "d", 5)
    shoot(tmp_path / "b", 2, shutter="10")
    s = tmp_path / "s"
    cmd = [sys.executable, "-m", "capture", "import", "--session", str(s), "--scene", "x",
           "--dark", str(tmp_path / "d"), "--bright", str(tmp_path / "b")]  # fmt: skip
    env = {**os.environ, CRASH_ENV: "import:copied:3"}
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert proc.returncode == -9
    sess = open_session(s)
    assert len(sess.frames("dark")) == 2 and not sess.is_complete
    # the third file was renamed into place but never journalled
    assert (s / "dark" / "0002.dng").exists()
    # `capture resume` has no camera to resume with: it says what to do
    r = runner.invoke(app, ["resume", str(s)], catch_exceptions=False)
    assert r.exit_code == 2 and "capture import" in r.output
    env.pop(CRASH_ENV)
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    sess = open_session(s)
    assert sess.is_complete and not sess.duplicates and sess.verify() == []
    assert [f.camera_name for f in sess.frames("dark")] == [f"DSC{i:05d}.DNG" for i in range(5)]
    assert any(r.get("what") == "set_aside_unjournaled" for r in sess.records)
    # other footage into the same session is refused
    shoot(tmp_path / "other", 3)
    r = invoke(
        "--session", s, "--scene", "x", "--dark", tmp_path / "other", "--bright", tmp_path / "b"
    )
    assert r.exit_code == 2 and "other dark footage" in r.output


def test_two_videos_are_kept_whole_and_their_frames_addressed_by_index(tmp_path):
    write_video(tmp_path / "dark.mp4", n=24, level=30)
    write_video(tmp_path / "bright.mp4", n=6, level=120, seed=2)
    s = tmp_path / "s"
    r = invoke(
        "--session", s, "--scene", "turntable", "--kind", "sweep", "--dark", tmp_path / "dark.mp4"
    )
    assert r.exit_code == 2 and "--exposure" in r.output and not s.exists()
    r = invoke(
        "--session", s, "--scene", "turntable", "--kind", "sweep",
        "--dark", tmp_path / "dark.mp4", "--bright", tmp_path / "bright.mp4",
        "--exposure", "1/30", "--iso", "2000",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    sess = open_session(s)
    assert sess.is_complete and not sess.simulated
    v = sess.video("dark")
    assert v.path == "dark/video.mp4" and v.sha256 == sha(tmp_path / "dark.mp4")
    assert v.frame_count == 24 and v.fps == pytest.approx(24.0)
    assert v.duration_s == pytest.approx(1.0) and v.codec == "FMP4"  # FFmpeg's MPEG-4 part 2
    assert (v.width, v.height) == (96, 64) and v.source == "dark.mp4"
    frames = sess.frames("dark")
    assert [f.video_frame for f in frames] == list(range(24))
    assert {f.path for f in frames} == {"dark/video.mp4"}
    assert frames[3].t_start == pytest.approx(3 / 24) and frames[0].shutter_s == pytest.approx(
        1 / 30
    )
    assert len(sess.frames("bright")) == 6 and sess.video("bright").frame_count == 6
    assert sess.plan["passes"]["dark"]["mode"] == "video"
    assert sorted(p.name for p in (s / "dark").iterdir()) == ["video.mp4"]
    assert str(tmp_path) not in (s / "journal.jsonl").read_text()
    assert (
        json.loads((s / "session.json").read_text())["import"]["passes"]["dark"]["kind"] == "video"
    )


def test_sim_camera_records_a_sweep_as_videos_that_import(tmp_path):
    from capture.sim.video import write_pass_video
    from tests.curate._sessions import sweep_session

    sw = sweep_session(tmp_path / "sw", size=(128, 192), steps=3, dark_frames=9)
    n_dark = write_pass_video(sw, "dark", tmp_path / "dark.mp4")
    n_bright = write_pass_video(sw, "bright", tmp_path / "bright.mp4")
    assert (n_dark, n_bright) == (9, 3)
    cap = cv2.VideoCapture(str(tmp_path / "dark.mp4"))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(24.0)
    means = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        assert bgr.shape == (128, 192, 3)  # the sensor's size
        means.append(bgr.mean())
    cap.release()
    assert len(means) == 9 and np.median(means) == pytest.approx(30, abs=6)  # the seed's level
    s = tmp_path / "s"
    r = invoke(
        "--session", s, "--scene", "shelf", "--kind", "sweep", "--dark", tmp_path / "dark.mp4",
        "--bright", tmp_path / "bright.mp4", "--exposure", "1/30", "--bright-exposure", "10",
        "--iso", "2000", "--simulated",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    sess = open_session(s)
    assert len(sess.frames("dark")) == 9 and sess.frames("bright")[0].shutter_s == 10
    assert sess.simulated  # said on the command line: a video carries no mark of the simulator


def test_link_across_file_systems_exits_2_before_writing(tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a file system of its own")
    import tempfile

    with tempfile.TemporaryDirectory(dir=shm) as d:
        shoot(Path(d) / "dark", 2)
        s = tmp_path / "s"
        r = invoke("--session", s, "--scene", "x", "--dark", Path(d) / "dark", "--link")
        assert r.exit_code == 2 and "--link" in r.output and "Nothing was written" in r.output
        assert not s.exists()


def said(r) -> str:
    """What the command printed, unwrapped (Rich wraps long lines)."""
    return " ".join(r.output.split())


def test_a_video_without_exposure_is_counted_as_a_video_of_its_frames(tmp_path):
    write_video(tmp_path / "shelf-dark.mp4", n=21)
    s = tmp_path / "s"
    r = invoke("--session", s, "--scene", "shelf", "--dark", tmp_path / "shelf-dark.mp4")
    assert r.exit_code == 2, r.output
    text = said(r)
    assert "found a video without them (shelf-dark.mp4, 21 frames" in text
    assert "found 1 without them" not in text  # not one frame: a video of 21
    assert "pass --exposure and --iso (e.g. --exposure 1/30 --iso 2000)" in text
    assert not s.exists()


def test_a_bright_video_without_exposure_names_the_bright_option(tmp_path):
    write_video(tmp_path / "dark.mp4", n=4)
    write_video(tmp_path / "bright.mp4", n=3, seed=2)
    s = tmp_path / "s"
    r = invoke(
        "--session", s, "--scene", "shelf", "--dark", tmp_path / "dark.mp4",
        "--bright", tmp_path / "bright.mp4", "--exposure", "1/30",
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    text = said(r)
    assert "every dark frame, found a video without them (dark.mp4, 4 frames" in text
    assert "pass --iso (e.g. --iso 2000)" in text
    r = invoke(
        "--session", s, "--scene", "shelf", "--bright", tmp_path / "bright.mp4", "--iso", "2000"
    )
    text = said(r)
    assert r.exit_code == 2 and "(bright.mp4, 3 frames" in text
    assert "pass --bright-exposure (or --exposure, for both passes)" in text
    assert "(e.g. --bright-exposure 10)" in text
    assert not s.exists()


def test_raw_files_without_exposure_are_counted_as_files(tmp_path):
    folder = tmp_path / "card"
    folder.mkdir()
    for name in ("IMG_0001.dng", "IMG_0002.dng"):
        shutil.copy(DNG, folder / name)
    r = invoke("--session", tmp_path / "s", "--scene", "chart", "--dark", folder, "--iso", "800")
    assert r.exit_code == 2, r.output
    assert "found 2 raw file(s) without them (IMG_0001.dng first; no EXIF value)" in said(r)
    assert "pass --exposure (e.g. --exposure 1/30)" in said(r)


TRUNCATED = Path(__file__).parents[1] / "data" / "raw" / "truncated"


@pytest.mark.parametrize("name", ["sony-zv-e10-truncated.arw", "leica-m10-truncated.dng"])
def test_a_truncated_tiff_raw_is_refused_with_the_reason(tmp_path, name):
    card = tmp_path / "card"
    card.mkdir()
    shutil.copy(TRUNCATED / name, card / name)
    s = tmp_path / "s"
    r = invoke("--session", s, "--scene", "x", "--dark", card, "--exposure", "1/30", "--iso", "100")
    assert r.exit_code == 2, r.output
    text = said(r)
    assert f"{name}: truncated: its" in text and "the file has 100000" in text
    assert "copy it from the camera's card again" in text
    assert not s.exists()
