"""OS errors mid-capture (disk full, read-only, no permission) and the signals that stop a run.

The failures are injected where the OS would raise them (the frame's write, the journal's
append, a folder's creation), through the real CLI, in-process: one line naming the path, what
happened and what to do, exit 1, no traceback, the session resumable.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import threading

import pytest
from typer.testing import CliRunner

from capture import plan
from capture.cli import _stoppable, app
from capture.errors import DiskFull, StorageError, storage_errors
from capture.session import open_session
from sublux_common import fsio
from sublux_common.oserrors import os_error_message

runner = CliRunner()
SIM = ["--camera", "sim", "--sim-size", "48x64"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _burst(session, frames=6):
    return invoke(
        "burst", *SIM, "--iso", "2000", "--frames", frames, "--session", session, "--scene", "desk"
    )


def _one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    failed = [line for line in lines if "failed:" in line]
    assert failed, output
    return " ".join(output[output.index("failed:") :].split())


def _disk_fills_after(monkeypatch, frames: int) -> None:
    """The disk fills up while frame ``frames`` (0-based) is written, halfway through it."""
    real = fsio.atomic_write_bytes
    calls = {"n": 0}

    def write(path, data):
        if "/dark/" not in str(path) and "/bright/" not in str(path):
            return real(path, data)
        calls["n"] += 1
        if calls["n"] <= frames:
            return real(path, data)
        with fsio.atomic_write(path) as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("capture.session.atomic_write_bytes", write)


def test_disk_full_mid_burst_is_one_line_exit_1_and_resumable(tmp_path, monkeypatch):
    session = tmp_path / "s"
    _disk_fills_after(monkeypatch, 3)
    r = _burst(session)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    line = _one_line(r.output)
    assert f"{session}/dark/0003.dng: the disk is full" in line
    assert "free some space" in line and f"capture resume {session}" in line
    s = open_session(session)
    assert [f.index for f in s.frames("dark")] == [0, 1, 2]
    assert s.last_stop.exit_status == "fail" and "disk is full" in s.last_stop.reason
    assert sorted(p.name for p in (session / "dark").iterdir()) == [
        "0000.dng",
        "0001.dng",
        "0002.dng",
    ], "no half-written frame is left"
    monkeypatch.undo()
    r = invoke("resume", session)
    assert r.exit_code == 0, r.output
    s = open_session(session)
    assert s.is_complete and s.verify() == []


def test_a_journal_that_cannot_be_written_is_said_so(tmp_path, monkeypatch):
    session = tmp_path / "s"
    real = fsio.append_jsonl
    frames = {"n": 0}

    def append(path, record):
        frames["n"] += record["type"] == "frame"
        if frames["n"] >= 3:  # the disk is full from the third frame record on
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, record)

    monkeypatch.setattr("capture.session.append_jsonl", append)
    r = _burst(session)
    assert r.exit_code == 1 and "Traceback" not in r.output
    line = _one_line(r.output)
    assert f"{session}/journal.jsonl: the disk is full" in line
    assert "the journal could not record the fail either" in line
    monkeypatch.undo()
    s = open_session(session)
    assert s.last_stop is None and len(s.frames("dark")) == 2
    r = invoke("resume", session)  # the frame left without its record is set aside
    assert r.exit_code == 0, r.output
    s = open_session(session)
    assert s.is_complete and s.verify() == []
    assert [r["what"] for r in s.records if r.get("what") == "set_aside_unjournaled"]


def test_append_rolls_back_a_partial_line(tmp_path, monkeypatch):
    journal = tmp_path / "j.jsonl"
    fsio.append_jsonl(journal, {"type": "start"})
    before = journal.read_bytes()
    real = os.write

    def short_then_full(fd, data):
        if len(data) > 10:
            real(fd, data[:10])  # the OS took part of the line, then the disk filled
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(fsio.os, "write", short_then_full)
    with pytest.raises(OSError) as exc:
        fsio.append_jsonl(journal, {"type": "frame", "index": 1})
    monkeypatch.undo()
    assert exc.value.filename == str(journal)
    assert journal.read_bytes() == before, "no fragment for the next record to glue onto"


@pytest.mark.parametrize(
    ("err", "said"),
    [(errno.EROFS, "the file system is read-only"), (errno.EACCES, "permission denied")],
)
def test_an_unwritable_place_for_a_new_session(tmp_path, monkeypatch, err, said):
    session = tmp_path / "s"
    real = os.mkdir

    def mkdir(path, *a, **k):
        if ".s.creating-" in str(path):
            raise OSError(err, os.strerror(err), str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(os, "mkdir", mkdir)
    r = _burst(session)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    line = _one_line(r.output)
    assert f"{tmp_path}/.s.creating-{os.getpid()}: {said}" in line
    assert "creating the session" in line
    assert not session.exists()


def test_an_unwritable_session_on_resume(tmp_path, monkeypatch):
    session = tmp_path / "s"
    assert _burst(session, frames=2).exit_code == 0
    real = os.open

    def deny(path, flags, *a, **k):
        if str(path).endswith(".lock"):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, flags, *a, **k)

    monkeypatch.setattr("capture.lock.os.open", deny)
    r = invoke("resume", session)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"{session}/.lock: permission denied" in _one_line(r.output)


def test_an_os_error_outside_the_session_is_one_line_too(tmp_path, monkeypatch):
    def refuse(path):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(plan.shutil, "disk_usage", refuse)
    r = _burst(tmp_path / "s")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"{tmp_path}: permission denied" in _one_line(r.output)


def test_the_preflight_disk_check_stays_a_bad_request(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)._replace(free=1024)
    monkeypatch.setattr(plan.shutil, "disk_usage", lambda p: usage)
    r = _burst(tmp_path / "s")
    assert r.exit_code == 2 and "no exposure was taken" in r.output
    assert not (tmp_path / "s").exists()


def test_os_error_message_names_path_what_and_what_to_do():
    exc = OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), "/data/s/dark/0001.dng")
    msg = os_error_message(exc, doing="writing frame dark/0001.dng", todo="then resume")
    assert msg.startswith("/data/s/dark/0001.dng: the disk quota is used up")
    assert "while writing frame dark/0001.dng" in msg and msg.endswith("then resume")
    wrapped = StorageError.from_os_error(exc)
    assert isinstance(wrapped, OSError) and wrapped.errno == errno.EDQUOT
    assert str(wrapped) == os_error_message(exc)


@pytest.mark.parametrize(
    ("sig", "reason"),
    [
        (signal.SIGTERM, "stopped by SIGTERM"),
        (signal.SIGINT, "stopped by the user (Ctrl-C / SIGINT)"),
    ],
)
def test_the_stop_record_names_the_signal(tmp_path, sig, reason):
    from capture.sim.rig import SimRig, SimSettings, static_plan

    # the camera's own pace (16 frames/s, 50 ms exposures): the signal comes mid-burst
    rig = SimRig(SimSettings(size=(48, 64), seed=1), fps=16.0, max_wait=0.05)
    w = rig.create(tmp_path / "s", scene="desk", kind="static", plan=static_plan(frames=50, refs=0))
    rig.callback(w.close)
    shot = []

    def progress(pass_, done, planned):
        shot.append(done)
        if done == 2:
            os.kill(os.getpid(), sig)  # delivered to this, the main, thread before it goes on

    assert threading.current_thread() is threading.main_thread()
    with rig, _stoppable() as stop:
        result = plan.run_passes(
            w, rig.camera, passes=["dark"], command="burst", stop=stop, progress=progress
        )
    assert result.exit_status == "abort" and shot == [1, 2]
    last = open_session(tmp_path / "s").last_stop
    assert last.exit_status == "abort" and last.reason.startswith(reason)


def test_storage_errors_wraps_os_errors_and_passes_capture_errors(tmp_path):
    target = tmp_path / "frame.dng"
    with pytest.raises(StorageError) as info, storage_errors("writing the frame", "then resume"):
        raise PermissionError(errno.EACCES, "Permission denied", str(target))
    assert info.value.errno == errno.EACCES
    assert info.value.filename == str(target)
    assert str(target) in str(info.value) and "then resume" in str(info.value)
    # A capture error that is also an OSError already says what to do: it passes unchanged.
    full = DiskFull("too little free disk")
    with pytest.raises(DiskFull) as passed, storage_errors("writing the frame"):
        raise full
    assert passed.value is full
