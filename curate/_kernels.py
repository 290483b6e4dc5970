"""Compiled inner loops (numba) for the two places where curation touches every pixel.

1. :func:`bin_stats`: one pass over a ``uint16`` raw mosaic that yields both the work image
   (block sums) and the frame statistics (sum and clipped count), instead of one numpy pass
   per quantity with a float copy of the mosaic each.  It runs while the frame is still inside
   LibRaw's buffer, so the 40 MB mosaic of a 20 MP frame is never copied.
2. :func:`gn_system` and :func:`warp`: cubic B-spline resampling of a spline-coefficient image
   at a constant sub-pixel shift, and its gradient, fused with the accumulation of
   the Gauss-Newton normal equations, so no full-size temporaries are made per iteration.

Every function releases the GIL (``nogil``), so curation threads run them in parallel, and is
cached on disk after the first compile.  Callers check shapes and bounds: numba does not.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "bin_stats",
    "gn_system",
    "pearson",
    "spline_coefficients",
    "spline_weights",
    "warp",
]

_JIT = {"nogil": True, "cache": True, "fastmath": False, "error_model": "numpy"}


@numba.njit(**_JIT)
def _bin_stats(mosaic, block, clip_at, low, high):  # pragma: no cover - compiled
    rows, cols = mosaic.shape
    out_rows, out_cols = rows // block, cols // block
    sums = np.zeros((out_rows, out_cols), np.float64)
    colsum = np.zeros(cols, np.int32)  # a block of at most 32767 rows fits
    clipped = 0
    outside = 0
    total = 0
    for r in range(rows):
        line = mosaic[r]
        for c in range(cols):
            colsum[c] += line[c]
        for c in range(cols):
            v = line[c]
            clipped += v >= clip_at
            outside += (v < low) | (v > high)
        if (r + 1) % block == 0:
            i = r // block
            if i < out_rows:
                for j in range(out_cols):
                    s = 0
                    for c in range(j * block, (j + 1) * block):
                        s += colsum[c]
                    sums[i, j] = s
            for c in range(cols):
                total += colsum[c]
                colsum[c] = 0
    for c in range(cols):  # rows left over below the last whole block
        total += colsum[c]
    return sums, clipped, total, outside


def bin_stats(
    mosaic: np.ndarray, block: int, clip_at: int, low: int = 0, high: int = 65535
) -> tuple[np.ndarray, int, int, int]:
    """Sums of ``block``×``block`` tiles, the count of pixels ``>= clip_at``, the total, and
    the count of pixels outside ``[low, high]``.

    ``mosaic`` is a 2-D ``uint16`` array (C-contiguous rows or not); tiles that do not fit
    are left out of the sums but every pixel counts in the statistics.  Sums are float64
    (exact).  The last count finds mosaics that lie (values no sensor could give, see
    :func:`curate.pipeline.impossible_range`) in the same pass.
    """
    if mosaic.dtype != np.uint16 or mosaic.ndim != 2:
        raise TypeError(f"expected a 2-D uint16 mosaic, found {mosaic.dtype} {mosaic.shape}")
    if not 1 <= block <= 32767:
        raise ValueError(f"expected a block of 1 to 32767 pixels, found {block}")
    sums, clipped, total, outside = _bin_stats(
        mosaic, int(block), int(clip_at), int(low), int(high)
    )
    return sums, int(clipped), int(total), int(outside)


def spline_weights(t: float) -> np.ndarray:
    """Cubic B-spline weights at fractional position ``t`` in [0, 1) for coefficients
    ``n - 1 .. n + 2`` when the sample lies at ``n + t``."""
    s = 1.0 - t
    return np.array(
        [s**3 / 6, (3 * t**3 - 6 * t**2 + 4) / 6, (3 * s**3 - 6 * s**2 + 4) / 6, t**3 / 6]
    )


@numba.njit(**_JIT)
def _warp(coeffs, y0, y1, x0, x1, ny, wy, nx, wx):  # pragma: no cover - compiled
    """f at (y + ny + ty, x + nx + tx) for y in y0..y1, x in x0..x1, edges clamped."""
    height, width = coeffs.shape
    # the coefficient columns read, clamped into the image (and at least one)
    c_lo = min(max(x0 + nx - 1, 0), width - 1)
    c_hi = max(min(x1 + nx + 3, width), c_lo + 1)
    out = np.empty((y1 - y0, x1 - x0), np.float64)
    line = np.empty(c_hi - c_lo, np.float64)
    for r in range(y0, y1):
        # along y: one resampled row of coefficients
        line[:] = 0.0
        for k in range(4):
            src = coeffs[min(max(r + ny + k - 1, 0), height - 1)]
            wk = wy[k]
            for c in range(c_lo, c_hi):
                line[c - c_lo] += wk * src[c]
        # along x
        for c in range(x0, x1):
            f = 0.0
            for k in range(4):
                f += wx[k] * line[min(max(c + nx + k - 1, 0), width - 1) - c_lo]
            out[r - y0, c - x0] = f
    return out


@numba.njit(**_JIT)
def _gn_system(coeffs, target, y0, x0, ny, wy, nx, wx):  # pragma: no cover - compiled
    rows, cols = target.shape
    # the warped reference one pixel beyond the target on every side, for its gradient
    w = _warp(coeffs, y0 - 1, y0 + rows + 1, x0 - 1, x0 + cols + 1, ny, wy, nx, wx)
    normal = np.zeros((4, 4), np.float64)
    rhs = np.zeros(4, np.float64)
    d = np.empty(4, np.float64)
    d[1] = 1.0
    for r in range(rows):
        for c in range(cols):
            d[0] = w[r + 1, c + 1]
            d[2] = 0.5 * (w[r + 2, c + 1] - w[r, c + 1])
            d[3] = 0.5 * (w[r + 1, c + 2] - w[r + 1, c])
            m = target[r, c]
            for i in range(4):
                rhs[i] += d[i] * m
                for j in range(i, 4):
                    normal[i, j] += d[i] * d[j]
    for i in range(4):
        for j in range(i):
            normal[i, j] = normal[j, i]
    return normal, rhs


def _split(shift: float) -> tuple[int, np.ndarray]:
    n = int(np.floor(shift))
    return n, spline_weights(shift - n)


def gn_system(
    coeffs: np.ndarray, target: np.ndarray, origin: tuple[int, int], shift: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Normal equations of ``target ≈ gain·f(p + shift) + offset`` linearised in the shift.

    ``coeffs`` are the cubic B-spline coefficients of ``f`` (``scipy.ndimage.spline_filter``,
    float64); ``target`` is the crop of the moving image whose top-left pixel is ``origin`` in
    ``f``'s frame.  The design columns are ``f(p + d)``, 1, and the central differences of the
    resampled image along y and x (what ``numpy.gradient`` of the resampled image gives; the
    spline's exact derivative amplifies a noisy reference's high frequencies and biases the
    fit); returns ``(DᵀD, Dᵀ·target)``.  Coefficients outside the image are clamped to its
    edge: keep ``target`` three pixels plus the shift inside ``f``.
    """
    y0, x0 = int(origin[0]), int(origin[1])
    if y0 < 1 or x0 < 1:
        raise ValueError(f"expected the target at least one pixel inside f, found origin {origin}")
    ny, wy = _split(shift[0])
    nx, wx = _split(shift[1])
    return _gn_system(
        np.ascontiguousarray(coeffs, dtype=np.float64),
        np.ascontiguousarray(target) if target.dtype.kind == "f" else target.astype(np.float64),
        y0,
        x0,
        ny,
        wy,
        nx,
        wx,
    )


