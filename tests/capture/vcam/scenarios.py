"""Scenarios against libgphoto2's virtual USB camera, one per process.

Run as ``python scenarios.py NAME`` with ``VCAMERADIR`` set; prints one JSON object on the last
line of stdout.  Each scenario runs in its own process because the virtual camera can crash
the interpreter (an unlisted f-number segfaults; heap corruption after a few re-inits), and a
crash must fail one test, not the run.

The driver first calls ``setlocale(LC_ALL, "")`` so that a translated environment (the tests
run it with ``LANGUAGE=de``) would reach libgphoto2's gettext: the backend must still see the
untranslated choice strings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import locale
import os
import sys
from collections.abc import Callable
from typing import Any

try:
    LOCALE = locale.setlocale(locale.LC_ALL, "")
except locale.Error as exc:
    LOCALE = f"failed: {exc}"

from capture.devices.gphoto2_camera import Gphoto2Camera, detect
from capture.errors import CaptureError
from capture.protocols import Exposure


def attempt(fn: Callable[[], Any]) -> dict[str, Any]:
    """Run ``fn``; describe the capture error it raises (or say it raised none)."""
    try:
        fn()
    except CaptureError as err:
        return {
            "error": type(err).__name__,
            "classes": [c.__name__ for c in type(err).__mro__],
            "message": str(err),
        }
    return {"error": None}


class Recorder:
    """Wraps a gphoto2 Camera and records the calls made to it, in order."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def wrapper(*args: Any) -> Any:
            result = attr(*args)
            if name == "wait_for_event":
                self.calls.append(f"event:{result[0]}")
            else:
                self.calls.append(name)
            return result

        return wrapper


def detect_cameras() -> dict[str, Any]:
    return {
        "cameras": detect(),
        "wrong_port": attempt(lambda: Gphoto2Camera("usb:009,009").close()),
    }


def settings() -> dict[str, Any]:
    with Gphoto2Camera() as cam:
        before = cam.current()
        out = {
            "locale": LOCALE,
            "info": dataclasses.asdict(cam.info),
            "choices": cam.choices(),
            "before": before,
            "bad_shutter": attempt(lambda: cam.apply(Exposure(shutter="1/30", aperture="f/8"))),
            "bad_aperture": attempt(lambda: cam.apply(Exposure(aperture="3.2"))),
            "iso": attempt(lambda: cam.apply(Exposure(iso=2000))),
            "bulb": attempt(lambda: cam.apply(Exposure(shutter="2"))),
            "after_rejections": cam.current(),
        }
        applied = cam.apply(Exposure(shutter="1/10", aperture="f/4"))
        out["applied"] = dataclasses.asdict(applied)
        out["after_apply"] = cam.current()
        applied = cam.apply(Exposure(shutter='1/800"'))
        out["applied_rounded"] = dataclasses.asdict(applied)
    return out


def shoot() -> dict[str, Any]:
    with Gphoto2Camera() as cam:
        applied = cam.apply(Exposure(shutter="0.05"))
        target = cam.current()["target"]
        recorder = Recorder(cam._cam)
        cam._cam = recorder
        shots = [
            {
                "name": s.name,
                "size": len(s.data),
                "type": type(s.data).__name__,
                "sha256": hashlib.sha256(s.data).hexdigest(),
                "t_start": s.t_start,
                "t_end": s.t_end,
                "extra": s.extra,
            }
            for s in cam.shoot(3)
        ]
        cam._cam = recorder._inner
    return {
        "applied": dataclasses.asdict(applied),
        "target": target,
        "shots": shots,
        "calls": recorder.calls,
    }


def restore_first() -> dict[str, Any]:
    with Gphoto2Camera() as cam:
        before = cam.current()
        cam.apply(Exposure(shutter="1/10", aperture="f/8"))
        during = cam.current()
    return {"before": before, "during": during}


def restore_second() -> dict[str, Any]:
    with Gphoto2Camera() as cam:
        return {"now": cam.current()}


def no_camera() -> dict[str, Any]:
    return {"cameras": detect(), "open": attempt(lambda: Gphoto2Camera().close())}


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "detect": detect_cameras,
    "settings": settings,
    "shoot": shoot,
    "restore_first": restore_first,
    "restore_second": restore_second,
    "no_camera": no_camera,
}

if __name__ == "__main__":
    name = sys.argv[1]
    if name != "no_camera" and "VCAMERADIR" not in os.environ:
        sys.exit("scenarios.py: set VCAMERADIR to a folder holding DCIM/100TEST/*.JPG")
    print(json.dumps(SCENARIOS[name]()))
