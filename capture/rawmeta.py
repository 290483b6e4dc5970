"""The EXIF of raw formats that are not TIFF files: Canon CR3 and Fujifilm RAF.

Both carry ordinary TIFF structures inside another container, and tifffile parses those once
they are cut out:

- **CR3** is an ISO base media file (ftyp, moov ...).  Canon's ``uuid`` box inside ``moov``
  (85c0b687-820f-11e0-8111-f4ce462b6a48) holds ``CMT1`` (IFD0: make, model) and ``CMT2``
  (the EXIF IFD: exposure time, ISO, f-number, date, body serial), each a complete
  little-endian TIFF.
- **RAF** starts with a big-endian header (``FUJIFILMCCD-RAW ``); at byte 84 it gives the
  offset and length of an embedded JPEG preview whose APP1 segment is ``Exif\\0\\0`` followed
  by a TIFF (IFD0 with an ExifTag sub-IFD).

Only the first megabytes are read (the metadata sits at the front); nothing is decoded.

:func:`container_truncation` tells a file cut short (a copy that stopped, a card read that
failed) from a whole one without reading the image: a CR3's top-level boxes tile the file, so
one that ends past the end of the file was cut; a RAF's header gives where its raw (CFA) data
lies, so data said to end past the end of the file was cut.
"""

from __future__ import annotations

import io
import logging
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import tifffile

__all__ = [
    "CANON_UUID",
    "RECOPY",
    "box_overrun",
    "container_exif",
    "container_truncation",
    "quiet_tifffile",
    "truncated",
]

#: Canon's metadata box inside a CR3's ``moov``.
CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
_HEAD = 4 << 20  # a CR3's moov box or a RAF's EXIF is within the first 4 MB
_RAF_MAGIC = b"FUJIFILMCCD-RAW "
#: What to try about a file cut short, for every "truncated" reason.
RECOPY = "copy it from the camera's card again (the copy stopped early)"


def truncated(what: str, byte: int, size: int, *, where: str = "ends at") -> str:
    """The reason for a raw file cut short, the same words for every format.

    Parameters
    ----------
    what : str
        The part of the file that does not fit (``"image data"``, ``"'mdat' box"``).
    byte : int
        Where that part ends (or lies).
    size : int
        The file's size in bytes.
    where : str, optional
        How the part relates to ``byte`` (``"ends at"``, ``"lies at"``).

    Returns
    -------
    str
        ``"truncated: its {what} {where} byte {byte}, the file has {size}; "`` and
        :data:`RECOPY`.
    """
    return f"truncated: its {what} {where} byte {byte}, the file has {size}; {RECOPY}"


