"""A seeded 360° scene that the simulated camera sees from the turntable.

The scene is a procedurally generated panorama of a "room": walls with colour gradients, a
floor, and many overlapping objects — framed panels, gradient cards and text-like patches of
small glyphs — under a fine texture, so that every view has edges, colour and detail to
register.  The turntable pans it horizontally: the camera's horizontal field of view is
``fov_deg`` and the panorama spans 360°, so at a turntable angle of ``a`` degrees the content
appears ``a · W / fov_deg`` photosites further left than at 0° (it moves toward smaller
``x``), continuously, to any fraction of a photosite.  An extra ``offset = (dy, dx)``, in
photosites, displaces the content by ``+dy`` down and ``+dx`` right (a bumped tripod); it is
the ground truth of registration tests.

Geometry of the sampling.  The panorama is stored at the resolution of one colour plane of the
RGGB mosaic (half the photosite pitch), so each of the four planes of a frame is a pure
sub-pixel translation of the stored panorama: photosite ``(y, x)`` of the frame sees panorama
point ``((y - dy) / 2 + margin, (x - dx + a · W / fov_deg) / 2)`` in the channel of its colour
filter.  Values between panorama pixels are interpolated with Keys' cubic convolution
(a = -1/2), which keeps sub-pixel shifts measurable without the pull toward whole pixels that
linear interpolation gives registration; motion blur during an exposure of ``t`` seconds at
``v`` °/s is a horizontal box average over the swept arc, ``|v| · t · W / fov_deg`` photosites
long, centred on the angle at the exposure's midpoint.  Both are one separable filter, since
every pixel of a plane moves by the same amount.  The panorama wraps at 360° horizontally;
above and below its margin it repeats its edge.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from capture.errors import SettingError
from capture.sim.sensor import CFA_PATTERN

__all__ = [
    "SCENE_KINDS",
    "Scene",
    "box_kernel",
    "cubic_weights",
    "room_panorama",
    "sample_shifted",
]

#: Scene kinds :class:`Scene` knows: a textured room, or a uniform white field.
SCENE_KINDS = ("room", "flat")

# Rows of panorama above and below the view, for vertical offsets (in colour-plane pixels).
_MARGIN = 16
# Keeps the scene's random stream apart from the sensor's ``default_rng([seed, n])`` streams.
_SCENE_STREAM = 0x5CE7E


def box_kernel(length: float) -> np.ndarray:
    """Weights of a horizontal box average ``length`` pixels long, centred on a pixel.

    Each tap's weight is the overlap of the box ``[-length/2, length/2]`` with that pixel's
    extent ``[t - 1/2, t + 1/2]``, divided by ``length``, so the weights sum to one, grow
    continuously with ``length``, and a box shorter than a pixel leaves the image unchanged.

    Parameters
    ----------
    length : float
        Length of the box in pixels (non-negative).

    Returns
    -------
    ndarray of float32, shape (2n + 1,)
        Symmetric weights; ``[1.0]`` for ``length <= 1``.
    """
    if not length >= 0 or not math.isfinite(length):
        raise SettingError(f"expected a finite blur length >= 0 pixels, found {length!r}")
    if length <= 1.0:
        return np.ones(1, dtype=np.float32)
    half = 0.5 * length
    n = math.ceil(half + 0.5) - 1
    t = np.arange(-n, n + 1, dtype=np.float64)
    overlap = np.minimum(t + 0.5, half) - np.maximum(t - 0.5, -half)
    return (np.clip(overlap, 0.0, None) / length).astype(np.float32)


def cubic_weights(fraction: float) -> np.ndarray:
    """Keys' cubic-convolution weights (a = -1/2) for a point ``fraction`` past a pixel.

    Parameters
    ----------
    fraction : float
        Position in ``[0, 1)`` between pixel 0 and pixel 1.

    Returns
    -------
    ndarray of float64, shape (4,)
        Weights of pixels -1, 0, 1 and 2; they sum to one and reproduce linear and quadratic
        ramps exactly.
    """
    d = np.abs(fraction - np.arange(-1.0, 3.0))
    near = 1.5 * d**3 - 2.5 * d**2 + 1.0
    far = -0.5 * d**3 + 2.5 * d**2 - 4.0 * d + 2.0
    return np.where(d <= 1.0, near, np.where(d < 2.0, far, 0.0))


def sample_shifted(
    plane: np.ndarray,
    *,
    shape: tuple[int, int],
    y: float,
    x: float,
    blur: float = 0.0,
) -> np.ndarray:
    """Sample a window of ``plane`` at a sub-pixel position, optionally blurred horizontally.

    ``out[i, j]`` is ``plane`` at the point ``(y + i, x + j)``, interpolated between pixel
    centres with :func:`cubic_weights`, after a horizontal :func:`box_kernel` average of
    ``blur`` pixels.  Columns wrap around (a 360° panorama); rows beyond the top or bottom
    repeat the edge row.

    Parameters
    ----------
    plane : ndarray, shape (Hp, Wp)
        The image to sample (converted to float32).
    shape : tuple of int
        ``(h, w)`` of the window.
    y, x : float
        Position of the window's first pixel in ``plane``'s pixel coordinates.
    blur : float, optional
        Length of the horizontal box average, in pixels of ``plane``.

    Returns
    -------
    ndarray of float32, shape (h, w)
        May dip slightly below the input's minimum next to sharp edges (cubic overshoot).
    """
    h, w = shape
    hp, wp = plane.shape
    if not (math.isfinite(y) and math.isfinite(x)):
        raise SettingError(f"expected a finite sampling position, found y={y!r}, x={x!r}")
    iy, ix = math.floor(y), math.floor(x)
    ky = cubic_weights(y - iy)
    box = box_kernel(blur)
    n = box.size // 2
    kx = np.convolve(cubic_weights(x - ix), box)  # taps -1-n .. 2+n around column ix

    y0, y1 = iy - 1, iy + h + 2
    rows = plane[y0:y1] if y0 >= 0 and y1 <= hp else plane[np.clip(np.arange(y0, y1), 0, hp - 1)]
    x0, x1 = ix - 1 - n, ix + w + 2 + n
    # A plain slice (no copy of the panorama) unless the window wraps around 360°.
    crop = rows[:, x0:x1] if x0 >= 0 and x1 <= wp else rows[:, np.arange(x0, x1) % wp]
    crop = np.ascontiguousarray(crop, dtype=np.float32)
    # anchor (0, 0): out[i, j] = sum of ky[a] * kx[b] * crop[i + a, j + b], the "valid" part.
    out = cv2.sepFilter2D(
        crop,
        cv2.CV_32F,
        kx.astype(np.float32),
        ky.astype(np.float32),
        anchor=(0, 0),
        borderType=cv2.BORDER_REPLICATE,
    )
    return out[:h, :w]


def _wrap_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur, wrapping horizontally (the panorama is a cylinder), reflecting vertically."""
    pad = max(1, math.ceil(4 * sigma))
    padded = np.concatenate([image[:, -pad:], image, image[:, :pad]], axis=1)
    return cv2.GaussianBlur(padded, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)[:, pad:-pad]


