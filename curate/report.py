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

import base64
import contextlib
import html
import io
import logging
import math
import os
import re
import textwrap
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from capture.errors import FrameMismatch, SessionError
from capture.session import FrameRecord, Session, open_session
from curate.bayer import pack_rggb
from curate.errors import CurateError
from curate.pipeline import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from curate.raw import open_raw
from curate.result import Alignment, read_alignment
from curate.video import verified_copy
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


def _raw_linear(path: Path | bytes, name: str = "") -> tuple[np.ndarray, float]:
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
    return rgb, 2.0


def _image_linear(image: np.ndarray | None, what: str) -> np.ndarray:
    if image is None:
        raise CurateError(f"expected an image at {what}, found nothing OpenCV can decode")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    top = 65535.0 if image.dtype == np.uint16 else 255.0
    rgb = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB).astype(np.float32) / np.float32(top)
    return rgb**_GAMMA  # back to linear, so the gain acts on light, not on code values


def _video_linear(video: Path, name: str) -> tuple[np.ndarray, float]:
    match = re.search(r"(\d+)$", Path(name).stem)
    if match is None:
        raise CurateError(f"expected a frame name like frame_000012 for {video}, found {name!r}")
    cap = cv2.VideoCapture(str(video))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(match.group(1)))
        ok, image = cap.read()
    finally:
        cap.release()
    return _image_linear(image if ok else None, f"{video} frame {int(match.group(1))}"), 1.0


def _load_linear(base: Path, name: str) -> tuple[np.ndarray, float]:
    """Linear RGB of a frame and its pixel size in full-resolution pixels."""
    if base.suffix.lower() in VIDEO_SUFFIXES and base.is_file():
        return _video_linear(base, name)
    path = base / name
    if not path.is_file():
        raise CurateError(
            f"expected a frame at {path}, found nothing; shown as a placeholder. If the session "
            "moved, pass its new folder as session="
        )
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _image_linear(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), str(path)), 1.0
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


