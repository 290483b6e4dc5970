"""Sub-pixel translation between a dark frame and its bright reference.

Shift convention
----------------
A scene point at ``(y, x)`` of the moving (dark) frame is at ``(y + dy, x + dx)`` of the fixed
(bright) frame, so ``scipy.ndimage.shift(moving, (dy, dx))`` lines up with ``fixed``.

Method
------
1. Coarse: the integer peak of the *unnormalised* FFT cross-correlation of the two zero-mean,
   Hann-windowed images, lightly low-passed.  With a clean reference this is the matched
   filter, the best detector in white noise.  Phase-normalised correlation is not used: it
   whitens the spectrum, so the noise that dominates high frequencies below one electron per
   pixel dominates the peak too, and it returns (0, 0) on blurred frames.
2. Refine: Gauss–Newton (Lucas–Kanade) least squares on the model
   ``moving(p) ≈ gain · fixed(p + d) + offset``, started from the coarse shift.  Gain and
   offset are solved for at every step, so the exposure ratio and any black-level error
   between dark and bright frames do not matter.  The fixed image is the one resampled
   (cubic spline) and the moving image is only cropped: the clean reference is interpolated
   and the noisy frame is not, because interpolating a noisy image lowers its variance by an
   amount that depends on the fractional shift, which biases the estimate towards half
   pixels.  No smoothing by default: with a clean reference and read noise dominating (as it
   does below a few electrons per pixel), the unsmoothed least-squares fit is close to the
   maximum-likelihood estimate, and blurring the dark frame only discards signal.

On synthetic frames (256×384 RGGB mosaics of a textured scene, 1.6 e⁻ read noise, 16 seeds)
the median error was 0.06 px at 1 e⁻/px and 0.13 px at 0.4 e⁻/px, against 0.08 and 0.16 px for
OpenCV's ECC (``findTransformECC``, ``MOTION_TRANSLATION``, smallest filter) from the same
start; averaging N frames of a static burst first (:func:`mean_frame`) divides the noise by
√N.  Accuracy depends on texture: a smooth scene carries less gradient energy per electron.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from curate import _kernels
from curate.bayer import bin_luminance
from curate.errors import BadInput
from sublux_common.progress import OnProgress

__all__ = [
    "Drift",
    "Registration",
    "aligned_correlation",
    "aligned_correlations",
    "drift",
    "estimate_shift",
    "mean_frame",
    "register_images",
    "register_many",
    "register_pair",
]

logger = logging.getLogger(__name__)

# The refinement may wander this far (input pixels) from the coarse peak before we distrust
# it; the coarse peak is within a pixel of the truth whenever it is right at all.
_MAX_REFINE_STEP = 2.0


class Registration(NamedTuple):
    """Result of :func:`register_pair`: shift in full-resolution sensor pixels.

    ``correlation`` is Pearson's r of the binned images after alignment, over their overlap.
    ``refined`` is False when the refinement failed and the shift is the coarse peak with a
    parabolic sub-pixel fit (less accurate; treat the pair with suspicion).
    """

    dy: float
    dx: float
    correlation: float
    refined: bool


class Drift(NamedTuple):
    """Result of :func:`drift`.

    ``shifts`` is a (3, 2) array of (dy, dx) for the pairs of thirds (first→second,
    second→third, first→third), in the input's pixel units; ``max_drift`` is the largest of
    their lengths; ``refined`` is False when any pair fell back to the coarse peak.
    """

    shifts: np.ndarray
    max_drift: float
    refined: bool


def _check_pair(moving: np.ndarray, fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(moving)
    b = np.asarray(fixed)
    if a.ndim != 2 or b.ndim != 2 or a.shape != b.shape:
        raise BadInput(
            f"expected two 2-D images of the same shape, found {a.shape} and {b.shape}; bin "
            f"both frames the same way (same factor and downsample) and crop them alike"
        )
    if min(a.shape) < 16:
        raise BadInput(
            f"expected images of at least 16×16 pixels to register, found {a.shape[0]}×"
            f"{a.shape[1]}; use a smaller downsample factor"
        )
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise BadInput("expected finite pixel values, found NaN or infinity")
    return a.astype(np.float32, copy=False), b.astype(np.float32, copy=False)


@functools.lru_cache(maxsize=8)
def _coarse_setup(
    rows: int, cols: int, sigma: float, max_shift: float | None
) -> tuple[np.ndarray, tuple[int, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What the coarse search needs for one image size (cached: a session has one size)."""
    window = np.outer(np.hanning(rows), np.hanning(cols)).astype(np.float32)
    shape = (sfft.next_fast_len(rows, real=True), sfft.next_fast_len(cols, real=True))
    fy = sfft.fftfreq(shape[0]).astype(np.float32)[:, None]
    fx = sfft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    # Gaussian low-pass of sigma on both images: the product of their transfer functions.
    lowpass = np.exp(np.float32(-4.0 * math.pi**2 * sigma**2) * (fy**2 + fx**2))
    lag_y = np.fft.fftfreq(shape[0], 1.0 / shape[0])[:, None]
    lag_x = np.fft.fftfreq(shape[1], 1.0 / shape[1])[None, :]
    limit_y = rows // 2 if max_shift is None else min(rows // 2, max_shift)
    limit_x = cols // 2 if max_shift is None else min(cols // 2, max_shift)
    outside = ~((np.abs(lag_y) <= limit_y) & (np.abs(lag_x) <= limit_x))
    for arr in (window, lowpass, lag_y, lag_x, outside):
        arr.flags.writeable = False
    return window, shape, lowpass, lag_y, lag_x, outside


