"""Frame statistics and drop rules on synthetic bursts at DRV light levels."""

from __future__ import annotations

import numpy as np
import pytest

from curate.errors import BadInput
from curate.intensity import (
    BRIGHT_FLOOR_DN,
    SEED_FLOOR_8BIT,
    FrameStats,
    classify,
    frame_stats,
    video_frame_stats,
)

LEVELS = {"black": 800, "white": 16300}
SHAPE = (64, 96)


def _burst(synth, rng, electrons_per_frame, shape=SHAPE):
    rgb = synth.scene(rng, shape)
    return [frame_stats(synth.expose(rgb, rng, e), **LEVELS) for e in electrons_per_frame]


def test_frame_stats_measures_mean_above_black_and_clipping():
    mosaic = np.full((10, 10), 810, dtype=np.uint16)
    mosaic[0, :3] = 16300  # at white
    mosaic[1, 0] = 16200  # within the default 1 % margin (155 DN) of white
    mosaic[2, 0] = 16100  # outside it
    stats = frame_stats(mosaic, **LEVELS)
    expected_mean = (95 * 10 + 3 * 15500 + 15400 + 15300) / 100
    assert stats.mean_dn == pytest.approx(expected_mean)
    assert stats.clipped_fraction == pytest.approx(0.04)
    assert frame_stats(mosaic, **LEVELS, clip_margin=0).clipped_fraction == pytest.approx(0.03)


def test_frame_stats_keeps_negative_means_for_a_capped_lens(synth):
    rng = np.random.default_rng(0)
    capped = synth.expose(synth.scene(rng, SHAPE), rng, 0.0)
    stats = frame_stats(capped, **LEVELS)
    # Only read noise around black: the mean is unbiased, so it straddles zero.
    assert abs(stats.mean_dn) < 1.0
    assert stats.clipped_fraction == 0.0


def test_planted_lights_out_and_flash_are_dropped_and_a_dimmer_frame_is_kept(synth):
    rng = np.random.default_rng(1)
    electrons = np.full(30, 0.4)
    electrons[7] = 0.0  # lights out
    electrons[19] = 0.4 * 4  # flash
    electrons[12] = 0.4 * 0.6  # a cloud over the window: dimmer, still a good frame
    electrons[25] = 0.4 * 1.8  # brighter, still a good frame
    reasons = classify(_burst(synth, rng, electrons), kind="dark")
    expected = [None] * 30
    expected[7] = "too_dark"
    expected[19] = "too_bright"
    assert reasons == expected


def test_a_partly_covered_lens_is_too_dark(synth):
    rng = np.random.default_rng(2)
    electrons = np.full(12, 1.0)
    electrons[3] = 0.2  # a hand over most of the lens: 5× darker, above the absolute floor
    stats = _burst(synth, rng, electrons)
    assert stats[3].mean_dn > 1.0
    reasons = classify(stats, kind="dark")
    assert reasons[3] == "too_dark" and reasons.count(None) == 11


@pytest.mark.parametrize("electrons", [0.4, 1.0])
@pytest.mark.parametrize("seed", [3, 4])
def test_no_good_frame_dropped_in_a_noisy_static_burst(synth, electrons, seed):
    rng = np.random.default_rng(seed)
    stats = _burst(synth, rng, np.full(50, electrons))
    assert classify(stats, kind="dark") == [None] * 50


def test_no_good_frame_dropped_along_a_sweep(synth):
    # A turntable sweep: the view changes, and with it the mean, frame to frame.
    rng = np.random.default_rng(5)
    darks, brights, _ = synth.sweep(rng, n_dark=50, n_bright=16, electrons=0.4)
    dark_stats = [frame_stats(m, **LEVELS) for m in darks]
    means = np.array([s.mean_dn for s in dark_stats])
    assert means.max() / means.min() > 1.2  # the scene really does vary along the path
    assert classify(dark_stats, kind="dark") == [None] * 50
    assert classify([frame_stats(m, **LEVELS) for m in brights], kind="bright") == [None] * 16


