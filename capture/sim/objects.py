"""Things that change in a "static" simulated scene: a moving object, a light switched on.

They give curation's motion detection (:mod:`curate.motion`) its truth.  Each is tied to
frames of the simulated camera by its shutter counter (frame ``n`` is the camera's ``n``-th
shot; in a session whose burst is shot first, dark frame ``i`` is shot ``i``), and changes
the reflectance mosaic that :meth:`capture.sim.scene.Scene.render` returns, in sensor
coordinates (it does not pan with the turntable):

- :class:`MovingObject`: a textured, person-sized shape (about a tenth of the frame) crossing
  the frame from left to right over its frames, ``brightness`` times the scene's mean
  reflectance (2.5: brighter than the background; 0.3: darker);
- :class:`Light`: a soft-edged disc whose light is ``gain`` times the scene's in its frames
  (a lamp switched on in a corner).

:func:`parse_spec` reads the ``--sim-object`` text of ``capture burst``; :func:`from_dict`
rebuilds an object from the session's ``camera.sim.objects`` (:meth:`to_dict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from capture.errors import SettingError

__all__ = ["KINDS", "Light", "MovingObject", "SceneObject", "from_dict", "parse_spec"]


def _frames(frames: Sequence[int]) -> tuple[int, ...]:
    out = tuple(sorted({int(f) for f in frames}))
    if not out or out[0] < 0:
        raise SettingError(f"expected frame numbers >= 0, found {list(frames)!r}")
    return out


@dataclass(frozen=True)
class MovingObject:
    """A textured shape crossing the frame left to right during ``frames``.

    Parameters
    ----------
    frames : tuple of int
        Shutter-counter numbers of the frames it appears in (it crosses over them in order).
    brightness : float
        Its reflectance relative to the scene's mean (> 1 brighter, < 1 darker).
    height, width : float
        Its size as fractions of the frame's height and width (default about a tenth of the
        frame's area: a person near the camera).
    seed : int
        Seeds its texture.
    """

    frames: tuple[int, ...]
    brightness: float = 2.5
    height: float = 0.5
    width: float = 0.25
    seed: int = 0
    kind: str = "object"

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", _frames(self.frames))
        if not self.brightness >= 0 or not 0 < self.height <= 1 or not 0 < self.width <= 1:
            raise SettingError(
                "expected brightness >= 0 and height, width in (0, 1], found "
                f"brightness={self.brightness!r}, height={self.height!r}, width={self.width!r}"
            )

    def box(self, frame: int, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """``(y0, x0, y1, x1)`` it covers in frame ``frame`` (end exclusive), or None."""
        if frame not in self.frames:
            return None
        h, w = shape
        i, m = self.frames.index(frame), len(self.frames)
        oh, ow = max(2, round(self.height * h)), max(2, round(self.width * w))
        # from just inside the left edge to just inside the right one
        cx = (w - ow) * (i + 0.5) / m + ow / 2
        y0 = (h - oh) // 2
        x0 = round(cx - ow / 2)
        return y0, x0, y0 + oh, x0 + ow

    def apply(self, reflectance: np.ndarray, frame: int) -> tuple[int, int, int, int] | None:
        """Draw it into ``reflectance`` (in place) if it is in ``frame``; its box, or None."""
        box = self.box(frame, reflectance.shape)
        if box is None:
            return None
        y0, x0, y1, x1 = box
        level = float(reflectance.mean()) * self.brightness
        rng = np.random.default_rng([self.seed, 7])
        texture = rng.uniform(0.7, 1.3, ((y1 - y0) // 4 + 1, (x1 - x0) // 4 + 1))
        texture = np.repeat(np.repeat(texture, 4, axis=0), 4, axis=1)[: y1 - y0, : x1 - x0]
        yy, xx = np.mgrid[y0:y1, x0:x1]
        # an upright rounded shape: an ellipse's top half on a rectangle
        cy, cx, ry, rx = (y0 + y1) / 2, (x0 + x1) / 2, (y1 - y0) / 2, (x1 - x0) / 2
        inside = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0) | (yy >= cy)
        region = reflectance[y0:y1, x0:x1]
        region[inside] = (level * texture[inside]).astype(reflectance.dtype)
        return box

    def to_dict(self) -> dict:
        """JSON-ready, for the session's simulation metadata."""
        return {**asdict(self), "frames": list(self.frames)}