def _coarse(
    moving: np.ndarray, fixed: np.ndarray, sigma: float, max_shift: float | None
) -> tuple[int, int, float, float]:
    """Integer peak of the low-passed cross-correlation, and a parabolic sub-pixel estimate."""
    rows, cols = fixed.shape
    window, shape, lowpass, lag_y, lag_x, outside = _coarse_setup(rows, cols, sigma, max_shift)
    spec_m = sfft.rfft2((moving - moving.mean()) * window, s=shape)
    spec_f = sfft.rfft2((fixed - fixed.mean()) * window, s=shape)
    spec_f *= np.conj(spec_m)
    spec_f *= lowpass
    xcorr = sfft.irfft2(spec_f, s=shape)
    iy, ix = np.unravel_index(np.argmax(np.where(outside, -np.inf, xcorr)), xcorr.shape)

    def vertex(minus: float, centre: float, plus: float) -> float:
        curvature = minus - 2.0 * centre + plus
        if curvature >= 0:
            return 0.0
        return float(np.clip(0.5 * (minus - plus) / curvature, -0.5, 0.5))

    sub_y = vertex(xcorr[iy - 1, ix], xcorr[iy, ix], xcorr[(iy + 1) % shape[0], ix])
    sub_x = vertex(xcorr[iy, ix - 1], xcorr[iy, ix], xcorr[iy, (ix + 1) % shape[1]])
    dy, dx = int(lag_y[iy, 0]), int(lag_x[0, ix])
    return dy, dx, dy + sub_y, dx + sub_x


