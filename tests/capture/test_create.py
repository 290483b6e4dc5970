"""Atomic session creation: a session folder either is a session or does not exist."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from capture.cli import app
from capture.errors import SessionError, SessionExists
from capture.protocols import CameraInfo
from capture.session import SessionWriter, check_new_session_dir, open_session
from sublux_common.fsio import CRASH_ENV

runner = CliRunner()
SIM = ["--camera", "sim", "--sim-size", "48x64"]
INFO = CameraInfo(make="Sim", model="Sim", port="sim", driver="sim")
PLAN = {
    "passes": {
        "dark": {
            "frames": 2,
            "iso": 2000,
            "shutter": "1/30",
            "aperture": None,
            "mode": "burst",
            "angles": None,
        }
    },
    "order": ["dark"],
}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _burst_args(session: Path, frames: int = 3) -> list[str]:
    return [
        "burst",
        *SIM,
        "--iso",
        "2000",
        "--frames",
        str(frames),
        "--scene",
        "desk",
        "--session",
        str(session),
    ]


def _killed_at(label: str, args: list[str]) -> None:
    """Run `capture ARGS` in a process that SIGKILLs itself at crash point ``label``."""
    r = subprocess.run(
        [sys.executable, "-m", "capture", *args],
        env={**os.environ, CRASH_ENV: f"{label}:1"},
        capture_output=True,
        timeout=120,
    )
    assert r.returncode == -signal.SIGKILL, r.stderr.decode()


def _creating(session: Path) -> list[Path]:
    return [p for p in session.parent.iterdir() if p.name.startswith(f".{session.name}.creating-")]


@pytest.mark.parametrize("label", ["create:mkdir", "create:skeleton", "create:meta"])
def test_a_kill_before_the_rename_leaves_no_session_folder(tmp_path, label):
    session = tmp_path / "s"
    _killed_at(label, _burst_args(session))
    assert not session.exists(), "a session folder either is a session or does not exist"
    assert len(_creating(session)) == 1
    # the same command finishes: it clears the dead process's skeleton and creates anew
    r = invoke(*_burst_args(session))
    assert r.exit_code == 0, r.output
    assert open_session(session).is_complete
    assert _creating(session) == []


def test_resume_finishes_a_creation_killed_after_its_plan_was_written(tmp_path):
    session = tmp_path / "s"
    _killed_at("create:meta", _burst_args(session, frames=4))
    r = invoke("resume", session)
    assert r.exit_code == 0, r.output
    s = open_session(session)
    assert s.is_complete and len(s.frames("dark")) == 4
    assert _creating(session) == []


def test_resume_of_a_creation_killed_before_its_plan_says_what_to_do(tmp_path):
    session = tmp_path / "s"
    _killed_at("create:skeleton", _burst_args(session))
    r = invoke("resume", session)
    assert r.exit_code == 1
    assert "run the same `capture burst`" in " ".join(r.output.split())


def test_a_kill_right_after_the_rename_is_resumable(tmp_path):
    session = tmp_path / "s"
    _killed_at("create:renamed", _burst_args(session))
    assert (session / "session.json").is_file()
    r = invoke("resume", session)
    assert r.exit_code == 0, r.output
    assert open_session(session).is_complete


def test_the_skeleton_an_older_kill_left_is_replaced_by_the_same_command(tmp_path):
    # what sublux before atomic creation left when killed right after mkdir
    session = tmp_path / "s"
    (session / "dark").mkdir(parents=True)
    (session / "bright").mkdir()
    (session / "journal.jsonl").touch()
    assert check_new_session_dir(session) is True
    r = invoke(*_burst_args(session))
    assert r.exit_code == 0, r.output
    s = open_session(session)
    assert s.is_complete
    events = [r["what"] for r in s.records if r["type"] == "event"]
    assert events[0] == "replaced_interrupted_creation"
    # and resume on such a skeleton says to re-run the command, not "not a session"
    other = tmp_path / "o"
    (other / "dark").mkdir(parents=True)
    (other / "bright").mkdir()
    r = invoke("resume", other)
    assert r.exit_code == 1 and "run the same" in r.output


def test_a_skeleton_with_a_frame_in_it_is_never_touched(tmp_path):
    session = tmp_path / "s"
    (session / "dark").mkdir(parents=True)
    (session / "bright").mkdir()
    (session / "dark" / "0000.dng").write_bytes(b"a frame")
    with pytest.raises(SessionExists, match=r"other files .*bright, dark"):
        check_new_session_dir(session)
    r = invoke(*_burst_args(session))
    assert r.exit_code == 2
    assert (session / "dark" / "0000.dng").read_bytes() == b"a frame"
    assert not (session / "session.json").exists()


def test_a_live_creation_is_left_alone(tmp_path):
    session = tmp_path / "s"
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    try:
        tmp = tmp_path / f".s.creating-{live.pid}"
        (tmp / "dark").mkdir(parents=True)
        w = SessionWriter.create(session, scene="desk", kind="static", camera=INFO, plan=PLAN)
        w.close()
        assert (tmp / "dark").is_dir(), "another live process's creation was removed"
    finally:
        live.communicate(timeout=30)


def test_create_builds_beside_and_renames(tmp_path, monkeypatch):
    """While it is being built, the session's folder does not exist under its name."""
    session = tmp_path / "s"
    seen = []
    real = os.rename

    def spy(src, dst):
        seen.append((Path(src).name, Path(dst).name, session.exists()))
        real(src, dst)

    monkeypatch.setattr("capture.session.os.rename", spy)
    w = SessionWriter.create(session, scene="desk", kind="static", camera=INFO, plan=PLAN)
    w.close()
    assert seen == [(f".s.creating-{os.getpid()}", "s", False)]
    assert json.loads((session / "session.json").read_text())["scene"] == "desk"
    assert sorted(p.name for p in session.iterdir()) == [
        ".lock",
        "bright",
        "dark",
        "journal.jsonl",
        "session.json",
    ]


def test_not_a_session_is_still_an_error(tmp_path):
    with pytest.raises(SessionError, match="not a sublux session"):
        SessionWriter(tmp_path)
    assert not (tmp_path / ".lock").exists(), "no lock file is left in a folder that is no session"
