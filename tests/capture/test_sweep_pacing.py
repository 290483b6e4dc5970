"""Sweeps that keep their plan: the dark pass is paced to the camera's measured frame rate.

The simulated rig runs on one :class:`SimClock` (camera, GRBL simulator and the real GRBL driver
over a pseudo-terminal), so a camera's frame rate is what the test sets, whatever the speed of
the machine that renders, encodes and journals the frames.
"""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from capture import cli
from capture import plan as planmod
from capture.devices.grbl import GrblTurntable
from capture.motion import SweepPacer
from capture.protocols import TurntableStatus
from capture.session import PASSES, SessionWriter, open_session
from capture.sim.camera import SimCamera
from capture.sim.clock import SimClock
from capture.sim.grbl_server import GrblSimulator
from capture.sim.rig import SimRig, SimSettings

pytestmark = pytest.mark.serial

SIZE = (24, 32)
PLAN_FPS = 16.0
STEPS, STEP_DEG = 4, 2.0  # 13 dark frames over 6 degrees, 0.5 degree apart
END = (STEPS - 1) * STEP_DEG
SPACING = END / (4 * (STEPS - 1))


@pytest.fixture
def rig(tmp_path):
    """``make(fps)``: a clocked simulated rig and a new sweep session; closed afterwards."""
    opened = []

    def make(fps, plan_fps=PLAN_FPS, settle_s=0.0, **camera):
        sim = SimRig(
            SimSettings(size=SIZE, seed=3),
            fps=fps,
            max_wait=0.05,
            clock=SimClock(),
            turntable=True,
            **camera,
        )
        opened.append(sim)
        passes, table = planmod.sweep_plan(
            steps=STEPS,
            step_deg=STEP_DEG,
            iso=2000,
            dark_shutter="1/30",
            bright_shutter="1",
            fps=plan_fps,
            settle_s=settle_s,
            port=sim.simulator.port,
        )
        writer = sim.create(
            tmp_path / f"sw{len(opened)}",
            scene="shelf",
            kind="sweep",
            plan={"passes": passes, "order": list(PASSES)},
            turntable=table,
            record_settings=True,
        )
        return writer, sim.camera, sim.turntable

    yield make
    for sim in opened:
        sim.close()


def _dark(writer):
    """Journalled dark frames with the simulator's truth: (records, true angles, velocities)."""
    recs = sorted(
        (r for r in writer.session.records if r.get("type") == "frame" and r["pass"] == "dark"),
        key=lambda r: r["index"],
    )
    truth = np.array([r["extra"]["angle_deg"] for r in recs])
    velocity = np.array([r["extra"]["velocity_deg_s"] for r in recs])
    return recs, truth, velocity


def _event(writer, what):
    return [r for r in writer.session.records if r.get("what") == what]


def _run_dark(writer, cam, tt, **kw):
    return planmod.run_passes(writer, cam, passes=["dark"], command="sweep", turntable=tt, **kw)


def _assert_spread_over_the_path(writer, recs, truth):
    assert [r["index"] for r in recs] == list(range(4 * (STEPS - 1) + 1))
    assert truth[0] == pytest.approx(0.0, abs=1e-6)  # shot at the start angle, before turning
    assert truth[-1] == pytest.approx(END, abs=SPACING / 2)
    gaps = np.diff(truth)
    assert gaps.min() > 0.6 * SPACING and gaps.max() < 1.4 * SPACING, np.round(truth, 3)
    # The angles journalled (interpolated from the controller's reports) follow the truth.
    # A background tracker report whose exchange straddled a step of the simulated clock is
    # stamped a few steps off (0.14 degree at 8 deg/s seen with the CPUs saturated), so only
    # the median is held tight.
    err = np.abs(np.array([r["angle"] for r in recs]) - truth)
    assert np.median(err) < 0.02 and err.max() < SPACING, np.round(err, 3)
    # only the first frame, shot before the table turned, stood still
    assert [r["index"] for r in recs if r.get("turntable_stopped")] == [0]
    assert writer.session.warnings == []


