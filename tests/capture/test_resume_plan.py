"""capture.resume: resume planning and the static-session checks, called directly (no CLI,
no device)."""

from __future__ import annotations

import pytest

from capture.errors import BadRequest, SessionError, SessionExists, SessionLocked
from capture.protocols import Applied, CameraInfo, Exposure, Shot
from capture.resume import (
    ResumePlan,
    check_static_session,
    finish_if_complete,
    open_static_session,
    plan_resume,
    shots_so_far,
)
from capture.session import SessionWriter, open_session

REAL = CameraInfo(make="Sony", model="DSC-RX100M6", port="usb:001,002", driver="gphoto2")
SIM = CameraInfo(make="Sony", model="DSC-RX100M6", port="sim", driver="sim")
APPLIED = Applied(iso=2000, shutter="1/30", shutter_s=1 / 30, aperture=None)
EXPOSURE = Exposure(iso=2000, shutter="1/30")


def _pass(frames: int, angles=None) -> dict:
    mode = "burst" if angles is None else "step"
    return {"frames": frames, "iso": 2000, "shutter": "1/30", "aperture": None, "mode": mode,
            "angles": angles}  # fmt: skip


def _session(
    tmp_path, *, kind="static", camera=REAL, passes=None, turntable=None, sim=None, order=None
):
    passes = passes or {"dark": _pass(3)}
    return SessionWriter.create(
        tmp_path / "s",
        scene="desk",
        kind=kind,
        camera=camera,
        plan={"passes": passes, "order": order or [p for p in ("dark", "bright") if p in passes]},
        turntable=turntable,
        sim=sim,
    )


def _shoot(w: SessionWriter, pass_: str, indices) -> None:
    for i in indices:
        shot = Shot(name=f"DSC{i:05d}.ARW", data=f"{pass_} {i}".encode() * 50, t_start=i, t_end=i)
        w.write_frame(pass_, i, shot, requested=EXPOSURE, applied=APPLIED, angle=None)


def test_shots_so_far_counts_frames_of_every_pass_and_preroll(tmp_path):
    w = _session(tmp_path, passes={"dark": _pass(3), "bright": _pass(2)})
    assert shots_so_far(w.session) == 0
    _shoot(w, "dark", [0, 1])
    _shoot(w, "bright", [0])
    pre = Shot(name="P.ARW", data=b"pre", t_start=0, t_end=0)
    w.write_preroll("dark", pre, applied=APPLIED, angle=None)
    assert shots_so_far(w.session) == 4
    assert shots_so_far(open_session(w.path)) == 4


def test_plan_of_a_half_shot_real_session(tmp_path):
    w = _session(tmp_path, passes={"dark": _pass(3), "bright": _pass(2)})
    _shoot(w, "dark", [0, 2])
    plan = plan_resume(w.session)
    assert plan == ResumePlan(
        remaining={"dark": 1, "bright": 2}, camera="auto", sim=None, turntable=None,
        shutter_count=2,
    )  # fmt: skip
    assert plan.passes == ["dark", "bright"] and plan.frames == 3 and not plan.done
    # the camera asked for wins; a turntable asked for is ignored when no pass left turns
    asked = plan_resume(w.session, camera="usb:001,009", turntable="/dev/ttyACM0")
    assert asked.camera == "usb:001,009" and asked.turntable is None


def test_plan_follows_the_plans_order_and_keeps_the_sim_settings(tmp_path):
    sim = {"size": [48, 64], "seed": 7, "lux": 1.0}
    passes = {"dark": _pass(2), "bright": _pass(1)}
    w = _session(tmp_path, camera=SIM, passes=passes, sim=sim, order=["bright", "dark"])
    plan = plan_resume(w.session)
    assert plan.passes == ["bright", "dark"]
    assert plan.camera == "sim" and plan.sim == sim


def test_plan_of_a_sweep_names_the_recorded_turntable_unless_asked(tmp_path):
    w = _session(
        tmp_path,
        kind="sweep",
        passes={"dark": _pass(2, angles=[0.0, 1.0]), "bright": _pass(1, angles=[0.0])},
        turntable={"port": "/dev/ttyUSB0", "steps": 1},
    )
    _shoot(w, "dark", [0, 1])
    assert plan_resume(w.session).turntable == "/dev/ttyUSB0"
    assert plan_resume(w.session, turntable="sim").turntable == "sim"
    assert plan_resume(w.session).remaining == {"bright": 1}


def test_a_finished_session_plans_nothing_and_is_ended_once(tmp_path):
    w = _session(tmp_path)
    _shoot(w, "dark", range(3))
    plan = plan_resume(w.session)
    assert plan.done and plan.passes == [] and plan.frames == 0
    assert not w.session.is_complete  # no stop record yet
    assert finish_if_complete(w) is True
    assert w.session.is_complete
    assert w.session.last_stop.exit_status == "success"
    assert finish_if_complete(w) is False
    assert len(w.session.stops) == 1


def test_a_changed_frame_stops_the_plan_naming_capture_repair(tmp_path):
    w = _session(tmp_path)
    _shoot(w, "dark", [0])
    (w.path / "dark" / "0000.arw").write_bytes(b"edited")
    with pytest.raises(SessionError, match=r"1 problem\(s\): dark/0000.arw.*capture repair"):
        plan_resume(w.session)


def test_an_interrupted_import_has_no_camera_to_resume(tmp_path):
    w = SessionWriter.create(
        tmp_path / "s",
        scene="desk",
        kind="static",
        camera=REAL,
        plan={"passes": {"dark": _pass(2)}, "order": ["dark"]},
        extra={"import": {"passes": {}, "link": False}},
    )
    with pytest.raises(BadRequest, match="same `capture import` again"):
        plan_resume(w.session)


def test_a_static_pass_may_join_a_static_session_of_its_scene(tmp_path):
    w = _session(tmp_path)
    check_static_session(w.session, scene="desk", pass_="bright")
    check_static_session(w.session, scene=None, pass_="bright")
    with pytest.raises(SessionExists, match="belongs to scene 'desk', not 'hall'"):
        check_static_session(w.session, scene="hall", pass_="bright")
    with pytest.raises(SessionExists, match=r"already has a dark pass.*capture resume"):
        check_static_session(w.session, scene="desk", pass_="dark")


def test_a_static_pass_never_joins_a_sweep(tmp_path):
    w = _session(tmp_path, kind="sweep", passes={"dark": _pass(1, angles=[0.0])})
    with pytest.raises(SessionExists, match="found a sweep session"):
        check_static_session(w.session, scene="desk", pass_="bright")


def test_open_static_session(tmp_path):
    assert (
        open_static_session(tmp_path / "new", scene="desk", pass_="dark", command="burst") is None
    )
    _session(tmp_path).close()
    w = open_static_session(tmp_path / "s", scene="desk", pass_="bright", command="reference")
    assert w is not None
    with w, pytest.raises(SessionLocked):
        SessionWriter(tmp_path / "s")
    # a refusal releases the lock it took
    with pytest.raises(SessionExists):
        open_static_session(tmp_path / "s", scene="hall", pass_="bright", command="reference")
    SessionWriter(tmp_path / "s").close()
