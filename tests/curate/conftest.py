"""Synthetic truth for the curation algorithms.

A clean colour scene (a smooth random field plus sharp-edged shapes, softened by a 0.7 px
optical blur) is exposed the way the RX100 VI at ISO 2000 would see it: an RGGB mosaic,
Poisson photon counts at a chosen mean electrons per pixel, 1.6 e⁻ Gaussian read noise,
10 DN/e⁻, black 800, clipped at white 16300, stored as uint16.  Dark frames are the scene
shifted by a known sub-pixel amount (cubic spline on the full-resolution colour image), so
every test knows the right answer.

The helpers are handed to tests through the ``synth`` fixture (tests/ has no packages, so
they cannot be imported by name).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

BLACK = 800
WHITE = 16300
GAIN = 10.0  # DN per electron at ISO 2000
READ_NOISE = 1.6  # electrons
BRIGHT_ELECTRONS = 200.0  # mean e⁻/px of a long reference (exposure ratio 200 at 1 e⁻/px)
_QUAD = ((0, 0), (0, 1), (1, 0), (1, 1))


def scene(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Clean linear RGB scene, (rows, cols, 3), mean about 0.4, values in (0, 1.3]."""
    rows, cols = shape
    base = np.zeros(shape)
    for scale, weight in ((12.0, 1.0), (3.0, 0.7), (1.5, 0.5)):
        field = ndimage.gaussian_filter(rng.standard_normal(shape), scale, mode="wrap")
        base += weight * field / field.std()
    # Sharp-edged discs and boxes, drawn in their own bounding boxes (fast), full contrast.
    for _ in range(rows * cols // 150):
        cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
        ry, rx = rng.uniform(1.5, 10.0, 2)
        y0, y1 = max(0, int(cy - ry)), min(rows, int(cy + ry) + 1)
        x0, x1 = max(0, int(cx - rx)), min(cols, int(cx + rx) + 1)
        if y1 <= y0 or x1 <= x0:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        if rng.random() < 0.5:
            mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        else:
            mask = np.ones((y1 - y0, x1 - x0), dtype=bool)
        base[y0:y1, x0:x1][mask] = rng.choice([-2.0, 2.0]) + rng.normal(0, 0.3)
    base = ndimage.gaussian_filter(base, 0.7)
    lo, hi = np.percentile(base, [1, 99])
    lum = np.clip((base - lo) / (hi - lo), 0, 1) * 0.95 + 0.03
    tint = ndimage.gaussian_filter(rng.standard_normal((rows, cols, 3)), (24, 24, 0))
    tint = 1 + 0.3 * tint / tint.std()
    return np.clip(lum[..., None] * tint * np.array([0.8, 1.0, 0.7]), 0.005, None)


def shift_scene(rgb: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    """``rgb`` moved by ``shift`` pixels (cubic spline, reflecting edges)."""
    return np.stack(
        [ndimage.shift(rgb[..., c], shift, order=3, mode="reflect") for c in range(3)], axis=-1
    )


def expose(
    rgb: np.ndarray,
    rng: np.random.Generator,
    electrons: float,
    *,
    reference_mean: float | None = None,
    cfa: str = "RGGB",
) -> np.ndarray:
    """Sample the CFA and expose: mean ``electrons`` e⁻/px over the frame, to uint16 DN.

    With ``reference_mean`` the scale is ``electrons / reference_mean`` instead, so frames
    cropped from one panorama keep their true relative brightness.
    """
    rows, cols, _ = rgb.shape
    channel = np.empty((rows, cols), dtype=np.intp)
    for letter, (dy, dx) in zip(cfa, _QUAD, strict=True):
        channel[dy::2, dx::2] = "RGB".index(letter)
    plane = np.clip(np.take_along_axis(rgb, channel[..., None], axis=2)[..., 0], 0, None)
    scale = electrons / (plane.mean() if reference_mean is None else reference_mean)
    charge = rng.poisson(plane * scale) + rng.normal(0.0, READ_NOISE, size=plane.shape)
    return np.clip(np.round(charge * GAIN + BLACK), 0, WHITE).astype(np.uint16)


def pair(
    rng: np.random.Generator,
    shape: tuple[int, int],
    shift: tuple[float, float],
    electrons: float,
    *,
    frames: int = 1,
    pad: int = 16,
) -> tuple[list[np.ndarray], np.ndarray]:
    """``frames`` dark mosaics of the scene and one bright reference.

    A scene point at (y, x) of the dark frames is at (y + dy, x + dx) of the bright one.
    """
    rows, cols = shape
    rgb = scene(rng, (rows + 2 * pad, cols + 2 * pad))
    dark_rgb = shift_scene(rgb, (-shift[0], -shift[1]))
    crop = (slice(pad, pad + rows), slice(pad, pad + cols))
    bright = expose(rgb[crop], rng, BRIGHT_ELECTRONS)
    darks = [expose(dark_rgb[crop], rng, electrons) for _ in range(frames)]
    return darks, bright


def sweep(
    rng: np.random.Generator,
    *,
    shape: tuple[int, int] = (128, 192),
    n_dark: int = 70,
    n_bright: int = 24,
    step: int = 6,
    electrons: float = 0.4,
    panorama: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """A turntable sweep: dark frames every ``step`` columns along a panorama, bright frames
    at every third dark position give or take a quarter step, and the truth: for each bright
    frame the index of the dark frame nearest to it on the path.
    """
    rows, cols = shape
    length = step * (n_dark - 1) + cols + step
    pano = scene(rng, (rows, length)) if panorama is None else panorama
    mean = pano.mean()
    dark_x = step // 2 + step * np.arange(n_dark)
    nearest = np.minimum(1 + 3 * np.arange(n_bright), n_dark - 1)
    jitter = rng.integers(-(step // 4), step // 4 + 1, n_bright)
    bright_x = dark_x[nearest] + jitter
    darks = [expose(pano[:, x : x + cols], rng, electrons, reference_mean=mean) for x in dark_x]
    brights = [
        expose(pano[:, x : x + cols], rng, BRIGHT_ELECTRONS, reference_mean=mean) for x in bright_x
    ]
    truth = np.array([int(np.argmin(np.abs(dark_x - x))) for x in bright_x])
    return darks, brights, truth


@pytest.fixture
def synth() -> SimpleNamespace:
    """The synthetic-truth helpers and the sensor constants they use."""
    return SimpleNamespace(
        BLACK=BLACK,
        WHITE=WHITE,
        GAIN=GAIN,
        READ_NOISE=READ_NOISE,
        scene=scene,
        shift_scene=shift_scene,
        expose=expose,
        pair=pair,
        sweep=sweep,
    )
