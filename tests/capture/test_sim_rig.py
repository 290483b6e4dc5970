"""The one simulated-rig helper (:mod:`capture.sim.rig`): settings, rig, sessions, card files."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from capture import cli
from capture.errors import BadRequest, CaptureError, SessionError
from capture.protocols import Exposure
from capture.session import open_session
from capture.sim.camera import SimCamera
from capture.sim.clock import SimClock
from capture.sim.objects import Light, MovingObject, parse_spec
from capture.sim.rig import (
    ScriptedCamera,
    SimRig,
    SimSettings,
    shoot_files,
    simulated_session,
    static_plan,
)

SIZE = (48, 64)


def _frames(path, pass_=None):
    return [
        r
        for r in open_session(path).records
        if r.get("type") == "frame" and (pass_ is None or r["pass"] == pass_)
    ]


def _commands(path):
    return [r["command"] for r in open_session(path).records if r.get("type") == "start"]


# -- settings -------------------------------------------------------------------------------------


def test_settings_round_trip_and_write_the_sim_block_as_before():
    objs = (MovingObject(frames=(1, 2), brightness=2.5), Light(frames=(3,), gain=2.0))
    s = SimSettings(size=(24, 32), seed=7, lux=0.5, objects=objs)
    assert SimSettings.from_json(json.loads(json.dumps(s.to_json()))) == s
    # the literal `capture --camera sim` wrote before the helper existed
    assert s.to_json() == {
        "size": [24, 32],
        "seed": 7,
        "lux": 0.5,
        "objects": [o.to_dict() for o in objs],
    }
    plain = SimSettings(size=(24, 32), seed=7)
    assert plain.to_json() == {"size": [24, 32], "seed": 7, "lux": 1.0}  # no "objects" key
    assert SimSettings.from_json(plain.to_json()) == plain


def test_settings_from_a_damaged_block_say_what_was_expected():
    with pytest.raises(SessionError, match="expected the session's simulation settings"):
        SimSettings.from_json({"seed": 3})
    with pytest.raises(SessionError, match="expected"):
        SimSettings.from_json({"size": ["x", 2], "seed": 3})


def test_the_cli_writes_the_same_block_through_the_helper():
    got = cli._sim_settings("desk", "24x32", 7, 1.0, ["object:1-2,brightness=2.5"])
    assert got == {
        "size": [24, 32],
        "seed": 7,
        "lux": 1.0,
        "objects": [parse_spec("object:1-2,brightness=2.5").to_dict()],
    }
    assert cli._sim_settings("desk", "24x32", None, 1.0) == {
        "size": [24, 32],
        "seed": cli._sim_seed("desk", None),
        "lux": 1.0,
    }


def test_settings_camera_is_the_seeded_camera():
    cam = SimSettings(size=SIZE, seed=4, lux=2.0).camera(max_wait=0.0, serial="SIM-9")
    bare = SimCamera(size=SIZE, seed=4, lux=2.0, max_wait=0.0)
    assert cam.info.serial == "SIM-9" and cam.lux == 2.0 and cam.size == SIZE
    np.testing.assert_array_equal(cam.render_electrons(), bare.render_electrons())


# -- the scripted camera --------------------------------------------------------------------------


def test_scripted_camera_changes_light_for_one_frame_and_offset_from_a_frame_on():
    cam = ScriptedCamera(
        size=SIZE,
        seed=1,
        lux=1.0,
        fps=1e6,
        max_wait=0.0,
        lux_at={1: 0.25},
        offset_from={2: (1, -2)},
    )
    cam.apply(Exposure(iso=2000, shutter="1/30"))
    extras = [s.extra for s in cam.shoot(4)]
    assert [e["lux"] for e in extras] == [1.0, 0.25, 1.0, 1.0]
    assert [e["offset_px"] for e in extras] == [[0.0, 0.0], [0.0, 0.0], [1.0, -2.0], [1.0, -2.0]]
    assert cam.lux == 1.0  # restored after the burst
    # the noise is the shutter number's, as for a plain camera
    plain = SimCamera(size=SIZE, seed=1, lux=1.0, fps=1e6, max_wait=0.0)
    plain.apply(Exposure(iso=2000, shutter="1/30"))
    first = [s.extra["mean_electrons"] for s in plain.shoot(1)]
    assert extras[0]["mean_electrons"] == first[0]


# -- sessions -------------------------------------------------------------------------------------


def test_static_session_is_shot_as_burst_then_reference(tmp_path):
    path = simulated_session(
        tmp_path / "s",
        size=SIZE,
        seed=5,
        frames=3,
        refs=2,
        offset=(0.5, -1.0),
        lux_at={("dark", 1): 0.1, ("bright", 1): 3.0},
        ref_offsets={1: (2.0, 2.0)},
        warnings=(("w1", "something to say"),),
    )
    s = open_session(path)
    assert s.kind == "static" and s.scene == "desk" and s.is_complete
    assert _commands(path) == ["burst", "reference"]
    assert [r.exit_status for r in s.stops] == ["success", "success"]
    dark, bright = _frames(path, "dark"), _frames(path, "bright")
    assert [r["extra"]["shutter_count"] for r in dark + bright] == [0, 1, 2, 3, 4]
    assert [r["extra"]["lux"] for r in dark + bright] == [1.0, 0.1, 1.0, 1.0, 3.0]
    assert [r["extra"]["offset_px"] for r in bright] == [[0.5, -1.0], [2.0, 2.0]]
    assert all(r["extra"]["offset_px"] == [0.0, 0.0] for r in dark)
    assert [r["requested"]["shutter"] for r in dark + bright] == ["1/30"] * 3 + ["10"] * 2
    assert [(w.code, w.message) for w in s.warnings] == [("w1", "something to say")]
    assert json.loads((path / "session.json").read_text())["camera"]["sim"] is None
    assert s.verify() == []


def test_a_burst_without_references_and_recorded_settings(tmp_path):
    path = simulated_session(
        tmp_path / "d", scene="night", size=SIZE, seed=99, frames=2, refs=0, record_settings=True
    )
    s = open_session(path)
    assert list(s.plan["passes"]) == ["dark"] and s.plan["order"] == ["dark"]
    assert len(s.frames("dark")) == 2 and _commands(path) == ["burst"]
    meta = json.loads((path / "session.json").read_text())
    assert meta["scene"] == "night"
    assert SimSettings.from_json(meta["camera"]["sim"]) == SimSettings(size=SIZE, seed=99)


def test_sweep_session_runs_on_the_simulated_turntable(tmp_path):
    path = simulated_session(
        tmp_path / "w", kind="sweep", size=SIZE, seed=9, frames=5, steps=3, step_deg=1.0
    )
    s = open_session(path)
    assert s.kind == "sweep" and s.scene == "shelf" and s.is_complete
    assert _commands(path) == ["sweep"]
    dark = [f.angle for f in s.frames("dark")]
    bright = [f.angle for f in s.frames("bright")]
    assert len(dark) == 5 and len(bright) == 3
    assert dark == sorted(dark) and dark[0] == pytest.approx(0.0, abs=0.05)
    assert bright == pytest.approx([0.0, 1.0, 2.0], abs=0.01)


def test_an_unknown_kind_is_a_bad_request(tmp_path):
    with pytest.raises(BadRequest, match="expected a session kind"):
        simulated_session(tmp_path / "x", kind="dynamic")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "option", [{"offset": (1.0, 0.0)}, {"lux_at": {("dark", 0): 0.0}}, {"ref_offsets": {1: (1, 1)}}]
)
def test_a_static_sessions_option_is_refused_for_a_sweep(tmp_path, option):
    with pytest.raises(BadRequest, match=f"static session for {next(iter(option))}"):
        simulated_session(tmp_path / "x", kind="sweep", **option)
    assert not (tmp_path / "x").exists()


# -- the rig --------------------------------------------------------------------------------------


def test_rig_run_raises_when_the_run_stops(tmp_path):
    stop = threading.Event()
    stop.set()  # stops after the first frame
    with SimRig(SimSettings(size=SIZE, seed=2)) as rig:
        w = rig.create(tmp_path / "s", scene="desk", kind="static", plan=static_plan(frames=3))
        rig.callback(w.close)
        with pytest.raises(CaptureError, match="stopped"):
            rig.run(w, command="burst", stop=stop)
        assert w.session.last_stop.exit_status == "abort"
        assert len(w.session.frames("dark")) == 1


def test_rig_with_a_turntable_shares_the_clock_and_closes_everything():
    clock = SimClock(1000.0)
    with SimRig(SimSettings(size=SIZE, seed=2), clock=clock, turntable=True) as rig:
        assert rig.camera.clock is clock and rig.camera.motion is not None
        assert rig.turntable.move_to(1.5) == pytest.approx(1.5, abs=0.01)
        assert clock.time() > 1000.0  # the move waited on the simulated clock
        cam, served = rig.camera, f"grbl-sim {rig.simulator.port}"
        assert served in {t.name for t in threading.enumerate()}
    with pytest.raises(CaptureError, match="closed"):
        cam.shoot(1)
    assert served not in {t.name for t in threading.enumerate()}


def test_time_scale_slows_the_table_not_the_blur():
    with SimRig(SimSettings(size=SIZE, seed=2), turntable=True, time_scale=0.5) as rig:
        motion, physics = rig.camera.motion, rig.simulator.motion
        rig.turntable.move_to(1.0, wait=False)
        t = rig.clock.time() + 0.01
        assert motion(t)[0] == physics(t)[0]
        assert motion(t)[1] == pytest.approx(physics(t)[1] / 0.5)


# -- card files -----------------------------------------------------------------------------------


def test_shoot_files_writes_dngs_and_the_counter_goes_on(tmp_path):
    cam = SimSettings(size=SIZE, seed=3).camera(fps=1e6, max_wait=0.0)
    first = shoot_files(tmp_path / "card", cam, 2)
    second = shoot_files(tmp_path / "card", cam, 1, shutter="10", names=["ref.dng"])
    assert [p.name for p, _ in first + second] == ["DSC00000.DNG", "DSC00001.DNG", "ref.dng"]
    assert [s.extra["shutter_count"] for _, s in first + second] == [0, 1, 2]
    assert second[0][1].extra["exposure_s"] == 10.0
    for path, shot in first + second:
        assert path.read_bytes() == shot.data


# -- the capture command's sim branch -------------------------------------------------------------


def test_capture_sim_builds_its_camera_from_the_recorded_settings(tmp_path):
    s = tmp_path / "s"
    common = ["--camera", "sim", "--iso", "2000", "--session", str(s)]
    burst = ["burst", *common, "--sim-size", "24x32", "--sim-seed", "11", "--frames", "2"]
    burst += ["--scene", "desk", "--sim-object", "light:1,gain=2"]
    r = CliRunner().invoke(cli.app, burst, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli.app, ["reference", *common, "--shutter", "10"])
    assert r.exit_code == 0, r.output
    meta = json.loads((s / "session.json").read_text())
    assert SimSettings.from_json(meta["camera"]["sim"]) == SimSettings(
        size=(24, 32), seed=11, objects=(parse_spec("light:1,gain=2"),)
    )
    frames = _frames(s)
    # the reference's camera resumes the shutter counter; the light is in dark frame 1 only
    assert [r["extra"]["shutter_count"] for r in frames] == [0, 1, 2]
    assert ["sim_objects" in r["extra"] for r in frames] == [False, True, False]
