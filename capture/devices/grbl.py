"""A one-axis GRBL 1.1 turntable over a serial port: the only module that imports ``serial``.

The X axis is the turntable, in degrees (set ``$100`` to steps per degree).  Every line sent
waits for GRBL's ``ok`` or ``error:N``; ``ok`` means *queued*, so moves that wait poll the
real-time status query ``?`` until the controller is ``Idle`` again.  GRBL's error and alarm
codes become :class:`~capture.errors.TurntableError` and
:class:`~capture.errors.TurntableAlarm` messages that say what went wrong and what to do.

Reference: gnea/grbl ``doc/markdown/interface.md`` and ``commands.md``.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from typing import Any

import serial
from serial.tools import list_ports

from capture.errors import BadRequest, TurntableAlarm, TurntableError, TurntableTimeout
from capture.protocols import TurntableStatus

__all__ = ["GRBL_ALARMS", "GRBL_ERRORS", "GrblTurntable", "list_serial_ports"]

log = logging.getLogger(__name__)

#: What GRBL 1.1's ``error:N`` codes mean (``doc/csv/error_codes_en_US.csv``).
GRBL_ERRORS: dict[int, str] = {
    1: "expected a command letter: G-code words are a letter followed by a value",
    2: "bad number format: a value is missing or malformed",
    3: "invalid statement: this '$' system command is not recognised or supported",
    4: "negative value where a positive one is required",
    5: "homing is not enabled in the settings ($22)",
    8: "the command is only valid when the controller is Idle",
    9: "G-code is locked out during an alarm or a jog",
    10: "soft limits need homing to be enabled",
    11: "the line is longer than 80 characters",
    15: "the jog target exceeds the machine travel",
    20: "unsupported or invalid G-code command",
    21: "more than one G-code command from the same modal group in one line",
    22: "feed rate not set or undefined (G1 needs F)",
    24: "two G-code commands in one line both need the axis words",
    25: "a G-code word is repeated in the line",
    26: "no axis words in a command that needs them",
    28: "a value word the command needs is missing",
    31: "axis words in a line where no command uses them",
    33: "the motion target is invalid",
    36: "unused value words in the line",
}

#: What GRBL 1.1's ``ALARM:N`` codes mean (``doc/csv/alarm_codes_en_US.csv``).
GRBL_ALARMS: dict[int, str] = {
    1: "hard limit triggered; the position is likely lost, re-homing is recommended",
    2: "soft limit: the motion target exceeds the machine travel; the position was kept",
    3: "reset while in motion; the position is likely lost, re-homing is recommended",
    4: "probe fail: the probe was not in the expected initial state",
    5: "probe fail: the probe did not make contact within the travel",
    6: "homing fail: the homing cycle was reset",
    7: "homing fail: the safety door was opened during homing",
    8: "homing fail: pull-off did not clear the limit switch",
    9: "homing fail: the limit switch was not found within the search distance",
    10: "homing fail: the second limit switch of a dual axis was not found",
}

_RESET = b"\x18"
_QUERY = b"?"
_BANNER = re.compile(r"Grbl (\S+)")
_STATUS = re.compile(r"<([A-Za-z]+)(?::\d+)?((?:\|[^|>]*)*)>")
_ERROR = re.compile(r"error:(\d+)")
_ALARM = re.compile(r"ALARM:(\d+)")
_RESET_HINT = "[MSG:Reset to continue]"
_POLL_S = 0.01  # status polling period while waiting for Idle
_ALARM_GRACE_S = 0.5  # after an ALARM line, how long we still wait for the pending answer
_READ_SLICE_S = 0.05  # pyserial read timeout: the granularity of our own deadlines


def list_serial_ports() -> list[str]:
    """Device paths of the serial ports the system knows about (``/dev/ttyUSB0``, ...).

    Returns
    -------
    list of str
        Sorted paths, as pyserial's ``list_ports`` finds them; pseudo-terminals are not listed.
    """
    return sorted(port.device for port in list_ports.comports())


def _number(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class GrblTurntable:
    """A GRBL 1.1 controller driving a turntable on its X axis, in degrees.

    Satisfies :class:`capture.protocols.Turntable`.

    Parameters
    ----------
    port : str
        Serial device, e.g. ``/dev/ttyUSB0`` (or a simulator's ``/dev/pts/N``).
    baud : int
        Baud rate; GRBL 1.1 uses 115200.
    timeout : float
        Seconds to wait for the answer to one line or one status query.
    move_timeout : float
        Seconds a move (``wait=True``), :meth:`wait_idle` or homing may take.
    clock : object, optional
        What stamps position reports and paces :meth:`wait_idle`'s polling: ``time()`` and
        ``sleep(seconds)``; default the :mod:`time` module.  The simulated rig's tests pass
        the clock the simulators share (:class:`capture.sim.clock.SimClock`); timeouts stay
        on the wall clock.

    Raises
    ------
    TurntableError
        If the port cannot be opened.
    TurntableTimeout
        If no GRBL banner answers the soft reset sent after opening.

    Notes
    -----
    Opening sends a soft reset (Ctrl-X), because pyserial flushes the input on open and the
    power-up banner is lost; GRBL answers it with its banner, which proves a GRBL controller
    is there.  A soft reset does not move the table, nor clear an alarm.

    Angles are work coordinates: ``MPos`` minus the work offset (zero unless someone set
    ``G92``/``G54`` offsets), which is what ``G90`` moves address.

    One lock serialises the port: the tracking thread and the caller's thread take turns,
    one complete exchange (line and answer, or ``?`` and report) at a time.
    """

    def __init__(
        self,
        port: str,
        *,
        baud: int = 115200,
        timeout: float = 5.0,
        move_timeout: float = 120.0,
        clock: Any = time,
    ) -> None:
        for name, value in (("timeout", timeout), ("move_timeout", move_timeout)):
            if not (math.isfinite(value) and value > 0):
                raise BadRequest(f"expected a positive {name} in seconds, found {value!r}")
        self.port = port
        self.baud = baud
        self.timeout = float(timeout)
        self.move_timeout = float(move_timeout)
        self.clock = clock
        #: GRBL's version from its banner, e.g. ``"1.1h"``.
        self.version: str | None = None
        self._lock = threading.RLock()
        self._rx = bytearray()
        self._wco = 0.0
        self._last_alarm: int | None = None
        self._restarted = False
        self._needs_reset = False
        self._reports: list[TurntableStatus] | None = None
        self._tracker: threading.Thread | None = None
        self._track_stop = threading.Event()
        self._track_error: TurntableError | None = None
        try:
            self._serial = serial.Serial(
                port, baud, timeout=_READ_SLICE_S, write_timeout=self.timeout
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TurntableError(
                f"could not open the turntable's serial port {port} at {baud} baud: {exc}; "
                "check the path (`capture doctor` lists serial ports), that you may use it "
                "(the dialout group) and that no other program holds it"
            ) from exc
        try:
            self._soft_reset()
            status = self.status()
        except BaseException:
            self._serial.close()
            raise
        log.info("GRBL %s on %s: %s at %.3f deg", self.version, port, status.state, status.angle)
        if status.state == "Alarm":
            log.info(
                "the turntable on %s is in Alarm (normal after power-up with homing "
                "enabled); home it before moving",
                port,
            )

    # -- the Turntable protocol ----------------------------------------------------------

    def status(self) -> TurntableStatus:
        """Query the controller's state and position with the real-time ``?``.

        Returns
        -------
        TurntableStatus
            GRBL's state (``Idle``, ``Run``, ``Hold``, ``Alarm``, ``Home``, ...), the angle in
            degrees and the time, the midpoint between sending ``?`` and reading the answer.
            An ``Alarm`` state is returned, not raised.  While :meth:`track` runs, the report
            is also appended to the tracking list.

        Raises
        ------
        TurntableTimeout
            If no status report comes back within ``timeout``.
        """
        with self._lock:
            self._check_open()
            self._drain()
            sent = self.clock.time()
            deadline = time.monotonic() + self.timeout
            self._write(_QUERY)
            alarm_seen = False
            while True:
                line = self._read_line(deadline)
                if line is None:
                    if alarm_seen or self._needs_reset:
                        raise self._alarm_error("no status report after the alarm")
                    raise TurntableTimeout(
                        f"sent the status query '?' to GRBL on {self.port} and waited "
                        f"{self.timeout:g} s for a '<State|MPos:...>' report, got none; check "
                        "that the controller is powered and connected, and that no other "
                        "program uses the port"
                    )
                if line.startswith("<"):
                    status = self._parse_status(line, 0.5 * (sent + self.clock.time()))
                    if self._reports is not None:
                        self._reports.append(status)
                    return status
                if self._note(line):
                    alarm_seen = True
                    deadline = min(deadline, time.monotonic() + _ALARM_GRACE_S)

    def unlock(self) -> None:
        """Clear an alarm without homing (``$X``); soft-resets first after a limit alarm.

        The position is then whatever the controller believes, which after an alarm may be
        wrong: prefer :meth:`home` where the table has a home switch.
        """
        with self._lock:
            if self._needs_reset:
                self._soft_reset()
            self.command("$X")
            self._forget_alarm()
        log.info("unlocked the turntable on %s ($X)", self.port)

    def home(self) -> None:
        """Run the homing cycle (``$H``), which also clears an alarm; waits up to ``move_timeout``.

        Raises
        ------
        TurntableError
            ``error:5`` when homing is disabled (``$22=0``): use :meth:`unlock` instead.
        TurntableAlarm
            If homing fails (limit switch not found, ...).
        """
        with self._lock:
            if self._needs_reset:
                self._soft_reset()
            self.command("$H", timeout=self.move_timeout)
            self._forget_alarm()
        log.info("homed the turntable on %s", self.port)

    def move_by(self, degrees: float, *, feed: float | None = None, wait: bool = True) -> float:
        """Turn by ``degrees`` relative to the current position (``G91``).

        Parameters
        ----------
        degrees : float
            Relative move; negative turns the other way.
        feed : float, optional
            Speed in degrees per second (``G1``); by default a rapid (``G0``) at ``$110``.
        wait : bool
            If true, poll until the controller is idle again.

        Returns
        -------
        float
            The angle read back: after the move with ``wait=True``, right after GRBL
            queued it otherwise (``ok`` is not completion, so that is not yet the target).

        Raises
        ------
        TurntableAlarm
            If the controller is in alarm (``error:9``) or raises one during the move.
        TurntableError
            For any other ``error:N``.
        TurntableTimeout
            If an answer or the end of the move does not come in time.
        """
        return self._move("G91", degrees, feed, wait)

    def move_to(self, angle: float, *, feed: float | None = None, wait: bool = True) -> float:
        """Turn to the absolute ``angle`` in degrees (``G90``); see :meth:`move_by`."""
        return self._move("G90", angle, feed, wait)

    def wait_idle(self, timeout: float | None = None) -> TurntableStatus:
        """Poll ``?`` until the controller reports ``Idle``.

        Parameters
        ----------
        timeout : float, optional
            Seconds; default ``move_timeout``.

        Returns
        -------
        TurntableStatus
            The idle report (its angle is where the table stopped).

        Raises
        ------
        TurntableAlarm
            If the controller reports ``Alarm`` (a limit switch, a reset, a power cut).
        TurntableTimeout
            If it is still not idle after ``timeout``.
        """
        limit = self.move_timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + limit
        idle_once = False
        while True:
            status = self.status()
            if status.state == "Alarm":
                raise self._alarm_error("while waiting for the move to finish")
            if status.state == "Idle":
                # GRBL can answer '?' before its planner starts a block it just queued, so
                # one Idle right after a move may be stale; two in a row are not.
                if idle_once:
                    return status
                idle_once = True
            else:
                idle_once = False
            if time.monotonic() >= deadline:
                raise TurntableTimeout(
                    f"expected the turntable on {self.port} to be Idle within {limit:g} s, "
                    f"found {status.state} at {status.angle:.3f} deg after polling '?' every "
                    f"{_POLL_S * 1000:.0f} ms; raise move_timeout for long slow moves, or "
                    "check for a feed hold (send '~' to resume) or a stalled motor"
                )
            self.clock.sleep(_POLL_S)

    def track(self, interval: float = 0.02) -> list[TurntableStatus]:
        """Start polling positions in a background thread; returns the list it fills.

        Parameters
        ----------
        interval : float
            Seconds between status queries.

        Returns
        -------
        list of TurntableStatus
            Holds one report when this returns, and fills in time order until
            :meth:`stop_tracking`; every other :meth:`status` call meanwhile (those of
            :meth:`wait_idle` included) lands in it too.
        """
        if not (math.isfinite(interval) and interval > 0):
            raise BadRequest(
                f"expected a positive tracking interval in seconds, found {interval!r}"
            )
        with self._lock:
            self._check_open()
            if self._tracker is not None:
                raise TurntableError(
                    f"expected one tracker per turntable, found one already running on "
                    f"{self.port}; call stop_tracking() before track() again"
                )
            reports: list[TurntableStatus] = []
            self._reports = reports
            self._track_error = None
            try:
                self.status()  # so the list already brackets whatever the caller does next
            except BaseException:
                self._reports = None
                raise
            self._track_stop.clear()
            self._tracker = threading.Thread(
                target=self._track_loop, args=(interval,), name=f"grbl-track {self.port}",
                daemon=True,
            )  # fmt: skip
            self._tracker.start()
        return reports

    def stop_tracking(self) -> list[TurntableStatus]:
        """Stop the tracking thread and return the reports (``[]`` if none was running).

        Raises
        ------
        TurntableError
            If tracking stopped early because the controller failed; the reports gathered
            until then are in the list :meth:`track` returned.
        """
        tracker = self._tracker
        if tracker is None:
            return []
        self._track_stop.set()
        tracker.join()
        with self._lock:
            reports = self._reports if self._reports is not None else []
            self._reports = None
            self._tracker = None
            error, self._track_error = self._track_error, None
        if error is not None:
            raise TurntableError(
                f"position tracking on {self.port} stopped early after {len(reports)} "
                f"reports: {error}"
            ) from error
        return reports

    def close(self) -> None:
        """Stop tracking and close the port (idempotent).  The table is left where it is."""
        try:
            self.stop_tracking()
        except TurntableError as exc:
            log.warning("%s", exc)
        with self._lock:
            if self._serial.is_open:
                self._serial.close()
                log.debug("closed %s", self.port)

    def __enter__(self) -> GrblTurntable:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GrblTurntable({self.port!r}, baud={self.baud})"

    # -- beyond the protocol -------------------------------------------------------------

    def command(self, line: str, *, timeout: float | None = None) -> list[str]:
        """Send one line and wait for ``ok``; return the lines GRBL printed before it.

        Parameters
        ----------
        line : str
            A G-code block or ``$`` command, without the newline.
        timeout : float, optional
            Seconds to wait for the answer; default ``timeout``.

        Returns
        -------
        list of str
            Informational lines received before ``ok`` (``$$`` settings, ``[MSG:...]``).

        Raises
        ------
        TurntableAlarm
            On ``error:9`` (locked by an alarm), or if the controller alarms or restarts
            before answering.
        TurntableError
            On any other ``error:N``, with GRBL's meaning and the line sent.
        TurntableTimeout
            If neither ``ok`` nor ``error:N`` comes in time.
        """
        if "\n" in line or "\r" in line:
            raise BadRequest(f"expected one line without line breaks, found {line!r}")
        limit = self.timeout if timeout is None else float(timeout)
        with self._lock:
            self._check_open()
            self._drain()
            if self._needs_reset:
                raise self._alarm_error(f"it would ignore {line!r}")
            deadline = time.monotonic() + limit
            self._write(line.encode("ascii") + b"\n")
            info: list[str] = []
            alarm_seen = restarted = False
            while True:
                answer = self._read_line(deadline)
                if answer is None:
                    if alarm_seen:
                        raise self._alarm_error(f"no answer to {line!r} after the alarm")
                    if restarted:
                        raise self._alarm_error(f"it restarted while {line!r} was pending")
                    raise TurntableTimeout(
                        f"sent {line!r} to GRBL on {self.port} and waited {limit:g} s for "
                        "'ok' or 'error:N', got none; check that the controller is powered "
                        "and connected and that no other program uses the port"
                    )
                if answer == "ok":
                    return info
                match = _ERROR.fullmatch(answer)
                if match:
                    raise self._error_for(int(match.group(1)), line)
                if _BANNER.match(answer):
                    # The line may have arrived before or after the restart: wait briefly
                    # for its answer, which a line lost in the reset never gets.
                    self._note(answer)
                    restarted = True
                    deadline = min(deadline, time.monotonic() + _ALARM_GRACE_S)
                    continue
                if answer.startswith("<"):
                    continue  # a late answer to an earlier '?'
                if self._note(answer):
                    alarm_seen = True
                    deadline = min(deadline, time.monotonic() + _ALARM_GRACE_S)
                    if self._needs_reset:
                        raise self._alarm_error(f"it halted while {line!r} was pending")
                    continue
                if answer:
                    info.append(answer)

    def settings(self) -> dict[int, float]:
        """The controller's ``$$`` settings: number to value (``$100`` is steps per degree)."""
        settings = {}
        for line in self.command("$$"):
            match = re.fullmatch(r"\$(\d+)=([-+0-9.]+)", line)
            if match:
                settings[int(match.group(1))] = float(match.group(2))
        return settings

    @property
    def closed(self) -> bool:
        """Whether the port has been closed."""
        return not self._serial.is_open

    # -- internals ---------------------------------------------------------------------

    def _move(self, mode: str, value: float, feed: float | None, wait: bool) -> float:
        if not math.isfinite(value):
            raise BadRequest(f"expected a finite number of degrees, found {value!r}")
        if feed is None:
            line = f"{mode} G0 X{_number(value)}"
        else:
            if not (math.isfinite(feed) and feed > 0):
                raise BadRequest(
                    f"expected a positive feed in degrees per second, found {feed!r}; "
                    "leave it out for a rapid move"
                )
            line = f"{mode} G1 X{_number(value)} F{_number(feed * 60.0)}"
        self.command(line)
        if wait:
            return self.wait_idle().angle
        return self.status().angle

    def _track_loop(self, interval: float) -> None:
        next_at = time.monotonic()
        while not self._track_stop.is_set():
            try:
                self.status()
            except TurntableError as exc:
                self._track_error = exc
                log.warning("position tracking on %s stopped: %s", self.port, exc)
                return
            next_at += interval
            delay = next_at - time.monotonic()
            if delay < 0:  # fell behind (a long exchange held the port): don't burst
                next_at = time.monotonic()
                delay = 0.0
            self._track_stop.wait(delay)

    def _soft_reset(self) -> None:
        with self._lock:
            self._rx.clear()
            self._write(_RESET)
            deadline = time.monotonic() + self.timeout
            seen: list[str] = []
            while True:
                line = self._read_line(deadline)
                if line is None:
                    got = f"got only {seen[:3]!r}" if seen else "got nothing"
                    raise TurntableTimeout(
                        f"sent a soft reset (Ctrl-X) to {self.port} at {self.baud} baud and "
                        f"waited {self.timeout:g} s for the 'Grbl 1.1...' banner, {got}; "
                        "is this a GRBL controller? is another program using the port? "
                        "is the baud rate right (GRBL 1.1 uses 115200)?"
                    )
                match = _BANNER.match(line)
                if match:
                    self.version = match.group(1)
                    self._needs_reset = False
                    return
                if line:
                    seen.append(line)
                    self._note(line)

    def _drain(self) -> None:
        """Handle what arrived unasked (alarms, messages, late answers) before a new exchange."""
        try:
            waiting = self._serial.in_waiting
            if waiting:
                self._rx += self._serial.read(waiting)
        except (serial.SerialException, OSError) as exc:
            raise self._port_error(exc) from exc
        while b"\n" in self._rx:
            line = self._pop_line()
            if line:
                self._note(line)

    def _note(self, line: str) -> bool:
        """Record an unsolicited line; True if it was an alarm."""
        match = _ALARM.fullmatch(line)
        if match:
            self._last_alarm = int(match.group(1))
            log.warning(
                "GRBL on %s: ALARM:%s (%s)",
                self.port,
                self._last_alarm,
                GRBL_ALARMS.get(self._last_alarm, "unknown alarm"),
            )
            return True
        if line == _RESET_HINT:
            self._needs_reset = True
            return True
        if _BANNER.match(line):
            self._restarted = True
            log.warning(
                "the GRBL controller on %s restarted (power cycle or reset): its position "
                "is lost until it is homed",
                self.port,
            )
            return False
        log.debug("ignored from %s: %r", self.port, line)
        return False

    def _forget_alarm(self) -> None:
        self._last_alarm = None
        self._restarted = False

    def _read_line(self, deadline: float) -> str | None:
        while b"\n" not in self._rx:
            if time.monotonic() >= deadline:
                return None
            try:
                chunk = self._serial.read(max(1, self._serial.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise self._port_error(exc) from exc
            self._rx += chunk
        return self._pop_line()

    def _pop_line(self) -> str:
        end = self._rx.index(b"\n")
        line = self._rx[:end].decode("ascii", "replace").strip()
        del self._rx[: end + 1]
        if line:
            log.debug("<- %s", line)
        return line

    def _write(self, data: bytes) -> None:
        log.debug("-> %r", data)
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as exc:
            raise self._port_error(exc) from exc

    def _check_open(self) -> None:
        if not self._serial.is_open:
            raise TurntableError(
                f"expected an open turntable port, found {self.port} closed; "
                "open a new GrblTurntable"
            )

    def _port_error(self, exc: Exception) -> TurntableError:
        return TurntableError(
            f"the serial port {self.port} failed: {exc}; the controller was unplugged or "
            "reset its USB link; reconnect it and run `capture turntable home`"
        )

    def _parse_status(self, line: str, t: float) -> TurntableStatus:
        match = _STATUS.fullmatch(line)
        if match is None:
            raise TurntableError(
                f"expected a GRBL status report '<State|MPos:...>', found {line!r}"
            )
        fields = dict(part.split(":", 1) for part in match.group(2).split("|") if ":" in part)
        try:
            if "WCO" in fields:
                self._wco = float(fields["WCO"].split(",")[0])
            if "WPos" in fields:
                angle = float(fields["WPos"].split(",")[0])
            elif "MPos" in fields:
                angle = float(fields["MPos"].split(",")[0]) - self._wco
            else:
                raise ValueError("no MPos or WPos field")
        except ValueError as exc:
            raise TurntableError(
                f"expected a position in GRBL's status report, found {line!r} ({exc})"
            ) from exc
        return TurntableStatus(state=match.group(1), angle=angle, t=t)

    def _error_for(self, code: int, line: str) -> TurntableError:
        meaning = GRBL_ERRORS.get(code, "see GRBL 1.1's error code list")
        if code == 9:
            return self._alarm_error(f"it answered error:9 ({meaning}) to {line!r}")
        hint = {
            5: "use unlock ($X) instead of homing, or enable homing with $22=1 if the table "
            "has a home switch",
            8: "wait for the move to finish (wait_idle) and send it again",
            22: "give a feed in degrees per second",
        }.get(code, "check the line against GRBL 1.1's G-code and '$' commands")
        return TurntableError(
            f"GRBL on {self.port} answered error:{code} ({meaning}) to {line!r}; {hint}"
        )

    def _alarm_error(self, context: str) -> TurntableAlarm:
        parts = [
            f"the turntable controller on {self.port} is in Alarm and refuses to move: {context}"
        ]
        if self._last_alarm is not None:
            what = GRBL_ALARMS.get(self._last_alarm, "unknown alarm")
            parts.append(f"it reported ALARM:{self._last_alarm} ({what})")
        if self._restarted:
            parts.append(
                "it restarted (power cycle or reset) since we connected, so its position was lost"
            )
        if self._needs_reset:
            parts.append(
                "it ignores every line until a soft reset, which home and unlock send first"
            )
        parts.append(
            "run `capture turntable home` (or unlock with $X) and check the limit switches"
        )
        return TurntableAlarm("; ".join(parts))
