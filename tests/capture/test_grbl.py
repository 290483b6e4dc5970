"""The GRBL turntable driver, tested against the GRBL simulator over a real pseudo-terminal."""

from __future__ import annotations

import math
import re
import threading
import time

import numpy as np
import pytest
import serial

from capture.devices.grbl import GrblTurntable, list_serial_ports
from capture.errors import BadRequest, TurntableAlarm, TurntableError, TurntableTimeout
from capture.motion import interpolate_angle
from capture.protocols import Turntable, TurntableStatus
from capture.sim.grbl_server import GrblSimulator


@pytest.fixture
def make_sim():
    """Start simulators with the given options; stop them (threads, fds) afterwards."""
    sims: list[GrblSimulator] = []

    def make(**options) -> GrblSimulator:
        sim = GrblSimulator(**options)
        sim.start()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.stop()


@pytest.fixture
def connect():
    """Open drivers on a simulator's port; close them afterwards."""
    tables: list[GrblTurntable] = []

    def open_(sim: GrblSimulator, **options) -> GrblTurntable:
        table = GrblTurntable(sim.port, **options)
        tables.append(table)
        return table

    yield open_
    for table in tables:
        table.close()


@pytest.fixture
def raw(make_sim):
    """A simulator without homing and a bare pyserial connection to it."""
    sim = make_sim(homing=False, time_scale=4.0)
    port = serial.Serial(sim.port, 115200, timeout=2.0)
    yield sim, port
    port.close()


def _lines(port: serial.Serial, until: str) -> list[str]:
    """Read lines until one equals ``until`` (or starts with ``error:`` if until is 'error')."""
    lines = []
    while True:
        raw_line = port.readline()
        assert raw_line.endswith(b"\n"), f"timed out waiting for {until!r} after {lines!r}"
        line = raw_line.decode().strip()
        lines.append(line)
        if line == until or (until == "error" and line.startswith("error:")):
            return lines


def _grid(t0: float, t1: float, n: int = 2001) -> np.ndarray:
    return np.linspace(t0, t1, n)


# -- the simulator on its own ---------------------------------------------------------------


@pytest.mark.serial
def test_sim_status_query_is_real_time_and_never_answered_ok(raw):
    _, port = raw
    port.write(b"?")
    assert port.readline() == b"<Idle|MPos:0.000,0.000,0.000|FS:0,0>\r\n"
    # If '?' had been answered with 'ok' too, it would arrive before $I's lines.
    port.write(b"$I\n")
    assert _lines(port, "ok") == ["[VER:1.1h.20190825:]", "[OPT:V,15,128]", "ok"]


@pytest.mark.serial
def test_sim_ok_is_queued_and_dwell_waits_for_motion(raw):
    sim, port = raw
    port.write(b"G90 G0 X180\n")
    assert _lines(port, "ok") == ["ok"]
    angle, _ = sim.motion()
    assert angle < 180.0 and sim.state == "Run"
    port.write(b"G4 P0\n")
    assert _lines(port, "ok") == ["ok"]
    assert sim.state == "Idle"
    assert sim.motion() == (180.0, 0.0)
    port.write(b"?")
    assert port.readline().startswith(b"<Idle|MPos:180.000,")


@pytest.mark.serial
def test_sim_settings_are_listed_and_stored(raw):
    sim, port = raw
    port.write(b"$$\n")
    lines = _lines(port, "ok")
    assert "$100=100.000" in lines and "$22=0" in lines
    assert f"$110={720.0 * 60:.3f}" in lines
    port.write(b"$100=40\n$110=6000\n$$\n")
    lines = _lines(port, "ok") + _lines(port, "ok") + _lines(port, "ok")
    assert "$100=40.000" in lines and "$110=6000.000" in lines
    assert sim.max_rate == pytest.approx(100.0)


@pytest.mark.serial
@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("$Z", 3),
        ("$999=1", 3),
        ("$100=abc", 2),
        ("G0 Xabc", 2),
        ("5 X1", 1),
        ("G38.2 X1", 20),
        ("M3 S100", 20),
        ("G1 X5", 22),
        ("G0 G1 X5", 21),
        ("G0 X1 X2", 25),
        ("G4", 28),
        ("G0 X" + "1" * 90, 11),
    ],
)
def test_sim_rejects_bad_lines_with_grbl_codes(raw, line, code):
    sim, port = raw
    port.write(line.encode() + b"\n")
    assert _lines(port, "error") == [f"error:{code}"]
    assert sim.motion() == (0.0, 0.0)


