"""Image and temporal quality metrics, and DRV's published numbers to compare with.

Plain numpy: arrays in, floats out; no torch.  Images are float arrays in ``[0, data_range]``,
``(H, W, C)`` by default (pass ``channel_axis=0`` for ``(C, H, W)``) or ``(H, W)``.
Computation runs in float64, or float32 when both inputs are float32 or narrower (as
scikit-image does), which halves the memory on full frames.

References
----------
.. [1] Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from
   error visibility to structural similarity", IEEE TIP 13(4), 2004.
.. [2] C. Chen, Q. Chen, M. Do, V. Koltun, "Seeing Motion in the Dark", ICCV 2019 (DRV),
   Tables 1 and 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from scipy.ndimage import gaussian_filter

from baseline.errors import BadArgument

__all__ = ["DRV_TABLE1", "DRV_TABLE2", "psnr", "ssim", "tmae", "tpsnr", "tssim"]

#: DRV Table 1, static test videos: method -> (PSNR dB, SSIM).
DRV_TABLE1: dict[str, tuple[float, float]] = {
    "Input+Rawpy": (12.94, 0.165),
    "VBM4D+Rawpy": (14.77, 0.315),
    "KPN+Rawpy": (18.81, 0.540),
    "SID": (27.69, 0.803),
    "SMID": (28.26, 0.815),
}
#: DRV Table 2, temporal consistency: method -> (TPSNR dB, TSSIM, TMAE x 1e-2).  The third
#: value is the raw mean absolute error times 100; :func:`tmae` returns the raw error.
DRV_TABLE2: dict[str, tuple[float, float, float]] = {
    "SID": (37.05, 0.961, 1.05),
    "SMID": (38.31, 0.974, 0.89),
}

_SIGMA = 1.5
_TRUNCATE = 3.5  # radius int(3.5 * 1.5 + 0.5) = 5: the 11x11 window of Wang et al.
_WIN = 11
_K1, _K2 = 0.01, 0.03


def _pair(a: np.ndarray, b: np.ndarray, channel_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Both images as (H, W, C) arrays of the working float type, or a BadArgument."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise BadArgument(
            f"expected two images of one shape, found {a.shape} and {b.shape}; crop or resize "
            "the output to the ground truth first"
        )
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    elif a.ndim == 3:
        a, b = np.moveaxis(a, channel_axis, -1), np.moveaxis(b, channel_axis, -1)
    else:
        raise BadArgument(
            f"expected an (H, W) or (H, W, C) image (or (C, H, W) with channel_axis=0), found "
            f"shape {a.shape}; score a batch one image at a time"
        )
    dtype = np.result_type(a.dtype, b.dtype, np.float32)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.float64
    return a.astype(dtype, copy=False), b.astype(dtype, copy=False)


def psnr(a: np.ndarray, b: np.ndarray, *, data_range: float = 1.0, channel_axis: int = -1) -> float:
    """Peak signal-to-noise ratio, ``10 log10(data_range^2 / MSE)``, in dB.

    Parameters
    ----------
    a, b : numpy.ndarray
        Images of one shape, ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
    data_range : float, optional
        Peak value (1 for images in [0, 1]).
    channel_axis : int, optional
        The channel axis of 3-D inputs; the MSE is over all pixels and channels either way.

    Returns
    -------
    float
        PSNR in dB; ``inf`` for identical images.
    """
    a, b = _pair(a, b, channel_axis)
    mse = float(np.mean(np.square(a - b), dtype=np.float64))
    if mse == 0.0:
        return float("inf")
    return 10.0 * math.log10(data_range**2 / mse)


def _blur(img: np.ndarray) -> np.ndarray:
    return gaussian_filter(img, sigma=_SIGMA, truncate=_TRUNCATE, mode="reflect")


def ssim(a: np.ndarray, b: np.ndarray, *, data_range: float = 1.0, channel_axis: int = -1) -> float:
    """Mean structural similarity [1]_, averaged over channels.

    Gaussian window (sigma 1.5, 11x11), K1 = 0.01, K2 = 0.03, population (not sample)
    covariances, reflect padding and a 5-pixel border left out of the mean: the same numbers as
    ``skimage.metrics.structural_similarity(a, b, channel_axis=-1, data_range=data_range,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.

    Parameters
    ----------
    a, b : numpy.ndarray
        Images of one shape, ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``; H and W at least 11.
    data_range : float, optional
        Peak value (1 for images in [0, 1]).
    channel_axis : int, optional
        The channel axis of 3-D inputs.

    Returns
    -------
    float
        Mean SSIM, at most 1 (identical images).
    """
    a, b = _pair(a, b, channel_axis)
    h, w, _ = a.shape
    if h < _WIN or w < _WIN:
        raise BadArgument(
            f"expected images of at least {_WIN}x{_WIN} pixels for SSIM's window, found {h}x{w}; "
            "check the channel_axis for (C, H, W) inputs"
        )
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    pad = (_WIN - 1) // 2
    total = 0.0
    # One channel at a time keeps the five filtered planes of a full frame affordable.
    for c in range(a.shape[2]):
        x, y = a[..., c], b[..., c]
        ux, uy = _blur(x), _blur(y)
        vx = _blur(x * x) - ux * ux
        vy = _blur(y * y) - uy * uy
        vxy = _blur(x * y) - ux * uy
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        total += float(np.mean(s[pad:-pad, pad:-pad], dtype=np.float64))
    return total / a.shape[2]


def _frames(frames: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    seq = list(frames)
    if len(seq) < 2:
        raise BadArgument(
            f"expected at least two frames for a temporal metric, found {len(seq)}; pass the "
            "outputs of consecutive input frames of one sequence"
        )
    return seq


def tpsnr(
    frames: Sequence[np.ndarray] | np.ndarray, *, data_range: float = 1.0, channel_axis: int = -1
) -> float:
    """Temporal PSNR (DRV Table 2 [2]_): mean PSNR between consecutive frames.

    Parameters
    ----------
    frames : sequence of numpy.ndarray, or numpy.ndarray
        Two or more output frames of one (static) sequence, in order; an array's first axis
        is time.
    data_range : float, optional
        Peak value.
    channel_axis : int, optional
        The channel axis of each frame.

    Returns
    -------
    float
        Mean over the T - 1 pairs of ``psnr(frames[t], frames[t + 1])``; ``inf`` if any pair
        is identical.
    """
    seq = _frames(frames)
    vals = [psnr(p, q, data_range=data_range, channel_axis=channel_axis) for p, q in pairwise(seq)]
    return float(np.mean(vals))


def tssim(
    frames: Sequence[np.ndarray] | np.ndarray, *, data_range: float = 1.0, channel_axis: int = -1
) -> float:
    """Temporal SSIM (DRV Table 2 [2]_): mean :func:`ssim` between consecutive frames.

    Parameters
    ----------
    frames : sequence of numpy.ndarray, or numpy.ndarray
        Two or more output frames of one sequence, in order.
    data_range : float, optional
        Peak value.
    channel_axis : int, optional
        The channel axis of each frame.

    Returns
    -------
    float
        Mean over the T - 1 pairs of ``ssim(frames[t], frames[t + 1])``.
    """
    seq = _frames(frames)
    vals = [ssim(p, q, data_range=data_range, channel_axis=channel_axis) for p, q in pairwise(seq)]
    return float(np.mean(vals))


def tmae(frames: Sequence[np.ndarray] | np.ndarray, *, channel_axis: int = -1) -> float:
    """Temporal mean absolute error (DRV Table 2 [2]_) between consecutive frames.

    Parameters
    ----------
    frames : sequence of numpy.ndarray, or numpy.ndarray
        Two or more output frames of one sequence, in order, values in [0, 1].
    channel_axis : int, optional
        The channel axis of each frame (the mean is over all pixels and channels either way).

    Returns
    -------
    float
        Mean over the T - 1 pairs of ``mean|frames[t + 1] - frames[t]|``, unscaled.  DRV
        reports it in units of 1e-2: multiply by 100 to compare with :data:`DRV_TABLE2`.
    """
    seq = _frames(frames)
    vals = []
    for p, q in pairwise(seq):
        x, y = _pair(p, q, channel_axis)
        vals.append(float(np.mean(np.abs(y - x), dtype=np.float64)))
    return float(np.mean(vals))
