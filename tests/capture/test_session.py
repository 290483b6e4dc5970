"""The session format: creation, atomic frames, the append-only journal, refusal to overwrite."""

from __future__ import annotations

import hashlib
import json

import pytest

from capture.errors import JournalDamaged, SessionError, SessionExists
from capture.protocols import Applied, CameraInfo, Exposure, Shot
from capture.session import SessionWriter, open_session, read_journal, serial_hash

INFO = CameraInfo(
    make="Sony", model="DSC-RX100M6", port="usb:001,002", driver="gphoto2", serial="1234567"
)
PLAN = {
    "passes": {
        "dark": {
            "frames": 3,
            "iso": 2000,
            "shutter": "1/30",
            "aperture": None,
            "mode": "burst",
            "angles": None,
        }
    },
    "order": ["dark"],
}
APPLIED = Applied(iso=2000, shutter="1/30", shutter_s=1 / 30, aperture="3.5")


def _shot(i: int) -> Shot:
    return Shot(name=f"DSC{i:05d}.ARW", data=f"frame {i}".encode() * 100, t_start=i, t_end=i + 0.1)


def _writer(tmp_path):
    return SessionWriter.create(
        tmp_path / "s",
        scene="desk",
        kind="static",
        camera=INFO,
        plan=PLAN,
        lighting="desk lamp, dimmed",
        lux=1.2,
    )


def test_create_writes_documented_metadata(tmp_path):
    w = _writer(tmp_path)
    meta = json.loads((w.path / "session.json").read_text())
    assert meta["schema"] == 1
    assert meta["scene"] == "desk" and meta["kind"] == "static" and meta["lux"] == 1.2
    assert meta["camera"]["serial_sha256"] == serial_hash("1234567")
    assert "1234567" not in (w.path / "session.json").read_text()
    assert meta["session_id"].startswith("desk-")
    assert meta["tool"]["name"] == "sublux"


def test_serial_hash_is_salted(monkeypatch):
    a = serial_hash("1234567")
    monkeypatch.setenv("SUBLUX_SALT", "another lab")
    assert serial_hash("1234567") != a
    assert a != hashlib.sha256(b"1234567").hexdigest()
    assert serial_hash(None) is None


def test_frames_are_journalled_with_checksums(tmp_path):
    w = _writer(tmp_path)
    w.start("burst", ["dark"])
    for i in range(2):
        w.write_frame(
            "dark",
            i,
            _shot(i),
            requested=Exposure(iso=2000, shutter="1/30"),
            applied=APPLIED,
            angle=None,
        )
    s = open_session(w.path)
    frames = s.frames("dark")
    assert [f.index for f in frames] == [0, 1]
    assert frames[0].path == "dark/0000.arw"
    assert frames[1].sha256 == hashlib.sha256(_shot(1).data).hexdigest()
    assert frames[0].iso == 2000 and frames[0].shutter_s == pytest.approx(1 / 30)
    assert s.remaining("dark") == [2]
    assert not s.is_complete
    assert s.verify() == []
    assert not list(w.path.glob("dark/*.part")), "no temporary file may be left behind"


def test_a_writers_session_knows_its_frames_as_they_are_journalled(tmp_path, monkeypatch):
    # the writer's own session answers frames() after every frame without parsing the journal
    # again; a reader parses each frame once, not once per question
    from capture import session as sessionmod

    parsed = []
    real = sessionmod.FrameRecord.from_json
    monkeypatch.setattr(
        sessionmod.FrameRecord, "from_json", staticmethod(lambda r: parsed.append(1) or real(r))
    )
    w = _writer(tmp_path)
    w.start("burst", ["dark"])
    s = w.session
    assert s.frames("dark") == [] and s.remaining("dark") == [0, 1, 2]
    done: list[int] = []
    for i in (1, 0, 2):  # out of order: frames() stays in index order
        w.write_frame("dark", i, _shot(i), requested=Exposure(), applied=APPLIED, angle=None)
        # asked after every frame, as the capture loop does: in index order, whatever the
        # order journalled
        done.append(i)
        assert [f.index for f in s.frames("dark")] == sorted(done)
    assert [f.index for f in s.frames("dark")] == [0, 1, 2]
    assert s.remaining("dark") == []
    assert parsed == []  # the writer hands its typed records over: nothing parsed back
    s.frames("dark").clear()  # a copy: the caller may change it
    assert [f.index for f in s.frames("dark")] == [0, 1, 2]
    # a fresh reader parses each journalled frame once, however often it is asked, and
    # agrees with the writer's session record for record
    fresh = open_session(w.path)
    assert fresh.frames("dark") == fresh.frames("dark") == s.frames("dark")
    assert len(parsed) == 3