def warp(
    coeffs: np.ndarray, region: tuple[int, int, int, int], shift: tuple[float, float]
) -> np.ndarray:
    """``f(p + shift)`` for ``p`` in ``region = (y0, y1, x0, x1)`` from B-spline coefficients.

    Equal, inside the image, to ``scipy.ndimage.shift(f, -shift, order=3)`` cropped to the
    region; coefficients beyond the edge are clamped.
    """
    y0, y1, x0, x1 = (int(v) for v in region)
    if not (0 <= y0 < y1 <= coeffs.shape[0] and 0 <= x0 < x1 <= coeffs.shape[1]):
        raise ValueError(f"region {region} is not inside an image of shape {coeffs.shape}")
    ny, wy = _split(shift[0])
    nx, wx = _split(shift[1])
    return _warp(np.ascontiguousarray(coeffs, dtype=np.float64), y0, y1, x0, x1, ny, wy, nx, wx)


_POLE = float(np.sqrt(3.0) - 2.0)  # the cubic B-spline's pole


@numba.njit(**_JIT)
def _prefilter(data, pole, horizon):  # pragma: no cover - compiled
    """In place along axis 0.  For a 2-D array every column at once (each step one vector
    operation over a contiguous row); compiled again for a 1-D line, where the same steps are
    scalar."""
    n = data.shape[0]
    gain = (1.0 - pole) * (1.0 - 1.0 / pole)
    data *= gain
    # causal initialisation, mirror boundary: sum of z^k x[k], truncated where z^k vanishes,
    # or for a short line the exact sum over the line and its mirror image
    first = data[0] * 1.0
    if horizon < n:
        zk = pole
        for k in range(1, horizon):
            first += zk * data[k]
            zk *= pole
    else:
        for k in range(1, n - 1):
            first += (pole**k + pole ** (2 * n - 2 - k)) * data[k]
        first += pole ** (n - 1) * data[n - 1]
        first /= 1.0 - pole ** (2 * n - 2)
    data[0] = first
    for r in range(1, n):
        data[r] += pole * data[r - 1]
    # anti-causal initialisation and recursion
    data[n - 1] = (pole / (pole * pole - 1.0)) * (data[n - 1] + pole * data[n - 2])
    for r in range(n - 2, -1, -1):
        data[r] = pole * (data[r + 1] - data[r])


