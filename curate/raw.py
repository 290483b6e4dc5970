"""Raw decoding: the one module that imports rawpy.

Returns owned data (rawpy's ``raw_image`` is a view into memory that dies with the file handle)
and turns LibRaw's errors into :class:`~curate.errors.UnreadableRaw`.  Renders to sRGB with one
recipe, the SID/SMID ground truth's: a raw file (:func:`render_srgb`), the file :func:`open_raw`
holds open (:meth:`RawFrame.render_srgb`: one decode for the mosaic and its rendering), or any
Bayer mosaic with its levels, white balance and colour matrix (:func:`render_mosaic`, through an
in-memory DNG).

Exposure time and ISO come from the file's EXIF where it is TIFF-based (DNG, NEF, ARW, CR2,
...), because LibRaw invents a 1 s shutter from an APEX value of 0 when the camera recorded
none; other formats use LibRaw's values, with 0 meaning unknown.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import rawpy
import tifffile

from capture.dng import encode_dng
from capture.errors import SettingError
from curate.errors import BadInput, MissingMetadata, UnreadableRaw

__all__ = ["RawFrame", "exposure_ratio", "open_raw", "read_raw", "render_mosaic", "render_srgb"]

_CFA_LETTERS = "RGBG"
_BAYER_TILES = ("RGGB", "BGGR", "GRBG", "GBRG")

#: The SID/SMID ground-truth rendering (``half_size`` is the caller's): camera white balance,
#: no auto-brightness, 16 bits per channel; everything else is LibRaw's default (AHD
#: demosaicing, sRGB primaries, BT.709 gamma, highlights clipped) except
#: ``adjust_maximum_thr=0``: by default LibRaw takes a frame's brightest value as its white
#: level when it exceeds 3/4 of it, an auto-brightening by one pixel that rendered two
#: references of one scene 15% apart.  The scale must be a function of the levels alone.
_GT_RECIPE = {
    "use_camera_wb": True,
    "no_auto_bright": True,
    "output_bps": 16,
    "adjust_maximum_thr": 0.0,
}

#: sRGB (D65) → XYZ, LibRaw's ``xyz_rgb``: how LibRaw turns an XYZ → camera matrix into the
#: camera → sRGB matrix it renders with, and how we turn that back.
_XYZ_FROM_SRGB = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)


@dataclass(frozen=True)
class RawFrame:
    """A decoded raw frame: the visible Bayer mosaic and what is needed to interpret it.

    ``black_level`` is per CFA position in reading order of the 2x2 pattern (top-left,
    top-right, bottom-left, bottom-right), like ``cfa``; ``white_balance`` is the camera's
    as-shot multipliers (R, G, B, G2).  ``color_matrix`` is XYZ (D65) → camera R, G, B, the
    kind of matrix a DNG's ColorMatrix1 holds, as three rows: the one LibRaw renders this file
    with, each row scaled to map D65 white to 1 (see :func:`read_raw`); ``None`` when the file
    has none usable (missing, all zeros or singular: some real Kodak raws), which blocks
    rendering only (:meth:`require_color_matrix`), not curation, which needs the mosaic and
    levels.  ``iso``/``exposure_s`` are ``None`` when the file does not record them.

    A frame :func:`open_raw` lends renders its ground truth from the file already open
    (:meth:`render_srgb`), so a reference is read and decoded once for both.
    """

    mosaic: np.ndarray
    black_level: tuple[float, float, float, float]
    white_level: int
    cfa: str
    white_balance: tuple[float, float, float, float]
    color_matrix: tuple[tuple[float, float, float], ...] | None
    iso: float | None
    exposure_s: float | None
    make: str
    model: str
    path: str = ""
    _file: _OpenFile | None = field(default=None, repr=False, compare=False)

    def require_exposure(self) -> tuple[float, float | None]:
        """``(exposure_s, iso)``, or :class:`MissingMetadata` saying what to do instead."""
        if self.exposure_s is None:
            raise MissingMetadata(
                f"expected an exposure time in {self.path or 'the raw file'}, found none "
                "(the camera recorded 0); the exposure ratio cannot be computed from metadata. "
                "Pass the ratio by hand (--ratio R)."
            )
        return self.exposure_s, self.iso

    def require_color_matrix(self) -> tuple[tuple[float, float, float], ...]:
        """The colour matrix, or :class:`MissingMetadata` saying that rendering needs one."""
        if self.color_matrix is None:
            raise MissingMetadata(_no_matrix(self.path or "the raw file"))
        return self.color_matrix

    def render_srgb(self, *, half_size: bool = False) -> np.ndarray:
        """The ground-truth rendering of this frame's file, from the file :func:`open_raw`
        holds open: no second read or decode of the file.

        Equal to :func:`render_srgb` of the same file or bytes, bit for bit.  Only inside
        ``open_raw``'s ``with`` block, where :attr:`mosaic` is valid too; LibRaw renders into
        buffers of its own, so the lent mosaic stays as it was.

        Parameters
        ----------
        half_size : bool, optional
            Half the resolution (LibRaw's ``half_size``: one pixel per 2x2 tile).

        Returns
        -------
        ndarray of uint16, shape (H, W, 3)
            sRGB (BT.709 gamma), 16 bits per channel.

        Raises
        ------
        curate.errors.MissingMetadata
            The file has no usable colour matrix.
        curate.errors.UnreadableRaw
            LibRaw could not render the file.
        RuntimeError
            Called on a frame whose file is no longer open (a frame of :func:`read_raw`, or
            one kept past ``open_raw``'s block): a bug in the caller, not in the file.
        """
        raw = None if self._file is None else self._file.raw
        if raw is None:
            raise RuntimeError(
                f"expected a frame inside open_raw's block to render, found {self.path or 'a'} "
                "frame whose file is closed; render it inside the block, or use "
                "curate.raw.render_srgb on the file"
            )
        return _postprocess(raw, half_size=half_size, what=self.path or "the raw file")


class _OpenFile:
    """The LibRaw handle of the file :func:`open_raw` has open (None once it is closed)."""

    __slots__ = ("raw",)

    def __init__(self, raw: rawpy.RawPy) -> None:
        self.raw: rawpy.RawPy | None = raw


def _no_matrix(what: str) -> str:
    return (
        f"expected a usable colour matrix (XYZ → camera) in {what}, found none (missing, all "
        "zeros or singular); the frame can be curated (mosaic and levels) but not rendered to "
        "sRGB. Render ground truth from files whose camera LibRaw knows, or add a ColorMatrix1"
    )


def _source(source: str | os.PathLike | bytes) -> tuple[str | io.BytesIO, str]:
    """What rawpy and tifffile open (a path or an in-memory file), and a name for messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source), "the raw bytes given"
    path = str(Path(source))
    return path, path


@contextlib.contextmanager
def _tiff_file(src: str | io.BytesIO) -> Iterator[tifffile.TiffFile]:
    """tifffile's ``TiffFile`` over ``src``; over a file's bytes, on a ``BytesIO`` of its own
    that is closed after (which lets go of the bytes).

    A ``TiffFile``'s pages and tags refer to each other, so it lives until Python's cycle
    collector runs, and with it what it reads from: a 20 MP frame's 38 MB each time, which
    piled up to 600 MB of resident memory over a curation's frames before a collection.
    """
    own = io.BytesIO(src.getvalue()) if isinstance(src, io.BytesIO) else src  # not a copy
    try:
        with tifffile.TiffFile(own) as tif:
            yield tif
    finally:
        if own is not src:
            own.close()


def _tiff_metadata(path: str | io.BytesIO) -> tuple[float | None, float | None, bool, str, str]:
    """(exposure_s, iso, exif_found, make, model) from a TIFF-based raw, in one read.

    ``exif_found`` is False for formats that are not TIFF-based (then LibRaw's values are used).
    """
    try:
        with _tiff_file(path) as tif:
            first = tif.pages[0].tags
            make, model = (
                str(first[k].value).strip() if k in first else "" for k in ("Make", "Model")
            )
            exif = None
            for page in tif.pages:
                tag = page.tags.get("ExifTag")
                if tag is not None:
                    exif = tag.value
                    break
            if exif is None:
                direct = {t.name: t.value for t in first.values()}
                if "ExposureTime" not in direct:
                    return None, None, False, make, model
                exif = direct
    except (tifffile.TiffFileError, ValueError, OSError, IndexError, KeyError):
        return None, None, False, "", ""
    exposure = exif.get("ExposureTime")
    iso = exif.get("ISOSpeedRatings")
    exp_s = None
    if isinstance(exposure, tuple) and len(exposure) == 2 and exposure[1]:
        exp_s = float(Fraction(int(exposure[0]), int(exposure[1]))) or None
    elif isinstance(exposure, (int, float)) and exposure > 0:
        exp_s = float(exposure)
    if isinstance(iso, (tuple, list)):
        iso = iso[0] if iso else None
    return exp_s, (float(iso) if iso else None), True, make, model


def read_raw(path: str | os.PathLike | bytes, *, name: str = "") -> RawFrame:
    """Decode a raw file (any format LibRaw reads) into an owned :class:`RawFrame`.

    ``path`` may be the file's bytes, already read (and verified against a journal) by the
    caller, so that one read serves hashing and decoding; ``name`` then names it in messages.

    The colour matrix is recovered from the camera → sRGB matrix LibRaw renders with (rawpy's
    ``color_matrix``), not taken from rawpy's ``rgb_xyz_matrix``: that one is LibRaw's built-in
    table entry for the make and model, zeros for most DNGs, and not what a DNG is rendered
    with.  So :func:`render_mosaic` of the mosaic with these levels reproduces
    :func:`render_srgb` of the file.
    """
    with open_raw(path, name=name) as frame:
        return dataclasses.replace(frame, mosaic=np.array(frame.mosaic, copy=True), _file=None)


@contextlib.contextmanager
def open_raw(path: str | os.PathLike | bytes, *, name: str = "") -> Iterator[RawFrame]:
    """Decode a raw file like :func:`read_raw`, lending the mosaic instead of copying it.

    Inside the ``with`` block ``frame.mosaic`` is a read-only view into LibRaw's buffer (no
    copy of the 40 MB of a 20 MP frame); it is invalid once the block ends, so reduce it
    (statistics, binning) inside and keep only what that returns.  Errors are those of
    :func:`read_raw`.  ``path`` may be the file's bytes (see :func:`read_raw`).  Inside the
    block :meth:`RawFrame.render_srgb` renders the ground truth from the open file.
    """
    src, path = _source(path)
    path = name or path
    try:
        raw = rawpy.imread(src)
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise _unreadable(path, exc) from None
    with raw:
        _check_bayer(raw, src, path)
        try:
            mosaic = raw.raw_image_visible
            # the colours of the visible area's first 2x2 pixels (raw_colors_visible would
            # build a whole-sensor array for these four numbers)
            sizes = raw.sizes
            pattern = np.array(
                [
                    [raw.raw_color(sizes.top_margin + y, sizes.left_margin + x) for x in (0, 1)]
                    for y in (0, 1)
                ]
            )
            desc = raw.color_desc.decode("ascii", "replace")
            cblack = list(raw.black_level_per_channel)
            white = int(raw.white_level)
            wb = tuple(float(v) for v in raw.camera_whitebalance)
            rgb_cam = np.array(raw.color_matrix, dtype=np.float64)
            other = raw.other
        except (rawpy.LibRawError, OSError, ValueError, RuntimeError) as exc:
            # RuntimeError: rawpy's word for a raw that is not one flat Bayer plane (a linear
            # DNG, a Foveon file)
            raise _unreadable(path, exc) from None
        if mosaic.dtype != np.uint16:
            mosaic = mosaic.astype(np.uint16)
        view = mosaic.view()
        view.flags.writeable = False
        if pattern.shape != (2, 2) or desc not in ("RGBG", "RGGB"):
            raise UnreadableRaw(
                f"expected a 2x2 Bayer sensor in {path}, found pattern {pattern.tolist()} of "
                f"{desc!r}; X-Trans and Foveon sensors are not supported"
            )
        order = pattern.ravel()
        cfa = "".join(_CFA_LETTERS[i] if desc == "RGBG" else desc[i] for i in order)
        black = tuple(float(cblack[i]) for i in order)
        if len(wb) == 4 and wb[3] == 0:
            wb = (*wb[:3], wb[1])  # LibRaw writes 0 for "second green as the first"
        # a missing matrix blocks rendering (require_color_matrix), not reading the mosaic
        matrix = _camera_matrix(rgb_cam)
        exp_s, iso, tiff, make, model = _tiff_metadata(src)
        if not tiff:
            exp_s = float(other.shutter_speed) or None
            iso = float(other.iso_speed) or None
        opened = _OpenFile(raw)
        try:
            yield RawFrame(
                mosaic=view,
                black_level=black,  # type: ignore[arg-type]
                white_level=white,
                cfa=cfa,
                white_balance=wb,  # type: ignore[arg-type]
                color_matrix=matrix,
                iso=iso,
                exposure_s=exp_s,
                make=make,
                model=model,
                path=path,
                _file=opened,
            )
        finally:
            opened.raw = None


def _is_linear_dng(src: str | io.BytesIO) -> bool:
    """Whether a TIFF-based file's raw image is LinearRaw (34892) or has 3 samples a pixel."""
    try:
        with _tiff_file(src) as tif:
            pages = [p for page in tif.pages for p in (page, *(page.pages or []))]
            return any(
                int(p.photometric) == 34892 or p.samplesperpixel >= 3
                for p in pages
                if "DNGVersion" in tif.pages[0].tags
            )
    except (tifffile.TiffFileError, ValueError, OSError, IndexError, KeyError, TypeError):
        return False


def _check_bayer(raw: rawpy.RawPy, src: str | io.BytesIO, path: str) -> None:
    """:class:`UnreadableRaw` naming what the file is when it is not a 2x2 Bayer mosaic.

    rawpy reports a linear (demosaiced) DNG and a multi-layer sensor alike as a ``Stack`` of
    colour planes; the DNG's own tags tell the two apart.  X-Trans sensors are flat, with a
    6x6 pattern.
    """
    try:
        kind = raw.raw_type
        pattern = raw.raw_pattern
    except (rawpy.LibRawError, RuntimeError, ValueError) as exc:
        raise _unreadable(path, exc) from None
    if kind == rawpy.RawType.Stack:
        if _is_linear_dng(src):
            raise UnreadableRaw(
                f"not a Bayer mosaic: a linear/demosaiced DNG at {path} (PhotometricInterpretation "
                "LinearRaw or 3 samples per pixel); curation needs the camera's CFA raw files, "
                "so convert the originals without demosaicing (e.g. Adobe DNG Converter without "
                "'linear') or curate the camera's own raw files"
            )
        raise UnreadableRaw(
            f"not a Bayer mosaic: {path} holds several colour values per pixel (a Foveon-type "
            "layered sensor or a demosaiced raw); only 2x2 Bayer sensors are supported"
        )
    if pattern is not None and np.shape(pattern) != (2, 2):
        raise UnreadableRaw(
            f"not a Bayer mosaic: {path} has a {np.shape(pattern)[0]}x{np.shape(pattern)[1]} "
            "colour pattern (an X-Trans sensor); only 2x2 Bayer sensors are supported"
        )


def _unreadable(path: str, exc: Exception) -> UnreadableRaw:
    return UnreadableRaw(
        f"expected a raw file LibRaw can decode at {path}, found {type(exc).__name__}: "
        f"{exc}; the file may be truncated or not a raw file"
    )


def _camera_matrix(rgb_cam: np.ndarray) -> tuple[tuple[float, float, float], ...] | None:
    """The XYZ (D65) → camera matrix LibRaw renders with, as three rows; ``None`` if there is
    none usable (all zeros, singular or not finite).

    LibRaw renders with ``rgb_cam`` (rawpy's ``color_matrix``, camera → sRGB), which it builds
    from an XYZ → camera matrix ``M`` (a DNG's ColorMatrix, or its own table entry for the
    camera) as ``inv(normalise_rows(M @ xyz_rgb))``; so ``inv(rgb_cam) @ inv(xyz_rgb)`` is
    ``M`` with each row scaled to map D65 white to 1, which renders the same.

    rawpy's ``rgb_xyz_matrix`` (LibRaw's ``cam_xyz``) is not used: it is LibRaw's table entry
    for the make and model, all zeros when it has none (most DNGs), not the DNG's ColorMatrix
    that is actually rendered with; and as float32 even the right entry perturbs the linear
    values by one step here and there, several DN after the gamma curve's steep toe.
    """
    m = rgb_cam[:3, :3]
    if not np.all(np.isfinite(m)) or not np.any(m):
        return None
    try:
        derived = np.linalg.inv(m) @ np.linalg.inv(_XYZ_FROM_SRGB)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(derived)):
        return None
    return tuple(tuple(float(v) for v in row) for row in derived)  # type: ignore[return-value]