def test_complete_needs_all_frames_and_success(tmp_path):
    w = _writer(tmp_path)
    w.start("burst", ["dark"])
    for i in range(3):
        w.write_frame("dark", i, _shot(i), requested=Exposure(), applied=APPLIED, angle=None)
    assert not open_session(w.path).is_complete
    w.stop("success")
    assert open_session(w.path).is_complete


def test_torn_last_line_is_tolerated(tmp_path):
    w = _writer(tmp_path)
    w.start("burst", ["dark"])
    w.write_frame("dark", 0, _shot(0), requested=Exposure(), applied=APPLIED, angle=None)
    with open(w.path / "journal.jsonl", "a") as fh:
        fh.write('{"type": "frame", "pass": "da')  # power cut mid-append
    recs = read_journal(w.path / "journal.jsonl")
    assert [r["type"] for r in recs] == ["start", "frame"]
    assert len(open_session(w.path).frames("dark")) == 1


def test_appending_after_a_torn_last_line_cuts_it_and_keeps_it(tmp_path):
    w = _writer(tmp_path)
    w.start("burst", ["dark"])
    w.write_frame("dark", 0, _shot(0), requested=Exposure(), applied=APPLIED, angle=None)
    torn = '{"type": "frame", "pass": "da'
    with open(w.path / "journal.jsonl", "a") as fh:
        fh.write(torn)  # power cut mid-append
    # resume: a new writer, then more records after the fragment
    w.close()
    w2 = SessionWriter(w.path)
    w2.start("resume", ["dark"])
    for i in (1, 2):
        w2.write_frame("dark", i, _shot(i), requested=Exposure(), applied=APPLIED, angle=None)
    w2.stop("success")
    w2.close()
    s = open_session(w.path)
    assert [f.index for f in s.frames("dark")] == [0, 1, 2]
    assert s.is_complete
    cut = [r for r in s.records if r.get("what") == "cut_torn_journal_line"]
    assert len(cut) == 1 and cut[0]["bytes"] == len(torn)
    assert (w.path / cut[0]["to"]).read_text() == torn
    # a journal that ends cleanly is left as it is
    before = (w.path / "journal.jsonl").read_bytes()
    SessionWriter(w.path)
    assert (w.path / "journal.jsonl").read_bytes() == before


def test_damage_before_the_end_is_skipped_on_read_and_refused_by_writers(tmp_path):
    w = _writer(tmp_path)
    w.start("burst", ["dark"])
    w.stop("abort", "test")
    w.close()
    lines = (w.path / "journal.jsonl").read_text().splitlines()
    (w.path / "journal.jsonl").write_text("garbage\n" + "\n".join(lines) + "\n")
    s = open_session(w.path)
    assert [r["type"] for r in s.records] == ["start", "stop"]
    assert [(d.line, d.size, d.newline) for d in s.damaged] == [(1, 7, True)]
    assert [x.code for x in s.warnings] == ["journal_damaged"]
    before = (w.path / "journal.jsonl").read_bytes()
    with pytest.raises(JournalDamaged, match=r"line 1 \(7 bytes.*capture repair") as exc:
        SessionWriter(w.path)
    assert [d.line for d in exc.value.damaged] == [1]
    assert (w.path / "journal.jsonl").read_bytes() == before


def test_verify_finds_changed_and_missing_frames(tmp_path):
    w = _writer(tmp_path)
    w.start("burst", ["dark"])
    for i in range(2):
        w.write_frame("dark", i, _shot(i), requested=Exposure(), applied=APPLIED, angle=None)
    (w.path / "dark/0000.arw").write_bytes(b"x" * len(_shot(0).data))
    (w.path / "dark/0001.arw").unlink()
    problems = open_session(w.path).verify()
    assert any("0000" in p and "sha256" in p for p in problems)
    assert any("0001" in p and "missing" in p for p in problems)


