"""Build real sessions on the simulated rig for curation tests (no CLI, same code paths)."""

from __future__ import annotations

from pathlib import Path

from capture.session import open_session
from capture.sim.rig import simulated_session
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
    lux_at = {("dark", i): v for i, v in (events or {}).items()}
    lux_at.update({("bright", i): v for i, v in (ref_events or {}).items()})
    return simulated_session(
        path,
        size=size,
        seed=seed,
        lux=lux,
        objects=objects,
        frames=frames,
        refs=refs,
        offset=offset,
        lux_at=lux_at,
        ref_offsets=ref_offsets,
        warnings=warnings,
    )


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
    """A turntable sweep on a simulated clock (so the frames' angles do not depend on machine
    load); ``objects`` as for :func:`static_session` (by shutter number: the dark pass is shot
    first)."""
    return simulated_session(
        path,
        kind="sweep",
        size=size,
        seed=seed,
        lux=lux,
        objects=objects,
        frames=dark_frames,
        steps=steps,
        step_deg=step_deg,
        dark_mode=dark_mode,
    )


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
