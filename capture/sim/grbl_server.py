"""A GRBL 1.1 controller simulated behind a real pseudo-terminal.

The simulator serves ``/dev/pts/N`` from a daemon thread, so the real serial driver
(:mod:`capture.devices.grbl`) is what the tests and ``--turntable sim`` exercise.  Motion is
computed from the clock (the wall clock unless told otherwise): each queued move is a
trapezoidal velocity profile (or a constant-speed one with ``accel=math.inf``) that starts when
the one before it ends, and the position answered to ``?`` is where that profile puts the table
at the moment the query arrives.  A move queued in the same direction while the one before it
has not begun slowing down carries it on through a junction speed, as GRBL's look-ahead planner
does (a simplified one: the lower of the two feeds, and one the new move can stop from), so a
sweep paced in short segments turns without stopping between them.
:meth:`GrblSimulator.motion` gives the same physics to a simulated camera.  The clock is
injectable (``clock=``, see :mod:`capture.sim.clock`).

What it speaks (gnea/grbl ``doc/markdown/interface.md`` and ``commands.md``): lines answered
``ok``/``error:N``; real-time ``?`` and Ctrl-X; ``$``, ``$$``, ``$N=value``, ``$X``, ``$H``,
``$G``, ``$I``; G-code ``G0``, ``G1`` with ``F``, ``G4 P``, ``G90``/``G91`` and the no-op
modes ``G17 G21 G54 G94``.  Not simulated: feed hold and resume (``!``/``~`` are ignored),
jogging (``$J=``), check mode, soft limits, the 15-block planner limit, axes Y and Z.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import select
import threading
import time
import tty
from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = ["BANNER", "GrblSimulator"]

log = logging.getLogger(__name__)

BANNER = "\r\nGrbl 1.1h ['$' for help]\r\n"
_UNLOCK_HINT = "[MSG:'$H'|'$X' to unlock]"
_RESET_HINT = "[MSG:Reset to continue]"
_HELP = "[HLP:$$ $# $G $I $N $x=val $Nx=line $J=line $SLP $C $X $H ~ ! ? ctrl-x]"
_LINE_MAX = 80  # GRBL's LINE_BUFFER_SIZE; longer lines get error:11
_HISTORY = 4096  # segments kept so that motion(t) can answer for recent past times
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_SETTING = re.compile(r"\$(\d+)=(.*)")
_INTEGER_SETTINGS = frozenset({0, 1, 2, 3, 4, 5, 6, 10, 13, 20, 21, 22, 23, 26, 30, 31, 32})
_CRITICAL_ALARMS = frozenset({1, 2})  # hard and soft limit: GRBL halts until a reset


class _GcodeError(Exception):
    """A line GRBL would answer with ``error:code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class _Segment:
    """One move, in clock units (seconds, degrees per second): from speed ``v0`` up (or down)
    to ``vp``, a cruise, then to ``v1`` (0 unless the next move carries on through it)."""

    t0: float
    x0: float
    x1: float
    ta0: float  # time spent going from v0 to vp
    tc: float  # time at the peak speed
    ta1: float  # time spent going from vp to v1
    vp: float  # peak speed, >= 0
    v0: float = 0.0
    v1: float = 0.0
    vmax: float = 0.0  # the speed asked for; a G0/G1 move the next may carry on when > 0
    t_cut: float = math.inf  # motion stopped dead here (reset, alarm, power cut)

    @property
    def duration(self) -> float:
        return self.ta0 + self.tc + self.ta1

    @property
    def t_end(self) -> float:
        return min(self.t0 + self.duration, self.t_cut)

    @property
    def t_decel(self) -> float:
        """When it starts slowing down towards ``v1``."""
        return self.t0 + self.ta0 + self.tc

    def at(self, t: float) -> tuple[float, float]:
        if t >= self.t_cut:
            return self._profile(self.t_cut - self.t0)[0], 0.0
        return self._profile(t - self.t0)

    def _profile(self, tau: float) -> tuple[float, float]:
        if tau <= 0.0:
            return self.x0, 0.0 if self.v0 == 0 else self._sign * self.v0
        if tau >= self.duration:
            return self.x1, 0.0 if self.v1 == 0 else self._sign * self.v1
        if tau < self.ta0:
            a = (self.vp - self.v0) / self.ta0
            s = self.v0 * tau + 0.5 * a * tau * tau
            v = self.v0 + a * tau
        elif tau < self.ta0 + self.tc:
            s = 0.5 * (self.v0 + self.vp) * self.ta0 + self.vp * (tau - self.ta0)
            v = self.vp
        else:
            left = self.duration - tau
            a = (self.vp - self.v1) / self.ta1
            s = abs(self.x1 - self.x0) - self.v1 * left - 0.5 * a * left * left
            v = self.v1 + a * left
        return self.x0 + self._sign * s, self._sign * v

    @property
    def _sign(self) -> float:
        return 1.0 if self.x1 >= self.x0 else -1.0


