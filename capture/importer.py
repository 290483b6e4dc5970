"""``capture import``: footage shot by other means (raw folders, videos) into a new session.

A pass comes from a folder of raw files (any LibRaw Bayer format a camera writes to its card)
or from one video.  Everything is checked before anything is written: a folder with no
readable raw file, a video OpenCV cannot open, frames of several sizes or cameras, or frames
whose exposure time or ISO is unknown (no metadata and no ``--exposure``/``--iso``) is a
:class:`~capture.errors.BadImport` (exit 2), and the session is not created.

Then each file is *copied* (never moved; with ``link=True`` hard-linked, same file system
only) to ``<pass>/.<name>.part`` and fsynced, then read back and compared byte for byte with
the source as the source is hashed, renamed into place and journalled with its sha256, size and what
its metadata says (exposure, ISO, aperture, time of capture, make and model, the serial only
as :func:`~capture.session.serial_hash`).  Raw frames are ordered by time of capture, then by
name.  A video is kept whole (``<pass>/video<ext>``, one file per pass, journalled once as a
``video`` event with its frame rate, duration and codec) and its frames are journalled one
record each, addressed by ``video_frame``, all carrying the video's sha256 and size.

The journal and ``session.json`` name the sources by their *names* (a folder's base name, a
file's name), never by absolute path: those would leak into a release.  An import that was
interrupted is finished by running the same command again (like ``capture resume``): what is
journalled is verified and kept, files no record vouches for are set aside, the rest copied.

Only metadata is read here (tifffile for the TIFF-based raw formats: DNG, NEF, ARW, CR2, PEF,
ORF, RW2..., and for the TIFF structures inside CR3 and RAF files, :mod:`capture.rawmeta`;
OpenCV for videos).  Decoding the mosaic is curation's job (rawpy lives there).
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import shutil
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import tifffile

from capture.errors import BadImport, CaptureError, SessionExists, StorageError, storage_errors
from capture.protocols import Applied, CameraInfo, Exposure, format_shutter, parse_shutter
from capture.rawmeta import container_exif, container_truncation, quiet_tifffile, truncated
from capture.session import (
    PASSES,
    FrameRecord,
    SessionWriter,
    VideoRecord,
    check_new_session_dir,
    check_scene_and_lux,
    finish_interrupted_creation,
    readback_fields,
    requested_fields,
    serial_hash,
)
from sublux_common.fsio import crash_point, fsync_dir
from sublux_common.hashing import sha256_file
from sublux_common.progress import OnProgress

__all__ = [
    "RAW_SUFFIXES",
    "VIDEO_SUFFIXES",
    "ImportResult",
    "RawInfo",
    "Source",
    "VideoInfo",
    "frames_of_video",
    "import_footage",
    "probe_raw",
    "probe_video",
    "scan_source",
]

#: Raw formats LibRaw reads (Bayer sensors); TIFF-based ones have their metadata read here.
RAW_SUFFIXES = {
    ".dng", ".arw", ".srf", ".sr2", ".nef", ".nrw", ".cr2", ".cr3", ".crw", ".raf", ".orf",
    ".rw2", ".pef", ".srw", ".3fr", ".iiq", ".erf", ".mos", ".mrw", ".kdc", ".dcr", ".raw",
}  # fmt: skip
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv"}
_CHUNK = 4 << 20
#: Files copied at once: hashing and file I/O release the GIL, so two overlap on two cores.
_WORKERS = 2
#: What the simulated camera writes as its DNGs' Software tag (capture/dng.py).
_SIM_SOFTWARE = "sublux capture.sim"


class _Unreadable(Exception):
    """A file of a folder that cannot be imported (``reason`` says why)."""


@dataclass(frozen=True)
class RawInfo:
    """What a raw file's metadata says (``None``: not recorded, or not read for its format)."""

    name: str
    size: int
    width: int | None
    height: int | None
    make: str
    model: str
    serial: str | None
    iso: int | None
    exposure_s: float | None
    aperture: str | None
    taken: float | None
    """Time of capture (``time.time()`` seconds), from EXIF DateTimeOriginal."""
    simulated: bool = False

    @property
    def camera(self) -> str:
        return f"{self.make} {self.model}".strip()


@dataclass(frozen=True)
class VideoInfo:
    """What OpenCV's FFmpeg backend says of a video container."""

    name: str
    size: int
    width: int
    height: int
    fps: float
    frame_count: int
    codec: str

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps else 0.0