def test_a_whole_burst_below_the_floor_is_too_dark(synth):
    rng = np.random.default_rng(6)
    stats = _burst(synth, rng, np.zeros(8))
    # The median cannot help when every frame is black; the absolute floor does.
    assert classify(stats, kind="dark") == ["too_dark"] * 8
    assert classify(stats, kind="dark", min_mean_dn=-100.0) == [None] * 8


def _lamp_scene(synth, rng, lamp_fraction):
    rgb = synth.scene(rng, SHAPE)
    rows = round(lamp_fraction * SHAPE[0] * SHAPE[1] / 16)
    rgb[:rows, :16] *= 50.0  # a lamp in the corner, far above white in a long exposure
    return rgb


def test_clipped_reference_is_saturated_but_a_clipped_dark_frame_is_not(synth):
    rng = np.random.default_rng(7)
    rgb = synth.scene(rng, SHAPE)
    refs = [synth.expose(rgb, rng, 200.0) for _ in range(5)]
    lamp = _lamp_scene(synth, rng, 0.03)
    refs[2] = synth.expose(lamp, rng, 200.0, reference_mean=rgb.mean())
    stats = [frame_stats(m, **LEVELS) for m in refs]
    assert stats[2].clipped_fraction > 0.01
    assert classify(stats, kind="bright") == [None, None, "saturated", None, None]
    # The same highlights in a dark frame are scene lights, not a reason to drop it.
    assert classify(stats, kind="dark") == [None] * 5
    # A single DRV-style reference is judged alone, by the absolute rules.
    assert classify([stats[2]], kind="bright") == ["saturated"]
    assert classify([stats[0]], kind="bright") == [None]


def test_reference_below_the_bright_floor_is_too_dark(synth):
    rng = np.random.default_rng(8)
    rgb = synth.scene(rng, SHAPE)
    under = frame_stats(synth.expose(rgb, rng, 5.0), **LEVELS)  # 50 DN: far too dark
    assert under.mean_dn < BRIGHT_FLOOR_DN
    assert classify([under], kind="bright") == ["too_dark"]
    assert classify([under], kind="dark") == [None]


def test_seed_rule_for_8bit_video_frames():
    grey = [np.full((6, 8, 3), v, dtype=np.uint8) for v in (15, 40, 42, 45, 19, 41)]
    stats = [video_frame_stats(frame) for frame in grey]
    assert stats[1].mean_dn == pytest.approx(40.0, abs=0.01)
    reasons = classify(stats, kind="dark", min_mean_dn=SEED_FLOOR_8BIT)
    assert reasons == ["too_dark", None, None, None, "too_dark", None]
    red = np.zeros((2, 2, 3), dtype=np.uint8)
    red[..., 0] = 255
    # BT.601 weights, as MATLAB's rgb2gray.
    assert video_frame_stats(red).mean_dn == pytest.approx(0.2989 * 255, rel=1e-4)
    assert video_frame_stats(np.full((4, 4), 255, np.uint8)).clipped_fraction == 1.0


def test_classify_of_nothing_is_nothing():
    assert classify([], kind="bright") == []


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: classify([FrameStats(1.0, 0.0)], kind="medium"), "kind"),
        (lambda: classify([FrameStats(float("nan"), 0.0)]), "unreadable"),
        (lambda: classify([FrameStats(1.0, 0.0)], drop_ratio=2.0), "drop_ratio"),
        (lambda: frame_stats(np.zeros((3, 4), np.uint16), **LEVELS), "even number"),
        (lambda: frame_stats(np.zeros((4, 4), np.uint16), **LEVELS, clip_margin=-1), "margin"),
        (lambda: video_frame_stats(np.zeros((4, 4), np.uint16)), "8-bit"),
    ],
)
def test_intensity_bad_input(call, fragment):
    with pytest.raises(BadInput, match=fragment):
        call()
