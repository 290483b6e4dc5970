"""The compiled kernels against the numpy/scipy code they replace, value for value."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from curate import _kernels, intensity, pipeline, registration
from curate.bayer import bin_luminance
from curate.raw import open_raw, read_raw

REAL_DNG = Path(__file__).parents[1] / "data" / "raw" / "colorchart.dng"
rng = np.random.default_rng(20261122)


@pytest.mark.parametrize("shape", [(64, 96), (70, 98), (3, 5), (16, 16)])
@pytest.mark.parametrize("block", [1, 2, 4, 8])
def test_bin_stats_sums_blocks_and_counts_every_pixel(shape, block):
    mosaic = rng.integers(0, 65536, size=shape, dtype=np.uint16)
    mosaic[0, :3] = 65535
    sums, clipped, total, outside = _kernels.bin_stats(mosaic, block, 60000, 1000, 50000)
    rows, cols = shape[0] // block, shape[1] // block
    expected = mosaic[: rows * block, : cols * block].reshape(rows, block, cols, block)
    np.testing.assert_array_equal(sums, expected.sum(axis=(1, 3), dtype=np.int64))
    # the leftover rows and columns count in the statistics, not in the sums
    assert clipped == np.count_nonzero(mosaic >= 60000)
    assert total == mosaic.sum(dtype=np.int64)
    assert outside == np.count_nonzero((mosaic < 1000) | (mosaic > 50000))


def test_bin_stats_reads_a_strided_view_and_rejects_other_types():
    base = rng.integers(0, 4000, size=(40, 60), dtype=np.uint16)
    view = base[2:34, 4:52]
    sums, _, total, outside = _kernels.bin_stats(view, 4, 5000)
    assert outside == 0  # by default no value is out of range
    assert total == view.sum(dtype=np.int64)
    assert sums[0, 0] == view[:4, :4].sum()
    with pytest.raises(TypeError, match="uint16"):
        _kernels.bin_stats(base.astype(np.float32), 2, 10)
    with pytest.raises(ValueError, match="block"):
        _kernels.bin_stats(base, 0, 10)


def _smooth(shape):
    return ndimage.gaussian_filter(rng.normal(size=shape), 1.5)


@pytest.mark.parametrize("shape", [(48, 64), (2, 2), (5, 40), (40, 5), (31, 29)])
def test_spline_coefficients_equal_scipy_mirror_prefilter(shape):
    image = rng.normal(size=shape).astype(np.float32)
    expected = ndimage.spline_filter(image.astype(np.float64), order=3, mode="mirror")
    np.testing.assert_allclose(_kernels.spline_coefficients(image), expected, atol=1e-12)


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.3, -1.7), (-2.25, 3.5), (1.999, -0.001)])
def test_warp_equals_scipy_shift_inside_the_image(shift):
    image = _smooth((40, 56))
    coeffs = ndimage.spline_filter(image, order=3, mode="mirror")
    expected = ndimage.shift(coeffs, (-shift[0], -shift[1]), order=3, prefilter=False)
    got = _kernels.warp(coeffs, (6, 34, 7, 49), shift)
    np.testing.assert_allclose(got, expected[6:34, 7:49], atol=1e-12)
    with pytest.raises(ValueError, match="not inside"):
        _kernels.warp(coeffs, (0, 41, 0, 10), shift)


def test_gn_system_is_the_normal_equations_of_the_resampled_reference():
    image = _smooth((40, 56))
    coeffs = ndimage.spline_filter(image, order=3, mode="mirror")
    shift = (0.4, -1.3)
    target = rng.normal(size=(28, 40)).astype(np.float32)
    warped = ndimage.shift(coeffs, (-shift[0], -shift[1]), order=3, prefilter=False)
    grad_y, grad_x = np.gradient(warped)
    inner = (slice(6, 34), slice(8, 48))
    design = np.stack(
        [warped[inner].ravel(), np.ones(target.size), grad_y[inner].ravel(), grad_x[inner].ravel()]
    )
    normal, rhs = _kernels.gn_system(coeffs, target, (6, 8), shift)
    np.testing.assert_allclose(normal, design @ design.T, rtol=1e-12)
    np.testing.assert_allclose(rhs, design @ target.ravel().astype(np.float64), rtol=1e-10)
    with pytest.raises(ValueError, match="inside"):
        _kernels.gn_system(coeffs, target, (0, 8), shift)


def test_pearson_matches_numpy_and_is_nan_for_a_constant():
    a = rng.normal(size=(30, 20)).astype(np.float32)
    b = 0.3 * a + rng.normal(size=a.shape)
    assert _kernels.pearson(a, b) == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    assert np.isnan(_kernels.pearson(a, np.ones_like(b)))
    with pytest.raises(ValueError, match="one shape"):
        _kernels.pearson(a, b[:5])


def test_kernels_run_on_threads_side_by_side():
    image = _smooth((64, 80))
    coeffs = _kernels.spline_coefficients(image)
    target = np.ascontiguousarray(image[8:56, 8:72], dtype=np.float32)
    expected = _kernels.gn_system(coeffs, target, (8, 8), (0.2, 0.1))
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: _kernels.gn_system(coeffs, target, (8, 8), (0.2, 0.1)), range(16))
        )
    for normal, rhs in results:
        np.testing.assert_array_equal(normal, expected[0])
        np.testing.assert_array_equal(rhs, expected[1])


def test_open_raw_lends_a_read_only_view_equal_to_read_raw():
    owned = read_raw(REAL_DNG)
    with open_raw(REAL_DNG) as lent:
        assert not lent.mosaic.flags.writeable
        np.testing.assert_array_equal(lent.mosaic, owned.mosaic)
        meta = dataclasses.replace(lent, mosaic=owned.mosaic)
    assert meta == dataclasses.replace(owned, mosaic=owned.mosaic)
    assert owned.mosaic.flags.writeable and owned.mosaic.flags.owndata


def test_decoding_a_frame_gives_bin_luminance_and_frame_stats():
    """The fused single pass in the pipeline equals the reference functions on a real file."""
    frame = pipeline._Frame(file=REAL_DNG.name, path=REAL_DNG, pass_="dark")
    pipeline._load_raw(frame, pipeline.Options())
    raw = read_raw(REAL_DNG)
    down = int(frame.factor) // 2
    expected = bin_luminance(
        raw.mosaic, black=raw.black_level, white=raw.white_level, cfa=raw.cfa, downsample=down
    )
    np.testing.assert_allclose(frame.work, expected, rtol=1e-6, atol=1e-6)
    stats = intensity.frame_stats(raw.mosaic, black=raw.black_level, white=raw.white_level)
    assert frame.stats.mean_dn == pytest.approx(stats.mean_dn, rel=1e-12)
    assert frame.stats.clipped_fraction == stats.clipped_fraction
    assert frame.shape == raw.mosaic.shape
    assert frame.raw.mosaic.size == 0  # LibRaw's buffer is not kept


def _clamped_reference(coeffs, region, shift):
    """Direct evaluation of the cubic B-spline with coefficient indices clamped to the edge."""
    y0, y1, x0, x1 = region
    ny, nx = int(np.floor(shift[0])), int(np.floor(shift[1]))
    wy, wx = _kernels.spline_weights(shift[0] - ny), _kernels.spline_weights(shift[1] - nx)
    h, w = coeffs.shape
    out = np.zeros((y1 - y0, x1 - x0))
    for r in range(y0, y1):
        for c in range(x0, x1):
            for k in range(4):
                for m in range(4):
                    yy = min(max(r + ny + k - 1, 0), h - 1)
                    xx = min(max(c + nx + m - 1, 0), w - 1)
                    out[r - y0, c - x0] += wy[k] * wx[m] * coeffs[yy, xx]
    return out


@pytest.mark.parametrize("shift", [(0.0, 11.0), (0.0, -8.0), (3.5, 30.25), (-25.0, -0.5)])
def test_warp_far_off_the_image_reads_only_clamped_coefficients(shift):
    coeffs = rng.normal(size=(20, 10))
    region = (0, 4, 0, 5)
    np.testing.assert_allclose(
        _kernels.warp(coeffs, region, shift), _clamped_reference(coeffs, region, shift), atol=1e-12
    )


def test_bin_stats_largest_block_does_not_overflow():
    mosaic = np.full((32767, 2), 65535, np.uint16)
    sums, clipped, total, _ = _kernels.bin_stats(mosaic, 32767, 65535)
    assert sums.shape == (1, 0) and clipped == mosaic.size and total == 32767 * 2 * 65535
    sums, _, _, _ = _kernels.bin_stats(np.full((32767, 2), 65535, np.uint16), 2, 0)
    assert sums[0, 0] == 4 * 65535


def test_aligned_correlations_equal_one_at_a_time():
    ref = _smooth((48, 64)).astype(np.float32)
    frames = [
        (ndimage.shift(ref, (0.4, -1.1)) + rng.normal(0, s, ref.shape)).astype(np.float32)
        for s in (0.05, 0.2, 1.0)
    ]
    many = registration.aligned_correlations(frames, ref, 0.4, -1.1)
    single = [registration.aligned_correlation(f, ref, 0.4, -1.1) for f in frames]
    assert many == pytest.approx(single, abs=1e-12)
    assert many[0] > many[1] > many[2] > 0


def test_register_images_on_threads_matches_one_thread():
    ref = _smooth((64, 96)).astype(np.float32)
    moving = [
        (ndimage.shift(ref, (dy, dx)) + rng.normal(0, 0.1, ref.shape)).astype(np.float32)
        for dy, dx in [(0.3, -1.2), (-2.6, 0.7), (1.1, 1.9), (0.0, -0.4)]
    ]
    alone = [registration.register_images(m, ref) for m in moving]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda m: registration.register_images(m, ref), moving * 3))
    assert together == alone * 3
    for reg, (dy, dx) in zip(
        alone, [(0.3, -1.2), (-2.6, 0.7), (1.1, 1.9), (0.0, -0.4)], strict=True
    ):
        # scipy's shift moves content by +d: a point at p of ref is at p + d of moving
        assert reg.refined and abs(reg.dy + dy) < 0.05 and abs(reg.dx + dx) < 0.05


def test_the_cfa_is_the_visible_areas_own():
    import rawpy

    with rawpy.imread(str(REAL_DNG)) as raw:
        visible = raw.raw_colors_visible[:2, :2].ravel()
        expected = "".join("RGBG"[i] for i in visible)
    assert read_raw(REAL_DNG).cfa == expected


def test_refinement_from_a_coarse_peak_more_than_a_pixel_off():
    """A first Gauss-Newton step capped at one pixel must not seed the extrapolation of the
    steps (it did once, and jumped out of reach of the coarse peak)."""
    local = np.random.default_rng(2)
    big = ndimage.gaussian_filter(
        local.normal(size=(300, 300)), (local.uniform(4, 12), local.uniform(0.6, 1.2))
    )
    big = ndimage.rotate(big, local.uniform(10, 80), reshape=False, mode="reflect")[70:230, 50:250]
    big /= big.std()
    truth = local.uniform(-3, 3, 2)
    noise = local.choice([0.05, 0.5, 2.0])
    moving = ndimage.shift(big, -truth, order=3, mode="reflect") + local.normal(0, noise, big.shape)
    moving, fixed = moving.astype(np.float32), big.astype(np.float32)
    start = (0, 1)  # the coarse peak of this pair, 1.4 px from the truth in y
    refined = registration._refine(moving, fixed, start, 0.0, 20, 1e-3)
    assert refined is not None
    assert abs(refined[0] - truth[0]) < 0.15 and abs(refined[1] - truth[1]) < 0.15
    reg = registration.register_images(moving, fixed)
    assert reg.refined and abs(reg.dy - truth[0]) < 0.15 and abs(reg.dx - truth[1]) < 0.15


def test_the_smallest_images_accepted_are_refined():
    for seed in range(5):
        local = np.random.default_rng(seed)
        ref = ndimage.gaussian_filter(local.normal(size=(16, 16)), 1.5).astype(np.float32)
        moving = ndimage.shift(ref, (0.3, -0.4), mode="reflect").astype(np.float32)
        reg = registration.register_images(moving, ref)
        assert reg.refined
        assert abs(reg.dy + 0.3) < 0.01 and abs(reg.dx - 0.4) < 0.01


def test_nearest_on_path_keeps_the_order_of_both_passes():
    # Bright 0 matched dark 2 and bright 1 dark 3; the distances prefer dark 3 for bright 0
    # and dark 2 for bright 1: the result may not go back.
    distance = {(0, 1): 5.0, (0, 2): 0.3, (0, 3): 0.1, (1, 2): 0.1, (1, 3): 0.2, (1, 4): 5.0}
    choice = pipeline.nearest_on_path([2, 3], 6, 1, lambda i, c: distance[i, c])
    assert choice == [3, 3]
    # without a conflict each bright frame gets its nearest
    assert pipeline.nearest_on_path([1, 4], 6, 1, lambda i, c: abs(c - (2 if i else 0))) == [0, 3]
    # whatever the distances, every pick is among the candidates registered beforehand,
    # and the picks never go back along the path
    local = np.random.default_rng(5)
    for _ in range(300):
        n_dark = int(local.integers(3, 12))
        path = sorted(local.integers(0, n_dark, int(local.integers(1, 6))).tolist())
        table = local.random((len(path), n_dark))
        picks = pipeline.nearest_on_path(path, n_dark, 1, lambda i, c, t=table: t[i, c])
        cands = pipeline._candidates(path, n_dark, 1)
        assert all(p in c for p, c in zip(picks, cands, strict=True))
        assert picks == sorted(picks)
