"""Raw decoding: the one module that imports rawpy.

Returns owned data (rawpy's ``raw_image`` is a view into memory that dies with the file handle)
and turns LibRaw's errors into :class:`~curate.errors.UnreadableRaw`.  Exposure time and ISO
come from the file's EXIF where it is TIFF-based (DNG, NEF, ARW, CR2, ...), because LibRaw
invents a 1 s shutter from an APEX value of 0 when the camera recorded none; other formats use
LibRaw's values, with 0 meaning unknown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import rawpy
import tifffile

from curate.errors import MissingMetadata, UnreadableRaw

__all__ = ["RawFrame", "exposure_ratio", "read_raw", "render_srgb"]

_CFA_LETTERS = "RGBG"


@dataclass(frozen=True)
class RawFrame:
    """A decoded raw frame: the visible Bayer mosaic and what is needed to interpret it.

    ``black_level`` is per CFA position in reading order of the 2x2 pattern (top-left,
    top-right, bottom-left, bottom-right), like ``cfa``; ``white_balance`` is the camera's
    as-shot multipliers (R, G, B, G2).  ``iso``/``exposure_s`` are ``None`` when the file does
    not record them.
    """

    mosaic: np.ndarray
    black_level: tuple[float, float, float, float]
    white_level: int
    cfa: str
    white_balance: tuple[float, float, float, float]
    iso: float | None
    exposure_s: float | None
    make: str
    model: str
    path: str = ""

    @property
    def black(self) -> float:
        """Mean black level, for algorithms that take one number."""
        return float(np.mean(self.black_level))

    def require_exposure(self) -> tuple[float, float | None]:
        """``(exposure_s, iso)``, or :class:`MissingMetadata` saying what to do instead."""
        if self.exposure_s is None:
            raise MissingMetadata(
                f"expected an exposure time in {self.path or 'the raw file'}, found none "
                "(the camera recorded 0); the exposure ratio cannot be computed from metadata. "
                "Pass the ratio by hand (--ratio R)."
            )
        return self.exposure_s, self.iso


def _exif_exposure(path: str) -> tuple[float | None, float | None, bool]:
    """(exposure_s, iso, found) from a TIFF-based raw's EXIF; found=False for other formats."""
    try:
        with tifffile.TiffFile(path) as tif:
            exif = None
            for page in tif.pages:
                tag = page.tags.get("ExifTag")
                if tag is not None:
                    exif = tag.value
                    break
            if exif is None:
                page = tif.pages[0]
                direct = {t.name: t.value for t in page.tags.values()}
                if "ExposureTime" not in direct:
                    return None, None, False
                exif = direct
    except (tifffile.TiffFileError, ValueError, OSError, IndexError, KeyError):
        return None, None, False
    exposure = exif.get("ExposureTime")
    iso = exif.get("ISOSpeedRatings")
    exp_s = None
    if isinstance(exposure, tuple) and len(exposure) == 2 and exposure[1]:
        exp_s = float(Fraction(int(exposure[0]), int(exposure[1]))) or None
    elif isinstance(exposure, (int, float)) and exposure > 0:
        exp_s = float(exposure)
    if isinstance(iso, (tuple, list)):
        iso = iso[0] if iso else None
    return exp_s, (float(iso) if iso else None), True


def read_raw(path: str | os.PathLike) -> RawFrame:
    """Decode a raw file (any format LibRaw reads) into an owned :class:`RawFrame`."""
    path = str(Path(path))
    try:
        with rawpy.imread(path) as raw:
            mosaic = np.array(raw.raw_image_visible, dtype=np.uint16, copy=True)
            pattern = np.array(raw.raw_colors_visible[:2, :2])
            desc = raw.color_desc.decode("ascii", "replace")
            cblack = list(raw.black_level_per_channel)
            white = int(raw.white_level)
            wb = tuple(float(v) for v in raw.camera_whitebalance)
            other = raw.other
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise UnreadableRaw(
            f"expected a raw file LibRaw can decode at {path}, found {type(exc).__name__}: "
            f"{exc}; the file may be truncated or not a raw file"
        ) from None
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
    exp_s, iso, tiff = _exif_exposure(path)
    if not tiff:
        exp_s = float(other.shutter_speed) or None
        iso = float(other.iso_speed) or None
    make, model = _make_model(path)
    return RawFrame(
        mosaic=mosaic,
        black_level=black,  # type: ignore[arg-type]
        white_level=white,
        cfa=cfa,
        white_balance=wb,  # type: ignore[arg-type]
        iso=iso,
        exposure_s=exp_s,
        make=make,
        model=model,
        path=path,
    )


def _make_model(path: str) -> tuple[str, str]:
    try:
        with tifffile.TiffFile(path) as tif:
            tags = tif.pages[0].tags
            make = tags.get("Make")
            model = tags.get("Model")
            return (
                str(make.value).strip() if make else "",
                str(model.value).strip() if model else "",
            )
    except (tifffile.TiffFileError, ValueError, OSError, IndexError):
        return "", ""


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


def render_srgb(path: str | os.PathLike, *, half_size: bool = False) -> np.ndarray:
    """The SID/SMID ground-truth rendering: camera white balance, no auto-brightness, 16 bit."""
    try:
        with rawpy.imread(str(path)) as raw:
            return raw.postprocess(
                use_camera_wb=True, half_size=half_size, no_auto_bright=True, output_bps=16
            )
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise UnreadableRaw(f"could not render {path}: {type(exc).__name__}: {exc}") from None
