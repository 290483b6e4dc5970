"""One writer per session, with two real processes: the second exits 2 and writes nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capture.errors import SessionLocked
from capture.lock import LOCK_FILE, read_holder
from capture.session import SessionWriter, open_session

SIM = ["--camera", "sim", "--sim-size", "48x64"]

# A process that takes the session's lock as `capture burst` would, says so on stdout, and
# holds it until its stdin closes: the test synchronises on the pipe, never on time.
HOLDER = """
import sys
from capture.session import SessionWriter
w = SessionWriter(sys.argv[1], command="burst")
print("locked", flush=True)
sys.stdin.read()
w.close()
"""


def _capture(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "capture", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _burst(session: Path, frames: int = 4) -> subprocess.CompletedProcess:
    return _capture(
        "burst", *SIM, "--iso", "2000", "--frames", frames, "--session", session, "--scene", "desk"
    )


def _snapshot(session: Path) -> dict[str, bytes]:
    """Every file of the session but the lock file, with its bytes."""
    return {
        p.relative_to(session).as_posix(): p.read_bytes()
        for p in sorted(session.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE
    }


def _hold(session: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(session)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert line == "locked\n", proc.stderr.read()
    return proc


@pytest.fixture
def interrupted(tmp_path) -> Path:
    """A burst of 6 with 4 frames shot: its last run stopped, resumable."""
    session = tmp_path / "s"
    r = _burst(session, frames=4)
    assert r.returncode == 0, r.stderr
    meta = json.loads((session / "session.json").read_text())
    meta["plan"]["passes"]["dark"]["frames"] = 6
    (session / "session.json").write_text(json.dumps(meta))
    return session


def test_a_second_writer_exits_2_naming_the_holder_and_writes_nothing(interrupted):
    session = interrupted
    holder = _hold(session)
    try:
        before = _snapshot(session)
        for args in (
            ["resume", session],
            ["reference", *SIM, "--iso", "2000", "--shutter", "10", "--session", session],
            ["repair", session],
        ):
            r = _capture(*args)
            assert r.returncode == 2, r.stderr
            msg = " ".join(r.stderr.split())
            assert f"pid {holder.pid} on {socket.gethostname()}" in msg
            assert "`capture burst`" in msg and "since 20" in msg
            assert "nothing was written" in msg and "Traceback" not in r.stderr
            assert _snapshot(session) == before
        assert read_holder(session / LOCK_FILE)["pid"] == holder.pid
    finally:
        holder.communicate(timeout=30)  # closes its stdin: it lets go and exits
    # the holder is done: the same resume now finishes the session
    r = _capture("resume", session)
    assert r.returncode == 0, r.stderr
    s = open_session(session)
    assert s.is_complete and [f.index for f in s.frames("dark")] == list(range(6))


def test_a_lock_left_by_a_killed_process_is_no_obstacle(interrupted):
    session = interrupted
    holder = _hold(session)
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    # its note is still there, stale: the kernel released the lock itself
    assert read_holder(session / LOCK_FILE)["pid"] == holder.pid
    r = _capture("resume", session)
    assert r.returncode == 0, r.stderr
    assert open_session(session).is_complete


def test_a_running_capture_keeps_a_resume_out(tmp_path):
    session = tmp_path / "s"
    burst = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "capture",
            "burst",
            *SIM,
            "--iso",
            "2000",
            "--frames",
            "1000",
            "--session",
            str(session),
            "--scene",
            "desk",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # wait for the first frame record: the burst holds the session by then
        deadline = time.monotonic() + 60  # a hang guard, not a timing assumption
        while b'"type":"frame"' not in _read(session / "journal.jsonl"):
            assert burst.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        r = _capture("resume", session)
        assert r.returncode == 2, r.stderr
        assert f"pid {burst.pid}" in " ".join(r.stderr.split())
    finally:
        burst.send_signal(signal.SIGINT)
        burst.communicate(timeout=60)
    s = open_session(session)
    # one run only: one start record, every index once
    assert [r["command"] for r in s.records if r["type"] == "start"] == ["burst"]
    indices = [f.index for f in s.frames("dark")]
    assert indices == list(range(len(indices)))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def test_writers_in_one_process_take_turns(tmp_path, interrupted):
    w = SessionWriter(interrupted, command="resume")
    with pytest.raises(SessionLocked, match=f"pid {os.getpid()}") as exc:
        SessionWriter(interrupted, command="resume")
    assert exc.value.holder["command"] == "resume"
    w.close()
    with SessionWriter(interrupted, command="resume"):
        pass
    # a released lock leaves no stale note behind
    assert read_holder(interrupted / LOCK_FILE) is None
