"""Resume after a kill at random points of a burst and of a sweep, and after Ctrl-C.

The capture runs in a real subprocess that is SIGKILLed once the journal holds a random number
of frames; ``capture resume`` must then finish the session with exactly the planned frames,
distinct checksums and contiguous indices, keeping every frame it found.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capture.session import open_session

pytestmark = pytest.mark.slow

SIM = ["--camera", "sim", "--sim-size", "48x64"]


def _frames_in_journal(session: Path) -> int:
    try:
        text = (session / "journal.jsonl").read_text()
    except FileNotFoundError:
        return 0
    return text.count('"type":"frame"')


def _start(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ)
    return subprocess.Popen(
        [sys.executable, "-m", "capture", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _kill_after(proc: subprocess.Popen, session: Path, frames: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while _frames_in_journal(session) < frames:
        if proc.poll() is not None:
            raise AssertionError(f"capture ended before frame {frames}: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("capture did not reach the kill point in time")
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()
    return _frames_in_journal(session)


def _resume(session: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "capture", "resume", str(session)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_whole(session: Path, kept: dict[str, list[str]]) -> None:
    s = open_session(session)
    assert s.is_complete
    assert s.verify() == []
    for pass_ in s.plan["passes"]:
        frames = s.frames(pass_)
        assert [f.index for f in frames] == list(range(s.planned(pass_)))
        assert len({f.sha256 for f in frames}) == len(frames)
        # the frames journalled before the kill are the same files, untouched
        assert [f.sha256 for f in frames[: len(kept[pass_])]] == kept[pass_]
    all_sha = [f.sha256 for p in s.plan["passes"] for f in s.frames(p)]
    assert len(set(all_sha)) == len(all_sha)


def _journalled(session: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"dark": [], "bright": []}
    for line in (session / "journal.jsonl").read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec["type"] == "frame":
            out[rec["pass"]].append(rec["sha256"])
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_resume_a_killed_burst(tmp_path, seed):
    rng = random.Random(seed)
    session = tmp_path / "s"
    planned = 24
    kill_at = rng.randint(1, planned - 2)
    proc = _start(
        [
            "burst",
            *SIM,
            "--iso",
            "2000",
            "--shutter",
            "1/30",
            "--frames",
            str(planned),
            "--session",
            str(session),
            "--scene",
            "desk",
        ]
    )
    _kill_after(proc, session, kill_at)
    kept = _journalled(session)
    assert 0 < len(kept["dark"]) < planned
    r = _resume(session)
    assert r.returncode == 0, r.stderr
    _assert_whole(session, kept)


@pytest.mark.parametrize("seed", [3, 4])
def test_resume_a_killed_sweep(tmp_path, seed):
    rng = random.Random(seed)
    session = tmp_path / "sw"
    steps, dark = 4, 9
    kill_at = rng.randint(1, steps + dark - 2)
    proc = _start(
        [
            "sweep",
            *SIM,
            "--turntable",
            "sim",
            "--steps",
            str(steps),
            "--step-deg",
            "2",
            "--dark-frames",
            str(dark),
            "--iso",
            "2000",
            "--settle",
            "0",
            "--fps",
            "20",
            "--session",
            str(session),
            "--scene",
            "shelf",
        ]
    )
    _kill_after(proc, session, kill_at)
    kept = _journalled(session)
    r = _resume(session)
    assert r.returncode == 0, r.stderr
    _assert_whole(session, kept)
    s = open_session(session)
    assert [f.angle for f in s.frames("bright")] == pytest.approx([0, 2, 4, 6], abs=1e-3)
    dark_angles = [f.angle for f in s.frames("dark")]
    assert dark_angles == sorted(dark_angles)


def test_ctrl_c_stops_after_the_current_frame(tmp_path):
    session = tmp_path / "s"
    proc = _start(
        [
            "burst",
            *SIM,
            "--iso",
            "2000",
            "--frames",
            "400",
            "--session",
            str(session),
            "--scene",
            "desk",
        ]
    )
    deadline = time.monotonic() + 60
    while _frames_in_journal(session) < 3:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1, stderr
    assert b"capture resume" in stderr
    s = open_session(session)
    assert s.last_stop.exit_status == "abort"
    assert 3 <= len(s.frames("dark")) < 400
    assert s.verify() == []


@pytest.mark.parametrize(
    ("sig", "reason"),
    [
        (signal.SIGTERM, "stopped by SIGTERM"),
        (signal.SIGINT, "stopped by the user (Ctrl-C / SIGINT)"),
    ],
)
def test_the_stop_record_names_the_signal(tmp_path, sig, reason):
    session = tmp_path / "s"
    proc = _start(["burst", *SIM, "--frames", "400", "--session", str(session), "--scene", "desk"])
    deadline = time.monotonic() + 60
    while _frames_in_journal(session) < 2:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1, stderr
    last = open_session(session).last_stop
    assert last.exit_status == "abort" and last.reason.startswith(reason)
    assert b"capture resume" in stderr