def test_a_camera_slower_than_planned_gets_a_slower_turntable(rig):
    writer, cam, tt = rig(4.0)  # a quarter of the planned 16 frames/s
    result = _run_dark(writer, cam, tt)
    assert result.exit_status == "success"
    recs, truth, _ = _dark(writer)
    _assert_spread_over_the_path(writer, recs, truth)
    assert [f.index for f in writer.session.frames("dark") if f.turntable_stopped] == [0]
    (pacing,) = _event(writer, "sweep_pacing")
    assert pacing["planned_fps"] == PLAN_FPS
    assert pacing["preroll_fps"] == pytest.approx(4.0)
    assert pacing["measured_fps"] == pytest.approx(4.0)
    assert pacing["frames_after_stop"] == 0
    # the feed follows the camera: a quarter of the planned 8 deg/s
    assert pacing["planned_feed_deg_s"] == pytest.approx(8.0)
    assert np.allclose(pacing["feed_deg_s"], 2.0, rtol=0.1), pacing["feed_deg_s"]


def test_the_preroll_frames_are_kept_outside_the_pass(rig):
    writer, cam, tt = rig(4.0)
    _run_dark(writer, cam, tt)
    pre = _event(writer, "preroll")
    assert [p["path"] for p in pre] == [
        f"preroll/dark-{k:04d}.dng" for k in range(planmod.PREROLL_FRAMES)
    ]
    frames = writer.session.frames("dark")
    for p in pre:
        data = (writer.path / p["path"]).read_bytes()
        assert len(data) == p["size"] and p["angle"] == pytest.approx(0.0, abs=1e-6)
        assert p["sha256"] not in {f.sha256 for f in frames}
    # one burst: the pre-roll, then the pass, one frame period apart
    starts = [p["t_start"] for p in pre] + [f.t_start for f in frames]
    assert np.allclose(np.diff(starts), 0.25)
    assert writer.session.verify() == []


def test_a_camera_at_the_planned_rate_keeps_the_planned_feed(rig):
    writer, cam, tt = rig(PLAN_FPS)
    assert _run_dark(writer, cam, tt).exit_status == "success"
    recs, truth, _ = _dark(writer)
    _assert_spread_over_the_path(writer, recs, truth)
    (pacing,) = _event(writer, "sweep_pacing")
    assert pacing["measured_fps"] == pytest.approx(PLAN_FPS)
    # the first segment starts as frame 0 ends, not at its midpoint: a little faster
    assert np.allclose(pacing["feed_deg_s"][1:], 8.0, rtol=0.1), pacing["feed_deg_s"]


def test_a_camera_that_drops_its_rate_mid_pass_is_warned_about_and_its_late_frames_marked(rig):
    # 8 frames/s until its buffer fills, then half a frame per second: too late for the
    # segments already queued, so the table reaches the end with frames still to shoot.
    writer, cam, tt = rig(lambda n: 8.0 if n < 12 else 0.5)
    assert _run_dark(writer, cam, tt).exit_status == "success"  # every frame is journalled
    recs, truth, velocity = _dark(writer)
    marked = [r["index"] for r in recs if r.get("turntable_stopped")]
    # exactly the frames shot with the table at rest are marked: the first, at the start,
    # and those shot after it had stopped at the end
    still = [r["index"] for r, v in zip(recs, velocity, strict=True) if v == 0]
    assert marked == still
    late = marked[1:]
    assert marked[0] == 0 and late, np.round(truth, 3)
    assert late == list(range(late[0], len(recs)))
    assert np.all(truth[late] == END)
    frames = writer.session.frames("dark")
    assert [f.index for f in frames if f.turntable_stopped] == marked
    (warning,) = writer.session.warnings
    assert warning.code == "sweep_behind_plan"
    assert warning.details["pass"] == "dark"
    assert warning.details["planned_fps"] == PLAN_FPS
    assert warning.details["preroll_fps"] == pytest.approx(8.0)
    assert warning.details["measured_fps"] < 2.0
    assert warning.details["frames_after_stop"] == len(late)
    assert warning.details["first_after_stop"] == late[0]
    assert f"{len(late)} of {len(recs)} frames" in warning.message
    assert "16" in warning.message


def test_a_camera_faster_than_the_turntable_may_follow_is_warned_about(rig):
    # planned at 2 frames/s (1 deg/s, so at most 4 deg/s): a camera at 16 would need 8 deg/s
    writer, cam, tt = rig(16.0, plan_fps=2.0)
    assert _run_dark(writer, cam, tt).exit_status == "success"
    recs, truth, _ = _dark(writer)
    assert truth[-1] < END - 2 * SPACING  # what the warning is about
    (pacing,) = _event(writer, "sweep_pacing")
    assert max(pacing["feed_deg_s"]) == pytest.approx(4.0)
    (warning,) = writer.session.warnings
    assert warning.code == "sweep_short_of_path"
    assert warning.details["measured_fps"] == pytest.approx(16.0)
    assert warning.details["last_angle"] == recs[-1]["angle"]
    assert warning.details["end_angle"] == END
    assert "short of the end of the path" in warning.message