def _refine(
    moving: np.ndarray,
    fixed: np.ndarray,
    start: tuple[int, int],
    smooth: float,
    max_iterations: int,
    tolerance: float,
) -> tuple[float, float, np.ndarray] | None:
    """Gauss–Newton (Lucas–Kanade) refinement from an integer start; None when it fails.

    Model: ``moving(p) ≈ gain * fixed(p + d) + offset`` over the interior of ``moving``;
    each step solves the linearised least-squares problem for ``(gain, offset, gain * step)``
    and ``fixed`` is resampled by cubic spline.
    """
    a = moving
    b = fixed.astype(np.float64)
    if smooth > 0:
        a = ndimage.gaussian_filter(a, smooth)
        b = ndimage.gaussian_filter(b, smooth)
    margin = max(abs(start[0]), abs(start[1])) + int(_MAX_REFINE_STEP) + 2
    rows, cols = a.shape
    if min(rows, cols) - 2 * margin < 8:
        return None
    target = np.ascontiguousarray(a[margin : rows - margin, margin : cols - margin])
    coeffs = _kernels.spline_coefficients(b)
    d = np.array(start, dtype=np.float64)
    previous = np.zeros(2)
    for _ in range(max_iterations):
        # One compiled pass: the reference resampled at p + d (cubic B-spline), its central
        # differences there, and the normal equations of the linearised fit.
        normal, rhs = _kernels.gn_system(coeffs, target, (margin, margin), (d[0], d[1]))
        # A featureless reference (no gradient, or no contrast) leaves the system singular.
        if np.linalg.cond(normal) > 1e12:
            return None
        gain, _, gain_dy, gain_dx = np.linalg.solve(normal, rhs)
        if not gain > 0:
            # Anti-correlated or unrelated images: there is no alignment to refine.
            return None
        raw_step = np.array([gain_dy, gain_dx]) / gain
        # Beyond a pixel per step the linearisation says nothing; cap it and carry on.
        step = np.clip(raw_step, -1.0, 1.0)
        d += step
        # The iteration contracts geometrically (each step a roughly constant fraction of the
        # last, of either sign: the central-difference gradient is not the objective's exact
        # one), so add the tail of that series where an axis shows it (Aitken's
        # extrapolation); the next step corrects any overshoot.  It halves the iterations.
        # Only between two uncapped steps (a capped one says nothing of the rate), and only
        # where the jump stays within reach of the coarse peak.
        for axis in (0, 1):
            if abs(previous[axis]) > tolerance and abs(raw_step[axis]) < 1.0:
                ratio = step[axis] / previous[axis]
                tail = step[axis] * ratio / (1.0 - ratio) if abs(ratio) < 0.9 else 0.0
                if abs(d[axis] + tail - start[axis]) <= _MAX_REFINE_STEP:
                    d[axis] += tail
        # a capped step is no rate either: it must not seed the next extrapolation
        previous = np.where(np.abs(raw_step) < 1.0, step, 0.0)
        if np.abs(d - start).max() > _MAX_REFINE_STEP:
            logger.debug("refinement left the coarse peak: start %s, now %s", start, d)
            return None
        if np.abs(step).max() < tolerance:
            break
    return float(d[0]), float(d[1]), coeffs


def _estimate(
    moving: np.ndarray,
    fixed: np.ndarray,
    *,
    max_shift: float | None,
    coarse_sigma: float,
    smooth: float,
    max_iterations: int,
    tolerance: float,
) -> tuple[float, float, bool, np.ndarray | None]:
    """``(dy, dx, refined, coeffs)``: ``coeffs`` are the cubic-spline coefficients of ``fixed``
    (mirror edges) when the refinement computed them unsmoothed, for reuse; else None."""
    a, b = _check_pair(moving, fixed)
    if coarse_sigma < 0:
        raise BadInput(f"expected coarse_sigma >= 0 pixels, found {coarse_sigma}")
    if smooth < 0:
        raise BadInput(f"expected smooth >= 0 pixels, found {smooth}")
    if max_iterations < 1 or not tolerance > 0:
        raise BadInput(
            f"expected max_iterations >= 1 and tolerance > 0, found {max_iterations} and "
            f"{tolerance}"
        )
    if max_shift is not None and not max_shift >= 0:
        raise BadInput(f"expected max_shift >= 0 pixels or None, found {max_shift}")
    iy, ix, sub_y, sub_x = _coarse(a, b, coarse_sigma, max_shift)
    refined = _refine(a, b, (iy, ix), smooth, max_iterations, tolerance)
    if refined is None:
        logger.warning(
            "sub-pixel refinement failed (images too noisy, featureless or barely "
            "overlapping); using the cross-correlation peak (%.2f, %.2f) instead",
            sub_y,
            sub_x,
        )
        return sub_y, sub_x, False, None
    return refined[0], refined[1], True, (refined[2] if smooth == 0 else None)


