"""What the capture stage asks of a camera and of a turntable.

Drivers satisfy these protocols structurally (no base class).  The real drivers live in
:mod:`capture.devices`; the simulators in :mod:`capture.sim`.  Real drivers never import the
simulators: only the CLI and the tests choose ``sim``.

Times are ``time.time()`` seconds (the Unix epoch) everywhere, so that a frame's exposure
timestamps and the turntable's timestamped position reports share one time base.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol, runtime_checkable

from capture.errors import SettingError

__all__ = [
    "Applied",
    "Camera",
    "CameraInfo",
    "Exposure",
    "Shot",
    "Turntable",
    "TurntableStatus",
    "format_shutter",
    "parse_shutter",
]


def parse_shutter(text: str | float) -> Fraction:
    """Parse a shutter speed such as ``"1/30"``, ``"10"``, ``"0.5"``, ``"2.5s"`` or ``'30"'``.

    Returns the exposure time in seconds as an exact fraction.  Raises :class:`SettingError`
    (a ``ValueError``) for anything else, ``"bulb"`` included (bulb is a mode, not a time).
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = Fraction(text).limit_denominator(1_000_000)
    else:
        s = str(text).strip().lower().rstrip("s").rstrip('"').strip()
        try:
            # Cameras list third stops as "1/1.3" or "1/2.5": a decimal below the bar.
            num, _, den = s.partition("/")
            value = Fraction(num) / Fraction(den) if den else Fraction(num)
            value = value.limit_denominator(1_000_000)
        except (ValueError, ZeroDivisionError):
            raise SettingError(
                f"expected a shutter speed such as '1/30', '10' or '0.5' (seconds), "
                f"found {text!r}; write fractions of a second as 1/N"
            ) from None
    if value <= 0:
        raise SettingError(f"expected a positive shutter speed in seconds, found {text!r}")
    return value


def format_shutter(seconds: Fraction | float, *, unit: bool = False) -> str:
    """Format an exposure time as cameras list it: ``1/30``; ``0.5`` becomes ``1/2``.

    With ``unit=True``, as people read it in a card or a report: ``1/30 s`` below a second
    (a time within 2% of ``1/n`` is written ``1/n``, as cameras round their nominal
    speeds), else ``4 s`` or ``0.3 s``.
    """
    if unit:
        s = float(seconds)
        if 0 < s < 1:
            inv = 1 / s
            if abs(inv - round(inv)) < 0.02 * inv:
                return f"1/{round(inv)} s"
        return f"{s:g} s"
    value = Fraction(seconds).limit_denominator(1_000_000)
    if value >= 1:
        return str(int(value)) if value.denominator == 1 else f"{float(value):g}"
    if value.numerator == 1:
        return f"1/{value.denominator}"
    return f"{float(value):g}"


@dataclass(frozen=True)
class CameraInfo:
    """Who the camera is.  ``serial`` never leaves the process unhashed (see session.json)."""

    make: str
    model: str
    port: str
    driver: str
    serial: str | None = None


@dataclass(frozen=True)
class Exposure:
    """A requested exposure.  ``None`` leaves that setting as the camera has it.

    ``raw=True`` asks for a RAW image format where the camera has a format setting; a camera
    without one (libgphoto2's virtual camera) is left as it is, with a warning logged.
    """

    iso: int | None = None
    shutter: str | None = None
    aperture: str | None = None
    raw: bool = True


@dataclass(frozen=True)
class Applied:
    """The settings read back from the camera after :meth:`Camera.apply`.

    ``shutter_s`` is the exposure time in seconds that the next shot will use (for bulb, the
    requested duration); ``bulb`` is true when that time is produced by bulb mode.
    ``None`` means the camera has no such setting (the virtual camera has no ISO).
    """

    iso: int | None
    shutter: str | None
    shutter_s: float | None
    aperture: str | None
    bulb: bool = False
    image_format: str | None = None


@dataclass
class Shot:
    """One downloaded frame: the file's bytes as the camera produced them, and when it was taken.

    ``t_start``/``t_end`` bracket the exposure (``time.time()``); ``name`` is the camera's own
    file name (its extension tells the raw format).
    """

    name: str
    data: bytes
    t_start: float
    t_end: float
    extra: dict = field(default_factory=dict)

    @property
    def t_mid(self) -> float:
        return 0.5 * (self.t_start + self.t_end)


@runtime_checkable
class Camera(Protocol):
    """A tethered camera.

    ``apply`` validates every requested value against the camera's own choice lists *before*
    touching the camera and raises :class:`SettingError` listing the valid choices; after
    setting it reads the values back.  ``shoot(n)`` takes a burst of ``n`` frames with the
    current settings and yields each as soon as it is downloaded, so the caller can journal
    frame by frame.  ``close`` restores the settings the camera had before ``apply``.
    """

    info: CameraInfo

    def choices(self) -> dict[str, list[str]]:
        """Valid values per setting: keys ``iso``, ``shutter``, ``aperture``, ``format``."""
        ...

    def apply(self, exposure: Exposure) -> Applied: ...

    def shoot(self, count: int) -> Iterator[Shot]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TurntableStatus:
    """One ``?`` report: GRBL state (``Idle``, ``Run``, ``Alarm``, ...), angle in degrees, time."""

    state: str
    angle: float
    t: float


@runtime_checkable
class Turntable(Protocol):
    """A one-axis rotary stage whose X axis is in degrees.

    ``move_by``/``move_to`` send a move and, with ``wait=True``, poll until idle and return the
    position read back.  ``track()`` starts polling positions in the background and returns a
    list that fills with timestamped reports until ``stop_tracking()``; frames taken during a
    continuous move get their angle by interpolating those reports at the exposure's midpoint.
    """

    def status(self) -> TurntableStatus: ...

    def unlock(self) -> None: ...

    def home(self) -> None: ...

    def move_by(self, degrees: float, *, feed: float | None = None, wait: bool = True) -> float: ...

    def move_to(self, angle: float, *, feed: float | None = None, wait: bool = True) -> float: ...

    def wait_idle(self, timeout: float | None = None) -> TurntableStatus: ...

    def track(self, interval: float = 0.02) -> list[TurntableStatus]: ...

    def stop_tracking(self) -> list[TurntableStatus]: ...

    def close(self) -> None: ...
