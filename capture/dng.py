"""Encode a Bayer mosaic as a DNG file that LibRaw (and so rawpy) opens like a camera's own.

The simulated camera writes its frames with :func:`encode_dng`, and curation uses it to render
any mosaic (a short frame times the exposure ratio, say) exactly as a camera's raw file is
rendered: the DNG carries what a raw converter needs — black and white levels, the CFA layout,
the white balance (AsShotNeutral) and the XYZ → camera colour matrix (ColorMatrix1) — plus the
EXIF fields a capture records (ISO, exposure time, aperture, time of capture, serial number).

Only the standard library, numpy and tifffile are used here: the module is no simulator and no
device driver, so every stage may import it.
"""

from __future__ import annotations

import io
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import tifffile

from capture.errors import CameraError, SettingError

__all__ = ["COLOR_MATRIX_D65", "encode_dng"]

#: XYZ (D65) → camera RGB, the DNG ColorMatrix1: a plausible matrix for a Sony 1-inch sensor,
#: of the shape and magnitude raw converters ship for that class of camera (not a measurement).
COLOR_MATRIX_D65: tuple[float, ...] = (
    0.7325, -0.2321, -0.0596,
    -0.3494, 1.1674, 0.2055,
    -0.0668, 0.1562, 0.5031,
)  # fmt: skip

_D65 = 21  # EXIF LightSource code, for CalibrationIlluminant1
# Written in IFD0 as a stand-in and renamed to ExifIFD (34665) afterwards, because tifffile
# refuses to write IFD pointer tags; its code sits where ExifIFD sorts among IFD0's tags.
_EXIF_PLACEHOLDER = 34664
_EXIF_IFD = 34665
_CFA_CODES = {"R": 0, "G": 1, "B": 2}
_BAYER_TILES = ("RGGB", "BGGR", "GRBG", "GBRG")
# Rationals as precise as 32-bit fields allow, so that a matrix or white balance read back
# from LibRaw (float32) survives a round trip through the file bit for bit.
_MAX_DENOMINATOR = 10**8
_INT32_MAX = 2**31 - 1


def _rational(value: float | Fraction, *, denominator: int = 1_000_000) -> tuple[int, int]:
    f = Fraction(value).limit_denominator(denominator)
    return f.numerator, f.denominator


def _precise_rational(value: float, *, what: str) -> tuple[int, int]:
    """The closest fraction to ``value`` whose numerator and denominator fit 32-bit fields."""
    v = Fraction(float(value))
    limit = _MAX_DENOMINATOR
    if abs(v) > 1:
        limit = max(1, min(limit, int(_INT32_MAX / abs(v))))
    f = v.limit_denominator(limit)
    if abs(f.numerator) > _INT32_MAX:
        raise SettingError(
            f"expected {what} values of magnitude below {_INT32_MAX}, found {float(value)!r}"
        )
    return f.numerator, f.denominator


