"""Bayer mosaic helpers: validation, 2×2 binning to luminance, and SID-style packing.

A mosaic here is a 2-D array of raw sensor values (14-bit data in ``uint16`` from the
camera, or floats) laid out in a repeating 2×2 colour filter array (CFA) quad spelled in
raster order, so ``"RGGB"`` means red at (0, 0), green at (0, 1) and (1, 0), blue at (1, 1).

Black levels are either one number or four, one per quad position in that same raster order
(the order the CFA string spells).  Negative values after black subtraction are kept: at one
electron per pixel half the pixels read below black, and clipping them at zero would bias every
mean and correlation computed downstream.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from curate.errors import BadInput

__all__ = ["CFA_PATTERNS", "bin_luminance", "block_mean", "check_levels", "pack_rggb"]

#: The 2×2 layouts understood, in raster order of the quad.
CFA_PATTERNS: tuple[str, ...] = ("RGGB", "BGGR", "GRBG", "GBRG")

_QUAD = ((0, 0), (0, 1), (1, 0), (1, 1))


def _check_mosaic(mosaic: np.ndarray, *, name: str = "mosaic") -> np.ndarray:
    """Return ``mosaic`` as an array after checking it is a 2-D, even-sized, real image."""
    arr = np.asarray(mosaic)
    if arr.ndim != 2:
        raise BadInput(
            f"expected {name} to be a 2-D Bayer mosaic (rows, columns), found an array of shape "
            f"{arr.shape}; pass the raw sensor plane (rawpy's raw_image), not a demosaicked "
            f"RGB image or a stack of frames"
        )
    if arr.dtype.kind not in "uif" or arr.dtype == np.float16:
        raise BadInput(
            f"expected {name} to hold integer or float32/float64 raw values, found dtype "
            f"{arr.dtype}; convert it with np.asarray(..., dtype=np.float32)"
        )
    rows, cols = arr.shape
    if rows < 2 or cols < 2 or rows % 2 or cols % 2:
        raise BadInput(
            f"expected {name} to have an even number of rows and columns (whole 2×2 CFA quads), "
            f"found {rows}×{cols}; crop it to {rows - rows % 2}×{cols - cols % 2} from the "
            f"top-left corner so the CFA phase is kept"
        )
    return arr


def _check_cfa(cfa: str) -> str:
    pattern = str(cfa).upper()
    if pattern not in CFA_PATTERNS:
        raise BadInput(
            f"expected a CFA pattern among {', '.join(CFA_PATTERNS)}, found {cfa!r}; read it "
            f"from the raw file (rawpy: raw_pattern and color_desc) rather than guessing"
        )
    return pattern


def check_levels(black: float | Sequence[float], white: float) -> tuple[np.ndarray, float]:
    """Return black levels as a (2, 2) float64 array in quad raster order, and the white level."""
    levels = np.asarray(black, dtype=np.float64)
    if levels.size == 1:
        levels = np.full((2, 2), float(levels.reshape(())))
    elif levels.size == 4:
        levels = levels.reshape(2, 2)
    else:
        raise BadInput(
            f"expected black to be one level or four (one per CFA quad position, raster order), "
            f"found {levels.size} values"
        )
    white = float(white)
    if not np.all(np.isfinite(levels)) or not np.isfinite(white) or white <= levels.max():
        raise BadInput(
            f"expected finite levels with white above black, found black={black!r}, "
            f"white={white!r}; the RX100 VI has black 800 and white 16300"
        )
    return levels, white


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Average non-overlapping ``factor``×``factor`` blocks of a 2-D image.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image.
    factor : int
        Block side in pixels, at least 1.  Trailing rows and columns that do not fill a whole
        block are dropped.

    Returns
    -------
    numpy.ndarray
        float32 image of shape ``(rows // factor, cols // factor)``.
    """
    factor = int(factor)
    img = np.asarray(image)
    if factor < 1:
        raise BadInput(f"expected a block size of at least 1, found {factor}")
    if img.ndim != 2:
        raise BadInput(f"expected a 2-D image, found shape {img.shape}")
    if factor == 1:
        return img.astype(np.float32, copy=False)
    rows, cols = img.shape[0] // factor, img.shape[1] // factor
    if rows == 0 or cols == 0:
        raise BadInput(
            f"expected an image of at least {factor}×{factor} pixels to average in blocks of "
            f"{factor}, found {img.shape[0]}×{img.shape[1]}; use a smaller downsample factor"
        )
    blocks = img[: rows * factor, : cols * factor].reshape(rows, factor, cols, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def bin_luminance(
    mosaic: np.ndarray,
    *,
    black: float | Sequence[float],
    white: float,
    cfa: str = "RGGB",
    factor: int = 2,
    downsample: int = 1,
) -> np.ndarray:
    """Bin a Bayer mosaic to a luminance image: the black-subtracted sum of each CFA quad.

    Parameters
    ----------
    mosaic : numpy.ndarray
        2-D raw mosaic with an even number of rows and columns.
    black : float or sequence of 4 floats
        Black level in DN, one value or one per quad position in raster order.
    white : float
        White (saturation) level in DN.
    cfa : str, optional
        CFA layout, one of :data:`CFA_PATTERNS`.  The quad sum does not depend on it; it is
        checked so that a wrong layout fails here exactly as it would in :func:`pack_rggb`.
    factor : int, optional
        Binning in sensor pixels, even.  2 sums each quad; 4 averages the sums of the 2×2
        quads in each 4×4 block, and so on, so values stay in quad-sum units.
    downsample : int, optional
        Further block mean on the binned image (the output is ``downsample`` times smaller).

    Returns
    -------
    numpy.ndarray
        float32 image of shape ``(rows // (factor * downsample), cols // (factor *
        downsample))`` in units of ``white - black`` (a quad of four saturated pixels reads 4).
        Trailing rows/columns that do not fill a block are dropped.

    Notes
    -----
    Summing the quad adds photon counts, so the result keeps Poisson statistics (in scaled
    units) and has twice the single-pixel signal-to-noise ratio for a flat scene.  Values are
    not clipped at zero (see the module notes).  The output pixel ``(i, j)`` at ``factor=2``
    covers sensor rows ``2i, 2i+1`` and columns ``2j, 2j+1``, so a shift of ``s`` output pixels
    is a shift of ``factor * downsample * s`` sensor pixels.
    """
    arr = _check_mosaic(mosaic)
    _check_cfa(cfa)
    levels, white = check_levels(black, white)
    factor = int(factor)
    if factor < 2 or factor % 2:
        raise BadInput(
            f"expected an even binning factor of at least 2 (whole CFA quads), found {factor}"
        )
    rows, cols = arr.shape
    quads = arr.reshape(rows // 2, 2, cols // 2, 2)
    # float32 holds every sum of four 16-bit values exactly; accumulating from the strided
    # views avoids a full-size float copy of the mosaic (about 3× faster than reshape-sum).
    lum = quads[:, 0, :, 0].astype(np.float32)
    lum += quads[:, 0, :, 1]
    lum += quads[:, 1, :, 0]
    lum += quads[:, 1, :, 1]
    lum -= np.float32(levels.sum())
    lum *= np.float32(1.0 / (white - levels.mean()))
    return block_mean(lum, (factor // 2) * int(downsample))


def pack_rggb(
    mosaic: np.ndarray,
    *,
    black: float | Sequence[float],
    white: float,
    cfa: str = "RGGB",
    clip: bool = False,
) -> np.ndarray:
    """Pack a Bayer mosaic into four half-resolution planes ordered R, G, B, G (as SID does).

    Parameters
    ----------
    mosaic : numpy.ndarray
        2-D raw mosaic with an even number of rows and columns.
    black : float or sequence of 4 floats
        Black level in DN, one value or one per quad position in raster order.
    white : float
        White level in DN.
    cfa : str, optional
        CFA layout, one of :data:`CFA_PATTERNS`.
    clip : bool, optional
        Clip to [0, 1] as SID's ``pack_raw`` does.  Off by default: negative values are noise
        that averages out, and clipping them biases dark frames upwards.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(4, rows // 2, cols // 2)``: red, the green on red's rows,
        blue, the green on blue's rows; ``(raw - black) / (white - black)``.
    """
    arr = _check_mosaic(mosaic)
    pattern = _check_cfa(cfa)
    levels, white = check_levels(black, white)
    red = _QUAD[pattern.index("R")]
    blue = _QUAD[pattern.index("B")]
    order = (red, (red[0], 1 - red[1]), blue, (blue[0], 1 - blue[1]))
    rows, cols = arr.shape
    out = np.empty((4, rows // 2, cols // 2), dtype=np.float32)
    for plane, (dy, dx) in enumerate(order):
        np.subtract(arr[dy::2, dx::2], levels[dy, dx], out=out[plane], casting="unsafe")
        out[plane] /= np.float32(white - levels[dy, dx])
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out
