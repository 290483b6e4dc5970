"""The session's records, typed: :class:`capture.session.FrameRecord` (the journal's frames),
:class:`~capture.session.WarningRecord` and :class:`~capture.session.StopRecord` (its warnings
and stops) and :class:`capture.session.SessionCamera` (session.json's camera) round trip, and
the journal lines the writer, the importer and the repair write stay byte for byte those of
sublux 0.1.0 (the lines below were written by the code before the records were typed)."""

from __future__ import annotations

import json
import time

import pytest

from capture.errors import MalformedRecord, SessionError
from capture.protocols import CameraInfo, Exposure, Shot
from capture.session import (
    EXIT_STATUSES,
    FRAME_KEYS,
    STOP_KEYS,
    VIDEO_KEYS,
    WARNING_KEYS,
    FrameRecord,
    SessionCamera,
    SessionWriter,
    StopRecord,
    VideoRecord,
    WarningRecord,
    open_session,
)
from tests.capture.test_session import APPLIED, INFO, PLAN

# Written by SessionWriter.write_frame before FrameRecord.to_json existed (time.time() fixed at
# 1790000000.5): a plain frame, then one with ``extra`` and ``turntable_stopped``.
OLD_FRAME = (
    '{"type":"frame","t":1790000000.5,"pass":"dark","index":0,"path":"dark/0000.arw",'
    '"sha256":"8de9867f68105c70f29237d729614d7c9505d07143358207593086295d086340","size":700,'
    '"camera_name":"DSC00001.ARW","requested":{"iso":2000,"shutter":"1/30","aperture":null},'
    '"readback":{"iso":2000,"shutter":"1/30","shutter_s":0.03333333333333333,"aperture":"3.5",'
    '"bulb":false,"format":null},"angle":null,"t_start":1790000000.25,"t_end":1790000000.2833}'
)
OLD_STOPPED = (
    '{"type":"frame","t":1790000000.5,"pass":"dark","index":1,"path":"dark/0001.arw",'
    '"sha256":"b5f40b4df428a3b5d44393f2fbfd2487cccc1afa64a72f4cb7d170eddaf8ac89","size":700,'
    '"camera_name":"DSC00002.ARW","requested":{"iso":null,"shutter":"1/30","aperture":"3.5"},'
    '"readback":{"iso":2000,"shutter":"1/30","shutter_s":0.03333333333333333,"aperture":"3.5",'
    '"bulb":false,"format":null},"angle":2.5,"t_start":12.0,"t_end":12.5,'
    '"extra":{"note":"x"},"turntable_stopped":true}'
)
# Written by ``capture import`` before (``t`` rounded): a raw file (``imported``) and a frame
# of a video.
OLD_IMPORTED = (
    '{"type":"frame","t":1796625731.6,"pass":"dark","index":0,"path":"dark/0000.dng",'
    '"sha256":"2855a6ddee557c2d6726f3c5259df49e670ff1d6364496c7b8909ae205aa1ed1","size":13051,'
    '"camera_name":"c.dng","requested":{"iso":2000,"shutter":"1/30","aperture":"2.8"},'
    '"readback":{"iso":2000,"shutter":"1/30","shutter_s":0.03333333333333333,"aperture":"2.8",'
    '"bulb":false,"format":"DNG"},"angle":null,"t_start":1796625731.521,'
    '"t_end":1796625731.5543332,"imported":{"source":"c.dng","capture_time":1796625731.521,'
    '"make":"Sony","model":"DSC-RX100M6","serial_sha256":'
    '"bcdd4e47756a1f0e031a2f380832fdb83763da7d0e2c012b09c7f7615eb61e7b",'
    '"exposure_from":"metadata","linked":false}}'
)
OLD_VIDEO = (
    '{"type":"frame","t":1796625732.1,"pass":"dark","index":1,"path":"dark/video.mp4",'
    '"sha256":"2d46abebf4d631a03baa62efe69d7ede0bfc2e38bc7ccaa6939f0bca30600f4c","size":1177,'
    '"camera_name":"v.mp4","video_frame":1,"requested":{"iso":2000,"shutter":"1/30",'
    '"aperture":null},"readback":{"iso":2000,"shutter":"1/30",'
    '"shutter_s":0.03333333333333333,"aperture":null,"bulb":false,"format":"video"},'
    '"angle":null,"t_start":0.041666666666666664,"t_end":0.075}'
)

