"""A physics-based model of a 14-bit RGGB sensor in the dark: photons in, raw numbers out.

The chain, per photosite, in the order the physics happens::

    mean photo-electrons  ──Poisson──▶  collected electrons (clipped at the full well)
        + read noise (Gaussian, e⁻) + row noise (one Gaussian draw per row, e⁻)
        × conversion gain (DN/e⁻ = ISO / iso_unity)
        + ADC noise (Gaussian, DN) + black level
        ──round, clip to the 14-bit range, clip at the white level──▶  uint16 raw

Photometry (:func:`photoelectrons`): the mean number of electrons a photosite collects is::

    e = K · lux · t · (3.5 / N)² · reflectance · response[channel]

with ``K = electrons_per_lux_s`` = 70 e⁻ per lux-second at f/3.5 for a white (reflectance 1)
surface in a channel of response 1.  That is the calibration constant.  The default "room"
scene's mean reflectance × response is about 0.34 (0.24–0.43 from view to view), so at 1 lux,
1/30 s, f/3.5 a frame collects about 0.8 e⁻ per photosite on average and at most 1 e⁻: the
DRV regime, where one frame's SNR is below 0 dB.  A 10 s reference at the same light collects
about 240 e⁻ per photosite (SNR above 20 dB).  A rough check from first principles for the
RX100 VI's 2.4 µm photosites: a white Lambertian surface at 1 lux gives about 0.018 lux on the
sensor at f/3.5, about 440 photons per second per photosite, and with ~30 % quantum efficiency
behind the colour filter about 130 e⁻/s — the same order as K.

Everything here is a plain function over numpy arrays; randomness comes only from the
``rng`` you pass, so a frame is reproducible from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture.errors import SettingError

__all__ = [
    "CFA_PATTERN",
    "SENSOR",
    "Sensor",
    "camera_neutral",
    "conversion_gain",
    "expose",
    "mean_dn",
    "photoelectrons",
    "snr_db",
    "variance_dn",
]

#: Colour of each site of the 2×2 CFA tile, row-major, as indices into (R, G, B): RGGB.
CFA_PATTERN: tuple[int, int, int, int] = (0, 1, 1, 2)


@dataclass(frozen=True)
class Sensor:
    """Constants of a simulated sensor, modelled on the Sony RX100 VI's 1-inch, 14-bit sensor.

    Attributes
    ----------
    black_level, white_level : int
        Raw value of no light, and the level at which a photosite reads as saturated
        (800 and 16300, as rawspeed lists for the RX100 VI).
    bits : int
        ADC resolution; raw values are clipped to ``[0, 2**bits - 1]`` before the white level.
    iso_unity : float
        The ISO at which one electron is one DN; the conversion gain is ``iso / iso_unity``.
    read_noise_e : float
        Gaussian read noise before the gain, in electrons (standard deviation).
    row_noise_e : float
        Standard deviation, in electrons, of an offset shared by every photosite of a row.
    adc_noise_dn : float
        Gaussian noise after the gain, in DN (standard deviation); it dominates at low ISO.
    full_well_e : float
        Electrons a photosite holds; at ISO 100 (gain 0.5) it lands on the white level.
    electrons_per_lux_s : float
        The photometric calibration constant ``K`` (see the module docstring).
    response : tuple of float
        Relative response of the R, G and B channels to the scene's light (green = 1).  A grey
        surface therefore gives the camera the neutral ``response``, which is what the DNG's
        AsShotNeutral records.
    """

    black_level: int = 800
    white_level: int = 16300
    bits: int = 14
    iso_unity: float = 200.0
    read_noise_e: float = 1.6
    row_noise_e: float = 0.3
    adc_noise_dn: float = 2.0
    full_well_e: float = 31000.0
    electrons_per_lux_s: float = 70.0
    response: tuple[float, float, float] = (0.5, 1.0, 0.62)


#: The default sensor.
SENSOR = Sensor()


def conversion_gain(iso: float, *, sensor: Sensor = SENSOR) -> float:
    """Digital numbers per electron at ``iso``: ``iso / sensor.iso_unity`` (ISO 2000 → 10)."""
    if iso <= 0:
        raise SettingError(f"expected a positive ISO, found {iso!r}")
    return float(iso) / sensor.iso_unity


def camera_neutral(*, sensor: Sensor = SENSOR) -> tuple[float, float, float]:
    """The camera's R, G, B reading of a grey surface, normalised to green (DNG AsShotNeutral)."""
    r, g, b = sensor.response
    return (r / g, 1.0, b / g)