def _trapezoid(
    t0: float, x0: float, x1: float, speed: float, accel: float, v0: float = 0.0, v1: float = 0.0
) -> _Segment:
    """A move from speed ``v0`` to ``v1`` (both at most ``speed``, and ``v1`` reachable from
    ``v0`` over the distance) that cruises at ``speed`` if the distance allows."""
    distance = abs(x1 - x0)
    if math.isinf(accel):
        return _Segment(t0, x0, x1, 0.0, distance / speed, 0.0, speed, vmax=speed)
    ramps = (2.0 * speed * speed - v0 * v0 - v1 * v1) / (2.0 * accel)
    if distance >= ramps:
        return _Segment(
            t0, x0, x1, (speed - v0) / accel, (distance - ramps) / speed,
            (speed - v1) / accel, speed, v0, v1, speed,
        )  # fmt: skip
    peak = math.sqrt(max(accel * distance + 0.5 * (v0 * v0 + v1 * v1), v0 * v0, v1 * v1))
    return _Segment(t0, x0, x1, (peak - v0) / accel, 0.0, (peak - v1) / accel, peak, v0, v1, speed)


def _linear(t0: float, x0: float, x1: float, duration: float) -> _Segment:
    if duration <= 0.0:
        return _Segment(t0, x0, x1, 0.0, 0.0, 0.0, 0.0)
    return _Segment(t0, x0, x1, 0.0, duration, 0.0, abs(x1 - x0) / duration)