OLD_VIDEO_EVENT = (
    '{"type":"event","t":1796625732.05,"what":"video","pass":"dark","path":"dark/video.mp4",'
    '"sha256":"2d46abebf4d631a03baa62efe69d7ede0bfc2e38bc7ccaa6939f0bca30600f4c","size":1177,'
    '"source":"v.mp4","fps":24.0,"duration_s":0.208333,"codec":"FMP4","frame_count":5,'
    '"width":96,"height":64,"linked":false}'
)


def _line(rec: dict) -> str:
    """A record as the journal writes it (sublux_common.fsio.append_jsonl)."""
    return json.dumps(rec, separators=(",", ":"), ensure_ascii=False)


def _writer(tmp_path):
    return SessionWriter.create(tmp_path / "s", scene="desk", kind="static", camera=INFO, plan=PLAN)


def test_the_writer_journals_frames_byte_for_byte_as_before(tmp_path, monkeypatch):
    w = _writer(tmp_path)
    monkeypatch.setattr(time, "time", lambda: 1790000000.5)
    first = w.write_frame(
        "dark",
        0,
        Shot(
            name="DSC00001.ARW",
            data=b"frame 0" * 100,
            t_start=1790000000.25,
            t_end=1790000000.2833,
        ),
        requested=Exposure(iso=2000, shutter="1/30", aperture=None),
        applied=APPLIED,
        angle=None,
    )
    second = w.write_frame(
        "dark",
        1,
        Shot(name="DSC00002.ARW", data=b"frame 1" * 100, t_start=12.0, t_end=12.5),
        requested=Exposure(iso=None, shutter="1/30", aperture="3.5"),
        applied=APPLIED,
        angle=2.5,
        extra={"note": "x"},
        turntable_stopped=True,
    )
    monkeypatch.undo()
    w.close()
    lines = (tmp_path / "s" / "journal.jsonl").read_text().splitlines()
    assert lines == [OLD_FRAME, OLD_STOPPED]
    # what write_frame returns is what the journal holds, and what a reader gets back
    assert first.t == 1790000000.5 and second.turntable_stopped and second.extra == {"note": "x"}
    assert open_session(tmp_path / "s").frames("dark") == [first, second]


@pytest.mark.parametrize("line", [OLD_FRAME, OLD_STOPPED, OLD_IMPORTED, OLD_VIDEO])
def test_every_kind_of_frame_line_reads_and_writes_back_byte_for_byte(line):
    rec = json.loads(line)
    frame = FrameRecord.from_json(rec)
    assert frame.to_json() == rec
    assert list(frame.to_json()) == list(rec)  # the same keys in the same order
    assert _line(frame.to_json()) == line
    assert FrameRecord.from_json(frame.to_json()) == frame
    assert list(rec) == [k for k in FRAME_KEYS if k in rec]


def test_typed_fields_of_a_read_frame():
    video = FrameRecord.from_json(json.loads(OLD_VIDEO))
    assert (video.pass_, video.index, video.video_frame) == ("dark", 1, 1)
    assert video.name == "video.mp4#000001"
    assert (video.iso, video.shutter_s, video.aperture) == (2000, 1 / 30, None)
    assert video.imported is None and video.extra is None and not video.turntable_stopped
    raw = FrameRecord.from_json(json.loads(OLD_IMPORTED))
    assert raw.name == "0000.dng" and raw.imported["source"] == "c.dng"
    assert raw.readback["format"] == "DNG" and raw.aperture == "2.8"


def test_a_frame_built_in_code_round_trips():
    frame = FrameRecord(
        pass_="bright",
        index=3,
        path="bright/0003.dng",
        sha256="ab" * 32,
        size=12,
        angle=4.0,
        t_start=1,
        t_end=11,
        camera_name="DSC00004.DNG",
        requested={"iso": 100, "shutter": "10", "aperture": None},
        readback={"iso": 100, "shutter": "10", "shutter_s": 10.0, "aperture": None},
    )
    rec = frame.to_json()
    assert "t" not in rec and "extra" not in rec and "turntable_stopped" not in rec
    assert FrameRecord.from_json(rec) == frame
    assert rec["t_start"] == 1 and isinstance(FrameRecord.from_json(rec).t_start, int)


