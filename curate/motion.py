"""Local motion in a "static" scene: regions whose change between frames is beyond noise.

A static burst is only useful when nothing but noise changes between its frames and their
reference.  Global statistics miss a person covering a tenth of the frame at one photon per
pixel; this module compares frames *block by block*, where the noise of each block is known
from the photon statistics:

- the work images (black-subtracted, binned luminance, see :mod:`curate.pipeline`) are summed
  into blocks of ``block x block`` pixels, so a block collects hundreds of electrons even at
  a fraction of an electron per photosite;
- each frame is compared with a robust estimate of what it should show: the median of the
  *other* frames of the burst (leave-one-out, so a frame never hides its own change) and, when
  given, the registered reference scaled to the burst's exposure;
- the variance of a block is ``a * signal + b``: shot noise grows with the signal (``a``, the
  gain in the work image's units) and read noise does not (``b``, set by the levels).  Both
  are fitted on the burst itself (:func:`fit_noise`): the spread of every block's residual,
  robustly (median absolute deviation) in bins of signal, so the few blocks that moved do not
  inflate it.  Windows of 2x2 and 4x4 blocks are tested too, so a faint change spread over a
  larger area is found, each size with its own fitted model (:func:`scale_models`: noise
  shared along a sensor row adds up coherently over a wide window);
- a block counts when its change, in units of that noise, passes ``threshold`` against the
  burst *and* against the reference (with the same sign).  Connected blocks form a region;
  the strongest region is reported with its bounding box and strength.

Everything is a plain function over arrays; nothing reads files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CHANGE_MIN_SNR",
    "DEFAULT_BLOCK",
    "DEFAULT_THRESHOLD",
    "NoiseModel",
    "Region",
    "binned",
    "burst_motion",
    "fit_noise",
    "leave_one_out_median",
    "pair_motion",
    "regions",
    "relative_change",
    "scale_models",
    "tone_fit",
]

#: Block side in work-image pixels.
DEFAULT_BLOCK = 4
#: A block (or window of blocks) changed when its change exceeds this many standard
#: deviations of its noise.  Chosen on simulated bursts (``scripts/bench curate motion``,
#: 1224x1832, four seeds): at 1 and at 0.4 e-/px no false alarm in 228 motion-free frames
#: each, and every frame a person-sized object or a small light touched caught (the objects
#: at 100-300 sigma, so the margin is on the false-alarm side).  With one noise model for all
#: window sizes, the same threshold gave 3 false alarms in 114 frames (row noise).
DEFAULT_THRESHOLD = 5.5
#: A region's relative change is given only when the light it should hold is at least this
#: many standard deviations of its noise above zero.
CHANGE_MIN_SNR = 3.0


@dataclass(frozen=True)
class NoiseModel:
    """Variance of a block's value: ``a * signal + b`` (shot noise, then read noise)."""

    a: float
    b: float

    def variance(self, signal: np.ndarray) -> np.ndarray:
        """The variance at each ``signal`` (negative signal counts as zero)."""
        return self.a * np.maximum(signal, 0.0) + self.b


@dataclass(frozen=True)
class Region:
    """A region whose change is beyond noise.

    Attributes
    ----------
    box : tuple of int
        ``(y0, x0, y1, x1)`` in the input image's pixels, end exclusive.
    strength : float
        Significance of the whole region: the sum of its blocks' normalised changes over the
        square root of their number (signed: positive when the frame is brighter).
    peak : float
        The largest normalised change of one of its blocks (signed).
    blocks : int
        Blocks in the region.
    change : float or None
        Mean relative change of the region's blocks (0.5: 50% brighter than expected), each
        block's expected light counted as at least its noise; None where the region's light
        is about zero (within :data:`CHANGE_MIN_SNR` standard deviations of its noise), as in
        a black corner a lamp lit, where a percentage would be any number
        (:func:`relative_change`).
    """

    box: tuple[int, int, int, int]
    strength: float
    peak: float
    blocks: int
    change: float | None

    def scaled(self, factor: float) -> dict:
        """The region as a JSON-ready dict, its box multiplied by ``factor`` (to sensor px)."""
        return {
            "box": [round(v * factor) for v in self.box],
            "strength": round(float(self.strength), 2),
            "peak": round(float(self.peak), 2),
            "blocks": int(self.blocks),
            "change": None if self.change is None else round(float(self.change), 3),
        }


