"""Correlation features and dark/bright matching on synthetic turntable sweeps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from curate.bayer import bin_luminance
from curate.errors import BadInput
from curate.matching import (
    Matches,
    correlation_matrix,
    features,
    match_independent,
    match_monotonic,
)

LEVELS = {"black": 800, "white": 16300}


def _features(mosaics):
    return [features(bin_luminance(m, **LEVELS)) for m in mosaics]


# -- features and the score matrix -------------------------------------------------------


def test_correlation_matrix_is_pearson_r_with_bright_rows():
    rng = np.random.default_rng(0)
    dark = rng.normal(size=(5, 40))
    bright = rng.normal(size=(3, 40)) + 0.5 * dark[[4, 0, 2]]
    corr = correlation_matrix(dark, bright)
    assert corr.shape == (3, 5)
    expected = np.corrcoef(bright, dark)[:3, 3:]
    np.testing.assert_allclose(corr, expected, atol=1e-12)
    np.testing.assert_array_equal(corr.argmax(axis=1), [4, 0, 2])


def test_constant_features_correlate_zero():
    corr = correlation_matrix([np.ones(10), np.arange(10.0)], [np.arange(10.0)])
    np.testing.assert_allclose(corr, [[0.0, 1.0]])


@pytest.mark.parametrize("normalise", ["none", "rank", "equalise"])
def test_features_are_zero_mean_unit_norm(normalise):
    lum = np.random.default_rng(1).gamma(2.0, size=(40, 64))
    vec = features(lum, downsample=4, normalise=normalise)
    assert vec.shape == (10 * 16,) and vec.dtype == np.float32
    assert abs(vec.mean()) < 1e-6 and np.linalg.norm(vec) == pytest.approx(1.0, rel=1e-5)
    # A flat image has no structure; tied values must not be ranked into a ramp by position
    # (ramps would correlate between any two frames with flat regions in the same place).
    assert not np.any(features(np.full((8, 8), 3.0), downsample=2, normalise=normalise))


def test_rank_features_ignore_exposure_and_tone_curve():
    lum = np.random.default_rng(2).gamma(2.0, size=(32, 48))
    a = features(lum, downsample=1, normalise="rank")
    np.testing.assert_allclose(a, features(5.0 * lum**0.45 + 0.1, downsample=1), atol=1e-6)
    assert float(a @ features(lum, downsample=1, normalise="none")) < 0.99
    linear = features(lum, downsample=2, normalise="none")
    assert float(linear @ features(3 * lum + 7, downsample=2, normalise="none")) > 0.9999


# -- the matchers on hand-made matrices --------------------------------------------------


def _brute_force(corr, strict):
    n_bright, n_dark = corr.shape
    pick = itertools.combinations if strict else itertools.combinations_with_replacement
    best = max(pick(range(n_dark), n_bright), key=lambda js: corr[range(n_bright), js].sum())
    return corr[range(n_bright), best].sum()


@pytest.mark.parametrize("seed", range(6))
def test_monotonic_matcher_finds_the_best_order_preserving_assignment(seed):
    rng = np.random.default_rng(seed)
    corr = rng.uniform(-1, 1, size=(4, 7))
    result = match_monotonic(corr)
    assert np.all(np.diff(result.dark) > 0)
    assert result.score.sum() == pytest.approx(_brute_force(corr, strict=True))
    # More bright frames than dark ones: bright frames share dark frames, order kept.
    wide = rng.uniform(-1, 1, size=(6, 4))
    shared = match_monotonic(wide)
    assert np.all(np.diff(shared.dark) >= 0)
    assert shared.score.sum() == pytest.approx(_brute_force(wide, strict=False))


def test_runner_up_skips_the_neighbourhood_and_flags_ambiguity():
    corr = np.array(
        [
            [0.90, 0.88, 0.70, 0.10, 0.20, 0.89],  # best elsewhere is nearly as good
            [0.10, 0.20, 0.50, 0.95, 0.90, 0.30],  # clear winner
        ]
    )
    result = match_independent(corr, exclude=1, min_margin=0.02)
    np.testing.assert_array_equal(result.dark, [0, 3])
    # Row 0: 0.88 is a neighbour of the match, so the runner-up is 0.89 far away;
    # row 1: 0.90 is a neighbour too, leaving 0.30.
    np.testing.assert_array_equal(result.runner_up, [5, 5])
    np.testing.assert_allclose(result.margin, [0.01, 0.65])
    np.testing.assert_array_equal(result.ambiguous, [True, False])
    assert len(result) == 2 and isinstance(result, Matches)
    lonely = match_independent(np.array([[0.3, 0.5]]), exclude=2)
    assert lonely.runner_up[0] == -1 and lonely.margin[0] == np.inf
    assert not lonely.ambiguous[0]


# -- sweeps ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [11, 12])
def test_monotonic_matcher_finds_the_nearest_dark_frame_on_a_sweep(synth, seed):
    # 24 bright stops and 70 dark frames along one path, dark frames at 0.4 e⁻/px.
    darks, brights, truth = synth.sweep(np.random.default_rng(seed), electrons=0.4)
    corr = correlation_matrix(_features(darks), _features(brights))
    assert corr.shape == (24, 70)
    result = match_monotonic(corr)
    np.testing.assert_array_equal(result.dark, truth)
    assert not result.ambiguous.any()
    assert np.all(result.margin > 0.1)


def test_independent_argmax_jumps_to_a_look_alike_where_the_path_order_does_not(synth):
    # The path passes the same poster twice; the second time it is half as brightly lit,
    # so its dark frames are noisier and the first pass correlates better with every bright
    # frame taken at the second.  The seed's per-frame argmax picks the first pass.
    rng = np.random.default_rng(13)
    panorama = synth.scene(rng, (128, 612))
    panorama[:, 330:570] = 0.5 * panorama[:, 0:240]
    darks, brights, truth = synth.sweep(rng, panorama=panorama, electrons=0.4)
    corr = correlation_matrix(_features(darks), _features(brights))
    repeated = np.arange(18, 21)  # bright frames whose whole view lies in the second copy
    independent = match_independent(corr)
    assert np.all(np.abs(independent.dark[repeated] - truth[repeated]) > 40)
    monotonic = match_monotonic(corr)
    assert np.all(np.abs(monotonic.dark - truth) <= 1)
    # The monotonic matcher overrides a better-scoring frame there, and says so.
    assert np.all(monotonic.margin[repeated] < 0) and monotonic.ambiguous[repeated].all()
    assert not monotonic.ambiguous[:15].any()


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: correlation_matrix(np.zeros((3, 10)), np.zeros((2, 12))), "same length"),
        (lambda: correlation_matrix([np.zeros(10), np.zeros(12)], [np.zeros(10)]), "lengths"),
        (lambda: correlation_matrix(np.zeros((0, 10)), np.zeros((2, 10))), "at least one"),
        (lambda: match_monotonic(np.zeros(5)), "correlation matrix"),
        (lambda: match_monotonic(np.full((2, 3), np.nan)), "finite"),
        (lambda: match_monotonic(np.zeros((4, 3)), strict=True), "strict=False"),
        (lambda: match_independent(np.zeros((2, 3)), exclude=-1), "exclude"),
        (lambda: features(np.zeros((4, 4, 3))), "2-D"),
        (lambda: features(np.zeros((8, 8)), normalise="log"), "normalise"),
        (lambda: features(np.zeros((8, 8)), downsample=16), "downsample"),
    ],
)
def test_matching_bad_input(call, fragment):
    with pytest.raises(BadInput, match=fragment):
        call()
