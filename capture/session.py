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
  the turntable standing still (the first, before it turns, one shot after it had stopped
  at the end of the path, or one shot stepped by a resume, below);
- ``event``: ``what`` and free-form details (turntable homed, unjournaled file set aside, ...);
  ``what: "warning"`` marks something that changes what the data means (a plan not kept):
  it carries ``code`` and ``message``, and curation's report and the release's card show it;
  ``what: "repair"`` is written by ``capture repair`` (see :mod:`capture.repair`), with
  ``damaged_lines``, ``frames_unvouched``, ``files_moved``, ``original_journal``;
  ``what: "replaced_interrupted_creation"`` by a creation that cleared a killed one's skeleton;
  ``what: "preroll"`` names a pre-roll frame kept in ``preroll/`` (``pass``, ``path``,
  ``sha256``, ``size``, ``angle``, ``t_start``, ``t_end``); ``what: "sweep_pacing"`` says how
  a continuous pass was paced (``planned_fps``, ``preroll_fps``, ``measured_fps``,
  ``feed_deg_s`` per segment, ``frames_after_stop``); ``what: "stepped_refill"`` (``pass``,
  ``indices``) says a resume shot those frames of a continuous pass stepped, each at its
  planned angle with the table standing still, because they were missing before the end of
  the pass (un-vouched by ``capture repair``);
- ``stop``: ``exit_status`` ``success`` | ``abort`` | ``fail`` and ``reason`` (a stop asked
  for by a signal names it: "stopped by SIGTERM ..." / "stopped by the user (Ctrl-C /
  SIGINT) ...").

A frame is journalled only after its file is whole on disk under its final name: it is
downloaded to ``<pass>/.<name>.part``, fsynced, hashed and renamed first.

Imported sessions (``capture import``, :mod:`capture.importer`) use the same format, plus:

- ``session.json``: ``camera.driver`` is ``"import"`` (make, model and the salted serial hash
  from the files' metadata; ``camera.simulated: true`` when the files are the simulated
  camera's DNGs); a top-level ``import`` {``passes``: {pass: {``kind``: ``folder`` | ``video``,
  ``source``: the folder's or video's *name*}}, ``link``}; each planned pass has ``mode``
  ``imported`` (raw files) or ``video`` and ``source`` {``kind``, ``name``, ``files``: the
  source file names in frame order} (how a re-run knows which file is which frame);
- ``frame`` records of raw files: ``camera_name`` is the source file name, ``readback`` what
  the metadata (or ``--exposure``/``--iso``) says, ``t_start`` the EXIF time of capture (the
  frame's index where none is recorded), and ``imported`` {``source``, ``capture_time``,
  ``make``, ``model``, ``serial_sha256``, ``exposure_from``: ``metadata`` | ``given``,
  ``linked``};
- a video pass is one file, ``<pass>/video<ext>``, journalled once by an ``event``
  ``what: "video"`` (``pass``, ``path``, ``sha256``, ``size``, ``source``, ``fps``,
  ``duration_s``, ``codec`` (FourCC), ``frame_count``, ``width``, ``height``, ``linked``), then
  one ``frame`` record per frame with ``video_frame`` (its index in the container) and the
  video's ``path``, ``sha256`` and ``size``; ``t_start`` is seconds from the video's start.
  :attr:`FrameRecord.name` is then ``video.mp4#000012``;
- ``event`` ``what: "import"`` (first run): ``sources`` {pass: {``kind``, ``name``,
  ``files``}}; ``event`` ``what: "import_skipped"`` (``pass``, ``file``, ``reason``) for each
  file of a folder that could not be imported; a warning ``video_with_raw_references`` when the
  dark pass is a video and the references raw.

No absolute path is journalled: sources are named by their names only.

Typed records carry what crosses into later stages, each with ``from_json``/``to_json`` (the
JSON as written, key for key in the same order): :class:`FrameRecord` (a ``frame`` record),
:class:`VideoRecord` (a ``video`` event), :class:`WarningRecord` (a ``warning`` event),
:class:`StopRecord` (a ``stop`` record), :class:`SessionCamera` (``session.json``'s
``camera``).  The writers build them and journal ``to_json()``; :class:`Session` reads them
back with ``from_json`` (a record missing a field it needs raises
:class:`~capture.errors.MalformedRecord`).

Reading keeps every valid record and names each damaged line (:class:`DamagedLine`, logged as a
warning, listed in :attr:`Session.damaged` and shown in :attr:`Session.warnings`).  A torn last
line without a newline (a kill mid-append) is cut by the next writer and kept in
``unjournaled/``; any other damaged line (one before the end, or a last line that does not
parse even though it ends with a newline) makes every writer refuse, naming ``capture repair``.

