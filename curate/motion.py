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
    "scale_models",
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
    change : float
        Mean relative change of the region's blocks (0.5: 50% brighter than expected).
    """

    box: tuple[int, int, int, int]
    strength: float
    peak: float
    blocks: int
    change: float

    def scaled(self, factor: float) -> dict:
        """The region as a JSON-ready dict, its box multiplied by ``factor`` (to sensor px)."""
        return {
            "box": [round(v * factor) for v in self.box],
            "strength": round(float(self.strength), 2),
            "peak": round(float(self.peak), 2),
            "blocks": int(self.blocks),
            "change": round(float(self.change), 3),
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


def regions(z: np.ndarray, mask: np.ndarray, relative: np.ndarray, block: int) -> list[Region]:
    """Connected regions of ``mask`` (8-connected), strongest first.

    Parameters
    ----------
    z : ndarray, shape (h, w)
        Normalised change per block.
    mask : ndarray of bool, shape (h, w)
        Blocks that changed.
    relative : ndarray, shape (h, w)
        Relative change per block.
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
                change=float(np.mean(relative[sl][inside])),
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
            ref = ref * scale
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
        relative = res[j] / np.maximum(expected[j], 1e-12)
        out.append(regions(z, mask, relative, block)[0])
    return out


def pair_motion(
    dark: np.ndarray,
    reference: np.ndarray,
    *,
    block: int = DEFAULT_BLOCK,
    threshold: float = DEFAULT_THRESHOLD,
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

    Returns
    -------
    Region or None
    """
    d = binned(dark, block)
    r = binned(reference, block)
    good = r > 0
    if not good.any() or d.sum() <= 0:
        return None
    r = r * float(np.median(d[good] / r[good]))
    res = d - r
    z, mask = _changed(res, r, scale_models(r, res[None]), threshold)
    if not mask.any():
        return None
    return regions(z, mask, res / np.maximum(r, 1e-12), block)[0]