@dataclass
class Source:
    """One pass's footage, scanned: its raw files in capture order (or its video), what was
    skipped and why, and the exposure each frame is journalled with."""

    pass_: str
    path: Path
    kind: str  # "folder" | "video"
    raws: list[RawInfo] = field(default_factory=list)
    video: VideoInfo | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    exposure_s: float | None = None  # given on the command line (used where metadata lacks it)
    iso: int | None = None
    aperture: str | None = None

    @property
    def frames(self) -> int:
        return self.video.frame_count if self.video else len(self.raws)

    @property
    def names(self) -> list[str]:
        return [self.video.name] if self.video else [r.name for r in self.raws]

    @property
    def size(self) -> tuple[int, int] | None:
        if self.video:
            return (self.video.height, self.video.width)
        r = self.raws[0]
        return None if r.width is None else (r.height, r.width)

    def exposure_of(self, raw: RawInfo | None) -> tuple[float, int, str | None, str]:
        """(exposure_s, iso, aperture, where from): metadata first, the options where it
        lacks a value."""
        exp = raw.exposure_s if raw and raw.exposure_s else self.exposure_s
        iso = raw.iso if raw and raw.iso else self.iso
        ap = raw.aperture if raw and raw.aperture else self.aperture
        given = raw is None or not raw.exposure_s or not raw.iso
        assert exp is not None and iso is not None  # scan_source refused otherwise
        return float(exp), int(iso), ap, "given" if given else "metadata"


# -- metadata --------------------------------------------------------------------------------
def _rational(v: Any) -> float | None:
    if isinstance(v, tuple) and len(v) == 2:
        return v[0] / v[1] if v[1] else None
    if isinstance(v, (int, float)):
        return float(v)
    return None


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        v = v.split(b"\0", 1)[0].decode("ascii", "replace")
    return str(v or "").strip().strip("\0").strip()


