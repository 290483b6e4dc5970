"""Frames of a journalled video, decoded from the bytes the journal vouches for.

An imported video pass (``capture import``) keeps the video whole; the file is the journalled
unit.  Its bytes are read once and checked (:meth:`capture.session.Session.read_frame`), then
written to a private temporary copy that OpenCV decodes.  Decoding the session's own path right
after hashing it would leave a window in which the file could be replaced (one file hashed,
another decoded); the copy closes it, for one extra write of the video.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from curate.errors import BadInput

__all__ = ["verified_copy", "video_fps", "video_frame_bgr", "video_rgb_frames"]


@contextlib.contextmanager
def verified_copy(data: bytes, suffix: str = ".mp4") -> Iterator[Path]:
    """A temporary file holding ``data`` (a video's checked bytes), removed on exit."""
    with tempfile.TemporaryDirectory(prefix="sublux-video-") as tmp:
        path = Path(tmp) / f"video{suffix.lower()}"
        path.write_bytes(data)
        yield path


@contextlib.contextmanager
def _opened(path: str | Path) -> Iterator[Any]:
    """An open ``cv2.VideoCapture`` (FFmpeg backend) of ``path``, released on exit."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise BadInput(
            f"expected a video OpenCV's FFmpeg backend can open at {path}, found none; check "
            "the file plays, or extract its frames to a folder"
        )
    try:
        yield cap
    finally:
        cap.release()


def video_fps(path: str | Path) -> float:
    """The frame rate a video's container records (0.0 when it records none)."""
    import cv2

    with _opened(path) as cap:
        return float(cap.get(cv2.CAP_PROP_FPS) or 0.0)


def video_frame_bgr(path: str | Path, index: int) -> np.ndarray | None:
    """Frame ``index`` of a video as OpenCV reads it ((H, W, 3) uint8 BGR, as ``cv2.imread``
    gives an image), or None when the video has no such frame."""
    import cv2

    with _opened(path) as cap:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = cap.read()
    return image if ok else None


def video_rgb_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Every frame of a video, in order, as (H, W, 3) uint8 RGB (OpenCV's FFmpeg backend).

    Raises :class:`curate.errors.BadInput` when the backend cannot open the file.
    """
    with _opened(path) as cap:
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield np.ascontiguousarray(bgr[..., ::-1])