def test_the_warning_is_shown_at_the_end_of_the_run_in_yellow(rig, monkeypatch):
    writer, cam, tt = rig(lambda n: 8.0 if n < 12 else 0.5)
    buf = io.StringIO()
    monkeypatch.setattr(
        cli, "err", Console(file=buf, force_terminal=True, color_system="standard", width=400)
    )
    with cli._Rig() as r:
        r.camera, r.turntable = cam, tt
        cli._run(writer, r, ["dark"], "sweep")
    text = buf.getvalue()
    assert "\x1b[33mwarning (sweep_behind_plan):\x1b[0m" in text
    assert "did not keep its plan" in text
    # shown once, after the progress bar's last state
    assert text.count("sweep_behind_plan") == 1
    assert text.index("sweep_behind_plan") > text.rindex("13/13")


def test_a_stopped_pass_resumes_with_a_new_preroll(rig):
    writer, cam, tt = rig(4.0)
    stop = threading.Event()

    def progress(pass_, done, planned):
        if done == 5:
            stop.set()

    assert _run_dark(writer, cam, tt, stop=stop, progress=progress).exit_status == "abort"
    assert [f.index for f in writer.session.frames("dark")] == list(range(5))
    assert _run_dark(writer, cam, tt).exit_status == "success"
    recs, truth, _ = _dark(writer)
    assert [r["index"] for r in recs] == list(range(13))
    assert np.all(np.diff(truth) > 0) and truth[-1] == pytest.approx(END, abs=SPACING / 2)
    assert writer.session.warnings == []
    pre = [p["path"] for p in _event(writer, "preroll")]
    assert pre == [f"preroll/dark-{k:04d}.dng" for k in range(2 * planmod.PREROLL_FRAMES)]
    # the second pre-roll stood where the pass resumed, at frame 5's planned angle
    assert [p["angle"] for p in _event(writer, "preroll")][-1] == pytest.approx(5 * SPACING)


def test_a_preroll_file_left_by_a_kill_is_never_overwritten(rig):
    writer, cam, tt = rig(4.0)
    stray = writer.path / "preroll" / "dark-0000.dng"
    stray.parent.mkdir()
    stray.write_bytes(b"written before a kill, never journalled")
    _run_dark(writer, cam, tt)
    assert stray.read_bytes() == b"written before a kill, never journalled"
    assert [p["path"] for p in _event(writer, "preroll")] == [
        "preroll/dark-0001.dng",
        "preroll/dark-0002.dng",
    ]


# -- the pacing arithmetic on its own ---------------------------------------------------------


def _report(t, angle, state="Run"):
    return TurntableStatus(state=state, angle=angle, t=t)


def test_the_stepped_pass_settles_on_the_rigs_clock(rig):
    """The settle time between a step and its shot passes on the simulated rig's clock (so
    a test's settling costs no wall-clock time): four steps settling 2 s each."""
    writer, cam, tt = rig(PLAN_FPS, settle_s=2.0)
    t0 = cam.clock.time()
    planmod.run_passes(writer, cam, passes=["bright"], command="sweep", turntable=tt)
    bright = [r for r in writer.session.records if r.get("pass") == "bright"]
    assert len(bright) == STEPS
    assert cam.clock.time() - t0 >= STEPS * 2.0


def test_pacer_aims_each_segment_at_the_frame_planned_at_its_end():
    angles = [0.5 * i for i in range(9)]  # 8 intervals of 0.5 degree
    pacer = SweepPacer(angles, 0, preroll=2, planned_fps=16.0, segment_frames=4, lookahead=2.0)
    for k in range(3):  # two pre-roll frames and frame 0, 0.5 s apart, 0.1 s exposures
        pacer.observe(10.0 + 0.5 * k, 10.1 + 0.5 * k)
    assert pacer.fps() == pytest.approx(2.0)
    (first,) = pacer.moves(_report(11.15, 0.0, "Idle"))
    # frame 4 (2 degrees) is due at 11.0 + 4 * 0.5 + 0.05: 1.9 s after the table starts
    assert (first.start, first.end) == (0.0, 2.0)
    assert first.feed == pytest.approx(2.0 / 1.9)
    # more than two frames' worth (1 s) still queued: nothing more yet
    assert pacer.moves(_report(11.5, 0.35 * first.feed)) == []
    (second,) = pacer.moves(_report(12.2, 1.05 * first.feed))
    assert (second.start, second.end) == (2.0, 4.0)
    # it starts when the first ends (13.05) and reaches 4 degrees when frame 8 is due (15.05)
    assert second.feed == pytest.approx(2.0 / 2.0)


