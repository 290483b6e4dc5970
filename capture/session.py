"""The session: capture's on-disk format, its writer and its reader.

Later stages read sessions only through this module.  A session directory holds::

    session.json     what was asked for: scene, lighting, camera, plan, turntable, versions
    journal.jsonl    what happened: append-only, one JSON object per line, fsynced per record
    dark/0000.dng    short exposures, one raw file per frame
    bright/0000.dng  long exposures (references)
    preroll/         frames a sweep shot at its start angle to time the camera (not frames
                     of a pass; each named by a ``preroll`` event)

``session.json`` (schema 1)::

    {"schema": 1, "session_id": "...", "scene": "desk", "kind": "static" | "sweep",
     "lighting": "...", "lux": 1.0 | null, "created": "2026-11-21T21:00:00Z",
     "camera": {"make": ..., "model": ..., "driver": "gphoto2" | "sim", "port": ...,
                "serial_sha256": "<salted hash>" | null, "sim": {...} | null},
     "plan": {"passes": {"dark": {"frames": 110, "iso": 2000, "shutter": "1/30",
                                  "aperture": null, "mode": "burst" | "continuous" | "step",
                                  "angles": [...] | null},
                         "bright": {...}},
              "order": ["dark", "bright"]},
     "turntable": null | {"port": ..., "steps": 24, "step_deg": 2.0, "start_angle": 0.0,
                          "dark_mode": "continuous", "feed_deg_s": ..., "settle_s": ...},
     "tool": {"name": "sublux", "version": "..."}}

Journal records all carry ``type`` and ``t`` (``time.time()``):

- ``start``: ``command``, ``passes`` (what this run will shoot), ``attempt``;
- ``frame``: ``pass``, ``index``, ``path`` (relative to the session), ``sha256``, ``size``,
  ``camera_name``, ``requested`` {iso, shutter, aperture}, ``readback`` {iso, shutter,
  shutter_s, aperture, bulb, format}, ``angle`` (read back from the controller, or null),
  ``t_start``, ``t_end``; ``turntable_stopped: true`` on a continuous-pass frame shot with
  the turntable standing still (the first, before it turns, or one shot after it had stopped
  at the end of the path);
- ``event``: ``what`` and free-form details (turntable homed, unjournaled file set aside, ...);
  ``what: "warning"`` marks something that changes what the data means (a plan not kept):
  it carries ``code`` and ``message``, and curation's report and the release's card show it;
  ``what: "preroll"`` names a pre-roll frame kept in ``preroll/`` (``pass``, ``path``,
  ``sha256``, ``size``, ``angle``, ``t_start``, ``t_end``); ``what: "sweep_pacing"`` says how
  a continuous pass was paced (``planned_fps``, ``preroll_fps``, ``measured_fps``,
  ``feed_deg_s`` per segment, ``frames_after_stop``);
- ``stop``: ``exit_status`` ``success`` | ``abort`` | ``fail`` and ``reason``.

A frame is journalled only after its file is whole on disk under its final name: it is
downloaded to ``<pass>/.<name>.part``, fsynced, hashed and renamed first.  A torn last line (a
power cut mid-append) is ignored on read.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capture import __version__
from capture.errors import FrameMismatch, SessionError, SessionExists
from capture.fsio import (
    append_jsonl,
    atomic_write_bytes,
    atomic_write_json,
    cut_torn_tail,
    sha256_bytes,
    sha256_file,
)
from capture.protocols import Applied, CameraInfo, Exposure, Shot

__all__ = [
    "PASSES",
    "SCHEMA_VERSION",
    "FrameRecord",
    "Session",
    "SessionWriter",
    "open_session",
    "read_frame_bytes",
    "read_journal",
    "serial_hash",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
PASSES = ("dark", "bright")
SESSION_FILE = "session.json"
JOURNAL_FILE = "journal.jsonl"
UNJOURNALED_DIR = "unjournaled"
PREROLL_DIR = "preroll"


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _salt() -> bytes:
    """The lab's private salt for camera serial numbers: ``$SUBLUX_SALT`` or a local file.

    The salt never enters a session or a release, so a published hash cannot be reversed by
    trying serial numbers, yet one lab's sessions from one body share a hash.
    """
    env = os.environ.get("SUBLUX_SALT")
    if env:
        return env.encode()
    cfg = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "sublux"
    path = cfg / "serial-salt"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        cfg.mkdir(parents=True, exist_ok=True)
        salt = secrets.token_hex(16).encode()
        atomic_write_bytes(path, salt)
        return salt


def serial_hash(serial: str | None) -> str | None:
    """Salted sha256 of a camera serial number (``None`` stays ``None``)."""
    if not serial:
        return None
    return hashlib.sha256(_salt() + b"\0" + serial.encode()).hexdigest()


def read_journal(path: str | os.PathLike) -> list[dict]:
    """Read a journal, tolerating a torn last line.

    A line that does not parse anywhere but at the end means the file was edited or damaged:
    that is an error, not something to skip silently.
    """
    path = Path(path)
    try:
        lines = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        raise SessionError(
            f"expected a journal at {path}, found none; is {path.parent} a sublux session?"
        ) from None
    records: list[dict] = []
    last = len(lines) - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    for n, raw in enumerate(lines[: last + 1], start=1):
        if not raw.strip():
            continue
        try:
            records.append(json.loads(raw))
        except (json.JSONDecodeError, UnicodeDecodeError):
            if n - 1 == last:
                log.warning("%s: ignoring a torn last line (%d bytes)", path, len(raw))
                continue
            raise SessionError(
                f"{path}, line {n}: expected one JSON object per line, found {raw[:60]!r}; "
                "the journal is append-only, so a bad line before the end means it was edited "
                "or damaged. Restore it from a backup."
            ) from None
    return records


@dataclass(frozen=True)
class FrameRecord:
    """One journalled frame, as later stages see it."""

    pass_: str
    index: int
    path: str
    sha256: str
    size: int
    iso: int | None
    shutter_s: float | None
    aperture: str | None
    angle: float | None
    t_start: float
    t_end: float
    camera_name: str = ""
    requested: dict = field(default_factory=dict)
    readback: dict = field(default_factory=dict)
    #: A frame of a continuous pass shot with the turntable standing still: the first one, at
    #: the start angle before the table turns, or one shot after the table had stopped at the
    #: end of the path (a camera that fell behind: it shows the end, not its planned angle).
    #: No motion blur either way.
    turntable_stopped: bool = False

    @classmethod
    def from_record(cls, rec: dict) -> FrameRecord:
        rb = rec.get("readback") or {}
        return cls(
            pass_=rec["pass"],
            index=int(rec["index"]),
            path=rec["path"],
            sha256=rec["sha256"],
            size=int(rec["size"]),
            iso=rb.get("iso"),
            shutter_s=rb.get("shutter_s"),
            aperture=rb.get("aperture"),
            angle=rec.get("angle"),
            t_start=float(rec["t_start"]),
            t_end=float(rec["t_end"]),
            camera_name=rec.get("camera_name", ""),
            requested=rec.get("requested") or {},
            readback=rb,
            turntable_stopped=bool(rec.get("turntable_stopped", False)),
        )


def read_frame_bytes(path: str | os.PathLike, frame: FrameRecord) -> bytes:
    """Read a journalled frame's bytes once, checked against its record (size and sha256).

    The bytes returned are what the journal vouches for: hash and decode them from memory,
    never by reading the file a second time.  Raises :class:`~capture.errors.FrameMismatch`
    (``missing``, ``size`` or ``hash_mismatch``, with the expected and found values).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FrameMismatch(
            f"{frame.path}: journalled but missing at {path}; restore it from a backup",
            path=frame.path,
            problem="missing",
            expected=frame.sha256,
            found="",
        ) from None
    if len(data) != frame.size:
        raise FrameMismatch(
            f"{frame.path}: expected {frame.size} bytes as journalled, found {len(data)}; the "
            "file changed after capture (truncated, replaced or edited)",
            path=frame.path,
            problem="size",
            expected=str(frame.size),
            found=str(len(data)),
        )
    digest = sha256_bytes(data)
    if digest != frame.sha256:
        raise FrameMismatch(
            f"{frame.path}: expected sha256 {frame.sha256} as journalled, found {digest}; the "
            "file changed after capture (replaced or edited)",
            path=frame.path,
            problem="hash_mismatch",
            expected=frame.sha256,
            found=digest,
        )
    return data