@contextmanager
def quiet_tifffile() -> Iterator[None]:
    """Silence tifffile's logger for the block (restored after): a damaged or image-less TIFF
    is reported by the caller, once, not by tifffile's warnings."""
    logger = logging.getLogger("tifffile")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def container_exif(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The IFD0 and EXIF tags of a CR3 or RAF file, by tag name (tifffile's names).

    Parameters
    ----------
    path : path-like
        A ``.cr3`` or ``.raf`` file (told apart by their first bytes, not the suffix).

    Returns
    -------
    (ifd0, exif) or None
        Two dicts of tag name to value (``{"Make": "Canon", ...}``, ``{"ExposureTime": (1,
        125), "ISOSpeedRatings": 100, ...}``); ``None`` when the file is neither format or
        its metadata cannot be found (a truncated or unusual file): the caller then needs the
        exposure from the user, as for any raw without metadata.
    """
    with open(path, "rb") as fh:
        head = fh.read(_HEAD)
    if head[4:8] == b"ftyp":
        return _cr3(head)
    if head.startswith(_RAF_MAGIC):
        return _raf(path, head)
    return None


def container_truncation(path: str | os.PathLike) -> str | None:
    """Why a CR3 or RAF file cannot hold all of its image data, or None.

    Parameters
    ----------
    path : path-like
        A ``.cr3`` or ``.raf`` file (told apart by their first bytes, not the suffix).

    Returns
    -------
    str or None
        ``"truncated: ..."`` (with the byte where the data ends and the file's size) when a
        CR3's top-level box, or a RAF's raw data, ends past the end of the file; ``"damaged
        ...: ..."`` when a CR3's box sizes make no sense; None for a whole file, or one that
        is neither format.

    Raises
    ------
    OSError
        The file cannot be read.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(108)
        if head[4:8] == b"ftyp":
            return box_overrun(_top_boxes(fh, size), size)
    if head.startswith(_RAF_MAGIC):
        return _raf_overrun(head, size)
    return None


def box_overrun(boxes, size: int) -> str | None:
    """The rule for an ISO-BMFF file's top-level boxes: each must end within the file.

    Parameters
    ----------
    boxes : iterable of (bytes, int, int)
        Each top-level box's type, start and declared end (start + its size field), in file
        order (type ``b""``: a header cut short); a box whose size field cannot be valid has
        end < start + 8.
    size : int
        The file's size in bytes.

    Returns
    -------
    str or None
        Why the boxes do not fit the file (``"truncated: ..."``, ``"damaged ...: ..."``), or
        None when they all do.
    """
    for kind, start, end in boxes:
        box = f"{kind.decode('latin-1')!r} box" if kind else "last box's header"
        if end < start + 8:
            return f"damaged ISO-BMFF structure: the {box} at byte {start} has size {end - start}"
        if end > size:
            return truncated(box, end, size)
    return None


def _top_boxes(fh, size: int):
    """(type, start, declared end) of a file's top-level ISO-BMFF boxes, read header by
    header (the boxes themselves are not read); a header cut by the end of the file is
    reported as a box ending past it."""
    off = 0
    while off < size:
        fh.seek(off)
        header = fh.read(16)
        if len(header) < 8:  # cut inside a box's header: its type is unknown
            yield b"", off, off + 8
            return
        box, kind = struct.unpack(">I4s", header[:8])
        if box == 1:
            if len(header) < 16:
                yield kind, off, off + 16
                return
            box = struct.unpack(">Q", header[8:16])[0]
        elif box == 0:  # the last box: it runs to the end of the file
            box = size - off
        yield kind, off, off + box
        if box < 8:
            return
        off += box


def _raf_overrun(head: bytes, size: int) -> str | None:
    """A RAF header's pieces (preview JPEG, CFA header, CFA data) that end past the file's
    end; a header cut short is truncated too."""
    if len(head) < 108:
        return truncated("header", 108, size)
    pieces = (("preview", 84), ("raw header", 92), ("raw data", 100))
    for what, at in pieces:
        offset, length = struct.unpack(">II", head[at : at + 8])
        if length and offset + length > size:
            return truncated(what, offset + length, size)
    return None


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, payload end) of the ISO-BMFF boxes in ``data[start:end]``."""
    off = start
    while off + 8 <= end:
        size, kind = struct.unpack(">I4s", data[off : off + 8])
        header = 8
        if size == 1:
            if off + 16 > end:
                return
            size, header = struct.unpack(">Q", data[off + 8 : off + 16])[0], 16
        elif size == 0:
            size = end - off
        if size < header:
            return
        yield kind, off + header, min(off + size, end)
        off += size


def _cr3(head: bytes) -> tuple[dict, dict] | None:
    for kind, start, end in _boxes(head, 0, len(head)):
        if kind != b"moov":
            continue
        for inner, s, e in _boxes(head, start, end):
            if inner != b"uuid" or head[s : s + 16] != CANON_UUID:
                continue
            cmt = {k: head[a:b] for k, a, b in _boxes(head, s + 16, e) if k in (b"CMT1", b"CMT2")}
            if b"CMT1" not in cmt and b"CMT2" not in cmt:
                return None
            return _ifd_tags(cmt.get(b"CMT1", b"")), _ifd_tags(cmt.get(b"CMT2", b""))
    return None


def _raf(path: str | os.PathLike, head: bytes) -> tuple[dict, dict] | None:
    if len(head) < 92:
        return None
    jpeg_at, jpeg_len = struct.unpack(">II", head[84:92])
    if not jpeg_at or not jpeg_len:
        return None
    with open(path, "rb") as fh:
        fh.seek(jpeg_at)
        jpeg = fh.read(min(jpeg_len, 1 << 20))
    tiff = _jpeg_exif(jpeg)
    if tiff is None:
        return None
    ifd0 = _ifd_tags(tiff)
    exif = ifd0.get("ExifTag")
    return ifd0, exif if isinstance(exif, dict) else {}


def _jpeg_exif(jpeg: bytes) -> bytes | None:
    """The TIFF inside a JPEG's ``Exif`` APP1 segment, or None."""
    if not jpeg.startswith(b"\xff\xd8"):
        return None
    off = 2
    while off + 4 <= len(jpeg) and jpeg[off] == 0xFF:
        marker = jpeg[off + 1]
        (length,) = struct.unpack(">H", jpeg[off + 2 : off + 4])
        body = jpeg[off + 4 : off + 2 + length]
        if marker == 0xE1 and body.startswith(b"Exif\0\0"):
            return body[6:]
        if marker == 0xDA:  # start of scan: no more metadata segments
            return None
        off += 2 + length
    return None


def _ifd_tags(tiff: bytes) -> dict[str, Any]:
    """Tag name to value of a TIFF blob's first IFD ({} when it is not a TIFF)."""
    if tiff[:4] not in (b"II*\0", b"MM\0*"):
        return {}
    try:
        with quiet_tifffile(), tifffile.TiffFile(io.BytesIO(tiff)) as tif:
            # the blobs have tags but no image: tifffile would say so
            return {t.name: t.value for t in tif.pages[0].tags.values()}
    except Exception:  # tifffile raises many kinds on a damaged blob: all mean "no metadata"
        return {}