def _verified_linear(session: Session, record: FrameRecord) -> tuple[np.ndarray, float]:
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
        self._bright_cache: dict[str, tuple[np.ndarray, float]] = {}
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

    def load(self, pass_: str, name: str) -> tuple[np.ndarray, float]:
        rec = self._records.get((pass_, name))
        if rec is not None and self.session is not None:
            if rec.video_frame is not None:
                return _video_linear(self._video_copy(rec), f"frame_{rec.video_frame:06d}")
            return _verified_linear(self.session, rec)
        return _load_linear(self.dark if pass_ == "dark" else self.bright, name)

    def bright_frame(self, name: str) -> tuple[np.ndarray, float]:
        if name not in self._bright_cache:
            if len(self._bright_cache) >= 4:  # references alternate: keep a few
                self._bright_cache.pop(next(iter(self._bright_cache)))
            self._bright_cache[name] = self.load("bright", name)
        return self._bright_cache[name]

    def pair_tiles(
        self, pair: dict, box: Sequence[float] | None = None
    ) -> tuple[list[np.ndarray], float | None]:
        """Three uint8 tiles (dark, bright, difference) and the mean |Δ|, or placeholders.

        The dark tile is the dark frame x the exposure ratio, shifted onto the bright one and
        averaged over as many neighbours as its noise needs (:func:`_noise_side`) before the
        gain; the difference is the signed luminance difference at that scale, in units of
        its noise (:func:`_difference_tile`).  ``box`` (``y0, x0, y1, x1`` in the dark
        frame's sensor pixels) is outlined on the dark and difference tiles.
        """
        bright_lin = dark_lin = None
        try:
            bright_lin, _ = self.bright_frame(pair["bright"])
        except (CurateError, OSError) as exc:
            log.warning("report: bright frame %s not shown: %s", pair["bright"], exc)
            bright_err = str(exc)
        try:
            dark_lin, d_scale = self.load("dark", pair["dark"])
        except (CurateError, OSError) as exc:
            log.warning("report: dark frame %s not shown: %s", pair["dark"], exc)
            dark_err = str(exc)
        ref = bright_lin if bright_lin is not None else dark_lin
        size = _tile_size(ref.shape) if ref is not None else (TILE_WIDTH, TILE_WIDTH * 2 // 3)
        shown = (TILE_WIDTH, max(1, round(size[1] * TILE_WIDTH / size[0])))
        gain = _number(pair.get("exposure_ratio")) or 1.0
        dy, dx = _number(pair.get("dy")) or 0.0, _number(pair.get("dx")) or 0.0
        bright_disp = dark_disp = None
        tiles: list[np.ndarray] = []
        side = 1
        if dark_lin is not None:
            if dy or dx:
                dark_lin = _shift(dark_lin, dy / d_scale, dx / d_scale)
            if bright_lin is not None and bright_lin.shape == dark_lin.shape:
                side = _noise_side(dark_lin * np.float32(gain), bright_lin, size)
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
            if bright_lin.shape == dark_lin.shape:
                tiles.append(
                    _enlarge(_difference_tile(dark_lin * np.float32(gain), bright_lin, side, size),
                             shown)
                )  # fmt: skip
            else:
                tiles.append(_placeholder(shown, "no difference image: the sizes differ"))
            if box is not None:
                full = dark_lin.shape[1] * d_scale  # sensor pixels across
                for i in (0, 2):
                    tiles[i] = _outline(tiles[i], box, tiles[i].shape[1] / full, dy, dx)
            diff = np.abs(dark_disp - bright_disp).mean(axis=2)
            return tiles, float(diff.mean())
        tiles.append(_placeholder(shown, "no difference image: a frame is missing"))
        if box is not None and dark_lin is not None:
            tiles[0] = _outline(tiles[0], box, tiles[0].shape[1] / (dark_lin.shape[1] * d_scale),
                                dy, dx)  # fmt: skip
        return tiles, None


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


def _noise_side(dark_gained: np.ndarray, bright: np.ndarray, size: tuple[int, int]) -> int:
    """Side of the square of neighbours a dark preview pixel must average so its noise is at
    most 1/:data:`PREVIEW_SNR` of the mean; the noise is measured, robustly, as the spread of
    dark (x gain, aligned) minus bright, and the downscale to ``size`` already averages
    ``width / size[0]`` pixels a side."""
    sigma = _mad_sigma(_luma(dark_gained) - _luma(bright))
    mean = float(np.mean(_luma(bright)))
    if not mean > 0 or not sigma > 0:
        return 1
    need = math.ceil(sigma * PREVIEW_SNR / mean)
    already = max(1, dark_gained.shape[1] // max(1, size[0]))
    # never coarser than an eighth of the frame's height
    return int(max(1, min(need, dark_gained.shape[0] // 8))) if need > already else 1


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
    dark_gained: np.ndarray, bright: np.ndarray, side: int, size: tuple[int, int]
) -> np.ndarray:
    """Signed luminance difference (dark x gain - bright), averaged like the dark preview and
    shown in units of its own noise: grey within noise, red where the dark frame is brighter,
    blue where darker, saturated at :data:`DIFF_SIGMAS` standard deviations."""
    from matplotlib import colormaps

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


def _intensity_figure(al: Alignment, video_dark: bool) -> bytes | None:
    passes = [p for p in ("dark", "bright") if al.data.get("frames", {}).get(p)]
    if not passes:
        return None
    reasons = {(d.get("pass"), d.get("file")): d.get("reason", "?") for d in al.dropped}
    fig, axes = _figure(len(passes), 3.0 * len(passes) + 0.6)
    for ax, pass_ in zip(axes, passes, strict=True):
        frames = al.frames(pass_)
        times = [_number(f.get("t")) for f in frames]
        if all(t is not None for t in times):
            x = np.array(times) - times[0]
            ax.set_xlabel(f"{pass_} frame time since first frame (s)")
        else:
            x = np.arange(len(frames), dtype=float)
            ax.set_xlabel(f"{pass_} frame index")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        y = np.array([_number(f.get("mean_dn")) for f in frames], dtype=float)
        dropped = np.array(
            [not f.get("kept", True) or (pass_, f.get("file")) in reasons for f in frames]
        )
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
                    reasons.get((pass_, frames[k].get("file")), "dropped"),
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
                reasons.get((pass_, frames[k].get("file")), "dropped"),
                (x[k], 0.95),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                color="red",
                fontsize=8,
            )
        _value_scale(ax, y[np.isfinite(y)])
        unit = "grey level 0-255" if (pass_ == "dark" and video_dark) else "DN above black"
        ax.set_ylabel(f"{pass_} mean ({unit})")
        ax.set_title(f"{pass_} pass: {len(frames)} frames", loc="left", fontsize=11)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    return _fig_png(fig)


def _oriented(al: Alignment, corr: np.ndarray) -> np.ndarray | None:
    """The matrix as saved (bright x dark, see :mod:`curate.result`), or None when its shape
    disagrees with the kept-frame lists it was saved with."""
    meta = al.data.get("correlation") or {}
    shape = (len(meta.get("bright") or []), len(meta.get("dark") or []))
    if corr.ndim != 2 or (all(shape) and corr.shape != shape):
        log.warning(
            "correlation matrix is %s, lists say %d bright x %d dark; not shown", corr.shape, *shape
        )
        return None
    return corr


def _correlation_figure(al: Alignment) -> tuple[bytes, str]:
    corr = al.correlation()
    meta = al.data.get("correlation") or {}
    mat = _oriented(al, np.asarray(corr, dtype=float)) if corr is not None else None
    if mat is not None and min(mat.shape) > 1:
        fig, (ax,) = _figure(1, 5.2)
        im = ax.imshow(mat, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest")
        fig.colorbar(im, ax=ax, label="Pearson r (dark vs bright features)", pad=0.01)
        path = np.asarray(meta.get("path") or [], dtype=float).reshape(-1, 2)
        if path.size:
            ax.plot(path[:, 1], path[:, 0], "-", color="white", lw=2.2)
            ax.plot(path[:, 1], path[:, 0], "o-", color="#e8322e", lw=1, ms=4, label="chosen path")
        dark_idx = {f: k for k, f in enumerate(meta.get("dark") or [])}
        bright_idx = {f: k for k, f in enumerate(meta.get("bright") or [])}
        rej = [
            (bright_idx[r["bright"]], dark_idx[r["dark"]])
            for r in al.rejected
            if r.get("bright") in bright_idx and r.get("dark") in dark_idx
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
        score = np.array([_number(p.get("score")) for _, p in rows], dtype=float)
        margin = np.array([_number(p.get("margin")) for _, p in rows], dtype=float)
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


def _all_pairs(al: Alignment) -> list[tuple[bool, dict]]:
    """Matched and rejected pairs, numbered in one order: by bright file, then dark file."""
    rows = [(False, p) for p in al.pairs] + [(True, p) for p in al.rejected]
    return sorted(rows, key=lambda r: (str(r[1].get("bright")), str(r[1].get("dark"))))


def _shifts_figure(al: Alignment) -> bytes | None:
    rows = _all_pairs(al)
    if not rows:
        return None
    x = np.arange(1, len(rows) + 1)
    rej = np.array([r for r, _ in rows])
    get = lambda key: np.array([_number(p.get(key)) for _, p in rows], dtype=float)  # noqa: E731
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
    floor = _number(al.data.get("aligned_corr_floor"))
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


# -- HTML ----------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
 background:#f4f5f7;color:#1b1d21}
main{max-width:1240px;margin:0 auto;padding:18px 22px 60px}
h1{font-size:26px;margin:6px 0 2px}h2{font-size:20px;margin:34px 0 8px;
 border-bottom:2px solid #d5d8de;padding-bottom:4px}
.sub{color:#555;font-size:14px;margin-bottom:12px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:8px}
.fact{background:#fff;border:1px solid #dde0e5;border-radius:6px;padding:7px 10px}
.fact b{display:block;font-size:12px;color:#666;font-weight:600;text-transform:uppercase;
 letter-spacing:.04em}.fact span{font-size:17px}
.warn span{color:#b3261e}nav a{margin-right:14px}
.pair{background:#18191c;color:#ddd;border-radius:6px;padding:8px 10px;margin:8px 0;
 display:flex;gap:14px;align-items:flex-start}
.pair .cap{font-size:14px;line-height:1.55;flex:0 0 330px}.pair .cap b{color:#fff}
.pair .cap .no{font-size:18px;color:#fff;font-weight:700;margin-right:6px}
.pair img{display:block;max-width:100%;min-width:0}.rej{color:#ff6b5e;font-weight:600}
figure{margin:8px 0;background:#fff;border:1px solid #dde0e5;border-radius:6px;padding:6px}
figure img{max-width:100%;display:block}figcaption{font-size:13px;color:#555;padding:4px}
table{border-collapse:collapse;background:#fff;font-size:14px;margin:6px 0}
th,td{border:1px solid #dde0e5;padding:4px 8px;text-align:left}th{background:#eceef2}
td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:13px}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _fmt(value: Any, spec: str = ".3f") -> str:
    num = _number(value)
    return format(num, spec) if num is not None else ("-" if value is None else _e(value))


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _fact(label: str, value: str, *, warn: bool = False) -> str:
    cls = "fact warn" if warn else "fact"
    return f'<div class="{cls}"><b>{_e(label)}</b><span>{value}</span></div>'


def _header(al: Alignment, sess_info: dict[str, Any]) -> str:
    src, data = al.source, al.data
    pairs, rejected, dropped = al.pairs, al.rejected, al.dropped
    scene = src.get("scene") or sess_info.get("scene") or "(scene unknown)"
    ratios = [r for r in (_number(p.get("exposure_ratio")) for p in pairs) if r is not None]
    ratio = (
        "-"
        if not ratios
        else f"×{min(ratios):.0f}"
        if max(ratios) - min(ratios) < 0.5
        else f"×{min(ratios):.0f} – ×{max(ratios):.0f}"
    )
    by_reason = Counter((d.get("pass", "?"), d.get("reason", "?")) for d in dropped)
    drop_text = (
        ", ".join(f"{_e(p)} {_e(r)} {n}" for (p, r), n in sorted(by_reason.items()))
        if by_reason
        else "none"
    )
    rej_reasons = Counter(r.get("reason", "?") for r in rejected)
    rej_text = str(len(rejected)) + (
        " (" + ", ".join(f"{_e(k)} {n}" for k, n in sorted(rej_reasons.items())) + ")"
        if rejected
        else ""
    )
    method = data.get("method") or {}
    method_text = "<br>".join(f"{_e(k)}: {_e(v)}" for k, v in method.items()) or "-"
    n_bright = len(data.get("frames", {}).get("bright", []))
    n_dark = len(data.get("frames", {}).get("dark", []))
    ambiguous = sum(bool(p.get("ambiguous")) for p in pairs)
    drift = data.get("drift")
    facts = [
        _fact("session kind", _e(src.get("session_kind") or sess_info.get("kind") or "-")),
        _fact("pairs kept", f"{len(pairs)} <small>of {n_bright} bright, {n_dark} dark</small>"),
        _fact("pairs rejected", rej_text, warn=bool(rejected)),
        _fact(
            "frames dropped", f"{len(dropped)}: {drop_text}" if dropped else "0", warn=bool(dropped)
        ),
        _fact("exposure ratio", _e(ratio)),
        _fact("ambiguous matches", str(ambiguous), warn=bool(ambiguous)),
        _fact("method", method_text),
    ]
    if isinstance(drift, dict):
        facts.append(_fact("burst drift (max)", f"{_fmt(drift.get('max_px'), '.3f')} px"))
    if al.references:
        facts.append(_fact("references kept", str(len(al.references))))
    if sess_info.get("warnings"):
        codes = Counter(w.get("code", "?") for w in sess_info["warnings"])
        text = ", ".join(f"{_e(c)} {n}" for c, n in sorted(codes.items()))
        facts.append(_fact("session warnings", f'<a href="#warnings">{text}</a>', warn=True))
    if sess_info.get("camera"):
        facts.append(_fact("camera", _e(sess_info["camera"])))
    if sess_info.get("lux") is not None or sess_info.get("lighting"):
        light = " ".join(s for s in (sess_info.get("lighting"), f"{sess_info.get('lux')} lux") if s)
        facts.append(_fact("lighting", _e(light)))
    tool = data.get("tool") or {}
    sub = (
        f"session <code>{_e(src.get('session_id') or sess_info.get('session_id') or '-')}</code>"
        f" · source {_e(src.get('kind'))} · curated {_e(data.get('created'))} by "
        f"{_e(tool.get('name'))} {_e(tool.get('version'))}"
    )
    paths = "".join(
        f"<tr><th>{_e(k)}</th><td><code>{_e(src.get(k))}</code></td></tr>"
        for k in ("session", "dark", "bright", "input_sha256")
        if src.get(k)
    )
    options = "".join(
        f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>"
        for k, v in (data.get("options") or {}).items()
    )
    return (
        f"<h1>Curation report: {_e(scene)}</h1><div class=sub>{sub}</div>"
        f'<div class="facts">{"".join(facts)}</div>'
        f"<details><summary>sources and options</summary><table>{paths}{options}</table>"
        "</details>"
    )


def _table(head: Sequence[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f"<p>{_e(empty)}</p>"
    ths = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(rows_) + "</tr>" for rows_ in rows)
    return f"<table><tr>{ths}</tr>{body}</table>"


def _td(value: Any, spec: str | None = None) -> str:
    if spec is not None:
        return f'<td class="num">{_fmt(value, spec)}</td>'
    return f"<td>{_e(value)}</td>"


def _short(digest: Any) -> str:
    """A sha256 shortened for a table (the full one is in ``alignment.json``)."""
    return "none" if not digest else f"{str(digest)[:12]}…"


def _digests(d: dict) -> str:
    if "expected" not in d and "found" not in d:
        return ""
    return f"journal {_short(d.get('expected'))}, file {_short(d.get('found'))}"


def _warnings_section(warnings: list[dict]) -> str:
    """The session's journalled warnings: things that change what the data means."""
    if not warnings:
        return ""
    rows = [[_td(w.get("code")), _td(w.get("message")), _td(w.get("t"), ".1f")] for w in warnings]
    return (
        f'<h2 id="warnings">Session warnings ({len(warnings)})</h2><p>Journalled during '
        "capture: read them before using the data.</p>" + _table(["code", "message", "t"], rows, "")
    )


def _references_section(al: Alignment) -> str:
    """Every kept reference with its shift and use, and every dropped one with its reason."""
    refs = al.references
    dropped = [d for d in al.dropped if d.get("pass") == "bright"]
    if al.source.get("session_kind") != "static" and not refs:
        return (
            f'<h2 id="references">References</h2><p>A sweep: each kept bright frame is a '
            f"reference for the dark frame matched to it (see the pairs). {len(dropped)} bright "
            "frames dropped (listed under dropped frames).</p>"
        )
    uses = Counter(p.get("bright") for p in al.pairs)
    kept = _table(
        ["reference", "dy px", "dx px", "aligned r (burst mean)", "pairs using it"],
        [
            [
                _td(r.get("file")),
                _td(r.get("dy"), "+.2f"),
                _td(r.get("dx"), "+.2f"),
                _td(r.get("aligned_corr"), ".3f"),
                _td(uses.get(r.get("file"), 0)),
            ]
            for r in refs
        ],
        "No reference kept.",
    )
    gone = _table(
        ["reference", "reason", "detail"],
        [[_td(d.get("file")), _td(d.get("reason")), _td(d.get("detail"))] for d in dropped],
        "No reference dropped.",
    )
    return (
        f'<h2 id="references">References ({len(refs)} kept, {len(dropped)} dropped)</h2>'
        "<p>Kept dark frame j is paired with kept reference j mod K; shifts are of the burst's "
        f"mean onto each reference.</p>{kept}<h3>Dropped references</h3>{gone}"
    )


def _tables(al: Alignment) -> str:
    dropped = _table(
        ["pass", "file", "reason", "detail", "sha256"],
        [
            [
                _td(d.get("pass")),
                _td(d.get("file")),
                _td(d.get("reason")),
                _td(d.get("detail")),
                _td(_digests(d)),
            ]
            for d in al.dropped
        ],
        "No frames were dropped.",
    )
    numbered = list(enumerate(_all_pairs(al), start=1))
    rejected = _table(
        ["#", "bright", "dark", "reason", "score", "aligned r", "dy px", "dx px"],
        [
            [
                _td(n),
                _td(p.get("bright")),
                _td(p.get("dark")),
                _td(p.get("reason")),
                _td(p.get("score"), ".3f"),
                _td(p.get("aligned_corr"), ".3f"),
                _td(p.get("dy"), "+.2f"),
                _td(p.get("dx"), "+.2f"),
            ]
            for n, (rej, p) in numbered
            if rej
        ],
        "No pairs were rejected.",
    )
    every = _table(
        [
            "#",
            "bright",
            "dark",
            "score",
            "margin",
            "ambiguous",
            "dy px",
            "dx px",
            "aligned r",
            "ratio",
            "status",
        ],
        [
            [
                _td(n),
                _td(p.get("bright")),
                _td(p.get("dark")),
                _td(p.get("score"), ".3f"),
                _td(p.get("margin"), ".3f"),
                _td("yes" if p.get("ambiguous") else ""),
                _td(p.get("dy"), "+.2f"),
                _td(p.get("dx"), "+.2f"),
                _td(p.get("aligned_corr"), ".3f"),
                _td(p.get("exposure_ratio"), ".0f"),
                _td(f"rejected: {p.get('reason')}" if rej else "kept"),
            ]
            for n, (rej, p) in numbered
        ],
        "No pairs.",
    )
    return (
        f'<h2 id="dropped">Dropped frames ({len(al.dropped)})</h2>{dropped}'
        f'<h2 id="rejected">Rejected pairs ({len(al.rejected)})</h2>{rejected}'
        f"<details><summary>All {len(numbered)} pairs</summary>{every}</details>"
    )


def _session_info(path: Path | None) -> dict[str, Any]:
    if path is None or not (path / "session.json").is_file():
        return {}
    try:
        sess = open_session(path)
    except SessionError as exc:
        log.warning("report: session %s not read (%s); header from alignment.json only", path, exc)
        return {}
    cam = sess.meta.get("camera") or {}
    camera = " ".join(str(cam.get(k)) for k in ("make", "model") if cam.get(k))
    if cam.get("driver") == "sim":
        camera += " (simulated)"
    return {
        "scene": sess.scene,
        "kind": sess.kind,
        "session_id": sess.session_id,
        "camera": camera,
        "lux": sess.meta.get("lux"),
        "lighting": sess.meta.get("lighting"),
        "warnings": sess.warnings,
        "session": sess,
    }


#: Most frames dropped for motion shown in the contact sheet.
MAX_MOTION_ROWS = 12


def _motion_rows(al: Alignment) -> list[dict]:
    """Pair-like rows for dark frames dropped for ``motion``, against the first reference."""
    refs = al.references
    if not refs:
        return []
    ratio = next((p.get("exposure_ratio") for p in al.pairs if p.get("exposure_ratio")), None)
    rows = []
    for d in al.dropped:
        if d.get("reason") == "motion" and d.get("pass") == "dark" and d.get("region"):
            rows.append(
                {
                    "dark": d["file"],
                    "bright": refs[0]["file"],
                    "dy": refs[0]["dy"],
                    "dx": refs[0]["dx"],
                    "exposure_ratio": ratio,
                    "drop": d,
                }
            )
    return rows[:MAX_MOTION_ROWS]


def _chosen(pairs: list[dict], max_pairs: int) -> list[int]:
    if not pairs or max_pairs <= 0:
        return []
    picks = np.linspace(0, len(pairs) - 1, min(len(pairs), max_pairs)).round().astype(int)
    return sorted(set(picks.tolist()))


def write_report(
    result_dir: str | os.PathLike,
    *,
    session: str | os.PathLike | None = None,
    max_pairs: int = 12,
    progress: OnProgress | None = None,
) -> Path:
    """Write the visual curation report for a curation result.

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
    al = read_alignment(result_dir)
    out = al.path / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    dark_base, bright_base, sess_path = _frame_bases(al, session)
    video_dark = dark_base.suffix.lower() in VIDEO_SUFFIXES
    sess_info = _session_info(sess_path)
    kept = [p for rejected, p in _all_pairs(al) if not rejected]
    shown = _chosen(kept, max_pairs)
    total, done = len(shown) + len(_motion_rows(al)) + 3, 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress("report", done, total)

    pngs: dict[str, bytes] = {}
    numbers = {id(p): n for n, (_, p) in enumerate(_all_pairs(al), start=1)}
    # a session's frames are shown only as their journal vouches for them
    verified = sess_info.get("session") if al.source.get("kind") == "session" else None
    frames = _Frames(dark_base, bright_base, verified)
    sheet = []
    rows = [(kept[idx], None) for idx in shown] + [(m, m["drop"]) for m in _motion_rows(al)]
    for k, (pair, drop) in enumerate(rows, start=1):
        region = (drop or {}).get("region") or pair.get("motion_region")
        tiles, mean_diff = frames.pair_tiles(pair, region["box"] if region else None)
        gain = _number(pair.get("exposure_ratio")) or 1.0
        labels = [
            f"dark {pair['dark']} x{gain:.0f}",
            f"bright {pair['bright']}",
            f"dark - bright (+-{DIFF_SIGMAS:g} sigma)",
        ]
        name = f"pair_{k:02d}.png"
        pngs[name] = _png(_pair_strip(tiles, labels))
        flag = ' · <span class="rej">ambiguous</span>' if pair.get("ambiguous") else ""
        if region:
            what = "dropped: motion" if drop else "motion"
            flag += (
                f' · <span class="rej">{what}</span> at x {region["box"][1]}-'
                f"{region['box'][3]}, y {region['box'][0]}-{region['box'][2]} "
                f"({abs(_number(region.get('strength')) or 0):.1f} σ)"
            )
        number = f"#{numbers[id(pair)]}" if id(pair) in numbers else "dropped"
        cap = (
            f'<span class="no">{number}</span>bright <b>{_e(pair["bright"])}</b>'
            f" ↔ dark <b>{_e(pair['dark'])}</b><br>score {_fmt(pair.get('score'))}, margin "
            f"{_fmt(pair.get('margin'))}{flag}<br>shift dy {_fmt(pair.get('dy'), '+.2f')}, dx "
            f"{_fmt(pair.get('dx'), '+.2f')} px<br>aligned r <b>{_fmt(pair.get('aligned_corr'))}"
            f"</b><br>gain ×{gain:.0f}"
            + (f" · mean |Δ| {mean_diff:.3f}" if mean_diff is not None else "")
        )
        sheet.append(f'<div class="pair"><div class=cap>{cap}</div>{_img(pngs[name], name)}</div>')
        step()
    frames.close()
    intensity = _intensity_figure(al, video_dark)
    if intensity is not None:
        pngs["intensity.png"] = intensity
    step()
    pngs["correlation.png"], corr_kind = _correlation_figure(al)
    step()
    shifts = _shifts_figure(al)
    if shifts is not None:
        pngs["shifts.png"] = shifts
    step()

    for stale in out.iterdir():
        if _PAIR_PNG.fullmatch(stale.name) and stale.name not in pngs:
            stale.unlink()
    for name, data in pngs.items():
        atomic_write_bytes(out / name, data)

    def figure(name: str, caption: str) -> str:
        if name not in pngs:
            return "<p>Nothing to plot: the result records no such data.</p>"
        return f"<figure>{_img(pngs[name], name)}<figcaption>{caption}</figcaption></figure>"

    corr_caption = {
        "matrix": "Rows: bright frames; columns: dark frames (kept frames only). The red line "
        "is the chosen path; a good sweep shows one bright ridge along it.",
        "per-frame": "One reference: the correlation of each kept dark frame with it.",
        "per-pair": "No correlation matrix was saved: match scores per pair instead.",
    }[corr_kind]
    sheet_intro = (
        f"{len(shown)} of {len(al.pairs)} matched pairs, chosen evenly along the path, then "
        "the frames dropped for motion (against the first reference). Left: dark frame, each "
        "pixel averaged with as many neighbours as its noise needs (before the gain), × "
        "exposure ratio, shifted by (dy, dx) onto the bright frame. Middle: bright frame. "
        f"Right: dark − bright luminance at that scale, in units of its noise (grey: within "
        f"noise; red: dark brighter, blue: darker; saturated at ±{DIFF_SIGMAS:g} σ): "
        "red/blue edge pairs mean misregistration, a red or blue patch something that moved "
        "(outlined in green where curation found motion). Previews: 2×2 binning, camera "
        "white balance, gamma 2.2, no colour matrix."
    )
    body = (
        _header(al, sess_info)
        + '<nav><a href="#sheet">contact sheet</a><a href="#intensity">intensity</a>'
        '<a href="#correlation">correlation</a><a href="#shifts">shifts</a>'
        '<a href="#references">references</a>'
        '<a href="#dropped">dropped</a><a href="#rejected">rejected</a></nav>'
        + _warnings_section(sess_info.get("warnings") or [])
        + f'<h2 id="sheet">Contact sheet</h2><p>{_e(sheet_intro)}</p>'
        + ("".join(sheet) or "<p>No matched pairs to show.</p>")
        + '<h2 id="intensity">Intensity over time</h2>'
        + figure(
            "intensity.png",
            "Mean above black per frame (log scale when it spans a decade); dotted: median of "
            "the kept frames; red x: dropped, with the reason.",
        )
        + '<h2 id="correlation">Matching</h2>'
        + figure("correlation.png", _e(corr_caption))
        + '<h2 id="shifts">Shifts per pair</h2>'
        + figure(
            "shifts.png",
            "dy, dx in full-resolution sensor pixels (dark onto bright), and Pearson r after "
            "alignment; red x: rejected pairs.",
        )
        + _references_section(al)
        + _tables(al)
    )
    title = f"sublux curation: {al.source.get('scene') or sess_info.get('scene') or ''}"
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
    path = out / REPORT_FILE
    atomic_write_bytes(path, page.encode("utf-8"))
    log.info("report: %s (%d pairs shown, %d figures)", path, len(shown), len(pngs) - len(shown))
    return path
