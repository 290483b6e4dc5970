"""Damaged journals: reading keeps the valid records, writers refuse, `capture repair` salvages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from capture.cli import app
from capture.session import open_session

runner = CliRunner()
SIM = ["--camera", "sim", "--sim-size", "48x64"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _burst(session: Path, frames: int = 6, plan: int | None = None):
    """Shoot ``frames`` dark frames; with ``plan``, the session then plans that many (the
    frames past ``frames`` are left to shoot)."""
    r = invoke(
        "burst", *SIM, "--iso", "2000", "--frames", frames, "--session", session, "--scene", "desk"
    )
    assert r.exit_code == 0, r.output
    if plan is not None:
        meta = json.loads((session / "session.json").read_text())
        meta["plan"]["passes"]["dark"]["frames"] = plan
        (session / "session.json").write_text(json.dumps(meta))
    return open_session(session)


def _lines(session: Path) -> list[bytes]:
    return (session / "journal.jsonl").read_bytes().split(b"\n")


def _frame_line(session: Path, index: int) -> int:
    """0-based line number of the record of dark frame ``index``."""
    for n, line in enumerate(_lines(session)):
        if line and json.loads(line).get("type") == "frame" and json.loads(line)["index"] == index:
            return n
    raise AssertionError(index)


def _tree(session: Path) -> dict[str, bytes]:
    return {
        p.relative_to(session).as_posix(): p.read_bytes()
        for p in sorted(session.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _assert_whole(session: Path, planned: int) -> None:
    s = open_session(session)
    assert s.is_complete and s.verify() == [] and s.damaged == []
    records = [r for r in s.records if r["type"] == "frame" and r["pass"] == "dark"]
    assert sorted(r["index"] for r in records) == list(range(planned))
    assert sorted(p.name for p in (session / "dark").iterdir()) == sorted(
        Path(r["path"]).name for r in records
    )


def test_one_bad_byte_mid_journal(tmp_path, caplog):
    session = tmp_path / "s"
    _burst(session)
    n = _frame_line(session, 2)
    lines = _lines(session)
    lines[n] = lines[n][:20] + b"\xff" + lines[n][21:]  # one bad byte
    (session / "journal.jsonl").write_bytes(b"\n".join(lines))
    damaged = (session / "journal.jsonl").read_bytes()

    # reading keeps every valid record and names the damaged line
    s = open_session(session)
    assert [f.index for f in s.frames("dark")] == [0, 1, 3, 4, 5]
    assert [d.line for d in s.damaged] == [n + 1]
    assert f"line {n + 1} (" in caplog.text and "capture repair" in caplog.text
    assert s.warnings[-1].code == "journal_damaged"

    # writers refuse, appending nothing, and name `capture repair`
    for args in (["resume", session], ["reference", *SIM, "--iso", "2000", "--session", session]):
        r = invoke(*args)
        assert r.exit_code == 1, r.output
        assert f"capture repair {session}" in " ".join(r.output.split())
        assert (session / "journal.jsonl").read_bytes() == damaged

    r = invoke("repair", session)
    assert r.exit_code == 0, r.output
    # the original is kept beside the new journal, byte for byte
    (backup,) = session.glob("journal.jsonl.damaged-*")
    assert backup.read_bytes() == damaged
    s = open_session(session)
    assert s.damaged == []
    last = s.records[-1]
    assert last["what"] == "repair" and [d["line"] for d in last["damaged_lines"]] == [n + 1]
    assert last["files_moved"][0]["file"] == "dark/0002.dng"
    assert (session / last["files_moved"][0]["to"]).is_file()  # kept, never deleted
    assert s.remaining("dark") == [2]
    assert "journal_repaired" in [w.code for w in s.warnings]

    r = invoke("resume", session)
    assert r.exit_code == 0, r.output
    _assert_whole(session, 6)


def test_a_torn_last_line_ending_with_a_newline_needs_repair(tmp_path):
    session = tmp_path / "s"
    _burst(session, frames=3, plan=5)
    with open(session / "journal.jsonl", "ab") as fh:
        fh.write(b'{"type":"frame","pass":"da\n')  # torn, yet newline-terminated
    before = (session / "journal.jsonl").read_bytes()
    s = open_session(session)
    assert [(d.last, d.newline, d.torn) for d in s.damaged] == [(True, True, False)]
    r = invoke("resume", session)
    assert r.exit_code == 1 and "capture repair" in r.output
    assert (session / "journal.jsonl").read_bytes() == before, "nothing appended after it"
    assert invoke("repair", session).exit_code == 0
    r = invoke("resume", session)
    assert r.exit_code == 0, r.output
    _assert_whole(session, 5)


def test_a_torn_last_line_without_newline_is_cut_by_the_next_writer(tmp_path):
    session = tmp_path / "s"
    _burst(session, frames=3, plan=4)
    with open(session / "journal.jsonl", "ab") as fh:
        fh.write(b'{"type":"frame","pass":"da')
    assert [d.torn for d in open_session(session).damaged] == [True]
    r = invoke("resume", session)
    assert r.exit_code == 0, r.output
    _assert_whole(session, 4)


def test_a_record_whose_newline_was_lost_is_ended_not_glued_onto(tmp_path):
    session = tmp_path / "s"
    _burst(session, frames=2, plan=3)
    data = (session / "journal.jsonl").read_bytes()
    (session / "journal.jsonl").write_bytes(data[:-1])  # a whole record, no newline
    assert invoke("resume", session).exit_code == 0
    _assert_whole(session, 3)


def test_repair_of_an_intact_session_changes_nothing(tmp_path):
    session = tmp_path / "s"
    _burst(session, frames=3)
    before = _tree(session)
    r = invoke("repair", session)
    assert r.exit_code == 0, r.output
    assert "nothing to repair" in r.output and "intact" in r.output
    assert _tree(session) == before


def test_repair_unvouches_a_replaced_frame_and_resume_shoots_it_again(tmp_path):
    session = tmp_path / "s"
    s = _burst(session)
    f3, f5 = s.frames("dark")[3], s.frames("dark")[5]
    shutil.copyfile(session / f5.path, session / f3.path)  # same size, other pixels
    r = invoke("resume", session)
    assert r.exit_code == 1 and "capture repair" in r.output
    r = invoke("repair", session)
    assert r.exit_code == 0, r.output
    last = open_session(session).records[-1]
    (u,) = last["frames_unvouched"]
    assert (u["index"], u["problem"], u["expected"], u["found"]) == (
        3,
        "hash_mismatch",
        f3.sha256,
        f5.sha256,
    )
    assert last["files_moved"][0]["file"] == "dark/0003.dng"
    assert invoke("resume", session).exit_code == 0
    _assert_whole(session, 6)
    new3 = open_session(session).frames("dark")[3]
    assert new3.sha256 not in (f3.sha256, f5.sha256)


def test_repair_keeps_one_record_per_index(tmp_path):
    """Two writers at once (before sessions were locked) journalled index 4 twice."""
    session = tmp_path / "s"
    _burst(session)
    lines = _lines(session)
    dup = json.loads(lines[_frame_line(session, 4)])
    dup["sha256"] = "0" * 64  # the other writer's frame, whose file this one replaced
    with open(session / "journal.jsonl", "ab") as fh:
        fh.write(json.dumps(dup).encode() + b"\n")
    s = open_session(session)
    assert len([f for f in s.frames("dark") if f.index == 4]) == 2
    assert s.duplicates == [("dark", 4)]
    assert s.warnings[-1].code == "duplicate_frames"
    assert invoke("repair", session).exit_code == 0
    s = open_session(session)
    assert [f.index for f in s.frames("dark")] == list(range(6))
    (u,) = s.records[-1]["frames_unvouched"]
    assert (u["index"], u["problem"]) == (4, "duplicate")
    assert s.verify() == [] and s.duplicates == []


def test_after_repair_resume_and_curation_work(tmp_path):
    from curate.pipeline import align_session  # curation reads sessions as later stages do

    session = tmp_path / "s"
    sim = ["--camera", "sim", "--sim-size", "64x96"]
    r = invoke("burst", *sim, "--iso", "2000", "--frames", 4, "--session", session, "--scene", "d")
    assert r.exit_code == 0, r.output
    r = invoke("reference", *sim, "--iso", "2000", "--shutter", "10", "--session", session)
    assert r.exit_code == 0, r.output
    lines = _lines(session)
    n = _frame_line(session, 1)
    lines[n] = b"\x00" * len(lines[n])  # a block of zeros, as a power cut can leave
    (session / "journal.jsonl").write_bytes(b"\n".join(lines))
    assert invoke("repair", session).exit_code == 0
    assert invoke("resume", session).exit_code == 0
    _assert_whole(session, 4)
    assert align_session(session).is_file()
