"""The simulated camera's video mode: a pass of a simulated session recorded as an MP4.

The seed's turntable project shot its dark and bright passes as *videos* (24 fps, 8-bit
sRGB, the camera's own rendering).  To run that path on the simulated rig, this module turns
the frames of a simulated session's pass into such a video, rendering each raw frame as a
camera's video pipeline would, simply: 2x2 binning to RGB, black subtracted, the camera's white
balance (AsShotNeutral), one gain for the whole pass (the camera's exposure choice: the pass's
median frame lands at ``target`` of 255), the sRGB curve, bilinear upsampling back to the
sensor's size, 8 bits, then MPEG-4 (``mp4v``, which OpenCV's FFmpeg writes here) at ``fps``.

It reads the session through :class:`capture.session.Session` (each frame checked against
its journal) and the DNGs with tifffile, like :mod:`capture.dng` writes them.

Command line: ``python -m capture.sim.video SESSION --dark OUT.mp4 --bright OUT.mp4``.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import tifffile

from capture.errors import BadRequest, CaptureError
from capture.session import open_session

__all__ = ["DEFAULT_TARGETS", "render_8bit", "write_pass_video"]

#: Where each pass's median frame lands (of 255): the seed's dark videos sat near 30.
DEFAULT_TARGETS = {"dark": 30.0, "bright": 110.0}


def _srgb(linear: np.ndarray) -> np.ndarray:
    a = np.clip(linear, 0.0, 1.0)
    return np.where(a <= 0.0031308, 12.92 * a, 1.055 * np.power(a, 1 / 2.4) - 0.055)


def _linear_of(level: float) -> float:
    v = level / 255.0
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def _linear_rgb(dng: bytes) -> np.ndarray:
    """A DNG's RGGB mosaic as half-size linear RGB, black subtracted, white-balanced, in units
    of the white level."""
    with tifffile.TiffFile(io.BytesIO(dng)) as tif:
        page = tif.pages[0]
        mosaic = page.asarray().astype(np.float32)
        tags = {t.name: t.value for t in page.tags.values()}
    black = float(np.mean(tags.get("BlackLevel", 0)))
    white = float(tags.get("WhiteLevel", 65535))
    n = tags.get("AsShotNeutral") or (1, 1, 1, 1, 1, 1)
    neutral = np.array([n[0] / n[1], n[2] / n[3], n[4] / n[5]], np.float32)
    r = mosaic[0::2, 0::2]
    g = 0.5 * (mosaic[0::2, 1::2] + mosaic[1::2, 0::2])
    b = mosaic[1::2, 1::2]
    rgb = (np.stack([r, g, b], axis=-1) - black) / (white - black)
    return rgb / neutral


def render_8bit(linear: np.ndarray, gain: float) -> np.ndarray:
    """Linear RGB times ``gain`` through the sRGB curve, as (H, W, 3) uint8."""
    return np.round(_srgb(linear * gain) * 255.0).astype(np.uint8)


def write_pass_video(
    session: str | Path,
    pass_: str,
    out: str | Path,
    *,
    fps: float = 24.0,
    target: float | None = None,
) -> int:
    """Record a simulated session's pass as an MP4; returns the number of frames written.

    Raises :class:`BadRequest` for a pass without frames or a session of a real camera, and
    :class:`CaptureError` when OpenCV cannot write ``mp4v`` here.
    """
    import cv2

    s = open_session(session)
    if not s.simulated:
        raise BadRequest(
            f"expected a session of the simulated camera, found {s.path} (real frames)"
        )
    frames = s.frames(pass_)
    if not frames:
        raise BadRequest(f"expected {pass_} frames in {s.path}, found none")
    linear = [_linear_rgb(s.read_frame(f)) for f in frames]
    level = _linear_of(target if target is not None else DEFAULT_TARGETS[pass_])
    median = float(np.median([float(np.mean(x)) for x in linear]))
    gain = level / max(median, 1e-9)
    h, w = 2 * linear[0].shape[0], 2 * linear[0].shape[1]  # the sensor's size
    out = Path(out)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
    if not writer.isOpened():
        raise CaptureError(f"OpenCV cannot write an mp4v video at {out} on this machine")
    try:
        for x in linear:
            rgb = cv2.resize(render_8bit(x, gain), (w, h), interpolation=cv2.INTER_LINEAR)
            writer.write(np.ascontiguousarray(rgb[..., ::-1]))
    finally:
        writer.release()
    return len(linear)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Record a simulated session's passes as MP4 videos.")
    ap.add_argument("session")
    ap.add_argument("--dark", help="Output MP4 of the dark pass.")
    ap.add_argument("--bright", help="Output MP4 of the bright pass.")
    ap.add_argument("--fps", type=float, default=24.0)
    args = ap.parse_args(argv)
    try:
        for pass_, out in (("dark", args.dark), ("bright", args.bright)):
            if out:
                n = write_pass_video(args.session, pass_, out, fps=args.fps)
                print(f"{pass_}: {n} frames at {args.fps:g} fps -> {out}")
    except BadRequest as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CaptureError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