def _glyph_patch(rng: np.random.Generator, ph: int, pw: int) -> np.ndarray:
    """A mask of text-like glyph rows: 3×5-cell glyphs with one-cell gaps, lines apart."""
    cell = int(rng.integers(1, 3))
    line = int(rng.integers(7, 10))
    rows, cols = -(-ph // cell), -(-pw // cell)
    ink = rng.random((rows, cols)) < 0.45
    r = np.arange(rows)[:, None]
    c = np.arange(cols)[None, :]
    ink &= (r % line) < 5
    ink &= (c % 4) != 3
    # A margin of paper around the text, as on a page or a label.
    ink[:1] = ink[-1:] = False
    ink[:, :1] = ink[:, -1:] = False
    return np.repeat(np.repeat(ink, cell, axis=0), cell, axis=1)[:ph, :pw]


def _colour(rng: np.random.Generator, lo: float, hi: float, saturation: float) -> np.ndarray:
    grey = rng.uniform(lo, hi)
    tint = rng.uniform(lo, hi, size=3)
    return (grey + saturation * (tint - grey)).astype(np.float32)


def room_panorama(*, height: int, width: int, seed: int) -> np.ndarray:
    """Generate the "room" panorama: linear reflectance in R, G, B, wrapping horizontally.

    Parameters
    ----------
    height, width : int
        Size of the panorama in pixels; ``width`` spans 360°.
    seed : int
        The same seed gives the same room.

    Returns
    -------
    ndarray of float32, shape (3, height, width)
        Reflectances in ``[0.01, 0.95]``, about 0.4 on average.
    """
    if height < 4 or width < 8:
        raise SettingError(f"expected a panorama of at least 4×8 pixels, found {height}×{width}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SCENE_STREAM,)))
    pano = np.empty((3, height, width), dtype=np.float32)
    cols = np.arange(width)

    # Walls: a few spans around the circle, each with its own colour and a lighting gradient.
    n_walls = int(rng.integers(4, 8))
    starts = np.sort(rng.choice(width, size=n_walls, replace=False))
    for i, x0 in enumerate(starts):
        x1 = starts[i + 1] if i + 1 < n_walls else starts[0] + width
        span = cols[x0:x1] if x1 <= width else np.arange(x0, x1) % width
        ramp = np.linspace(rng.uniform(0.5, 1.0), rng.uniform(0.5, 1.0), span.size)
        colour = _colour(rng, 0.15, 0.55, 0.5)
        pano[:, :, span] = colour[:, None, None] * ramp[None, None, :].astype(np.float32)
    floor = int(height * rng.uniform(0.7, 0.85))
    depth = np.linspace(0.6, 1.0, height - floor, dtype=np.float32)[None, :, None]
    pano[:, floor:, :] = _colour(rng, 0.08, 0.3, 0.4)[:, None, None] * depth

    # Objects, painted in random order so that they occlude one another.
    n_objects = max(12, round(15 * width / height))
    for _ in range(n_objects):
        ph = int(np.clip(rng.uniform(0.05, 0.6) * height, 2, height))
        pw = int(np.clip(rng.uniform(0.04, 0.5) * height, 2, width // 2))
        y0 = int(rng.integers(0, height - ph + 1))
        span = (int(rng.integers(0, width)) + np.arange(pw)) % width
        region = pano[:, y0 : y0 + ph]
        kind = rng.choice(3, p=[0.4, 0.3, 0.3])
        if kind == 0:  # a framed panel
            border = max(1, ph // 12)
            fill = np.broadcast_to(_colour(rng, 0.03, 0.9, 0.7)[:, None, None], (3, ph, pw)).copy()
            fill[:, :border] = fill[:, -border:] = fill[:, :, :border] = fill[:, :, -border:] = (
                _colour(rng, 0.02, 0.5, 0.3)[:, None, None]
            )
        elif kind == 1:  # a card with a colour gradient
            a, b = _colour(rng, 0.03, 0.9, 0.8), _colour(rng, 0.03, 0.9, 0.8)
            if rng.random() < 0.5:
                t = np.linspace(0.0, 1.0, pw, dtype=np.float32)[None, None, :]
            else:
                t = np.linspace(0.0, 1.0, ph, dtype=np.float32)[None, :, None]
            fill = a[:, None, None] + (b - a)[:, None, None] * t
            fill = np.broadcast_to(fill, (3, ph, pw))
        else:  # a page or label of small text
            paper, ink = _colour(rng, 0.6, 0.92, 0.15), _colour(rng, 0.02, 0.12, 0.3)
            mask = _glyph_patch(rng, ph, pw)
            fill = np.where(mask[None], ink[:, None, None], paper[:, None, None])
        region[:, :, span] = fill

    # A fine texture everywhere (plaster, wood grain, print), so flat areas still register.
    grain = _wrap_blur(rng.standard_normal((height, width), dtype=np.float32), 1.2)
    grain *= np.float32(0.12 / max(float(grain.std()), 1e-6))
    grain += np.float32(1.0)
    for channel in pano:
        channel *= grain
        # The optics are not infinitely sharp: band-limit so sub-pixel shifts are meaningful.
        channel[...] = _wrap_blur(channel, 0.6)
    np.clip(pano, 0.01, 0.95, out=pano)
    return pano


class Scene:
    """What the simulated camera sees: a panorama rendered through an RGGB mosaic.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)`` of the sensor in photosites; both even.
    fov_deg : float, optional
        Horizontal field of view in degrees; the panorama spans 360°.
    seed : int, optional
        Seed of the room's layout.
    kind : {"room", "flat"}, optional
        ``"room"``: the textured panorama of :func:`room_panorama`.  ``"flat"``: a uniform
        white field (reflectance 1 everywhere), for flat-field statistics.

    Attributes
    ----------
    px_per_deg : float
        Photosites per degree of turntable rotation, ``W / fov_deg``.
    panorama : ndarray or None
        The ``(3, H/2 + 2·margin, round(360 · W / 2 / fov_deg))`` reflectance panorama at the
        colour-plane pitch (``None`` for ``"flat"``).  About 370 MB for a 20-megapixel sensor.
    """

    def __init__(
        self,
        *,
        shape: tuple[int, int],
        fov_deg: float = 60.0,
        seed: int = 0,
        kind: str = "room",
    ) -> None:
        h, w = (int(v) for v in shape)
        if h < 4 or w < 4 or h % 2 or w % 2:
            raise SettingError(
                f"expected an even sensor size of at least 4×4 photosites (a whole number of "
                f"RGGB tiles), found {shape!r}"
            )
        if not 0 < fov_deg < 360:
            raise SettingError(f"expected a field of view between 0 and 360°, found {fov_deg!r}")
        if kind not in SCENE_KINDS:
            raise SettingError(f"expected a scene kind in {SCENE_KINDS}, found {kind!r}")
        self.shape = (h, w)
        self.fov_deg = float(fov_deg)
        self.kind = kind
        self.px_per_deg = w / self.fov_deg
        self.panorama: np.ndarray | None = None
        if kind == "room":
            width = max(8, round(360.0 * self.px_per_deg / 2))
            self.panorama = room_panorama(height=h // 2 + 2 * _MARGIN, width=width, seed=seed)

    def blur_px(self, *, velocity_deg_s: float, exposure_s: float) -> float:
        """Length in photosites of the motion blur of an exposure at a turntable speed."""
        return abs(velocity_deg_s) * exposure_s * self.px_per_deg

    def render(
        self,
        *,
        angle_deg: float = 0.0,
        velocity_deg_s: float = 0.0,
        exposure_s: float = 0.0,
        offset: tuple[float, float] = (0.0, 0.0),
    ) -> np.ndarray:
        """The scene's reflectance at each photosite, in that photosite's colour.

        Parameters
        ----------
        angle_deg : float, optional
            Turntable angle at the middle of the exposure.
        velocity_deg_s : float, optional
            Turntable speed during the exposure; with ``exposure_s`` it sets the motion blur.
        exposure_s : float, optional
            Exposure time in seconds (only the blur depends on it).
        offset : tuple of float, optional
            ``(dy, dx)`` displacement of the content in photosites (see the module docstring).

        Returns
        -------
        ndarray of float32, shape (H, W)
            An RGGB mosaic of reflectances; multiply by the light and the channel responses
            (:func:`capture.sim.sensor.photoelectrons`) to get electrons.
        """
        h, w = self.shape
        if self.panorama is None:
            return np.ones((h, w), dtype=np.float32)
        dy, dx = (float(v) for v in offset)
        blur = 0.5 * self.blur_px(velocity_deg_s=velocity_deg_s, exposure_s=exposure_s)
        pan = angle_deg * self.px_per_deg
        out = np.empty((h, w), dtype=np.float32)
        for site, channel in enumerate(CFA_PATTERN):
            r, c = divmod(site, 2)
            out[r::2, c::2] = sample_shifted(
                self.panorama[channel],
                shape=(h // 2, w // 2),
                y=_MARGIN + 0.5 * (r - dy),
                x=0.5 * (c - dx + pan),
                blur=blur,
            )
        # Cubic interpolation overshoots a little at sharp dark edges; light is never negative.
        np.maximum(out, 0.0, out=out)
        return out