@pytest.mark.serial
def test_sim_soft_reset_mid_move_sends_alarm_3_and_banner(raw):
    sim, port = raw
    port.write(b"G0 X360\n")
    assert _lines(port, "ok") == ["ok"]
    port.write(b"\x18")
    assert _lines(port, "[MSG:'$H'|'$X' to unlock]") == [
        "ALARM:3",
        "",
        "Grbl 1.1h ['$' for help]",
        "[MSG:'$H'|'$X' to unlock]",
    ]
    stopped, velocity = sim.motion()
    assert 0.0 < stopped < 360.0 and velocity == 0.0
    port.write(b"G0 X0\n")
    assert _lines(port, "error") == ["error:9"]


def test_sim_motion_is_a_trapezoid_with_the_configured_limits():
    # No port needed: the physics is a pure function of the queued moves and the clock.
    scale = 2.0
    sim = GrblSimulator(homing=False, max_rate=90.0, accel=360.0, time_scale=scale)
    t0 = time.time()
    with sim._lock:
        assert sim._execute("G90 G1 X45 F3000", t0) == "ok"  # F3000 deg/min = 50 deg/s
        assert sim._execute("G0 X0", t0) == "ok"  # queued behind the first move
    v, a = 50.0 * scale, 360.0 * scale**2
    first = 45.0 / v + v / a  # trapezoid duration, wall clock
    times = _grid(t0 - 0.1, t0 + 3.0, 20001)
    angles, velocities = np.array([sim.motion(t) for t in times]).T
    assert np.all(np.abs(velocities) <= 90.0 * scale + 1e-9)
    assert np.abs(velocities).max() == pytest.approx(90.0 * scale)  # the rapid reaches $110
    moving_out = (times > t0) & (times < t0 + first)
    assert np.all(np.diff(angles[moving_out]) >= 0)
    assert velocities[moving_out].max() == pytest.approx(v)
    assert sim.motion(t0 + first) == pytest.approx((45.0, 0.0))
    assert sim.motion(t0 + 0.5 * first)[0] == pytest.approx(22.5)  # symmetric profile
    # The velocity is the derivative of the angle.
    np.testing.assert_allclose(
        np.gradient(angles, times)[1:-1], velocities[1:-1], atol=a * (times[1] - times[0])
    )
    assert sim.motion(t0 + 3.0) == (0.0, 0.0)


# -- the driver against the simulator ---------------------------------------------------------


@pytest.mark.serial
def test_connect_reads_banner_and_power_up_alarm_blocks_moves(make_sim, connect):
    sim = make_sim(homing=True, start_angle=30.0, time_scale=10.0)
    table = connect(sim)
    assert isinstance(table, Turntable)
    assert table.version == "1.1h"
    status = table.status()
    assert status.state == "Alarm" and status.angle == pytest.approx(30.0)
    with pytest.raises(TurntableAlarm, match=r"error:9.*capture turntable home"):
        table.move_by(10.0)
    assert sim.motion()[0] == 30.0


@pytest.mark.serial
def test_home_drives_to_zero_and_unlock_clears_the_alarm(make_sim, connect):
    sim = make_sim(homing=True, start_angle=30.0, time_scale=10.0)
    table = connect(sim)
    table.home()
    status = table.status()
    assert (status.state, status.angle) == ("Idle", 0.0)
    assert sim.motion() == (0.0, 0.0)
    sim.power_cycle()
    table.unlock()
    assert table.status().state == "Idle"
    assert table.move_by(5.0) == pytest.approx(5.0)


@pytest.mark.serial
def test_home_without_homing_enabled_says_to_unlock(make_sim, connect):
    table = connect(make_sim(homing=False))
    with pytest.raises(TurntableError, match=r"error:5.*unlock"):
        table.home()


@pytest.mark.serial
def test_relative_and_absolute_moves_read_back_the_angle(make_sim, connect):
    sim = make_sim(homing=False, time_scale=10.0)
    table = connect(sim)
    assert table.move_by(15.0) == pytest.approx(15.0)
    assert table.move_by(-5.25) == pytest.approx(9.75)
    assert table.move_to(90.0) == pytest.approx(90.0)
    assert table.move_to(-20.5, feed=360.0) == pytest.approx(-20.5)
    assert table.move_by(0.0) == pytest.approx(-20.5)
    assert sim.motion() == pytest.approx((-20.5, 0.0))
    assert table.settings()[100] == 100.0


