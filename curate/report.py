"""The curation report: one self-contained HTML page, with its figures also as PNG files.

:func:`write_report` reads a curation result (``alignment.json``, through
:func:`curate.result.read_alignment`) and writes, into ``RESULT/report/``::

    index.html        the page: every figure embedded as a base64 PNG data URI, inline CSS,
                      no scripts and no external URLs, so it can be mailed or archived alone
    pair_NN.png       contact-sheet rows: dark (averaged to its noise) x gain | bright |
                      dark - bright in units of noise, motion regions outlined
    intensity.png     mean above black per frame, dropped frames marked
    correlation.png   the correlation matrix with the matching path (or per-frame scores)
    shifts.png        registration shifts and aligned correlation per pair

Only the frames shown in the contact sheet are decoded (at most ``max_pairs`` dark/bright
pairs), so a report over 20 MP raw files takes seconds.  A session's frames are read once and
checked against their journal records before they are shown: one that differs is shown as a
labelled placeholder, never as a picture.  The page also lists the session's journalled
warnings, every reference (kept, with its shift, and dropped, with its reason) and every
dropped frame, with the journal's and the file's digests for a ``hash_mismatch``.

Previews are deliberately simple: 2x2 binning to RGB, black subtraction, the exposure ratio as
digital gain for dark frames, camera white balance, gamma 2.2, clipped; no colour matrix, no
denoising, no auto-brightness, so a dim reference looks dim.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import logging
import math
import os
import re
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from capture.errors import FrameMismatch, SessionError
from capture.session import FrameRecord, Session, WarningRecord, open_session
from curate.bayer import pack_rggb
from curate.errors import CurateError
from curate.pipeline import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from curate.raw import open_raw
from curate.result import Alignment, CorrelationIndex, Drop, Pair, read_alignment
from curate.templating import environment
from curate.video import verified_copy, video_frame_bgr
from sublux_common.fsio import atomic_write_bytes
from sublux_common.progress import OnProgress

__all__ = ["REPORT_DIR", "REPORT_FILE", "write_report"]

log = logging.getLogger(__name__)

REPORT_DIR = "report"
REPORT_FILE = "index.html"

TILE_WIDTH = 256
_GAMMA = 2.2
_PAIR_PNG = re.compile(r"pair_\d+\.png")
_DPI = 100

# -- where the frames are -------------------------------------------------------------------


def _frame_bases(
    al: Alignment, session: str | os.PathLike | None
) -> tuple[Path, Path, Path | None]:
    """Folders holding dark and bright frames, and the session folder if there is one."""
    src = al.source
    if src.get("kind") == "folders":
        sess = Path(session) if session is not None else None
        return _resolve(al, src["dark"]), _resolve(al, src["bright"]), sess
    candidates = [session, src.get("session"), al.path.parent]
    sess = next(
        (Path(c) for c in candidates if c is not None and (Path(c) / "session.json").is_file()),
        None,
    )
    if sess is None:
        sess = Path(session or src.get("session") or al.path.parent)
        log.warning("no session.json under %s; frame previews will show as missing", sess)
    return sess / "dark", sess / "bright", sess


def _resolve(al: Alignment, where: str) -> Path:
    path = Path(where)
    if not path.is_absolute() and not path.exists() and (al.path / path).exists():
        return al.path / path
    return path


# -- previews ------------------------------------------------------------------------------


class _Linear(NamedTuple):
    """A decoded frame for a preview: linear RGB, 0..1 = black..white."""

    rgb: np.ndarray
    scale: float
    """Full-resolution (sensor) pixels per pixel of ``rgb``."""
    eight_bit: bool
    """An 8-bit sRGB frame (a video's, an image): the camera's rendering, with its own gain,
    so the exposure ratio does not say how much brighter the bright frame is."""


def _raw_linear(path: Path | bytes, name: str = "") -> _Linear:
    """Linear RGB at half resolution from a raw file (or its bytes, already read and
    verified), white-balanced, 0..1 = black..white."""
    with open_raw(path, name=name) as frame:  # pack_rggb makes its own array: no copy of the mosaic
        planes = pack_rggb(
            frame.mosaic, black=frame.black_level, white=frame.white_level, cfa=frame.cfa
        )
    rgb = np.stack([planes[0], 0.5 * (planes[1] + planes[3]), planes[2]], axis=-1)
    wb = np.asarray(frame.white_balance[:3], dtype=np.float32)
    if np.all(np.isfinite(wb)) and np.all(wb > 0):
        rgb *= wb / wb[1]
    return _Linear(rgb, 2.0, eight_bit=False)


def _image_linear(image: np.ndarray | None, what: str) -> np.ndarray:
    if image is None:
        raise CurateError(f"expected an image at {what}, found nothing OpenCV can decode")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    top = 65535.0 if image.dtype == np.uint16 else 255.0
    rgb = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB).astype(np.float32) / np.float32(top)
    return rgb**_GAMMA  # back to linear, so the gain acts on light, not on code values


def _video_linear(video: Path, index: int) -> _Linear:
    """Frame ``index`` of ``video`` as linear RGB."""
    image = video_frame_bgr(video, index)
    return _Linear(_image_linear(image, f"{video} frame {index}"), 1.0, True)


def _video_index(video: Path, name: str) -> int:
    """The frame number of a video frame's name in a result (``frame_000012``: 12)."""
    match = re.search(r"(\d+)$", Path(name).stem)
    if match is None:
        raise CurateError(f"expected a frame name like frame_000012 for {video}, found {name!r}")
    return int(match.group(1))


def _load_linear(base: Path, name: str) -> _Linear:
    """Linear RGB of a frame and its pixel size in full-resolution pixels."""
    if base.suffix.lower() in VIDEO_SUFFIXES and base.is_file():
        return _video_linear(base, _video_index(base, name))
    path = base / name
    if not path.is_file():
        raise CurateError(
            f"expected a frame at {path}, found nothing; shown as a placeholder. If the session "
            "moved, pass its new folder as session="
        )
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        return _Linear(_image_linear(image, str(path)), 1.0, eight_bit=True)
    return _raw_linear(path)


def _downscale(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _shift(rgb: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``scipy.ndimage.shift(rgb, (dy, dx, 0), order=1, mode="nearest")``, 20x faster.

    On a binned 20 MP frame ndimage takes 0.4 s, OpenCV's bilinear warp 20 ms; both move
    content by +(dy, dx), i.e. ``out[y, x] = rgb[y - dy, x - dx]``.
    """
    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    rows, cols = rgb.shape[:2]
    return cv2.warpAffine(
        rgb, matrix, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _enlarge(tile: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Small frames are shown at tile size with visible pixels rather than as thumbnails."""
    if tile.shape[1] >= size[0]:
        return tile
    return cv2.resize(tile, size, interpolation=cv2.INTER_NEAREST)


def _encode_preview(linear: np.ndarray, gain: float) -> np.ndarray:
    """Gain, clip, gamma 2.2: float 0..1 display values."""
    return np.clip(linear * np.float32(gain), 0.0, 1.0) ** np.float32(1.0 / _GAMMA)


def _tile_size(shape: Sequence[int]) -> tuple[int, int]:
    rows, cols = shape[:2]
    width = min(TILE_WIDTH, cols)
    return width, max(1, round(rows * width / cols))


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _placeholder(size: tuple[int, int], text: str) -> np.ndarray:
    tile = np.full((size[1], size[0], 3), 60, dtype=np.uint8)
    for k, line in enumerate(textwrap.wrap(text, 30, break_on_hyphens=False)[:8]):
        cv2.putText(tile, line, (6, 20 + 16 * k), cv2.FONT_HERSHEY_PLAIN, 0.9, (255, 190, 60), 1)
    return tile


def _verified_linear(session: Session, record: FrameRecord) -> _Linear:
    """A session frame read once, checked against its journal record, decoded from those bytes."""
    try:
        data = session.read_frame(record)
    except FrameMismatch as exc:
        raise CurateError(f"not shown: {exc}") from None
    return _raw_linear(data, str(session.frame_path(record)))


class _Frames:
    """Decodes frames on demand, keeping the bright ones (a static burst shares them).

    With a ``session``, its journalled frames are read through their journal records
    (:func:`_verified_linear`); frames of folder-mode results are read by path.
    """

    def __init__(self, dark: Path, bright: Path, session: Session | None = None):
        self.dark, self.bright = dark, bright
        self.session = session
        self._records: dict[tuple[str, str], FrameRecord] = {}
        if session is not None:
            for pass_ in ("dark", "bright"):
                for rec in session.frames(pass_):
                    self._records[pass_, rec.name] = rec  # video.mp4#000012 for a video's
        self._bright_cache: dict[str, _Linear] = {}
        # an imported video's verified copy, made once for all its frames shown (issue 14):
        # reading, hashing and copying the whole video per frame would repeat for every tile
        self._videos = contextlib.ExitStack()
        self._video_copies: dict[str, Path] = {}

    def close(self) -> None:
        """Remove the verified copies of videos."""
        self._videos.close()
        self._video_copies.clear()

    def _video_copy(self, record: FrameRecord) -> Path:
        if record.path not in self._video_copies:
            try:
                data = self.session.read_frame(record)
            except FrameMismatch as exc:
                raise CurateError(f"not shown: {exc}") from None
            self._video_copies[record.path] = self._videos.enter_context(
                verified_copy(data, Path(record.path).suffix)
            )
        return self._video_copies[record.path]

    def load(self, pass_: str, name: str) -> _Linear:
        rec = self._records.get((pass_, name))
        if rec is not None and self.session is not None:
            if rec.video_frame is not None:
                return _video_linear(self._video_copy(rec), rec.video_frame)
            return _verified_linear(self.session, rec)
        return _load_linear(self.dark if pass_ == "dark" else self.bright, name)

    def bright_frame(self, name: str) -> _Linear:
        if name not in self._bright_cache:
            if len(self._bright_cache) >= 4:  # references alternate: keep a few
                self._bright_cache.pop(next(iter(self._bright_cache)))
            self._bright_cache[name] = self.load("bright", name)
        return self._bright_cache[name]

    def pair_tiles(self, pair: Pair, box: Sequence[float] | None = None) -> _Tiles:
        """Three uint8 tiles (dark, bright, difference), the mean |Δ| and the gain, or
        placeholders.

        The dark tile is the dark frame x the gain (:func:`_preview_gain`), shifted onto the
        bright one and averaged over as many neighbours as its noise needs
        (:func:`_noise_side`) before the gain; the difference is the signed luminance
        difference at that scale, in units of its noise (:func:`_difference_tile`).  ``box``
        (``y0, x0, y1, x1`` in the dark frame's sensor pixels) is outlined on the dark and
        difference tiles.
        """
        bright = dark = None
        try:
            bright = self.bright_frame(pair.bright)
        except (CurateError, OSError) as exc:
            log.warning("report: bright frame %s not shown: %s", pair.bright, exc)
            bright_err = str(exc)
        try:
            dark = self.load("dark", pair.dark)
        except (CurateError, OSError) as exc:
            log.warning("report: dark frame %s not shown: %s", pair.dark, exc)
            dark_err = str(exc)
        bright_lin = bright.rgb if bright is not None else None
        dark_lin = dark.rgb if dark is not None else None
        ref = bright_lin if bright_lin is not None else dark_lin
        size = _tile_size(ref.shape) if ref is not None else (TILE_WIDTH, TILE_WIDTH * 2 // 3)
        shown = (TILE_WIDTH, max(1, round(size[1] * TILE_WIDTH / size[0])))
        dy, dx = _number(pair.dy) or 0.0, _number(pair.dx) or 0.0
        d_scale = dark.scale if dark is not None else 1.0
        if dark_lin is not None and (dy or dx):
            dark_lin = _shift(dark_lin, dy / d_scale, dx / d_scale)
        gain, matched = _preview_gain(pair, dark, bright, dark_lin)
        bright_disp = dark_disp = None
        tiles: list[np.ndarray] = []
        side = 1
        # the dark frame x the gain, for the noise side and the difference (made once)
        same = (
            dark_lin is not None and bright_lin is not None and bright_lin.shape == dark_lin.shape
        )
        dark_gained = dark_lin * np.float32(gain) if same else None
        if dark_lin is not None:
            if same:
                side = _noise_side(dark_gained, bright_lin, size, rendered=matched)
            dark_disp = _encode_preview(_downscale(_smooth(dark_lin, side), size), gain)
            tiles.append(_enlarge(_to_uint8(dark_disp), shown))
        else:
            tiles.append(_placeholder(shown, f"dark missing: {dark_err}"))
        if bright_lin is not None:
            bright_disp = _encode_preview(_downscale(bright_lin, size), 1.0)
            tiles.append(_enlarge(_to_uint8(bright_disp), shown))
        else:
            tiles.append(_placeholder(shown, f"bright missing: {bright_err}"))
        if dark_disp is not None and bright_disp is not None:
            if same:
                tiles.append(
                    _enlarge(_difference_tile(dark_gained, bright_lin, side, size,
                                              rendered=matched), shown)
                )  # fmt: skip
            else:
                tiles.append(_placeholder(shown, "no difference image: the sizes differ"))
            if box is not None:
                full = dark_lin.shape[1] * d_scale  # sensor pixels across
                for i in (0, 2):
                    tiles[i] = _outline(tiles[i], box, tiles[i].shape[1] / full, dy, dx)
            diff = np.abs(dark_disp - bright_disp).mean(axis=2)
            return _Tiles(tiles, float(diff.mean()), gain, matched)
        tiles.append(_placeholder(shown, "no difference image: a frame is missing"))
        if box is not None and dark_lin is not None:
            tiles[0] = _outline(tiles[0], box, tiles[0].shape[1] / (dark_lin.shape[1] * d_scale),
                                dy, dx)  # fmt: skip
        return _Tiles(tiles, None, gain, matched)


class _Tiles(NamedTuple):
    """A contact-sheet row's pictures and the numbers its caption says."""

    tiles: list[np.ndarray]
    mean_diff: float | None
    """Mean |dark x gain - bright| of the display values; None when a frame is missing."""
    gain: float
    matched: bool
    """The gain was measured (8-bit frames), not the exposure ratio."""


def _preview_gain(
    pair: Pair, dark: _Linear | None, bright: _Linear | None, dark_lin: np.ndarray | None
) -> tuple[float, bool]:
    """The gain that brings the dark frame to the bright one's light, and whether it was
    measured.

    Raw frames: the exposure ratio (the light each collected).  8-bit sRGB frames (a video,
    images): the camera rendered each pass with its own gain and exposure choice, so the
    exposure ratio says nothing about their pixel values (an imported video's dark pass,
    brightened by the camera, would clip to white at x300); the gain is measured instead, as
    the ratio of the two frames' median linear luminance (robust to a region that moved).
    """
    eight_bit = (dark is not None and dark.eight_bit) or (bright is not None and bright.eight_bit)
    if not eight_bit:
        return _number(pair.exposure_ratio) or 1.0, False
    if dark_lin is None or bright is None:
        return 1.0, False
    d = float(np.median(_luma(dark_lin)))
    b = float(np.median(_luma(bright.rgb)))
    if not (d > 0 and b > 0):  # mostly black: the means still say something
        d, b = float(np.mean(_luma(dark_lin))), float(np.mean(_luma(bright.rgb)))
    return (b / d, True) if d > 0 and b > 0 else (1.0, False)


#: A preview pixel of a dark frame averages enough neighbours that its noise is at most
#: 1/PREVIEW_SNR of the scene's mean (at one electron per pixel: about a dozen pixels a side).
PREVIEW_SNR = 6.0
#: The difference tile spans this many standard deviations of its noise each way.
DIFF_SIGMAS = 6.0


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.mean(axis=2)


def _mad_sigma(values: np.ndarray) -> float:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0.0
    return 1.4826 * float(np.median(np.abs(v - np.median(v))))


def _noise_side(
    dark_gained: np.ndarray, bright: np.ndarray, size: tuple[int, int], *, rendered: bool = False
) -> int:
    """Side of the square of neighbours a dark preview pixel must average so its noise is at
    most 1/:data:`PREVIEW_SNR` of the mean; the noise is measured, robustly, as the spread of
    dark (x gain, aligned) minus bright, and the downscale to ``size`` already averages
    ``width / size[0]`` pixels a side.

    ``rendered`` (8-bit frames): a video's noise is correlated between neighbours (upscaled,
    compressed), so averaging ``n x n`` of them does not divide it by ``n``; the side is
    then grown until the averaged noise, measured, is low enough (:func:`_rendered_side`).
    """
    sigma = _mad_sigma(_luma(dark_gained) - _luma(bright))
    mean = float(np.mean(_luma(bright)))
    if not mean > 0 or not sigma > 0:
        return 1
    need = math.ceil(sigma * PREVIEW_SNR / mean)
    already = max(1, dark_gained.shape[1] // max(1, size[0]))
    # never coarser than an eighth of the frame's height
    most = max(1, dark_gained.shape[0] // 8)
    if rendered:
        return _rendered_side(dark_gained, bright, max(need, already), most, mean)
    return int(max(1, min(need, most))) if need > already else 1


def _rendered_side(
    dark_gained: np.ndarray, bright: np.ndarray, side: int, most: int, mean: float
) -> int:
    """The smallest side from ``side`` up (by half again, at most ``most``) whose averaged
    dark frame differs from the bright one's tone-mapped luminance by at most
    ``mean`` / :data:`PREVIEW_SNR` (robust spread)."""
    from curate.motion import tone_fit

    dark, bright = _luma(dark_gained), _luma(bright)
    while True:
        d = _smooth(dark, side)
        b = _smooth(bright, side)
        if _mad_sigma(d - tone_fit(d, b)) * PREVIEW_SNR <= mean or side >= most:
            return int(min(side, most))
        side = max(side + 1, side * 3 // 2)


def _smooth(rgb: np.ndarray, side: int) -> np.ndarray:
    """Each pixel's brightness the mean of its ``side x side`` neighbours, its colour that of
    ``3 side`` a side (before the gain: noise averages, the light is kept)."""
    if side <= 1:
        return rgb
    if rgb.ndim == 2:
        return cv2.blur(rgb, (side, side), borderType=cv2.BORDER_REFLECT)
    luma = cv2.blur(_luma(rgb), (side, side), borderType=cv2.BORDER_REFLECT)
    # colour is noisier than brightness (one channel, not three): average it over 3x the side
    wide = cv2.blur(rgb, (3 * side, 3 * side), borderType=cv2.BORDER_REFLECT)
    wide_luma = np.maximum(_luma(wide), np.float32(1e-6))
    return wide * (np.maximum(luma, 0) / wide_luma)[..., None]


def _difference_tile(
    dark_gained: np.ndarray,
    bright: np.ndarray,
    side: int,
    size: tuple[int, int],
    *,
    rendered: bool = False,
) -> np.ndarray:
    """Signed luminance difference (dark x gain - bright), averaged like the dark preview and
    shown in units of its own noise: grey within noise, red where the dark frame is brighter,
    blue where darker, saturated at :data:`DIFF_SIGMAS` standard deviations.

    ``rendered`` (8-bit frames): the camera rendered the two passes through its tone curve
    with different gains, so the dark frame is a curved function of the bright one, not a
    multiple; the difference is then dark minus the bright frame mapped onto it
    (:func:`curate.motion.tone_fit`), so only what departs from that curve shows.
    """
    from matplotlib import colormaps

    if rendered:
        from curate.motion import tone_fit

        d = _downscale(_smooth(_luma(dark_gained), max(side, 1)), size)
        b = _downscale(_smooth(_luma(bright), max(side, 1)), size)
        diff = d - tone_fit(d, b)
    else:
        diff = _downscale(_smooth(_luma(dark_gained) - _luma(bright), max(side, 1)), size)
    sigma = _mad_sigma(diff) or 1.0
    z = np.clip(diff / (DIFF_SIGMAS * sigma), -1.0, 1.0)
    return _to_uint8(colormaps["RdBu_r"](0.5 + 0.5 * z)[..., :3])


def _outline(
    tile: np.ndarray, box: Sequence[float], scale: float, dy: float, dx: float
) -> np.ndarray:
    """Draw ``box`` (sensor pixels of the dark frame, shifted by ``dy, dx``) on ``tile``."""
    y0, x0, y1, x1 = (float(v) for v in box)
    p0 = (int((x0 + dx) * scale), int((y0 + dy) * scale))
    p1 = (math.ceil((x1 + dx) * scale) - 1, math.ceil((y1 + dy) * scale) - 1)
    out = np.ascontiguousarray(tile).copy()
    cv2.rectangle(out, p0, p1, (40, 255, 40), 2)
    return out


def _pair_strip(tiles: list[np.ndarray], labels: list[str]) -> np.ndarray:
    """Tiles side by side on a dark strip, each with a one-line label above it."""
    gap, head = 6, 20
    rows = max(t.shape[0] for t in tiles)
    cols = sum(t.shape[1] for t in tiles) + gap * (len(tiles) + 1)
    strip = np.full((rows + head + gap, cols, 3), 24, dtype=np.uint8)
    x = gap
    for tile, label in zip(tiles, labels, strict=True):
        strip[head : head + tile.shape[0], x : x + tile.shape[1]] = tile
        font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.45
        width = cv2.getTextSize(label, font, scale, 1)[0][0]
        if width > tile.shape[1]:
            scale *= tile.shape[1] / width
        cv2.putText(strip, label, (x, 14), font, scale, (235, 235, 235), 1, cv2.LINE_AA)
        x += tile.shape[1] + gap
    return strip


def _png(image_rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise CurateError("OpenCV could not encode a report tile as PNG")
    return buf.tobytes()


# -- figures -------------------------------------------------------------------------------


def _figure(rows: int, height: float, width: float = 11.0) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    return fig, axes


def _fig_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, facecolor="white")
    return buf.getvalue()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _value_scale(ax: Any, values: np.ndarray) -> None:
    """Log scale when the values span more than a decade (symlog if any are not positive)."""
    if values.size == 0:
        return
    top = float(np.max(np.abs(values)))
    low = float(np.min(values))
    if low > 0 and top / low > 10:
        ax.set_yscale("log")
    elif low <= 0 and top > 10:
        ax.set_yscale("symlog", linthresh=1.0)


def _intensity_figure(al: Alignment, eight_bit: frozenset[str]) -> bytes | None:
    passes = [p for p in ("dark", "bright") if al.frames(p)]
    if not passes:
        return None
    reasons = {(d.pass_, d.file): d.reason for d in al.dropped}
    fig, axes = _figure(len(passes), 3.0 * len(passes) + 0.6)
    for ax, pass_ in zip(axes, passes, strict=True):
        frames = al.frames(pass_)
        times = [_number(f.t) for f in frames]
        if all(t is not None for t in times):
            x = np.array(times) - times[0]
            ax.set_xlabel(f"{pass_} frame time since first frame (s)")
        else:
            x = np.arange(len(frames), dtype=float)
            ax.set_xlabel(f"{pass_} frame index")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        y = np.array([_number(f.mean_dn) for f in frames], dtype=float)
        dropped = np.array([not f.kept or (pass_, f.file) in reasons for f in frames])
        kept = ~dropped & np.isfinite(y)
        colour = "#1f4e99" if pass_ == "dark" else "#b8860b"
        ax.plot(x[kept], y[kept], "o-", ms=3.5, lw=1, color=colour, label=f"kept ({kept.sum()})")
        if kept.any():
            med = float(np.median(y[kept]))
            ax.axhline(med, color=colour, ls=":", lw=1, label=f"median of kept {med:.4g}")
        bad = dropped & np.isfinite(y)
        if bad.any():
            ax.plot(x[bad], y[bad], "x", color="red", ms=9, mew=2, label=f"dropped ({bad.sum()})")
            for k in np.flatnonzero(bad)[:25]:
                ax.annotate(
                    reasons.get((pass_, frames[k].file), "dropped"),
                    (x[k], y[k]),
                    xytext=(4, 6),
                    textcoords="offset points",
                    color="red",
                    fontsize=8,
                )
        missing = dropped & ~np.isfinite(y)
        for k in np.flatnonzero(missing)[:25]:
            ax.axvline(x[k], color="red", lw=0.8, ls="--")
            ax.annotate(
                reasons.get((pass_, frames[k].file), "dropped"),
                (x[k], 0.95),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                color="red",
                fontsize=8,
            )
        _value_scale(ax, y[np.isfinite(y)])
        unit = "grey level 0-255" if pass_ in eight_bit else "DN above black"
        ax.set_ylabel(f"{pass_} mean ({unit})")
        ax.set_title(f"{pass_} pass: {len(frames)} frames", loc="left", fontsize=11)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    return _fig_png(fig)


def _oriented(al: Alignment, corr: np.ndarray) -> np.ndarray | None:
    """The matrix as saved (bright x dark, see :mod:`curate.result`), or None when its shape
    disagrees with the kept-frame lists it was saved with."""
    meta = al.correlation_index or CorrelationIndex()
    shape = (len(meta.bright), len(meta.dark))
    if corr.ndim != 2 or (all(shape) and corr.shape != shape):
        log.warning(
            "correlation matrix is %s, lists say %d bright x %d dark; not shown", corr.shape, *shape
        )
        return None
    return corr


def _correlation_figure(al: Alignment) -> tuple[bytes, str]:
    corr = al.correlation()
    meta = al.correlation_index or CorrelationIndex()
    mat = _oriented(al, np.asarray(corr, dtype=float)) if corr is not None else None
    if mat is not None and min(mat.shape) > 1:
        fig, (ax,) = _figure(1, 5.2)
        im = ax.imshow(mat, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest")
        fig.colorbar(im, ax=ax, label="Pearson r (dark vs bright features)", pad=0.01)
        path = np.asarray(meta.path, dtype=float).reshape(-1, 2)
        if path.size:
            ax.plot(path[:, 1], path[:, 0], "-", color="white", lw=2.2)
            ax.plot(path[:, 1], path[:, 0], "o-", color="#e8322e", lw=1, ms=4, label="chosen path")
        dark_idx = {f: k for k, f in enumerate(meta.dark)}
        bright_idx = {f: k for k, f in enumerate(meta.bright)}
        rej = [
            (bright_idx[r.bright], dark_idx[r.dark])
            for r in al.rejected
            if r.bright in bright_idx and r.dark in dark_idx
        ]
        if rej:
            rb, rd = np.array(rej, dtype=float).T
            ax.plot(rd, rb, "x", color="white", ms=10, mew=2.5, label="rejected pair")
        ax.set_xlabel("dark frame (index among kept dark frames)")
        ax.set_ylabel("bright frame (index among kept)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"correlation matrix: {mat.shape[0]} bright x {mat.shape[1]} dark", loc="left")
        if path.size or rej:
            ax.legend(loc="upper left", fontsize=8, framealpha=0.8)
        return _fig_png(fig), "matrix"
    fig, (ax,) = _figure(1, 3.6)
    if mat is not None:
        row = mat.reshape(-1) if mat.shape[0] == 1 else mat[:, 0]
        ax.plot(np.arange(row.size), row, "o-", ms=3, lw=1, color="#1f4e99")
        ax.set_xlabel("dark frame (index among kept dark frames)")
        ax.set_ylabel("Pearson r with the reference")
        ax.set_title("correlation of each dark frame with the single reference", loc="left")
        ax.grid(True, alpha=0.3)
        return _fig_png(fig), "per-frame"
    rows = _all_pairs(al)
    if rows:
        x = np.arange(1, len(rows) + 1)
        score = np.array([_number(p.score) for _, p in rows], dtype=float)
        margin = np.array([_number(p.margin) for _, p in rows], dtype=float)
        rej = np.array([r for r, _ in rows])
        ax.plot(x, score, "o-", ms=3.5, lw=1, color="#1f4e99", label="match score r")
        if np.isfinite(margin).any():
            ax.plot(x, margin, "s", ms=3, color="#888888", label="margin over runner-up")
        if rej.any():
            ax.plot(x[rej], score[rej], "x", color="red", ms=9, mew=2, label="rejected")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no pairs", transform=ax.transAxes, ha="center")
    ax.set_xlabel("pair #")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("score")
    ax.set_title("per-pair scores (no correlation matrix saved)", loc="left")
    ax.grid(True, alpha=0.3)
    return _fig_png(fig), "per-pair"


def _all_pairs(al: Alignment) -> list[tuple[bool, Pair]]:
    """Matched and rejected pairs, numbered in one order: by bright file, then dark file."""
    rows = [(False, p) for p in al.pairs] + [(True, p) for p in al.rejected]
    return sorted(rows, key=lambda r: (str(r[1].bright), str(r[1].dark)))


def _shifts_figure(al: Alignment) -> bytes | None:
    rows = _all_pairs(al)
    if not rows:
        return None
    x = np.arange(1, len(rows) + 1)
    rej = np.array([r for r, _ in rows])
    get = lambda key: np.array([_number(getattr(p, key)) for _, p in rows], dtype=float)  # noqa: E731
    dy, dx, ac = get("dy"), get("dx"), get("aligned_corr")
    fig, (ax1, ax2) = _figure(2, 5.6)
    ax1.plot(x, dy, "o-", ms=3.5, lw=1, color="#1f4e99", label="dy (rows)")
    ax1.plot(x, dx, "s-", ms=3.5, lw=1, color="#2a9d4b", label="dx (columns)")
    if rej.any():
        ax1.plot(x[rej], dy[rej], "x", color="red", ms=9, mew=2, label="rejected")
        ax1.plot(x[rej], dx[rej], "x", color="red", ms=9, mew=2)
    ax1.axhline(0, color="black", lw=0.6)
    ax1.set_ylabel("shift (full-res px)")
    ax1.set_title("registration shift of dark onto bright, per pair", loc="left", fontsize=11)
    ax2.plot(x, ac, "o-", ms=3.5, lw=1, color="#7a3db8", label="aligned correlation")
    if rej.any():
        ax2.plot(x[rej], ac[rej], "x", color="red", ms=9, mew=2, label="rejected")
    floor = _number(al.aligned_corr_floor)
    if floor is not None:
        ax2.axhline(floor, color="red", ls="--", lw=1, label=f"rejection floor {floor:.3g}")
    finite = ac[np.isfinite(ac)]
    ax2.set_ylim(min(0.0, float(finite.min()) - 0.05) if finite.size else 0.0, 1.0)
    ax2.set_ylabel("Pearson r after alignment")
    ax2.set_xlabel("pair # (sorted by bright, then dark file; same numbers as the tables)")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8, loc="best")
    return _fig_png(fig)


# -- the page: values for the template ------------------------------------------------------


class _Cell(NamedTuple):
    """A table cell: its text, and whether it is a number (right-aligned)."""

    text: str
    num: bool = False


class _Png(NamedTuple):
    name: str
    data: bytes


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _fmt(value: Any, spec: str = ".3f") -> str:
    num = _number(value)
    return format(num, spec) if num is not None else ("-" if value is None else str(value))


def _td(value: Any, spec: str | None = None) -> _Cell:
    if spec is not None:
        return _Cell(_fmt(value, spec), num=True)
    return _Cell(_text(value))


def _header(al: Alignment, sess_info: dict[str, Any]) -> dict[str, Any]:
    """The title, the facts and the sources and options of the page's head."""
    src = al.source
    pairs, rejected, dropped = al.pairs, al.rejected, al.dropped
    ratios = [r for r in (_number(p.exposure_ratio) for p in pairs) if r is not None]
    ratio = (
        "-"
        if not ratios
        else f"×{min(ratios):.0f}"
        if max(ratios) - min(ratios) < 0.5
        else f"×{min(ratios):.0f} – ×{max(ratios):.0f}"
    )
    by_reason = Counter((d.pass_, d.reason) for d in dropped)
    drop_text = ", ".join(f"{p} {r} {n}" for (p, r), n in sorted(by_reason.items())) or "none"
    rej_reasons = Counter(r.reason or "?" for r in rejected)
    rej_text = str(len(rejected)) + (
        " (" + ", ".join(f"{k} {n}" for k, n in sorted(rej_reasons.items())) + ")"
        if rejected
        else ""
    )
    codes = Counter(w.code or "?" for w in sess_info.get("warnings") or [])
    lighting = ""
    if sess_info.get("lux") is not None or sess_info.get("lighting"):
        lighting = " ".join(
            s for s in (sess_info.get("lighting"), f"{sess_info.get('lux')} lux") if s
        )
    tool = al.tool or {}
    settings = [
        (k, src.get(k)) for k in ("session", "dark", "bright", "input_sha256") if src.get(k)
    ]
    return {
        "scene": src.get("scene") or sess_info.get("scene") or "(scene unknown)",
        "session_id": src.get("session_id") or sess_info.get("session_id") or "-",
        "source_kind": _text(src.get("kind")),
        "created": _text(al.created),
        "tool_name": _text(tool.get("name")),
        "tool_version": _text(tool.get("version")),
        "session_kind": src.get("session_kind") or sess_info.get("kind") or "-",
        "pairs": len(pairs),
        "pairs_from": f"from {_count(len(al.frames('dark')), 'dark frame')} and "
        f"{_count(len(al.frames('bright')), 'bright frame')}",
        "rejected": len(rejected),
        "rejected_text": rej_text,
        "dropped": len(dropped),
        "dropped_text": f"{len(dropped)}: {drop_text}" if dropped else "0",
        "ratio": ratio,
        "ambiguous": sum(bool(p.ambiguous) for p in pairs),
        "method": [(k, _text(v)) for k, v in al.method.items()],
        "drift": _fmt(al.drift.get("max_px"), ".3f") if isinstance(al.drift, dict) else None,
        "references": len(al.references),
        "warning_codes": ", ".join(f"{c} {n}" for c, n in sorted(codes.items())),
        "camera": sess_info.get("camera") or "",
        "lighting": lighting,
        "settings": [(k, _text(v)) for k, v in [*settings, *al.options.items()]],
    }


def _count(n: int, noun: str) -> str:
    """``1 dark frame``, ``20 dark frames``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _short(digest: Any) -> str:
    """A sha256 shortened for a table (the full one is in ``alignment.json``)."""
    return "none" if not digest else f"{str(digest)[:12]}…"


def _digests(d: Drop) -> str:
    if d.expected is None:
        return ""
    return f"journal {_short(d.expected)}, file {_short(d.found)}"


def _warning_rows(warnings: list[WarningRecord]) -> list[list[_Cell]]:
    """The session's journalled warnings: things that change what the data means."""
    return [[_td(w.code), _td(w.message), _td(_utc(w.t))] for w in warnings]


def _utc(t: Any) -> str:
    """An epoch time as UTC text (``2026-12-07 07:20:19 UTC``); ``-`` for none (a warning
    the session's reader found, not journalled)."""
    seconds = _number(t)
    if seconds is None:
        return "-"
    when = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _references(al: Alignment) -> dict[str, Any]:
    """Every kept reference with its shift and use, and every dropped one with its reason."""
    refs = al.references
    dropped = [d for d in al.dropped if d.pass_ == "bright"]
    uses = Counter(p.bright for p in al.pairs)
    return {
        "sweep": al.source.get("session_kind") != "static" and not refs,
        "kept": [
            [
                _td(r.file),
                _td(r.dy, "+.2f"),
                _td(r.dx, "+.2f"),
                _td(r.aligned_corr, ".3f"),
                _td(uses.get(r.file, 0)),
            ]
            for r in refs
        ],
        "dropped": [[_td(d.file), _td(d.reason), _td(d.detail)] for d in dropped],
    }


def _tables(al: Alignment) -> dict[str, list[list[_Cell]]]:
    """The dropped frames, the rejected pairs and every pair (numbered as in the figures)."""
    numbered = list(enumerate(_all_pairs(al), start=1))
    return {
        "dropped": [
            [_td(d.pass_), _td(d.file), _td(d.reason), _td(d.detail), _td(_digests(d))]
            for d in al.dropped
        ],
        "rejected": [
            [
                _td(n),
                _td(p.bright),
                _td(p.dark),
                _td(p.reason),
                _td(p.score, ".3f"),
                _td(p.aligned_corr, ".3f"),
                _td(p.dy, "+.2f"),
                _td(p.dx, "+.2f"),
            ]
            for n, (rej, p) in numbered
            if rej
        ],
        "every": [
            [
                _td(n),
                _td(p.bright),
                _td(p.dark),
                _td(p.score, ".3f"),
                _td(p.margin, ".3f"),
                _td("yes" if p.ambiguous else ""),
                _td(p.dy, "+.2f"),
                _td(p.dx, "+.2f"),
                _td(p.aligned_corr, ".3f"),
                _td(p.exposure_ratio, ".0f"),
                _td(f"rejected: {p.reason}" if rej else "kept"),
            ]
            for n, (rej, p) in numbered
        ],
    }


def _session_info(path: Path | None) -> dict[str, Any]:
    if path is None or not (path / "session.json").is_file():
        return {}
    try:
        sess = open_session(path)
    except SessionError as exc:
        log.warning("report: session %s not read (%s); header from alignment.json only", path, exc)
        return {}
    return {
        "scene": sess.scene,
        "kind": sess.kind,
        "session_id": sess.session_id,
        "camera": _camera(sess),
        "lux": sess.lux,
        "lighting": sess.lighting,
        "warnings": sess.warnings,
        "session": sess,
    }


def _camera(sess: Session) -> str:
    """The camera as the page says it: make and model (``not recorded`` when the files
    carry none, as an imported video's), what an imported video is, and ``(simulated)`` for
    the simulated camera's frames however they came in (:attr:`Session.simulated`)."""
    cam = sess.camera
    camera = " ".join(str(v) for v in (cam.make, cam.model) if v) or "not recorded"
    notes = []
    if any(sess.video(p) is not None for p in ("dark", "bright")):
        notes.append("8-bit sRGB video")
    if sess.simulated:
        notes.append("simulated")
    return camera + (f" ({', '.join(notes)})" if notes else "")


#: Most frames dropped for motion shown in the contact sheet.
MAX_MOTION_ROWS = 12


def _motion_rows(al: Alignment) -> list[tuple[Pair, Drop]]:
    """Pair-like rows for dark frames dropped for ``motion``, against the first reference."""
    rows = []
    for d in al.dropped:
        if d.reason == "motion" and d.pass_ == "dark" and d.region:
            pair = al.reference_pair(d.file)
            if pair is not None:
                rows.append((pair, d))
    return rows[:MAX_MOTION_ROWS]


def _eight_bit_passes(al: Alignment, dark_base: Path, session: Session | None) -> frozenset[str]:
    """The passes whose frames are 8-bit: a session's imported videos, a dark video given
    to folder mode, a folder of images."""
    passes = set()
    for pass_ in ("dark", "bright"):
        if session is not None and session.video(pass_) is not None:
            passes.add(pass_)
        files = [f.file for f in al.frames(pass_)]
        if files and all(Path(f).suffix.lower() in IMAGE_SUFFIXES for f in files):
            passes.add(pass_)
    if dark_base.suffix.lower() in VIDEO_SUFFIXES:
        passes.add("dark")
    return frozenset(passes)


def _chosen(pairs: list[Pair], max_pairs: int) -> list[int]:
    if not pairs or max_pairs <= 0:
        return []
    picks = np.linspace(0, len(pairs) - 1, min(len(pairs), max_pairs)).round().astype(int)
    return sorted(set(picks.tolist()))


# -- the phases of write_report ------------------------------------------------------------


@dataclass
class _Run:
    """What :func:`write_report` works from: the result, where its frames are, the session."""

    al: Alignment
    out: Path
    dark_base: Path
    bright_base: Path
    eight_bit: frozenset[str]
    """The passes of 8-bit frames (a video, images): their means are grey levels, not DN."""
    sess_info: dict[str, Any]
    kept: list[Pair]
    shown: list[int]
    motion: list[tuple[Pair, Drop]]


class _Steps:
    """Counts the report's steps for ``progress("report", done, total)``."""

    def __init__(self, total: int, progress: OnProgress | None):
        self.total, self.done, self.progress = total, 0, progress

    def __call__(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress("report", self.done, self.total)


def _prepare(
    result_dir: str | os.PathLike, session: str | os.PathLike | None, max_pairs: int
) -> _Run:
    """Read the result, find its frames and session, choose the pairs to show."""
    al = read_alignment(result_dir)
    out = al.path / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    dark_base, bright_base, sess_path = _frame_bases(al, session)
    sess_info = _session_info(sess_path)
    kept = [p for rejected, p in _all_pairs(al) if not rejected]
    return _Run(
        al=al,
        out=out,
        dark_base=dark_base,
        bright_base=bright_base,
        eight_bit=_eight_bit_passes(al, dark_base, sess_info.get("session")),
        sess_info=sess_info,
        kept=kept,
        shown=_chosen(kept, max_pairs),
        motion=_motion_rows(al),
    )


def _sheet_row(
    frames: _Frames, pair: Pair, drop: Drop | None, name: str, number: str
) -> dict[str, Any]:
    """One contact-sheet row: its strip of tiles as PNG and the values of its caption."""
    region = (drop.region if drop is not None else None) or pair.motion_region
    row = frames.pair_tiles(pair, region["box"] if region else None)
    gain = f"{row.gain:.2f}" if row.matched else f"{row.gain:.0f}"
    labels = [
        f"dark {pair.dark} x{gain}" + (" (matched)" if row.matched else ""),
        f"bright {pair.bright}",
        f"dark - bright (+-{DIFF_SIGMAS:g} sigma)",
    ]
    where = None
    if region:
        y0, x0, y1, x1 = region["box"]
        where = {
            "what": "dropped: motion" if drop is not None else "motion",
            "x0": x0,
            "x1": x1,
            "y0": y0,
            "y1": y1,
            "sigma": f"{abs(_number(region.get('strength')) or 0):.1f}",
        }
    return {
        "name": name,
        "png": _png(_pair_strip(row.tiles, labels)),
        "number": number,
        "bright": pair.bright,
        "dark": pair.dark,
        "score": _fmt(pair.score),
        "margin": _fmt(pair.margin),
        "ambiguous": bool(pair.ambiguous),
        "region": where,
        "dy": _fmt(pair.dy, "+.2f"),
        "dx": _fmt(pair.dx, "+.2f"),
        "aligned_corr": _fmt(pair.aligned_corr),
        "gain": gain,
        "gain_note": "measured: 8-bit frames" if row.matched else "",
        "mean_diff": None if row.mean_diff is None else f"{row.mean_diff:.3f}",
    }


def _contact_sheet(run: _Run, step: _Steps) -> list[dict[str, Any]]:
    """Decode and draw the chosen pairs, then the dark frames dropped for motion."""
    numbers = {id(p): n for n, (_, p) in enumerate(_all_pairs(run.al), start=1)}
    # a session's frames are shown only as their journal vouches for them
    verified = run.sess_info.get("session") if run.al.source.get("kind") == "session" else None
    frames = _Frames(run.dark_base, run.bright_base, verified)
    rows = [(run.kept[idx], None) for idx in run.shown] + run.motion
    sheet = []
    try:
        for k, (pair, drop) in enumerate(rows, start=1):
            number = f"#{numbers[id(pair)]}" if id(pair) in numbers else "dropped"
            sheet.append(_sheet_row(frames, pair, drop, f"pair_{k:02d}.png", number))
            step()
    finally:
        frames.close()
    return sheet


def _figures(run: _Run, step: _Steps) -> tuple[dict[str, _Png | None], str]:
    """The intensity, correlation and shift figures (None: no data), and which kind of
    correlation figure was drawn."""
    intensity = _intensity_figure(run.al, run.eight_bit)
    step()
    correlation, corr_kind = _correlation_figure(run.al)
    step()
    shifts = _shifts_figure(run.al)
    step()
    figures = {
        "intensity": None if intensity is None else _Png("intensity.png", intensity),
        "correlation": _Png("correlation.png", correlation),
        "shifts": None if shifts is None else _Png("shifts.png", shifts),
    }
    return figures, corr_kind


def _write_pngs(out: Path, pngs: dict[str, bytes]) -> None:
    """Write the figures beside the page, removing contact-sheet rows of an earlier run."""
    for stale in out.iterdir():
        if _PAIR_PNG.fullmatch(stale.name) and stale.name not in pngs:
            stale.unlink()
    for name, data in pngs.items():
        atomic_write_bytes(out / name, data)


_CORRELATION_CAPTIONS = {
    "matrix": "Rows: bright frames; columns: dark frames (kept frames only). The red line "
    "is the chosen path; a good sweep shows one bright ridge along it.",
    "per-frame": "One reference: the correlation of each kept dark frame with it.",
    "per-pair": "No correlation matrix was saved: match scores per pair instead.",
}


def _numbers(numbers: list[int], most: int = 12) -> str:
    shown = ", ".join(f"#{n}" for n in numbers[:most])
    return shown + (f" and {len(numbers) - most} more" if len(numbers) > most else "")


def _sheet_intro(run: _Run, sheet: list[dict[str, Any]]) -> str:
    """What the contact sheet shows, how its rows are numbered and which numbers it skips."""
    al = run.al
    numbered = list(enumerate(_all_pairs(al), start=1))
    shown = {id(run.kept[i]) for i in run.shown}
    skipped = [n for n, (rejected, p) in numbered if not rejected and id(p) not in shown]
    rejected = [n for n, (rej, _) in numbered if rej]
    numbering = (
        f"Each row's number is the pair's in the tables below (all {len(numbered)} pairs, "
        "rejected ones included, sorted by bright then dark file)"
    )
    gaps = []
    if skipped:
        gaps.append(f"kept pairs not shown: {_numbers(skipped)}")
    if rejected:
        gaps.append(f"rejected pairs: {_numbers(rejected)}")
    numbering += f"; not in the sheet: {'; '.join(gaps)}." if gaps else "."
    intro = (
        f"{len(run.shown)} of {len(al.pairs)} matched pairs, chosen evenly along the path, then "
        "the frames dropped for motion (against the first reference). " + numbering + " Left: "
        "dark frame, each pixel averaged with as many neighbours as its noise needs (before the "
        "gain), × exposure ratio, shifted by (dy, dx) onto the bright frame. Middle: bright "
        "frame. Right: dark − bright luminance at that scale, in units of its noise (grey: "
        f"within noise; red: dark brighter, blue: darker; saturated at ±{DIFF_SIGMAS:g} σ): "
        "red/blue edge pairs mean misregistration, a red or blue patch something that moved "
        "(outlined in green where curation found motion). Previews: 2×2 binning, camera "
        "white balance, gamma 2.2, no colour matrix."
    )
    if any(row["gain_note"] for row in sheet):
        intro += (
            " 8-bit frames (a video, images) are the camera's rendering, each pass with its "
            "own gain: their dark frame is scaled by the measured ratio of the two frames' "
            "median brightness (“matched”), not by the exposure ratio."
        )
    return intro


def _page(
    run: _Run, sheet: list[dict[str, Any]], figures: dict[str, _Png | None], corr_kind: str
) -> str:
    """Render the page (``templates/report.html.j2``) from the values of each section."""
    al, sess_info = run.al, run.sess_info
    sheet_intro = _sheet_intro(run, sheet)
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            title=f"sublux curation: {al.source.get('scene') or sess_info.get('scene') or ''}",
            header=_header(al, sess_info),
            warnings=_warning_rows(sess_info.get("warnings") or []),
            sheet_intro=sheet_intro,
            sheet=sheet,
            figures=figures,
            correlation_caption=_CORRELATION_CAPTIONS[corr_kind],
            references=_references(al),
            tables=_tables(al),
        )
    )


def write_report(
    result_dir: str | os.PathLike,
    *,
    session: str | os.PathLike | None = None,
    max_pairs: int = 12,
    progress: OnProgress | None = None,
) -> Path:
    """Write the visual curation report for a curation result.

    Four phases: read the result and choose what to show (:func:`_prepare`), draw the
    contact sheet (:func:`_contact_sheet`) and the figures (:func:`_figures`), write the
    PNG files (:func:`_write_pngs`), render the page (:func:`_page`, from
    ``curate/templates/report.html.j2``, autoescaped).

    Parameters
    ----------
    result_dir : str or os.PathLike
        Folder holding ``alignment.json`` (or a session, whose ``curation/`` is read).
    session : str or os.PathLike, optional
        Session folder to read frames from, overriding the one recorded in the result (for a
        session that was moved).  For folder-mode results the frame folders recorded in
        ``source`` are used; a relative one is also looked up beside ``alignment.json``.
    max_pairs : int, optional
        Most pairs shown in the contact sheet, chosen evenly along the matched pairs.  Only
        those frames are decoded.
    progress : callable, optional
        Called as ``progress("report", done, total)`` after each contact-sheet pair and each
        figure (:data:`sublux_common.progress.OnProgress`).

    Returns
    -------
    pathlib.Path
        ``result_dir/report/index.html``.  The figures are also written beside it as PNG
        files; every write is atomic.

    Raises
    ------
    curate.errors.CurateError
        No readable ``alignment.json``.  Frames that cannot be read do not fail the report:
        they show as labelled placeholders and are logged.
    """
    run = _prepare(result_dir, session, max_pairs)
    step = _Steps(len(run.shown) + len(run.motion) + 3, progress)
    sheet = _contact_sheet(run, step)
    figures, corr_kind = _figures(run, step)
    pngs = {row["name"]: row["png"] for row in sheet}
    pngs.update({f.name: f.data for f in figures.values() if f is not None})
    _write_pngs(run.out, pngs)
    path = run.out / REPORT_FILE
    atomic_write_bytes(path, _page(run, sheet, figures, corr_kind).encode("utf-8"))
    log.info(
        "report: %s (%d pairs shown, %d figures)", path, len(run.shown), len(pngs) - len(run.shown)
    )
    return path
