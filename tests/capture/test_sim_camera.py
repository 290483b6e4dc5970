"""The simulated low-light camera: real DNG files, a physical noise model, a turntable's pan.

Statistical assertions state their tolerance where they make it: means and variances of flat
fields within five standard errors of the model, SNRs within half a decibel, sub-pixel shifts
within 0.1 photosite (the registration method alone is good to about 0.06 on these frames).
"""

from __future__ import annotations

import io
import math
import time
from fractions import Fraction

import cv2
import numpy as np
import pytest
import rawpy
import tifffile

from capture.errors import BadRequest, CameraError, SettingError
from capture.protocols import Camera, Exposure
from capture.sim.camera import (
    APERTURE_CHOICES,
    ISO_CHOICES,
    SHUTTER_CHOICES,
    SimCamera,
    encode_dng,
)
from capture.sim.scene import Scene, box_kernel, cubic_weights, sample_shifted
from capture.sim.sensor import (
    SENSOR,
    conversion_gain,
    expose,
    mean_dn,
    photoelectrons,
    snr_db,
    variance_dn,
)

SMALL = (64, 96)
MEDIUM = (128, 192)
DRV = Exposure(iso=2000, shutter="1/30", aperture="3.5")


def _camera(size=SMALL, **kw) -> SimCamera:
    kw.setdefault("fps", 1000.0)
    kw.setdefault("max_wait", 0.0)
    return SimCamera(size=size, **kw)


def _one(camera: SimCamera):
    (shot,) = camera.shoot(1)
    return shot


def _pixels(data: bytes) -> np.ndarray:
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        return tif.pages[0].asarray()


def _binned(raw: np.ndarray) -> np.ndarray:
    """Sum of each RGGB tile, black level removed: one luminance value per 2×2 photosites."""
    r = raw.astype(np.float64) - SENSOR.black_level
    return r[0::2, 0::2] + r[0::2, 1::2] + r[1::2, 0::2] + r[1::2, 1::2]


def _content_shift(ref: np.ndarray, mov: np.ndarray) -> tuple[float, float]:
    """(dy, dx) by which ``mov``'s content is displaced from ``ref``'s, in ``ref``'s pixels.

    Phase correlation for the coarse shift, then ECC (translation) from there: ECC alone is
    accurate but can miss a shift of several pixels; phase correlation alone is pulled toward
    zero by the frame's edges.
    """
    ref32, mov32 = ref.astype(np.float32), mov.astype(np.float32)
    window = cv2.createHanningWindow(ref32.shape[::-1], cv2.CV_32F)
    # phaseCorrelate applies the window to its inputs in place: hand it copies.
    (cx, cy), _ = cv2.phaseCorrelate(ref32.copy(), mov32.copy(), window)
    warp = np.array([[1, 0, round(cx)], [0, 1, round(cy)]], dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-6)
    _, warp = cv2.findTransformECC(ref32, mov32, warp, cv2.MOTION_TRANSLATION, criteria, None, 1)
    return float(warp[1, 2]), float(warp[0, 2])


# -- the protocol, the settings -----------------------------------------------------------------


def test_satisfies_the_camera_protocol_and_lists_a_real_cameras_choices():
    with _camera(serial="SIM-0042") as cam:
        assert isinstance(cam, Camera)
        assert (cam.info.make, cam.info.model) == ("Sony", "DSC-RX100M6")
        assert (cam.info.port, cam.info.driver, cam.info.serial) == ("sim", "sim", "SIM-0042")
        choices = cam.choices()
    assert set(choices) == {"iso", "shutter", "aperture", "format"}
    assert choices["format"] == ["RAW"]
    # Third stops: the k-th label is k thirds of a stop from the first, rounded as cameras
    # round them (30 s for 32 s, 1/30 for 1/32): within 7 %.
    timed = choices["shutter"][:-1]
    assert choices["shutter"][-1] == "bulb"
    assert {"1", "1/1.3", "1/30", "10", "3.2", "1/32000"} <= set(timed)
    seconds = [float(Fraction(1) / Fraction(v[2:])) if "/" in v else float(v) for v in timed]
    for values, start, per_third in (
        ([float(v) for v in choices["iso"]], 100.0, 2 ** (1 / 3)),
        (seconds, 32.0, 2 ** (-1 / 3)),
        ([float(v) for v in choices["aperture"]], 2 ** (9 / 6), 2 ** (1 / 6)),
    ):
        nominal = start * per_third ** np.arange(len(values))
        assert np.all(np.abs(np.array(values) / nominal - 1) < 0.07), values
    assert (choices["iso"][0], choices["iso"][-1]) == ("100", "12800")
    assert (choices["aperture"][0], choices["aperture"][-1]) == ("2.8", "11")
    assert "3.5" in choices["aperture"] and "2000" in choices["iso"]