class Session:
    """A session directory opened for reading.  Cheap: reads two small files."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        meta_path = self.path / SESSION_FILE
        if not self.path.is_dir():
            raise SessionError(f"expected a session directory at {self.path}, found nothing there")
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise SessionError(
                f"expected {meta_path}, found none: {self.path} is not a sublux session "
                "(create one with `capture burst`, `capture reference` or `capture sweep`)"
            ) from None
        except json.JSONDecodeError as exc:
            raise SessionError(f"{meta_path} is not valid JSON ({exc})") from None
        schema = self.meta.get("schema")
        if schema != SCHEMA_VERSION:
            raise SessionError(
                f"{meta_path}: expected session schema {SCHEMA_VERSION}, found {schema!r}; "
                "upgrade sublux to read it"
            )
        self.records = read_journal(self.path / JOURNAL_FILE)

    # -- what was asked for -------------------------------------------------------------
    @property
    def session_id(self) -> str:
        return self.meta["session_id"]

    @property
    def scene(self) -> str:
        return self.meta["scene"]

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    @property
    def plan(self) -> dict:
        return self.meta["plan"]

    def planned(self, pass_: str) -> int:
        """Frames planned for a pass (0 if the plan has no such pass)."""
        p = self.plan["passes"].get(pass_)
        return int(p["frames"]) if p else 0

    # -- what happened -------------------------------------------------------------------
    def frames(self, pass_: str) -> list[FrameRecord]:
        """Journalled frames of a pass, in index order."""
        out = [FrameRecord.from_record(r) for r in self.records if r.get("type") == "frame"]
        return sorted((f for f in out if f.pass_ == pass_), key=lambda f: f.index)

    def frame_path(self, frame: FrameRecord) -> Path:
        return self.path / frame.path

    def read_frame(self, frame: FrameRecord) -> bytes:
        """A frame's bytes, read once and checked against its journal record
        (:func:`read_frame_bytes`)."""
        return read_frame_bytes(self.frame_path(frame), frame)

    @property
    def simulated(self) -> bool:
        """Whether the frames come from the simulated camera, not a real one."""
        return (self.meta.get("camera") or {}).get("driver") == "sim"

    @property
    def warnings(self) -> list[dict]:
        """Journalled warnings (``event`` records with ``what: "warning"``), in order."""
        return [r for r in self.records if r.get("type") == "event" and r.get("what") == "warning"]

    @property
    def stops(self) -> list[dict]:
        return [r for r in self.records if r.get("type") == "stop"]

    @property
    def last_stop(self) -> dict | None:
        stops = self.stops
        return stops[-1] if stops else None

    def remaining(self, pass_: str) -> list[int]:
        """Planned frame indices of a pass not yet journalled."""
        done = {f.index for f in self.frames(pass_)}
        return [i for i in range(self.planned(pass_)) if i not in done]

    @property
    def is_complete(self) -> bool:
        """Every planned frame is journalled and the last run ended in ``success``."""
        last = self.last_stop
        return (
            last is not None
            and last.get("exit_status") == "success"
            and not any(self.remaining(p) for p in self.plan["passes"])
        )

    def verify(self) -> list[str]:
        """Check every journalled frame against its size and sha256; return the problems."""
        problems = []
        for pass_ in self.plan["passes"]:
            for f in self.frames(pass_):
                p = self.frame_path(f)
                if not p.is_file():
                    problems.append(f"{f.path}: journalled but missing")
                elif p.stat().st_size != f.size:
                    problems.append(f"{f.path}: size {p.stat().st_size}, journal says {f.size}")
                elif sha256_file(p) != f.sha256:
                    problems.append(f"{f.path}: sha256 differs from the journal")
        return problems


def check_new_session_dir(path: str | os.PathLike) -> None:
    """Raise :class:`SessionExists` unless ``path`` is missing or an empty directory."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        what = "another session" if (path / SESSION_FILE).exists() else "other files"
        raise SessionExists(
            f"expected a new or empty directory for the session, found {what} at {path}; "
            "nothing was changed. Choose another --session path (or `capture resume` it)."
        )