@dataclass(frozen=True)
class Light:
    """A light switched on in a disc of the frame during ``frames``.

    Parameters
    ----------
    frames : tuple of int
        Shutter-counter numbers of the frames it is on in.
    gain : float
        The light in the disc relative to the scene's (2: twice as bright).
    at : tuple of float
        ``(y, x)`` of its centre as fractions of the frame.
    radius : float
        Its radius as a fraction of the frame's height.
    """

    frames: tuple[int, ...]
    gain: float = 2.0
    at: tuple[float, float] = (0.25, 0.8)
    radius: float = 0.1
    kind: str = "light"

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", _frames(self.frames))
        object.__setattr__(self, "at", (float(self.at[0]), float(self.at[1])))
        if not self.gain >= 0 or not 0 < self.radius <= 1:
            raise SettingError(
                f"expected gain >= 0 and radius in (0, 1], found gain={self.gain!r}, "
                f"radius={self.radius!r}"
            )

    def box(self, frame: int, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """``(y0, x0, y1, x1)`` it lights in frame ``frame`` (clipped to the frame), or None."""
        if frame not in self.frames:
            return None
        h, w = shape
        r = self.radius * h
        cy, cx = self.at[0] * h, self.at[1] * w
        y0, x0 = max(0, int(cy - r)), max(0, int(cx - r))
        y1, x1 = min(h, int(np.ceil(cy + r)) + 1), min(w, int(np.ceil(cx + r)) + 1)
        return (y0, x0, y1, x1) if y1 > y0 and x1 > x0 else None

    def apply(self, reflectance: np.ndarray, frame: int) -> tuple[int, int, int, int] | None:
        """Light the disc in ``reflectance`` (in place) if on in ``frame``; its box, or None."""
        box = self.box(frame, reflectance.shape)
        if box is None:
            return None
        y0, x0, y1, x1 = box
        h = reflectance.shape[0]
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d = np.hypot(yy - self.at[0] * h, xx - self.at[1] * reflectance.shape[1])
        # soft edge: full gain inside 80% of the radius, falling to none at the radius
        r = self.radius * h
        weight = np.clip((r - d) / (0.2 * r), 0.0, 1.0)
        reflectance[y0:y1, x0:x1] *= (1.0 + (self.gain - 1.0) * weight).astype(reflectance.dtype)
        return box

    def to_dict(self) -> dict:
        """JSON-ready, for the session's simulation metadata."""
        return {**asdict(self), "frames": list(self.frames), "at": list(self.at)}


SceneObject = MovingObject | Light
KINDS = {"object": MovingObject, "light": Light}


def from_dict(d: dict) -> SceneObject:
    """Rebuild an object from :meth:`to_dict`'s form."""
    d = dict(d)
    kind = d.pop("kind", "object")
    if kind not in KINDS:
        raise SettingError(f"expected a simulated object kind in {sorted(KINDS)}, found {kind!r}")
    try:
        return KINDS[kind](**d)
    except TypeError as exc:
        raise SettingError(
            f"expected the fields of a simulated {kind}, found {d!r}: {exc}"
        ) from None


def _frame_list(text: str) -> list[int]:
    out: list[int] = []
    for part in text.replace("+", " ").split():
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b) + 1) if b else [int(a)])
    return out


def parse_spec(text: str) -> SceneObject:
    """Read ``--sim-object`` text: ``KIND:FRAMES[,key=value...]``.

    ``object:10-15,brightness=2.5`` (a person crossing frames 10 to 15, 2.5 times as bright
    as the scene); ``object:3-5,brightness=0.3`` (a dark one); ``light:20,gain=2,at=0.2x0.8,
    radius=0.1`` (a light on in frame 20 only).  Frames: numbers and ranges joined by ``+``
    (``4+9-11``).
    """
    kind, _, rest = text.partition(":")
    kind = kind.strip()
    if kind not in KINDS or not rest:
        raise SettingError(
            f"expected --sim-object KIND:FRAMES[,key=value...] with KIND object or light "
            f"(e.g. 'object:10-15,brightness=2.5' or 'light:20,gain=2,at=0.2x0.8'), found {text!r}"
        )
    frames_text, *pairs = rest.split(",")
    try:
        args: dict = {"frames": _frame_list(frames_text)}
        for p in pairs:
            key, _, value = p.partition("=")
            key = key.strip()
            if key == "at":
                y, _, x = value.partition("x")
                args["at"] = (float(y), float(x))
            elif key in {"brightness", "height", "width", "gain", "radius"}:
                args[key] = float(value)
            elif key == "seed":
                args[key] = int(value)
            else:
                raise SettingError(f"unknown key {key!r}")
        return KINDS[kind](**args)
    except (ValueError, TypeError, SettingError) as exc:
        raise SettingError(
            f"expected --sim-object {kind}:FRAMES[,key=value...] (frames like 10-15 or 4+9, "
            f"keys brightness, height, width, seed for an object; gain, at=YxX, radius for a "
            f"light), found {text!r}: {exc}"
        ) from None
