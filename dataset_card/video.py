"""Video sessions in a release: the 8-bit sRGB layout beside the raw one (issue 14).

A session ``capture import`` made from videos keeps each pass's video whole; curation pairs
its frames (``video.mp4#000012``).  Its release group holds the frames as the camera rendered
them, never re-encoded and never passed through a raw pipeline:

- ``short_srgb`` (T, H, W, 3) uint8: the kept dark frames, RGB order, cropped to the window;
- ``long_srgb`` (K, H, W, 3) uint8: the references (bright frames), each cropped at its own
  whole-pixel offset from the short window (no CFA, so no even rounding; the residual, at most
  half a pixel, is in ``short_frames``' ``dy``/``dx`` and ``long_frames``);
- ``short_frames``, ``long_frames``: the raw layout's tables (``file`` is ``video.mp4#NNNNNN``,
  ``sha256`` the video file's, ``t`` seconds from the video's start);
- attributes: the raw layout's (``black_level`` 0, ``white_level`` 255, ``cfa`` ``none``,
  ``white_balance`` 1, ``color_matrix`` NaN: the camera already rendered the frames) plus
  ``modality = "video"`` and ``video_dark``/``video_bright``: JSON of each video's metadata
  (``source`` name, ``sha256``, ``fps``, ``duration_s``, ``codec``, ``frame_count``,
  ``width``, ``height``).

The ground truth of a pair is its reference itself (``long_srgb[ref]``).  A dark video with
*raw* references (allowed: the import journals a ``video_with_raw_references`` warning, and the
card says which sessions are video) keeps the references as the raw layout does: ``long``
(mosaics, at even offsets) and ``gt_srgb`` (their renderings, the ground truth), with the
references' levels, white balance and colour matrix in the attributes and ``video_bright``
empty.  Frames are decoded
from the video's checked bytes (:func:`curate.video.verified_copy`): a video that changed
after import stops the publish (:class:`~dataset_card.errors.FrameChanged`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from capture.session import Session, VideoRecord
from curate.video import verified_copy, video_rgb_frames
from dataset_card.errors import BadRelease

if TYPE_CHECKING:
    from dataset_card.build import FrameEntry, SessionPlan
    from dataset_card.h5writer import SplitWriter

__all__ = ["geometry", "is_video", "write_session"]

MODALITY = "video"


def is_video(session: Session) -> bool:
    """Whether a session's dark pass is an imported video."""
    return session.video("dark") is not None


def geometry(plan: SessionPlan) -> None:
    """The window, whole-pixel reference offsets and attributes of a video session."""
    s = plan.session
    dark = s.video("dark")
    bright = s.video("bright")
    h_s, w_s = int(dark.height), int(dark.width)
    raw_refs = bool(plan.long) and bright is None
    levels: dict[str, Any] = {
        "black_level": [0.0] * 4,
        "white_level": 255,
        "cfa": "none",
        "white_balance": [1.0] * 4,
        "color_matrix": [math.nan] * 9,
    }
    if raw_refs:
        levels = _raw_levels(plan, (h_s, w_s))
    if bright is not None and (int(bright.height), int(bright.width)) != (h_s, w_s):
        raise BadRelease(
            f"{s.path}: expected dark and bright videos of one size, found {w_s}x{h_s} and "
            f"{bright.width}x{bright.height}"
        )
    # the build's even offsets suit a CFA (raw references keep them); sRGB frames take the
    # nearest whole pixel
    shifts = (
        []
        if raw_refs
        else [(e.offset[0] + e.residual[0], e.offset[1] + e.residual[1]) for e in plan.long]
    )
    old = [e.offset for e in plan.long]
    for e, (dy, dx) in zip(plan.long if shifts else [], shifts, strict=True):
        e.offset = (round(dy), round(dx))
        e.residual = (dy - e.offset[0], dx - e.offset[1])
    for e in plan.short if shifts else []:
        if e.paired:
            k = e.ref
            e.dy += old[k][0] - plan.long[k].offset[0]
            e.dx += old[k][1] - plan.long[k].offset[1]
    plan.sensor = (h_s, w_s)
    oys = [e.offset[0] for e in plan.long] or [0]
    oxs = [e.offset[1] for e in plan.long] or [0]
    y0, x0 = max(0, -min(oys)), max(0, -min(oxs))
    h = h_s - y0 - max(0, max(oys))
    w = w_s - x0 - max(0, max(oxs))
    if h < 32 or w < 32:
        raise BadRelease(f"{s.path}: the pairs' shifts leave no common region of the frames")
    plan.window = (y0, x0, h, w)
    ratios = [e.exposure_ratio for e in plan.short if not math.isnan(e.exposure_ratio)]
    cam = s.camera

    def num(v: Any) -> float:
        return math.nan if v is None else float(v)

    def described(v: VideoRecord | None) -> str:
        keys = ("source", "sha256", "fps", "duration_s", "codec", "frame_count", "width", "height")
        if v is None:
            return ""
        record = v.to_json()
        return json.dumps({k: record[k] for k in keys})

    plan.attrs = {
        **levels,
        "exposure_ratio": float(np.median(ratios)) if ratios else math.nan,
        "iso": num(plan.short[0].iso),
        "short_exposure_s": num(plan.short[0].exposure_s),
        "long_exposure_s": num(plan.long[0].exposure_s) if plan.long else math.nan,
        "camera_make": cam.make or "",
        "camera_model": cam.model or "",
        "lighting": s.lighting,
        "lux": num(s.lux),
        "kind": plan.kind,
        "registration": (plan.alignment.method["registration"] if plan.alignment else "none"),
        "crop": [y0, x0, h, w],
        "modality": MODALITY,
        "video_dark": described(dark),
        "video_bright": described(bright),
    }