One writer at a time: :class:`SessionWriter` holds the session's lock (:mod:`capture.lock`,
``SESSION/.lock``) from opening to :meth:`SessionWriter.close` (or the process's end).

A session folder either is a session (with ``session.json``) or does not exist: it is built in
a hidden sibling ``.NAME.creating-PID`` and renamed into place whole.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime as _dt
import errno
import hashlib
import json
import logging
import math
import os
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capture.errors import (
    BadSessionInfo,
    FrameMismatch,
    JournalDamaged,
    MalformedRecord,
    NotASession,
    SessionError,
    SessionExists,
    StorageError,
    storage_errors,
)
from capture.lock import LOCK_FILE, SessionLock
from capture.protocols import Applied, CameraInfo, Exposure, Shot
from sublux_common import __version__
from sublux_common.fsio import (
    PART_SUFFIX,
    append_jsonl,
    atomic_write_bytes,
    atomic_write_json,
    crash_point,
    cut_torn_tail,
    fsync_dir,
)
from sublux_common.hashing import sha256_bytes, sha256_file
from sublux_common.names import NAME_RULE, name_problem

__all__ = [
    "EXIT_STATUSES",
    "FRAME_KEYS",
    "PASSES",
    "SCHEMA_VERSION",
    "STOP_KEYS",
    "VIDEO_KEYS",
    "WARNING_KEYS",
    "DamagedLine",
    "FrameRecord",
    "Journal",
    "Session",
    "SessionCamera",
    "SessionWriter",
    "StopRecord",
    "VideoRecord",
    "WarningRecord",
    "check_new_session_dir",
    "check_scene_and_lux",
    "finish_interrupted_creation",
    "load_journal",
    "open_session",
    "read_frame_bytes",
    "read_journal",
    "readback_fields",
    "requested_fields",
    "serial_hash",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
PASSES = ("dark", "bright")
SESSION_FILE = "session.json"
JOURNAL_FILE = "journal.jsonl"
UNJOURNALED_DIR = "unjournaled"
CREATING = ".creating-"
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


def unjournaled_path(root: Path, label: str) -> Path:
    """Where to keep bytes that are no frame of the session (never deleted): a new name in
    ``root/unjournaled/`` (made if missing), stamped with the time so nothing is overwritten.

    Parameters
    ----------
    root : Path
        The session's folder.
    label : str
        What the bytes are, for the name (leading dots dropped, so the file is not hidden).
    """
    dest_dir = root / UNJOURNALED_DIR
    dest_dir.mkdir(exist_ok=True)
    return dest_dir / f"{int(time.time() * 1000)}-{label.lstrip('.')}"


@dataclass(frozen=True)
class DamagedLine:
    """A journal line that is not a JSON record: where it is and what is there."""

    line: int
    """1-based line number."""
    offset: int
    """Byte offset of the line's start in the journal."""
    size: int
    """Bytes in the line, without its newline."""
    preview: str
    """The first bytes, as Python writes them (``b'...'``)."""
    newline: bool
    """Whether the line ends with a newline."""
    last: bool
    """Whether it is the last non-blank line."""

    @property
    def torn(self) -> bool:
        """A torn tail: the last line, without its newline (a kill mid-append).

        Appends are one ``write`` of a whole line, so only an append that died leaves one; a
        writer may cut it (keeping the bytes).  Anything else needs ``capture repair``.
        """
        return self.last and not self.newline

    def describe(self) -> str:
        kind = "torn last line" if self.torn else "line"
        return f"{kind} {self.line} ({self.size} bytes at offset {self.offset}: {self.preview})"

    def to_json(self) -> dict:
        return {
            "line": self.line,
            "offset": self.offset,
            "bytes": self.size,
            "preview": self.preview,
            "newline": self.newline,
        }


@dataclass
class Journal:
    """A journal as read: every valid record, and every damaged line named."""

    path: Path
    records: list[dict]
    damaged: list[DamagedLine]
    unterminated: bool = False
    """The last line is a valid record without its newline (one must be added before the
    next append)."""

    @property
    def torn(self) -> DamagedLine | None:
        """The torn tail, if the journal ends with one."""
        return next((d for d in self.damaged if d.torn), None)

    @property
    def needs_repair(self) -> list[DamagedLine]:
        """Damaged lines that only ``capture repair`` may deal with (all but a torn tail)."""
        return [d for d in self.damaged if not d.torn]


def _record_head(kind: str, t: float | None) -> dict[str, Any]:
    """A journal record's first keys: ``type``, then ``t`` when it is set."""
    return {"type": kind} if t is None else {"type": kind, "t": t}


def _parse_record(raw: bytes) -> dict | None:
    try:
        rec = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(rec, dict) or not isinstance(rec.get("type"), str):
        return None
    return rec


def load_journal(path: str | os.PathLike) -> Journal:
    """Read a journal, keeping every valid record and naming every damaged line.

    A damaged line is one that is not a JSON object with a ``type``.  Blank lines are skipped.
    Raises :class:`SessionError` only when there is no journal at all.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SessionError(
            f"expected a journal at {path}, found none; is {path.parent} a sublux session?"
        ) from None
    lines = data.split(b"\n")
    # split() leaves one element after the last newline: b"" when the file ends with one.
    last = len(lines) - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    records: list[dict] = []
    damaged: list[DamagedLine] = []
    unterminated = False
    offset = 0
    for i, raw in enumerate(lines):
        has_newline = i < len(lines) - 1
        if raw.strip():
            rec = _parse_record(raw)
            if rec is None:
                damaged.append(
                    DamagedLine(
                        line=i + 1,
                        offset=offset,
                        size=len(raw),
                        preview=repr(raw[:60]),
                        newline=has_newline,
                        last=i == last,
                    )
                )
            else:
                records.append(rec)
                if i == last and not has_newline:
                    unterminated = True
        offset += len(raw) + 1
    return Journal(path, records, damaged, unterminated)


def read_journal(path: str | os.PathLike) -> list[dict]:
    """Every valid record of a journal; each damaged line is logged as a warning and skipped.

    Use :func:`load_journal` to get the damaged lines themselves.
    """
    journal = load_journal(path)
    for d in journal.damaged:
        log.warning("%s: skipping damaged %s", journal.path, d.describe())
    return journal.records


#: The keys of a ``frame`` record, in the order the journal writes them (optional ones only
#: when set: ``video_frame`` for a frame of an imported video, ``extra``, ``turntable_stopped``
#: when true, ``imported`` for an imported raw file).
FRAME_KEYS = (
    "type",
    "t",
    "pass",
    "index",
    "path",
    "sha256",
    "size",
    "camera_name",
    "video_frame",
    "requested",
    "readback",
    "angle",
    "t_start",
    "t_end",
    "extra",
    "turntable_stopped",
    "imported",
)


_FRAME_EXPECTED = "a frame record with pass, index, path, sha256, size, t_start and t_end"


def _malformed(rec: dict, why: str, expected: str = _FRAME_EXPECTED) -> MalformedRecord:
    shown = json.dumps(rec, default=str)
    shown = shown if len(shown) <= 200 else shown[:200] + " ..."
    return MalformedRecord(
        f"expected {expected}, found {why} in {shown}; run `capture repair` on the session (it "
        "un-journals malformed records, keeping the original journal)"
    )


def _whole(rec: dict, key: str) -> int:
    value = rec[key]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _malformed(rec, f"{key} {value!r} (not a whole number)") from None


def _seconds(rec: dict, key: str) -> float:
    value = rec[key]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value  # as written: 12 stays 12, so the record re-serializes byte for byte
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _malformed(rec, f"{key} {value!r} (not a number)") from None


@dataclass(frozen=True)
class FrameRecord:
    """One journalled frame: the ``frame`` record of ``journal.jsonl``, typed.

    The writer builds each record as a :class:`FrameRecord` and journals :meth:`to_json`;
    readers get them back with :meth:`from_json`, so both share this one definition.
    ``from_json(rec).to_json() == rec`` key for key, in the journal's order
    (:data:`FRAME_KEYS`), for every record a sublux writer wrote.
    """

    pass_: str
    index: int
    path: str
    sha256: str
    size: int
    angle: float | None
    t_start: float
    t_end: float
    camera_name: str = ""
    requested: dict = field(default_factory=dict)
    """What was asked for: ``iso``, ``shutter``, ``aperture``."""
    readback: dict = field(default_factory=dict)
    """What the camera reported: ``iso``, ``shutter``, ``shutter_s``, ``aperture``, ``bulb``,
    ``format``."""
    #: A frame of a continuous pass shot with the turntable standing still: the first one, at
    #: the start angle before the table turns, or one shot after the table had stopped at the
    #: end of the path (a camera that fell behind: it shows the end, not its planned angle).
    #: No motion blur either way.
    turntable_stopped: bool = False
    #: A frame of an imported video pass: its index in the container.  ``path``, ``sha256``
    #: and ``size`` are then the video file's (the file is the journalled unit).
    video_frame: int | None = None
    t: float | None = None
    """When the record was journalled (``time.time()``); None for a record not yet written."""
    extra: dict | None = None
    """Free-form details a caller journalled with the frame (``extra``), or None."""
    imported: dict | None = None
    """Where an imported raw file came from (``imported``: ``source``, ``capture_time``,
    ``make``, ``model``, ``serial_sha256``, ``exposure_from``, ``linked``), or None."""
    other: dict = field(default_factory=dict)
    """Keys of the record this version does not know, kept so nothing read is lost."""

    @property
    def iso(self) -> int | None:
        """The ISO the camera reported (``readback.iso``)."""
        return self.readback.get("iso")

    @property
    def shutter_s(self) -> float | None:
        """The exposure time in seconds the camera reported (``readback.shutter_s``)."""
        return self.readback.get("shutter_s")

    @property
    def aperture(self) -> str | None:
        """The aperture the camera reported (``readback.aperture``)."""
        return self.readback.get("aperture")

    @property
    def name(self) -> str:
        """The frame's name within its pass: its file's name (``0003.dng``), or for a frame of
        an imported video the video's name and the frame's index (``video.mp4#000003``)."""
        base = Path(self.path).name
        return base if self.video_frame is None else f"{base}#{self.video_frame:06d}"

    @classmethod
    def from_json(cls, rec: dict) -> FrameRecord:
        """The frame a journal record describes.

        Parameters
        ----------
        rec : dict
            One ``frame`` record of ``journal.jsonl``, as parsed.

        Returns
        -------
        FrameRecord

        Raises
        ------
        capture.errors.MalformedRecord
            A field a frame needs is missing or of the wrong kind.
        """
        if not isinstance(rec, dict):
            raise _malformed({"record": rec}, "no JSON object")
        missing = [k for k in ("pass", "index", "path", "sha256", "size") if k not in rec]
        missing += [k for k in ("t_start", "t_end") if k not in rec]
        if missing:
            raise _malformed(rec, f"no {', '.join(missing)}")
        video_frame = rec.get("video_frame")
        return cls(
            pass_=rec["pass"],
            index=_whole(rec, "index"),
            path=rec["path"],
            sha256=rec["sha256"],
            size=_whole(rec, "size"),
            angle=rec.get("angle"),
            t_start=_seconds(rec, "t_start"),
            t_end=_seconds(rec, "t_end"),
            camera_name=rec.get("camera_name", ""),
            requested=rec.get("requested") or {},
            readback=rec.get("readback") or {},
            turntable_stopped=bool(rec.get("turntable_stopped", False)),
            video_frame=None if video_frame is None else _whole(rec, "video_frame"),
            t=rec.get("t"),
            extra=rec.get("extra"),
            imported=rec.get("imported"),
            other={k: v for k, v in rec.items() if k not in FRAME_KEYS},
        )

    def to_json(self) -> dict:
        """The journal record of this frame, key for key in the order the writer writes.

        Optional keys appear only when set: ``t`` when not None, ``video_frame`` for a frame
        of an imported video, ``extra`` when not None, ``turntable_stopped`` when true,
        ``imported`` for an imported raw file; unknown keys read by :meth:`from_json` last.
        """
        rec = _record_head("frame", self.t)
        rec |= {
            "pass": self.pass_,
            "index": self.index,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "camera_name": self.camera_name,
        }
        if self.video_frame is not None:
            rec["video_frame"] = self.video_frame
        rec |= {
            "requested": self.requested,
            "readback": self.readback,
            "angle": self.angle,
            "t_start": self.t_start,
            "t_end": self.t_end,
        }
        if self.extra is not None:
            rec["extra"] = self.extra
        if self.turntable_stopped:
            rec["turntable_stopped"] = True
        if self.imported is not None:
            rec["imported"] = self.imported
        return rec | self.other


#: The keys of a ``video`` event, in the order the journal writes them.
VIDEO_KEYS = (
    "type",
    "t",
    "what",
    "pass",
    "path",
    "sha256",
    "size",
    "source",
    "fps",
    "duration_s",
    "codec",
    "frame_count",
    "width",
    "height",
    "linked",
)


@dataclass(frozen=True)
class VideoRecord:
    """The video of an imported video pass: its ``event`` record ``what: "video"``, typed.

    The video file is the journalled unit (its frames' records name it); ``capture import``
    writes :meth:`to_json`, :meth:`Session.video` reads it back with :meth:`from_json`.
    """

    pass_: str
    path: str
    """The file in the session (``dark/video.mp4``)."""
    sha256: str
    size: int
    source: str
    """The source video's name (never its path)."""
    fps: float
    duration_s: float
    codec: str
    """The container's FourCC, as OpenCV's FFmpeg backend names it (``FMP4``)."""
    frame_count: int
    width: int
    height: int
    linked: bool = False
    """Hard-linked from the source rather than copied."""
    t: float | None = None
    """When the record was journalled; None for a record not yet written."""
    other: dict = field(default_factory=dict)
    """Keys of the record this version does not know, kept so nothing read is lost."""

    @classmethod
    def from_json(cls, rec: dict) -> VideoRecord:
        """The video a journal record describes.

        Parameters
        ----------
        rec : dict
            One ``event`` record with ``what: "video"``, as parsed.

        Returns
        -------
        VideoRecord

        Raises
        ------
        capture.errors.MalformedRecord
            A field is missing.
        """
        needed = VIDEO_KEYS[3:-1]
        missing = [k for k in needed if k not in rec]
        if missing:
            expected = f"a video record with {', '.join(needed)}"
            raise _malformed(rec, f"no {', '.join(missing)}", expected)
        return cls(
            pass_=rec["pass"],
            path=rec["path"],
            sha256=rec["sha256"],
            size=rec["size"],
            source=rec["source"],
            fps=rec["fps"],
            duration_s=rec["duration_s"],
            codec=rec["codec"],
            frame_count=rec["frame_count"],
            width=rec["width"],
            height=rec["height"],
            linked=bool(rec.get("linked", False)),
            t=rec.get("t"),
            other={k: v for k, v in rec.items() if k not in VIDEO_KEYS},
        )

    def to_json(self) -> dict:
        """The journal record of this video, key for key in the order the importer writes."""
        rec = _record_head("event", self.t)
        rec |= {
            "what": "video",
            "pass": self.pass_,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "source": self.source,
            "fps": self.fps,
            "duration_s": self.duration_s,
            "codec": self.codec,
            "frame_count": self.frame_count,
            "width": self.width,
            "height": self.height,
            "linked": self.linked,
        }
        return rec | self.other


@dataclass(frozen=True)
class SessionCamera:
    """The camera a session was shot with: ``session.json``'s ``camera``, typed.

    :meth:`SessionWriter.create` writes :meth:`to_json`; :attr:`Session.camera` reads it back
    with :meth:`from_json`.  The serial number itself is never stored, only its salted hash.
    """

    make: str | None
    model: str | None
    driver: str | None
    """``gphoto2``, ``sim`` or ``import``."""
    port: str | None = None
    serial_sha256: str | None = None
    """The salted sha256 of the serial number (:func:`serial_hash`), or None."""
    sim: dict | None = None
    """The simulated camera's settings (``size``, ``seed``, ``lux``, ``objects``), or None."""
    simulated: bool = False
    """Frames the simulated camera made that another driver brought in (an import of its
    DNGs); written only when true."""

    @classmethod
    def from_camera(
        cls, camera: CameraInfo, *, sim: dict | None = None, simulated: bool = False
    ) -> SessionCamera:
        """The record of an open camera (its serial number hashed with the lab's salt)."""
        return cls(
            make=camera.make,
            model=camera.model,
            driver=camera.driver,
            port=camera.port,
            serial_sha256=serial_hash(camera.serial),
            sim=sim,
            simulated=simulated,
        )

    @classmethod
    def from_json(cls, data: dict | None) -> SessionCamera:
        """The camera ``session.json`` records (every field None when it records none)."""
        data = data or {}
        return cls(
            make=data.get("make"),
            model=data.get("model"),
            driver=data.get("driver"),
            port=data.get("port"),
            serial_sha256=data.get("serial_sha256"),
            sim=data.get("sim"),
            simulated=bool(data.get("simulated", False)),
        )

    def to_json(self) -> dict:
        """``session.json``'s ``camera``, key for key in the order sublux writes it."""
        return {
            "make": self.make,
            "model": self.model,
            "driver": self.driver,
            "port": self.port,
            "serial_sha256": self.serial_sha256,
            "sim": self.sim,
            **({"simulated": True} if self.simulated else {}),
        }


def _text(rec: dict, key: str) -> str:
    """``rec[key]`` as text: ``""`` when missing or null (a hand-edited line), else ``str``."""
    value = rec.get(key)
    return "" if value is None else value if isinstance(value, str) else str(value)


#: The keys of a warning (an ``event`` record with ``what: "warning"``), in the order the
#: journal writes them; a warning's own details follow.
WARNING_KEYS = ("type", "t", "what", "code", "message")


@dataclass(frozen=True)
class WarningRecord:
    """A journalled warning: an ``event`` record with ``what: "warning"``, typed.

    Something that changes what the data means (a plan not kept); the run prints it, and
    curation's report and the release's card show it.  :meth:`SessionWriter.warn` journals
    :meth:`to_json`; :attr:`Session.warnings` reads them back with :meth:`from_json` (and adds
    the warnings the reader itself finds: ``duplicate_frames``, ``journal_damaged``).
    ``from_json(rec).to_json() == rec`` key for key, in the journal's order, for every warning
    a sublux writer wrote.
    """

    code: str
    """What kind of warning (``sweep_behind_plan``, ``journal_repaired`` ...)."""
    message: str
    """What happened and what to do, in words."""
    t: float | None = None
    """When the record was journalled; None for one not journalled (found by the reader)."""
    details: dict = field(default_factory=dict)
    """The warning's facts (``fps``, ``frames``, ``lines`` ...), and any key this version does
    not know: every key after ``message``, in the journal's order."""

    @classmethod
    def from_json(cls, rec: dict) -> WarningRecord:
        """The warning a journal record describes.

        Parameters
        ----------
        rec : dict
            One ``event`` record with ``what: "warning"``, as parsed.  A missing ``code`` or
            ``message`` reads as ``""`` (sublux always writes both).

        Returns
        -------
        WarningRecord
        """
        return cls(
            code=_text(rec, "code"),
            message=_text(rec, "message"),
            t=rec.get("t"),
            details={k: v for k, v in rec.items() if k not in WARNING_KEYS},
        )

    def to_json(self) -> dict:
        """The journal record of this warning, key for key in the order the writer writes
        (``t`` only when set; the details last)."""
        body = {"what": "warning", "code": self.code, "message": self.message}
        return _record_head("event", self.t) | body | self.details


#: The keys of a ``stop`` record, in the order the journal writes them.
STOP_KEYS = ("type", "t", "exit_status", "reason")
#: How a run can end (a ``stop`` record's ``exit_status``, as bluesky's run documents say it).
EXIT_STATUSES = ("success", "abort", "fail")


@dataclass(frozen=True)
class StopRecord:
    """How a run ended: the journal's ``stop`` record, typed.

    :meth:`SessionWriter.stop` journals :meth:`to_json`; :attr:`Session.stops` and
    :attr:`Session.last_stop` read them back with :meth:`from_json`.
    ``from_json(rec).to_json() == rec`` key for key, for every stop record sublux wrote.
    """

    exit_status: str
    """``success``, ``abort`` or ``fail`` (:data:`EXIT_STATUSES`)."""
    reason: str = ""
    """Why, in words (a stop asked for by a signal names it)."""
    t: float | None = None
    """When the record was journalled; None for a record not yet written."""
    other: dict = field(default_factory=dict)
    """Keys of the record this version does not know, kept so nothing read is lost."""

    @property
    def success(self) -> bool:
        """Whether the run ended as planned (``exit_status`` ``success``)."""
        return self.exit_status == "success"

    @classmethod
    def from_json(cls, rec: dict) -> StopRecord:
        """The stop a journal record describes.

        Parameters
        ----------
        rec : dict
            One ``stop`` record, as parsed.  A missing ``exit_status`` or ``reason`` reads as
            ``""`` (sublux always writes both).

        Returns
        -------
        StopRecord
        """
        return cls(
            exit_status=_text(rec, "exit_status"),
            reason=_text(rec, "reason"),
            t=rec.get("t"),
            other={k: v for k, v in rec.items() if k not in STOP_KEYS},
        )

    def to_json(self) -> dict:
        """The journal record of this stop, key for key in the order the writer writes."""
        body = {"exit_status": self.exit_status, "reason": self.reason}
        return _record_head("stop", self.t) | body | self.other


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
            raise NotASession(f"expected a session directory at {self.path}, found nothing there")
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise NotASession(
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
        self.journal = load_journal(self.path / JOURNAL_FILE)
        self.records = self.journal.records
        self._frames: dict[str, list[FrameRecord]] | None = None  # by pass, built on first use
        for d in self.journal.damaged:
            log.warning(
                "%s: skipping damaged %s%s",
                self.journal.path,
                d.describe(),
                "" if d.torn else f"; run `capture repair {self.path}`",
            )

    @property
    def damaged(self) -> list[DamagedLine]:
        """The journal's damaged lines (a torn tail included), skipped on read."""
        return self.journal.damaged

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
        """Journalled frames of a pass, in index order (a frame journalled twice, twice, in
        journal order).

        Built from the journal once per session object and kept up to date as its writer
        journals frames, so asking after every frame of a long pass costs a copy of the list,
        not a parse of the whole journal.
        """
        if self._frames is None:
            built: dict[str, list[FrameRecord]] = {}
            for r in self.records:
                if r.get("type") == "frame":
                    f = FrameRecord.from_json(r)
                    built.setdefault(f.pass_, []).append(f)
            for frames in built.values():
                frames.sort(key=lambda f: f.index)  # stable: twins stay in journal order
            self._frames = built
        return list(self._frames.get(pass_, ()))

    def _add_record(self, rec: dict, typed: FrameRecord | VideoRecord | None = None) -> None:
        """Take a record the writer has just journalled (:meth:`SessionWriter._append`);
        ``typed``: the record it was written from, if any (a frame is not parsed again)."""
        self.records.append(rec)
        if self._frames is not None and rec.get("type") == "frame":
            f = typed if isinstance(typed, FrameRecord) else FrameRecord.from_json(rec)
            bisect.insort_right(self._frames.setdefault(f.pass_, []), f, key=lambda g: g.index)

    def frame_path(self, frame: FrameRecord) -> Path:
        return self.path / frame.path

    def read_frame(self, frame: FrameRecord) -> bytes:
        """A frame's bytes, read once and checked against its journal record
        (:func:`read_frame_bytes`)."""
        return read_frame_bytes(self.frame_path(frame), frame)

    @property
    def camera(self) -> SessionCamera:
        """The camera the session was shot with (``session.json``'s ``camera``)."""
        return SessionCamera.from_json(self.meta.get("camera"))

    @property
    def lighting(self) -> str:
        """The lighting, in the operator's words (``""`` when none was given)."""
        return self.meta.get("lighting") or ""

    @property
    def lux(self) -> float | None:
        """The measured illuminance, or None."""
        return self.meta.get("lux")

    @property
    def simulated(self) -> bool:
        """Whether the frames come from the simulated camera, not a real one."""
        cam = self.camera
        # an imported folder of the simulated camera's DNGs is simulated too
        return cam.driver == "sim" or cam.simulated

    @property
    def imported(self) -> dict | None:
        """What ``capture import`` recorded in ``session.json`` (``import``), or None for a
        session sublux shot itself."""
        return self.meta.get("import")

    def video(self, pass_: str) -> VideoRecord | None:
        """The journalled video of an imported video pass (its ``video`` event), or None for
        a pass of raw files."""
        for r in self.records:
            if r.get("type") == "event" and r.get("what") == "video" and r.get("pass") == pass_:
                return VideoRecord.from_json(r)
        return None

    @property
    def warnings(self) -> list[WarningRecord]:
        """Journalled warnings (``event`` records with ``what: "warning"``), in order.

        A journal with damaged lines (other than a torn tail) gets one more, code
        ``journal_damaged``: a skipped line may have been a frame, a warning or a stop record,
        so whatever is built from this session must say so.  Frames journalled twice add
        ``duplicate_frames`` before it.  These two are the reader's (no ``t``): they are not in
        the journal.
        """
        found = [
            WarningRecord.from_json(r)
            for r in self.records
            if r.get("type") == "event" and r.get("what") == "warning"
        ]
        doubled = self.duplicates
        if doubled:
            shown = ", ".join(f"{p}/{i:04d}" for p, i in doubled[:5])
            found.append(
                WarningRecord(
                    code="duplicate_frames",
                    message=f"{len(doubled)} frame index(es) journalled more than once "
                    f"({shown}): two writers ran at once; at most one record per index matches "
                    f"its file. Run `capture repair {self.path}`",
                    details={"frames": [[p, i] for p, i in doubled]},
                )
            )
        bad = self.journal.needs_repair
        if bad:
            found.append(
                WarningRecord(
                    code="journal_damaged",
                    message=f"{len(bad)} damaged journal line(s) skipped ("
                    + "; ".join(d.describe() for d in bad[:3])
                    + (" ..." if len(bad) > 3 else "")
                    + f"): what they held is unknown; run `capture repair {self.path}`",
                    details={"lines": [d.line for d in bad]},
                )
            )
        return found

    @property
    def duplicates(self) -> list[tuple[str, int]]:
        """(pass, index) of frames journalled more than once (two writers at once, before
        sessions were locked); ``capture repair`` keeps the record the file matches."""
        seen: set[tuple[str, int]] = set()
        doubled: list[tuple[str, int]] = []
        for r in self.records:
            if r.get("type") != "frame":
                continue
            key = (r.get("pass"), r.get("index"))
            if key in seen and key not in doubled:
                doubled.append(key)
            seen.add(key)
        return doubled

    @property
    def stops(self) -> list[StopRecord]:
        """Every run's ``stop`` record, in order."""
        return [StopRecord.from_json(r) for r in self.records if r.get("type") == "stop"]

    @property
    def last_stop(self) -> StopRecord | None:
        """How the last run ended, or None when no run has ended (a kill, or none yet)."""
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
            and last.success
            and not any(self.remaining(p) for p in self.plan["passes"])
        )

    def verify(self) -> list[str]:
        """Check every journalled frame against its size and sha256; return the problems."""
        problems = []
        checked: set[tuple[str, str, int]] = set()  # a video's frames share one file
        for pass_ in self.plan["passes"]:
            for f in self.frames(pass_):
                if (f.path, f.sha256, f.size) in checked:
                    continue
                checked.add((f.path, f.sha256, f.size))
                p = self.frame_path(f)
                if not p.is_file():
                    problems.append(f"{f.path}: journalled but missing")
                elif p.stat().st_size != f.size:
                    problems.append(f"{f.path}: size {p.stat().st_size}, journal says {f.size}")
                elif sha256_file(p) != f.sha256:
                    problems.append(f"{f.path}: sha256 differs from the journal")
        return problems


_SKELETON = {*PASSES, JOURNAL_FILE, LOCK_FILE}


def _is_meta_name(name: str) -> bool:
    """``session.json`` or the temporary file it is written through."""
    return name == SESSION_FILE or (name.startswith(f".{SESSION_FILE}.") and name.endswith(".part"))


def _is_skeleton(path: Path, *, meta_ok: bool = False) -> bool:
    """Whether ``path`` holds only what session creation makes before any frame exists:
    empty pass folders, an empty journal, the lock file (and ``session.json`` and its
    temporary files if ``meta_ok``).  Such a folder holds nothing to lose."""
    try:
        entries = list(path.iterdir())
    except OSError:
        return False
    for e in entries:
        name = e.name
        if name in PASSES:
            if not e.is_dir() or e.is_symlink() or any(e.iterdir()):
                return False
        elif name == JOURNAL_FILE:
            if not e.is_file() or e.stat().st_size:
                return False
        elif name != LOCK_FILE and not (meta_ok and _is_meta_name(name)):
            return False
    return True


def _clear_skeleton(path: Path) -> None:
    """Empty a skeleton folder (see :func:`_is_skeleton`), leaving the folder itself."""
    for e in path.iterdir():
        if e.is_dir():
            e.rmdir()  # empty by _is_skeleton: rmdir refuses otherwise, never deletes a frame
        else:
            e.unlink()


def check_new_session_dir(path: str | os.PathLike) -> bool:
    """Check that a new session may be created at ``path``.

    Returns False when ``path`` is missing or an empty directory, True when it holds the
    empty skeleton a creation killed by an older sublux left (``dark/ bright/``, an empty
    journal, no ``session.json``, no frame), which the new session replaces.  Raises
    :class:`SessionExists` for anything else.
    """
    path = Path(path)
    if not path.exists():
        return False
    if not path.is_dir():
        raise SessionExists(
            f"expected a new or empty directory for the session, found a file at {path}; "
            "nothing was changed. Choose another --session path."
        )
    if not any(path.iterdir()):
        return False
    if (path / SESSION_FILE).exists():
        raise SessionExists(
            f"expected a new or empty directory for the session, found another session at "
            f"{path}; nothing was changed. Choose another --session path (or `capture resume` "
            "it)."
        )
    if _is_skeleton(path):
        return True
    names = sorted(e.name for e in path.iterdir())
    shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
    raise SessionExists(
        f"expected a new or empty directory for the session, found other files at {path} "
        f"({shown}); nothing was changed. Choose another --session path."
    )


def check_scene_and_lux(scene: str | None, lux: float | None) -> None:
    """Refuse a scene name or an illuminance a session cannot record, before anything is done.

    The scene starts the session id, which names the session's group in a release, so it
    follows the rule ``dataset publish`` applies to scene names and session ids
    (:func:`sublux_common.names.name_problem`); ``lux`` is a measured illuminance, so a finite
    number >= 0 (None: not measured).

    Parameters
    ----------
    scene : str or None
        The scene name the user gave (None: not given; the caller decides whether it must be).
    lux : float or None
        The illuminance the user gave.

    Raises
    ------
    capture.errors.BadSessionInfo
        Either is one a session cannot record (exit 2).
    """
    problem = None if scene is None else name_problem(scene)
    if problem is not None:
        raise BadSessionInfo(
            f"expected --scene NAME ({NAME_RULE}: the scene starts the session id, which "
            f"names the session in a release), found {scene!r} ({problem}); try e.g. "
            "--scene desk or --scene kitchen-2"
        )
    if lux is not None and not (math.isfinite(lux) and lux >= 0):
        raise BadSessionInfo(
            f"expected --lux as the measured illuminance in lux (a finite number >= 0), found "
            f"{lux!r}; give the light meter's reading, or leave --lux out if it was not measured"
        )


def _creating_dirs(path: Path) -> list[tuple[Path, int | None]]:
    """Hidden siblings ``.NAME.creating-PID`` where sessions named like ``path`` were built."""
    prefix = f".{path.name}{CREATING}"
    out = []
    try:
        siblings = list(path.parent.iterdir())
    except FileNotFoundError:
        return []
    for e in siblings:
        if e.name.startswith(prefix) and e.is_dir():
            pid_text = e.name[len(prefix) :]
            out.append((e, int(pid_text) if pid_text.isdigit() else None))
    return sorted(out)


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return True  # not ours to judge
    if pid == os.getpid():
        return False  # an earlier process with our pid: it is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clear_stale_creations(path: Path) -> list[str]:
    """Remove the empty skeletons dead processes left while creating a session at ``path``.

    Only a skeleton (no frame can be in one: frames are shot after the rename) of a process
    that no longer runs is removed; anything else is left and named in a warning.
    """
    removed = []
    for tmp, pid in _creating_dirs(path):
        if _pid_alive(pid):
            continue
        if _is_skeleton(tmp, meta_ok=True):
            _clear_skeleton(tmp)
            tmp.rmdir()
            removed.append(tmp.name)
        else:
            log.warning("%s: left by an interrupted creation but not empty; kept", tmp)
    if removed:
        fsync_dir(path.parent)
    return removed


def finish_interrupted_creation(path: str | os.PathLike, command: str = "resume") -> bool:
    """Finish a session creation a kill interrupted, so ``path`` becomes the session.

    If ``path`` has no ``session.json`` and a dead process left ``.NAME.creating-PID`` with a
    whole ``session.json`` (the plan), that folder is renamed into place and True returned.
    A creation killed before its plan was written left nothing to finish: raises
    :class:`SessionError` saying to run the same command again.  Returns False when ``path``
    already is a session, or when nothing was being created there.
    """
    path = Path(path)
    if (path / SESSION_FILE).exists():
        return False
    dead = [(t, pid) for t, pid in _creating_dirs(path) if not _pid_alive(pid)]
    for tmp, _pid in dead:
        try:
            json.loads((tmp / SESSION_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not _is_skeleton(tmp, meta_ok=True):
            continue
        replace = path.exists() and (not any(path.iterdir()) or _is_skeleton(path))
        if path.exists() and not replace:
            return False
        with SessionLock.acquire(tmp, command) as lock:
            if replace:
                _clear_skeleton(path)
            os.rename(tmp, path)
            lock.directory = path
            fsync_dir(path.parent)
        log.warning("finished the interrupted creation of %s (from %s)", path, tmp.name)
        return True
    empty = not path.exists() or (path.is_dir() and not any(path.iterdir()))
    skeleton = not empty and path.is_dir() and _is_skeleton(path)
    if skeleton or (empty and dead):
        raise SessionError(
            f"expected a session at {path}, found only what an interrupted creation left "
            "(no plan was written, no frame was shot); run the same `capture burst`, "
            "`capture reference` or `capture sweep` command again: it replaces it"
        )
    return False


def open_session(path: str | os.PathLike) -> Session:
    """Open a session directory for reading (raises :class:`SessionError`)."""
    return Session(path)


def requested_fields(requested: Exposure) -> dict:
    """A frame record's ``requested``: the settings asked for."""
    return {"iso": requested.iso, "shutter": requested.shutter, "aperture": requested.aperture}


def readback_fields(applied: Applied) -> dict:
    """A frame record's ``readback``: the settings the camera reported (or, for an imported
    file, its metadata)."""
    return {
        "iso": applied.iso,
        "shutter": applied.shutter,
        "shutter_s": applied.shutter_s,
        "aperture": applied.aperture,
        "bulb": applied.bulb,
        "format": applied.image_format,
    }


class SessionWriter:
    """Appends to a session: frames (atomically) and journal records (fsynced).

    A writer holds the session's lock (:class:`capture.lock.SessionLock`) until :meth:`close`
    (it is a context manager; the process's end releases it too).  Opening one raises
    :class:`~capture.errors.SessionLocked` when another live process writes to the session,
    and :class:`~capture.errors.JournalDamaged` when the journal has damaged lines that only
    ``capture repair`` may deal with; in both cases nothing is written.

    Every OS error while writing (a full disk, a read-only file system) is raised as
    :class:`~capture.errors.StorageError`, one line naming the path.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        command: str = "write",
        _lock: SessionLock | None = None,
    ):
        path = Path(path)
        if _lock is None:
            if not (path / SESSION_FILE).is_file():
                Session(path)  # raises what is wrong: no folder, not a session
            with storage_errors(f"locking the session for `capture {command}`"):
                _lock = SessionLock.acquire(path, command)
        self._lock = _lock
        try:
            self.session = Session(path)
            self.path = self.session.path
            self._prepare_journal()
        except BaseException:
            _lock.release()
            raise

    def close(self) -> None:
        """Release the session's lock (idempotent)."""
        self._lock.release()

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _prepare_journal(self) -> None:
        """Refuse a damaged journal; cut a torn tail; end an unterminated last record."""
        journal = self.session.journal
        bad = journal.needs_repair
        if bad:
            shown = "; ".join(d.describe() for d in bad[:3]) + (" ..." if len(bad) > 3 else "")
            raise JournalDamaged(
                f"{journal.path}: expected one JSON record per line, found {len(bad)} damaged "
                f"line(s): {shown}; nothing was written. Run `capture repair {self.path}`: it "
                "keeps every valid record, keeps the original journal beside it and re-checks "
                "every frame. Reading the session meanwhile skips the damaged lines.",
                damaged=bad,
            )
        path = self.path / JOURNAL_FILE
        with storage_errors("tidying the journal's end"):
            if journal.torn:
                # Safe to cut: appends are one write of a whole line, and we hold the lock,
                # so a trailing fragment is what an append that died left; no reader ever took
                # it for a record.  Its bytes are kept in unjournaled/ with an event record.
                tail = cut_torn_tail(path)
                dest = unjournaled_path(self.path, "journal-torn-line.jsonl")
                atomic_write_bytes(dest, tail)
                journal.damaged.remove(journal.torn)
                self.record(
                    "event",
                    what="cut_torn_journal_line",
                    bytes=len(tail),
                    to=dest.relative_to(self.path).as_posix(),
                )
            elif journal.unterminated:
                # A whole record whose newline was lost: end it, never glue onto it.
                with open(path, "ab") as fh:
                    fh.write(b"\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                journal.unterminated = False

    def _storage_error(self, exc: OSError, doing: str) -> StorageError:
        return StorageError.from_os_error(
            exc,
            doing=doing,
            todo=f"then `capture resume {self.path}` (every journalled frame is kept)",
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
        command: str = "create",
        simulated: bool = False,
        extra: dict | None = None,
    ) -> SessionWriter:
        """Create a new session directory, whole or not at all; refuses to touch one that
        holds anything.

        ``simulated`` marks frames the simulated camera made that another driver brought in
        (an import of its DNGs); ``extra`` adds top-level keys to ``session.json``
        (``import``).

        The session is built in a hidden sibling ``.NAME.creating-PID`` (pass folders, empty
        journal, ``session.json``, the lock) and renamed into place, so ``path`` either is a
        session or does not exist, at any instant.  Skeletons that killed creations left
        (there, or at ``path`` by an older sublux) are removed first; nothing else is.
        A scene or ``lux`` :func:`check_scene_and_lux` refuses raises
        :class:`~capture.errors.BadSessionInfo` before anything is written.
        """
        path = Path(path)
        if kind not in ("static", "sweep"):
            raise ValueError(f"kind must be 'static' or 'sweep', found {kind!r}")
        check_scene_and_lux(scene, lux)
        skeleton = check_new_session_dir(path)
        meta = {
            "schema": SCHEMA_VERSION,
            "session_id": f"{scene}-{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%S}-"
            f"{uuid.uuid4().hex[:6]}",
            "scene": scene,
            "kind": kind,
            "lighting": lighting,
            "lux": lux,
            "created": _utc_now(),
            "camera": SessionCamera.from_camera(camera, sim=sim, simulated=simulated).to_json(),
            "plan": plan,
            "turntable": turntable,
            "tool": {"name": "sublux", "version": __version__},
            **(extra or {}),
        }
        with storage_errors(f"creating the session {path}", "nothing was shot"):
            path.parent.mkdir(parents=True, exist_ok=True)
            cleared = _clear_stale_creations(path)
            tmp = path.parent / f".{path.name}{CREATING}{os.getpid()}"
            tmp.mkdir()
            crash_point("create:mkdir")
            lock = None
            try:
                lock = SessionLock.acquire(tmp, command)
                for p in PASSES:
                    (tmp / p).mkdir()
                fd = os.open(tmp / JOURNAL_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                crash_point("create:skeleton")
                atomic_write_json(tmp / SESSION_FILE, meta)  # fsyncs tmp, and so its entries
                crash_point("create:meta")
                if skeleton and _is_skeleton(path):
                    _clear_skeleton(path)  # an empty folder, which the rename replaces
                try:
                    os.rename(tmp, path)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                        raise
                    raise SessionExists(
                        f"expected to create the session {path}, found that another process "
                        "created it meanwhile; nothing was changed. Choose another --session."
                    ) from None
                lock.directory = path
                crash_point("create:renamed")
                fsync_dir(path.parent)
            except BaseException:
                if lock is not None:
                    lock.release()
                if tmp.is_dir() and _is_skeleton(tmp, meta_ok=True):
                    with contextlib.suppress(OSError):
                        _clear_skeleton(tmp)
                        tmp.rmdir()
                raise
        writer = cls(path, command=command, _lock=lock)
        if skeleton or cleared:
            writer.record(
                "event",
                what="replaced_interrupted_creation",
                skeleton_at_path=skeleton,
                removed=cleared,
            )
        return writer

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
        try:
            atomic_write_json(self.path / SESSION_FILE, meta)
        except OSError as exc:
            raise StorageError.from_os_error(
                exc, doing="adding a pass to the plan", todo="the session was left as it was"
            ) from None
        self.session.meta = meta

    def record(self, type_: str, **fields: Any) -> dict:
        """Append one journal record (fsynced) and return it."""
        rec = {"type": type_, "t": time.time(), **fields}
        self._append(rec)
        return rec

    def _append(self, rec: dict, typed: FrameRecord | VideoRecord | None = None) -> None:
        try:
            append_jsonl(self.path / JOURNAL_FILE, rec)
        except OSError as exc:
            what = rec["type"]
            raise self._storage_error(exc, f"appending a {what} record to the journal") from None
        self.session._add_record(rec, typed)

    def warn(self, code: str, message: str, **details: Any) -> WarningRecord:
        """Journal a warning: something that changes what the data means (shown by the run,
        curation's report and the release's card).

        Parameters
        ----------
        code : str
            What kind of warning (``sweep_behind_plan``).
        message : str
            What happened and what to do, in words (also logged).
        **details
            The warning's facts, journalled after ``message`` in the order given.

        Returns
        -------
        WarningRecord
            What was journalled (with its ``t``).
        """
        log.warning("%s", message)
        rec = WarningRecord(code=code, message=message, t=time.time(), details=details)
        self._append(rec.to_json())
        return rec

    def start(self, command: str, passes: Iterable[str]) -> None:
        attempt = sum(1 for r in self.session.records if r.get("type") == "start") + 1
        self.record(
            "start", command=command, passes=list(passes), attempt=attempt, tool_version=__version__
        )

    def stop(self, exit_status: str, reason: str = "") -> StopRecord:
        """Journal how this run ended (``success``, ``abort`` or ``fail``, and why).

        Returns
        -------
        StopRecord
            What was journalled (with its ``t``).
        """
        if exit_status not in EXIT_STATUSES:
            raise ValueError(f"exit_status must be success, abort or fail, found {exit_status!r}")
        rec = StopRecord(exit_status=exit_status, reason=reason, t=time.time())
        self._append(rec.to_json())
        return rec

    def frame_relpath(self, pass_: str, index: int, camera_name: str) -> str:
        ext = Path(camera_name).suffix.lower() or ".raw"
        return f"{pass_}/{index:04d}{ext}"

    def set_aside_strays(self) -> list[str]:
        """Move files that are not journalled out of the pass folders, keeping them.

        A process killed between the rename of a frame and its journal record leaves a whole
        but unjournalled file; one killed mid-download leaves a ``.part``.  Neither is a frame of
        the session, and neither is deleted: both go to ``unjournaled/`` with an event record.
        In ``preroll/`` only ``.part`` files are moved: a whole unjournalled pre-roll file stays
        where it is (a new pre-roll takes the next free number, never its name).
        """
        known = {f.path for p in PASSES for f in self.session.frames(p)}
        # an imported video is journalled (a ``video`` event) before its frames are
        known |= {r["path"] for r in self.session.records if r.get("what") == "video"}
        moved = []
        for pass_ in (*PASSES, PREROLL_DIR):
            d = self.path / pass_
            if not d.is_dir():
                continue
            for f in sorted(d.iterdir()):
                rel = f"{pass_}/{f.name}"
                if pass_ == PREROLL_DIR and not f.name.endswith(PART_SUFFIX):
                    continue
                if f.is_file() and rel not in known:
                    try:
                        dest = unjournaled_path(self.path, f"{pass_}-{f.name.lstrip('.')}")
                        os.replace(f, dest)
                    except OSError as exc:
                        raise self._storage_error(exc, f"setting aside {rel}") from None
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
        try:
            atomic_write_bytes(final, shot.data)
        except OSError as exc:
            raise self._storage_error(exc, f"writing frame {rel}") from None
        crash_point("frame:written")
        frame = FrameRecord(
            pass_=pass_,
            index=index,
            path=rel,
            sha256=sha256_bytes(shot.data),
            size=len(shot.data),
            camera_name=shot.name,
            requested=requested_fields(requested),
            readback=readback_fields(applied),
            angle=angle,
            t_start=shot.t_start,
            t_end=shot.t_end,
            extra=extra or None,
            turntable_stopped=turntable_stopped,
        )
        return self.append(frame)

    def append(self, record: FrameRecord | VideoRecord) -> Any:
        """Journal a typed record (fsynced), its ``t`` set to now.

        Parameters
        ----------
        record : FrameRecord or VideoRecord
            The record; a frame's file is already whole in the session.

        Returns
        -------
        FrameRecord or VideoRecord
            The record as journalled (with its ``t``).
        """
        record = dataclasses.replace(record, t=time.time())
        self._append(record.to_json(), record)
        return record

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
            readback=readback_fields(applied),
            angle=angle,
            t_start=shot.t_start,
            t_end=shot.t_end,
        )
