"""The HDF5 split files' layout (schema 1) as data: names, attributes, table fields, dtypes.

No h5py here: the writer (:mod:`dataset_card.h5writer`), the verifier and summary
(:mod:`dataset_card.h5verify`), the reader and the dataset card all take the layout from this
module, and the card renders its description from :func:`layout_rows` without opening a file.

A release keeps each split in one HDF5 file, or in shards of a few gigabytes: root attributes
naming the release (:data:`ROOT_ATTRS`, plus :data:`CODEC_ATTRS`), then one group per session
at ``/sessions/<session_id>`` holding the kept short-exposure Bayer mosaics (``short``), the
reference mosaics (``long``), their sRGB renderings (``gt_srgb``), per-frame tables
(``short_frames``, ``long_frames``) and the session's attributes (:data:`SESSION_ATTRS`); a
static session with K > 1 references also holds their registered mean (``long_mean``,
float32) and its rendering (``gt_mean_srgb``).  A session imported from video holds
``short_srgb`` and ``long_srgb`` (uint8 sRGB) instead, with the same tables.

The frame tables are filled by field name from typed rows: :class:`ShortFrameRow` (one per
kept short frame) and :class:`LongFrameRow` (one per reference), whose dataclass fields are
the table's fields, in order, each with its numpy type; :meth:`FrameRow.table` turns a list of
rows into the structured array the writer stores.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataset_card.errors import BadRelease

__all__ = [
    "CODECS",
    "CODEC_ALIASES",
    "CODEC_ATTRS",
    "DEFAULT_BLOSC_THREADS",
    "DEFAULT_CODEC",
    "FRAME_FIELDS",
    "GT_RECIPE",
    "LONG_FRAMES_DTYPE",
    "MEAN_RECIPE",
    "READER_NEEDS",
    "REFERENCE_FRAMES_DTYPE",
    "ROOT_ATTRS",
    "SCHEMA_VERSION",
    "SESSION_ATTRS",
    "SESSION_KINDS",
    "SHORT_FRAMES_DTYPE",
    "TABLE_DTYPES",
    "TILE",
    "WHOLE_FRAME_MAX_PIXELS",
    "FrameRow",
    "LayoutRow",
    "LongFrameRow",
    "ShortFrameRow",
    "canonical_codec",
    "frame_chunks",
    "layout_rows",
    "shard_name",
    "srgb_chunks",
]

#: The layout version written in every file's ``schema_version`` attribute.
SCHEMA_VERSION = 1

#: Lossless codecs the writer offers, fastest to slowest on our data except ``none``.
CODECS: tuple[str, ...] = ("bitshuffle-lz4", "blosc-zstd", "gzip-shuffle", "none")

#: Short names ``--codec`` also accepts.
CODEC_ALIASES = {"gzip": "gzip-shuffle", "blosc": "blosc-zstd"}

#: What a reader needs for each codec, written as every file's ``reader_needs`` attribute.
READER_NEEDS = {
    "bitshuffle-lz4": "h5py and hdf5plugin (import hdf5plugin before opening the file)",
    "blosc-zstd": "h5py and hdf5plugin (import hdf5plugin before opening the file)",
    "gzip-shuffle": "h5py only (gzip and shuffle are built into HDF5)",
    "none": "h5py only (no compression)",
}

#: Chosen by ``scripts/bench_dataset.py`` on simulated RX100 frames at 1 lux: of the codecs that
#: package faster than 150 MB/s of raw input on two cores, the one that stores least (2.20x on
#: short exposures, 88 % of their entropy bound, against 2.04x for bitshuffle-lz4; gzip+shuffle
#: reaches 2.31x but packages at about 90 MB/s and reads crops five times slower).
DEFAULT_CODEC = "blosc-zstd"

#: Blosc's compression level for ``blosc-zstd`` (bitshuffled).  Levels 3 to 5 store within
#: 0.5 % of each other on 14-bit mosaics; 3 writes about 1.8 times faster than 5.
BLOSC_ZSTD_LEVEL = 3

#: gzip's level for ``gzip-shuffle``; higher levels are far slower (gzip 9 wrote at 1 MB/s in
#: the measurements of REFERENCE.md).
GZIP_LEVEL = 1

#: Threads Blosc may use while a writer is open (``BLOSC_NTHREADS``; an existing value wins).
#: One, so that a release is byte-reproducible: with several threads c-blosc lays a chunk's
#: compressed blocks out in the order its threads finish them, so the same frame can be stored
#: as different bytes from run to run (the data decoded is the same).  Packaging already
#: decodes on a thread pool while the writer compresses: in four runs of ``scripts/bench
#: dataset --quick`` on a busy 2-core machine, blosc-zstd@1 packaged at 0.98 to 1.33 times the
#: speed of @2 in the same run (within the noise).
DEFAULT_BLOSC_THREADS = 1

#: Frames with at most this many pixels are stored one chunk per frame; larger ones in tiles.
WHOLE_FRAME_MAX_PIXELS = 4_000_000

#: Tile side, in pixels, for frames above :data:`WHOLE_FRAME_MAX_PIXELS` and for sRGB images.
TILE = 256

#: What ``gt_srgb`` holds, written as its ``recipe`` attribute unless the caller gives another.
GT_RECIPE = (
    "rawpy postprocess(use_camera_wb=True, half_size=False, no_auto_bright=True, "
    "output_bps=16, adjust_maximum_thr=0) of the long exposure, cropped with that reference's "
    "window"
)

#: What ``gt_mean_srgb`` holds (its ``recipe`` attribute).
MEAN_RECIPE = (
    "the mean of the K reference windows (long_mean, each at its even offset) rounded to whole "
    "DN and rendered like gt_srgb (camera white balance, no auto-brightness, 16 bit) with the "
    "session's levels, white balance and colour matrix: noise about 1/sqrt(K) of one reference"
)

#: Root attributes every split file carries.
ROOT_ATTRS: tuple[str, ...] = (
    "dataset_name",
    "version",
    "schema_version",
    "tool_version",
    "created",
    "split",
    "shard",
    "num_shards",
)

#: Root attributes naming the file's codec and what a reader needs for it.
CODEC_ATTRS: tuple[str, ...] = ("codec", "reader_needs")

#: Attributes every session group carries (besides ``scene``).
SESSION_ATTRS: tuple[str, ...] = (
    "black_level",
    "white_level",
    "cfa",
    "white_balance",
    "exposure_ratio",
    "iso",
    "short_exposure_s",
    "long_exposure_s",
    "camera_make",
    "camera_model",
    "lighting",
    "lux",
    "kind",
    "registration",
    "crop",
)

#: The values of a session's ``kind`` attribute.
SESSION_KINDS: tuple[str, ...] = ("static", "sweep", "dynamic")

#: The registered HDF5 filter ids of hdf5plugin's filters (fixed by The HDF Group's registry),
#: so that files can be described without hdf5plugin installed.
BSHUF_ID, BLOSC_ID, BLOSC2_ID, LZ4_ID, ZSTD_ID = 32008, 32001, 32026, 32004, 32015

SPLIT_RE = re.compile(r"\w+(\.\w+)*")
SHARD_RE = re.compile(r"(?P<split>.+?)(?:-(?P<shard>\d{5})-of-(?P<count>\d{5}))?\.h5")


# -- frame rows -------------------------------------------------------------------------------


def _column(dtype: str) -> Any:
    """A dataclass field stored in a table column of numpy type ``dtype``."""
    return field(metadata={"dtype": dtype})


def _column_default(dtype: str, default: Any) -> Any:
    return field(default=default, metadata={"dtype": dtype})


@dataclass(frozen=True)
class FrameRow:
    """One row of a frame table: what identifies a frame and how it was exposed.

    Attributes
    ----------
    file : str
        The frame's file, relative to its session folder (at most 128 bytes of UTF-8).
    sha256 : str
        The file's SHA-256, hex (64 characters).
    exposure_s, iso : float
        The exposure as applied (NaN: unknown).
    t : float
        Capture time, seconds since the epoch.
    angle : float
        The turntable's angle in degrees (NaN: none).
    """

    file: str = _column("S128")
    sha256: str = _column("S64")
    exposure_s: float = _column("f8")
    iso: float = _column("f8")
    t: float = _column("f8")
    angle: float = _column("f8")

    @classmethod
    def dtype(cls) -> np.dtype:
        """The structured numpy dtype of a table of these rows: the fields, in order."""
        return _dtype_of(cls)

    @classmethod
    def table(cls, rows: Iterable[FrameRow]) -> np.ndarray:
        """A structured array with one row per record, each column filled by field name.

        Parameters
        ----------
        rows : iterable of FrameRow
            Records of this class (text is stored as UTF-8 bytes, None as NaN).

        Returns
        -------
        numpy.ndarray
            Of dtype :meth:`dtype`, ``len(rows)`` long.
        """
        rows = list(rows)
        for r in rows:
            if not isinstance(r, cls):
                raise BadRelease(
                    f"expected {cls.__name__} records for the table, found {type(r).__name__}"
                )
        dtype = cls.dtype()
        out = np.zeros(len(rows), dtype)
        for name in dtype.names or ():
            kind = dtype[name].kind
            values = [getattr(r, name) for r in rows]
            if kind == "S":
                encoded = [v.encode() if isinstance(v, str) else bytes(v) for v in values]
                width = dtype[name].itemsize
                for v in encoded:
                    if len(v) > width:
                        raise BadRelease(
                            f"expected a {name!r} of at most {width} bytes (UTF-8) for the "
                            f"{cls.__name__} table, found {len(v)} bytes: {v[:40]!r}...; a "
                            "shortened value would no longer name its frame: rename the "
                            "frame's file (and re-import the session) with a shorter name"
                        )
                out[name] = encoded
            elif kind == "f":
                out[name] = [math.nan if v is None else v for v in values]
            else:
                out[name] = values
        return out

    @classmethod
    def from_table(cls, table: np.ndarray) -> list[Any]:
        """The records of a structured array with (at least) this class's fields.

        Text is decoded from UTF-8 and numbers become Python ints and floats; extra fields
        are ignored.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in (table.dtype.names or ())]
        if missing:
            raise BadRelease(
                f"expected a table with the fields of {cls.__name__}, found no "
                f"{', '.join(missing)} in {table.dtype}"
            )
        out = []
        for row in table:
            values = {}
            for n in names:
                v = row[n].item() if hasattr(row[n], "item") else row[n]
                values[n] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
            out.append(cls(**values))
        return out


