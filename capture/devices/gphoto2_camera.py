"""A tethered camera driven through libgphoto2 (python-gphoto2): the project's one gphoto2 import.

:class:`Gphoto2Camera` satisfies :class:`capture.protocols.Camera`.  It finds settings by widget
name with vendor aliases, validates every requested value against the camera's own choice list
before touching anything, reads every value back after setting it, remembers what it changed
and puts it back on :meth:`Gphoto2Camera.close`.  Bursts are triggered onto the memory card and
collected from ``GP_EVENT_FILE_ADDED`` events; files are downloaded as owned ``bytes`` and never
deleted from the card.

:func:`detect` and :func:`holders` serve ``capture doctor``.  The vendor-spelling work
(:func:`~capture.devices.vendors.match_shutter`, ``match_aperture``, ``match_iso``,
``pick_raw_format``) lives in :mod:`capture.devices.vendors`, which needs no libgphoto2; the
names are re-exported here.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import gphoto2 as gp

from capture.devices.vendors import (
    ALIASES,
    SHUTTER_TOLERANCE,
    bulb_choice,
    iso_value,
    match_aperture,
    match_iso,
    match_shutter,
    pick_raw_format,
    shutter_seconds,
)
from capture.errors import (
    BadRequest,
    CameraBusy,
    CameraError,
    CameraNotFound,
    CaptureError,
    SettingError,
)
from capture.protocols import Applied, CameraInfo, Exposure, Shot, parse_shutter

__all__ = [
    "Gphoto2Camera",
    "detect",
    "holders",
    "match_aperture",
    "match_iso",
    "match_shutter",
    "pick_raw_format",
    "shutter_seconds",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SETTING_LABELS = {
    "iso": "ISO",
    "shutter": "shutter speed",
    "aperture": "aperture",
    "format": "image format",
    "target": "capture target",
}

# PTP "device busy" and a port locked by a concurrent user of libgphoto2: both clear up.
_BUSY_CODES = frozenset({gp.GP_ERROR_CAMERA_BUSY, gp.GP_ERROR_IO_LOCK})
_NOT_FOUND_CODES = frozenset(
    {gp.GP_ERROR_MODEL_NOT_FOUND, gp.GP_ERROR_IO_USB_FIND, gp.GP_ERROR_UNKNOWN_PORT}
)
_GVFS_HINT = (
    "another process holds the camera, usually the desktop's gvfs: run "
    "`gio mount -s gphoto2` (or kill gvfs-gphoto2-volume-monitor and gvfsd-gphoto2), "
    "then try again; `capture doctor` lists the processes holding USB devices"
)
_DOCTOR_HINT = "check the cable, switch the camera on, and run `capture doctor`"

# Frames the camera may hold between trigger and FILE_ADDED before we wait (generic bursts).
_MAX_IN_FLIGHT = 2
# How long after an exposure we wait for its file before calling the burst stuck.
_FILE_TIMEOUT_S = 30.0
# Sony applies settings asynchronously: a read straight after a write can show the old value.
_READBACK_S = 2.0
_EVENT_POLL_MS = 100

_log_handle: object | None = None


def _setup() -> None:
    """Route libgphoto2's log into :mod:`logging` and make its strings untranslated (once).

    libgphoto2 translates choice labels (``"Memory card"`` becomes ``"Speicherkarte"``) through
    gettext whenever the process locale's LC_MESSAGES is not C, which happens as soon as anything
    calls ``setlocale(LC_ALL, "")``.  python-gphoto2 has no call to pick the message language,
    and it binds the bundled catalogues at import, after which ``gp_init_localedir`` is ignored
    (checked with the virtual camera), so we set ``LANGUAGE=C``: glibc's gettext reads it on
    every lookup and, for the language "C", returns the untranslated msgid.
    """
    global _log_handle
    os.environ["LANGUAGE"] = "C"
    if _log_handle is None:
        mapping = {}
        if not logging.getLogger("gphoto2").isEnabledFor(logging.DEBUG):
            # Forwarding every PTP debug line to Python costs a callback per USB transfer.
            mapping[gp.GP_LOG_DEBUG] = logging.DEBUG - 5
        _log_handle = gp.use_python_logging(mapping=mapping)


# --------------------------------------------------------------------------- errors, retries


def _describe(err: gp.GPhoto2Error) -> str:
    return f"gphoto2 error {err.code}: {err.string}"


def _to_capture_error(err: gp.GPhoto2Error, what: str) -> CaptureError:
    """Turn a libgphoto2 error into the capture stage's exception, with what to try."""
    if err.code == gp.GP_ERROR_IO_USB_CLAIM:
        return CameraBusy(
            f"{what}: could not claim the USB device ({_describe(err)}); {_GVFS_HINT}"
        )
    if err.code in _BUSY_CODES:
        return CameraBusy(
            f"{what}: the camera stayed busy ({_describe(err)}); wait until it has finished "
            "writing to the card, or switch it off and on"
        )
    if err.code in _NOT_FOUND_CODES:
        return CameraNotFound(f"{what}: no camera answered ({_describe(err)}); {_DOCTOR_HINT}")
    return CameraError(f"{what}: {_describe(err)}; {_DOCTOR_HINT}")