@pytest.mark.serial
def test_ok_is_not_completion(make_sim, connect):
    sim = make_sim(homing=False, time_scale=4.0)
    table = connect(sim)
    queued = table.move_by(90.0, feed=180.0, wait=False)
    assert queued < 90.0
    assert table.status().state == "Run"
    done = table.wait_idle()
    assert (done.state, done.angle) == ("Idle", pytest.approx(90.0))


@pytest.mark.serial
def test_feed_is_degrees_per_second(make_sim, connect):
    scale = 4.0
    sim = make_sim(homing=False, time_scale=scale, accel=math.inf)
    table = connect(sim)
    t0 = time.time()
    table.move_by(30.0, feed=25.0)
    t1 = time.time()
    speeds = [abs(sim.motion(t)[1]) for t in _grid(t0, t1)]
    assert max(speeds) == pytest.approx(25.0 * scale)


@pytest.mark.serial
@pytest.mark.parametrize(
    ("line", "code"),
    [("$Z", 3), ("G1 X5", 22), ("G38.2 X1", 20), ("G0 Xabc", 2)],
)
def test_grbl_errors_raise_turntable_error_with_the_code(make_sim, connect, line, code):
    table = connect(make_sim(homing=False))
    with pytest.raises(
        TurntableError, match=rf"error:{code} \(.*\) to '{re.escape(line)}'"
    ) as info:
        table.command(line)
    assert not isinstance(info.value, TurntableAlarm)
    # The exchange stays in step: the next command gets its own answer.
    assert table.command("G90") == []


@pytest.mark.serial
def test_gcode_in_alarm_raises_turntable_alarm_with_error_9(make_sim, connect):
    table = connect(make_sim(homing=True))
    with pytest.raises(TurntableAlarm, match=r"error:9"):
        table.command("G0 X1")
    with pytest.raises(TurntableAlarm, match=r"error:9"):
        table.move_to(10.0, feed=5.0)


@pytest.mark.serial
def test_bad_requests_are_refused_before_sending(make_sim, connect):
    table = connect(make_sim(homing=False))
    for call in (
        lambda: table.move_by(math.nan),
        lambda: table.move_to(10.0, feed=0.0),
        lambda: table.command("G0 X1\nG0 X2"),
        lambda: table.track(interval=0.0),
    ):
        with pytest.raises(BadRequest):
            call()
    assert table.status().angle == 0.0


@pytest.mark.serial
def test_alarm_mid_move_raises_and_home_recovers(make_sim, connect):
    sim = make_sim(homing=True, time_scale=1.0)
    table = connect(sim)
    table.home()

    def trip_when_running() -> None:
        deadline = time.monotonic() + 5.0
        while sim.state != "Run" and time.monotonic() < deadline:
            time.sleep(0.001)
        sim.raise_alarm(1)

    tripper = threading.Thread(target=trip_when_running)
    tripper.start()
    try:
        with pytest.raises(TurntableAlarm, match=r"ALARM:1 \(hard limit.*limit switches"):
            table.move_by(360.0, feed=90.0)
    finally:
        tripper.join()
    stopped, velocity = sim.motion()
    assert 0.0 < stopped < 360.0 and velocity == 0.0
    assert table.status().state == "Alarm"
    # GRBL ignores lines after a hard limit until a soft reset: home() sends one first.
    with pytest.raises(TurntableAlarm, match="soft reset"):
        table.move_by(1.0)
    table.home()
    assert table.move_to(10.0) == pytest.approx(10.0)


@pytest.mark.serial
def test_silent_controller_times_out(make_sim, connect):
    sim = make_sim(homing=False)
    table = connect(sim, timeout=0.3)
    sim.silent = True
    with pytest.raises(TurntableTimeout, match=r"'\?'.*0\.3 s"):
        table.status()
    with pytest.raises(TurntableTimeout, match=r"'G91 G0 X1'.*0\.3 s"):
        table.move_by(1.0)
    sim.silent = False
    assert table.status().state == "Idle"


@pytest.mark.serial
def test_connecting_to_a_silent_port_says_what_to_check(make_sim):
    sim = make_sim()
    sim.silent = True
    with pytest.raises(TurntableTimeout, match=r"115200 baud.*is this a GRBL controller"):
        GrblTurntable(sim.port, timeout=0.3)


def test_opening_a_missing_port_names_it():
    with pytest.raises(TurntableError, match=r"/dev/does-not-exist.*capture doctor"):
        GrblTurntable("/dev/does-not-exist")