def binned(image: np.ndarray, block: int) -> np.ndarray:
    """Sum ``image`` over ``block x block`` tiles (a partial last row/column is left out).

    Parameters
    ----------
    image : ndarray, shape (..., H, W)
        One image or a stack.
    block : int
        Tile side in pixels.

    Returns
    -------
    ndarray of float64, shape (..., H // block, W // block)
    """
    h, w = image.shape[-2] // block, image.shape[-1] // block
    if h == 0 or w == 0:
        raise ValueError(f"expected an image of at least {block}x{block}, found {image.shape}")
    t = np.asarray(image)[..., : h * block, : w * block]  # a view: no copy of the image
    t = t.reshape(*t.shape[:-2], h, block, w, block)
    return t.sum(axis=(-1, -3), dtype=np.float64)


def leave_one_out_median(stack: np.ndarray) -> np.ndarray:
    """For each frame of ``stack`` (N, ...), the median of the other N - 1 frames.

    One sort serves every frame: removing frame j's value from the sorted list shifts the
    elements above its rank down by one.
    """
    n = stack.shape[0]
    if n < 2:
        raise ValueError(f"expected at least 2 frames, found {n}")
    order = np.argsort(stack, axis=0, kind="stable")
    s = np.take_along_axis(stack, order, axis=0)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n).reshape((n,) + (1,) * (stack.ndim - 1)), axis=0)
    m = n - 1
    out = np.zeros(stack.shape, dtype=np.float64)
    for pos in {(m - 1) // 2, m // 2}:
        # element ``pos`` of the others: s[pos] if frame j ranks above it, else s[pos + 1]
        below = s[pos][None]
        above = s[min(pos + 1, n - 1)][None]
        out += np.where(rank > pos, below, above)
    return out / (2 if (m - 1) // 2 != m // 2 else 1)


def fit_noise(signal: np.ndarray, residuals: np.ndarray, *, bins: int = 8) -> NoiseModel:
    """Fit ``variance = a * signal + b`` to residuals that are noise, save a few outliers.

    Parameters
    ----------
    signal : ndarray, shape (n,)
        Expected value of each block.
    residuals : ndarray, shape (m, n)
        Observed minus expected, for ``m`` frames (or one row).
    bins : int, optional
        Signal bins (equal counts); each gives one robust variance, the median absolute
        deviation scaled to a Gaussian's standard deviation, so blocks that changed (a few per
        bin) do not count.

    Returns
    -------
    NoiseModel
        ``a >= 0`` and ``b > 0``.
    """
    signal = np.ravel(signal)
    residuals = np.asarray(residuals, dtype=np.float64).reshape(-1, signal.size)
    order = np.argsort(signal)
    xs, vs, ws = [], [], []
    for part in np.array_split(order, max(1, min(bins, signal.size // 8))):
        if part.size == 0:
            continue
        r = residuals[:, part].ravel()
        mad = float(np.median(np.abs(r - np.median(r))))
        xs.append(float(np.mean(np.maximum(signal[part], 0.0))))
        vs.append((1.4826 * mad) ** 2)
        ws.append(r.size)
    x, v, w = np.array(xs), np.array(vs), np.array(ws, float)
    if len(x) >= 2 and np.ptp(x) > 0:
        # weighted least squares on the bins' variances
        design = np.stack([x, np.ones_like(x)], axis=1) * np.sqrt(w)[:, None]
        (a, b), *_ = np.linalg.lstsq(design, v * np.sqrt(w), rcond=None)
    else:
        a, b = 0.0, float(np.average(v, weights=w))
    if a < 0:
        a, b = 0.0, float(np.average(v, weights=w))
    floor = max(1e-12, 1e-3 * float(np.max(v)) if len(v) else 1e-12)
    if b < floor:
        # a line through the origin, least squares
        a = float(np.sum(w * x * v) / max(np.sum(w * x * x), 1e-300))
        b = floor
    return NoiseModel(a=float(a), b=float(b))


#: Window sides, in blocks, at which a change is tested: a faint change over a larger area
#: (a lamp lighting a corner) is found in the larger windows.
SCALES = (1, 2, 4)


def _window_sums(values: np.ndarray, k: int) -> np.ndarray:
    """Sums over every ``k x k`` window of blocks (overlapping), over the last two axes:
    shape (..., h - k + 1, w - k + 1)."""
    if k == 1:
        return values
    c = np.zeros((*values.shape[:-2], values.shape[-2] + 1, values.shape[-1] + 1))
    c[..., 1:, 1:] = values.cumsum(-2).cumsum(-1)
    return c[..., k:, k:] - c[..., :-k, k:] - c[..., k:, :-k] + c[..., :-k, :-k]


def _scales(shape: tuple[int, ...]) -> list[int]:
    return [k for k in SCALES if k <= shape[-2] and k <= shape[-1]]


def scale_models(signal: np.ndarray, residuals: np.ndarray) -> dict[int, NoiseModel]:
    """A noise model per window size of :data:`SCALES` (:func:`fit_noise` on window sums).

    Fitted per size rather than summed from the blocks' model: noise shared along a sensor
    row (row noise) adds up coherently over a wide window, so a larger window is noisier than
    its blocks' variances summed; each size's own fit measures that.
    """
    return {
        k: fit_noise(_window_sums(signal, k).ravel(), _window_sums(residuals, k))
        for k in _scales(signal.shape)
    }


def _changed(
    res: np.ndarray,
    expected: np.ndarray,
    models: dict[int, NoiseModel],
    threshold: float,
    share: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised change per block, and which blocks changed at any window size.

    ``res`` is one frame's change per block, ``expected`` what the block should hold (the
    signal the noise depends on); ``share`` scales the models' variances (below 1: against a
    noiseless reference).  A window whose summed change passes ``threshold`` marks its blocks
    whose own change has the window's sign and is at least 2 sigma (so the region's box does
    not grow by the noise around it).
    """
    z = res / np.sqrt(share * models[1].variance(expected))
    mask = np.abs(z) > threshold
    for k, model in models.items():
        if k == 1:
            continue
        zk = _window_sums(res, k) / np.sqrt(share * model.variance(_window_sums(expected, k)))
        hit = np.abs(zk) > threshold
        if not hit.any():
            continue
        sign = np.sign(zk)
        for dy in range(k):
            for dx in range(k):
                sub = (slice(dy, dy + hit.shape[0]), slice(dx, dx + hit.shape[1]))
                mask[sub] |= hit & (z[sub] * sign > 2.0)
    return z, mask


def relative_change(res: np.ndarray, expected: np.ndarray, variance: np.ndarray) -> float | None:
    """A region's relative change: the mean over its blocks of each one's change over the
    light it should hold, that light counted as at least the block's noise (one standard
    deviation); None when the region's light is within :data:`CHANGE_MIN_SNR` standard
    deviations of its noise of zero.

    Without the floor, one block whose expected light is about zero (black, or below it
    after black subtraction) makes the mean any number (a lamp lit in a black corner read
    "brighter by 14382953988%").

    Parameters
    ----------
    res, expected, variance : ndarray
        Change, expected value and noise variance of the region's blocks.
    """
    light = float(np.sum(expected))
    noise = math.sqrt(max(float(np.sum(variance)), 0.0))
    if not light > CHANGE_MIN_SNR * noise:
        return None
    sigma = np.sqrt(np.maximum(variance, 0.0))
    return float(np.mean(res / np.maximum(expected, np.maximum(sigma, 1e-12))))


def regions(
    z: np.ndarray,
    mask: np.ndarray,
    res: np.ndarray,
    expected: np.ndarray,
    variance: np.ndarray,
    block: int,
) -> list[Region]:
    """Connected regions of ``mask`` (8-connected), strongest first.

    Parameters
    ----------
    z : ndarray, shape (h, w)
        Normalised change per block.
    mask : ndarray of bool, shape (h, w)
        Blocks that changed.
    res, expected, variance : ndarray, shape (h, w)
        Change, expected value and noise variance per block (the region's relative change,
        :func:`relative_change`).
    block : int
        Block side in image pixels (the boxes are in image pixels).
    """
    from scipy import ndimage  # imported here: the command imports this module at start-up

    labels, _n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    out = []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        inside = labels[sl] == i
        zs = z[sl][inside]
        peak = float(zs[np.argmax(np.abs(zs))])
        out.append(
            Region(
                box=(
                    sl[0].start * block,
                    sl[1].start * block,
                    sl[0].stop * block,
                    sl[1].stop * block,
                ),
                strength=float(zs.sum() / math.sqrt(zs.size)),
                peak=peak,
                blocks=int(zs.size),
                change=relative_change(res[sl][inside], expected[sl][inside], variance[sl][inside]),
            )
        )
    out.sort(key=lambda r: -abs(r.strength))
    return out


def burst_motion(
    images: Sequence[np.ndarray],
    *,
    reference: np.ndarray | None = None,
    block: int = DEFAULT_BLOCK,
    threshold: float = DEFAULT_THRESHOLD,
    rendered: bool = False,
) -> list[Region | None]:
    """Find, in each frame of a static burst, the strongest region that changed.

    Parameters
    ----------
    images : sequence of ndarray, shape (H, W)
        The burst's work images (linear, black subtracted), registered to each other (a
        static burst: the camera did not move).
    reference : ndarray, shape (H, W), optional
        A clean image of the scene registered onto the burst (the long exposure), in any
        units: it is scaled to the burst.  A block then counts only when it changed against
        the burst's other frames and against the reference, with the same sign.
    block : int, optional
        Block side in pixels of ``images``.
    threshold : float, optional
        Standard deviations of noise beyond which a block changed.
    rendered : bool, optional
        8-bit renderings (a video's frames, images): the reference is mapped onto the burst
        by :func:`tone_fit`, not scaled (see :func:`pair_motion`).

    Returns
    -------
    list of Region or None
        Per frame, its strongest region (box in pixels of ``images``), or None.
    """
    if len(images) < 3:
        return [None] * len(images)
    stack = np.stack([binned(i, block) for i in images])  # bin first: the images are large
    expected = leave_one_out_median(stack)
    res = stack - expected
    signal = np.median(stack, axis=0)
    models = scale_models(signal, res)
    ref_res = ref = None
    # a frame against the (noiseless) reference: the frame's own noise only, which is the
    # leave-one-out residual's less the other frames' median's share
    ref_share = 1.0 / (1.0 + math.pi / (2.0 * (stack.shape[0] - 1)))
    if reference is not None:
        ref = binned(reference, block)
        good = ref > 0
        # the median ratio: a region that differs between burst and reference does not bias it
        scale = float(np.median(signal[good] / ref[good])) if good.any() else 0.0
        if scale > 0:
            ref = tone_fit(signal, ref) if rendered else ref * scale
            ref_res = stack - ref[None]
        else:
            ref = None
    out: list[Region | None] = []
    for j in range(stack.shape[0]):
        z, mask = _changed(res[j], expected[j], models, threshold)
        if ref_res is not None:
            zr, mask_r = _changed(ref_res[j], ref, models, threshold, share=ref_share)
            mask &= mask_r & (np.sign(zr) == np.sign(z))
        if not mask.any():
            out.append(None)
            continue
        variance = models[1].variance(expected[j])
        out.append(regions(z, mask, res[j], expected[j], variance, block)[0])
    return out


def tone_fit(values: np.ndarray, reference: np.ndarray, *, rounds: int = 6) -> np.ndarray:
    """``reference`` mapped onto ``values`` by a robust quadratic ``c2 r^2 + c1 r + c0``.

    For 8-bit renderings (a video, images): a camera renders each pass through its own gain,
    tone curve and black clip, so one frame's code values are a curved function of the
    other's, not a multiple.  Fitted by iteratively reweighted least squares with Huber
    weights (beyond twice the residuals' robust spread), so a region that moved, a few
    blocks, does not bend the curve: three parameters cannot follow it.
    """
    x = np.ravel(reference).astype(np.float64)
    y = np.ravel(values).astype(np.float64)
    top = float(np.max(np.abs(x))) or 1.0
    xs = x / top  # a well-conditioned design
    design = np.stack([xs * xs, xs, np.ones_like(xs)], axis=1)
    weights = np.ones_like(xs)
    coef = np.zeros(3)
    for _ in range(rounds):
        coef, *_ = np.linalg.lstsq(design * weights[:, None], y * weights, rcond=None)
        err = y - design @ coef
        spread = 1.4826 * float(np.median(np.abs(err - np.median(err))))
        if not spread > 0:
            break
        weights = np.sqrt(1.0 / np.maximum(1.0, np.abs(err) / (2.0 * spread)))
    return (design @ coef).reshape(np.shape(reference))


def pair_motion(
    dark: np.ndarray,
    reference: np.ndarray,
    *,
    block: int = DEFAULT_BLOCK,
    threshold: float = DEFAULT_THRESHOLD,
    rendered: bool = False,
) -> Region | None:
    """The strongest region where ``dark`` differs from its aligned reference beyond noise.

    For sweeps, where each dark frame has only its reference: the reference (registered onto
    ``dark``, in any units) is scaled to the dark frame, and the noise model is fitted on the
    residual itself (robustly, so a moved region does not count in it).

    Parameters
    ----------
    dark, reference : ndarray, shape (H, W)
        The dark work image and the reference shifted onto it.
    block, threshold : optional
        As :func:`burst_motion`.
    rendered : bool, optional
        The frames are 8-bit renderings (a video's frames, images), not raw: the reference
        is mapped onto the dark frame by :func:`tone_fit` rather than one scale, which the
        cameras' tone curves would leave as a frame-wide pattern read as motion.

    Returns
    -------
    Region or None
    """
    d = binned(dark, block)
    r = binned(reference, block)
    good = r > 0
    if not good.any() or d.sum() <= 0:
        return None
    r = tone_fit(d, r) if rendered else r * float(np.median(d[good] / r[good]))
    res = d - r
    models = scale_models(r, res[None])
    z, mask = _changed(res, r, models, threshold)
    if not mask.any():
        return None
    return regions(z, mask, res, r, models[1].variance(r), block)[0]