def estimate_shift(
    moving: np.ndarray,
    fixed: np.ndarray,
    *,
    max_shift: float | None = None,
    coarse_sigma: float = 1.0,
    smooth: float = 0.0,
    max_iterations: int = 20,
    tolerance: float = 1e-3,
) -> tuple[float, float]:
    """Estimate the sub-pixel translation that carries ``moving`` onto ``fixed``.

    Parameters
    ----------
    moving : numpy.ndarray
        2-D image, usually a binned dark frame (or the mean of a burst).
    fixed : numpy.ndarray
        2-D image of the same shape, usually the binned bright reference.  This is the image
        that gets interpolated, so pass the less noisy one here.
    max_shift : float, optional
        Largest shift per axis to consider, in pixels (default: half the image).
    coarse_sigma : float, optional
        Gaussian low-pass (pixels) applied to both images for the coarse search.
    smooth : float, optional
        Gaussian low-pass (pixels) applied to both images before refinement.  0 measured
        best against a clean reference, and no worse than 1 between two noisy burst means.
    max_iterations, tolerance : int, float, optional
        Refinement stopping rule: iteration cap, and the step (pixels) below which it stops.

    Returns
    -------
    tuple of float
        ``(dy, dx)`` in the input's pixel units: a scene point at ``(y, x)`` of ``moving`` is at
        ``(y + dy, x + dx)`` of ``fixed``.

    Raises
    ------
    BadInput
        Shapes differ, an image is not 2-D, smaller than 16×16 or not finite.

    Notes
    -----
    When the refinement fails (featureless or pure-noise images, or too little overlap), or
    strays more than 2 pixels from the coarse peak, the coarse peak with a parabolic
    sub-pixel fit is returned and a warning is logged; :func:`register_pair` reports this as
    ``refined=False``.
    """
    dy, dx, _, _ = _estimate(
        moving,
        fixed,
        max_shift=max_shift,
        coarse_sigma=coarse_sigma,
        smooth=smooth,
        max_iterations=max_iterations,
        tolerance=tolerance,
    )
    return dy, dx


def aligned_correlation(
    a: np.ndarray, b: np.ndarray, dy: float, dx: float, *, sigma: float = 0.0
) -> float:
    """Pearson r between ``a`` moved by ``(dy, dx)`` and ``b``, over their overlap.

    Parameters
    ----------
    a, b : numpy.ndarray
        2-D images of the same shape (``a`` moving, ``b`` fixed, as in :func:`estimate_shift`).
    dy, dx : float
        Shift of ``a`` onto ``b`` in pixels.
    sigma : float, optional
        Gaussian low-pass (pixels) applied to both images first; 0 correlates raw pixels.

    Returns
    -------
    float
        Pearson's r over the pixels both images cover (nan if the overlap is empty or
        constant).  ``b`` is resampled (cubic spline) at the positions ``a``'s pixels map to,
        so pass the cleaner image as ``b``.
    """
    return aligned_correlations([a], b, dy, dx, sigma=sigma)[0]


def aligned_correlations(
    frames: Iterable[np.ndarray], b: np.ndarray, dy: float, dx: float, *, sigma: float = 0.0
) -> list[float]:
    """:func:`aligned_correlation` of many frames against one reference at one shift.

    The reference is resampled once (a static burst shares one shift to its reference), so
    each further frame costs one Pearson r.
    """
    if sigma < 0:
        raise BadInput(f"expected sigma >= 0 pixels, found {sigma}")
    fb = _check_pair(b, b)[1]
    if sigma > 0:
        fb = ndimage.gaussian_filter(fb, sigma)
    coeffs = _kernels.spline_coefficients(fb)
    region = _overlap(fb.shape, dy, dx)
    warped = None if region is None else _kernels.warp(coeffs, region, (dy, dx))
    out = []
    for a in frames:
        fa = _check_pair(a, fb)[0]
        if warped is None:
            out.append(float("nan"))
            continue
        if sigma > 0:
            fa = ndimage.gaussian_filter(fa, sigma)
        top, bottom, left, right = region
        out.append(_kernels.pearson(fa[top:bottom, left:right], warped))
    return out


def _overlap(shape: tuple[int, ...], dy: float, dx: float) -> tuple[int, int, int, int] | None:
    """Pixels p of the moving image with 0 <= p + d <= size - 1, less one pixel each side for
    the spline's edge, as ``(top, bottom, left, right)``; None when fewer than 2 x 2."""
    rows, cols = shape
    top, bottom = max(0, math.ceil(-dy) + 1), min(rows, math.floor(rows - 1 - dy))
    left, right = max(0, math.ceil(-dx) + 1), min(cols, math.floor(cols - 1 - dx))
    if bottom - top < 2 or right - left < 2:
        return None
    return top, bottom, left, right


def _correlation(fa: np.ndarray, coeffs: np.ndarray, dy: float, dx: float) -> float:
    """Pearson r of ``fa`` and the image of spline ``coeffs`` resampled at ``p + (dy, dx)``
    (a(p) sees the scene point that b shows at p + d), over their overlap."""
    region = _overlap(fa.shape, dy, dx)
    if region is None:
        return float("nan")
    top, bottom, left, right = region
    warped = _kernels.warp(coeffs, region, (dy, dx))
    return _kernels.pearson(fa[top:bottom, left:right], warped)