def exposure_ratio(dark: RawFrame, bright: RawFrame) -> float:
    """DRV's digital gain: (exposure x ISO) of the bright frame over that of the dark one.

    ISO enters only when both files record it; exposure times are required.
    """
    t_d, iso_d = dark.require_exposure()
    t_b, iso_b = bright.require_exposure()
    ratio = t_b / t_d
    if iso_d and iso_b:
        ratio *= iso_b / iso_d
    return ratio


def _render(source: str | io.BytesIO, *, half_size: bool, what: str) -> np.ndarray:
    try:
        raw = rawpy.imread(source)
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise _unrenderable(what, exc) from None
    with raw:
        return _postprocess(raw, half_size=half_size, what=what)


def _postprocess(raw: rawpy.RawPy, *, half_size: bool, what: str) -> np.ndarray:
    """The ground-truth rendering (:data:`_GT_RECIPE`) of an open file."""
    try:
        # LibRaw renders with a zero matrix all the same, into colours that mean nothing
        if _camera_matrix(np.array(raw.color_matrix, dtype=np.float64)) is None:
            raise MissingMetadata(_no_matrix(what))
        return raw.postprocess(half_size=half_size, **_GT_RECIPE)
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise _unrenderable(what, exc) from None


def _unrenderable(what: str, exc: Exception) -> UnreadableRaw:
    return UnreadableRaw(f"could not render {what}: {type(exc).__name__}: {exc}")