def _raw_levels(plan: SessionPlan, size: tuple[int, int]) -> dict[str, Any]:
    """The first raw reference's levels, CFA, white balance and colour matrix (a dark video
    with raw references); its mosaic must have the video's size (curation paired them)."""
    from curate.errors import CurateError
    from curate.raw import open_raw
    from dataset_card.build import read_checked

    first = plan.long[0]
    data = read_checked(plan.session, first.record)
    with open_raw(data, name=str(first.path)) as raw:
        shape = raw.mosaic.shape
        try:
            matrix = raw.require_color_matrix()
        except CurateError as exc:
            raise BadRelease(f"{plan.session.path}: {exc}") from None
        out = {
            "black_level": [float(v) for v in raw.black_level],
            "white_level": int(raw.white_level),
            "cfa": raw.cfa,
            "white_balance": [float(v) for v in raw.white_balance],
            "color_matrix": [float(v) for row in matrix for v in row],
        }
    if tuple(shape) != size:
        raise BadRelease(
            f"{plan.session.path}: expected raw references of the dark video's size "
            f"{size[1]}x{size[0]}, found {shape[1]}x{shape[0]}"
        )
    return out


def _frames(plan: SessionPlan, entries: Sequence[FrameEntry]) -> dict[int, np.ndarray]:
    """Decode the wanted frames of one video (the entries' records), from its checked bytes;
    returns {entry index: frame}, streaming (only the wanted frames are kept)."""
    if not entries:
        return {}
    wanted: dict[int, list[int]] = {}
    for i, e in enumerate(entries):
        wanted.setdefault(e.record.video_frame, []).append(i)
    from dataset_card.build import read_checked  # build imports this module

    data = read_checked(plan.session, entries[0].record)
    out: dict[int, np.ndarray] = {}
    with verified_copy(data, entries[0].path.suffix) as path:
        for n, rgb in enumerate(video_rgb_frames(path)):
            for i in wanted.get(n, ()):
                out[i] = rgb
            if len(out) == len(entries):
                break
    if len(out) != len(entries):
        lost = sorted(set(range(len(entries))) - set(out))
        raise BadRelease(
            f"{plan.session.path}: expected frames {[entries[i].file for i in lost[:5]]} in "
            f"{entries[0].path.name}, found the video shorter; re-import it"
        )
    return out


def write_session(
    writer: SplitWriter,
    plan: SessionPlan,
    tick: Callable[[], None],
) -> tuple[dict[int, bytes], dict[int, bytes]]:
    """Write a video session's group (``short_srgb``, ``long_srgb``, tables); returns the
    previews of its examples (short index -> JPEG) and of its references (index -> JPEG)."""
    from dataset_card.build import _is_example, _long_window, _write_tables, start_group
    from dataset_card.parquet import preview_ground_truth, preview_size

    y0, x0, h, w = plan.window
    k = len(plan.long)
    raw_refs = bool(k) and plan.session.video("bright") is None
    g = start_group(writer, plan, gt=raw_refs, srgb=True)
    size = preview_size(h, w)
    short_previews: dict[int, bytes] = {}
    gt_previews: dict[int, bytes] = {}

    def preview8(rgb8: np.ndarray) -> bytes:  # the 8-bit frame as the 16-bit previews take it
        return preview_ground_truth(rgb8.astype(np.uint16) * 257, size)

    short = _frames(plan, plan.short)
    for i, e in enumerate(plan.short):
        frame = np.ascontiguousarray(short.pop(i)[y0 : y0 + h, x0 : x0 + w])
        g.write_short(i, frame)
        if _is_example(plan, e):
            short_previews[i] = preview8(frame)
        tick()
    if raw_refs:
        for j, e in enumerate(plan.long):
            mosaic, rgb = _long_window(plan, e)
            g.write_long(j, mosaic)
            g.write_gt(j, rgb)
            gt_previews[j] = preview_ground_truth(rgb, size)
            tick()
    else:
        long = _frames(plan, plan.long)
        for j, e in enumerate(plan.long):
            y, x = y0 + e.offset[0], x0 + e.offset[1]
            frame = np.ascontiguousarray(long.pop(j)[y : y + h, x : x + w])
            g.write_long(j, frame)
            gt_previews[j] = preview8(frame)
            tick()
    _write_tables(g, plan)
    g.close()
    return short_previews, gt_previews