def test_unknown_keys_are_kept_and_written_last():
    rec = {**json.loads(OLD_FRAME), "lens": "24-200"}
    frame = FrameRecord.from_json(rec)
    assert frame.other == {"lens": "24-200"}
    assert _line(frame.to_json()) == _line(rec)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"sha256": None}, "sha256"),
        ({"index": "three"}, "index"),
        ({"t_start": [1]}, "t_start"),
        ({"video_frame": "x"}, "video_frame"),
    ],
)
def test_a_malformed_frame_record_is_a_session_error_naming_the_field(change, named):
    rec = {**json.loads(OLD_FRAME), **change}
    rec = {k: v for k, v in rec.items() if v is not None}
    with pytest.raises(MalformedRecord, match=named) as info:
        FrameRecord.from_json(rec)
    assert isinstance(info.value, SessionError)
    assert "capture repair" in str(info.value)


def _shape(line: str) -> list:
    """A record's keys in order, with those of its nested objects (no values)."""
    rec = json.loads(line)
    return [(k, list(v) if isinstance(v, dict) else None) for k, v in rec.items()]


def test_capture_import_journals_frames_in_the_old_layout(tmp_path):
    from tests.capture.test_import import invoke, shoot, write_video

    shoot(tmp_path / "card", 2, names=["c.dng", "b.dng"])
    write_video(tmp_path / "v.mp4", n=3)
    r = invoke("--session", tmp_path / "raw", "--scene", "desk", "--dark", tmp_path / "card")
    assert r.exit_code == 0, r.output
    r = invoke(
        "--session",
        tmp_path / "video",
        "--scene",
        "desk",
        "--dark",
        tmp_path / "v.mp4",
        "--exposure",
        "1/30",
        "--iso",
        "2000",
    )
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "video" / "journal.jsonl").read_text().splitlines()
    (event,) = [line for line in lines if json.loads(line).get("what") == "video"]
    assert _shape(event) == _shape(OLD_VIDEO_EVENT)
    assert _line(VideoRecord.from_json(json.loads(event)).to_json()) == event
    for session, old in (("raw", OLD_IMPORTED), ("video", OLD_VIDEO)):
        lines = (tmp_path / session / "journal.jsonl").read_text().splitlines()
        frames = [line for line in lines if json.loads(line)["type"] == "frame"]
        assert frames and all(_shape(line) == _shape(old) for line in frames)
        for line in frames:
            assert _line(FrameRecord.from_json(json.loads(line)).to_json()) == line


# session.json's ``camera`` as sublux 0.1.0 wrote it (indent 2, inside the top-level object;
# the serial hash is that of "1234567" with the tests' salt, conftest.py).
OLD_CAMERA = """  "camera": {
    "make": "Sony",
    "model": "DSC-RX100M6",
    "driver": "gphoto2",
    "port": "usb:001,002",
    "serial_sha256": "99dfaa5622f409a8f2b653640512c387fd38ca5e662f2ab99b27f35b30a9d546",
    "sim": null
  },"""


def test_session_json_records_the_camera_byte_for_byte_as_before(tmp_path):
    w = _writer(tmp_path)
    w.close()
    text = (tmp_path / "s" / "session.json").read_text()
    assert OLD_CAMERA in text
    cam = open_session(tmp_path / "s").camera
    assert cam == SessionCamera.from_camera(INFO)
    assert (cam.make, cam.model, cam.driver, cam.sim, cam.simulated) == (
        "Sony",
        "DSC-RX100M6",
        "gphoto2",
        None,
        False,
    )
    meta = json.loads(text)
    assert SessionCamera.from_json(meta["camera"]).to_json() == meta["camera"]
    assert list(cam.to_json()) == list(meta["camera"])


def test_a_simulated_camera_and_an_import_of_its_files(tmp_path):
    sim = {"size": [48, 64], "seed": 7, "lux": 1.0}
    info = CameraInfo(make="Sony", model="DSC-RX100M6", port="sim", driver="sim")
    w = SessionWriter.create(
        tmp_path / "sim", scene="desk", kind="static", camera=info, plan=PLAN, sim=sim
    )
    w.close()
    s = open_session(tmp_path / "sim")
    assert s.camera.sim == sim and s.camera.serial_sha256 is None and s.simulated
    imported = CameraInfo(make="Sony", model="DSC-RX100M6", port="", driver="import")
    w = SessionWriter.create(
        tmp_path / "imp", scene="desk", kind="static", camera=imported, plan=PLAN, simulated=True
    )
    w.close()
    meta = json.loads((tmp_path / "imp" / "session.json").read_text())
    assert list(meta["camera"]) == [
        "make",
        "model",
        "driver",
        "port",
        "serial_sha256",
        "sim",
        "simulated",
    ]
    s = open_session(tmp_path / "imp")
    assert s.camera.simulated and s.simulated
    assert s.camera.to_json() == meta["camera"]
    assert SessionCamera.from_json(None) == SessionCamera(make=None, model=None, driver=None)


