"""What to shoot and in which order: static bursts, references, turntable sweeps, resume.

Everything here talks to devices only through :mod:`capture.protocols` and to disk only through
:class:`capture.session.SessionWriter`, so the same code drives the real rig and the simulated
one.  Progress flows out through a callback; stopping (Ctrl-C) flows in through an event that is
checked after every frame, so a run always stops between frames, never inside one.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from capture.errors import (
    BadRequest,
    CameraError,
    CaptureError,
    DiskFull,
    StorageError,
    TurntableError,
)
from capture.motion import SweepPacer, interpolate_angle
from capture.protocols import Applied, Camera, Exposure, Turntable
from capture.session import PASSES, Session, SessionWriter
from sublux_common.progress import OnProgress

__all__ = [
    "DEFAULT_FRAME_BYTES",
    "PREROLL_FRAMES",
    "RunResult",
    "check_disk",
    "pass_exposure",
    "run_passes",
    "static_pass",
    "sweep_plan",
    "validate_exposures",
]

log = logging.getLogger(__name__)

#: What we assume a raw frame weighs when neither the session nor the camera can tell:
#: generous for today's 20 to 60 megapixel bodies, so the disk check errs on the safe side.
DEFAULT_FRAME_BYTES = 64 * 1024 * 1024

#: Frames a continuous pass shoots at its start angle before its first frame, which is shot
#: there too, before the table turns: the three time the camera.  The pre-roll frames are kept
#: in ``preroll/`` and journalled as ``preroll`` events, never as frames of the pass (the
#: first frame is the only one planned at the start angle).
PREROLL_FRAMES = 2


@dataclass(frozen=True)
class RunResult:
    exit_status: str
    reason: str
    shot: dict[str, int]


def static_pass(frames: int, iso: int | None, shutter: str, aperture: str | None) -> dict:
    """The plan of one static pass (a burst, or a set of references)."""
    if frames < 1:
        raise BadRequest(f"expected at least one frame, found --frames {frames}")
    return {
        "frames": int(frames),
        "iso": iso,
        "shutter": shutter,
        "aperture": aperture,
        "mode": "burst",
        "angles": None,
    }


def sweep_plan(
    *,
    steps: int,
    step_deg: float,
    iso: int | None,
    dark_shutter: str,
    bright_shutter: str,
    aperture: str | None = None,
    dark_frames: int | None = None,
    dark_mode: str = "continuous",
    start_angle: float = 0.0,
    fps: float = 16.0,
    settle_s: float = 0.5,
    port: str = "",
) -> tuple[dict, dict]:
    """Plan a sweep: a dark pass along the arc, then the bright pass at every step.

    The bright pass stops at ``steps`` angles ``start + i * step_deg``.  The dark pass covers
    the same arc with ``dark_frames`` frames (default four per step, one every quarter step, as
    the HKUST rig's 4 x 0.5 degree sub-steps), either turning continuously while the camera
    shoots (``continuous``, a video-like pass) or stopping at each planned angle (``step``).
    Returns ``(passes, turntable)`` for session.json.
    """
    if steps < 2:
        raise BadRequest(f"expected at least 2 steps for a sweep, found --steps {steps}")
    if step_deg == 0:
        raise BadRequest("expected a non-zero --step-deg, found 0")
    if dark_mode not in ("continuous", "step"):
        raise BadRequest(f"expected --dark-mode continuous or step, found {dark_mode!r}")
    arc = (steps - 1) * step_deg
    n_dark = dark_frames if dark_frames is not None else 4 * (steps - 1) + 1
    if n_dark < 2:
        raise BadRequest(f"expected at least 2 dark frames for a sweep, found {n_dark}")
    dark_angles = [round(start_angle + arc * j / (n_dark - 1), 6) for j in range(n_dark)]
    bright_angles = [round(start_angle + step_deg * i, 6) for i in range(steps)]
    passes = {
        "dark": {
            "frames": n_dark,
            "iso": iso,
            "shutter": dark_shutter,
            "aperture": aperture,
            "mode": dark_mode,
            "angles": dark_angles,
        },
        "bright": {
            "frames": steps,
            "iso": iso,
            "shutter": bright_shutter,
            "aperture": aperture,
            "mode": "step",
            "angles": bright_angles,
        },
    }
    turntable = {
        "port": port,
        "steps": steps,
        "step_deg": step_deg,
        "start_angle": start_angle,
        "dark_mode": dark_mode,
        "fps": fps,
        "feed_deg_s": abs(arc) / ((n_dark - 1) / fps),
        "settle_s": settle_s,
    }
    return passes, turntable


def pass_exposure(spec: dict) -> Exposure:
    return Exposure(iso=spec.get("iso"), shutter=spec.get("shutter"), aperture=spec.get("aperture"))


def validate_exposures(camera: Camera, passes: dict[str, dict]) -> dict[str, Applied]:
    """Apply each pass's exposure once, so a bad value fails before anything is written.

    The camera checks each value against its own choices (raising ``SettingError`` with the
    valid list) and reads it back.
    """
    return {name: camera.apply(pass_exposure(spec)) for name, spec in passes.items()}


def _estimate_frame_bytes(session: Session | None, camera: Camera) -> tuple[int, str]:
    if session is not None:
        sizes = [f.size for p in PASSES for f in session.frames(p)]
        if sizes:
            return max(sizes), f"the largest of {len(sizes)} frames already in the session"
    estimate = getattr(camera, "estimate_frame_bytes", None)
    if callable(estimate):
        value = estimate()
        if value:
            return int(value), "the camera's frame size"
    return DEFAULT_FRAME_BYTES, "a generous default for raw frames"


def check_disk(path: Path, frames: int, camera: Camera, session: Session | None = None) -> int:
    """Refuse (``DiskFull``) when ``frames`` more frames would not fit on ``path``'s disk."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    per_frame, source = _estimate_frame_bytes(session, camera)
    needed = int(frames * per_frame * 1.1) + 16 * 1024 * 1024
    if needed > free:
        raise DiskFull(
            f"expected room for {frames} frames of about {per_frame / 1e6:.1f} MB each "
            f"({source}), {needed / 1e9:.2f} GB with a 10% margin, found {free / 1e9:.2f} GB "
            f"free on the disk of {probe}; no exposure was taken. Free some space or choose a "
            "--session on a larger disk."
        )
    return needed


class _Runner:
    def __init__(
        self,
        writer: SessionWriter,
        camera: Camera,
        turntable: Turntable | None,
        stop: threading.Event,
        progress: OnProgress | None,
    ):
        self.writer = writer
        self.camera = camera
        self.turntable = turntable
        self.stop = stop
        self.progress = progress or (lambda *_: None)
        self.shot: dict[str, int] = {}
        self.after_stop: list[int] = []  # frames of the current continuous pass

    def _write(self, pass_, index, shot, exposure, applied, angle, stopped=False) -> None:
        """Journal one frame and report progress."""
        self.writer.write_frame(
            pass_,
            index,
            shot,
            requested=exposure,
            applied=applied,
            angle=angle,
            extra=shot.extra or None,
            turntable_stopped=stopped,
        )
        self.shot[pass_] = self.shot.get(pass_, 0) + 1
        s = self.writer.session
        self.progress(pass_, len(s.frames(pass_)), s.planned(pass_))

    def run_pass(self, pass_: str) -> bool:
        """Shoot what is left of a pass; return False when stopped early."""
        s = self.writer.session
        spec = s.plan["passes"][pass_]
        remaining = s.remaining(pass_)
        if not remaining:
            return True
        exposure = pass_exposure(spec)
        applied = self.camera.apply(exposure)
        angles = spec.get("angles")
        if angles is None:
            return self._burst(pass_, remaining, exposure, applied)
        if self.turntable is None:
            raise BadRequest(
                f"the {pass_} pass of this sweep needs the turntable, found none; "
                "pass --turntable PORT (or sim)"
            )
        if spec.get("mode") == "continuous":
            return self._continuous(pass_, remaining, angles, exposure, applied)
        return self._stepped(pass_, remaining, angles, exposure, applied)

    def _burst(self, pass_, remaining, exposure, applied) -> bool:
        angle = None
        if self.turntable is not None:
            angle = self.turntable.status().angle
        shots = self.camera.shoot(len(remaining))
        got = 0
        try:
            for index, shot in zip(remaining, shots, strict=False):
                got += 1
                self._write(pass_, index, shot, exposure, applied, angle)
                if self.stop.is_set():
                    return False
        finally:
            _close(shots)
        _check_count(pass_, got, len(remaining))
        return True

    def _stepped(self, pass_, remaining, angles, exposure, applied, stopped=False) -> bool:
        settle = float((self.writer.session.meta.get("turntable") or {}).get("settle_s", 0.0))
        for index in remaining:
            angle = self.turntable.move_to(angles[index])
            if settle:
                # the simulated camera's clock where it has one (a SimClock in tests), else
                # the wall clock a real rig settles in
                getattr(self.camera, "clock", time).sleep(settle)
            (shot,) = list(self.camera.shoot(1))
            self._write(pass_, index, shot, exposure, applied, angle, stopped)
            if self.stop.is_set():
                return False
        return True

    def _continuous(self, pass_, remaining, angles, exposure, applied) -> bool:
        # A continuous pass is journalled in order, so what is left is normally a suffix; a
        # `capture repair` that un-vouched a frame mid-pass leaves holes before it. The holes
        # are shot stepped, each at its planned angle with the table standing still (marked
        # turntable_stopped, and journalled in a ``stepped_refill`` event), then the suffix
        # continuously as planned.
        end = len(angles)
        k = len(remaining)
        while k > 0 and remaining[k - 1] == end - (len(remaining) - k) - 1:
            k -= 1
        holes, remaining = remaining[:k], remaining[k:]
        if holes:
            self.writer.record(
                "event",
                what="stepped_refill",
                **{"pass": pass_},
                indices=holes,
                message=(
                    f"{len(holes)} {pass_} frame(s) missing before the end of the continuous "
                    "pass (un-vouched by `capture repair`?) shot stepped at their planned "
                    "angles, the turntable standing still"
                ),
            )
            if not self._stepped(pass_, holes, angles, exposure, applied, stopped=True):
                return False
            if not remaining:
                return True
        first = remaining[0]
        tt = self.turntable
        tt.move_to(angles[first])
        n = len(remaining)
        if n == 1:
            return self._stepped(pass_, remaining, angles, exposure, applied)
        planned_fps = float((self.writer.session.meta.get("turntable") or {}).get("fps", 16.0))
        self.after_stop = []
        pacer = SweepPacer(angles, first, preroll=PREROLL_FRAMES, planned_fps=planned_fps)
        reports = tt.track()
        # One burst: the pre-roll and the first frame at the start angle time the camera,
        # then the table turns, so the rate measured is the rate the pass gets (journalling
        # included) and the first frame is shot where it is planned.
        shots = self.camera.shoot(PREROLL_FRAMES + n)
        pending: list = []
        got = 0
        try:
            for shot in shots:
                got += 1
                pacer.observe(shot.t_start, shot.t_end)
                if got <= PREROLL_FRAMES:
                    angle = round(interpolate_angle(list(reports), shot.t_mid), 4)
                    self.writer.write_preroll(pass_, shot, applied=applied, angle=angle)
                    if self.stop.is_set():
                        return False
                    continue
                pending.append((remaining[got - PREROLL_FRAMES - 1], shot))
                # Our own report after each frame: it paces the table, and it brackets the
                # frame, so the frame is written now with its angle interpolated.
                for seg in pacer.moves(tt.status()):
                    tt.move_to(seg.end, feed=seg.feed, wait=False)
                self._flush(pass_, pending, reports, pacer, exposure, applied)
                if self.stop.is_set():
                    self._flush(pass_, pending, reports, pacer, exposure, applied, tt)
                    self._pacing_record(pass_, pacer, n)
                    return False
            self._flush(pass_, pending, reports, pacer, exposure, applied, tt)
        finally:
            _close(shots)
            tt.stop_tracking()
        _check_count(pass_, got, PREROLL_FRAMES + n)
        tt.wait_idle()
        self._pacing_record(pass_, pacer, n, complete=True)
        return True

    def _flush(self, pass_, pending, reports, pacer, exposure, applied, tt=None) -> None:
        """Write the pending frames a later report brackets; with ``tt``, every one of them
        (after waiting for the table to stop, so that a last report brackets them)."""
        while pending:
            index, shot = pending[0]
            if not (reports and reports[-1].t >= shot.t_mid):
                if tt is None:
                    return
                pacer.note(tt.wait_idle())
                continue
            pending.pop(0)
            late = pacer.after_stop(shot.t_start)
            if late:
                self.after_stop.append(index)
            # The first frame is shot before the table turns: it stands still too.
            still = late or index == pacer.first
            self._write_tracked(pass_, index, shot, reports, exposure, applied, still)

    def _write_tracked(self, pass_, index, shot, reports, exposure, applied, still) -> None:
        angle = interpolate_angle(list(reports), shot.t_mid)
        self._write(pass_, index, shot, exposure, applied, round(angle, 4), still)

    def _pacing_record(self, pass_: str, pacer: SweepPacer, n: int, complete=False) -> None:
        """Journal how the pass was paced; warn when frames planned before the end were shot
        after the table stopped there or, for a ``complete`` pass, when the camera finished
        well short of the path's end."""
        feeds = [seg.feed for seg in pacer.queued]
        measured, preroll = pacer.pass_fps(), pacer.preroll_fps()
        late = list(self.after_stop)
        self.writer.record(
            "event",
            what="sweep_pacing",
            **{"pass": pass_},
            frames=n,
            preroll_frames=PREROLL_FRAMES,
            planned_fps=pacer.planned_fps,
            preroll_fps=_round(preroll),
            measured_fps=_round(measured),
            planned_feed_deg_s=_round(pacer.planned_feed),
            feed_deg_s=[_round(f) for f in feeds],
            frames_after_stop=len(late),
        )
        rate = f"{measured:.1f}" if measured else "an unknown number of"
        # What both warnings open with and carry: the plan against what the camera did.
        said = (
            f"the {pass_} pass did not keep its plan: the camera shot {rate} frames/s "
            f"(planned {pacer.planned_fps:g}, {_fmt(preroll)} in the pre-roll)"
        )
        facts = {
            "pass": pass_,
            "planned_fps": pacer.planned_fps,
            "preroll_fps": _round(preroll),
            "measured_fps": _round(measured),
            "frames": n,
        }
        if complete:
            self._check_reach(pass_, pacer, n, said, facts)
        if not [i for i in late if i != pacer.last]:
            return  # none, or only the last frame: standing at the end is where it is planned
        self.writer.warn(
            "sweep_behind_plan",
            f"{said} and fell behind the turntable, which reached the end of the path with "
            f"{len(late)} of {n} frames still to shoot; {pass_} frames {late[0]}..{late[-1]} "
            f"were shot standing still at {pacer.angles[-1]:g}° (marked turntable_stopped). "
            "Check what slows the camera (card speed, a full buffer, the USB link) or shoot with "
            "--dark-mode step.",
            **facts,
            frames_after_stop=len(late),
            first_after_stop=late[0],
        )

    def _check_reach(self, pass_, pacer, n, said, facts) -> None:
        """Warn when the last frame fell short of the path's end by more than a frame's step
        (a camera faster than the turntable may follow)."""
        last = self.writer.session.frames(pass_)[-1]
        end = pacer.angles[-1]
        spacing = abs(end - pacer.angles[pacer.first]) / (n - 1)
        short = abs(end - last.angle) if last.angle is not None else 0.0
        if short <= spacing + 1e-6:
            return
        self.writer.warn(
            "sweep_short_of_path",
            f"{said}, faster than the turntable may follow ({pacer.feed_max:.3g} deg/s at most), "
            f"and its last frame was shot at {last.angle:g}°, {short:.2f}° short of the end of "
            f"the path at {end:g}°: the frames are spaced closer than planned. Plan a --fps "
            "nearer what the camera does.",
            **facts,
            last_angle=last.angle,
            end_angle=end,
        )


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1f}"


