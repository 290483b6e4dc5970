"""Where the turntable pointed at a given moment, and how fast it should turn during a sweep.

:func:`interpolate_angle` reads the angle at an exposure's midpoint from timestamped position
reports; :class:`SweepPacer` works out the feeds that keep a continuous pass on its plan
whatever frame rate the camera actually reaches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from capture.protocols import TurntableStatus

__all__ = ["Segment", "SweepPacer", "interpolate_angle"]

#: How near the end of the path (degrees) an Idle table counts as stopped there: GRBL reports
#: three decimals and rounds targets to whole motor steps.
_END_TOLERANCE = 0.02


def interpolate_angle(reports: Sequence[TurntableStatus], t: float) -> float:
    """Interpolate the turntable angle at time ``t`` from timestamped status reports.

    Parameters
    ----------
    reports : sequence of TurntableStatus
        Reports as :meth:`Turntable.track` collects them (any order; sorted by ``t`` here).
    t : float
        The moment of interest, ``time.time()`` seconds (an exposure's midpoint, say).

    Returns
    -------
    float
        The angle in degrees, linearly interpolated between the two reports that bracket
        ``t``; clamped to the first or last report's angle outside their time span.

    Raises
    ------
    ValueError
        If ``reports`` is empty or ``t`` is not a finite number.

    Notes
    -----
    Between two reports the table is assumed to turn at constant speed.  During the
    acceleration ramps this errs by at most ``a * dt**2 / 8`` degrees for acceleration ``a``
    and report interval ``dt``: about 0.04 degrees at 720 deg/s² and 20 ms.
    """
    if len(reports) == 0:
        raise ValueError(
            "expected at least one turntable report to interpolate, found none; "
            "start track() before the exposures and stop it after the last one"
        )
    if not math.isfinite(t):
        raise ValueError(f"expected a finite time in seconds, found {t!r}")
    times = np.fromiter((r.t for r in reports), dtype=float, count=len(reports))
    angles = np.fromiter((r.angle for r in reports), dtype=float, count=len(reports))
    order = np.argsort(times, kind="stable")
    return float(np.interp(t, times[order], angles[order]))


@dataclass(frozen=True)
class Segment:
    """One queued move of a paced pass: from ``start`` to ``end`` degrees at ``feed`` deg/s."""

    start: float
    end: float
    feed: float


class SweepPacer:
    """The feeds that keep a continuous pass on its plan: pure arithmetic, no device I/O.

    The turntable should reach each planned angle when the camera shoots the frame planned
    there.  The pass is cut into segments of ``segment_frames`` frames; each is queued (a
    ``G1`` move with its own feed) once what is queued would last less than ``lookahead``
    frames, with the feed that brings the table to the segment's last planned angle at the
    moment the camera, at the rate measured over its last ``window`` frames, will shoot that
    frame.  So the feed follows the camera's actual rate, a position error left by one
    segment is made up in the next, and the table is never committed more than a few frames
    ahead of the camera.  The caller feeds in every shot's times (:meth:`observe`, pre-roll
    included: one burst) and the reports it polls (:meth:`moves`, :meth:`note`).

    Parameters
    ----------
    angles : sequence of float
        The pass's planned angles, by frame index.
    first : int
        Index of the first frame left to shoot; the table stands at ``angles[first]``.
    preroll : int
        Frames the burst shoots before ``first`` (at the start angle, to time the camera).
    planned_fps : float
        The plan's frame rate: only for the planned feed and the feed limits.
    segment_frames : int
        Frames per queued segment.
    window : int
        Frame intervals the rate is measured over.
    lookahead : float
        Queue the next segment once the queued moves would end within this many frames.
    feed_range : (float, float)
        Lowest and highest feed as fractions of the planned feed.

    Notes
    -----
    Ramps are ignored (a segment of a few frames at a few degrees per second spends
    milliseconds accelerating), and so is the exposure's position inside a frame interval
    beyond aiming at its midpoint.
    """

    def __init__(
        self,
        angles: Sequence[float],
        first: int,
        *,
        preroll: int,
        planned_fps: float,
        segment_frames: int = 2,
        window: int = 8,
        lookahead: float = 2.0,
        feed_range: tuple[float, float] = (0.01, 4.0),
    ) -> None:
        last = len(angles) - 1
        if not 0 <= first < last:
            raise ValueError(f"expected 0 <= first < {last}, found first={first}")
        if not (planned_fps > 0 and segment_frames >= 1 and window >= 1 and preroll >= 0):
            raise ValueError(
                f"expected planned_fps > 0, segment_frames >= 1, window >= 1, preroll >= 0; "
                f"found {planned_fps!r}, {segment_frames!r}, {window!r}, {preroll!r}"
            )
        self.angles = [float(a) for a in angles]
        self.first = first
        self.last = last
        self.preroll = preroll
        self.planned_fps = float(planned_fps)
        self.window = window
        self.lookahead = float(lookahead)
        self.sign = 1.0 if self.angles[last] >= self.angles[first] else -1.0
        self.bounds = [*range(first, last, segment_frames), last]
        arc = abs(self.angles[last] - self.angles[first])
        self.planned_feed = arc / ((last - first) / self.planned_fps)
        self.feed_min = self.planned_feed * feed_range[0]
        self.feed_max = self.planned_feed * feed_range[1]
        self.queued: list[Segment] = []
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.stopped_at: float | None = None
        self._previous: TurntableStatus | None = None

    # -- what the camera does ------------------------------------------------------------

    def observe(self, t_start: float, t_end: float) -> None:
        """Record the next shot of the burst (pre-roll frames first)."""
        self.starts.append(float(t_start))
        self.ends.append(float(t_end))

    def fps(self, frames: int | None = None) -> float | None:
        """Frames per second over the last ``frames`` intervals (default ``window``)."""
        k = min(self.window if frames is None else frames, len(self.starts) - 1)
        if k < 1:
            return None
        span = self.starts[-1] - self.starts[-1 - k]
        return k / span if span > 0 else None

    def pass_fps(self) -> float | None:
        """Frames per second of the pass's own frames (pre-roll left out)."""
        starts = self.starts[self.preroll :]
        if len(starts) < 2 or starts[-1] <= starts[0]:
            return None
        return (len(starts) - 1) / (starts[-1] - starts[0])

    def preroll_fps(self) -> float | None:
        """Frames per second the pre-roll measured."""
        starts = self.starts[: self.preroll]
        if len(starts) < 2 or starts[-1] <= starts[0]:
            return None
        return (len(starts) - 1) / (starts[-1] - starts[0])

    # -- what the turntable does ---------------------------------------------------------

    def _progress(self, angle: float) -> float:
        return (float(angle) - self.angles[self.first]) * self.sign

    def time_left(self, report: TurntableStatus) -> float:
        """Seconds the queued moves still take after ``report``, at their feeds."""
        p = max(0.0, self._progress(report.angle))
        left = 0.0
        for seg in self.queued:
            a, b = self._progress(seg.start), self._progress(seg.end)
            if b > p:
                left += (b - max(a, p)) / seg.feed
        return left

    def moves(self, report: TurntableStatus) -> list[Segment]:
        """The segments to queue now, given the latest position report (often none).

        Call after every frame; queue what it returns, in order (``move_to(end, feed=...)``).
        """
        self.note(report)
        out: list[Segment] = []
        rate = self.fps()
        if rate is None:
            return out
        while len(self.queued) < len(self.bounds) - 1:
            if self.queued and self.time_left(report) > self.lookahead / rate:
                break  # enough is queued to last until the next report or two
            k = len(self.queued)
            i0, i1 = self.bounds[k], self.bounds[k + 1]
            start, end = self.angles[i0], self.angles[i1]
            begins = report.t + self.time_left(report)
            # When the camera will shoot frame i1 (burst position preroll + i1 - first),
            # aiming at its exposure's midpoint.
            shot = len(self.starts) - 1
            position = self.preroll + i1 - self.first
            half = 0.5 * (self.ends[-1] - self.starts[-1])
            due = self.starts[-1] + (position - shot) / rate + half
            span = due - begins
            feed = abs(end - start) / span if span > 0 else self.feed_max
            seg = Segment(start, end, min(self.feed_max, max(self.feed_min, feed)))
            self.queued.append(seg)
            out.append(seg)
        return out

    def note(self, report: TurntableStatus) -> None:
        """Take a position report; the first that finds the table stopped at the end of the
        path, its last segment queued, sets :attr:`stopped_at`."""
        if self.stopped_at is None and len(self.queued) == len(self.bounds) - 1:
            end = self._progress(self.angles[self.last])
            if report.state == "Idle" and self._progress(report.angle) >= end - _END_TOLERANCE:
                stopped = report.t
                before = self._previous
                if before is not None and before.t < report.t:
                    # It stopped between the two reports: when the queue ran out, seen from
                    # the one before.
                    stopped = min(report.t, max(before.t, before.t + self.time_left(before)))
                self.stopped_at = stopped
        self._previous = report

    def after_stop(self, t_start: float) -> bool:
        """Whether an exposure starting at ``t_start`` began with the table stopped at the end."""
        return self.stopped_at is not None and t_start >= self.stopped_at
