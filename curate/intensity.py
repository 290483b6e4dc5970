"""Per-frame brightness statistics and the rules that drop unusable frames.

The seed method (HKUST turntable project) dropped every video frame whose mean 8-bit intensity
was below 20 of 255.  Raw bursts near one lux sit far below any such floor (a DRV-style dark
frame averages 0.4–1 electron, 4–10 DN above black at ISO 2000), so on raw data the work is
done by rules relative to the burst median, in linear DN above black:

``too_dark``
    mean below an absolute floor, or below ``drop_ratio`` × the burst median (lights out, a
    lens cap, a hand over the lens).
``too_bright``
    mean above ``jump_ratio`` × the burst median (a flash, a light switched on).
``saturated``
    (references only) more than ``max_clipped`` of the pixels at the white level.
``unreadable``
    assigned by the caller to files that failed to decode; never produced here.

A relative rule fires only when the frame is also a clear outlier: more than ``outlier_z``
robust standard deviations (1.4826 × the median absolute deviation of the burst's means) from
the median.  The median and MAD ignore up to half the burst being bad, and the standard error
of a frame mean is tiny (at 0.4 e⁻/px with 1.6 e⁻ read noise and 10 DN/e⁻, about 0.004 DN for a
20 MP frame and 0.06 DN for a 256×384 crop, against a mean of 4 DN), so photon and read noise
cannot push a good frame across a 4× ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from curate.bayer import _check_mosaic, check_levels
from curate.errors import BadInput

__all__ = [
    "BRIGHT_FLOOR_DN",
    "DARK_FLOOR_DN",
    "REASONS",
    "SEED_FLOOR_8BIT",
    "FrameStats",
    "classify",
    "default_clip_margin",
    "frame_stats",
    "grey_stats",
    "luma_601",
    "video_frame_stats",
]

#: Drop reasons, in the order they are tested (the first that applies is reported).
REASONS: tuple[str, ...] = ("too_dark", "too_bright", "saturated", "unreadable")

#: Absolute floor for dark raw frames: 1 DN above black is 0.1 e⁻/px at ISO 2000 (10 DN/e⁻),
#: a quarter of the darkest DRV regime and far above the standard error of a frame mean (see
#: the module notes); a capped lens reads about 0.
DARK_FLOOR_DN = 1.0

#: Absolute floor for bright (reference) raw frames: the seed's 20/255 sRGB floor decoded
#: through the sRGB curve is 0.7 % of full scale, about 108 DN on a 15 500 DN range.
BRIGHT_FLOOR_DN = 100.0

#: The seed's own rule for 8-bit sRGB video frames: mean grey level below 20 of 255.
SEED_FLOOR_8BIT = 20.0

# ITU-R BT.601 luma weights, as MATLAB's rgb2gray (the seed's grayscale step) uses.
_LUMA_601 = np.array([0.2989, 0.5870, 0.1140])


@dataclass(frozen=True)
class FrameStats:
    """Brightness summary of one frame.

    Attributes
    ----------
    mean_dn : float
        Mean value above black in DN (may be slightly negative for a capped lens).  For 8-bit
        video frames, the mean grey level in 0–255.
    clipped_fraction : float
        Fraction of pixels at or within the clip margin of the white level.
    """

    mean_dn: float
    clipped_fraction: float


def default_clip_margin(black: float | Sequence[float], white: float) -> float:
    """1 % of the range above black: sensors often saturate a little below nominal white."""
    levels, white = check_levels(black, white)
    return 0.01 * (white - float(levels.mean()))


def frame_stats(
    mosaic: np.ndarray,
    *,
    black: float | Sequence[float],
    white: float,
    clip_margin: float | None = None,
) -> FrameStats:
    """Measure the mean above black and the clipped fraction of a raw mosaic.

    Parameters
    ----------
    mosaic : numpy.ndarray
        2-D raw Bayer mosaic (even number of rows and columns).
    black : float or sequence of 4 floats
        Black level in DN, one value or one per CFA quad position in raster order.
    white : float
        White (saturation) level in DN.
    clip_margin : float, optional
        A pixel counts as clipped when it reads at least ``white - clip_margin``.  Default: 1 %
        of ``white - black`` (155 DN on the RX100 VI), because sensors often saturate a little
        below the nominal white level.

    Returns
    -------
    FrameStats
        ``mean_dn`` (mean minus black, not clipped at zero, so noise averages out) and
        ``clipped_fraction``.
    """
    arr = _check_mosaic(mosaic)
    levels, white = check_levels(black, white)
    if clip_margin is None:
        clip_margin = default_clip_margin(levels, white)
    if not np.isfinite(clip_margin) or clip_margin < 0:
        raise BadInput(f"expected a clip margin of 0 DN or more, found {clip_margin!r}")
    # Every quad position has the same pixel count, so the mean of the per-position black
    # levels is the right thing to subtract from the overall mean.
    mean = float(arr.mean(dtype=np.float64)) - float(levels.mean())
    clipped = np.count_nonzero(arr >= white - clip_margin) / arr.size
    return FrameStats(mean_dn=mean, clipped_fraction=float(clipped))


def luma_601(frame: np.ndarray) -> np.ndarray:
    """The grey image (float32, 0–255) of an 8-bit frame, with BT.601 weights as MATLAB's
    ``rgb2gray`` (the seed's grayscale step); a grey frame is returned as float32."""
    img = np.asarray(frame)
    if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise BadInput(
            f"expected an 8-bit video frame (uint8, rows×cols or rows×cols×3 RGB), found "
            f"dtype {img.dtype} and shape {img.shape}; raw frames go to frame_stats instead"
        )
    return img.astype(np.float32) if img.ndim == 2 else img @ _LUMA_601.astype(np.float32)


def grey_stats(grey: np.ndarray, *, clip_margin: float = 0.0) -> FrameStats:
    """:class:`FrameStats` of a grey image in 0–255 (see :func:`luma_601`)."""
    clipped = np.count_nonzero(grey >= 255.0 - clip_margin) / grey.size
    return FrameStats(mean_dn=float(grey.mean(dtype=np.float64)), clipped_fraction=float(clipped))


def video_frame_stats(frame: np.ndarray, *, clip_margin: float = 0.0) -> FrameStats:
    """Measure an 8-bit sRGB video frame the way the seed did: mean of the grey image.

    Parameters
    ----------
    frame : numpy.ndarray
        ``uint8`` image, grey ``(rows, cols)`` or colour ``(rows, cols, 3)`` in RGB order.
    clip_margin : float, optional
        A pixel counts as clipped when its grey level is at least ``255 - clip_margin``.

    Returns
    -------
    FrameStats
        ``mean_dn`` is the mean grey level in 0–255 (BT.601 weights, as MATLAB's
        ``rgb2gray``).  Use with ``classify(..., min_mean_dn=SEED_FLOOR_8BIT)``.
    """
    return grey_stats(luma_601(frame), clip_margin=clip_margin)


def classify(
    stats: Sequence[FrameStats],
    *,
    kind: Literal["dark", "bright"] = "dark",
    min_mean_dn: float | None = None,
    drop_ratio: float = 0.25,
    jump_ratio: float = 2.5,
    max_clipped: float = 0.01,
    outlier_z: float = 5.0,
) -> list[str | None]:
    """Decide which frames of one burst (or one sweep) to drop, and why.

    Parameters
    ----------
    stats : sequence of FrameStats
        One entry per readable frame of the burst, in any order.
    kind : {"dark", "bright"}
        ``"dark"`` for short exposures, ``"bright"`` for long-exposure references (only
        references can be ``saturated``: clipped highlights in a dark frame are scene lights).
    min_mean_dn : float, optional
        Absolute floor on the mean above black.  Default :data:`DARK_FLOOR_DN` (1 DN) for dark
        frames, :data:`BRIGHT_FLOOR_DN` (100 DN) for references.  For 8-bit video frames pass
        :data:`SEED_FLOOR_8BIT` (the seed's 20 of 255).
    drop_ratio : float, optional
        ``too_dark`` below this fraction of the burst median (default 0.25: a 4× drop is far
        beyond the frame-to-frame change of a static burst or a slow sweep).
    jump_ratio : float, optional
        ``too_bright`` above this multiple of the burst median (default 2.5).
    max_clipped : float, optional
        ``saturated`` when a reference has more than this fraction of clipped pixels (1 %).
    outlier_z : float, optional
        A relative rule fires only when the frame is also more than this many robust standard
        deviations from the median (see the module notes).

    Returns
    -------
    list of str or None
        Per frame, ``None`` to keep it or one of ``"too_dark"``, ``"saturated"``,
        ``"too_bright"`` (the first rule that applies, in that order).

    Notes
    -----
    The median is of the burst itself, so with fewer than half the frames bad it is the good
    frames' level.  A single reference (DRV static scenes) is judged by the absolute rules
    only, since it is its own median.  In a sweep whose brightness legitimately changes more
    than 4× along the path, classify shorter stretches of it or relax ``drop_ratio``.
    """
    if kind not in ("dark", "bright"):
        raise BadInput(f"expected kind 'dark' or 'bright', found {kind!r}")
    if not (0 < drop_ratio < 1 < jump_ratio) or not (0 <= max_clipped <= 1) or outlier_z < 0:
        raise BadInput(
            f"expected 0 < drop_ratio < 1 < jump_ratio, 0 <= max_clipped <= 1 and outlier_z >= "
            f"0, found drop_ratio={drop_ratio}, jump_ratio={jump_ratio}, "
            f"max_clipped={max_clipped}, outlier_z={outlier_z}"
        )
    floor = min_mean_dn
    if floor is None:
        floor = DARK_FLOOR_DN if kind == "dark" else BRIGHT_FLOOR_DN
    if len(stats) == 0:
        return []
    means = np.array([s.mean_dn for s in stats], dtype=np.float64)
    clipped = np.array([s.clipped_fraction for s in stats], dtype=np.float64)
    if not np.all(np.isfinite(means)) or not np.all(np.isfinite(clipped)):
        raise BadInput(
            "expected finite frame statistics, found NaN or infinity; mark frames that failed "
            "to decode 'unreadable' and leave them out of classify"
        )
    median = float(np.median(means))
    sigma = 1.4826 * float(np.median(np.abs(means - median)))
    outlier = np.abs(means - median) > outlier_z * sigma
    # A relative rule needs a positive median to mean anything; an all-black burst falls to
    # the absolute floor instead.
    relative = median > 0
    too_dark = (means < floor) | (relative & outlier & (means < drop_ratio * median))
    too_bright = relative & outlier & (means > jump_ratio * median)
    saturated = (kind == "bright") & (clipped > max_clipped)
    reasons: list[str | None] = []
    for dark, bright, sat in zip(too_dark, too_bright, saturated, strict=True):
        # A clipped reference is unusable as ground truth whatever made it bright, so that
        # reason comes first for references: it says what to fix (a shorter exposure).
        if dark:
            reasons.append("too_dark")
        elif sat:
            reasons.append("saturated")
        elif bright:
            reasons.append("too_bright")
        else:
            reasons.append(None)
    return reasons