def test_apply_reads_back_and_close_restores_the_settings_before():
    cam = _camera()
    before = cam.applied
    applied = cam.apply(DRV)
    assert (applied.iso, applied.shutter, applied.aperture) == (2000, "1/30", "3.5")
    assert applied.shutter_s == pytest.approx(1 / 30) and not applied.bulb
    assert applied.image_format == "RAW"
    # A request matches the listed value it equals, however it is written.
    assert cam.apply(Exposure(shutter="0.5")).shutter == "1/2"
    assert cam.apply(Exposure(shutter="1/1.3")).shutter_s == pytest.approx(10 / 13)
    assert cam.apply(Exposure(aperture="f/4")).aperture == "4"
    cam.close()
    assert cam.applied == before
    with pytest.raises(CameraError, match="closed"):
        cam.shoot(1)
    with pytest.raises(CameraError):
        cam.apply(DRV)
    cam.close()  # closing twice is harmless


@pytest.mark.parametrize(
    ("exposure", "listed"),
    [
        (Exposure(iso=1900), ISO_CHOICES),
        (Exposure(shutter="1/31"), SHUTTER_CHOICES[:-1]),
        (Exposure(shutter="12"), SHUTTER_CHOICES[:-1]),
        (Exposure(aperture="1.8"), APERTURE_CHOICES),
        (Exposure(iso=800, aperture="22"), APERTURE_CHOICES),
    ],
)
def test_an_unoffered_value_raises_listing_the_choices_and_changes_nothing(exposure, listed):
    cam = _camera()
    before = cam.apply(DRV)
    with pytest.raises(SettingError) as err:
        cam.apply(exposure)
    message = str(err.value)
    assert all(value in message for value in listed)
    assert "nothing was changed" in message
    assert cam.applied == before
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("shutter", ["bulb", "fast", "-1/30", "1/0"])
def test_a_shutter_that_is_not_a_time_is_refused(shutter):
    with pytest.raises(SettingError) as err:
        _camera().apply(Exposure(shutter=shutter))
    assert "30 s" in str(err.value)  # says how to get a long exposure (or what is offered)


def test_a_shutter_over_30_seconds_is_bulb_and_the_dng_records_the_time():
    cam = _camera(max_wait=0.01)
    applied = cam.apply(Exposure(iso=100, shutter="60", aperture="3.5"))
    assert applied.bulb and applied.shutter == "bulb" and applied.shutter_s == 60.0
    shot = _one(cam)
    assert shot.t_end - shot.t_start < 30  # the wall clock is spared the minute
    assert shot.extra["exposure_s"] == 60.0
    with rawpy.imread(io.BytesIO(shot.data)) as raw:
        assert raw.other.shutter_speed == pytest.approx(60.0)
    # 60 s at 1 lux collects 1800× the electrons of 1/30 s at the same aperture.
    assert shot.extra["mean_electrons"] == pytest.approx(
        1800 * cam.render_electrons(exposure_s=1 / 30).mean(), rel=1e-5
    )


@pytest.mark.parametrize("size", [(16, 64), (64, 20), (63, 96), (64, 95)])
def test_a_sensor_rawpy_could_not_open_is_refused(size):
    with pytest.raises(SettingError, match="at least 22"):
        SimCamera(size=size)