def mean_frame(frames: Iterable[np.ndarray]) -> np.ndarray:
    """Average frames of one burst (mosaics or binned images), one at a time.

    Parameters
    ----------
    frames : iterable of numpy.ndarray
        Frames of identical shape; consumed once, so a generator that decodes on demand keeps
        only one frame in memory.

    Returns
    -------
    numpy.ndarray
        float32 mean.  Averaging N frames of a static burst divides the noise by √N, so
        register the mean of a burst rather than single frames where the scene is static.
    """
    total: np.ndarray | None = None
    count = 0
    for frame in frames:
        arr = np.asarray(frame)
        if total is None:
            total = np.zeros(arr.shape, dtype=np.float64)
        elif arr.shape != total.shape:
            raise BadInput(
                f"expected frames of one shape, found {arr.shape} after {total.shape} (frame "
                f"{count}); a burst must come from one camera mode"
            )
        total += arr
        count += 1
    if total is None:
        raise BadInput("expected at least one frame to average, found none")
    return (total / count).astype(np.float32)


def register_pair(
    dark_mosaic: np.ndarray,
    bright_mosaic: np.ndarray,
    *,
    black: float | Sequence[float],
    white: float,
    cfa: str = "RGGB",
    downsample: int = 1,
    max_shift: float | None = None,
) -> Registration:
    """Bin a dark/bright mosaic pair to luminance and register the dark onto the bright.

    Parameters
    ----------
    dark_mosaic, bright_mosaic : numpy.ndarray
        Raw Bayer mosaics of the same shape (a single dark frame or :func:`mean_frame` of a
        burst, and the long-exposure reference).
    black, white, cfa
        Sensor levels and layout, as for :func:`curate.bayer.bin_luminance`.
    downsample : int, optional
        Extra block mean after 2×2 binning; 2 or 4 speeds up full-size frames at some cost in
        precision.
    max_shift : float, optional
        Largest shift per axis to consider, in full-resolution sensor pixels.

    Returns
    -------
    Registration
        ``(dy, dx)`` in full-resolution sensor pixels (see the module's shift convention),
        the post-alignment Pearson correlation of the binned images, and whether the
        sub-pixel refinement succeeded.

    Notes
    -----
    The estimate does not depend on the exposure ratio (the fit solves for gain and offset,
    and Pearson r ignores them), so no gain needs to be passed.  Shifting a mosaic by an odd
    number of sensor pixels changes its CFA phase: apply fractional shifts to packed or
    demosaicked data.
    """
    if np.shape(dark_mosaic) != np.shape(bright_mosaic):
        raise BadInput(
            f"expected dark and bright mosaics of the same shape, found {np.shape(dark_mosaic)} "
            f"and {np.shape(bright_mosaic)}; both must come from the same camera mode"
        )
    levels = {"black": black, "white": white, "cfa": cfa, "downsample": downsample}
    binned = bin_luminance(bright_mosaic, **levels)
    return _register_binned(dark_mosaic, binned, levels=levels, max_shift=max_shift)


def _register_binned(
    dark_mosaic: np.ndarray,
    reference: np.ndarray,
    *,
    levels: dict,
    max_shift: float | None,
) -> Registration:
    scale = 2 * int(levels["downsample"])
    moving = bin_luminance(dark_mosaic, **levels)
    if moving.shape != reference.shape:
        raise BadInput(
            f"expected the binned reference to have the binned dark frame's shape "
            f"{moving.shape}, found {reference.shape}; bin the reference with the same factor "
            f"and downsample"
        )
    reg = register_images(
        moving, reference, max_shift=None if max_shift is None else max_shift / scale
    )
    return reg._replace(dy=reg.dy * scale, dx=reg.dx * scale)


def register_images(
    moving: np.ndarray, fixed: np.ndarray, *, max_shift: float | None = None
) -> Registration:
    """:func:`estimate_shift` plus the correlation after alignment, sharing their work.

    Shifts are in the images' own pixels (for binned work images, multiply by the binning
    to get sensor pixels); ``correlation`` is :func:`aligned_correlation` at the shift found.
    """
    dy, dx, refined, coeffs = _estimate(
        moving,
        fixed,
        max_shift=max_shift,
        coarse_sigma=1.0,
        smooth=0.0,
        max_iterations=20,
        tolerance=1e-3,
    )
    fa, fb = _check_pair(moving, fixed)
    if coeffs is None:
        coeffs = _kernels.spline_coefficients(fb)
    return Registration(dy=dy, dx=dx, correlation=_correlation(fa, coeffs, dy, dx), refined=refined)


