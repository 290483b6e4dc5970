"""Simulated time for the simulated rig, so tests never depend on the machine's speed.

The simulated camera, the GRBL simulator and the GRBL driver take a ``clock``: any object with
``time()`` (seconds since the epoch) and ``sleep(seconds)``.  By default that is the
:mod:`time` module itself.  A :class:`SimClock` instead stands still until something waits on
it: ``sleep(dt)`` moves it ``dt`` forward at once (well, in small steps, see below), so a
camera that takes 0.25 s per frame costs no wall time, and how long the computer takes to
render, encode and journal a frame does not show in any timestamp.  Shared by the camera, the
turntable simulator and the driver, it gives exposure times, turntable motion and position
reports one time base that only the simulated devices advance.

Only waits on the clock move it: a GRBL homing cycle or dwell in the simulator completes when
something sleeps on the clock (the driver's :meth:`~capture.devices.grbl.GrblTurntable.wait_idle`
does), never by itself, so use a simulator without homing (``homing=False``) and unlock.
"""

from __future__ import annotations

import math
import threading
import time

__all__ = ["SimClock"]


class SimClock:
    """A clock that stands still until a simulated device waits on it.

    Parameters
    ----------
    start : float, optional
        The time it shows at first, ``time.time()`` seconds; default: now.
    step : float, optional
        Longest step, in simulated seconds, by which :meth:`sleep` moves the clock at once.
    pause : float, optional
        Wall-clock seconds :meth:`sleep` pauses after each step.

    Notes
    -----
    Other threads read the clock while one sleeps on it: the driver's position tracker stamps
    a report with the midpoint of the times it sent ``?`` and read the answer.  Were a 0.25 s
    sleep a single jump, a report whose exchange straddled it would be stamped up to 0.12 s
    off.  Moving in steps of ``step`` with a short real pause after each keeps that error near
    one step while a sleep of 0.25 s still costs only a few milliseconds; on a saturated
    machine a thread kept off the CPU mid-exchange sees several steps (0.14 degree at 8 deg/s
    has been seen).  The times the sleeping thread itself sees, and so everything it decides,
    are exact whatever the pauses.
    """

    def __init__(
        self, start: float | None = None, *, step: float = 0.002, pause: float = 1e-4
    ) -> None:
        start = time.time() if start is None else float(start)
        if not math.isfinite(start):
            raise ValueError(f"expected a finite start time in seconds, found {start!r}")
        if not (math.isfinite(step) and step > 0) or not (math.isfinite(pause) and pause >= 0):
            raise ValueError(
                f"expected step > 0 and pause >= 0 seconds, found step={step!r}, pause={pause!r}"
            )
        self._now = start
        self.step = float(step)
        self.pause = float(pause)
        self._lock = threading.Lock()

    def time(self) -> float:
        """The simulated time, in ``time.time()`` seconds."""
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward (a negative or zero wait does nothing).

        Raises
        ------
        ValueError
            If ``seconds`` is not a finite number.
        """
        seconds = float(seconds)
        if not math.isfinite(seconds):
            raise ValueError(f"expected a finite number of seconds, found {seconds!r}")
        with self._lock:
            end = self._now + seconds
        while True:
            with self._lock:
                if self._now >= end:
                    return
                self._now = min(end, self._now + self.step)
                done = self._now >= end
            if done:
                return
            if self.pause:
                time.sleep(self.pause)

    def __repr__(self) -> str:
        return f"SimClock({self.time():.6f})"
