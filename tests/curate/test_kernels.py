"""The compiled kernels against the numpy/scipy code they replace, value for value."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from curate import _kernels, intensity, pipeline
from curate.bayer import bin_luminance
from curate.raw import open_raw, read_raw

REAL_DNG = Path(__file__).parents[1] / "data" / "raw" / "colorchart.dng"
rng = np.random.default_rng(20261122)


@pytest.mark.parametrize("shape", [(64, 96), (70, 98), (3, 5), (16, 16)])
@pytest.mark.parametrize("block", [1, 2, 4, 8])
def test_bin_stats_sums_blocks_and_counts_every_pixel(shape, block):
    mosaic = rng.integers(0, 65536, size=shape, dtype=np.uint16)
    mosaic[0, :3] = 65535
    sums, clipped, total = _kernels.bin_stats(mosaic, block, 60000)
    rows, cols = shape[0] // block, shape[1] // block
    expected = mosaic[: rows * block, : cols * block].reshape(rows, block, cols, block)
    np.testing.assert_array_equal(sums, expected.sum(axis=(1, 3), dtype=np.int64))
    # the leftover rows and columns count in the statistics, not in the sums
    assert clipped == np.count_nonzero(mosaic >= 60000)
    assert total == mosaic.sum(dtype=np.int64)


def test_bin_stats_reads_a_strided_view_and_rejects_other_types():
    base = rng.integers(0, 4000, size=(40, 60), dtype=np.uint16)
    view = base[2:34, 4:52]
    sums, _, total = _kernels.bin_stats(view, 4, 5000)
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