def _parse_number(text: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise _GcodeError(2)
    return float(text)


def _parse_words(text: str) -> list[tuple[str, float]]:
    words = []
    i = 0
    while i < len(text):
        letter = text[i]
        if not ("A" <= letter <= "Z"):
            raise _GcodeError(1)
        match = _NUMBER.match(text, i + 1)
        if match is None:
            raise _GcodeError(2)
        words.append((letter, float(match.group())))
        i = match.end()
    return words


def _clean(line: str) -> str:
    # GRBL drops spaces, (comments) and ;comments, and upper-cases what is left.
    line = re.sub(r"\([^)]*\)", "", line.split(";", 1)[0])
    return "".join(line.split()).upper()


class GrblSimulator:
    """A one-axis GRBL 1.1 controller on a pseudo-terminal, for tests and demos.

    Parameters
    ----------
    max_rate : float
        Rapid (``G0``) speed and cap on ``G1`` feeds, degrees per simulated second
        (``$110`` is this times 60).
    accel : float
        Acceleration in degrees per simulated second squared (``$120``); ``math.inf`` for
        constant-speed moves.
    homing : bool
        ``$22``: when true the controller powers up in ``Alarm`` until ``$H`` or ``$X``;
        when false ``$H`` answers ``error:5``.
    home_duration : float
        How long a homing cycle takes, in simulated seconds.
    time_scale : float
        Simulated motion runs this many times faster than the wall clock.
    start_angle : float
        Physical angle of the table at power-up, in degrees.
    clock : object, optional
        Where time comes from (``time()``; default the :mod:`time` module).  Share a
        :class:`~capture.sim.clock.SimClock` with the simulated camera and the driver to
        compute motion on simulated time; homing and dwells then complete only as that clock
        is moved on.

    Notes
    -----
    Use it as a context manager, or call :meth:`start` (returns the port path) and
    :meth:`stop`.  ``serial.Serial(sim.port, 115200)`` then opens a real ``/dev/pts/N``.

    :meth:`motion` returns the *physical* angle.  The controller reports its machine position
    (``MPos``), which equals the physical angle until :meth:`power_cycle` makes the controller
    forget it (``MPos`` restarts at 0 where the table stands); homing drives the table to the
    switch at physical 0 and makes the two agree again.

    Fault injection: :meth:`power_cycle`, :meth:`raise_alarm`, and the :attr:`silent` flag
    (while true, input is discarded and nothing is answered).
    """

    def __init__(
        self,
        *,
        max_rate: float = 720.0,
        accel: float = 720.0,
        homing: bool = True,
        home_duration: float = 0.2,
        time_scale: float = 1.0,
        start_angle: float = 0.0,
        clock: Any = time,
    ) -> None:
        for name, value in (("max_rate", max_rate), ("time_scale", time_scale)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"expected a positive finite {name}, found {value!r}")
        if not accel > 0:
            raise ValueError(f"expected a positive accel (or math.inf), found {accel!r}")
        if not (math.isfinite(home_duration) and home_duration >= 0):
            raise ValueError(f"expected home_duration >= 0 seconds, found {home_duration!r}")
        if not math.isfinite(start_angle):
            raise ValueError(f"expected a finite start_angle, found {start_angle!r}")
        self.time_scale = float(time_scale)
        self.clock = clock
        self.home_duration = float(home_duration)
        #: While true the controller discards its input and answers nothing (a hung board).
        self.silent = False
        #: The pseudo-terminal's path once started, e.g. ``/dev/pts/3``.
        self.port: str | None = None
        self._settings: dict[int, float] = {
            0: 10, 1: 25, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 10: 1, 11: 0.010, 12: 0.002,
            13: 0, 20: 0, 21: 0, 22: int(homing), 23: 0, 24: 25.0, 25: 500.0, 26: 250,
            27: 1.0, 30: 1000, 31: 0, 32: 0, 100: 100.0, 101: 250.0, 102: 250.0,
            110: max_rate * 60.0, 111: 500.0, 112: 500.0, 120: accel, 121: 10.0,
            122: 10.0, 130: 360.0, 131: 200.0, 132: 200.0,
        }  # fmt: skip
        self._lock = threading.RLock()
        self._start_x = float(start_angle)
        self._segments: deque[_Segment] = deque(maxlen=_HISTORY)
        self._plan_x = float(start_angle)  # physical angle where the last queued move ends
        self._motion_end = -math.inf
        self._offset = 0.0  # physical angle minus machine position
        self._alarm = bool(homing)
        self._critical = False  # halted after a hard/soft limit alarm until Ctrl-X
        self._homing_until: float | None = None
        self._dwell_until: float | None = None
        self._line = bytearray()
        self._overflow = False
        self._pending: deque[str | None] = deque()  # None stands for an overlong line
        self._reset_modal()
        self._master: int | None = None
        self._slave: int | None = None
        self._wake: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> str:
        """Open the pseudo-terminal, start serving it and return its path."""
        if self._thread is not None:
            assert self.port is not None
            return self.port
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._wake = os.pipe()
        self.port = os.ttyname(slave)
        self._stop.clear()
        with self._lock:
            # Lost on a real port too: pyserial flushes its input when it opens.
            self._send_banner()
        self._thread = threading.Thread(
            target=self._serve, name=f"grbl-sim {self.port}", daemon=True
        )
        self._thread.start()
        log.debug("GRBL simulator serving %s", self.port)
        return self.port

    def stop(self) -> None:
        """Stop serving, join the thread and close the pseudo-terminal (idempotent).

        Raises
        ------
        RuntimeError
            If the serving thread died of an exception (a bug in the simulator).
        """
        if self._thread is None:
            return
        self._stop.set()
        assert self._wake is not None
        os.write(self._wake[1], b"x")
        self._thread.join()
        self._thread = None
        for fd in (self._master, self._slave, *self._wake):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self._wake = None
        error, self._error = self._error, None
        if error is not None:
            raise RuntimeError(f"the GRBL simulator on {self.port} failed: {error!r}") from error

    def __enter__(self) -> GrblSimulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- physics and state for callers ---------------------------------------------------

    def motion(self, t: float | None = None) -> tuple[float, float]:
        """Physical angle and angular velocity of the table at time ``t`` on the clock.

        Parameters
        ----------
        t : float, optional
            Seconds on the clock (``time.time()`` by default); default now.  Past times within
            the recent history of moves are answered too (a camera asks about an exposure's
            midpoint).

        Returns
        -------
        (float, float)
            Angle in degrees and velocity in degrees per wall-clock second (that is, the
            simulated velocity times ``time_scale``).
        """
        with self._lock:
            return self._x_at(self.clock.time() if t is None else float(t))

    @property
    def state(self) -> str:
        """The state a ``?`` would report now (``Idle``, ``Run``, ``Home``, ``Alarm``)."""
        with self._lock:
            return self._state(self.clock.time())

    @property
    def max_rate(self) -> float:
        """``$110`` in degrees per simulated second."""
        return self._settings[110] / 60.0

    @property
    def accel(self) -> float:
        """``$120`` in degrees per simulated second squared."""
        return self._settings[120]

    @property
    def homing(self) -> bool:
        """``$22``: whether homing is enabled (and the power-up alarm with it)."""
        return bool(self._settings[22])

    # -- fault injection ---------------------------------------------------------------

    def power_cycle(self) -> None:
        """Cut and restore power: motion stops dead, the position is forgotten, banner sent.

        Settings survive (GRBL keeps them in EEPROM).  With homing enabled the controller
        comes back in ``Alarm``.
        """
        with self._lock:
            now = self.clock.time()
            self._abort(now)
            self._offset = self._plan_x
            self._alarm = self.homing
            self._send_banner()

    def raise_alarm(self, code: int = 1) -> None:
        """Raise ``ALARM:code`` now, as a tripped limit switch would (code 1: hard limit).

        Motion stops dead and queued moves are dropped.  For codes 1 and 2 (hard and soft
        limit) the controller then ignores every line until a soft reset (Ctrl-X), as GRBL
        does; status queries are still answered.
        """
        if not (isinstance(code, int) and code > 0):
            raise ValueError(f"expected a positive integer alarm code, found {code!r}")
        with self._lock:
            now = self.clock.time()
            self._abort(now)
            self._alarm = True
            self._send(f"ALARM:{code}")
            if code in _CRITICAL_ALARMS:
                self._critical = True
                self._send(_RESET_HINT)

    # -- serving -------------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._master is not None and self._wake is not None
        master, wake = self._master, self._wake[0]
        try:
            while not self._stop.is_set():
                with self._lock:
                    timeout = self._until_next_event(self.clock.time())
                ready, _, _ = select.select([master, wake], [], [], timeout)
                if self._stop.is_set():
                    break
                data = b""
                if master in ready:
                    try:
                        data = os.read(master, 4096)
                    except BlockingIOError:
                        pass
                    except OSError as exc:
                        if exc.errno != errno.EIO:
                            raise
                        time.sleep(0.01)  # EIO: nobody holds the other end right now
                with self._lock:
                    now = self.clock.time()
                    self._tick(now)
                    if data:
                        self._receive(data, now)
        except Exception as exc:  # surfaced by stop()
            self._error = exc
            log.exception("GRBL simulator on %s failed", self.port)

    def _until_next_event(self, now: float) -> float:
        events = [t for t in (self._homing_until, self._dwell_until) if t is not None]
        if not events:
            return 0.05
        return max(0.0, min(0.05, min(events) - now))

    def _tick(self, now: float) -> None:
        if self._homing_until is not None and now >= self._homing_until:
            self._homing_until = None
            self._alarm = False
            self._offset = 0.0
            self._send("ok")
            self._run_pending(now)
        if self._dwell_until is not None and now >= self._dwell_until:
            self._dwell_until = None
            self._send("ok")
            self._run_pending(now)

    def _receive(self, data: bytes, now: float) -> None:
        if self.silent:
            return
        for byte in data:
            if byte == 0x18:
                self._soft_reset(now)
            elif byte == 0x3F:  # '?'
                self._send(self._status_report(now))
            elif byte in (0x21, 0x7E) or byte >= 0x80:  # '!', '~', extended real-time
                log.debug("GRBL simulator ignores real-time command 0x%02x", byte)
            elif byte in (0x0A, 0x0D):
                line = None if self._overflow else self._line.decode("ascii", "replace")
                self._line.clear()
                self._overflow = False
                self._pending.append(line)
                self._run_pending(now)
            elif len(self._line) >= _LINE_MAX:
                self._overflow = True
            else:
                self._line.append(byte)

    def _run_pending(self, now: float) -> None:
        while self._pending and self._homing_until is None and self._dwell_until is None:
            line = self._pending.popleft()
            if self._critical:
                continue  # halted after a limit alarm: lines are dropped until Ctrl-X
            answer = self._execute(line, now)
            if answer is not None:
                self._send(answer)

    def _execute(self, line: str | None, now: float) -> str | None:
        if line is None:
            return "error:11"
        text = _clean(line)
        if not text:
            return "ok"
        try:
            if text.startswith("$"):
                return self._system(text, now)
            return self._gcode(text, now)
        except _GcodeError as exc:
            return f"error:{exc.code}"

    # -- commands -------------------------------------------------------------------------

    def _system(self, text: str, now: float) -> str | None:
        if text == "$":
            self._send(_HELP)
            return "ok"
        if self._state(now) in ("Run", "Home"):
            raise _GcodeError(8)
        if text == "$$":
            for number, value in self._settings.items():
                shown = f"{int(value)}" if number in _INTEGER_SETTINGS else f"{value:.3f}"
                self._send(f"${number}={shown}")
            return "ok"
        if text == "$X":
            if self._alarm:
                self._send("[MSG:Caution: Unlocked]")
                self._alarm = False
            return "ok"
        if text == "$H":
            if not self.homing:
                raise _GcodeError(5)
            duration = self.home_duration / self.time_scale
            x, _ = self._x_at(now)
            self._segments.append(_linear(now, x, 0.0, duration))
            self._plan_x = 0.0
            self._motion_end = now + duration
            self._homing_until = now + duration
            return None  # 'ok' once homed (see _tick)
        if text == "$G":
            distance = 91 if self._relative else 90
            self._send(
                f"[GC:G{self._motion_mode} G54 G17 G21 G{distance} G94 M5 M9 T0 F{self._feed:g} S0]"
            )
            return "ok"
        if text == "$I":
            self._send("[VER:1.1h.20190825:]")
            self._send("[OPT:V,15,128]")
            return "ok"
        match = _SETTING.fullmatch(text)
        if match is None or int(match.group(1)) not in self._settings:
            raise _GcodeError(3)
        number = int(match.group(1))
        value = _parse_number(match.group(2))
        if value < 0:
            raise _GcodeError(4)
        if number in (110, 120) and value == 0:
            raise _GcodeError(3)  # the simulator cannot move at zero speed or acceleration
        self._settings[number] = int(value) if number in _INTEGER_SETTINGS else value
        return "ok"

    def _gcode(self, text: str, now: float) -> str | None:
        if self._alarm:
            raise _GcodeError(9)
        motion: int | None = None
        distance: int | None = None
        dwell = False
        values: dict[str, float] = {}
        for letter, value in _parse_words(text):
            if letter == "G":
                if value != int(value):
                    raise _GcodeError(20)  # G38.2 and friends
                code = int(value)
                if code in (0, 1):
                    if motion is not None:
                        raise _GcodeError(21)
                    motion = code
                elif code in (90, 91):
                    if distance is not None:
                        raise _GcodeError(21)
                    distance = code
                elif code == 4:
                    if dwell:
                        raise _GcodeError(21)
                    dwell = True
                elif code not in (17, 21, 54, 94):
                    raise _GcodeError(20)
            elif letter in ("X", "F", "P"):
                if letter in values:
                    raise _GcodeError(25)
                values[letter] = value
            elif letter != "N":
                raise _GcodeError(20)
        if "F" in values and values["F"] < 0:
            raise _GcodeError(4)
        if dwell and "P" not in values:
            raise _GcodeError(28)
        if "P" in values and not dwell:
            raise _GcodeError(36)
        if "P" in values and values["P"] < 0:
            raise _GcodeError(4)
        # Validate everything before touching the modal state, as GRBL's parser does.
        motion_mode = self._motion_mode if motion is None else motion
        feed = values.get("F", self._feed)
        relative = self._relative if distance is None else distance == 91
        speed = self.max_rate
        if "X" in values and motion_mode == 1:
            if feed <= 0:
                raise _GcodeError(22)
            speed = min(feed / 60.0, self.max_rate)
        self._motion_mode, self._feed, self._relative = motion_mode, feed, relative
        if "X" in values:
            self._queue_move(values["X"], speed, now)
        if dwell:
            self._dwell_until = max(now, self._motion_end) + values["P"] / self.time_scale
            return None  # 'ok' once the motion and the dwell are over (see _tick)
        return "ok"

    def _queue_move(self, x: float, speed: float, now: float) -> None:
        current = self._plan_x - self._offset
        target = current + x if self._relative else x
        steps = self._settings[100]
        if steps > 0:
            target = round(target * steps) / steps
        x1 = target + self._offset
        if x1 != self._plan_x:
            scale = self.time_scale
            speed, accel = speed * scale, self.accel * scale * scale
            t0 = max(now, self._motion_end)
            v0 = self._blend(x1, speed, accel, now)
            if v0:
                t0 = self._segments[-1].t_end
            segment = _trapezoid(t0, self._plan_x, x1, speed, accel, v0=v0)
            self._segments.append(segment)
            self._motion_end = segment.t_end
        self._plan_x = x1

    def _blend(self, x1: float, speed: float, accel: float, now: float) -> float:
        """Carry the move still running on into the next one in its direction, as GRBL's
        planner does: re-plan its end to the junction speed (the lower of the two speeds, and
        one the new move can still stop from) and return that speed, or 0 to stop between.

        Only while the running move has not started slowing down: up to then its motion is
        the same whatever speed it ends at.
        """
        if not self._segments or math.isinf(accel):
            return 0.0
        prev = self._segments[-1]
        if not prev.vmax or prev.t_cut != math.inf or prev.t_end <= now or now > prev.t_decel:
            return 0.0
        if (prev.x1 - prev.x0) * (x1 - prev.x1) <= 0:
            return 0.0  # a reversal stops in between
        junction = min(prev.vp, speed, math.sqrt(2.0 * accel * abs(x1 - prev.x1)))
        # Same start, same acceleration, a cruise as long or longer: the same motion until
        # the old one would have started slowing down, which is still to come.
        self._segments[-1] = _trapezoid(
            prev.t0, prev.x0, prev.x1, prev.vmax, accel, v0=prev.v0, v1=junction
        )
        return junction

    # -- state --------------------------------------------------------------------------

    def _reset_modal(self) -> None:
        self._relative = False
        self._motion_mode = 0
        self._feed = 0.0

    def _abort(self, now: float) -> None:
        """Stop dead at ``now``: drop queued moves, pending lines, dwell and homing."""
        while self._segments and self._segments[-1].t0 > now:
            self._segments.pop()
        if self._segments and self._segments[-1].t_end > now:
            self._segments[-1].t_cut = now
        self._plan_x = self._x_at(now)[0]
        self._motion_end = min(self._motion_end, now)
        self._homing_until = None
        self._dwell_until = None
        self._pending.clear()
        self._line.clear()
        self._overflow = False
        self._critical = False
        self._reset_modal()

    def _soft_reset(self, now: float) -> None:
        if self._homing_until is not None:
            code = 6  # homing fail: reset during an active homing cycle
        elif now < self._motion_end:
            code = 3  # reset while in motion: position likely lost
        else:
            code = None
        self._abort(now)
        if code is not None:
            self._alarm = True
            self._send(f"ALARM:{code}")
        self._send_banner()

    def _state(self, now: float) -> str:
        if self._homing_until is not None:
            return "Home"
        if self._alarm:
            return "Alarm"
        if now < self._motion_end:
            return "Run"
        return "Idle"

    def _status_report(self, now: float) -> str:
        x, v = self._x_at(now)
        position = x - self._offset
        steps = self._settings[100]
        if steps > 0:
            position = round(position * steps) / steps
        feed = abs(v) / self.time_scale * 60.0
        return f"<{self._state(now)}|MPos:{position + 0.0:.3f},0.000,0.000|FS:{feed:.0f},0>"

    def _x_at(self, t: float) -> tuple[float, float]:
        for segment in reversed(self._segments):
            if segment.t0 <= t:
                return segment.at(t)
        if self._segments:
            return self._segments[0].x0, 0.0
        return self._start_x, 0.0

    # -- output ------------------------------------------------------------------------

    def _send_banner(self) -> None:
        self._write(BANNER.encode("ascii"))
        if self._alarm:
            self._send(_UNLOCK_HINT)

    def _send(self, line: str) -> None:
        self._write(line.encode("ascii") + b"\r\n")

    def _write(self, data: bytes) -> None:
        if self.silent or self._master is None:
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                # Nobody reads the port and its buffer is full: a UART drops bytes too.
                log.warning(
                    "GRBL simulator dropped %d bytes: nobody reads %s", len(view), self.port
                )
                return
            view = view[written:]