def _close(shots) -> None:
    """Close a camera's shot generator early (it releases the shutter); lists need none."""
    close = getattr(shots, "close", None)
    if close is not None:
        close()


def _check_count(pass_: str, got: int, expected: int) -> None:
    if got < expected:
        raise CameraError(
            f"expected {expected} {pass_} frames from the camera, received {got}; the frames "
            "received are journalled. Check the camera's card and battery, then `capture resume`."
        )


def run_passes(
    writer: SessionWriter,
    camera: Camera,
    *,
    passes: list[str],
    command: str,
    turntable: Turntable | None = None,
    stop: threading.Event | None = None,
    progress: OnProgress | None = None,
) -> RunResult:
    """Shoot what is left of ``passes``, journalling a start and a stop record.

    The stop record says ``success`` when every frame of those passes is on disk; ``abort``
    when the user stopped the run, or the camera, the turntable or the request failed (fix it
    and resume); ``fail`` for anything else (the disk, a bug).  Errors are re-raised after the
    stop record is written, so the session stays resumable.  ``progress(pass_name,
    frames_done, frames_planned)`` is called once per journalled frame.
    """
    stop = stop or threading.Event()
    runner = _Runner(writer, camera, turntable, stop, progress)
    writer.set_aside_strays()
    writer.start(command, passes)
    try:
        for i, pass_ in enumerate(passes):
            if (
                i > 0
                and turntable is not None
                and writer.session.plan["passes"][pass_].get("angles")
            ):
                log.info("returning the turntable to the start of the path")
            if not runner.run_pass(pass_):
                reason = f"{stop_reason(stop)} after the current frame"
                writer.stop("abort", reason)
                return RunResult("abort", reason, runner.shot)
    except TurntableError as exc:
        _stop_anyway(writer, "abort", f"turntable: {exc}", exc)
        raise
    except KeyboardInterrupt as exc:
        _stop_anyway(writer, "abort", str(exc) or "interrupted by the user (Ctrl-C / SIGINT)", exc)
        raise
    except (CaptureError, OSError) as exc:
        kind = "abort" if isinstance(exc, CameraError | BadRequest) else "fail"
        _stop_anyway(writer, kind, f"{type(exc).__name__}: {exc}", exc)
        raise
    except Exception as exc:
        _stop_anyway(writer, "fail", f"{type(exc).__name__}: {exc}", exc)
        raise
    writer.stop("success", f"shot {sum(runner.shot.values())} frames")
    return RunResult("success", "", runner.shot)


def stop_reason(stop: threading.Event) -> str:
    """Who asked a run to stop: the stop event's ``reason`` (set by the CLI from the signal),
    or the user's Ctrl-C."""
    return getattr(stop, "reason", None) or "stopped by the user (Ctrl-C / SIGINT)"


def _stop_anyway(writer: SessionWriter, kind: str, reason: str, exc: BaseException) -> None:
    """Journal the stop record of a run that failed; if the journal cannot take it either (the
    disk is full), say so on the error being raised instead of hiding it behind a second one."""
    try:
        writer.stop(kind, reason)
    except CaptureError as second:
        note = (
            f"the journal could not record the {kind} either ({second}); the session is still "
            f"resumable: `capture resume {writer.path}` once the cause is fixed"
        )
        log.error("%s", note)
        if isinstance(exc, StorageError):
            exc.args = (f"{exc}; {note}",)
        else:
            exc.add_note(note)