def _retrying(fn: Callable[..., T], *args: Any, what: str, retries: int, backoff: float) -> T:
    """Call ``fn(*args)``, retrying busy errors with exponential backoff.

    A claim failure (another process holds the device) is not retried: it does not clear up on
    its own.  Every other libgphoto2 error is translated by :func:`_to_capture_error`.
    """
    for attempt in range(retries + 1):
        try:
            return fn(*args)
        except gp.GPhoto2Error as err:
            if err.code not in _BUSY_CODES:
                raise _to_capture_error(err, what) from err
            if attempt == retries:
                raise CameraBusy(
                    f"{what}: the camera stayed busy ({_describe(err)}) through {retries} "
                    f"retries over {backoff * (2**retries - 1):.1f} s; wait until it has "
                    "finished writing to the card, or pass more retries"
                ) from err
            delay = backoff * 2**attempt
            logger.info("%s: camera busy (%s), retrying in %.2f s", what, err.code, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- doctor helpers


def _camera_list() -> list[tuple[str, str]]:
    cams = gp.Camera.autodetect()
    return [(cams.get_name(i), cams.get_value(i)) for i in range(cams.count())]


def detect() -> list[tuple[str, str]]:
    """Cameras libgphoto2 can see, as ``(model, port)`` pairs such as ``("Nikon DSC D750",
    "usb:001,004")``; empty if none."""
    _setup()
    try:
        return _camera_list()
    except gp.GPhoto2Error as err:
        raise _to_capture_error(err, "listing cameras") from err


def holders(*, proc: Path | str = "/proc") -> list[str]:
    """Processes holding a USB device open, and whether gvfs' camera monitor is running.

    Parameters
    ----------
    proc : path, keyword-only
        The proc file system to scan (a different root lets tests build one).

    Returns
    -------
    list of str
        One line per (process, device), e.g. ``"pid 812 (gvfsd-gphoto2) holds
        /dev/bus/usb/001/004"``, then a note per running gvfs camera process.  Processes we may
        not inspect are skipped.
    """
    root = Path(proc)
    found: list[str] = []
    gvfs: list[str] = []
    me = os.getpid()
    for entry in sorted(root.iterdir(), key=lambda p: (len(p.name), p.name)):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            cmdline = ""
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            comm = cmdline.split(" ", 1)[0].rsplit("/", 1)[-1] or "?"
        if "gvfs-gphoto2-volume-monitor" in cmdline or "gvfsd-gphoto2" in cmdline:
            gvfs.append(f"{entry.name} ({cmdline.split(' ', 1)[0].rsplit('/', 1)[-1]})")
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        devices = set()
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("/dev/bus/usb/"):
                devices.add(target)
        for device in sorted(devices):
            who = " (this process)" if int(entry.name) == me else ""
            found.append(f"pid {entry.name} ({comm}){who} holds {device}")
    if gvfs:
        found.append(
            f"gvfs camera monitor running: pid {', pid '.join(gvfs)}; it claims cameras as they "
            "are plugged in: run `gio mount -s gphoto2` or kill it before capturing"
        )
    return found


# --------------------------------------------------------------------------- the camera


def _walk(widget: Any, out: dict[str, Any]) -> dict[str, Any]:
    out.setdefault(widget.get_name(), widget)
    for child in widget.get_children():
        _walk(child, out)
    return out


def _has_choices(widget: Any) -> bool:
    return widget.get_type() in (gp.GP_WIDGET_RADIO, gp.GP_WIDGET_MENU)


class Gphoto2Camera:
    """A real camera over libgphoto2, satisfying :class:`capture.protocols.Camera`.

    Parameters
    ----------
    port : str or None
        ``"usb:BUS,DEV"`` as :func:`detect` lists it, or ``None`` for the only camera attached.
    retries : int, keyword-only
        How often a busy camera is retried before :class:`CameraBusy`.
    backoff : float, keyword-only
        First retry delay in seconds; each further retry doubles it.

    Raises
    ------
    CameraNotFound
        No camera (or none on ``port``).
    CameraBusy
        Another process holds the camera (gvfs), or it stayed busy.
    CameraError
        Several cameras and no ``port``, or any other libgphoto2 failure.

    Notes
    -----
    The driver never deletes files from the camera.  Settings changed by :meth:`apply` (and the
    ``burstnumber`` changed by :meth:`shoot`) are put back by :meth:`close`.
    """

    def __init__(self, port: str | None = None, *, retries: int = 5, backoff: float = 0.2) -> None:
        if retries < 0 or backoff < 0:
            raise BadRequest(
                f"expected retries >= 0 and backoff >= 0, found {retries} and {backoff}"
            )
        _setup()
        self.retries = retries
        self.backoff = backoff
        self._originals: dict[str, Any] = {}
        self._applied: Applied | None = None
        self._bulb_s: float | None = None
        self._closed = False
        self._warned_format = False
        self._pressed = False
        model, self.port = self._choose(port)
        self._cam = self._open(model, self.port)
        try:
            self._widgets = self._tree()
            self.info = self._identify(model)
        except BaseException:
            self._cam.exit()
            raise
        logger.info("opened %s %s on %s", self.info.make, self.info.model, self.port)

    # ----------------------------------------------------------------- opening

    def _call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        return _retrying(fn, *args, what=what, retries=self.retries, backoff=self.backoff)

    def _choose(self, port: str | None) -> tuple[str, str]:
        cams = self._call("listing cameras", _camera_list)
        listing = ", ".join(f"{m} on {p}" for m, p in cams)
        if not cams:
            raise CameraNotFound(
                f"expected a camera on USB, found none; {_DOCTOR_HINT} (a camera mounted by "
                "the desktop does not show up: `gio mount -s gphoto2`)"
            )
        if port is None:
            if len(cams) > 1:
                raise CameraError(
                    f"expected one camera, found {len(cams)}: {listing}; pick one with "
                    "--camera usb:BUS,DEV"
                )
            return cams[0]
        for model, found_port in cams:
            if found_port == port:
                return model, port
        raise CameraNotFound(f"expected a camera on {port}, found only: {listing}; {_DOCTOR_HINT}")

    def _open(self, model: str, port: str) -> Any:
        camera = gp.Camera()
        abilities = gp.CameraAbilitiesList()
        abilities.load()
        ports = gp.PortInfoList()
        ports.load()
        try:
            camera.set_abilities(abilities[abilities.lookup_model(model)])
            camera.set_port_info(ports[ports.lookup_path(port)])
        except gp.GPhoto2Error as err:
            raise _to_capture_error(err, f"opening {model} on {port}") from err
        self._call(f"opening {model} on {port}", camera.init)
        return camera

    def _tree(self) -> dict[str, Any]:
        return _walk(self._call("reading the camera's settings", self._cam.get_config), {})

    def _identify(self, model: str) -> CameraInfo:
        def text(name: str) -> str | None:
            widget = self._widgets.get(name)
            if widget is None:
                return None
            return str(widget.get_value()).strip() or None

        make, cam_model, serial = text("manufacturer"), text("cameramodel"), text("serialnumber")
        if make is None or cam_model is None or serial is None:
            summary = str(self._call("reading the camera summary", self._cam.get_summary))
            fields = dict(
                (k.strip().lower(), v.strip())
                for k, v in (line.split(":", 1) for line in summary.splitlines() if ":" in line)
            )
            make = make or fields.get("manufacturer")
            cam_model = cam_model or fields.get("model")
            serial = serial or fields.get("serial number")
        logger.info(
            "libgphoto2 %s drives %s as %r",
            gp.gp_library_version(gp.GP_VERSION_SHORT)[0],
            self.port,
            model,
        )
        return CameraInfo(
            make=make or model.split(" ", 1)[0],
            model=cam_model or model,
            port=self.port,
            driver="gphoto2",
            serial=serial,
        )

    # ----------------------------------------------------------------- settings

    def _names(self) -> dict[str, str]:
        """Setting kind -> the widget name this camera uses for it."""
        names = {}
        for kind, aliases in ALIASES.items():
            for alias in aliases:
                widget = self._widgets.get(alias)
                if widget is not None and _has_choices(widget):
                    names[kind] = alias
                    break
        return names

    def _choices_of(self, name: str) -> list[str]:
        return [str(c) for c in self._widgets[name].get_choices()]

    def _read(self, name: str) -> Any:
        return self._call(f"reading {name}", self._cam.get_single_config, name).get_value()

    def _write(self, name: str, value: Any) -> None:
        widget = self._call(f"reading {name}", self._cam.get_single_config, name)
        widget.set_value(value)
        try:
            self._call(f"setting {name}={value!r}", self._cam.set_single_config, name, widget)
        except CameraError as err:
            cause = err.__cause__
            if isinstance(cause, gp.GPhoto2Error) and cause.code == gp.GP_ERROR_BAD_PARAMETERS:
                raise SettingError(
                    f"expected the camera to accept {name}={value!r}, it refused "
                    f"({_describe(cause)}); check the mode dial (M for manual exposure)"
                ) from cause
            raise

    def _change(self, name: str, value: Any) -> None:
        """Set a setting, remembering its first original value for :meth:`close`."""
        if name not in self._originals:
            self._originals[name] = self._read(name)
        self._write(name, value)

    def _restore(self) -> None:
        for name, value in reversed(list(self._originals.items())):
            try:
                self._write(name, value)
            except CaptureError as err:
                logger.warning("could not restore %s=%r: %s", name, value, err)
        self._originals.clear()

    def choices(self) -> dict[str, list[str]]:
        """Valid values per setting, as the camera spells them.

        Returns
        -------
        dict
            Keys among ``iso``, ``shutter``, ``aperture``, ``format``; a setting the camera
            lacks is absent (libgphoto2's virtual camera has no ``iso`` and no ``format``).
        """
        self._check_open()
        # The lists depend on the mode dial and the lens: read them fresh.
        self._widgets = self._tree()
        return {
            kind: self._choices_of(name) for kind, name in self._names().items() if kind != "target"
        }

    def current(self) -> dict[str, str]:
        """The camera's present values, keys as :meth:`choices` plus ``target`` (capture target)."""
        self._check_open()
        return {kind: str(self._read(name)) for kind, name in self._names().items()}

    def apply(self, exposure: Exposure) -> Applied:
        """Validate, set and read back an exposure; also send captures to the memory card.

        Parameters
        ----------
        exposure : Exposure
            ``None`` fields are left alone.  A shutter longer than the camera's longest listed
            speed is produced in bulb mode (needs a ``Bulb`` shutter choice and the ``bulb`` or
            ``eosremoterelease`` control).

        Returns
        -------
        Applied
            The values read back from the camera.

        Raises
        ------
        SettingError
            A value the camera does not offer, a setting it lacks, or a value it did not keep;
            validation failures change nothing on the camera.
        """
        self._check_open()
        self._widgets = self._tree()
        names = self._names()
        plan: list[tuple[str, str]] = []
        problems: list[str] = []
        bulb_s: float | None = None

        def missing(kind: str) -> str:
            return (
                f"{_SETTING_LABELS[kind]}: the camera has no {_SETTING_LABELS[kind]} setting "
                f"(looked for {', '.join(ALIASES[kind])}); leave it out of the request"
            )

        def check(kind: str, requested: Any, match: Callable[[Any, list[str]], str]) -> None:
            if kind not in names:
                problems.append(missing(kind))
                return
            name = names[kind]
            if self._widgets[name].get_readonly():
                problems.append(
                    f"{_SETTING_LABELS[kind]}: the camera reports {name} as read-only; "
                    "turn the mode dial to M"
                )
                return
            try:
                plan.append((name, match(requested, self._choices_of(name))))
            except SettingError as err:
                problems.append(f"{_SETTING_LABELS[kind]}: {err}")

        if "target" in names:
            card = next((c for c in self._choices_of(names["target"]) if "card" in c.lower()), None)
            if card is None:
                logger.warning(
                    "capture target has no memory-card choice (%s); leaving it",
                    ", ".join(self._choices_of(names["target"])),
                )
            else:
                plan.append((names["target"], card))
        if exposure.raw:
            if "format" not in names:
                if not self._warned_format:
                    logger.warning("the camera has no image-format setting; leaving its format")
                    self._warned_format = True
            else:
                fmt_choices = self._choices_of(names["format"])
                raw = pick_raw_format(fmt_choices)
                if raw is None:
                    problems.append(
                        f"image format: expected a RAW choice, found only "
                        f"{', '.join(fmt_choices)}; ask for raw=False to keep the camera's format"
                    )
                else:
                    plan.append((names["format"], raw))
        if exposure.iso is not None:
            check("iso", exposure.iso, match_iso)
        if exposure.aperture is not None:
            check("aperture", exposure.aperture, match_aperture)
        if exposure.shutter is not None:
            try:
                want = float(parse_shutter(exposure.shutter))
            except SettingError as err:
                problems.append(f"shutter speed: {err}")
            else:
                beyond, bulb_s = self._plan_bulb(want, names.get("shutter"), plan, problems)
                if not beyond:
                    check("shutter", exposure.shutter, match_shutter)
        elif "shutter" in names and self._bulb_s is not None:
            # Still in the bulb mode an earlier apply set up: keep its duration.
            bulb = bulb_choice(self._choices_of(names["shutter"]))
            bulb_s = self._bulb_s if str(self._read(names["shutter"])) == bulb else None
        if problems:
            raise SettingError("; ".join(problems) + "; nothing was changed on the camera")

        try:
            for name, value in plan:
                if str(self._read(name)) != value:
                    self._change(name, value)
            self._verify(plan)
        except CaptureError as err:
            self._restore()
            raise type(err)(f"{err}; we restored the settings changed so far") from err

        self._bulb_s = bulb_s
        values = {kind: str(self._read(name)) for kind, name in names.items()}
        shutter = values.get("shutter")
        seconds = shutter_seconds(shutter) if shutter is not None else None
        self._applied = Applied(
            iso=iso_value(values["iso"]) if "iso" in values else None,
            shutter=shutter,
            shutter_s=bulb_s if bulb_s is not None else (float(seconds) if seconds else None),
            aperture=values.get("aperture"),
            bulb=bulb_s is not None,
            image_format=values.get("format"),
        )
        logger.info("applied %s", self._applied)
        return self._applied

    def _plan_bulb(
        self, want: float, name: str | None, plan: list[tuple[str, str]], problems: list[str]
    ) -> tuple[bool, float | None]:
        """Plan bulb mode for a request beyond the longest listed shutter speed.

        Returns ``(beyond, bulb_s)``: ``beyond`` is true when ``want`` exceeds every listed
        speed; ``bulb_s`` is the bulb duration when bulb mode was planned, ``None`` when the
        camera cannot do it (the reason is appended to ``problems``).
        """
        if name is None:
            return False, None
        choices = self._choices_of(name)
        times = [(float(t), c) for c in choices if (t := shutter_seconds(c)) is not None]
        if not times:
            return False, None
        longest, longest_text = max(times)
        if want <= longest * (1 + SHUTTER_TOLERANCE):
            return False, None
        bulb = bulb_choice(choices)
        control = next((n for n in ("bulb", "eosremoterelease") if n in self._widgets), None)
        if bulb is None or control is None:
            lacks = []
            if bulb is None:
                lacks.append("its shutter-speed list has no Bulb entry")
            if control is None:
                lacks.append("it has neither a 'bulb' nor an 'eosremoterelease' control")
            problems.append(
                f"shutter speed: {want:g} s is longer than the camera's longest shutter speed "
                f"{longest_text}, so it needs bulb mode, but the camera offers no bulb mode "
                f"({' and '.join(lacks)}); ask for at most {longest_text}, or set the mode dial "
                "to M or B where the camera has one"
            )
            return True, None
        plan.append((name, bulb))
        return True, want

    def _verify(self, plan: list[tuple[str, str]]) -> None:
        deadline = time.monotonic() + _READBACK_S
        pending = list(plan)
        while True:
            pending = [(n, v) for n, v in pending if str(self._read(n)) != v]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if pending:
            detail = ", ".join(f"{n}: asked {v!r}, read back {self._read(n)!r}" for n, v in pending)
            raise SettingError(
                f"expected the camera to keep every value set, it did not ({detail}); "
                "check the mode dial (M for manual exposure) and that the lens allows it"
            )

    # ----------------------------------------------------------------- shooting

    def shoot(self, count: int) -> Iterator[Shot]:
        """Take a burst with the current settings, yielding each frame once downloaded.

        Parameters
        ----------
        count : int
            Frames to take; exactly this many :class:`Shot` are yielded, in capture order.

        Yields
        ------
        Shot
            ``name`` is the camera's file name, ``data`` the file's bytes (owned).
            ``t_start`` is no earlier than the trigger that produced the frame and ``t_end`` no
            later than the camera's report of the file, so the pair brackets the exposure;
            ``extra`` holds ``folder``, ``t_trigger`` and ``t_reported``.

        Notes
        -----
        Nikon ``burstnumber`` bursts and Canon ``eosremoterelease`` held releases (drive mode
        continuous) are used where present; otherwise one ``trigger_capture`` per frame, with the
        next frame triggered before the previous file has arrived.  Files stay on the card.
        """
        self._check_open()
        if count < 1:
            raise BadRequest(f"expected a frame count of at least 1, found {count}")
        return self._shoot(count)

    def _shoot(self, count: int) -> Iterator[Shot]:
        if self._applied is None and "target" in self._names():
            # Bursts must go to the card: frames left in the camera's RAM block the next ones.
            self.apply(Exposure(raw=False))
        exposure_s = self._applied.shutter_s if self._applied else None
        self._drain("before the burst")
        if self._bulb_s is not None:
            logger.info("shooting %d bulb frame(s) of %g s", count, self._bulb_s)
            yield from self._collect(count, 1, self._bulb_exposure, exposure_s)
            return
        burst = self._widgets.get("burstnumber")
        if count > 1 and burst is not None and burst.get_type() == gp.GP_WIDGET_RANGE:
            top = max(1, int(burst.get_range()[1]))
            logger.info("shooting %d frames via burstnumber (up to %d per release)", count, top)
            yield from self._collect(count, top, self._nikon_burst, exposure_s)
            return
        if count > 1 and self._canon_continuous():
            logger.info("shooting %d frames with the release held (eosremoterelease)", count)
            try:
                yield from self._collect(
                    count, count, self._canon_press, exposure_s, release=self._canon_release
                )
            finally:
                self._canon_release()
                self._drain("after the held release")
            return
        logger.info("shooting %d frame(s) via trigger_capture", count)
        yield from self._collect(count, 1, self._trigger_one, exposure_s)

    def _trigger_one(self, n: int) -> None:
        self._cam.trigger_capture()

    def _nikon_burst(self, n: int) -> None:
        if int(self._read("burstnumber")) != n:
            self._change("burstnumber", n)
        self._cam.trigger_capture()

    def _canon_continuous(self) -> bool:
        if "eosremoterelease" not in self._widgets or "drivemode" not in self._widgets:
            return False
        return "continuous" in str(self._read("drivemode")).lower()

    def _canon_press(self, n: int) -> None:
        self._write("eosremoterelease", "Press Full")
        self._pressed = True

    def _canon_release(self) -> None:
        if not self._pressed:
            return
        self._pressed = False
        try:
            self._write("eosremoterelease", "Release Full")
        except CaptureError as err:
            logger.warning("could not let go of the shutter release: %s", err)

    def _bulb_exposure(self, n: int) -> None:
        assert self._bulb_s is not None
        if "bulb" in self._widgets:
            self._write("bulb", 1)
            time.sleep(self._bulb_s)
            self._write("bulb", 0)
        else:
            self._canon_press(1)
            try:
                time.sleep(self._bulb_s)
            finally:
                self._canon_release()

    def _collect(
        self,
        count: int,
        per_trigger: int,
        trigger: Callable[[int], None],
        exposure_s: float | None,
        *,
        release: Callable[[], None] | None = None,
    ) -> Iterator[Shot]:
        """Trigger frames and yield them in the order their FILE_ADDED events arrive.

        ``trigger(n)`` starts ``n`` frames (``n <= per_trigger``).  With one frame per trigger
        up to ``_MAX_IN_FLIGHT`` frames may be awaited at once; with more, the next release
        waits until every frame of the previous one has arrived.  ``release()``, if given, is
        called as soon as the last frame is reported (a held shutter release must not wait for
        the downloads, or it keeps shooting).
        """
        expected: deque[float] = deque()  # trigger times of frames not yet reported
        reported: deque[tuple[str, str, float, float]] = deque()
        stems: set[tuple[str, str]] = set()
        triggered = done = busy = 0
        exposure = exposure_s or 0.0
        timeout_s = exposure * per_trigger + _FILE_TIMEOUT_S
        last_progress = time.monotonic()
        prev_start = -math.inf
        while done < count:
            wait_ms = _EVENT_POLL_MS
            room = not expected if per_trigger > 1 else len(expected) < _MAX_IN_FLIGHT
            if triggered < count and room:
                n = min(per_trigger, count - triggered)
                t = time.time()
                try:
                    trigger(n)
                except gp.GPhoto2Error as err:
                    if err.code not in _BUSY_CODES:
                        raise _to_capture_error(err, f"triggering frame {triggered + 1}") from err
                    busy += 1
                    if busy > self.retries:
                        raise CameraBusy(
                            f"triggering frame {triggered + 1} of {count}: the camera stayed "
                            f"busy through {self.retries} retries ({_describe(err)}); "
                            f"{done} frames were downloaded and stay on the card with the rest"
                        ) from err
                    # Busy usually means the buffer is full: collect files while we back off.
                    wait_ms = max(1, int(1000 * self.backoff * 2 ** (busy - 1)))
                else:
                    busy = 0
                    expected.extend([t] * n)
                    triggered += n
                    last_progress = time.monotonic()
                    continue
            if reported:
                folder, name, t_trigger, t_reported = reported.popleft()
                data = self._download(folder, name)
                # An exposure starts after its trigger and after the previous one ended, and
                # ends before the camera reports its file.
                t_start = min(max(t_trigger, prev_start + exposure), t_reported)
                prev_start = t_start
                done += 1
                yield Shot(
                    name=name,
                    data=data,
                    t_start=t_start,
                    t_end=t_reported,
                    extra={"folder": folder, "t_trigger": t_trigger, "t_reported": t_reported},
                )
                continue
            kind, path = self._call("waiting for camera events", self._cam.wait_for_event, wait_ms)
            if kind == gp.GP_EVENT_FILE_ADDED:
                stem = (path.folder, path.name.rsplit(".", 1)[0])
                if not expected or stem in stems:
                    logger.warning(
                        "the camera reported %s/%s, which belongs to no frame we triggered "
                        "(RAW+JPEG pair, or a press of the shutter button); left on the card",
                        path.folder,
                        path.name,
                    )
                    continue
                stems.add(stem)
                reported.append((path.folder, path.name, expected.popleft(), time.time()))
                last_progress = time.monotonic()
                if release is not None and triggered == count and not expected:
                    release()
                    release = None
            elif expected and time.monotonic() - last_progress > timeout_s:
                raise CameraError(
                    f"expected {len(expected)} more file(s) from the camera, none arrived in "
                    f"{timeout_s:.0f} s; stopped after {done} of {count} frames (they stay on "
                    "the card); check the camera's display: a full card, or autofocus that "
                    "cannot lock in the dark (switch the lens to MF)"
                )

    def _download(self, folder: str, name: str) -> bytes:
        what = f"downloading {folder}/{name}"
        camera_file = self._call(what, self._cam.file_get, folder, name, gp.GP_FILE_TYPE_NORMAL)
        return bytes(self._call(what, camera_file.get_data_and_size))

    def _drain(self, when: str) -> None:
        """Consume queued events so stale FILE_ADDED reports cannot pose as this burst's."""
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            kind, path = self._call("waiting for camera events", self._cam.wait_for_event, 0)
            if kind == gp.GP_EVENT_TIMEOUT:
                return
            if kind == gp.GP_EVENT_FILE_ADDED:
                logger.warning(
                    "%s: the camera reported %s/%s, which is not part of a burst; left on the card",
                    when,
                    path.folder,
                    path.name,
                )

    # ----------------------------------------------------------------- closing

    def _check_open(self) -> None:
        if self._closed:
            raise CameraError(f"the camera on {self.port} was closed; open a new Gphoto2Camera")

    def close(self) -> None:
        """Put back every setting this object changed, then release the camera.

        Errors while restoring are logged, not raised.  Calling it twice does nothing.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._restore()
        finally:
            try:
                self._cam.exit()
            except gp.GPhoto2Error as err:
                logger.warning("releasing the camera on %s: %s", self.port, _describe(err))

    def __enter__(self) -> Gphoto2Camera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
