"""PSNR, SSIM and DRV's temporal metrics against hand-computed truths and scikit-image."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from baseline.metrics import DRV_TABLE1, DRV_TABLE2, psnr, ssim, tmae, tpsnr, tssim


def _skimage_ssim(a, b, data_range=1.0):
    return structural_similarity(
        a,
        b,
        channel_axis=-1,
        data_range=data_range,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )


def _image(rng, shape=(40, 52, 3)):
    """A smooth scene with edges, not just noise, so SSIM's structure term matters."""
    y, x = np.mgrid[: shape[0], : shape[1]] / 16.0
    base = 0.5 + 0.3 * np.sin(x)[..., None] * np.cos(y)[..., None] * np.array([1.0, 0.7, 0.4])
    base[shape[0] // 2 :, : shape[1] // 3] += 0.15
    return np.clip(base + rng.normal(0, 0.02, shape), 0, 1)


def test_identical_images_score_infinite_psnr_and_unit_ssim():
    img = _image(np.random.default_rng(0))
    assert psnr(img, img) == float("inf")
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("sigma", [0.01, 0.05])
def test_gaussian_noise_of_known_sigma_gives_the_expected_psnr(sigma):
    rng = np.random.default_rng(1)
    clean = np.full((128, 128, 3), 0.5)
    noisy = clean + rng.normal(0.0, sigma, clean.shape)  # unclipped: the MSE is sigma^2
    assert psnr(clean, noisy) == pytest.approx(20 * math.log10(1 / sigma), abs=0.1)


@pytest.mark.parametrize("d", [0.5, 0.125, 1 / 64])
@pytest.mark.parametrize("data_range", [1.0, 2.0])
def test_a_constant_offset_gives_psnr_exactly(d, data_range):
    rng = np.random.default_rng(2)
    # multiples of 1/1024 keep b + d exact, so the MSE is exactly d^2
    b = rng.integers(0, 512, (20, 24, 3)) / 1024
    assert psnr(b + d, b, data_range=data_range) == pytest.approx(
        20 * math.log10(data_range / d), rel=1e-12
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("noise", [0.01, 0.1, 0.3])
def test_ssim_matches_scikit_image(dtype, noise):
    rng = np.random.default_rng(3)
    a = _image(rng).astype(dtype)
    b = np.clip(a + rng.normal(0, noise, a.shape), 0, 1).astype(dtype)
    assert ssim(a, b) == pytest.approx(_skimage_ssim(a, b), abs=1e-4)


def test_ssim_matches_scikit_image_for_other_ranges_and_grey_images():
    rng = np.random.default_rng(4)
    a = _image(rng) * 255
    b = np.clip(a + rng.normal(0, 10, a.shape), 0, 255)
    assert ssim(a, b, data_range=255) == pytest.approx(_skimage_ssim(a, b, 255), abs=1e-4)
    g, h = a[..., 0], b[..., 0]
    want = structural_similarity(
        g, h, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(g, h, data_range=255) == pytest.approx(want, abs=1e-4)


def test_channels_first_images_score_the_same():
    rng = np.random.default_rng(5)
    a = _image(rng)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    chw = np.moveaxis(a, -1, 0), np.moveaxis(b, -1, 0)
    assert ssim(*chw, channel_axis=0) == pytest.approx(ssim(a, b), abs=1e-12)
    assert psnr(*chw, channel_axis=0) == pytest.approx(psnr(a, b), abs=1e-12)


def test_ssim_falls_as_noise_grows():
    rng = np.random.default_rng(6)
    a = _image(rng)
    scores = [ssim(a, np.clip(a + rng.normal(0, s, a.shape), 0, 1)) for s in (0.01, 0.05, 0.2)]
    assert scores[0] > scores[1] > scores[2]


def test_bad_inputs_get_clear_errors():
    a = np.zeros((16, 16, 3))
    with pytest.raises(ValueError, match=r"one shape.*\(16, 16, 3\) and \(16, 15, 3\)"):
        psnr(a, np.zeros((16, 15, 3)))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(np.zeros((3, 16, 16)), np.zeros((3, 16, 16)))  # (C, H, W) without channel_axis=0
    with pytest.raises(ValueError, match="one image at a time"):
        psnr(np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="at least two frames"):
        tpsnr([a])


def test_temporal_metrics_of_a_still_sequence():
    frame = _image(np.random.default_rng(7))
    frames = [frame] * 4
    assert tpsnr(frames) == float("inf")
    assert tssim(frames) == pytest.approx(1.0, abs=1e-12)
    assert tmae(frames) == 0.0


def test_temporal_metrics_average_over_consecutive_pairs():
    rng = np.random.default_rng(8)
    base = rng.integers(0, 256, (16, 20, 3)) / 1024
    steps = [0.125, 0.25, 0.0625]
    frames = [base]
    for s in steps:
        frames.append(frames[-1] + s)
    assert tmae(frames) == pytest.approx(np.mean(steps), rel=1e-12)
    assert tpsnr(frames) == pytest.approx(np.mean([-20 * math.log10(s) for s in steps]), rel=1e-12)
    # a flicker up and down by the same step has the same TMAE as a steady drift
    assert tmae([base, base + 0.125, base, base + 0.125]) == pytest.approx(0.125)


def test_tssim_is_the_mean_pairwise_ssim_and_accepts_a_stacked_array():
    rng = np.random.default_rng(9)
    clean = _image(rng)
    frames = np.stack([np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1) for _ in range(3)])
    want = np.mean([_skimage_ssim(frames[t], frames[t + 1]) for t in range(2)])
    assert tssim(frames) == pytest.approx(want, abs=1e-4)
    assert tssim(list(frames)) == tssim(frames)


def test_drv_reference_tables_rank_the_methods_as_published():
    psnrs = [DRV_TABLE1[k][0] for k in ("Input+Rawpy", "VBM4D+Rawpy", "KPN+Rawpy", "SID", "SMID")]
    assert psnrs == sorted(psnrs)
    assert all(0 < s < 1 for _, s in DRV_TABLE1.values())
    sid, smid = DRV_TABLE2["SID"], DRV_TABLE2["SMID"]
    assert smid[0] > sid[0] and smid[1] > sid[1] and smid[2] < sid[2]  # TMAE: lower is better


def test_metrics_and_the_package_do_not_import_torch():
    code = "import sys, baseline, baseline.metrics; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