def open_session(path: str | os.PathLike) -> Session:
    """Open a session directory for reading (raises :class:`SessionError`)."""
    return Session(path)


def _readback_dict(applied: Applied) -> dict:
    return {
        "iso": applied.iso,
        "shutter": applied.shutter,
        "shutter_s": applied.shutter_s,
        "aperture": applied.aperture,
        "bulb": applied.bulb,
        "format": applied.image_format,
    }


class SessionWriter:
    """Appends to a session: frames (atomically) and journal records (fsynced)."""

    def __init__(self, path: str | os.PathLike):
        self.session = Session(path)
        self.path = self.session.path
        # A torn last line (a kill mid-append) is cut before anything is appended after it,
        # and kept in unjournaled/ with an event record, like any other half-written file.
        journal = self.path / JOURNAL_FILE
        tail = cut_torn_tail(journal)
        if tail:
            dest_dir = self.path / UNJOURNALED_DIR
            dest_dir.mkdir(exist_ok=True)
            dest = dest_dir / f"{int(time.time() * 1000)}-journal-torn-line.jsonl"
            atomic_write_bytes(dest, tail)
            self.record(
                "event",
                what="cut_torn_journal_line",
                bytes=len(tail),
                to=dest.relative_to(self.path).as_posix(),
            )

    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        *,
        scene: str,
        kind: str,
        camera: CameraInfo,
        plan: dict,
        lighting: str = "",
        lux: float | None = None,
        turntable: dict | None = None,
        sim: dict | None = None,
    ) -> SessionWriter:
        """Create a new session directory; refuses to touch one that holds anything."""
        path = Path(path)
        if kind not in ("static", "sweep"):
            raise ValueError(f"kind must be 'static' or 'sweep', found {kind!r}")
        check_new_session_dir(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {
            "schema": SCHEMA_VERSION,
            "session_id": f"{scene}-{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%S}-"
            f"{uuid.uuid4().hex[:6]}",
            "scene": scene,
            "kind": kind,
            "lighting": lighting,
            "lux": lux,
            "created": _utc_now(),
            "camera": {
                "make": camera.make,
                "model": camera.model,
                "driver": camera.driver,
                "port": camera.port,
                "serial_sha256": serial_hash(camera.serial),
                "sim": sim,
            },
            "plan": plan,
            "turntable": turntable,
            "tool": {"name": "sublux", "version": __version__},
        }
        for p in PASSES:
            (path / p).mkdir(exist_ok=True)
        (path / JOURNAL_FILE).touch()
        atomic_write_json(path / SESSION_FILE, meta)
        return cls(path)

    def update_plan(self, passes: dict[str, dict], *, turntable: dict | None = None) -> None:
        """Add passes to the plan (never replaces a pass that already exists)."""
        meta = dict(self.session.meta)
        plan = dict(meta["plan"])
        existing = dict(plan["passes"])
        for name, spec in passes.items():
            if name in existing:
                raise SessionExists(
                    f"{self.path} already plans a {name} pass; nothing was changed. "
                    "Use `capture resume` to finish it, or a new --session."
                )
            existing[name] = spec
        plan["passes"] = existing
        plan["order"] = [p for p in PASSES if p in existing]
        meta["plan"] = plan
        if turntable is not None:
            meta["turntable"] = turntable
        atomic_write_json(self.path / SESSION_FILE, meta)
        self.session = Session(self.path)

    def record(self, type_: str, **fields: Any) -> dict:
        """Append one journal record (fsynced) and return it."""
        rec = {"type": type_, "t": time.time(), **fields}
        append_jsonl(self.path / JOURNAL_FILE, rec)
        self.session.records.append(rec)
        return rec

    def warn(self, code: str, message: str, **details: Any) -> dict:
        """Journal a warning: something that changes what the data means (shown by the run,
        curation's report and the release's card)."""
        log.warning("%s", message)
        return self.record("event", what="warning", code=code, message=message, **details)

    def start(self, command: str, passes: Iterable[str]) -> None:
        attempt = sum(1 for r in self.session.records if r.get("type") == "start") + 1
        self.record(
            "start", command=command, passes=list(passes), attempt=attempt, tool_version=__version__
        )

    def stop(self, exit_status: str, reason: str = "") -> None:
        if exit_status not in ("success", "abort", "fail"):
            raise ValueError(f"exit_status must be success, abort or fail, found {exit_status!r}")
        self.record("stop", exit_status=exit_status, reason=reason)

    def frame_relpath(self, pass_: str, index: int, camera_name: str) -> str:
        ext = Path(camera_name).suffix.lower() or ".raw"
        return f"{pass_}/{index:04d}{ext}"

    def set_aside_strays(self) -> list[str]:
        """Move files that are not journalled out of the pass folders, keeping them.

        A process killed between the rename of a frame and its journal record leaves a whole
        but unjournalled file; one killed mid-download leaves a ``.part``.  Neither is a frame of
        the session, and neither is deleted: both go to ``unjournaled/`` with an event record.
        """
        known = {f.path for p in PASSES for f in self.session.frames(p)}
        moved = []
        for pass_ in PASSES:
            d = self.path / pass_
            if not d.is_dir():
                continue
            for f in sorted(d.iterdir()):
                rel = f"{pass_}/{f.name}"
                if f.is_file() and rel not in known:
                    dest_dir = self.path / UNJOURNALED_DIR
                    dest_dir.mkdir(exist_ok=True)
                    dest = dest_dir / f"{int(time.time() * 1000)}-{pass_}-{f.name.lstrip('.')}"
                    os.replace(f, dest)
                    moved.append(rel)
                    self.record(
                        "event",
                        what="set_aside_unjournaled",
                        file=rel,
                        to=str(dest.relative_to(self.path)),
                    )
        return moved

    def write_frame(
        self,
        pass_: str,
        index: int,
        shot: Shot,
        *,
        requested: Exposure,
        applied: Applied,
        angle: float | None,
        extra: dict | None = None,
        turntable_stopped: bool = False,
    ) -> FrameRecord:
        """Write one frame's bytes atomically, then journal it.

        ``turntable_stopped`` marks a frame of a continuous pass shot with the turntable
        standing still: the first, before it turns, or one after it had stopped at the end of
        the path (``"turntable_stopped": true`` in its record).
        """
        if pass_ not in PASSES:
            raise ValueError(f"pass must be one of {PASSES}, found {pass_!r}")
        rel = self.frame_relpath(pass_, index, shot.name)
        final = self.path / rel
        if final.exists():
            raise SessionExists(
                f"{final} already exists; refusing to overwrite a captured frame. "
                "Run `capture resume` to set aside unjournalled files first."
            )
        atomic_write_bytes(final, shot.data)
        rec = self.record(
            "frame",
            **{"pass": pass_},
            index=index,
            path=rel,
            sha256=sha256_bytes(shot.data),
            size=len(shot.data),
            camera_name=shot.name,
            requested={
                "iso": requested.iso,
                "shutter": requested.shutter,
                "aperture": requested.aperture,
            },
            readback=_readback_dict(applied),
            angle=angle,
            t_start=shot.t_start,
            t_end=shot.t_end,
            **({"extra": extra} if extra else {}),
            **({"turntable_stopped": True} if turntable_stopped else {}),
        )
        return FrameRecord.from_record(rec)

    def write_preroll(
        self, pass_: str, shot: Shot, *, applied: Applied, angle: float | None
    ) -> dict:
        """Keep a pre-roll frame (shot to time the camera, outside the pass) and journal it.

        The file goes to ``preroll/<pass>-NNNN<ext>`` (the first free number: never over
        another file), then an ``event`` record ``what: "preroll"`` names it with its sha256,
        size, times and angle.  Pre-roll frames are real captures, kept, never frames of a pass.
        """
        if pass_ not in PASSES:
            raise ValueError(f"pass must be one of {PASSES}, found {pass_!r}")
        folder = self.path / PREROLL_DIR
        folder.mkdir(exist_ok=True)
        ext = Path(shot.name).suffix.lower() or ".raw"
        n = sum(1 for r in self.session.records if r.get("what") == "preroll")
        while (folder / f"{pass_}-{n:04d}{ext}").exists():
            n += 1  # a file written before a kill, never journalled: keep it, take the next
        final = folder / f"{pass_}-{n:04d}{ext}"
        atomic_write_bytes(final, shot.data)
        return self.record(
            "event",
            what="preroll",
            **{"pass": pass_},
            path=final.relative_to(self.path).as_posix(),
            sha256=sha256_bytes(shot.data),
            size=len(shot.data),
            camera_name=shot.name,
            readback=_readback_dict(applied),
            angle=angle,
            t_start=shot.t_start,
            t_end=shot.t_end,
        )