def test_pacer_follows_a_drifting_rate_and_clamps_the_feed():
    angles = [0.5 * i for i in range(13)]
    pacer = SweepPacer(angles, 0, preroll=2, planned_fps=16.0, segment_frames=4, window=2)
    for k in range(3):
        pacer.observe(float(k), float(k) + 0.01)  # 1 frame/s
    (first,) = pacer.moves(_report(2.02, 0.0, "Idle"))
    assert first.feed == pytest.approx(2.0 / (6.005 - 2.02))
    for k in range(3, 8):  # the camera slows to one frame every 10 s
        pacer.observe(2.0 + 10.0 * (k - 2), 2.01 + 10.0 * (k - 2))
    assert pacer.fps() == pytest.approx(0.1)
    (second,) = pacer.moves(_report(52.02, 2.0, "Idle"))
    assert second.feed == pytest.approx(pacer.feed_min)  # 1% of the planned 8 deg/s


def test_pacer_dates_the_stop_between_two_reports():
    angles = [0.0, 1.0, 2.0]
    pacer = SweepPacer(angles, 0, preroll=0, planned_fps=1.0, segment_frames=2)
    pacer.observe(0.0, 0.1)
    pacer.observe(1.0, 1.1)
    (seg,) = pacer.moves(_report(1.2, 0.0, "Idle"))
    assert seg.feed == pytest.approx(2.0 / (2.05 - 1.2))
    pacer.note(_report(1.5, 0.3 * seg.feed))
    assert pacer.stopped_at is None
    pacer.note(_report(3.0, 2.0, "Idle"))
    assert pacer.stopped_at == pytest.approx(2.05)
    assert pacer.after_stop(2.06) and not pacer.after_stop(2.0)


# -- the GRBL simulator carries a move on into the next, as GRBL's planner does ---------------


@pytest.fixture
def table():
    clock = SimClock(500.0)
    sim = GrblSimulator(homing=False, clock=clock)
    sim.start()
    tt = GrblTurntable(sim.port, clock=clock)
    yield sim, tt, clock
    tt.close()
    sim.stop()


def _motion(sim, t0, t1, n=4001):
    ts = np.linspace(t0, t1, n)
    x, v = np.array([sim.motion(t) for t in ts]).T
    return ts, x, v


def test_sim_moves_in_one_direction_run_through_their_junction(table):
    sim, tt, clock = table
    t0 = clock.time()
    tt.move_to(2.0, feed=8.0, wait=False)
    tt.move_to(4.0, feed=4.0, wait=False)  # queued while the first runs
    end = tt.wait_idle()
    assert end.angle == pytest.approx(4.0)
    _, x, v = _motion(sim, t0, end.t)
    assert np.all(np.diff(x) >= -1e-12) and x[-1] == pytest.approx(4.0)
    # never stopped between: at least the slower feed from the first ramp to the last
    cruising = (x > 0.1) & (x < 3.9)
    assert v[cruising].min() == pytest.approx(4.0, rel=1e-6)
    assert v.max() == pytest.approx(8.0, rel=1e-6)
    # as fast as that profile allows: 2 degrees at 8 deg/s, 2 at 4, ramps at 720 deg/s^2
    ramps = (8 / 720) / 2 + (4 / 720) / 2 + (4 / 720) / 2  # time each ramp loses
    assert sim.motion(t0 + 2 / 8 + 2 / 4 + ramps + 1e-6) == (4.0, 0.0)
    assert sim.motion(t0 + 2 / 8 + 2 / 4 + ramps - 0.01)[1] > 0


def test_sim_a_reversal_still_stops_in_between(table):
    sim, tt, clock = table
    t0 = clock.time()
    tt.move_to(2.0, feed=8.0, wait=False)
    tt.move_to(0.0, feed=8.0, wait=False)
    end = tt.wait_idle()
    _, x, _ = _motion(sim, t0, end.t)
    assert x.max() == pytest.approx(2.0) and end.angle == pytest.approx(0.0)


# -- the simulated clock and camera -----------------------------------------------------------