def register_many(
    dark_mosaics: Iterable[np.ndarray],
    *,
    reference: np.ndarray | None = None,
    reference_binned: np.ndarray | None = None,
    black: float | Sequence[float],
    white: float,
    cfa: str = "RGGB",
    downsample: int = 1,
    max_shift: float | None = None,
    progress: OnProgress | None = None,
) -> list[Registration]:
    """Register many dark frames onto one reference (a DRV static scene's whole burst).

    Parameters
    ----------
    dark_mosaics : iterable of numpy.ndarray
        Dark mosaics, consumed one at a time (a generator keeps memory flat).
    reference : numpy.ndarray, optional
        The bright reference mosaic; binned once here.
    reference_binned : numpy.ndarray, optional
        The reference already binned with ``bin_luminance(..., downsample=downsample)``; pass
        this instead of ``reference`` to reuse it across calls.
    black, white, cfa, downsample, max_shift
        As for :func:`register_pair`.
    progress : callable, optional
        Called as ``progress("register", done, total)`` after each frame (see
        :data:`sublux_common.progress.OnProgress`); ``total`` is 0 when ``dark_mosaics`` has
        no length.

    Returns
    -------
    list of Registration
        One per dark frame, in input order, shifts in full-resolution sensor pixels.
    """
    if (reference is None) == (reference_binned is None):
        raise BadInput(
            "expected exactly one of reference (a mosaic) or reference_binned (its "
            "bin_luminance output), found " + ("both" if reference is not None else "neither")
        )
    levels = {"black": black, "white": white, "cfa": cfa, "downsample": downsample}
    if reference is not None:
        reference_binned = bin_luminance(reference, **levels)
    binned = np.asarray(reference_binned, dtype=np.float32)
    total = len(dark_mosaics) if hasattr(dark_mosaics, "__len__") else 0
    results: list[Registration] = []
    for done, mosaic in enumerate(dark_mosaics, start=1):
        results.append(_register_binned(mosaic, binned, levels=levels, max_shift=max_shift))
        if progress is not None:
            progress("register", done, total)
    return results


def drift(
    frames_binned: Sequence[np.ndarray] | np.ndarray, *, max_shift: float | None = None
) -> Drift:
    """Check a static burst for camera drift by registering its thirds against each other.

    Parameters
    ----------
    frames_binned : sequence of numpy.ndarray or numpy.ndarray
        At least three binned frames of the burst, in capture order (a list or a
        ``(frames, rows, cols)`` array).
    max_shift : float, optional
        Largest shift per axis to consider, in the frames' pixels.

    Returns
    -------
    Drift
        Shifts between the means of the first, second and last thirds, and the largest
        drift, in the frames' pixel units (multiply by ``2 * downsample`` for sensor pixels).
        A tripod burst should stay well under a pixel; more means the camera or the scene
        moved and the burst should not share one reference.  ``refined`` is False when a pair
        of thirds could only be located to the coarse peak (too dark or featureless even
        averaged), in which case treat ``max_drift`` as rough.
    """
    count = len(frames_binned)
    if count < 3:
        raise BadInput(f"expected at least 3 frames to split a burst into thirds, found {count}")
    bounds = np.linspace(0, count, 4).round().astype(int)
    thirds = [mean_frame(frames_binned[bounds[k] : bounds[k + 1]]) for k in range(3)]
    shifts = np.empty((3, 2), dtype=np.float64)
    all_refined = True
    for row, (i, j) in enumerate(((0, 1), (1, 2), (0, 2))):
        dy, dx, refined, _ = _estimate(
            thirds[i],
            thirds[j],
            max_shift=max_shift,
            coarse_sigma=1.0,
            smooth=0.0,
            max_iterations=20,
            tolerance=1e-3,
        )
        shifts[row] = (dy, dx)
        all_refined &= refined
    return Drift(
        shifts=shifts,
        max_drift=float(np.hypot(shifts[:, 0], shifts[:, 1]).max()),
        refined=all_refined,
    )