def test_lighting_and_lux(tmp_path):
    w = SessionWriter.create(
        tmp_path / "s",
        scene="desk",
        kind="static",
        camera=INFO,
        plan=PLAN,
        lighting="lamp",
        lux=1.5,
    )
    w.close()
    s = open_session(tmp_path / "s")
    assert (s.lighting, s.lux) == ("lamp", 1.5)
    w = _writer(tmp_path / "other")
    assert (w.session.lighting, w.session.lux) == ("", None)


def test_the_video_event_reads_and_writes_back_byte_for_byte():
    rec = json.loads(OLD_VIDEO_EVENT)
    video = VideoRecord.from_json(rec)
    assert (video.pass_, video.width, video.height, video.frame_count) == ("dark", 96, 64, 5)
    assert (video.codec, video.source, video.linked, video.t) == (
        "FMP4",
        "v.mp4",
        False,
        1796625732.05,
    )
    assert _line(video.to_json()) == OLD_VIDEO_EVENT
    assert list(video.to_json()) == list(VIDEO_KEYS)
    assert VideoRecord.from_json(video.to_json()) == video


def test_a_video_event_without_its_size_is_malformed():
    rec = json.loads(OLD_VIDEO_EVENT)
    del rec["width"]
    with pytest.raises(MalformedRecord, match="found no width"):
        VideoRecord.from_json(rec)


def test_session_video_is_typed(tmp_path):
    w = _writer(tmp_path)
    assert w.session.video("dark") is None
    written = w.append(VideoRecord.from_json({**json.loads(OLD_VIDEO_EVENT), "t": None}))
    assert written.t is not None
    w.close()
    assert open_session(tmp_path / "s").video("dark") == written
    assert open_session(tmp_path / "s").video("bright") is None


# Written by SessionWriter.warn / SessionWriter.stop before WarningRecord and StopRecord existed
# (time.time() fixed at 1790000000.5): a warning with details, one with only its message (and
# characters JSON and HTML treat specially), a stop asked for by a signal, a success.
OLD_WARNING = (
    '{"type":"event","t":1790000000.5,"what":"warning","code":"sweep_behind_plan",'
    '"message":"the camera fell behind: 3 of 13 frames shot standing still at 6°",'
    '"pass":"dark","planned_fps":4.0,"preroll_fps":8.0,"measured_fps":null,'
    '"frames_after_stop":3,"first_after_stop":10}'
)
OLD_PLAIN_WARNING = (
    '{"type":"event","t":1790000000.5,"what":"warning","code":"video_with_raw_references",'
    '"message":"the dark pass is a video (8-bit sRGB, \\"rendered\\") & the references <raw>"}'
)
OLD_ABORT = (
    '{"type":"stop","t":1790000000.5,"exit_status":"abort",'
    '"reason":"stopped by the user (Ctrl-C / SIGINT) after frame 3"}'
)
OLD_SUCCESS = '{"type":"stop","t":1790000000.5,"exit_status":"success","reason":""}'
# Written by ``capture repair`` before (the backup's name shortened).
OLD_REPAIRED = (
    '{"type":"event","t":1790000000.5,"what":"warning","code":"journal_repaired",'
    '"message":"`capture repair` dropped 1 damaged journal line(s) (kept in '
    'journal.jsonl.damaged-20261207T071340105244Z); what they held is unknown","lines":[1]}'
)


def test_the_writer_journals_warnings_and_stops_byte_for_byte_as_before(tmp_path, monkeypatch):
    w = _writer(tmp_path)
    monkeypatch.setattr(time, "time", lambda: 1790000000.5)
    details = {"pass": "dark", "planned_fps": 4.0, "preroll_fps": 8.0, "measured_fps": None}
    behind = w.warn(
        "sweep_behind_plan",
        "the camera fell behind: 3 of 13 frames shot standing still at 6°",
        **details,
        frames_after_stop=3,
        first_after_stop=10,
    )
    plain = w.warn(
        "video_with_raw_references",
        'the dark pass is a video (8-bit sRGB, "rendered") & the references <raw>',
    )
    abort = w.stop("abort", "stopped by the user (Ctrl-C / SIGINT) after frame 3")
    success = w.stop("success")
    monkeypatch.undo()
    w.close()
    lines = (tmp_path / "s" / "journal.jsonl").read_text().splitlines()
    assert lines == [OLD_WARNING, OLD_PLAIN_WARNING, OLD_ABORT, OLD_SUCCESS]
    # what warn and stop return is what the journal holds, and what a reader gets back
    s = open_session(tmp_path / "s")
    assert s.warnings == [behind, plain]
    assert s.stops == [abort, success] and s.last_stop == success
    assert behind.details["frames_after_stop"] == 3 and plain.details == {}
    assert (abort.exit_status, abort.success, success.success) == ("abort", False, True)