@numba.njit(**_JIT)
def _prefilter_rows(data, pole, horizon):  # pragma: no cover - compiled
    """In place along axis 1: one contiguous row at a time."""
    for r in range(data.shape[0]):
        _prefilter(data[r], pole, horizon)


def spline_coefficients(image: np.ndarray) -> np.ndarray:
    """Cubic B-spline coefficients of a 2-D image with mirror edges, as
    ``scipy.ndimage.spline_filter(image, order=3, mode="mirror")`` computes them, without
    holding the GIL (so registrations on several threads run in parallel)."""
    img = np.asarray(image)
    if img.ndim != 2 or min(img.shape) < 2:
        raise ValueError(f"expected a 2-D image of at least 2x2, found {img.shape}")
    horizon = int(np.ceil(np.log(1e-17) / np.log(abs(_POLE))))
    out = np.array(img, dtype=np.float64, order="C", copy=True)
    _prefilter(out, _POLE, horizon)
    _prefilter_rows(out, _POLE, horizon)
    return out


@numba.njit(**_JIT)
def _pearson(a, b):  # pragma: no cover - compiled
    n = a.size
    fa = a.ravel()
    fb = b.ravel()
    ma = 0.0
    mb = 0.0
    for i in range(n):
        ma += fa[i]
        mb += fb[i]
    ma /= n
    mb /= n
    sab = 0.0
    saa = 0.0
    sbb = 0.0
    for i in range(n):
        x = fa[i] - ma
        y = fb[i] - mb
        sab += x * y
        saa += x * x
        sbb += y * y
    return sab, saa, sbb


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r of two arrays of one shape, in float64 and without BLAS (whose worker
    threads spin and starve the other curation threads); nan when either is constant."""
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"expected two non-empty arrays of one shape, found {a.shape}, {b.shape}")
    sab, saa, sbb = _pearson(np.ascontiguousarray(a), np.ascontiguousarray(b))
    denom = np.sqrt(saa * sbb)
    return float(sab / denom) if denom > 0 else float("nan")