@dataclass(frozen=True)
class ShortFrameRow(FrameRow):
    """A row of ``short_frames``: a kept short frame and the pair it is in.

    Attributes
    ----------
    ref : int
        The index of its reference in ``long`` (-1: unpaired).
    score : float
        The pair's alignment score (NaN: unpaired).
    dy, dx : float
        The shift left after the reference's even-offset crop: a point at (y, x) of the
        cropped short frame is at (y + dy, x + dx) of its cropped reference.
    exposure_ratio : float
        The reference's exposure over this frame's (NaN: unpaired).
    """

    ref: int = _column_default("i4", -1)
    score: float = _column_default("f4", math.nan)
    dy: float = _column_default("f4", math.nan)
    dx: float = _column_default("f4", math.nan)
    exposure_ratio: float = _column_default("f4", math.nan)


@dataclass(frozen=True)
class LongFrameRow(FrameRow):
    """A row of ``long_frames`` as the release build writes it: a reference and its window.

    Attributes
    ----------
    offset_y, offset_x : int
        Where the reference's window sits relative to the short window (even numbers).
    dy, dx : float
        The reference's own shift left after that offset (at most a pixel).
    """

    offset_y: int = _column_default("i4", 0)
    offset_x: int = _column_default("i4", 0)
    dy: float = _column_default("f4", 0.0)
    dx: float = _column_default("f4", 0.0)