def _exif_ifd(entries: list[tuple[int, int, int, bytes]], *, at: int) -> bytes:
    """Encode one little-endian IFD that will sit at file offset ``at``.

    ``entries`` are ``(tag, type, count, value bytes)``; values longer than four bytes go
    after the IFD, word-aligned, as TIFF requires.
    """
    entries = sorted(entries)
    data_at = at + 2 + 12 * len(entries) + 4
    head = [struct.pack("<H", len(entries))]
    data = bytearray()
    for tag, typ, count, value in entries:
        if len(value) <= 4:
            head.append(struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\0"))
        else:
            if (data_at + len(data)) % 2:
                data += b"\0"
            head.append(struct.pack("<HHII", tag, typ, count, data_at + len(data)))
            data += value
    head.append(struct.pack("<I", 0))
    return b"".join(head) + bytes(data)


def _ascii(text: str) -> tuple[int, int, bytes]:
    raw = text.encode("ascii", "replace") + b"\0"
    return 2, len(raw), raw


def _black_tags(black_level: int | Sequence[int]) -> list[tuple]:
    """BlackLevelRepeatDim and BlackLevel: one value, or one per site of the 2×2 tile."""
    values = [black_level] if np.ndim(black_level) == 0 else list(black_level)  # type: ignore[arg-type]
    if len(values) not in (1, 4):
        raise SettingError(
            f"expected one black level or four (one per site of the 2x2 CFA tile, in reading "
            f"order), found {len(values)}"
        )
    levels = []
    for v in values:
        if float(v) != int(float(v)) or float(v) < 0:
            raise SettingError(
                f"expected whole, non-negative black levels (raw values are integers), found "
                f"{[float(x) for x in values]}"
            )
        levels.append(int(float(v)))
    if len(set(levels)) == 1:
        return [
            (50713, "H", 2, (1, 1), True),  # BlackLevelRepeatDim
            (50714, "I", 1, levels[0], True),  # BlackLevel
        ]
    return [(50713, "H", 2, (2, 2), True), (50714, "I", 4, tuple(levels), True)]


def encode_dng(
    raw: np.ndarray,
    *,
    make: str,
    model: str,
    serial: str | None,
    iso: int,
    exposure_s: float | Fraction,
    f_number: float | Fraction,
    taken: float,
    neutral: Sequence[float],
    black_level: int | Sequence[int] = 800,
    white_level: int = 16300,
    color_matrix: Sequence[float] = COLOR_MATRIX_D65,
    cfa: str = "RGGB",
) -> bytes:
    """Encode a Bayer mosaic as an uncompressed DNG 1.4 file, in memory.

    Parameters
    ----------
    raw : ndarray of uint16, shape (H, W)
        The mosaic, black level included, laid out as ``cfa`` says from the top-left site.
    make, model : str
        Camera maker and model (Make, Model; UniqueCameraModel is both).
    serial : str or None
        Camera serial number (DNG CameraSerialNumber and EXIF BodySerialNumber).
    iso : int
        EXIF ISOSpeedRatings.
    exposure_s : float or Fraction
        EXIF ExposureTime in seconds (a rational: pass a Fraction for 1/30 exactly).
    f_number : float or Fraction
        EXIF FNumber.
    taken : float
        ``time.time()`` of the exposure: DateTime, EXIF DateTimeOriginal (local time), its
        milliseconds (SubSecTimeOriginal) and UTC offset (OffsetTimeOriginal).
    neutral : sequence of 3 floats
        AsShotNeutral: the camera's R, G, B reading of a neutral surface (green = 1 by
        convention); a raw converter's white-balance multipliers are its reciprocals.
    black_level : int or sequence of 4 ints, optional
        BlackLevel: one value for every site, or one per site of the 2×2 tile in reading
        order (top-left, top-right, bottom-left, bottom-right).  Default: the RX100 VI's 800.
    white_level : int, optional
        WhiteLevel (default: the RX100 VI's 16300).
    color_matrix : sequence of 9 floats, optional
        ColorMatrix1, XYZ → camera (row-major, camera R, G, B rows), for
        CalibrationIlluminant1 = D65.
    cfa : str, optional
        The 2×2 CFA tile in reading order, one of ``RGGB``, ``BGGR``, ``GRBG``, ``GBRG``.

    Returns
    -------
    bytes
        The DNG file: one IFD holding the CFA image (NewSubfileType 0) and the DNG tags, with
        an EXIF IFD for exposure, ISO, aperture and time.

    Raises
    ------
    capture.errors.SettingError
        The mosaic is not an even-sized 2-D uint16 array, or a level, the CFA, the neutral or
        the matrix is malformed.

    Notes
    -----
    LibRaw reads ISO and the time of capture only from the EXIF IFD, not from IFD0, which is
    why they live there.  The matrix and the neutral are written as rationals with
    denominators up to 10⁸, so values LibRaw hands back (float32) re-encode without loss.
    """
    raw, cfa = _checked(raw, neutral=neutral, color_matrix=color_matrix, cfa=cfa)
    when = _capture_time(taken)
    tags = _dng_tags(
        make=make,
        model=model,
        serial=serial,
        cfa=cfa,
        black_level=black_level,
        white_level=white_level,
        color_matrix=color_matrix,
        neutral=neutral,
    )
    buf = _write_tiff(raw, datetime=when.stamp, extratags=tags)
    exif = _exif_entries(
        exposure_s=exposure_s, f_number=f_number, iso=iso, when=when, serial=serial
    )
    exif_at = _append_ifd(buf, exif)
    _link_exif(buf, exif_at)
    return buf.getvalue()


def _checked(
    raw: np.ndarray, *, neutral: Sequence[float], color_matrix: Sequence[float], cfa: str
) -> tuple[np.ndarray, str]:
    """The mosaic, contiguous, and the CFA tile, upper case; raises what is malformed."""
    raw = np.ascontiguousarray(raw)
    if raw.ndim != 2 or raw.dtype != np.uint16 or raw.shape[0] % 2 or raw.shape[1] % 2:
        raise SettingError(
            f"expected an even-sized 2-D uint16 mosaic, found {raw.dtype} of shape {raw.shape}"
        )
    if len(neutral) != 3 or len(color_matrix) != 9:
        raise SettingError(
            f"expected 3 neutral values and 9 colour-matrix values, found {len(neutral)} "
            f"and {len(color_matrix)}"
        )
    cfa = str(cfa).upper()
    if cfa not in _BAYER_TILES:
        raise SettingError(
            f"expected a Bayer tile such as 'RGGB', 'BGGR', 'GRBG' or 'GBRG', found {cfa!r}"
        )
    if not all(float(v) > 0 for v in neutral):
        raise SettingError(f"expected positive neutral values, found {list(neutral)}")
    return raw, cfa


@dataclass(frozen=True)
class _CaptureTime:
    """The time of capture as EXIF writes it (local time)."""

    stamp: str
    """``YYYY:MM:DD HH:MM:SS``: DateTime, DateTimeOriginal."""
    utc_offset: str
    """``+HH:MM``: OffsetTimeOriginal."""
    millis: str
    """Three digits: SubSecTimeOriginal."""


def _capture_time(taken: float) -> _CaptureTime:
    local = time.localtime(taken)
    offset_min = round(local.tm_gmtoff / 60) if local.tm_gmtoff is not None else 0
    sign = "+" if offset_min >= 0 else "-"
    return _CaptureTime(
        stamp=time.strftime("%Y:%m:%d %H:%M:%S", local),
        utc_offset=f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}",
        millis=f"{min(999, int((taken % 1) * 1000)):03d}",
    )