@pytest.mark.serial
def test_track_during_a_feed_move_matches_the_physics(make_sim, connect):
    sim = make_sim(homing=False, time_scale=1.0, accel=720.0)
    table = connect(sim)
    reports = table.track(interval=0.01)
    assert [(r.state, r.angle) for r in reports] == [("Idle", 0.0)]
    table.move_by(8.0, feed=20.0)
    assert table.stop_tracking() is reports
    times = np.array([r.t for r in reports])
    angles = np.array([r.angle for r in reports])
    assert len(reports) >= 20
    assert np.all(np.diff(times) > 0)
    assert np.all(np.diff(angles) >= 0) and angles[0] == 0.0 and angles[-1] == 8.0
    assert {r.state for r in reports} == {"Idle", "Run"}
    # Report times are the midpoint of each query's round trip; a few ms of scheduling delay
    # on a loaded machine at 20 deg/s, plus 0.01 deg steps, stay well within 0.3 deg.
    for t in _grid(times[0], times[-1], 50):
        assert interpolate_angle(reports, t) == pytest.approx(sim.motion(t)[0], abs=0.3)


@pytest.mark.serial
def test_tracking_stops_with_an_error_when_the_controller_goes_silent(make_sim, connect):
    sim = make_sim(homing=False)
    table = connect(sim, timeout=0.2)
    reports = table.track(interval=0.01)
    with pytest.raises(TurntableError, match="already"):
        table.track()
    sim.silent = True
    # The tracker's next query times out and its thread ends on its own: wait for that
    # (the join's limit is a hang guard, not a timing assumption).
    tracker = table._tracker
    tracker.join(timeout=60)
    assert not tracker.is_alive(), "the tracker went on querying a silent controller"
    with pytest.raises(TurntableError, match=r"tracking .* stopped early") as info:
        table.stop_tracking()
    assert isinstance(info.value.__cause__, TurntableTimeout)
    assert reports and all(r.state == "Idle" for r in reports)
    assert table.stop_tracking() == []


@pytest.mark.serial
def test_power_cycle_loses_the_position(make_sim, connect):
    sim = make_sim(homing=True, time_scale=10.0)
    table = connect(sim)
    table.home()
    assert table.move_to(45.0) == pytest.approx(45.0)
    sim.power_cycle()
    status = table.status()
    assert (status.state, status.angle) == ("Alarm", 0.0)
    assert sim.motion()[0] == pytest.approx(45.0)  # the table itself did not move
    with pytest.raises(TurntableAlarm, match="restarted"):
        table.move_by(1.0)
    table.home()
    assert sim.motion() == (0.0, 0.0)
    assert table.move_to(45.0) == pytest.approx(45.0)
    assert sim.motion()[0] == pytest.approx(45.0)


@pytest.mark.serial
def test_close_is_idempotent_and_leaves_no_threads(make_sim):
    sim = make_sim(homing=False)
    table = GrblTurntable(sim.port)
    table.track()
    table.close()
    table.close()
    assert table.closed
    with pytest.raises(TurntableError, match="closed"):
        table.status()
    sim.stop()
    sim.stop()
    names = [thread.name for thread in threading.enumerate()]
    assert not [name for name in names if name.startswith(("grbl-sim", "grbl-track"))]


def test_list_serial_ports_gives_sorted_device_paths(monkeypatch):
    from types import SimpleNamespace

    from capture.devices import grbl

    found = [SimpleNamespace(device=d) for d in ("/dev/ttyUSB1", "/dev/ttyACM0", "/dev/ttyUSB0")]
    monkeypatch.setattr(grbl.list_ports, "comports", lambda: found)
    assert list_serial_ports() == ["/dev/ttyACM0", "/dev/ttyUSB0", "/dev/ttyUSB1"]


# -- interpolate_angle -----------------------------------------------------------------------


def test_interpolate_angle_is_linear_between_reports_and_clamped_outside():
    reports = [
        TurntableStatus("Run", 10.0, 101.0),
        TurntableStatus("Idle", 0.0, 100.0),  # out of order on purpose
        TurntableStatus("Idle", 30.0, 102.0),
    ]
    assert interpolate_angle(reports, 100.25) == pytest.approx(2.5)
    assert interpolate_angle(reports, 101.5) == pytest.approx(20.0)
    assert interpolate_angle(reports, 99.0) == 0.0
    assert interpolate_angle(reports, 105.0) == 30.0
    assert interpolate_angle(reports[:1], 0.0) == 10.0


def test_interpolate_angle_refuses_empty_reports_and_bad_times():
    with pytest.raises(ValueError, match="track"):
        interpolate_angle([], 1.0)
    with pytest.raises(ValueError, match="finite"):
        interpolate_angle([TurntableStatus("Idle", 0.0, 1.0)], math.nan)