def test_sim_clock_stands_still_until_slept_on():
    clock = SimClock(100.0)
    assert clock.time() == clock.time() == 100.0
    clock.sleep(0.25)
    assert clock.time() == pytest.approx(100.25)
    clock.sleep(-1.0)
    assert clock.time() == pytest.approx(100.25)
    with pytest.raises(ValueError, match="finite"):
        clock.sleep(float("nan"))


def test_sim_camera_on_a_clock_keeps_its_rate_whatever_the_machine():
    clock = SimClock(1000.0)
    cam = SimCamera(size=SIZE, fps=lambda n: 4.0 if n < 3 else 1.0, clock=clock, max_wait=0.05)
    starts = [s.t_start for s in cam.shoot(5)]
    assert np.allclose(np.diff(starts), [0.25, 0.25, 1.0, 1.0])
    assert starts[0] == pytest.approx(1000.0)


# -- the CLI ------------------------------------------------------------------------------------


def test_resume_with_nothing_to_do_still_shows_the_warnings(tmp_path):
    s = tmp_path / "b"
    args = [
        "burst", "--camera", "sim", "--sim-size", "24x32", "--iso", "2000", "--shutter", "1/30",
        "--frames", "2", "--session", str(s), "--scene", "desk",
    ]  # fmt: skip
    r = CliRunner().invoke(cli.app, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "warning" not in r.output
    with SessionWriter(s) as w:
        w.warn("sweep_behind_plan", "the camera fell behind", frames_after_stop=3)
    r = CliRunner().invoke(cli.app, ["resume", str(s)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "nothing to do" in r.output
    assert "warning (sweep_behind_plan): the camera fell behind" in r.output
    assert open_session(s).is_complete


def test_resume_never_repeats_a_shutter_count_of_the_preroll(rig):
    writer, cam, tt = rig(4.0)
    stop = threading.Event()

    def progress(pass_, done, planned):
        if done == 5:
            stop.set()

    assert _run_dark(writer, cam, tt, stop=stop, progress=progress).exit_status == "abort"
    writer.close()  # one writer per session: the resume below takes the lock
    r = CliRunner().invoke(
        cli.app, ["resume", str(writer.path), "--turntable", "sim"], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    s = open_session(writer.path)
    assert s.is_complete
    # the camera names count the shutter (SIM_0001 ...): one name per shot, none reused,
    # so no two frames share a noise draw
    names = [rec["camera_name"] for rec in s.records if "camera_name" in rec]
    assert len(names) == 13 + 4 + 2 * planmod.PREROLL_FRAMES
    assert len(set(names)) == len(names)


def test_resume_shoots_a_frame_repair_unvouched_mid_pass_stepped_then_the_rest(rig):
    """`capture repair` un-vouched dark frame 3 of a continuous pass stopped after 8 frames:
    resume shoots 3 stepped at its planned angle (marked, and journalled as such), then the
    rest of the pass continuously."""
    writer, cam, tt = rig(4.0)
    stop = threading.Event()

    def progress(pass_, done, planned):
        if done == 8:
            stop.set()

    assert _run_dark(writer, cam, tt, stop=stop, progress=progress).exit_status == "abort"
    writer.close()
    s = open_session(writer.path)
    f3, f5 = s.frames("dark")[3], s.frames("dark")[5]
    (writer.path / f3.path).write_bytes((writer.path / f5.path).read_bytes())
    r = CliRunner().invoke(cli.app, ["repair", str(writer.path)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert open_session(writer.path).remaining("dark") == [3, *range(8, 13)]
    r = CliRunner().invoke(
        cli.app, ["resume", str(writer.path), "--turntable", "sim"], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    s = open_session(writer.path)
    assert s.is_complete and s.verify() == []
    dark = s.frames("dark")
    assert [f.index for f in dark] == list(range(13))
    assert dark[3].sha256 not in (f3.sha256, f5.sha256)
    # shot standing at its planned angle, and marked so
    assert dark[3].turntable_stopped
    assert dark[3].angle == pytest.approx(3 * SPACING, abs=1e-3)
    (refill,) = [r for r in s.records if r.get("what") == "stepped_refill"]
    assert refill["pass"] == "dark" and refill["indices"] == [3]
    # the suffix went on continuously: the table turned under frames 9..12
    assert [f.index for f in dark[8:] if f.turntable_stopped] == [8]
    assert np.all(np.diff([f.angle for f in dark[8:]]) > 0)
    assert dark[-1].angle == pytest.approx(END, abs=SPACING / 2)
