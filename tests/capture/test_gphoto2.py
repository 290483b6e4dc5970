"""The gphoto2 backend: burst logic without a camera, then libgphoto2's
virtual USB camera (``vcamera``), each scenario in its own process (tests/capture/vcam/)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from capture.devices import gphoto2_camera as g2
from capture.errors import BadRequest, CameraBusy, CameraError, CameraNotFound, SettingError
from capture.protocols import Exposure

gp = g2.gp  # the constants and error type, through the one module that imports gphoto2


@pytest.fixture(autouse=True)
def _language(monkeypatch):
    """Opening a camera sets LANGUAGE=C for the process; undo that after each test."""
    monkeypatch.delenv("LANGUAGE", raising=False)


def test_the_driver_re_exports_the_vendor_matching_helpers():
    from capture.devices import vendors

    for name in ("match_shutter", "match_aperture", "match_iso", "pick_raw_format"):
        assert getattr(g2, name) is getattr(vendors, name)
        assert name in g2.__all__


# ----------------------------------------------------------------------------- errors, retries


def _failing(codes: list[int], result: str = "ok"):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= len(codes):
            raise gp.GPhoto2Error(codes[len(calls) - 1])
        return result

    return fn, calls


def test_busy_is_retried_then_succeeds():
    fn, calls = _failing([gp.GP_ERROR_CAMERA_BUSY] * 3)
    assert g2._retrying(fn, what="reading iso", retries=3, backoff=0.001) == "ok"
    assert len(calls) == 4


def test_busy_through_every_retry_is_camera_busy():
    fn, calls = _failing([gp.GP_ERROR_CAMERA_BUSY] * 10)
    with pytest.raises(CameraBusy, match=r"reading iso: the camera stayed busy .* 2 retries"):
        g2._retrying(fn, what="reading iso", retries=2, backoff=0.001)
    assert len(calls) == 3


def test_claim_failure_names_gvfs_and_is_not_retried():
    fn, calls = _failing([gp.GP_ERROR_IO_USB_CLAIM])
    with pytest.raises(CameraBusy, match=r"gio mount -s gphoto2"):
        g2._retrying(fn, what="opening", retries=5, backoff=0.001)
    assert len(calls) == 1


def test_other_errors_are_camera_errors():
    fn, _ = _failing([gp.GP_ERROR_IO])
    with pytest.raises(CameraError, match=r"-7") as info:
        g2._retrying(fn, what="opening", retries=5, backoff=0.001)
    assert not isinstance(info.value, CameraBusy)
    fn, _ = _failing([gp.GP_ERROR_MODEL_NOT_FOUND])
    with pytest.raises(CameraNotFound, match="capture doctor"):
        g2._retrying(fn, what="opening", retries=5, backoff=0.001)


# ----------------------------------------------------------------------------- holders


def test_holders_scans_proc_for_usb_devices_and_gvfs(tmp_path):
    def process(pid: int, comm: str, cmdline: str, links: dict[str, str]) -> None:
        d = tmp_path / str(pid)
        (d / "fd").mkdir(parents=True)
        (d / "comm").write_text(comm + "\n")
        (d / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0")
        for fd, target in links.items():
            os.symlink(target, d / "fd" / fd)

    process(
        812,
        "gvfsd-gphoto2",
        "/usr/libexec/gvfsd-gphoto2 --spawner :1.4",
        {"3": "/dev/null", "9": "/dev/bus/usb/001/004"},
    )
    process(77, "gvfs-gphoto2-vo", "/usr/libexec/gvfs-gphoto2-volume-monitor", {"1": "/dev/null"})
    process(90, "bash", "bash", {"0": "/dev/pts/1"})
    (tmp_path / "self").mkdir()
    lines = g2.holders(proc=tmp_path)
    assert lines[0] == "pid 812 (gvfsd-gphoto2) holds /dev/bus/usb/001/004"
    assert "gvfs camera monitor running" in lines[-1]
    assert "77" in lines[-1] and "812" in lines[-1] and "gio mount -s gphoto2" in lines[-1]
    assert len(lines) == 2


def test_holders_on_this_machine_runs():
    assert all(isinstance(line, str) for line in g2.holders())


# ----------------------------------------------------------------------------- a fake camera


class FakeWidget:
    def __init__(self, name, kind, value=None, choices=(), children=(), readonly=0, rng=None):
        self.name, self.kind, self.value = name, kind, value
        self.choices, self.children, self.readonly, self.rng = (
            list(choices),
            children,
            readonly,
            rng,
        )

    def get_name(self):
        return self.name

    def get_type(self):
        return self.kind

    def get_value(self):
        return self.value

    def set_value(self, value):
        self.value = value

    def get_choices(self):
        return iter(self.choices)

    def get_children(self):
        return list(self.children)

    def get_readonly(self):
        return self.readonly

    def get_range(self):
        return self.rng


class FakePath:
    def __init__(self, folder, name):
        self.folder, self.name = folder, name


class FakeFile:
    def __init__(self, data: bytes):
        self.data = data

    def get_data_and_size(self):
        return memoryview(self.data)


class FakeCamera:
    """What Gphoto2Camera uses of gphoto2.Camera, with scripted quirks."""

    def __init__(self, settings: dict[str, dict[str, Any]], *, files_per_frame=("NEF",)):
        self.settings = settings
        self.files_per_frame = files_per_frame
        self.log: list[tuple] = []
        self.events: list[tuple[int, Any]] = []
        self.snap: dict[tuple[str, Any], Any] = {}  # (name, asked) -> value the camera keeps
        self.busy_triggers = 0
        self.refuse: set[str] = set()
        self.frames = 0
        self.pressed = False
        self.frames_at_press = 0

    def _widget(self, name):
        s = self.settings[name]
        return FakeWidget(
            name,
            s["type"],
            s.get("value"),
            s.get("choices", ()),
            rng=s.get("range"),
            readonly=s.get("readonly", 0),
        )

    def get_config(self):
        kids = [self._widget(n) for n in self.settings]
        return FakeWidget("main", gp.GP_WIDGET_WINDOW, children=kids)

    def get_single_config(self, name):
        return self._widget(name)

    def set_single_config(self, name, widget):
        if name in self.refuse:
            raise gp.GPhoto2Error(gp.GP_ERROR_IO)
        value = self.snap.get((name, widget.value), widget.value)
        self.log.append(("set", name, widget.value))
        self.settings[name]["value"] = value
        if name == "bulb" and widget.value == 0:
            self._frame()
        if name == "eosremoterelease":
            if widget.value == "Press Full":
                self.pressed, self.frames_at_press = True, self.frames
            elif self.pressed:
                self.pressed = False
                if self.frames == self.frames_at_press:  # a bulb exposure: one frame at the end
                    self._frame()

    def _frame(self):
        self.frames += 1
        for ext in self.files_per_frame:
            self.events.append(
                (
                    gp.GP_EVENT_FILE_ADDED,
                    FakePath("/store/DCIM/100NIKON", f"DSC_{self.frames:04d}.{ext}"),
                )
            )

    def trigger_capture(self):
        if self.busy_triggers:
            self.busy_triggers -= 1
            raise gp.GPhoto2Error(gp.GP_ERROR_CAMERA_BUSY)
        self.log.append(("trigger",))
        n = int(self.settings["burstnumber"]["value"]) if "burstnumber" in self.settings else 1
        for _ in range(n):
            self._frame()

    def wait_for_event(self, timeout_ms):
        self.log.append(("wait",))
        if self.pressed and not self.events:
            self._frame()  # a held release keeps shooting
        if self.events:
            return self.events.pop(0)
        return gp.GP_EVENT_TIMEOUT, None

    def file_get(self, folder, name, kind):
        self.log.append(("get", name))
        return FakeFile(f"{folder}/{name}".encode())

    def get_summary(self):
        return "Manufacturer: Nikon Corporation\nModel: D750\n  Serial Number: 3001234\n"

    def exit(self):
        self.log.append(("exit",))


R = gp.GP_WIDGET_RADIO


def nikon_settings() -> dict[str, dict[str, Any]]:
    return {
        "cameramodel": {"type": gp.GP_WIDGET_TEXT, "value": "D750"},
        "manufacturer": {"type": gp.GP_WIDGET_TEXT, "value": "Nikon Corporation"},
        "iso": {"type": R, "value": "100", "choices": ["100", "1600", "2000", "3200"]},
        "shutterspeed": {"type": R, "value": "1/60", "choices": ["1/60", "1/30", "1/4", "Bulb"]},
        "f-number": {"type": R, "value": "f/8", "choices": ["f/3.5", "f/4", "f/8"]},
        "imagequality": {
            "type": R,
            "value": "JPEG Fine",
            "choices": ["JPEG Fine", "NEF+Fine", "NEF (Raw)"],
        },
        "capturetarget": {
            "type": R,
            "value": "Internal RAM",
            "choices": ["Internal RAM", "Memory card"],
        },
        "bulb": {"type": gp.GP_WIDGET_TOGGLE, "value": 0},
    }


@pytest.fixture
def fake(monkeypatch):
    """A Gphoto2Camera whose libgphoto2 camera is a FakeCamera (no serial number widget)."""
    monkeypatch.setattr(g2, "_camera_list", lambda: [("Nikon DSC D750", "usb:001,004")])
    monkeypatch.setattr(g2, "_READBACK_S", 0.05)
    made: dict[str, FakeCamera] = {}

    def build(settings=None, **kw):
        cam = FakeCamera(settings or nikon_settings(), **kw)
        monkeypatch.setattr(g2.Gphoto2Camera, "_open", lambda self, model, port: cam)
        made["cam"] = cam
        return g2.Gphoto2Camera(retries=2, backoff=0.001), cam

    return build


def test_fake_info_falls_back_to_the_summary_for_the_serial(fake):
    cam, _ = fake()
    assert (cam.info.make, cam.info.model, cam.info.serial) == (
        "Nikon Corporation",
        "D750",
        "3001234",
    )
    assert (cam.info.port, cam.info.driver) == ("usb:001,004", "gphoto2")
    assert cam.choices()["format"] == ["JPEG Fine", "NEF+Fine", "NEF (Raw)"]


def test_fake_apply_sets_raw_iso_and_card_then_close_restores_in_reverse(fake):
    cam, fc = fake()
    applied = cam.apply(Exposure(iso=2000, shutter="1/30", aperture="4"))
    assert (applied.iso, applied.shutter, applied.aperture, applied.image_format) == (
        2000,
        "1/30",
        "f/4",
        "NEF (Raw)",
    )
    assert applied.shutter_s == pytest.approx(1 / 30) and not applied.bulb
    assert fc.settings["capturetarget"]["value"] == "Memory card"
    changed = [e for e in fc.log if e[0] == "set"]
    fc.log.clear()
    cam.close()
    restored = [e for e in fc.log if e[0] == "set"]
    assert [e[1] for e in restored] == [e[1] for e in reversed(changed)]
    assert {
        n: fc.settings[n]["value"]
        for n in ("iso", "shutterspeed", "f-number", "imagequality", "capturetarget")
    } == {
        "iso": "100",
        "shutterspeed": "1/60",
        "f-number": "f/8",
        "imagequality": "JPEG Fine",
        "capturetarget": "Internal RAM",
    }
    assert fc.log[-1] == ("exit",)
    cam.close()  # twice is harmless
    with pytest.raises(CameraError, match="closed"):
        cam.apply(Exposure())


def test_fake_readback_mismatch_names_both_values_and_restores(fake):
    cam, fc = fake()
    fc.snap[("shutterspeed", "1/30")] = "1/60 "  # what a camera in A mode does
    fc.settings["shutterspeed"]["value"] = "1/4"
    with pytest.raises(SettingError, match=r"asked '1/30', read back '1/60 '.*restored"):
        cam.apply(Exposure(shutter="1/30"))
    assert fc.settings["shutterspeed"]["value"] == "1/4"
    assert fc.settings["capturetarget"]["value"] == "Internal RAM"


def test_fake_validation_failure_touches_nothing(fake):
    cam, fc = fake()
    with pytest.raises(SettingError) as info:
        cam.apply(Exposure(iso=2500, shutter="1/30", aperture="f/5.6"))
    message = str(info.value)
    assert "ISO" in message and "100, 1600, 2000, 3200" in message
    assert "aperture" in message and "f/3.5, f/4, f/8" in message
    assert "nothing was changed" in message
    assert not [e for e in fc.log if e[0] == "set"]


def test_fake_restore_errors_are_logged_not_raised(fake, caplog):
    cam, fc = fake()
    cam.apply(Exposure(shutter="1/30"))
    fc.refuse.add("shutterspeed")
    with caplog.at_level(logging.WARNING, logger=g2.__name__):
        cam.close()
    assert any("could not restore shutterspeed='1/60'" in r.getMessage() for r in caplog.records)
    assert fc.settings["capturetarget"]["value"] == "Internal RAM"
    assert fc.log[-1] == ("exit",)


def test_fake_shoot_pipelines_triggers_and_yields_in_order(fake):
    cam, fc = fake()
    cam.apply(Exposure(shutter="1/30"))
    fc.log.clear()
    shots = list(cam.shoot(5))
    assert [s.name for s in shots] == [f"DSC_{i:04d}.NEF" for i in range(1, 6)]
    assert shots[0].data == b"/store/DCIM/100NIKON/DSC_0001.NEF"
    assert all(type(s.data) is bytes for s in shots)
    kinds = [e[0] for e in fc.log]
    assert kinds.count("trigger") == 5
    # the second frame is triggered before the first file is downloaded
    assert kinds.index("trigger", kinds.index("trigger") + 1) < kinds.index("get")
    starts = [s.t_start for s in shots]
    assert starts == sorted(starts)
    assert all(s.t_start <= s.t_end for s in shots)


def test_fake_shoot_retries_a_busy_trigger(fake):
    cam, fc = fake()
    fc.busy_triggers = 2
    assert len(list(cam.shoot(3))) == 3
    fc.busy_triggers = 10
    with pytest.raises(CameraBusy, match="stayed busy through 2 retries"):
        list(cam.shoot(2))


def test_fake_raw_plus_jpeg_companions_are_not_counted_as_frames(fake, caplog):
    cam, _ = fake(files_per_frame=("NEF", "JPG"))
    with caplog.at_level(logging.WARNING, logger=g2.__name__):
        shots = list(cam.shoot(3))
    assert [s.name for s in shots] == ["DSC_0001.NEF", "DSC_0002.NEF", "DSC_0003.NEF"]
    assert any("left on the card" in r.getMessage() for r in caplog.records)


def test_fake_nikon_burstnumber_splits_long_bursts_and_is_restored(fake):
    settings = nikon_settings()
    settings["burstnumber"] = {"type": gp.GP_WIDGET_RANGE, "value": 1.0, "range": (1, 3, 1)}
    cam, fc = fake(settings)
    shots = list(cam.shoot(7))
    assert [s.name for s in shots] == [f"DSC_{i:04d}.NEF" for i in range(1, 8)]
    assert [e for e in fc.log if e[0] == "trigger"] == [("trigger",)] * 3
    assert [e[2] for e in fc.log if e[:2] == ("set", "burstnumber")] == [3, 1]
    cam.close()
    assert fc.settings["burstnumber"]["value"] == 1.0


def test_fake_canon_held_release_when_drive_mode_is_continuous(fake):
    settings = nikon_settings()
    del settings["bulb"]
    settings["eosremoterelease"] = {
        "type": R,
        "value": "None",
        "choices": ["None", "Press Full", "Release Full"],
    }
    settings["drivemode"] = {"type": R, "value": "Continuous high speed"}
    cam, fc = fake(settings)
    shots = list(cam.shoot(4))
    assert len(shots) == 4 and not fc.pressed
    presses = [e[2] for e in fc.log if e[:2] == ("set", "eosremoterelease")]
    assert presses == ["Press Full", "Release Full"]
    assert not [e for e in fc.log if e[0] == "trigger"]
    # let go as soon as the fourth file is reported, not after downloading it
    release = fc.log.index(("set", "eosremoterelease", "Release Full"))
    assert release < fc.log.index(("get", "DSC_0004.NEF"))
    assert fc.frames == 4


def test_fake_canon_bulb_holds_the_release_for_the_duration(fake):
    settings = nikon_settings()
    del settings["bulb"]
    settings["eosremoterelease"] = {
        "type": R,
        "value": "None",
        "choices": ["None", "Press Full", "Release Full"],
    }
    cam, fc = fake(settings)
    assert cam.apply(Exposure(shutter="0.3")).bulb
    (shot,) = cam.shoot(1)
    assert shot.name == "DSC_0001.NEF" and shot.t_end - shot.t_start >= 0.3
    presses = [e[2] for e in fc.log if e[:2] == ("set", "eosremoterelease")]
    assert presses == ["Press Full", "Release Full"]


def test_fake_bulb_exposure_beyond_the_longest_shutter(fake):
    cam, fc = fake()
    applied = cam.apply(Exposure(shutter="0.3"))
    assert applied.bulb and applied.shutter == "Bulb" and applied.shutter_s == 0.3
    (shot,) = cam.shoot(1)
    bulb = [e[2] for e in fc.log if e[:2] == ("set", "bulb")]
    assert bulb == [1, 0]
    assert shot.t_end - shot.t_start >= 0.3
    assert cam.apply(Exposure()).bulb  # still in bulb mode until a shutter is asked for
    assert not cam.apply(Exposure(shutter="1/30")).bulb


def test_fake_bulb_needs_a_control(fake):
    settings = nikon_settings()
    del settings["bulb"]
    cam, _ = fake(settings)
    with pytest.raises(SettingError, match="neither a 'bulb' nor an 'eosremoterelease'"):
        cam.apply(Exposure(shutter="2"))


def test_fake_rejects_counts_below_one(fake):
    cam, _ = fake()
    with pytest.raises(BadRequest):
        cam.shoot(0)


def test_several_cameras_need_a_port(monkeypatch):
    monkeypatch.setattr(
        g2, "_camera_list", lambda: [("Nikon DSC D750", "usb:001,004"), ("Canon", "usb:001,005")]
    )
    with pytest.raises(CameraError, match=r"found 2: .*--camera usb:BUS,DEV"):
        g2.Gphoto2Camera()


# ----------------------------------------------------------------------------- virtual camera

SCENARIOS = Path(__file__).parent / "vcam" / "scenarios.py"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def vusb() -> Path:
    spec = importlib.util.find_spec("gphoto2")
    assert spec is not None and spec.submodule_search_locations, "python-gphoto2 is not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "libgphoto2" / "vusb"
    assert path.is_dir(), (
        f"expected libgphoto2's virtual USB camera in {path}, found none: these tests need "
        "python-gphoto2's Linux x86-64 wheel (pip install --force-reinstall --only-binary "
        ":all: gphoto2), or deselect them with -m 'not vcamera'"
    )
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, bytes]:
    """A VCAMERADIR holding one small JPEG that every virtual capture duplicates."""
    root = tmp_path_factory.mktemp("vcamera")
    rng = np.random.default_rng(7)
    ok, buf = cv2.imencode(".jpg", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    assert ok
    (root / "DCIM" / "100TEST").mkdir(parents=True)
    (root / "DCIM" / "100TEST" / "IMG_0001.JPG").write_bytes(buf.tobytes())
    return root, buf.tobytes()


def run_scenario(name: str, home: Path, vcameradir: Path | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("IOLIBS", "CAMLIBS", "VCAMERADIR")}
    (home / ".config").mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),  # libgphoto2 keeps capturetarget here
        LANGUAGE="de",  # a translated environment: choice strings must stay English
        LC_ALL="C.UTF-8",
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
    )
    if vcameradir is not None:
        env["VCAMERADIR"] = str(vcameradir)
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(SCENARIOS), name],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        crash = " (killed by a signal: libgphoto2 crashed)" if proc.returncode < 0 else ""
        pytest.fail(
            f"virtual-camera scenario {name!r} exited with {proc.returncode}{crash}\n"
            f"stdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-4000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def scenario(vusb, planted, tmp_path_factory):
    cache: dict[str, dict[str, Any]] = {}
    home = tmp_path_factory.mktemp("vcam-home")

    def get(name: str) -> dict[str, Any]:
        if name not in cache:
            cache[name] = run_scenario(name, home, planted[0])
        return cache[name]

    return get


vcamera = pytest.mark.vcamera


@vcamera
def test_vcam_detect(scenario):
    out = scenario("detect")
    assert out["cameras"] == [["Nikon DSC D750", "usb:001,001"]]
    wrong = out["wrong_port"]
    assert wrong["error"] == "CameraNotFound" and "LookupError" in wrong["classes"]
    assert "usb:009,009" in wrong["message"] and "Nikon DSC D750 on usb:001,001" in wrong["message"]


@vcamera
def test_vcam_info_and_choices(scenario):
    out = scenario("settings")
    assert out["locale"] == "C.UTF-8", "the locale must be set for the translation check to bite"
    assert out["info"] == {
        "make": "GP",
        "model": "VC",
        "port": "usb:001,001",
        "driver": "gphoto2",
        "serial": "0.1",
    }
    choices = out["choices"]
    assert set(choices) == {"shutter", "aperture"}  # no iso, no image format
    assert "0.1000s" in choices["shutter"] and "f/4" in choices["aperture"]
    # English although LANGUAGE=de and setlocale() ran: "interner Speicher" otherwise
    assert out["before"]["target"] == "Internal RAM"


@vcamera
def test_vcam_invalid_shutter_lists_choices_and_changes_nothing(scenario):
    out = scenario("settings")
    err = out["bad_shutter"]
    assert err["error"] == "SettingError" and "ValueError" in err["classes"]
    assert "'1/30'" in err["message"] and ", ".join(out["choices"]["shutter"]) in err["message"]
    assert "nothing was changed" in err["message"]
    assert out["bad_aperture"]["error"] == "SettingError"  # f/3.2 crashes the vcam if sent
    assert out["after_rejections"] == out["before"]  # f/8 and the card target were not set


@vcamera
def test_vcam_iso_request_says_no_iso_setting(scenario):
    err = scenario("settings")["iso"]
    assert err["error"] == "SettingError"
    assert "no ISO setting" in err["message"]


@vcamera
def test_vcam_long_exposure_needs_bulb_which_it_lacks(scenario):
    err = scenario("settings")["bulb"]
    assert err["error"] == "SettingError"
    assert "longer than the camera's longest shutter speed 1.0000s" in err["message"]
    assert "no bulb mode" in err["message"] and "no Bulb entry" in err["message"]


@vcamera
def test_vcam_valid_settings_read_back(scenario):
    out = scenario("settings")
    applied = out["applied"]
    assert (applied["shutter"], applied["aperture"], applied["bulb"]) == ("0.1000s", "f/4", False)
    assert applied["shutter_s"] == pytest.approx(0.1) and applied["iso"] is None
    assert applied["image_format"] is None
    assert out["after_apply"] == {"shutter": "0.1000s", "aperture": "f/4", "target": "Memory card"}
    assert out["applied_rounded"]["shutter"] == "0.0012s"


@vcamera
def test_vcam_shoot_three_through_events(scenario, planted):
    out = scenario("shoot")
    jpeg = planted[1]
    shots = out["shots"]
    assert out["target"] == "Memory card"
    assert len(shots) == 3
    for shot in shots:
        assert shot["type"] == "bytes"
        assert shot["size"] == len(jpeg)
        assert shot["sha256"] == hashlib.sha256(jpeg).hexdigest()
        assert shot["extra"]["folder"].startswith("/store_")
        assert shot["t_start"] <= shot["t_end"]
    assert len({(s["extra"]["folder"], s["name"]) for s in shots}) == 3
    assert len({s["name"] for s in shots}) == 3
    starts = [s["t_start"] for s in shots]
    ends = [s["t_end"] for s in shots]
    assert starts == sorted(starts) and len(set(starts)) == 3
    assert ends == sorted(ends)
    calls = out["calls"]
    assert calls.count("trigger_capture") == 3 and "capture" not in calls
    assert calls.count("file_get") == 3
    assert calls.count(f"event:{gp.GP_EVENT_FILE_ADDED}") == 3
    # the next frame was triggered before the previous file was downloaded
    assert calls.index("trigger_capture", calls.index("trigger_capture") + 1) < calls.index(
        "file_get"
    )


@vcamera
def test_vcam_close_restores_settings(vusb, planted, tmp_path):
    first = run_scenario("restore_first", tmp_path, planted[0])
    assert first["during"]["target"] == "Memory card"
    assert first["during"]["aperture"] == "f/8"
    # capturetarget persists across processes in libgphoto2's settings file, so a new process
    # sees what close() left behind
    second = run_scenario("restore_second", tmp_path, planted[0])
    assert second["now"] == first["before"]
    assert (
        (tmp_path / ".config" / "gphoto" / "settings")
        .read_text()
        .strip()
        .endswith("capturetarget=sdram")
    )


def test_no_camera_points_at_capture_doctor(tmp_path):
    out = run_scenario("no_camera", tmp_path, None)
    if out["cameras"]:
        pytest.fail(f"this test needs a machine without cameras attached, found {out['cameras']}")
    assert out["open"]["error"] == "CameraNotFound"
    assert "capture doctor" in out["open"]["message"]