def test_a_scene_built_for_another_size_is_refused():
    with pytest.raises(SettingError, match="sensor size"):
        SimCamera(size=SMALL, scene=Scene(shape=MEDIUM))
    cam = SimCamera(size=(22, 22), scene="flat", max_wait=0.0)
    with rawpy.imread(io.BytesIO(_one(cam).data)) as raw:
        assert raw.raw_image.shape == (22, 22)


def test_shoot_refuses_a_negative_count():
    with pytest.raises(BadRequest):
        _camera().shoot(-1)
    assert list(_camera().shoot(0)) == []


# -- the DNG file -------------------------------------------------------------------------------


def test_the_dng_opens_in_rawpy_with_the_cameras_levels_pattern_and_settings():
    cam = _camera(serial="SIM-0007")
    cam.apply(DRV)
    shot = _one(cam)
    assert shot.name == "SIM_0001.DNG"
    assert len(shot.data) <= cam.estimate_frame_bytes()
    pixels = _pixels(shot.data)
    with rawpy.imread(io.BytesIO(shot.data)) as raw:
        assert raw.raw_image.shape == SMALL
        np.testing.assert_array_equal(raw.raw_image, pixels)
        assert raw.black_level_per_channel == [800, 800, 800, 800]
        assert raw.white_level == 16300
        assert raw.raw_pattern.tolist() == [[0, 1], [3, 2]]
        assert raw.color_desc == b"RGBG"
        wb = raw.camera_whitebalance
        other = raw.other
        rgb = raw.postprocess(use_camera_wb=True, no_auto_bright=True, output_bps=16)
    assert rgb.shape == (*SMALL, 3)
    # ISO, exposure, aperture and time come back through rawpy itself (from the EXIF IFD).
    assert other.iso_speed == 2000
    assert other.shutter_speed == pytest.approx(1 / 30)
    assert other.aperture == pytest.approx(3.5)
    assert abs(other.timestamp.timestamp() - shot.t_start) < 86400

    with tifffile.TiffFile(io.BytesIO(shot.data)) as tif:
        page = tif.pages[0]
        tags = {tag.name: tag.value for tag in page.tags}
    assert tags["NewSubfileType"] == 0
    assert tags["PhotometricInterpretation"] == 32803
    assert tags["BitsPerSample"] == 16
    assert tuple(tags["CFARepeatPatternDim"]) == (2, 2)
    assert tuple(tags["CFAPattern"]) == (0, 1, 1, 2)
    assert tuple(tags["DNGVersion"]) == (1, 4, 0, 0)
    assert tuple(tags["BlackLevelRepeatDim"]) == (1, 1)
    assert tags["BlackLevel"] == 800 and tags["WhiteLevel"] == 16300
    assert (tags["Make"], tags["Model"]) == ("Sony", "DSC-RX100M6")
    assert tags["UniqueCameraModel"] == "Sony DSC-RX100M6"
    assert tags["CameraSerialNumber"] == "SIM-0007"
    assert tags["CalibrationIlluminant1"] == 21
    assert len(tags["ColorMatrix1"]) == 18  # nine signed rationals
    neutral = np.array(tags["AsShotNeutral"], dtype=float).reshape(3, 2)
    neutral = neutral[:, 0] / neutral[:, 1]
    assert wb[0] / wb[1] == pytest.approx(1 / neutral[0], rel=1e-3)
    assert wb[2] / wb[1] == pytest.approx(1 / neutral[2], rel=1e-3)
    exif = tags["ExifTag"]
    assert tuple(exif["ExposureTime"]) == (1, 30)
    assert Fraction(*exif["FNumber"]) == Fraction(7, 2)
    assert exif["ISOSpeedRatings"] == 2000
    assert exif["DateTimeOriginal"] == time.strftime(
        "%Y:%m:%d %H:%M:%S", time.localtime(shot.t_start)
    )
    assert exif["BodySerialNumber"] == "SIM-0007"