@pytest.mark.parametrize("line", [OLD_WARNING, OLD_PLAIN_WARNING, OLD_REPAIRED])
def test_every_kind_of_warning_line_reads_and_writes_back_byte_for_byte(line):
    rec = json.loads(line)
    warning = WarningRecord.from_json(rec)
    assert warning.to_json() == rec and list(warning.to_json()) == list(rec)
    assert _line(warning.to_json()) == line
    assert list(warning.to_json())[: len(WARNING_KEYS)] == list(WARNING_KEYS)
    assert WarningRecord.from_json(warning.to_json()) == warning
    assert warning.code == rec["code"] and not hasattr(warning, "get")  # attributes only


@pytest.mark.parametrize("line", [OLD_ABORT, OLD_SUCCESS])
def test_every_stop_line_reads_and_writes_back_byte_for_byte(line):
    rec = json.loads(line)
    stop = StopRecord.from_json(rec)
    assert _line(stop.to_json()) == line
    assert list(stop.to_json()) == list(STOP_KEYS)
    assert StopRecord.from_json(stop.to_json()) == stop
    assert stop.exit_status in EXIT_STATUSES and stop.t == 1790000000.5


def test_typed_fields_of_a_read_warning_and_stop():
    w = WarningRecord.from_json(json.loads(OLD_WARNING))
    assert (w.code, w.t) == ("sweep_behind_plan", 1790000000.5)
    assert w.message.endswith("at 6°")
    assert list(w.details) == [
        "pass",
        "planned_fps",
        "preroll_fps",
        "measured_fps",
        "frames_after_stop",
        "first_after_stop",
    ]
    s = StopRecord.from_json(json.loads(OLD_ABORT))
    assert (s.exit_status, s.reason, s.other) == (
        "abort",
        "stopped by the user (Ctrl-C / SIGINT) after frame 3",
        {},
    )


def test_unknown_keys_of_a_stop_are_kept_and_written_last():
    rec = {**json.loads(OLD_SUCCESS), "signal": "SIGTERM"}
    stop = StopRecord.from_json(rec)
    assert stop.other == {"signal": "SIGTERM"}
    assert list(stop.to_json()) == [*STOP_KEYS, "signal"] and stop.to_json() == rec


def test_a_hand_edited_warning_or_stop_without_its_fields_reads_as_empty_text():
    w = WarningRecord.from_json({"type": "event", "what": "warning", "code": None})
    assert (w.code, w.message, w.t, w.details) == ("", "", None, {})
    s = StopRecord.from_json({"type": "stop", "exit_status": 3})
    assert (s.exit_status, s.reason, s.success) == ("3", "", False)


def test_warnings_the_reader_finds_are_not_journalled_and_have_no_time(tmp_path):
    w = _writer(tmp_path)
    w.close()
    journal = tmp_path / "s" / "journal.jsonl"
    journal.write_bytes(journal.read_bytes() + b"garbage\n" + OLD_SUCCESS.encode() + b"\n")
    (found,) = open_session(tmp_path / "s").warnings
    assert (found.code, found.t, found.details) == ("journal_damaged", None, {"lines": [1]})
    assert list(found.to_json()) == ["type", "what", "code", "message", "lines"]


@pytest.mark.parametrize(
    ("line", "record"),
    [
        (OLD_FRAME, FrameRecord),
        (OLD_VIDEO_EVENT, VideoRecord),
        (OLD_WARNING, WarningRecord),
        (OLD_ABORT, StopRecord),
    ],
)
def test_a_record_without_a_time_writes_its_type_first_and_no_t(line, record):
    rec = json.loads(line)
    untimed = {k: v for k, v in rec.items() if k != "t"}
    assert list(record.from_json(untimed).to_json()) == list(untimed)  # type first, then as read
    assert record.from_json(rec).to_json() == rec  # with its time: t right after type
    assert list(rec)[:2] == ["type", "t"]