_DTYPES: dict[type, np.dtype] = {}


def _dtype_of(cls: type) -> np.dtype:
    if cls not in _DTYPES:
        _DTYPES[cls] = np.dtype([(f.name, f.metadata["dtype"]) for f in dataclasses.fields(cls)])
    return _DTYPES[cls]


#: The fields every frame table has, as ``(name, numpy type)``, in order.
FRAME_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (f.name, f.metadata["dtype"]) for f in dataclasses.fields(FrameRow)
)

#: The fields ``short_frames`` must have (more are kept).  ``ref`` indexes ``long`` (-1:
#: unpaired); ``dy``/``dx`` are the residual shift after the even-offset crop.
SHORT_FRAMES_DTYPE = ShortFrameRow.dtype()

#: The fields ``long_frames`` must have (more are kept).
LONG_FRAMES_DTYPE = FrameRow.dtype()

#: The fields of ``long_frames`` as the release build writes them (:class:`LongFrameRow`).
REFERENCE_FRAMES_DTYPE = LongFrameRow.dtype()

#: The tables of a session group and the fields each must have.
TABLE_DTYPES = {"short_frames": SHORT_FRAMES_DTYPE, "long_frames": LONG_FRAMES_DTYPE}

#: The frames each table has one row per (raw layout).
TABLE_FOR = {"short_frames": "short", "long_frames": "long"}


# -- names and chunks -------------------------------------------------------------------------


def canonical_codec(codec: str) -> str:
    """The codec name of :data:`CODECS` that ``codec`` (or its alias) names.

    Raises
    ------
    BadRelease
        For a name that is neither a codec nor an alias.
    """
    name = CODEC_ALIASES.get(codec, codec)
    if name not in CODECS:
        raise BadRelease(
            f"expected a codec among {', '.join(CODECS)} (or gzip, blosc), found {codec!r}; "
            f"{DEFAULT_CODEC} is the default, gzip-shuffle is for readers without hdf5plugin "
            "(see the README's measured figures)"
        )
    return name


