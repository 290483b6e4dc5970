"""Build real sessions on the simulated rig for curation tests (no CLI, same code paths)."""

from __future__ import annotations

from pathlib import Path

from capture import plan
from capture.devices.grbl import GrblTurntable
from capture.protocols import Exposure
from capture.session import SessionWriter, open_session
from capture.sim.camera import SimCamera
from capture.sim.clock import SimClock
from capture.sim.grbl_server import GrblSimulator
from curate.result import Pair


def static_session(
    path: Path,
    *,
    size=(128, 192),
    frames=8,
    refs=1,
    lux=1.0,
    offset=(0.0, 0.0),
    seed=5,
    events: dict | None = None,
    ref_events: dict | None = None,
    ref_offsets: dict | None = None,
    warnings: tuple[tuple[str, str], ...] = (),
    objects=(),
) -> Path:
    """A DRV-style static session; ``offset`` bumps the tripod between burst and reference.

    ``events`` maps a dark frame index to a lux for that one frame (lights out, a flash);
    ``ref_events`` likewise for references; ``ref_offsets`` maps a reference index to the
    tripod's offset for that reference and the ones after it (bumped between references);
    ``warnings`` are journalled as ``(code, message)`` events; ``objects`` are the simulated
    camera's moving objects and lights (:mod:`capture.sim.objects`; dark frame i is shot i).
    """
    cam = SimCamera(size=size, seed=seed, lux=lux, fps=1e6, max_wait=0.0, objects=objects)
    dark = plan.static_pass(frames, 2000, "1/30", None)
    bright = plan.static_pass(refs, 2000, "10", None)
    w = SessionWriter.create(
        path,
        scene="desk",
        kind="static",
        camera=cam.info,
        plan={"passes": {"dark": dark, "bright": bright}, "order": ["dark", "bright"]},
    )
    _shoot(w, cam, "dark", frames, Exposure(iso=2000, shutter="1/30"), lux, events or {})
    cam.offset = offset
    _shoot(
        w,
        cam,
        "bright",
        refs,
        Exposure(iso=2000, shutter="10"),
        lux,
        ref_events or {},
        ref_offsets or {},
    )
    for code, message in warnings:
        w.warn(code, message)
    w.stop("success", "test session")
    return path


def _shoot(w, cam, pass_, n, exposure, lux, events, offsets=None):
    applied = cam.apply(exposure)
    for i in range(n):
        cam.lux = events.get(i, lux)
        if offsets and i in offsets:
            cam.offset = offsets[i]
        (shot,) = list(cam.shoot(1))
        w.write_frame(
            pass_, i, shot, requested=exposure, applied=applied, angle=None, extra=shot.extra
        )
    cam.lux = lux


def sweep_session(
    path: Path,
    *,
    size=(128, 192),
    steps=4,
    step_deg=1.0,
    dark_frames=13,
    lux=1.0,
    seed=9,
    dark_mode="continuous",
    objects=(),
) -> Path:
    """A turntable sweep; ``objects`` as for :func:`static_session` (by shutter number: the
    dark pass is shot first)."""
    passes, tt = plan.sweep_plan(
        steps=steps,
        step_deg=step_deg,
        iso=2000,
        dark_shutter="1/30",
        bright_shutter="10",
        dark_frames=dark_frames,
        fps=20.0,
        settle_s=0.0,
        dark_mode=dark_mode,
        port="sim",
    )
    # the rig runs on a simulated clock, so the frames' angles do not depend on machine load
    clock = SimClock()
    with (
        GrblSimulator(homing=False, clock=clock) as sim,
        GrblTurntable(sim.port, clock=clock) as table,
    ):
        cam = SimCamera(
            size=size,
            seed=seed,
            lux=lux,
            fps=20.0,
            clock=clock,
            max_wait=0.05,
            motion=sim.motion,
            objects=objects,
        )
        w = SessionWriter.create(
            path,
            scene="shelf",
            kind="sweep",
            camera=cam.info,
            plan={"passes": passes, "order": ["dark", "bright"]},
            turntable=tt,
        )
        result = plan.run_passes(w, cam, passes=["dark", "bright"], command="test", turntable=table)
        assert result.exit_status == "success"
    return path


def true_shift(session: Path, pair: Pair) -> tuple[float, float]:
    """The simulated shift (dy, dx) from a pair's dark frame to its bright one, from the
    journal's ground truth (``extra.shift_px``); ``pair`` as read by
    :func:`curate.result.read_alignment`."""
    recs = {
        (r["pass"], r["path"].split("/")[-1]): r["extra"]
        for r in open_session(session).records
        if r.get("type") == "frame"
    }
    d = recs[("dark", pair.dark)]["shift_px"]
    b = recs[("bright", pair.bright)]["shift_px"]
    return b[0] - d[0], b[1] - d[1]
