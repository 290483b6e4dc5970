"""A simulated low-light camera that writes real DNG files.

:class:`SimCamera` satisfies :class:`capture.protocols.Camera`.  Each shot renders the seeded
scene (:mod:`capture.sim.scene`) at the turntable's angle, turns it into photo-electrons and a
noisy 14-bit RGGB raw frame with the sensor model (:mod:`capture.sim.sensor`), and encodes it
as a DNG (:func:`encode_dng`) that LibRaw/rawpy opens like a camera's own raw file: black level
800, white level 16300, RGGB, the camera's white balance, ISO, exposure time, aperture, time of
capture and serial number.

Noise is reproducible: frame ``n`` of a camera (its shutter counter, which starts at
``shutter_count`` and counts every frame) draws its noise from
``numpy.random.default_rng([seed, n])``, so a capture resumed with the session's frame count
never repeats the noise of a frame it already has.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import numpy as np

from capture.dng import COLOR_MATRIX_D65, encode_dng
from capture.errors import BadRequest, CameraError, SettingError
from capture.protocols import Applied, CameraInfo, Exposure, Shot, parse_shutter
from capture.sim.objects import SceneObject
from capture.sim.scene import Scene
from capture.sim.sensor import (
    SENSOR,
    Sensor,
    camera_neutral,
    expose,
    photoelectrons,
)

__all__ = [
    "APERTURE_CHOICES",
    "COLOR_MATRIX_D65",
    "ISO_CHOICES",
    "MAX_TIMED_SHUTTER_S",
    "MIN_SIZE",
    "SHUTTER_CHOICES",
    "SimCamera",
    "encode_dng",
]

logger = logging.getLogger(__name__)

#: ISO in third stops, as a Sony RX100 lists them.
ISO_CHOICES: tuple[str, ...] = (
    "100", "125", "160", "200", "250", "320", "400", "500", "640", "800", "1000", "1250",
    "1600", "2000", "2500", "3200", "4000", "5000", "6400", "8000", "10000", "12800",
)  # fmt: skip

#: Shutter speeds in third stops from 30 s to 1/32000 s, then bulb.
SHUTTER_CHOICES: tuple[str, ...] = (
    "30", "25", "20", "15", "13", "10", "8", "6", "5", "4", "3.2", "2.5", "2", "1.6", "1.3",
    "1", "1/1.3", "1/1.6", "1/2", "1/2.5", "1/3", "1/4", "1/5", "1/6", "1/8", "1/10", "1/13",
    "1/15", "1/20", "1/25", "1/30", "1/40", "1/50", "1/60", "1/80", "1/100", "1/125", "1/160",
    "1/200", "1/250", "1/320", "1/400", "1/500", "1/640", "1/800", "1/1000", "1/1250",
    "1/1600", "1/2000", "1/2500", "1/3200", "1/4000", "1/5000", "1/6400", "1/8000", "1/10000",
    "1/12800", "1/16000", "1/20000", "1/25000", "1/32000", "bulb",
)  # fmt: skip

#: Apertures in third stops from the lens's widest at this zoom to f/11.
APERTURE_CHOICES: tuple[str, ...] = (
    "2.8", "3.2", "3.5", "4", "4.5", "5", "5.6", "6.3", "7.1", "8", "9", "10", "11",
)  # fmt: skip

FORMAT_CHOICES: tuple[str, ...] = ("RAW",)

#: The longest timed shutter; a longer request is taken in bulb mode.
MAX_TIMED_SHUTTER_S = 30

#: The smallest sensor side: LibRaw treats raw images under 22 photosites a side as not raw.
MIN_SIZE = 22


def _f_number(text: str | float) -> Fraction:
    s = str(text).strip().lower().removeprefix("f").removeprefix("/").strip()
    try:
        value = Fraction(s)
    except (ValueError, ZeroDivisionError):
        raise SettingError(
            f"expected an aperture such as '3.5' or 'f/3.5', found {text!r}; "
            f"the camera offers {', '.join(APERTURE_CHOICES)}"
        ) from None
    return value


class SimCamera:
    """A simulated RX100-class camera in a dark room, satisfying :class:`~capture.protocols.Camera`.

    Parameters
    ----------
    size : tuple of int, optional
        ``(H, W)`` of the sensor in photosites, both even and at least :data:`MIN_SIZE`
        (default: the RX100 VI's).
    seed : int, optional
        Seeds the room's layout and, with the shutter counter, every frame's noise.
    lux : float, optional
        Illuminance on the scene; an attribute you may change between bursts.
    make, model, serial : str, optional
        What :attr:`info` and the DNG files report.
    fps : float or callable, optional
        Burst rate: frames of one :meth:`shoot` start at least ``1 / fps`` seconds apart.  A
        callable ``shutter_count -> fps`` gives each frame's own rate (a camera whose buffer
        fills mid-burst, say); an attribute.
    shutter_count : int, optional
        The shutter counter at start; frame ``n`` draws its noise from
        ``default_rng([seed, n])``.  Resume a capture with the frames it already has.
    motion : callable, optional
        ``t -> (angle_deg, velocity_deg_s)`` at ``time.time()`` ``t``: the turntable's
        physics (the GRBL simulator's).  Each frame shows the scene at the angle at its
        exposure's midpoint, blurred by the velocity.  ``None``: a tripod at 0°.  An attribute.
    offset : tuple of float, optional
        ``(dy, dx)`` static displacement of the content in photosites (a bumped tripod); an
        attribute, reported in each shot's ``extra``.
    max_wait : float, optional
        Longest time an exposure takes on the ``clock``; photometry and blur use the real
        shutter time, so a 10 s reference costs 50 ms in a test.
    fov_deg : float, optional
        Horizontal field of view; the turntable pans ``W / fov_deg`` photosites per degree.
    scene : {"room", "flat"} or Scene, optional
        The scene kind (see :class:`~capture.sim.scene.Scene`) or a scene already built for
        this size.
    sensor : Sensor, optional
        The sensor constants.
    objects : sequence of MovingObject or Light, optional
        Changes to the scene in chosen frames (:mod:`capture.sim.objects`), by shutter
        counter; each shot's ``extra["sim_objects"]`` lists those that touched it, with the
        box each covered.  An attribute.
    clock : object, optional
        Where time comes from: ``time()`` and ``sleep(seconds)``; default the :mod:`time`
        module.  A :class:`~capture.sim.clock.SimClock` shared with the GRBL simulator (and
        its driver) makes frame times, and so the frame rate, independent of the machine.
    """

    def __init__(
        self,
        *,
        size: tuple[int, int] = (3672, 5496),
        seed: int = 0,
        lux: float = 1.0,
        make: str = "Sony",
        model: str = "DSC-RX100M6",
        serial: str = "SIM-0001",
        fps: float | Callable[[int], float] = 16.0,
        shutter_count: int = 0,
        motion: Callable[[float], tuple[float, float]] | None = None,
        offset: tuple[float, float] = (0.0, 0.0),
        max_wait: float = 0.05,
        fov_deg: float = 60.0,
        scene: str | Scene = "room",
        sensor: Sensor = SENSOR,
        objects: Any = (),
        clock: Any = time,
    ) -> None:
        if int(seed) < 0 or int(shutter_count) < 0:
            raise SettingError(
                f"expected a seed and a shutter count >= 0, found seed={seed!r}, "
                f"shutter_count={shutter_count!r}"
            )
        if not (callable(fps) or fps > 0) or not max_wait >= 0 or not lux >= 0:
            raise SettingError(
                f"expected fps > 0, max_wait >= 0 and lux >= 0, found fps={fps!r}, "
                f"max_wait={max_wait!r}, lux={lux!r}"
            )
        self.info = CameraInfo(make=make, model=model, port="sim", driver="sim", serial=serial)
        size = (int(size[0]), int(size[1]))
        if min(size) < MIN_SIZE or size[0] % 2 or size[1] % 2:
            raise SettingError(
                f"expected an even sensor size of at least {MIN_SIZE}×{MIN_SIZE} photosites "
                f"(LibRaw, and so rawpy, refuses smaller raw images), found {size[0]}×{size[1]}"
            )
        if isinstance(scene, Scene):
            if scene.shape != size:
                raise SettingError(
                    f"expected a scene built for the sensor size {size}, found {scene.shape}"
                )
            self.scene = scene
        else:
            self.scene = Scene(shape=size, fov_deg=fov_deg, seed=int(seed), kind=scene)
        self.size = size
        self.seed = int(seed)
        self.lux = float(lux)
        self.fps = fps if callable(fps) else float(fps)
        self.clock = clock
        self.motion = motion
        self.offset = (float(offset[0]), float(offset[1]))
        self.max_wait = float(max_wait)
        self.sensor = sensor
        self.objects: tuple[SceneObject, ...] = tuple(objects)
        self._shutter_count = int(shutter_count)
        self._settings: dict = {
            "iso": "100",
            "shutter": "1/60",
            "shutter_s": Fraction(1, 60),
            "aperture": "2.8",
            "bulb": False,
            "format": "RAW",
        }
        self._saved: dict | None = None
        self._closed = False

    # -- the Camera protocol ------------------------------------------------------------------

    def choices(self) -> dict[str, list[str]]:
        """Valid values per setting: ``iso``, ``shutter`` (bulb last), ``aperture``, ``format``."""
        return {
            "iso": list(ISO_CHOICES),
            "shutter": list(SHUTTER_CHOICES),
            "aperture": list(APERTURE_CHOICES),
            "format": list(FORMAT_CHOICES),
        }

    def apply(self, exposure: Exposure) -> Applied:
        """Check every requested value against :meth:`choices`, then set them and read back.

        A shutter longer than 30 s is taken in bulb mode (``Applied.bulb``, ``shutter ==
        "bulb"``, ``shutter_s`` the requested time).  Raises :class:`SettingError` listing the
        valid choices, with nothing changed, if any value is not offered.
        """
        self._check_open("apply settings")
        new = dict(self._settings)
        if exposure.iso is not None:
            label = str(exposure.iso).strip()
            if label not in ISO_CHOICES:
                raise SettingError(
                    f"expected an ISO the camera offers ({', '.join(ISO_CHOICES)}), found "
                    f"{exposure.iso!r}; nothing was changed; pick one of those"
                )
            new["iso"] = label
        if exposure.shutter is not None:
            new.update(self._resolve_shutter(exposure.shutter))
        if exposure.aperture is not None:
            wanted = _f_number(exposure.aperture)
            match = [c for c in APERTURE_CHOICES if Fraction(c) == wanted]
            if not match:
                raise SettingError(
                    f"expected an aperture the camera offers ({', '.join(APERTURE_CHOICES)}), "
                    f"found {exposure.aperture!r}; nothing was changed; pick one of those"
                )
            new["aperture"] = match[0]
        if self._saved is None:
            self._saved = dict(self._settings)
        self._settings = new
        applied = self.applied
        logger.debug("sim camera settings: %s", applied)
        return applied

    def shoot(self, count: int) -> Iterator[Shot]:
        """Take a burst of ``count`` frames with the current settings, yielding each DNG.

        Frames start at least ``1 / fps`` apart; each exposure sleeps ``min(exposure,
        max_wait)`` seconds on the ``clock``, bracketed by ``t_start`` and ``t_end``.
        ``Shot.extra`` holds the ground truth: angle, velocity, offset, blur, shutter counter
        and mean electrons.
        """
        self._check_open("shoot")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise BadRequest(f"expected a whole number of frames >= 0, found {count!r}")
        return self._burst(count, dict(self._settings))

    def close(self) -> None:
        """Restore the settings from before the first :meth:`apply`; later calls do nothing."""
        if self._closed:
            return
        if self._saved is not None:
            self._settings = self._saved
            self._saved = None
        self._closed = True

    def __enter__(self) -> SimCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- beyond the protocol ------------------------------------------------------------------

    @property
    def applied(self) -> Applied:
        """The current settings, as :meth:`apply` reads them back."""
        s = self._settings
        return Applied(
            iso=int(s["iso"]),
            shutter=s["shutter"],
            shutter_s=float(s["shutter_s"]),
            aperture=s["aperture"],
            bulb=s["bulb"],
            image_format=s["format"],
        )

    @property
    def shutter_count(self) -> int:
        """Frames taken so far, counting from the ``shutter_count`` the camera started with."""
        return self._shutter_count

    def estimate_frame_bytes(self) -> int:
        """Size of one DNG file: the 16-bit mosaic plus a few kilobytes of tags."""
        return self.size[0] * self.size[1] * 2 + 4096

    def render_electrons(
        self,
        *,
        angle_deg: float = 0.0,
        velocity_deg_s: float = 0.0,
        exposure_s: float | None = None,
        offset: tuple[float, float] | None = None,
        frame: int | None = None,
        touched: list | None = None,
    ) -> np.ndarray:
        """Mean photo-electrons per photosite, without noise: the truth behind a frame.

        Uses the current lux, aperture and (unless ``exposure_s`` is given) shutter time, and
        the camera's :attr:`offset` unless ``offset`` is given.  With ``frame`` (a shutter
        counter number), the :attr:`objects` in that frame are drawn, and each one's
        ``{"kind", "box"}`` appended to ``touched`` when given.
        """
        t = float(self._settings["shutter_s"]) if exposure_s is None else float(exposure_s)
        reflectance = self.scene.render(
            angle_deg=angle_deg,
            velocity_deg_s=velocity_deg_s,
            exposure_s=t,
            offset=self.offset if offset is None else offset,
        )
        if frame is not None:
            for obj in self.objects:
                box = obj.apply(reflectance, frame)
                if box is not None and touched is not None:
                    touched.append({"kind": obj.kind, "box": list(box)})
        return photoelectrons(
            reflectance,
            lux=self.lux,
            exposure_s=t,
            f_number=float(Fraction(self._settings["aperture"])),
            sensor=self.sensor,
        )

    # -- internals ----------------------------------------------------------------------------

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise CameraError(
                f"expected an open camera to {what}, found the simulated camera closed; "
                f"create a new SimCamera"
            )

    def _resolve_shutter(self, text: str) -> dict:
        if str(text).strip().lower() == "bulb":
            raise SettingError(
                "expected a shutter time, found 'bulb'; ask for the time itself (e.g. '60') "
                f"and a time over {MAX_TIMED_SHUTTER_S} s is taken in bulb mode"
            )
        offered = f"{', '.join(SHUTTER_CHOICES[:-1])}, or a time over {MAX_TIMED_SHUTTER_S} s"
        try:
            seconds = parse_shutter(text)
        except SettingError as err:
            raise SettingError(f"{err}; the camera offers {offered} (bulb)") from None
        for label in SHUTTER_CHOICES[:-1]:
            if parse_shutter(label) == seconds:
                return {"shutter": label, "shutter_s": seconds, "bulb": False}
        if seconds > MAX_TIMED_SHUTTER_S:
            return {"shutter": "bulb", "shutter_s": seconds, "bulb": True}
        raise SettingError(
            f"expected a shutter speed the camera offers ({offered} in bulb mode), found "
            f"{text!r}; nothing was changed; pick one of those"
        )

    def _rate(self, number: int) -> float:
        fps = float(self.fps(number)) if callable(self.fps) else float(self.fps)
        if not fps > 0:
            raise SettingError(f"expected a frame rate > 0 for frame {number}, found {fps!r}")
        return fps

    def _burst(self, count: int, s: dict) -> Iterator[Shot]:
        iso = int(s["iso"])
        exposure = Fraction(s["shutter_s"])
        exposure_s = float(exposure)
        f_number = Fraction(s["aperture"])
        wall = min(exposure_s, self.max_wait)
        clock = self.clock
        next_start = clock.time()
        for _ in range(count):
            self._check_open("shoot")
            delay = next_start - clock.time()
            if delay > 0:
                clock.sleep(delay)
            t_start = clock.time()
            if wall > 0:
                clock.sleep(wall)
            t_end = clock.time()
            # frame n starts at least 1 / fps(n) after frame n - 1 (this one is n - 1)
            next_start = max(t_start + 1.0 / self._rate(self._shutter_count + 1), t_end)

            angle, velocity = 0.0, 0.0
            if self.motion is not None:
                angle, velocity = (float(v) for v in self.motion(0.5 * (t_start + t_end)))
            number = self._shutter_count
            touched: list = []
            electrons = self.render_electrons(
                angle_deg=angle,
                velocity_deg_s=velocity,
                exposure_s=exposure_s,
                frame=number,
                touched=touched,
            )
            rng = np.random.default_rng([self.seed, number])
            raw = expose(electrons, iso=iso, rng=rng, sensor=self.sensor)
            self._shutter_count += 1
            data = encode_dng(
                raw,
                make=self.info.make,
                model=self.info.model,
                serial=self.info.serial,
                iso=iso,
                exposure_s=exposure,
                f_number=f_number,
                taken=t_start,
                neutral=camera_neutral(sensor=self.sensor),
                black_level=self.sensor.black_level,
                white_level=self.sensor.white_level,
            )
            dy, dx = self.offset
            pan = angle * self.scene.px_per_deg
            extra = {
                "angle_deg": angle,
                "velocity_deg_s": velocity,
                "offset_px": [dy, dx],
                "shift_px": [dy, dx - pan],
                "blur_px": self.scene.blur_px(velocity_deg_s=velocity, exposure_s=exposure_s),
                "exposure_s": exposure_s,
                "iso": iso,
                "f_number": float(f_number),
                "lux": self.lux,
                "seed": self.seed,
                "shutter_count": number,
                "mean_electrons": float(electrons.mean()),
            }
            if touched:
                extra["sim_objects"] = touched
            name = f"SIM_{self._shutter_count:04d}.DNG"
            logger.debug("sim frame %s at %.4f°: %s", name, angle, extra)
            yield Shot(name=name, data=data, t_start=t_start, t_end=t_end, extra=extra)