def frame_chunks(height: int, width: int) -> tuple[int, int, int]:
    """The chunk shape for a stack of ``height`` x ``width`` frames.

    Parameters
    ----------
    height, width : int
        Frame size in pixels.

    Returns
    -------
    tuple of int
        ``(1, height, width)`` up to :data:`WHOLE_FRAME_MAX_PIXELS` pixels, else ``(1, 256,
        256)`` tiles (clipped to the frame).
    """
    if height * width <= WHOLE_FRAME_MAX_PIXELS:
        return (1, int(height), int(width))
    return (1, min(TILE, int(height)), min(TILE, int(width)))


def srgb_chunks(height: int, width: int, channels: int = 3) -> tuple[int, int, int, int]:
    """The chunk shape for a stack of sRGB images: :data:`TILE`-pixel tiles, all channels.

    Parameters
    ----------
    height, width : int
        Image size in pixels.
    channels : int, optional
        Colour channels (3).

    Returns
    -------
    tuple of int
        ``(1, min(height, TILE), min(width, TILE), channels)``.
    """
    return (1, min(int(height), TILE), min(int(width), TILE), int(channels))


def shard_name(split: str, shard: int, num_shards: int) -> str:
    """File name of one shard: ``train.h5`` alone, else ``train-00001-of-00003.h5``."""
    if num_shards == 1:
        return f"{split}.h5"
    return f"{split}-{shard:05d}-of-{num_shards:05d}.h5"


# -- the layout, described --------------------------------------------------------------------


@dataclass(frozen=True)
class LayoutRow:
    """One item of a session group's layout, in the words the dataset card prints.

    Attributes
    ----------
    names : tuple of str
        The datasets, tables or attributes the item describes.
    subject : str
        The item's heading: its names with shapes and types (Markdown code spans).
    description : str
        What it holds (Markdown; empty when the subject says all).
    """

    names: tuple[str, ...]
    subject: str
    description: str = ""


def _code(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def layout_rows() -> tuple[LayoutRow, ...]:
    """The items of a raw session group (``/sessions/<session_id>``), in the card's order.

    Returns
    -------
    tuple of LayoutRow
        ``short``, ``long``, ``gt_srgb``, the references' mean, the frame tables (their fields
        named from :class:`ShortFrameRow` and :class:`LongFrameRow`) and the group's attributes
        (:data:`SESSION_ATTRS`).  The card prints each as ``- {subject}: {description}``
        (``- {subject}`` without a description), joined by ``;`` and a new line, the last
        ending with ``.``.
    """
    frame = [n for n, _ in FRAME_FIELDS]
    short_extra = [n for n in SHORT_FRAMES_DTYPE.names or () if n not in frame]
    long_extra = [n for n in REFERENCE_FRAMES_DTYPE.names or () if n not in frame]
    short_fields = ", ".join(
        f"`{n}` (index into `long`, -1 if unpaired)" if n == "ref" else f"`{n}`"
        for n in short_extra
    )
    offsets, shifts = _code(long_extra[:2]), _code(long_extra[2:])
    return (
        LayoutRow(
            ("short",),
            "`short` (T, H, W) uint16",
            "kept short-exposure Bayer frames, untouched values",
        ),
        LayoutRow(
            ("long",),
            "`long` (K, H, W) uint16",
            "the reference(s), cropped to the same size (absent for dynamic sessions)",
        ),
        LayoutRow(("gt_srgb",), "`gt_srgb` (K, H, W, 3) uint16", "each reference rendered to sRGB"),
        LayoutRow(
            ("long_mean", "gt_mean_srgb"),
            "`long_mean` (H, W) float32 and `gt_mean_srgb` (H, W, 3) uint16, only in static "
            "sessions with K > 1 references",
            "the mean of the K reference windows and its sRGB rendering, a ground truth with "
            "1/sqrt(K) of one reference's noise",
        ),
        LayoutRow(
            tuple(TABLE_DTYPES),
            _code(TABLE_DTYPES),
            f"per-frame tables ({_code(frame)}; short frames also {short_fields}; references "
            f"also {offsets} (their window's even offset from the short "
            f"window) and {shifts} (their own shift left after it)).  A "
            "point at (y, x) of a cropped short frame is at (y + dy, x + dx) of its cropped "
            "reference",
        ),
        LayoutRow(SESSION_ATTRS, f"group attributes {_code(SESSION_ATTRS)}"),
    )