def render_srgb(
    path: str | os.PathLike | bytes, *, half_size: bool = False, name: str = ""
) -> np.ndarray:
    """The SID/SMID ground-truth rendering: camera white balance, no auto-brightness, 16 bit.

    ``path`` may be the file's bytes (already read and verified by the caller).  Raises
    :class:`~curate.errors.MissingMetadata` for a file without a usable colour matrix (LibRaw
    would render it, in colours that mean nothing) and :class:`~curate.errors.UnreadableRaw`
    when LibRaw cannot render it."""
    src, what = _source(path)
    return _render(src, half_size=half_size, what=name or what)


def _values(name: str, value: object, counts: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        arr = np.empty(0)
    if arr.size not in counts or not np.all(np.isfinite(arr)):
        raise BadInput(
            f"expected {name} as {' or '.join(map(str, counts))} finite numbers, found {value!r}"
        )
    return arr


def render_mosaic(
    mosaic: np.ndarray,
    *,
    black_level: float | Sequence[float],
    white_level: int,
    cfa: str,
    white_balance: Sequence[float],
    color_matrix: Sequence[float] | Sequence[Sequence[float]],
    gain: float = 1.0,
) -> np.ndarray:
    """Render any Bayer mosaic to sRGB exactly as :func:`render_srgb` renders a raw file.

    The mosaic is gained in linear raw, encoded as an in-memory DNG with the given levels,
    CFA, white balance and colour matrix (:func:`capture.dng.encode_dng`), and rendered by
    LibRaw with the ground truth's recipe.  With ``gain=1`` and the metadata of a
    :class:`RawFrame`, the result equals :func:`render_srgb` of the file it was read from;
    with the exposure ratio as ``gain`` it is DRV's "Input+Rawpy" baseline.

    Parameters
    ----------
    mosaic : ndarray, shape (H, W)
        Raw values, black level included (a release's ``short`` frame); both sides even and
        at least 22 (LibRaw treats smaller images as not raw).
    black_level : float or sequence of 4 floats
        One black level, or one per site of the 2x2 tile in reading order (as in
        :attr:`RawFrame.black_level`); whole numbers.
    white_level : int
        The saturation level.
    cfa : str
        The 2x2 tile in reading order: ``RGGB``, ``BGGR``, ``GRBG`` or ``GBRG``.
    white_balance : sequence of 3 or 4 floats
        The camera's multipliers R, G, B (and G2, ignored), as :attr:`RawFrame.white_balance`.
    color_matrix : sequence of 9 floats, or 3x3
        XYZ (D65) → camera, as :attr:`RawFrame.color_matrix`; any row scaling renders the same.
    gain : float, optional
        Digital gain applied in linear raw: ``min((x - black) * gain, white - black) + black``,
        negatives to black, rounded to whole DN.

    Returns
    -------
    ndarray of uint16, shape (H, W, 3)
        sRGB (BT.709 gamma), 16 bits per channel.

    Raises
    ------
    curate.errors.MissingMetadata
        ``color_matrix`` is ``None`` (the file had none usable) or all zeros.
    curate.errors.BadInput
        A malformed mosaic, level, CFA, white balance, matrix or gain.
    curate.errors.UnreadableRaw
        LibRaw could not render the encoded DNG.

    Notes
    -----
    The neutral written to the DNG is ``1 / white_balance`` without normalising it, so that
    LibRaw's multipliers come back as the very floats it reported, and the matrix and neutral
    are written as rationals fine enough for float32: the rendering of a file's own mosaic
    matches its ground truth bit for bit (tested on the simulator's DNGs and a real Canon DNG).
    Values below black and above white render as black and white do, so clipping them before
    encoding changes nothing.  The Make written is ``sublux``: LibRaw renders a DNG with its
    ColorMatrix1 whichever camera it names.
    """
    m = np.asarray(mosaic)
    if (
        m.ndim != 2
        or m.dtype.kind not in "uif"
        or m.shape[0] % 2
        or m.shape[1] % 2
        or min(m.shape) < 22
    ):
        raise BadInput(
            f"expected a 2-D numeric Bayer mosaic with even sides of at least 22, found "
            f"{m.dtype} of shape {m.shape}"
        )
    tile = str(cfa).upper()
    if tile not in _BAYER_TILES:
        raise BadInput(f"expected cfa as one of {', '.join(_BAYER_TILES)}, found {cfa!r}")
    black = _values("black_level", black_level, (1, 4))
    black = np.broadcast_to(black, (4,)) if black.size == 1 else black
    if np.any(black != np.round(black)) or np.any(black < 0):
        raise BadInput(f"expected whole, non-negative black levels, found {black.tolist()}")
    white = float(white_level)
    if not math.isfinite(white) or white != round(white) or white <= black.max():
        raise BadInput(
            f"expected a whole white level above the black level {black.max():g}, found "
            f"{white_level!r}"
        )
    wb = _values("white_balance", white_balance, (3, 4))[:3]
    if np.any(wb <= 0):
        raise BadInput(f"expected positive white-balance multipliers, found {wb.tolist()}")
    if color_matrix is None:
        raise MissingMetadata(_no_matrix("the frame's metadata"))
    matrix = _values("color_matrix", color_matrix, (9,))
    if not np.any(matrix):
        raise MissingMetadata(_no_matrix("the frame's metadata"))
    if not (math.isfinite(gain) and gain > 0):
        raise BadInput(f"expected a finite gain > 0, found {gain!r}")

    raw = np.empty(m.shape, dtype=np.uint16)
    for site in range(4):
        dy, dx = divmod(site, 2)
        b = black[site]
        lin = (m[dy::2, dx::2].astype(np.float64) - b) * gain
        np.clip(lin, 0.0, white - b, out=lin)
        raw[dy::2, dx::2] = np.rint(lin + b)
    try:
        data = encode_dng(
            raw,
            make="sublux",
            model="render_mosaic",
            serial=None,
            # rendering reads none of these
            iso=100,
            exposure_s=1,
            f_number=1,
            taken=0.0,
            neutral=tuple(float(1.0 / v) for v in wb),
            black_level=[int(v) for v in black],
            white_level=int(white),
            color_matrix=matrix.tolist(),
            cfa=tile,
        )
    except SettingError as exc:
        raise BadInput(f"could not encode the mosaic as a DNG: {exc}") from None
    return _render(io.BytesIO(data), half_size=False, what="the mosaic's DNG")