def photoelectrons(
    reflectance: np.ndarray,
    *,
    lux: float,
    exposure_s: float,
    f_number: float,
    sensor: Sensor = SENSOR,
) -> np.ndarray:
    """Mean photo-electrons per photosite for a scene seen through the RGGB filter.

    Parameters
    ----------
    reflectance : ndarray, shape (H, W)
        The scene's reflectance at each photosite, in that photosite's colour (an RGGB mosaic,
        as :meth:`capture.sim.scene.Scene.render` returns it).
    lux : float
        Illuminance falling on the scene.
    exposure_s : float
        Exposure time in seconds.
    f_number : float
        Aperture; light scales as ``(3.5 / f_number)**2``.
    sensor : Sensor, optional
        The sensor constants.

    Returns
    -------
    ndarray of float32, shape (H, W)
        ``K · lux · exposure_s · (3.5 / f_number)² · reflectance · response``.
    """
    if lux < 0 or exposure_s < 0 or f_number <= 0:
        raise SettingError(
            f"expected lux >= 0, exposure_s >= 0 and f_number > 0, found lux={lux!r}, "
            f"exposure_s={exposure_s!r}, f_number={f_number!r}"
        )
    scale = sensor.electrons_per_lux_s * lux * exposure_s * (3.5 / f_number) ** 2
    out = np.array(reflectance, dtype=np.float32, copy=True)
    for site, channel in enumerate(CFA_PATTERN):
        out[site // 2 :: 2, site % 2 :: 2] *= np.float32(scale * sensor.response[channel])
    return out


def expose(
    electrons: np.ndarray,
    *,
    iso: float,
    rng: np.random.Generator,
    sensor: Sensor = SENSOR,
) -> np.ndarray:
    """Turn mean photo-electrons into one noisy raw frame.

    Parameters
    ----------
    electrons : ndarray, shape (H, W)
        Mean photo-electrons per photosite (:func:`photoelectrons`).
    iso : float
        Sets the conversion gain (:func:`conversion_gain`).
    rng : numpy.random.Generator
        The only source of randomness; the same generator state gives the same frame.
    sensor : Sensor, optional
        The sensor constants.

    Returns
    -------
    ndarray of uint16, shape (H, W)
        Raw values in ``[0, sensor.white_level]``, black level included.

    Notes
    -----
    Read noise (electrons, before the gain) and ADC noise (DN, after it) are independent
    Gaussians, so they are drawn as one Gaussian with the combined standard deviation
    ``sqrt((read_noise_e · gain)² + adc_noise_dn²)``: the same distribution for one draw
    fewer over a 20-megapixel frame.
    """
    electrons = np.asarray(electrons)
    if electrons.ndim != 2:
        raise SettingError(f"expected a 2-D mosaic of electrons, found shape {electrons.shape}")
    gain = conversion_gain(iso, sensor=sensor)
    collected = rng.poisson(np.maximum(electrons, 0.0))
    np.minimum(collected, int(sensor.full_well_e), out=collected)
    dn = collected.astype(np.float32)
    dn *= np.float32(gain)
    sigma = float(np.hypot(sensor.read_noise_e * gain, sensor.adc_noise_dn))
    noise = rng.standard_normal(electrons.shape, dtype=np.float32)
    noise *= np.float32(sigma)
    dn += noise
    rows = rng.standard_normal((electrons.shape[0], 1), dtype=np.float32)
    dn += rows * np.float32(sensor.row_noise_e * gain) + np.float32(sensor.black_level)
    np.rint(dn, out=dn)
    # The ADC saturates at its 14-bit ceiling; the camera then calls anything above the white
    # level saturated, so values between the two never appear.
    np.clip(dn, 0, 2**sensor.bits - 1, out=dn)
    np.minimum(dn, sensor.white_level, out=dn)
    return dn.astype(np.uint16)


def mean_dn(electrons: np.ndarray | float, *, iso: float, sensor: Sensor = SENSOR) -> np.ndarray:
    """Expected raw value for a mean of ``electrons``: ``black + gain · electrons``.

    Ignores clipping (at zero, the full well and the white level), so it holds for
    photosites well inside the range.
    """
    gain = conversion_gain(iso, sensor=sensor)
    return sensor.black_level + gain * np.asarray(electrons, dtype=np.float64)


def variance_dn(
    electrons: np.ndarray | float, *, iso: float, sensor: Sensor = SENSOR
) -> np.ndarray:
    """Expected variance of the raw value, over photosites of one frame, for ``electrons``.

    ``gain² · (electrons + read² + row²) + adc² + 1/12``: shot noise, read noise and row noise
    scale with the gain; ADC noise and the rounding to integers (1/12 DN²) do not.  Row noise
    counts fully because the variance is taken across rows.  Clipping is ignored.
    """
    gain = conversion_gain(iso, sensor=sensor)
    e = np.asarray(electrons, dtype=np.float64)
    return (
        gain**2 * (e + sensor.read_noise_e**2 + sensor.row_noise_e**2)
        + sensor.adc_noise_dn**2
        + 1.0 / 12.0
    )


def snr_db(electrons: np.ndarray | float, *, iso: float, sensor: Sensor = SENSOR) -> np.ndarray:
    """Single-frame signal-to-noise ratio in dB for a mean of ``electrons`` per photosite.

    ``20 · log10(signal / noise)`` with the signal ``gain · electrons`` and the noise the
    square root of :func:`variance_dn`: negative when the noise exceeds the signal.
    """
    gain = conversion_gain(iso, sensor=sensor)
    signal = gain * np.asarray(electrons, dtype=np.float64)
    return 20.0 * np.log10(signal / np.sqrt(variance_dn(electrons, iso=iso, sensor=sensor)))