def test_never_overwrites_a_session_or_a_frame(tmp_path):
    w = _writer(tmp_path)
    before = (w.path / "session.json").read_bytes()
    with pytest.raises(SessionExists, match="another session"):
        _writer(tmp_path)
    assert (w.path / "session.json").read_bytes() == before
    w.write_frame("dark", 0, _shot(0), requested=Exposure(), applied=APPLIED, angle=None)
    with pytest.raises(SessionExists, match="refusing to overwrite"):
        w.write_frame("dark", 0, _shot(5), requested=Exposure(), applied=APPLIED, angle=None)
    assert (w.path / "dark/0000.arw").read_bytes() == _shot(0).data


def test_strays_are_set_aside_not_deleted(tmp_path):
    w = _writer(tmp_path)
    w.write_frame("dark", 0, _shot(0), requested=Exposure(), applied=APPLIED, angle=None)
    (w.path / "dark/0001.arw").write_bytes(b"whole but never journalled")
    (w.path / "dark/.0002.arw.abc.part").write_bytes(b"half a down")
    moved = w.set_aside_strays()
    assert sorted(moved) == ["dark/.0002.arw.abc.part", "dark/0001.arw"]
    kept = sorted(p.read_bytes() for p in (w.path / "unjournaled").iterdir())
    assert kept == [b"half a down", b"whole but never journalled"]
    assert (w.path / "dark/0000.arw").exists()
    events = [r for r in read_journal(w.path / "journal.jsonl") if r["type"] == "event"]
    assert len(events) == 2


def test_a_part_file_in_preroll_is_set_aside_a_whole_preroll_file_stays(tmp_path):
    w = _writer(tmp_path)
    (w.path / "preroll").mkdir()
    (w.path / "preroll/.dark-0000.dng.abc.part").write_bytes(b"half a pre-roll frame")
    (w.path / "preroll/dark-0001.dng").write_bytes(b"whole, killed before its record")
    assert w.set_aside_strays() == ["preroll/.dark-0000.dng.abc.part"]
    assert [p.read_bytes() for p in (w.path / "unjournaled").iterdir()] == [
        b"half a pre-roll frame"
    ]
    assert [p.name for p in (w.path / "preroll").iterdir()] == ["dark-0001.dng"]


def test_not_a_session(tmp_path):
    with pytest.raises(SessionError, match="not a sublux session"):
        open_session(tmp_path)
    with pytest.raises(SessionError, match="found nothing"):
        open_session(tmp_path / "nope")


def test_read_frame_checks_bytes_against_the_journal(tmp_path):
    from capture.errors import FrameMismatch

    w = _writer(tmp_path)
    for i in range(3):
        w.write_frame(
            "dark", i, _shot(i), requested=Exposure(2000, "1/30"), applied=APPLIED, angle=None
        )
    s = open_session(w.path)
    f0, f1, f2 = s.frames("dark")
    assert s.read_frame(f0) == _shot(0).data
    # a same-sized copy of another frame: only the hash tells
    (w.path / f1.path).write_bytes((w.path / f2.path).read_bytes())
    with pytest.raises(FrameMismatch) as exc:
        s.read_frame(f1)
    assert exc.value.problem == "hash_mismatch"
    assert exc.value.expected == f1.sha256 and exc.value.found == f2.sha256
    (w.path / f2.path).write_bytes(b"short")
    with pytest.raises(FrameMismatch, match=r"expected .* bytes") as exc:
        s.read_frame(f2)
    assert exc.value.problem == "size"
    (w.path / f0.path).unlink()
    with pytest.raises(FrameMismatch, match="missing") as exc:
        s.read_frame(f0)
    assert exc.value.problem == "missing"


def test_warnings_are_journalled_events(tmp_path):
    w = _writer(tmp_path)
    w.warn("behind_plan", "the camera fell behind", fps=7.6)
    w.record("event", what="resume")
    s = open_session(w.path)
    assert [(r.code, r.details["fps"]) for r in s.warnings] == [("behind_plan", 7.6)]
    assert not s.simulated