def test_encode_dng_keeps_any_mosaic_bit_for_bit():
    rng = np.random.default_rng(3)
    mosaic = rng.integers(0, 16301, size=(24, 38), dtype=np.uint16)
    data = encode_dng(
        mosaic,
        make="Acme",
        model="Night 1",
        serial=None,
        iso=12800,
        exposure_s=Fraction(10, 13),
        f_number=2.8,
        taken=1.7e9,
        neutral=(0.5, 1.0, 0.62),
    )
    with rawpy.imread(io.BytesIO(data)) as raw:
        np.testing.assert_array_equal(raw.raw_image, mosaic)
        assert raw.other.iso_speed == 12800
        assert raw.other.shutter_speed == pytest.approx(10 / 13, rel=1e-6)
    with pytest.raises(SettingError):
        encode_dng(mosaic[:5], make="a", model="b", serial=None, iso=100, exposure_s=1,
                   f_number=2.8, taken=0.0, neutral=(1, 1, 1))  # fmt: skip


# -- the sensor model ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iso", "lux", "shutter"),
    [(2000, 1.0, "1/30"), (800, 5.0, "1/4"), (100, 20.0, "1")],
    ids=["drv-dark", "mid", "bright"],
)
def test_flat_field_mean_and_variance_per_channel_match_the_model(iso, lux, shutter):
    size = (256, 384)
    cam = _camera(size, scene="flat", lux=lux, seed=11)
    applied = cam.apply(Exposure(iso=iso, shutter=shutter, aperture="3.5"))
    raw = _pixels(_one(cam).data).astype(np.float64)
    gain = conversion_gain(iso)
    for site, channel in enumerate((0, 1, 1, 2)):
        plane = raw[site // 2 :: 2, site % 2 :: 2]
        electrons = SENSOR.electrons_per_lux_s * lux * applied.shutter_s
        electrons *= SENSOR.response[channel]
        mu, var = float(mean_dn(electrons, iso=iso)), float(variance_dn(electrons, iso=iso))
        rows, n = plane.shape[0], plane.size
        # Row noise is shared along a row, so it averages down only over the rows.
        row_var = (gain * SENSOR.row_noise_e) ** 2
        se_mean = math.sqrt((var - row_var) / n + row_var / rows)
        assert abs(plane.mean() - mu) < 5 * se_mean, (site, plane.mean(), mu)
        se_var = var * math.sqrt(2 / n)
        assert abs(plane.var() - var) < 5 * se_var, (site, plane.var(), var)


def test_a_dark_frame_sits_on_the_black_level_with_row_noise():
    cam = _camera((256, 384), scene="flat", lux=0.0, seed=5)
    cam.apply(DRV)
    raw = _pixels(_one(cam).data).astype(np.float64)
    gain = conversion_gain(2000)
    assert raw.mean() == pytest.approx(SENSOR.black_level, abs=0.5)
    # The variance of row means is the row noise plus what is left of the rest after
    # averaging 384 photosites; without row noise it would be 0.68 DN², with it 9.7 DN².
    per_pixel = float(variance_dn(0.0, iso=2000)) - (gain * SENSOR.row_noise_e) ** 2
    expected = (gain * SENSOR.row_noise_e) ** 2 + per_pixel / raw.shape[1]
    measured = raw.mean(axis=1).var()
    assert abs(measured - expected) < 4 * expected * math.sqrt(2 / raw.shape[0])


def test_the_sensor_clips_at_the_white_level_and_quantises_to_integers():
    electrons = np.array([[0.0, 1e6], [5e4, 10.0]], dtype=np.float32)
    raw = expose(electrons, iso=2000, rng=np.random.default_rng(0))
    assert raw.dtype == np.uint16
    assert raw[0, 1] == SENSOR.white_level and raw[1, 0] == SENSOR.white_level
    assert raw.max() <= SENSOR.white_level


def test_the_drv_regime_a_dark_frame_is_below_0_db_and_a_300x_reference_is_clean():
    cam = _camera(MEDIUM, seed=21, lux=1.0)
    dark = cam.apply(DRV)
    short = _one(cam)
    truth = cam.render_electrons()
    assert short.extra["mean_electrons"] == pytest.approx(float(truth.mean()), rel=1e-6)
    assert 0.2 < truth.mean() <= 1.0

    def measured_and_predicted_snr(shot, truth, iso):
        gain = conversion_gain(iso)
        estimate = (_pixels(shot.data).astype(np.float64) - SENSOR.black_level) / gain
        noise = estimate - truth
        measured = 20 * math.log10(truth.mean() / noise.std())
        noise_var_e = variance_dn(truth, iso=iso).mean() / gain**2
        predicted = 20 * math.log10(truth.mean() / math.sqrt(noise_var_e))
        return measured, predicted

    measured, predicted = measured_and_predicted_snr(short, truth, 2000)
    assert measured < 0 and predicted < 0
    assert measured == pytest.approx(predicted, abs=0.5)
    assert snr_db(truth.mean(), iso=2000) < 0

    ref = cam.apply(Exposure(shutter="10"))
    assert ref.shutter_s / dark.shutter_s == pytest.approx(300)
    long = _one(cam)
    ref_truth = cam.render_electrons()
    np.testing.assert_allclose(ref_truth, 300 * truth, rtol=1e-5)
    measured, predicted = measured_and_predicted_snr(long, ref_truth, 2000)
    assert measured > 20
    assert measured == pytest.approx(predicted, abs=0.5)


def test_photoelectrons_follow_lux_time_aperture_and_channel():
    reflectance = np.full((4, 4), 0.5, dtype=np.float32)
    e = photoelectrons(reflectance, lux=2.0, exposure_s=0.5, f_number=7.0)
    k = SENSOR.electrons_per_lux_s * 2.0 * 0.5 * 0.25 * 0.5
    r, g, b = SENSOR.response
    np.testing.assert_allclose(e[:2, :2], [[k * r, k * g], [k * g, k * b]], rtol=1e-6)
    with pytest.raises(SettingError):
        photoelectrons(reflectance, lux=1.0, exposure_s=1.0, f_number=0.0)


# -- determinism --------------------------------------------------------------------------------


def test_noise_is_fixed_by_seed_and_shutter_count_so_a_resume_never_repeats_it():
    def burst(seed, shutter_count, n):
        cam = _camera(seed=seed, shutter_count=shutter_count)
        cam.apply(DRV)
        return list(cam.shoot(n))

    first = burst(7, 5, 2)
    again = burst(7, 5, 1)
    resumed = burst(7, 6, 1)
    other = burst(8, 5, 1)
    assert [s.extra["shutter_count"] for s in first] == [5, 6]
    assert [s.name for s in first] == ["SIM_0006.DNG", "SIM_0007.DNG"]
    np.testing.assert_array_equal(_pixels(first[0].data), _pixels(again[0].data))
    np.testing.assert_array_equal(_pixels(first[1].data), _pixels(resumed[0].data))
    assert np.any(_pixels(first[0].data) != _pixels(first[1].data))
    assert np.any(_pixels(first[0].data) != _pixels(other[0].data))


def test_the_room_is_seeded_textured_and_coloured():
    a, b = Scene(shape=SMALL, seed=1), Scene(shape=SMALL, seed=1)
    np.testing.assert_array_equal(a.panorama, b.panorama)
    assert not np.array_equal(a.panorama, Scene(shape=SMALL, seed=2).panorama)
    pano = a.panorama
    assert pano.shape == (3, SMALL[0] // 2 + 32, 288)  # 360° at 96 photosites per 60°
    assert pano.min() >= 0.01 and pano.max() <= 0.95
    assert pano.std() > 0.1  # contrast
    assert np.abs(np.diff(pano, axis=2)).mean() > 0.02  # edges and texture
    chroma = pano.max(axis=0) - pano.min(axis=0)
    assert np.percentile(chroma, 75) > 0.05  # colour, not grey


# -- the turntable: pan, offset, blur -----------------------------------------------------------


def test_sample_shifted_is_exact_on_ramps_wraps_around_and_blur_keeps_the_mean():
    yy, xx = np.mgrid[0:40, 0:50].astype(np.float32)
    ramp = 3 * xx + 2 * yy
    for y, x, blur in [(5.3, 7.6, 0.0), (2.0, 11.25, 0.0), (6.9, 20.5, 7.3)]:
        out = sample_shifted(ramp, shape=(10, 12), y=y, x=x, blur=blur)
        want = 3 * (x + np.arange(12))[None, :] + 2 * (y + np.arange(10))[:, None]
        np.testing.assert_allclose(out, want, atol=1e-3)
    # Columns wrap: just left of column 0 lies the last column.
    stripes = np.tile(np.arange(8, dtype=np.float32), (6, 1))
    out = sample_shifted(stripes, shape=(2, 3), y=2.0, x=-1.0)
    np.testing.assert_array_equal(out, [[7, 0, 1], [7, 0, 1]])
    assert box_kernel(0.5).tolist() == [1.0]
    np.testing.assert_allclose(box_kernel(2.0), [0.25, 0.5, 0.25])
    np.testing.assert_allclose(box_kernel(7.3).sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(cubic_weights(0.0), [0, 1, 0, 0])


def test_two_degrees_of_turntable_shift_the_image_by_two_degrees_of_pixels():
    cam = _camera(MEDIUM, seed=3)
    cam.apply(Exposure(iso=100, shutter="10", aperture="3.5"))
    shots = []
    for angle in (40.0, 42.0):
        cam.motion = lambda t, angle=angle: (angle, 0.0)
        shots.append(_one(cam))
    assert [s.extra["angle_deg"] for s in shots] == [40.0, 42.0]
    dy, dx = _content_shift(*(_binned(_pixels(s.data)) for s in shots))
    expected_dx = -2.0 * MEDIUM[1] / 60.0  # photosites: the content moves left
    assert expected_dx == pytest.approx(
        shots[1].extra["shift_px"][1] - shots[0].extra["shift_px"][1]
    )
    assert 2 * dx == pytest.approx(expected_dx, abs=0.1)
    assert 2 * dy == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize("offset", [(0.35, -0.6), (-1.25, 0.2)])
def test_a_tripod_bump_displaces_the_content_by_the_offset(offset):
    cam = _camera(MEDIUM, seed=4)
    cam.apply(Exposure(iso=100, shutter="10", aperture="3.5"))
    still = _one(cam)
    cam.offset = offset
    bumped = _one(cam)
    assert bumped.extra["offset_px"] == list(offset)
    dy, dx = _content_shift(_binned(_pixels(still.data)), _binned(_pixels(bumped.data)))
    assert 2 * dy == pytest.approx(offset[0], abs=0.1)
    assert 2 * dx == pytest.approx(offset[1], abs=0.1)


def test_motion_blur_grows_with_turntable_speed_and_only_horizontally():
    cam = _camera(MEDIUM, seed=6, lux=3000.0)
    cam.apply(Exposure(iso=100, shutter="1/30", aperture="3.5"))
    energy = []
    for speed in (0.0, 30.0, 120.0):
        cam.motion = lambda t, speed=speed: (15.0, speed)
        shot = _one(cam)
        assert shot.extra["velocity_deg_s"] == speed
        assert shot.extra["blur_px"] == pytest.approx(speed / 30 * MEDIUM[1] / 60)
        green = _pixels(shot.data)[0::2, 1::2].astype(np.float64)
        energy.append(
            (np.abs(np.diff(green, axis=1)).mean(), np.abs(np.diff(green, axis=0)).mean())
        )
    (h0, v0), (h1, v1), (h2, v2) = energy
    assert h0 > h1 > h2
    assert h2 / h0 < 0.75  # a 12.8-photosite smear removes a good part of the detail
    assert h1 / h0 < v1 / v0 and h2 / h0 < v2 / v0


def test_each_frame_uses_the_angle_at_its_exposure_midpoint_and_bursts_are_paced():
    t0 = time.time()
    speed = 12.0
    cam = _camera(SMALL, seed=9, fps=50.0, max_wait=0.005)
    cam.apply(DRV)
    cam.motion = lambda t: (speed * (t - t0), speed)
    shots = list(cam.shoot(3))
    for shot in shots:
        assert shot.t_start < shot.t_end
        assert shot.extra["angle_deg"] == pytest.approx(speed * (shot.t_mid - t0), abs=1e-6)
        assert shot.extra["velocity_deg_s"] == speed
    starts = np.array([s.t_start for s in shots])
    assert np.all(np.diff(starts) >= 1 / 50 - 1e-3)  # never faster than the burst rate