def _dng_tags(
    *,
    make: str,
    model: str,
    serial: str | None,
    cfa: str,
    black_level: int | Sequence[int],
    white_level: int,
    color_matrix: Sequence[float],
    neutral: Sequence[float],
) -> list[tuple]:
    """IFD0's tags beyond the image's own, as tifffile ``extratags`` (the EXIF pointer as a
    placeholder, see :func:`_link_exif`)."""
    matrix: list[int] = []
    for v in color_matrix:
        matrix += list(_precise_rational(v, what="colour-matrix"))
    as_shot: list[int] = []
    for v in neutral:
        as_shot += list(_precise_rational(v, what="neutral"))
    tags = [
        (271, "s", 0, make, True),
        (272, "s", 0, model, True),
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, tuple(_CFA_CODES[c] for c in cfa), True),  # CFAPattern
        (_EXIF_PLACEHOLDER, "I", 1, 0, True),
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 4, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, f"{make} {model}", True),  # UniqueCameraModel
        (50710, "B", 3, (0, 1, 2), True),  # CFAPlaneColor
        (50711, "H", 1, 1, True),  # CFALayout: rectangular
        *_black_tags(black_level),
        (50717, "I", 1, int(white_level), True),  # WhiteLevel
        (50721, "2i", 9, tuple(matrix), True),  # ColorMatrix1
        (50728, "2I", 3, tuple(as_shot), True),  # AsShotNeutral
        (50778, "H", 1, _D65, True),  # CalibrationIlluminant1
    ]
    if serial:
        tags.append((50735, "s", 0, serial, True))  # CameraSerialNumber
    return tags


def _write_tiff(raw: np.ndarray, *, datetime: str, extratags: list[tuple]) -> io.BytesIO:
    """The mosaic as an uncompressed little-endian CFA TIFF with the DNG tags, in memory."""
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf, byteorder="<", bigtiff=False) as tif:
        tif.write(
            raw,
            photometric="cfa",
            compression=None,
            subfiletype=0,
            metadata=None,
            software="sublux capture.sim",
            datetime=datetime,
            extratags=extratags,
        )
    return buf


def _exif_entries(
    *,
    exposure_s: float | Fraction,
    f_number: float | Fraction,
    iso: int,
    when: _CaptureTime,
    serial: str | None,
) -> list[tuple[int, int, int, bytes]]:
    """The EXIF IFD's entries ``(tag, type, count, value bytes)``."""
    exif = [
        (33434, 5, 1, struct.pack("<II", *_rational(exposure_s))),  # ExposureTime
        (33437, 5, 1, struct.pack("<II", *_rational(f_number, denominator=1000))),  # FNumber
        (34855, 3, 1, struct.pack("<H", int(iso))),  # ISOSpeedRatings
        (36864, 7, 4, b"0231"),  # ExifVersion
        (36867, *_ascii(when.stamp)),  # DateTimeOriginal
        (36881, *_ascii(when.utc_offset)),  # OffsetTimeOriginal
        (37521, *_ascii(when.millis)),  # SubSecTimeOriginal
    ]
    if serial:
        exif.append((42033, *_ascii(serial)))  # BodySerialNumber
    return exif


def _append_ifd(buf: io.BytesIO, entries: list[tuple[int, int, int, bytes]]) -> int:
    """Append an IFD at the end of the file, word-aligned; return its offset."""
    end = buf.seek(0, io.SEEK_END)
    if end % 2:
        buf.write(b"\0")
        end += 1
    buf.write(_exif_ifd(entries, at=end))
    return end


def _link_exif(buf: io.BytesIO, exif_at: int) -> None:
    """Turn IFD0's placeholder entry into the ExifIFD pointer to ``exif_at``."""
    view = buf.getbuffer()
    try:
        (ifd0,) = struct.unpack_from("<I", view, 4)
        (count,) = struct.unpack_from("<H", view, ifd0)
        for i in range(count):
            entry = ifd0 + 2 + 12 * i
            if struct.unpack_from("<H", view, entry)[0] == _EXIF_PLACEHOLDER:
                struct.pack_into("<HHII", view, entry, _EXIF_IFD, 4, 1, exif_at)
                break
        else:  # pragma: no cover - tifffile always writes the extratag
            raise CameraError("the DNG writer lost the EXIF pointer; this is a bug in sublux")
    finally:
        view.release()