def _taken(exif: dict) -> float | None:
    """EXIF DateTimeOriginal (+ SubsecTimeOriginal, OffsetTimeOriginal) as Unix seconds; a
    time without an offset is taken as this machine's local time (the camera's clock)."""
    stamp = _text(exif.get("DateTimeOriginal"))
    if not stamp or stamp.startswith("0000"):
        return None
    try:
        dt = _dt.datetime.strptime(stamp[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    sub = "".join(c for c in _text(exif.get("SubsecTimeOriginal")) if c.isdigit())
    frac = int(sub) / 10 ** len(sub) if sub else 0.0
    offset = _text(exif.get("OffsetTimeOriginal"))
    if len(offset) == 6 and offset[0] in "+-" and offset[3] == ":":
        try:
            minutes = int(offset[1:3]) * 60 + int(offset[4:6])
        except ValueError:
            minutes = None
        if minutes is not None:
            tz = _dt.timezone(_dt.timedelta(minutes=minutes if offset[0] == "+" else -minutes))
            return dt.replace(tzinfo=tz).timestamp() + frac
    return time.mktime(dt.timetuple()) + frac


def _pages(tif: tifffile.TiffFile) -> list:
    """Every image directory of the file: top-level pages and their SubIFDs."""
    found = []
    todo = list(tif.pages)
    while todo:
        page = todo.pop()
        found.append(page)
        sub = getattr(page, "pages", None)
        if sub is not None:
            todo.extend(list(sub))
    return found


def _tiff_truncation(pages: list, size: int) -> str | None:
    """Why a TIFF-based raw file cannot hold what its own tags point to, or None.

    Every image directory's data (strips, tiles, an embedded JPEG) must end within the file,
    and every SubIFD (where ARW, NEF and DNG keep the raw image) must start within it: a file
    cut short loses its SubIFD, which tifffile then leaves out without a word, so checking
    only the images it did read would pass a raw file whose raw image is gone.
    """
    lost = [o for p in pages for o in _subifd_offsets(p) if o >= size]
    if lost:
        return truncated("raw image directory (SubIFD)", min(lost), size, where="lies at")
    ends = [
        o + c for p in pages for o, c in zip(p.dataoffsets, p.databytecounts, strict=False) if c
    ]
    if ends and max(ends) > size:
        return truncated("image data", max(ends), size)
    return None


def _subifd_offsets(page) -> list[int]:
    """The offsets a page's SubIFDs tag gives (none when it has no such tag)."""
    tag = page.tags.get(330)  # SubIFDs
    if tag is None:
        return []
    value = tag.value
    return [int(v) for v in (value if isinstance(value, (tuple, list)) else (value,))]


def probe_raw(path: Path) -> RawInfo:
    """Read a raw file's metadata (not its image); raises ``_Unreadable`` with the reason.

    TIFF-based formats are parsed (the largest CFA image's size, and that the data and
    SubIFDs their tags point to lie inside the file: a truncated copy is caught here); CR3 and
    RAF are recognised by their signature, checked for truncation
    (:func:`capture.rawmeta.container_truncation`), and their EXIF is read from the TIFF
    structures they carry (make, model, serial, ISO, exposure, aperture, time; not the image
    size); other non-TIFF formats get no metadata (the command line gives the exposure).
    """
    suffix = path.suffix.lower()
    if suffix not in RAW_SUFFIXES:
        raise _Unreadable(f"not a raw file (suffix {suffix or 'none'!r})")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise _Unreadable(f"cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise _Unreadable("empty file")
    if head[:2] not in (b"II", b"MM"):
        signatures = {".cr3": head[4:8] == b"ftyp", ".raf": head.startswith(b"FUJIFILM")}
        if signatures.get(suffix):
            return _container_info(path, size)
        raise _Unreadable(f"not a {suffix[1:].upper()} file (it starts with {head[:8]!r})")
    try:  # a damaged file is reported as skipped, once, by us (not by tifffile's logger)
        with quiet_tifffile(), tifffile.TiffFile(path) as tif:
            pages = _pages(tif)
            ifd0 = tif.pages[0]
            tags = {t.name: t.value for t in ifd0.tags.values()}
            exif = tags.get("ExifTag") or {}
            images = [p for p in pages if p.shape and len(p.shape) >= 2]
            cfa = [p for p in images if int(getattr(p, "photometric", 0) or 0) == 32803]
            image = max(cfa or images, key=lambda p: p.shape[0] * p.shape[1], default=None)
            cut = _tiff_truncation(pages, size)
    except Exception as exc:  # tifffile raises many kinds on a damaged file: all mean unreadable
        raise _Unreadable(f"damaged TIFF structure ({type(exc).__name__}: {exc})") from None
    if cut is not None:
        raise _Unreadable(cut)
    if image is None:
        raise _Unreadable("no image in the file")
    return _raw_info(
        path,
        size,
        tags,
        exif,
        shape=(int(image.shape[0]), int(image.shape[1])),
        simulated=_text(tags.get("Software")) == _SIM_SOFTWARE,
    )


def _raw_info(
    path: Path,
    size: int,
    ifd0: dict,
    exif: dict,
    *,
    shape: tuple[int, int] | None,
    simulated: bool = False,
) -> RawInfo:
    """A :class:`RawInfo` from a file's IFD0 and EXIF tags (tifffile's names); ``shape`` is
    the raw image's (height, width), None where it was not read."""
    serial = _text(ifd0.get("CameraSerialNumber")) or _text(exif.get("BodySerialNumber")) or None
    iso = exif.get("ISOSpeedRatings")
    if isinstance(iso, tuple):
        iso = iso[0] if iso else None
    f_number = _rational(exif.get("FNumber"))
    exposure = _rational(exif.get("ExposureTime"))
    return RawInfo(
        name=path.name,
        size=size,
        width=None if shape is None else shape[1],
        height=None if shape is None else shape[0],
        make=_text(ifd0.get("Make")),
        model=_text(ifd0.get("Model")),
        serial=serial,
        iso=int(iso) if iso else None,
        exposure_s=exposure if exposure else None,
        aperture=f"{f_number:g}" if f_number else None,
        taken=_taken(exif),
        simulated=simulated,
    )


def _container_info(path: Path, size: int) -> RawInfo:
    """A CR3's or RAF's metadata from the TIFF structures inside it (:mod:`capture.rawmeta`);
    the image size is not read (the frames' sizes are checked when curation decodes them).
    A file whose boxes (CR3) or raw data (RAF) end past its end is refused as truncated."""
    try:
        cut = container_truncation(path)
        if cut is not None:
            raise _Unreadable(cut)
        found = container_exif(path)
    except OSError as exc:
        raise _Unreadable(f"cannot be read ({exc.strerror or exc})") from None
    ifd0, exif = found or ({}, {})
    return _raw_info(path, size, ifd0, exif, shape=None)


def _shutter_text(exp: float) -> str:
    """An exposure time in seconds as the plan and the journal spell it (``"1/30"``)."""
    return format_shutter(Fraction(exp).limit_denominator(1_000_000))


def _exposure_fields(iso: int, shutter: str, exp: float, ap: str | None, fmt: str) -> dict:
    """An imported frame's ``requested`` and ``readback``: what its metadata (or the command
    line) says, journalled as a tethered camera's read-back would be."""
    return {
        "requested": requested_fields(Exposure(iso=iso, shutter=shutter, aperture=ap)),
        "readback": readback_fields(Applied(iso, shutter, exp, ap, bulb=False, image_format=fmt)),
    }


def probe_video(path: Path) -> VideoInfo:
    """Open a video with OpenCV's FFmpeg backend and count its frames (without decoding
    them all); raises :class:`BadImport` if it cannot be opened or holds no frame."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise BadImport(
                f"expected a video OpenCV's FFmpeg backend can open at {path.name}, found one "
                "it cannot open; check the file plays (ffprobe), or re-encode it as H.264 or "
                "MPEG-4 MP4. Nothing was written."
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
        codec = "".join(chr((fourcc >> 8 * i) & 0xFF) for i in range(4)).strip("\0 ") or "unknown"
        ok, first = cap.read()
        if not ok:
            raise BadImport(
                f"expected frames in the video {path.name}, found none OpenCV can decode; "
                "nothing was written"
            )
        n = 1
        while cap.grab():
            n += 1
    finally:
        cap.release()
    return VideoInfo(
        name=path.name,
        size=path.stat().st_size,
        width=int(first.shape[1]),
        height=int(first.shape[0]),
        fps=fps,
        frame_count=n,
        codec=codec,
    )


def scan_source(
    pass_: str,
    path: str | os.PathLike,
    *,
    exposure: str | None = None,
    iso: int | None = None,
    aperture: str | None = None,
    exposure_option: str = "--exposure",
) -> Source:
    """Scan one pass's footage without writing anything; raises :class:`BadImport`.

    A folder's raw files are probed (:func:`probe_raw`), unreadable ones listed in
    ``skipped`` with the reason, and the rest ordered by time of capture, then by name.
    ``exposure_option`` is the option that gives this pass's ``exposure``, as messages name
    it (``--bright-exposure`` for the bright pass).
    """
    path = Path(path)
    exp = float(parse_shutter(exposure)) if exposure else None
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        src = Source(pass_, path, "video", video=probe_video(path))
    elif path.is_dir():
        src = Source(pass_, path, "folder")
        files = sorted(p for p in path.iterdir() if not p.name.startswith(".") and p.is_file())
        for p in files:
            try:
                src.raws.append(probe_raw(p))
            except _Unreadable as exc:
                src.skipped.append((p.name, str(exc)))
        if not src.raws:
            why = "; ".join(f"{n}: {r}" for n, r in src.skipped[:5]) or "the folder is empty"
            raise BadImport(
                f"expected raw files (DNG, ARW, NEF, CR2, CR3, RAF, ...) for the {pass_} pass in "
                f"{path}, found none readable ({why}); nothing was written"
            )
        never = float("inf")
        src.raws.sort(key=lambda r: (r.taken if r.taken is not None else never, r.name))
        sizes = {(r.width, r.height) for r in src.raws}
        cams = {r.camera for r in src.raws}
        if len(sizes) > 1 or len(cams) > 1:
            first: dict = {}
            for r in src.raws:
                first.setdefault((r.camera, r.width, r.height), r.name)
            listing = ", ".join(
                f"{n} is {c or 'unknown camera'} {w}x{h}" for (c, w, h), n in first.items()
            )
            raise BadImport(
                f"expected the {pass_} frames in {path} to come from one camera at one size, "
                f"found several: {listing}; import each camera's frames as their own session. "
                "Nothing was written."
            )
    elif path.exists():
        raise BadImport(
            f"expected a folder of raw files or a video ({', '.join(sorted(VIDEO_SUFFIXES))}) for "
            f"the {pass_} pass, found the file {path}; nothing was written"
        )
    else:
        raise BadImport(f"expected the {pass_} footage at {path}, found nothing there")
    src.exposure_s, src.iso, src.aperture = exp, iso, aperture
    unknown = []
    for r in src.raws or [None]:
        missing = [
            w
            for w, v in (
                ("--exposure", (r and r.exposure_s) or exp),
                ("--iso", (r and r.iso) or iso),
            )
            if not v
        ]
        if missing:
            unknown.append((r.name if r else path.name, missing))
    if unknown:
        raise BadImport(_unknown_exposure(src, unknown, exposure_option=exposure_option))
    return src


def _unknown_exposure(
    src: Source, unknown: list[tuple[str, list[str]]], *, exposure_option: str
) -> str:
    """The message for frames whose exposure time or ISO nothing gives: a video counted as
    a video (of so many frames), raw files as files; the options named as the user types them."""
    missing = sorted({m for _, ms in unknown for m in ms})
    opts = [exposure_option if m == "--exposure" else m for m in missing]
    example = " ".join(f"{o} {_EXAMPLES[o]}" for o in opts)
    if src.video:
        found = (
            f"a video without them ({src.video.name}, {src.video.frame_count} frames: video "
            "containers record no exposure time or ISO)"
        )
    else:
        found = f"{len(unknown)} raw file(s) without them ({unknown[0][0]} first; no EXIF value)"
    shared = " (or --exposure, for both passes)" if "--bright-exposure" in opts else ""
    return (
        f"expected the exposure time and ISO of every {src.pass_} frame, found {found}; pass "
        f"{' and '.join(opts)}{shared} (e.g. {example}) for this pass. Nothing was written."
    )


_EXAMPLES = {"--exposure": "1/30", "--bright-exposure": "10", "--iso": "2000"}


# -- the import ------------------------------------------------------------------------------
@dataclass
class ImportResult:
    """What one run did: frames journalled now, already there, and files skipped."""

    path: Path
    imported: dict[str, int]
    already: dict[str, int]
    skipped: list[tuple[str, str, str]]
    resumed: bool
    warnings: list[str]


def _pass_plan(src: Source) -> dict:
    first = src.raws[0] if src.raws else None
    exp, iso, ap, _ = src.exposure_of(first)
    return {
        "frames": src.frames,
        "iso": iso,
        "shutter": _shutter_text(exp),
        "aperture": ap,
        "mode": "video" if src.video else "imported",
        "angles": None,
        "source": {"kind": src.kind, "name": src.path.name, "files": src.names},
    }


def _copy_verified(src: Path, dest: Path, *, link: bool) -> tuple[str, int]:
    """Copy (or hard-link) ``src`` to ``dest`` through a hidden ``.part``: fsynced, read back
    and compared with the source as it is hashed, then renamed (a hard link is hashed).
    Returns the sha256 and size of what is now at ``dest``."""
    import hashlib

    part = dest.parent / f".{dest.name}.part"
    if part.exists():
        part.unlink()  # our own unfinished copy: set_aside_strays ran first, so never a frame
    if link:
        try:
            os.link(src, part)
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise BadImport(
                    f"expected to hard-link {src.name} into {dest.parent} (--link), found that "
                    f"the file system refuses ({exc.strerror}); --link needs the source and the "
                    "session on one file system: drop --link to copy instead"
                ) from None
            raise
        digest, size = sha256_file(part), part.stat().st_size
    else:
        # The kernel copies (sendfile, as cp does), then one pass reads the source and the
        # copy back, hashing the source's bytes and comparing the copy's with them: bytes
        # equal to the hashed ones have that hash, and comparing costs a fraction of hashing
        # twice.  A source that changed while it was copied fails the comparison too.
        shutil.copyfile(src, part)
        fd = os.open(part, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        h = hashlib.sha256()
        size = 0
        with open(src, "rb") as fi, open(part, "rb") as fb:
            while True:
                a, b = fi.read(_CHUNK), fb.read(_CHUNK)
                if a != b:
                    raise StorageError(
                        f"{dest}: the copy read back differs from {src.name} from byte {size} "
                        "on (the disk did not keep what was written, or the source changed "
                        f"while it was copied); the copy was left at {part}. Check the disk "
                        "(dmesg) and that nothing writes to the source, then run the import again"
                    )
                if not a:
                    break
                h.update(a)
                size += len(a)
        digest = h.hexdigest()
    os.rename(part, dest)
    fsync_dir(dest.parent)
    return digest, size


def _check_resumable(writer: SessionWriter, sources: dict[str, Source]) -> None:
    meta = writer.session.imported
    if meta is None:
        raise SessionExists(
            f"{writer.path} is a session sublux shot, not an import; nothing was changed. "
            "Choose a new --session."
        )
    plan = writer.session.plan["passes"]
    for p, src in sources.items():
        was = (plan.get(p) or {}).get("source") or {}
        if was.get("name") != src.path.name or was.get("files") != src.names:
            raise SessionExists(
                f"{writer.path} was imported from other {p} footage ({was.get('name')!r}, "
                f"{len(was.get('files') or [])} file(s)) than {src.path.name!r} "
                f"({len(src.names)} file(s)); nothing was changed. Run the import that made it "
                "again to finish it, or choose a new --session."
            )
    if set(plan) != set(sources):
        raise SessionExists(
            f"{writer.path} was imported with the passes {sorted(plan)}, not {sorted(sources)}; "
            "nothing was changed"
        )


def import_footage(
    session: str | os.PathLike,
    *,
    dark: str | os.PathLike | None,
    bright: str | os.PathLike | None,
    scene: str,
    kind: str = "static",
    lighting: str = "",
    lux: float | None = None,
    link: bool = False,
    exposure: str | None = None,
    bright_exposure: str | None = None,
    iso: int | None = None,
    aperture: str | None = None,
    progress: OnProgress | None = None,
    stop: Any = None,
    simulated: bool = False,
) -> ImportResult:
    """Import footage into a new session (or finish an interrupted import of the same).

    Parameters
    ----------
    session : path
        The new session folder (or one an interrupted import of the same footage left).
    dark, bright : path or None
        A folder of raw files or a video for each pass (at least one).
    scene, kind, lighting, lux
        As for ``capture burst``/``sweep``: ``kind`` is ``static`` or ``sweep``.
    link : bool
        Hard-link instead of copying (source and session on one file system).
    exposure, bright_exposure, iso, aperture
        Used where the metadata lacks a value (``bright_exposure`` for the bright pass,
        ``exposure`` otherwise).
    progress : callable, optional
        ``progress(pass, done, total)`` after each file.
    stop : threading.Event, optional
        Set to stop after the current file (the import is then resumable).
    simulated : bool
        The footage comes from sublux's simulated camera (its videos carry no mark of it; its
        DNGs do, and are recognised without this).

    Returns
    -------
    ImportResult

    Raises
    ------
    capture.errors.BadSessionInfo
        A scene name or ``lux`` a session cannot record (exit 2); nothing was read or written.
    capture.errors.BadImport
        Bad footage or options (exit 2); nothing was written.
    capture.errors.SessionExists
        ``session`` is another session.
    """
    check_scene_and_lux(scene, lux)
    if kind not in ("static", "sweep"):
        raise BadImport(f"expected --kind static or sweep, found {kind!r}")
    given = {p: v for p, v in (("dark", dark), ("bright", bright)) if v is not None}
    if not given:
        raise BadImport("expected --dark and/or --bright footage to import, found neither")
    session = Path(session)
    sources = {
        p: scan_source(
            p,
            v,
            exposure=(bright_exposure or exposure) if p == "bright" else exposure,
            iso=iso,
            aperture=aperture,
            exposure_option="--bright-exposure" if p == "bright" else "--exposure",
        )
        for p, v in given.items()
    }
    raws = [s for s in sources.values() if s.raws]
    cams = {s.raws[0].camera for s in raws}
    sizes = {s.size for s in raws}
    if len(cams) > 1 or len(sizes) > 1:
        listing = ", ".join(
            f"{s.pass_}: {s.raws[0].camera or 'unknown camera'} {s.size[1]}x{s.size[0]}"
            if s.size
            else f"{s.pass_}: {s.raws[0].camera or 'unknown camera'}"
            for s in raws
        )
        raise BadImport(
            f"expected the dark and bright raw frames from one camera at one size, found "
            f"{listing}; nothing was written"
        )
    if link:
        _check_linkable(sources, session)
    resumed = finish_interrupted_creation(session, "import") or (session / "session.json").exists()
    if resumed:
        writer = SessionWriter(session, command="import")
        try:
            _check_resumable(writer, sources)
        except BaseException:
            writer.close()
            raise
    else:
        check_new_session_dir(session)
        writer = _create(
            session,
            sources,
            scene=scene,
            kind=kind,
            lighting=lighting,
            lux=lux,
            link=link,
            simulated=simulated,
        )
    with writer:
        return _run(writer, sources, link=link, resumed=resumed, progress=progress, stop=stop)


def _check_linkable(sources: dict[str, Source], session: Path) -> None:
    """``--link`` needs the sources on the session's file system: checked before anything is
    written (a hard link across file systems fails with EXDEV)."""
    parent = session.parent if not session.exists() else session
    while not parent.exists():
        parent = parent.parent
    dev = parent.stat().st_dev
    for s in sources.values():
        if s.path.stat().st_dev != dev:
            raise BadImport(
                f"expected the {s.pass_} footage on the session's file system for --link, found "
                f"{s.path} on another one (hard links cannot cross file systems); drop --link "
                "to copy instead. Nothing was written."
            )


def _create(
    session: Path, sources: dict[str, Source], *, scene, kind, lighting, lux, link, simulated
):
    raws = [r for s in sources.values() for r in s.raws]
    first = raws[0] if raws else None
    camera = CameraInfo(
        make=first.make if first else "",
        model=first.model if first else "",
        port="",
        driver="import",
        serial=first.serial if first else None,
    )
    passes = {p: _pass_plan(s) for p, s in sources.items()}
    extra = {
        "import": {
            "passes": {p: {"kind": s.kind, "source": s.path.name} for p, s in sources.items()},
            "link": link,
        }
    }
    return SessionWriter.create(
        session,
        scene=scene,
        kind=kind,
        camera=camera,
        plan={"passes": passes, "order": [p for p in PASSES if p in passes]},
        lighting=lighting,
        lux=lux,
        command="import",
        simulated=simulated or (bool(raws) and all(r.simulated for r in raws)),
        extra=extra,
    )


def _raw_record(
    src: Source, r: RawInfo, index: int, rel: str, digest: str, size: int, link: bool
) -> FrameRecord:
    exp, iso, ap, origin = src.exposure_of(r)
    shutter = _shutter_text(exp)
    # no time of capture in the metadata: the frame's place in the order stands for it
    t0 = r.taken if r.taken is not None else float(index)
    return FrameRecord(
        pass_=src.pass_,
        index=index,
        path=rel,
        sha256=digest,
        size=size,
        camera_name=r.name,
        **_exposure_fields(iso, shutter, exp, ap, r.name.rsplit(".", 1)[-1].upper()),
        angle=None,
        t_start=t0,
        t_end=t0 + exp,
        imported={
            "source": r.name,
            "capture_time": r.taken,
            "make": r.make,
            "model": r.model,
            "serial_sha256": serial_hash(r.serial),
            "exposure_from": origin,
            "linked": link,
        },
    )


def _run(writer: SessionWriter, sources: dict[str, Source], *, link, resumed, progress, stop):
    s = writer.session
    order = [p for p in PASSES if p in sources]
    if resumed:
        problems = s.verify()
        if problems:
            raise CaptureError(
                f"expected every journalled file of {writer.path} intact, found "
                f"{len(problems)} problem(s): {'; '.join(problems[:5])}; nothing was imported. "
                f"Run `capture repair {writer.path}`, then the import again"
            )
        writer.set_aside_strays()
    already = {p: len(s.frames(p)) for p in order}
    writer.start("import", [p for p in order if s.remaining(p)])
    if not any(r.get("what") == "import" for r in s.records):
        writer.record(
            "event",
            what="import",
            sources={
                p: {"kind": src.kind, "name": src.path.name, "files": len(src.names)}
                for p, src in sources.items()
            },
        )
    known = {(r.get("pass"), r.get("file")) for r in s.records if r.get("what") == "import_skipped"}
    skipped = []
    for p in order:
        for name, reason in sources[p].skipped:
            skipped.append((p, name, reason))
            if (p, name) not in known:
                writer.record(
                    "event", what="import_skipped", **{"pass": p}, file=name, reason=reason
                )
    done = {p: 0 for p in order}
    warnings = []
    if (
        sources.get("dark")
        and sources["dark"].video
        and sources.get("bright")
        and not sources["bright"].video
    ):
        msg = (
            "the dark pass is a video (8-bit sRGB, the camera's own rendering) and the "
            "references are raw: pairs mix a rendered input with raw ground truth"
        )
        if not any(w.code == "video_with_raw_references" for w in s.warnings):
            writer.warn("video_with_raw_references", msg)
        warnings.append(msg)
    try:
        for p in order:
            src = sources[p]
            if src.video:
                done[p] = _import_video(writer, src, link=link, progress=progress, stop=stop)
            else:
                done[p] = _import_raws(writer, src, link=link, progress=progress, stop=stop)
            if stop is not None and stop.is_set():
                break
    except KeyboardInterrupt:
        writer.stop("abort", "interrupted; run the same `capture import` again to finish it")
        raise
    except BaseException as exc:
        writer.stop("fail", f"{type(exc).__name__}: {exc}"[:500])
        raise
    if stop is not None and stop.is_set() and any(s.remaining(p) for p in order):
        writer.stop("abort", getattr(stop, "reason", None) or "stopped")
    else:
        writer.stop("success", "imported")
    return ImportResult(writer.path, done, already, skipped, resumed, warnings)


def _import_raws(writer, src: Source, *, link, progress, stop) -> int:
    """Copy and verify the pass's remaining files on a few threads (hashing and file I/O
    release the GIL, so copying one file overlaps reading back another), journalling each
    in index order as soon as it and every file before it are verified."""
    s = writer.session
    remaining = set(s.remaining(src.pass_))
    todo = [(i, r) for i, r in enumerate(src.raws) if i in remaining]
    for index, r in todo:
        dest = writer.path / writer.frame_relpath(src.pass_, index, r.name)
        if dest.exists():
            raise SessionExists(f"{dest} already exists; refusing to overwrite a file")

    def one(item: tuple[int, RawInfo]) -> tuple[int, RawInfo, str, str, int]:
        index, r = item
        rel = writer.frame_relpath(src.pass_, index, r.name)
        with storage_errors(f"importing {r.name} as {rel}", "then run the same import again"):
            digest, size = _copy_verified(src.path / r.name, writer.path / rel, link=link)
        return index, r, rel, digest, size

    n = 0
    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        try:
            items = iter(todo)
            while True:
                while len(pending) < 2 * _WORKERS and not (stop is not None and stop.is_set()):
                    item = next(items, None)
                    if item is None:
                        break
                    pending.append(pool.submit(one, item))
                if not pending:
                    break
                index, r, rel, digest, size = pending.popleft().result()
                crash_point("import:copied")
                writer.append(_raw_record(src, r, index, rel, digest, size, link))
                n += 1
                if progress:
                    progress(src.pass_, index + 1, src.frames)
        finally:
            for f in pending:  # a failure or a stop: let the copies under way finish (their
                f.cancel()  # files are set aside by the next run), start no more
    return n


def _import_video(writer, src: Source, *, link, progress, stop) -> int:
    s = writer.session
    v = src.video
    assert v is not None
    ext = Path(v.name).suffix.lower()
    rel = f"{src.pass_}/video{ext}"
    rec = s.video(src.pass_)
    if rec is None:
        dest = writer.path / rel
        with storage_errors(f"importing {v.name} as {rel}", "then run the same import again"):
            digest, size = _copy_verified(src.path, dest, link=link)
        crash_point("import:copied")
        rec = writer.append(
            VideoRecord(
                pass_=src.pass_,
                path=rel,
                sha256=digest,
                size=size,
                source=v.name,
                fps=v.fps,
                duration_s=round(v.duration_s, 6),
                codec=v.codec,
                frame_count=v.frame_count,
                width=v.width,
                height=v.height,
                linked=link,
            )
        )
    exp, iso, ap, _origin = src.exposure_of(None)
    shutter = _shutter_text(exp)
    n = 0
    for i in s.remaining(src.pass_):
        if stop is not None and stop.is_set():
            break
        # no absolute time in a container we can trust: seconds from the video's start
        t0 = i / v.fps if v.fps else float(i)
        writer.append(
            FrameRecord(
                pass_=src.pass_,
                index=i,
                path=rel,
                sha256=rec.sha256,
                size=rec.size,
                camera_name=v.name,
                video_frame=i,
                **_exposure_fields(iso, shutter, exp, ap, "video"),
                angle=None,
                t_start=t0,
                t_end=t0 + exp,
            )
        )
        crash_point("import:video_frame")
        n += 1
        if progress:
            progress(src.pass_, i + 1, src.frames)
    return n


def frames_of_video(frames: list[FrameRecord]) -> bool:
    """Whether a pass's frames are those of one imported video."""
    return bool(frames) and all(f.video_frame is not None for f in frames)
