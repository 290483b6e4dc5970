"""Binning and sub-pixel registration against synthetic truth.

Tolerances (Euclidean error in full-resolution sensor pixels, textured 256×384 RGGB mosaics,
1.6 e⁻ read noise, 10 DN/e⁻, single dark frame against a 200 e⁻/px reference):

=========  ========  =====
e⁻/px      median    p95
=========  ========  =====
10         0.05      0.10
1          0.10      0.25
0.4        0.20      0.40
=========  ========  =====
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy import ndimage

from curate.bayer import CFA_PATTERNS, bin_luminance, block_mean, pack_rggb
from curate.errors import BadInput, CurateError
from curate.registration import (
    Registration,
    aligned_correlation,
    drift,
    estimate_shift,
    mean_frame,
    register_images,
    register_many,
    register_pair,
)

LEVELS = {"black": 800, "white": 16300}
SHAPE = (256, 384)


def _errors(synth, electrons: float, seeds: range, *, frames: int = 1) -> np.ndarray:
    """Registration error per seed (sensor pixels), registering the mean of ``frames``.

    A pair whose sub-pixel refinement failed counts as a 10-pixel error.
    """
    errors = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        truth = rng.uniform(-6.0, 6.0, 2)
        darks, bright = synth.pair(rng, SHAPE, tuple(truth), electrons, frames=frames)
        result = register_pair(mean_frame(darks), bright, **LEVELS)
        error = np.hypot(result.dy - truth[0], result.dx - truth[1])
        errors.append(error if result.refined else 10.0)
    return np.array(errors)


# -- binning -----------------------------------------------------------------------------


def test_bin_luminance_sums_quads_above_black():
    mosaic = np.array(
        [
            [800, 900, 1000, 1100],
            [1200, 1300, 16300, 16300],
            [800, 800, 800, 800],
            [800, 800, 800, 800],
        ],
        dtype=np.uint16,
    )
    lum = bin_luminance(mosaic, **LEVELS)
    expected = np.array([[100 + 400 + 500, 200 + 300 + 2 * 15500], [0, 0]]) / 15500.0
    assert lum.dtype == np.float32
    np.testing.assert_allclose(lum, expected, rtol=1e-6)


def test_bin_luminance_keeps_negative_noise_and_per_position_black():
    mosaic = np.full((4, 6), 790, dtype=np.uint16)
    lum = bin_luminance(mosaic, black=[800, 790, 790, 780], white=16300)
    # (-10) + 0 + 0 + 10 above the four black levels: unbiased, not clipped at zero.
    np.testing.assert_allclose(lum, 0.0, atol=1e-7)
    below = bin_luminance(mosaic, **LEVELS)
    np.testing.assert_allclose(below, -40 / 15500, rtol=1e-6)


@pytest.mark.parametrize(("factor", "downsample"), [(4, 1), (2, 2), (2, 3)])
def test_bin_luminance_further_blocks_average_quad_sums(factor, downsample):
    rng = np.random.default_rng(0)
    mosaic = rng.integers(800, 4000, size=(24, 36), dtype=np.uint16)
    base = bin_luminance(mosaic, **LEVELS)
    lum = bin_luminance(mosaic, **LEVELS, factor=factor, downsample=downsample)
    block = (factor // 2) * downsample
    assert lum.shape == (12 // block, 18 // block)
    np.testing.assert_allclose(lum, block_mean(base, block), rtol=1e-5)


@pytest.mark.parametrize("cfa", CFA_PATTERNS)
def test_pack_rggb_orders_planes_for_every_layout(cfa):
    rows, cols = 6, 8
    values = {"R": 1000.0, "B": 3000.0}
    mosaic = np.empty((rows, cols), dtype=np.uint16)
    quad = ((0, 0), (0, 1), (1, 0), (1, 1))
    red_row = quad[cfa.index("R")][0]
    for letter, (dy, dx) in zip(cfa, quad, strict=True):
        # Greens differ by row so the two green planes can be told apart.
        level = values.get(letter, 2000.0 if dy == red_row else 2500.0)
        mosaic[dy::2, dx::2] = level
    packed = pack_rggb(mosaic, black=0, white=10000, cfa=cfa)
    assert packed.shape == (4, rows // 2, cols // 2)
    np.testing.assert_allclose(packed[:, 0, 0], [0.1, 0.2, 0.3, 0.25])
    # The quad sum is the same whatever the layout.
    lum = bin_luminance(mosaic, black=0, white=10000, cfa=cfa)
    np.testing.assert_allclose(lum, packed.sum(axis=0), rtol=1e-6)


def test_pack_rggb_clip_matches_sid():
    mosaic = np.array([[700, 16300], [20000, 8550]], dtype=np.uint16)
    packed = pack_rggb(mosaic, **LEVELS, clip=True)
    np.testing.assert_allclose(packed[:, 0, 0], [0.0, 1.0, 0.5, 1.0])
    assert pack_rggb(mosaic, **LEVELS)[0, 0, 0] < 0


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: bin_luminance(np.zeros((5, 8), np.uint16), **LEVELS), "even number"),
        (lambda: bin_luminance(np.zeros((4, 8), np.uint16), **LEVELS, cfa="RGBG"), "RGBG"),
        (lambda: pack_rggb(np.zeros((4, 8), np.uint16), **LEVELS, cfa="xyz"), "CFA pattern"),
        (lambda: bin_luminance(np.zeros((4, 8, 3), np.uint16), **LEVELS), "2-D Bayer"),
        (lambda: bin_luminance(np.zeros((4, 8), np.uint16), black=900, white=800), "white"),
        (lambda: bin_luminance(np.zeros((4, 8), np.uint16), black=[1, 2], white=9), "four"),
        (lambda: bin_luminance(np.zeros((4, 8), np.uint16), **LEVELS, factor=3), "even"),
        (lambda: bin_luminance(np.zeros((4, 8), bool), **LEVELS), "dtype"),
    ],
)
def test_bad_mosaics_raise_bad_input_with_a_hint(call, fragment):
    with pytest.raises(BadInput, match=fragment) as info:
        call()
    assert isinstance(info.value, ValueError) and isinstance(info.value, CurateError)


def test_odd_mosaic_message_says_how_to_crop():
    with pytest.raises(BadInput, match=r"found 5×9; crop it to 4×8"):
        bin_luminance(np.zeros((5, 9), np.uint16), **LEVELS)


# -- registration: convention and exactness ----------------------------------------------


def test_shift_convention_matches_scipy_shift(synth):
    rng = np.random.default_rng(3)
    moving = synth.scene(rng, (160, 200)).sum(axis=2)
    truth = (3.3, -5.6)
    fixed = ndimage.shift(moving, truth, order=3, mode="reflect")
    dy, dx = estimate_shift(moving[16:-16, 16:-16], fixed[16:-16, 16:-16])
    assert abs(dy - truth[0]) < 0.02 and abs(dx - truth[1]) < 0.02
    # Moving the moving image by the estimate lines it up with the fixed one.
    aligned = ndimage.shift(moving, (dy, dx), order=3, mode="reflect")[16:-16, 16:-16]
    assert np.corrcoef(aligned.ravel(), fixed[16:-16, 16:-16].ravel())[0, 1] > 0.999


def test_estimate_shift_ignores_gain_and_offset(synth):
    rng = np.random.default_rng(4)
    moving = synth.scene(rng, (128, 160)).sum(axis=2)
    fixed = 250.0 * ndimage.shift(moving, (-1.25, 2.5), order=3, mode="reflect") + 40.0
    dy, dx = estimate_shift(moving[8:-8, 8:-8], fixed[8:-8, 8:-8])
    assert abs(dy + 1.25) < 0.02 and abs(dx - 2.5) < 0.02


def test_max_shift_limits_the_search(synth):
    rng = np.random.default_rng(5)
    moving = synth.scene(rng, (128, 160)).sum(axis=2)
    fixed = ndimage.shift(moving, (0.0, 9.0), order=3, mode="reflect")
    dy, dx = estimate_shift(moving, fixed)
    assert abs(dy) < 0.05 and abs(dx - 9.0) < 0.05
    # Capped at 4, the search cannot reach the true 9 pixels (refinement may add at most 2).
    _, capped = estimate_shift(moving, fixed, max_shift=4)
    assert abs(capped) <= 6.0


# -- registration: accuracy in the dark --------------------------------------------------


@pytest.mark.parametrize(
    ("electrons", "median_tol", "p95_tol"),
    [(10.0, 0.05, 0.10), (1.0, 0.10, 0.25), (0.4, 0.20, 0.40)],
)
def test_register_pair_accuracy_below_one_electron(synth, electrons, median_tol, p95_tol):
    errors = _errors(synth, electrons, range(10))
    assert np.median(errors) <= median_tol, errors.round(3)
    assert np.percentile(errors, 95) <= p95_tol, errors.round(3)


def test_registering_the_mean_of_a_burst_beats_single_frames(synth):
    # At 0.2 e⁻/px a single frame is at the edge of usable; 16 averaged frames carry 4× less
    # noise relative to the signal, down to the few-hundredths floor set by aliasing in the
    # binning.
    single = _errors(synth, 0.2, range(20, 26))
    burst = _errors(synth, 0.2, range(20, 26), frames=16)
    assert np.median(burst) <= 0.5 * np.median(single), (burst.round(3), single.round(3))
    assert np.median(burst) <= 0.1


def test_register_pair_reports_full_resolution_units_and_correlation(synth):
    rng = np.random.default_rng(7)
    darks, bright = synth.pair(rng, SHAPE, (4.0, -6.0), 1.0)
    full = register_pair(darks[0], bright, **LEVELS)
    coarse = register_pair(darks[0], bright, **LEVELS, downsample=2)
    assert isinstance(full, Registration) and full.refined
    for result, tol in ((full, 0.25), (coarse, 0.5)):
        assert abs(result.dy - 4.0) < tol and abs(result.dx + 6.0) < tol
    dark_lum = bin_luminance(darks[0], **LEVELS)
    bright_lum = bin_luminance(bright, **LEVELS)
    assert full.correlation == pytest.approx(
        aligned_correlation(dark_lum, bright_lum, full.dy / 2, full.dx / 2)
    )
    # Aligning raises the correlation well above the unaligned frames'.
    assert full.correlation > aligned_correlation(dark_lum, bright_lum, 0.0, 0.0) + 0.2


def test_register_many_reuses_a_binned_reference(synth):
    rng = np.random.default_rng(8)
    darks, bright = synth.pair(rng, (128, 192), (1.5, 2.5), 1.0, frames=3)
    calls = []
    from_mosaic = register_many(darks, reference=bright, **LEVELS)
    from_binned = register_many(
        iter(darks),
        reference_binned=bin_luminance(bright, **LEVELS),
        **LEVELS,
        progress=lambda step, done, total: calls.append((step, done, total)),
    )
    assert from_mosaic == from_binned
    assert from_mosaic[1] == register_pair(darks[1], bright, **LEVELS)
    # an iterator has no length: total 0 (sublux_common.progress.OnProgress)
    assert calls == [("register", 1, 0), ("register", 2, 0), ("register", 3, 0)]
    register_many(
        darks, reference=bright, **LEVELS, progress=lambda s, d, t: calls.append((s, d, t))
    )
    assert calls[-1] == ("register", 3, 3)


def test_drift_finds_a_moved_third_and_passes_a_still_burst(synth):
    rng = np.random.default_rng(9)
    rgb = synth.scene(rng, (160, 224))
    crop = (slice(16, 144), slice(16, 208))
    moved = synth.shift_scene(rgb, (-1.6, 1.0))
    still = [bin_luminance(synth.expose(rgb[crop], rng, 1.0), **LEVELS) for _ in range(30)]
    report = drift(still)
    assert report.refined and report.max_drift < 0.1
    stepped = still[:20] + [
        bin_luminance(synth.expose(moved[crop], rng, 1.0), **LEVELS) for _ in range(10)
    ]
    report = drift(np.stack(stepped))
    # The last third moved by (-1.6, 1.0) sensor pixels, (-0.8, 0.5) binned pixels.
    np.testing.assert_allclose(report.shifts[1], (-0.8, 0.5), atol=0.1)
    np.testing.assert_allclose(report.shifts[0], (0.0, 0.0), atol=0.1)
    assert report.max_drift == pytest.approx(np.hypot(0.8, 0.5), abs=0.1)


def test_featureless_frames_fall_back_and_say_so(caplog):
    rng = np.random.default_rng(10)
    flat = np.full((64, 64), 0.2, dtype=np.float32)
    noise = rng.normal(0.2, 0.05, (64, 64)).astype(np.float32)
    with caplog.at_level(logging.WARNING, logger="curate.registration"):
        estimate_shift(noise, flat)
    # a flat reference has no gradient to follow: the refinement gives up and says so (the
    # shift returned is then the rounding noise's correlation peak, meaningless by design)
    assert "refinement failed" in caplog.text
    assert not register_images(noise, flat).refined


def test_mean_frame_streams_and_averages():
    frames = (np.full((4, 6), v, dtype=np.uint16) for v in (800, 810, 830))
    mean = mean_frame(frames)
    assert mean.dtype == np.float32
    np.testing.assert_allclose(mean, 813.3333, rtol=1e-6)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: register_pair(np.zeros((8, 8)), np.zeros((8, 10)), **LEVELS), "same shape"),
        (lambda: estimate_shift(np.zeros((32, 32)), np.zeros((32, 30))), "same shape"),
        (lambda: estimate_shift(np.zeros((8, 8)), np.zeros((8, 8))), "16×16"),
        (lambda: estimate_shift(np.full((32, 32), np.nan), np.zeros((32, 32))), "finite"),
        (lambda: register_many([], **LEVELS), "neither"),
        (
            lambda: register_many(
                [], reference=np.zeros((4, 4)), reference_binned=np.zeros((2, 2)), **LEVELS
            ),
            "both",
        ),
        (
            lambda: register_many(
                [np.zeros((64, 64), np.uint16)], reference_binned=np.zeros((16, 16)), **LEVELS
            ),
            "same factor",
        ),
        (lambda: mean_frame([np.zeros((4, 4)), np.zeros((4, 6))]), "one shape"),
        (lambda: mean_frame([]), "at least one"),
        (lambda: drift([np.zeros((32, 32))] * 2), "at least 3"),
    ],
)
def test_registration_bad_input(call, fragment):
    with pytest.raises(BadInput, match=fragment):
        call()
