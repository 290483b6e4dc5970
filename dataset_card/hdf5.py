"""HDF5 split files: the writer, the verifier and the summary (the one module importing h5py).

A release keeps each split in one HDF5 file, or in shards of a few gigabytes, laid out as
schema 1 (see the dataset card): root attributes naming the release, then one group per
session at ``/sessions/<session_id>`` holding the kept short-exposure Bayer mosaics
(``short``), the reference mosaics (``long``), their sRGB renderings (``gt_srgb``), per-frame
tables (``short_frames``, ``long_frames``) and the session's attributes; a static session with
K > 1 references also holds their registered mean (``long_mean``, float32) and its rendering
(``gt_mean_srgb``).

A session imported from video (:mod:`dataset_card.video`) holds its frames as the camera
rendered them instead: ``short_srgb`` (T, H, W, 3) and ``long_srgb`` (K, H, W, 3), uint8 sRGB
in RGB order, with the same tables, and ``modality = "video"`` plus the videos' metadata in
its attributes (``video_dark``, ``video_bright``: JSON).  A group without ``modality`` is raw.

Frames are written one at a time, so a 110-frame 20-megapixel burst never sits in memory.
Every dataset is chunked with a Fletcher-32 checksum per chunk; frames of up to
:data:`WHOLE_FRAME_MAX_PIXELS` are one chunk each, larger ones are cut into 256 x 256 tiles so
that a training crop decompresses only the tiles it touches.  Files are written under
temporary names and renamed only when the whole split is done, so an interrupted publish
leaves no partial file behind.

Plugin filters (Bitshuffle, Blosc) come from hdf5plugin, which is imported here (when it is
installed) so that every file this module opens, or that :func:`open_file` hands out, can be
read.  Each file records its codec and what a reader needs in the root attributes ``codec``
and ``reader_needs``; ``gzip-shuffle`` and ``none`` need h5py alone.  Without hdf5plugin a
frame stored with a plugin filter cannot be read: :func:`missing_filters` names the filters a
dataset needs that this process lacks, and the reader turns that into
:class:`~dataset_card.errors.MissingFilter`, naming hdf5plugin.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

try:  # registers Blosc, Bitshuffle, ... with HDF5; gzip and none are read without it
    import hdf5plugin
except ImportError:  # pragma: no cover - exercised in a subprocess by the tests
    hdf5plugin = None

from dataset_card.errors import (
    BadRelease,
    CorruptFile,
    DatasetError,
    MissingFile,
    MissingFilter,
    ReleaseExists,
)
from sublux_common.fsio import PART_SUFFIX, fsync_dir

__all__ = [
    "CODECS",
    "CODEC_ALIASES",
    "DEFAULT_BLOSC_THREADS",
    "DEFAULT_CODEC",
    "GT_RECIPE",
    "LONG_FRAMES_DTYPE",
    "MEAN_RECIPE",
    "READER_NEEDS",
    "ROOT_ATTRS",
    "SCHEMA_VERSION",
    "SESSION_ATTRS",
    "SHORT_FRAMES_DTYPE",
    "WHOLE_FRAME_MAX_PIXELS",
    "SessionWriter",
    "SplitWriter",
    "canonical_codec",
    "file_summary",
    "filter_error",
    "fletcher32_matches",
    "frame_chunks",
    "missing_filters",
    "open_file",
    "shard_name",
    "to_python",
    "verify_file",
]

log = logging.getLogger(__name__)

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
DEFAULT_BLOSC_THREADS = 2

#: Frames with at most this many pixels are stored one chunk per frame; larger ones in tiles.
WHOLE_FRAME_MAX_PIXELS = 4_000_000

#: Tile side, in pixels, for frames above :data:`WHOLE_FRAME_MAX_PIXELS`.
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

SESSION_KINDS: tuple[str, ...] = ("static", "sweep", "dynamic")

_FRAME_FIELDS = [
    ("file", "S128"),
    ("sha256", "S64"),
    ("exposure_s", "f8"),
    ("iso", "f8"),
    ("t", "f8"),
    ("angle", "f8"),
]

#: The fields ``short_frames`` must have (more are kept).  ``ref`` indexes ``long`` (-1:
#: unpaired); ``dy``/``dx`` are the residual shift after the even-offset crop.
SHORT_FRAMES_DTYPE = np.dtype(
    [
        *_FRAME_FIELDS,
        ("ref", "i4"),
        ("score", "f4"),
        ("dy", "f4"),
        ("dx", "f4"),
        ("exposure_ratio", "f4"),
    ]
)

#: The fields ``long_frames`` must have (more are kept).
LONG_FRAMES_DTYPE = np.dtype(_FRAME_FIELDS)

_TABLE_DTYPES = {"short_frames": SHORT_FRAMES_DTYPE, "long_frames": LONG_FRAMES_DTYPE}
_TABLE_FOR = {"short_frames": "short", "long_frames": "long"}
_SPLIT_RE = re.compile(r"\w+(\.\w+)*")
_SHARD_RE = re.compile(r"(?P<split>.+?)(?:-(?P<shard>\d{5})-of-(?P<count>\d{5}))?\.h5")
_MAX_PROBLEMS_PER_DATASET = 10
_VERIFY_BLOCK_BYTES = 64 * 2**20

# The registered HDF5 filter ids of hdf5plugin's filters (fixed by The HDF Group's registry),
# so that files can be described without hdf5plugin installed.
BSHUF_ID, BLOSC_ID, BLOSC2_ID, LZ4_ID, ZSTD_ID = 32008, 32001, 32026, 32004, 32015
_FILTER_NAMES = {
    h5py.h5z.FILTER_DEFLATE: "gzip",
    h5py.h5z.FILTER_SHUFFLE: "shuffle",
    h5py.h5z.FILTER_FLETCHER32: "fletcher32",
    BSHUF_ID: "bitshuffle",
    BLOSC_ID: "blosc",
    BLOSC2_ID: "blosc2",
    LZ4_ID: "lz4",
    ZSTD_ID: "zstd",
}


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


def missing_filters(ds: h5py.Dataset) -> list[str]:
    """The names of the filters ``ds`` is stored with that this process cannot load."""
    plist = ds.id.get_create_plist()
    out = []
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if not h5py.h5z.filter_avail(code):
            out.append(_FILTER_NAMES.get(code, f"filter {code}"))
    return out


def filter_error(ds: h5py.Dataset, where: str) -> MissingFilter | None:
    """A :class:`MissingFilter` naming hdf5plugin when ``ds`` needs a filter this process
    lacks, else None."""
    missing = missing_filters(ds)
    if not missing:
        return None
    codec = ds.file.attrs.get("codec", None)
    codec = f" (codec {to_python(codec)})" if codec is not None else ""
    state = (
        "hdf5plugin is not installed"
        if hdf5plugin is None
        else "hdf5plugin is imported but HDF5 did not load these filters"
    )
    return MissingFilter(
        f"cannot read {where}: it is compressed with {', '.join(missing)}{codec}, an HDF5 "
        f"plugin filter, and {state}.  Install it (`pip install hdf5plugin`) and "
        "`import hdf5plugin` before opening the file; or publish with `--codec gzip-shuffle`, "
        "which h5py reads alone"
    )


def _codec_options(codec: str) -> dict[str, Any]:
    """h5py ``create_dataset`` keywords for one of :data:`CODECS`."""
    if codec in ("bitshuffle-lz4", "blosc-zstd") and hdf5plugin is None:
        raise DatasetError(
            f"codec {codec} needs hdf5plugin to write, and it is not installed; `pip install "
            "hdf5plugin`, or choose --codec gzip-shuffle or none"
        )
    if codec == "bitshuffle-lz4":
        return dict(hdf5plugin.Bitshuffle(nelems=0, cname="lz4"))
    if codec == "blosc-zstd":
        return dict(
            hdf5plugin.Blosc(
                cname="zstd", clevel=BLOSC_ZSTD_LEVEL, shuffle=hdf5plugin.Blosc.BITSHUFFLE
            )
        )
    if codec == "gzip-shuffle":
        return {"compression": "gzip", "compression_opts": GZIP_LEVEL, "shuffle": True}
    if codec == "none":
        return {}
    raise BadRelease(
        f"expected a codec among {', '.join(CODECS)}, found {codec!r}; {DEFAULT_CODEC} is the "
        "default (see scripts/bench_dataset.py for the trade-offs)"
    )


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


def shard_name(split: str, shard: int, num_shards: int) -> str:
    """File name of one shard: ``train.h5`` alone, else ``train-00001-of-00003.h5``."""
    if num_shards == 1:
        return f"{split}.h5"
    return f"{split}-{shard:05d}-of-{num_shards:05d}.h5"


def _utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _attr_value(name: str, value: Any) -> Any:
    """An attribute value h5py stores faithfully, or :class:`BadRelease` saying why not."""
    if value is None:
        raise BadRelease(
            f"expected a value for attribute {name!r}, found None; HDF5 has no null: write NaN "
            "for an unknown number or an empty string for unknown text"
        )
    if isinstance(value, (str, bool, int, float, np.generic)):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.dtype.kind in "biuf":
            return arr
        if arr.dtype.kind == "U" or (
            arr.dtype == object and all(isinstance(v, str) for v in arr.ravel())
        ):
            return np.array([str(v) for v in arr.ravel()], dtype=h5py.string_dtype()).reshape(
                arr.shape
            )
    raise BadRelease(
        f"expected attribute {name!r} to be a number, a string, or a list of numbers or of "
        f"strings, found {type(value).__name__} {value!r}"
    )


def to_python(value: Any) -> Any:
    """An HDF5 attribute or table value as plain Python: str, int, float, bool or lists."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return (
            [to_python(v) for v in value.tolist()] if value.dtype.kind in "OSU" else value.tolist()
        )
    if isinstance(value, np.generic):
        return to_python(value.item())
    return value


def _attrs_dict(attrs: h5py.AttributeManager) -> dict[str, Any]:
    return {k: to_python(attrs[k]) for k in attrs}


def _check_shape(name: str, shape: Sequence[int] | None, ndim: int, *, what: str) -> tuple:
    try:
        out = tuple(int(v) for v in shape)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        out = ()
    if len(out) != ndim or any(v < 0 for v in out):
        raise BadRelease(f"expected {name} to be {what}, found {shape!r}")
    return out


class SessionWriter:
    """Writes one session's group; made by :meth:`SplitWriter.add_session`, not directly.

    Every frame, reference and rendering declared by the shapes handed to ``add_session``
    must be written, and ``short_frames`` (plus ``long_frames`` when there are references),
    before the next session is added or the split closed; a gap raises
    :class:`~dataset_card.errors.BadRelease` rather than leaving zeros in the release.
    """

    def __init__(
        self,
        group: h5py.Group,
        session_id: str,
        *,
        codec: str,
        short_shape: tuple[int, int, int],
        long_shape: tuple[int, int, int] | None,
        gt_shape: tuple[int, int, int, int] | None,
        gt_recipe: str,
        mean: bool = False,
        srgb: bool = False,
    ) -> None:
        self.session_id = session_id
        self.short_shape = short_shape
        self.long_shape = long_shape
        self.gt_shape = gt_shape
        self._group = group
        self._closed = False
        opts = _codec_options(codec)
        self._datasets: dict[str, h5py.Dataset] = {}
        self._written: dict[str, np.ndarray] = {}
        self._tables: set[str] = set()
        # video sessions (issue 14): 8-bit sRGB frames in short_srgb/long_srgb, no mosaics
        self._frames_of = dict(_TABLE_FOR)
        self._dtypes: dict[str, Any] = {}
        if srgb:
            # raw references of a dark video (gt_shape given) stay mosaics with renderings
            raw_refs = gt_shape is not None
            long_name = "long" if raw_refs else "long_srgb"
            self._frames_of = {"short_frames": "short_srgb", "long_frames": long_name}
            if raw_refs and long_shape is not None:
                for name, shape, chunks in (
                    ("long", long_shape, frame_chunks(*long_shape[1:])),
                    ("gt_srgb", gt_shape, (1, min(gt_shape[1], TILE), min(gt_shape[2], TILE), 3)),
                ):
                    self._datasets[name] = group.create_dataset(
                        name, shape=shape, dtype=np.uint16, chunks=chunks, fletcher32=True, **opts
                    )
                    self._written[name] = np.zeros(shape[0], dtype=bool)
                self._datasets["gt_srgb"].attrs["half_size"] = False
                self._datasets["gt_srgb"].attrs["recipe"] = gt_recipe
            for name, shape in (("short_srgb", short_shape), ("long_srgb", long_shape)):
                if shape is None or (name == "long_srgb" and raw_refs):
                    continue
                n, h, w = shape
                self._datasets[name] = group.create_dataset(
                    name,
                    shape=(n, h, w, 3),
                    dtype=np.uint8,
                    chunks=(1, min(h, TILE), min(w, TILE), 3),
                    fletcher32=True,
                    **opts,
                )
                self._dtypes[name] = np.uint8
                self._written[name] = np.zeros(n, dtype=bool)
            return
        specs: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = [
            ("short", short_shape, frame_chunks(*short_shape[1:]))
        ]
        if long_shape is not None:
            specs.append(("long", long_shape, frame_chunks(*long_shape[1:])))
        if gt_shape is not None:
            _, h, w, c = gt_shape
            specs.append(("gt_srgb", gt_shape, (1, min(h, TILE), min(w, TILE), c)))
        for name, shape, chunks in specs:
            ds = group.create_dataset(
                name, shape=shape, dtype=np.uint16, chunks=chunks, fletcher32=True, **opts
            )
            self._datasets[name] = ds
            self._written[name] = np.zeros(shape[0], dtype=bool)
        if gt_shape is not None:
            self._datasets["gt_srgb"].attrs["half_size"] = False
            self._datasets["gt_srgb"].attrs["recipe"] = gt_recipe
        if mean:
            if long_shape is None or gt_shape is None or long_shape[0] < 2:
                raise BadRelease(
                    f"{session_id}: the references' mean needs at least 2 references and "
                    f"their renderings, found long_shape {long_shape}, gt_shape {gt_shape}"
                )
            _, h, w = long_shape
            chunk = frame_chunks(h, w)[1:]
            for name, shape, dtype, chunks in (
                ("long_mean", (h, w), np.float32, chunk),
                ("gt_mean_srgb", (h, w, 3), np.uint16, (*chunk, 3)),
            ):
                self._datasets[name] = group.create_dataset(
                    name, shape=shape, dtype=dtype, chunks=chunks, fletcher32=True, **opts
                )
                self._written[name] = np.zeros(1, dtype=bool)
            self._datasets["long_mean"].attrs["references"] = long_shape[0]
            self._datasets["gt_mean_srgb"].attrs["recipe"] = MEAN_RECIPE

    # -- writing ------------------------------------------------------------------------------

    def write_short(self, i: int, frame: np.ndarray) -> None:
        """Write short-exposure frame ``i``: an (H, W) uint16 Bayer mosaic, values untouched
        (a video session's: an (H, W, 3) uint8 sRGB frame)."""
        self._write(self._frames_of["short_frames"], i, frame)

    def write_long(self, k: int, frame: np.ndarray) -> None:
        """Write reference frame ``k``: an (H, W) uint16 mosaic cropped like the short frames
        (a video session's: an (H, W, 3) uint8 sRGB frame)."""
        self._write(self._frames_of["long_frames"], k, frame)

    def write_gt(self, k: int, image: np.ndarray) -> None:
        """Write the sRGB rendering of reference ``k``: (H', W', 3) uint16 (raw references)."""
        self._write("gt_srgb", k, image)

    def write_mean(self, mean: np.ndarray, image: np.ndarray) -> None:
        """Write the references' registered mean and its sRGB rendering.

        Parameters
        ----------
        mean : ndarray of float32, shape (H, W)
            The mean of the K reference windows (``long``), raw values, black level included.
        image : ndarray of uint16, shape (H, W, 3)
            Its rendering (:data:`MEAN_RECIPE`).
        """
        self._check_open()
        for name, data, dtype in (
            ("long_mean", mean, np.float32),
            ("gt_mean_srgb", image, np.uint16),
        ):
            if name not in self._datasets:
                raise BadRelease(
                    f"{self.session_id}: no {name} dataset was declared; pass mean=True to "
                    "add_session"
                )
            ds = self._datasets[name]
            arr = np.asarray(data)
            if arr.shape != ds.shape or arr.dtype != dtype:
                raise BadRelease(
                    f"{self.session_id}: expected {name} as {np.dtype(dtype)} of shape "
                    f"{ds.shape}, found {arr.dtype} of shape {arr.shape}"
                )
            ds[()] = np.ascontiguousarray(arr)
            self._written[name][0] = True

    def write_table(self, name: str, table: np.ndarray) -> None:
        """Write ``short_frames`` or ``long_frames``: a structured array, one row per frame.

        Parameters
        ----------
        name : {"short_frames", "long_frames"}
            Which table.
        table : numpy.ndarray
            Structured array with at least the fields of :data:`SHORT_FRAMES_DTYPE` or
            :data:`LONG_FRAMES_DTYPE` (by name; values are converted to those types, text
            must fit its byte width).  Extra fields are kept as they are.  One row per frame
            of ``short`` or ``long``.
        """
        self._check_open()
        if name not in _TABLE_DTYPES:
            raise BadRelease(
                f"expected a table name among {', '.join(_TABLE_DTYPES)}, found {name!r}"
            )
        if name in self._tables:
            raise BadRelease(f"{self.session_id}: {name} was already written; write it once")
        rows = self._conform(name, table)
        frames = self._frames_of[name]
        expected = self._datasets[frames].shape[0] if frames in self._datasets else 0
        if len(rows) != expected:
            raise BadRelease(
                f"{self.session_id}: expected {expected} rows in {name} (one per frame of "
                f"{frames!r}), found {len(rows)}"
            )
        if name == "short_frames":
            k = self.long_shape[0] if self.long_shape is not None else 0
            bad = np.flatnonzero((rows["ref"] < -1) | (rows["ref"] >= k))
            if bad.size:
                raise BadRelease(
                    f"{self.session_id}: expected short_frames['ref'] in [-1, {k}) (an index "
                    f"into long, -1 for unpaired), found {rows['ref'][bad[:5]].tolist()} at "
                    f"rows {bad[:5].tolist()}"
                )
        self._group.create_dataset(
            name,
            data=rows,
            chunks=(max(1, min(len(rows), 4096)),),
            maxshape=(None,),
            fletcher32=True,
            compression="gzip",
            compression_opts=4,
        )
        self._tables.add(name)

    def _conform(self, name: str, table: np.ndarray) -> np.ndarray:
        arr = np.asarray(table)
        required = _TABLE_DTYPES[name]
        need: tuple[str, ...] = required.names or ()
        names: tuple[str, ...] = arr.dtype.names or ()
        missing = [f for f in need if f not in names]
        if arr.ndim != 1 or missing or not names:
            raise BadRelease(
                f"{self.session_id}: expected {name} to be a 1-D structured array with fields "
                f"{', '.join(need)}, found {arr.dtype} of shape {arr.shape}"
                + (f" (missing {', '.join(missing)})" if missing and names else "")
            )
        extra = [(f, arr.dtype[f]) for f in names if f not in need]
        for f, dt in extra:
            if dt.hasobject:
                raise BadRelease(f"{self.session_id}: {name} field {f!r} holds Python objects")
        out = np.zeros(len(arr), dtype=np.dtype([*required.descr, *extra]))
        for f in names:
            col = arr[f]
            target = out.dtype[f]
            if target.kind == "S":
                if col.dtype.kind not in "SUO":
                    raise BadRelease(
                        f"{self.session_id}: expected text in {name} field {f!r}, found {col.dtype}"
                    )
                encoded = [v.encode() if isinstance(v, str) else bytes(v) for v in col.tolist()]
                longest = max((len(v) for v in encoded), default=0)
                if longest > target.itemsize:
                    raise BadRelease(
                        f"{self.session_id}: {name} field {f!r} holds text of {longest} bytes, "
                        f"more than its {target.itemsize}; shorten it (file names are kept "
                        "relative to the session folder)"
                    )
                col = np.array(encoded, dtype=target)
            out[f] = col
        return out

    def _write(self, name: str, index: int, data: np.ndarray) -> None:
        self._check_open()
        if name not in self._datasets:
            raise BadRelease(
                f"{self.session_id}: no {name!r} dataset was declared; pass "
                f"{'long_shape' if name == 'long' else 'gt_shape'} to add_session"
            )
        ds = self._datasets[name]
        count = ds.shape[0]
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise BadRelease(f"expected an integer frame index, found {index!r}")
        if not 0 <= index < count:
            raise BadRelease(
                f"{self.session_id}: expected a {name} index in [0, {count}), found {index}"
            )
        arr = np.asarray(data)
        want = self._dtypes.get(name, np.uint16)
        if arr.shape != ds.shape[1:] or arr.dtype != want:
            raise BadRelease(
                f"{self.session_id}: expected {name}[{index}] as {np.dtype(want)} of shape "
                f"{ds.shape[1:]}, found {arr.dtype} of shape {arr.shape}; crop every frame "
                "to the session's window and keep the raw values (no black subtraction)"
            )
        ds[index] = np.ascontiguousarray(arr)
        self._written[name][index] = True

    # -- finishing ----------------------------------------------------------------------------

    def missing(self) -> list[str]:
        """What is still to be written, in words (empty when the session is complete)."""
        out = []
        for name, done in self._written.items():
            if not done.all():
                idx = np.flatnonzero(~done)
                more = f" and {idx.size - 8} more" if idx.size > 8 else ""
                out.append(f"{name} frames {idx[:8].tolist()}{more}")
        out += [
            t
            for t, frames in self._frames_of.items()
            if t not in self._tables and (frames in self._datasets or t == "short_frames")
        ]
        return out

    def close(self) -> None:
        """Check the session is complete and stop accepting writes (later calls do nothing)."""
        if self._closed:
            return
        todo = self.missing()
        if todo:
            raise BadRelease(
                f"session {self.session_id}: expected every declared frame and table to be "
                f"written, missing {'; '.join(todo)}; nothing was published"
            )
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise BadRelease(
                f"session {self.session_id} is closed (another session was added, or the split "
                "closed); write a session's frames before adding the next"
            )


class SplitWriter:
    """Write one split of a release as HDF5 (schema 1), sharded by size, atomically.

    Parameters
    ----------
    folder : path
        Folder for the files (``RELEASE/data``); made if missing.  It must not already hold
        files of this split.
    split : str
        Split name (``train``, ``val``, ``test``, ``dynamic``, ...): letters, digits,
        underscores, dots.
    codec : str, optional
        One of :data:`CODECS`.
    shard_bytes : int, optional
        Start a new shard when adding a session would take the current one past this many
        uncompressed bytes and it already holds a session (a session never spans files).
    root_attrs : dict
        Root attributes: ``dataset_name``, ``version`` and ``tool_version`` are required,
        ``created`` defaults to now (ISO 8601 UTC); ``schema_version``, ``split``, ``shard``
        and ``num_shards`` are set by the writer.  More keys are written as they are.
    blosc_threads : int, optional
        Threads Blosc uses while this writer is open (sets ``BLOSC_NTHREADS`` process-wide
        unless it is already set, and restores it on close).

    Notes
    -----
    Use it as a context manager.  Files are written as ``.<split>-<shard>.h5.part`` and
    renamed at :meth:`close` (each fsynced first) to ``<split>.h5`` for a single shard or
    ``<split>-00000-of-00003.h5`` and so on.  An exception inside the ``with`` block removes
    every temporary file and renames nothing.  Closing a writer that got no session writes
    no file and returns an empty list.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        split: str,
        *,
        codec: str = DEFAULT_CODEC,
        shard_bytes: int = 4 * 10**9,
        root_attrs: Mapping[str, Any],
        blosc_threads: int = DEFAULT_BLOSC_THREADS,
    ) -> None:
        if not isinstance(split, str) or not _SPLIT_RE.fullmatch(split):
            raise BadRelease(
                f"expected a split name of letters, digits, underscores and dots (such as "
                f"'train'), found {split!r}"
            )
        codec = canonical_codec(codec)
        _codec_options(codec)
        if isinstance(shard_bytes, bool) or not int(shard_bytes) > 0:
            raise BadRelease(f"expected shard_bytes > 0, found {shard_bytes!r}")
        attrs = dict(root_attrs)
        missing = [k for k in ("dataset_name", "version", "tool_version") if k not in attrs]
        if missing:
            raise BadRelease(
                f"expected root_attrs to name {', '.join(missing)}; found keys "
                f"{sorted(attrs) or 'none'}"
            )
        if attrs.get("split", split) != split:
            raise BadRelease(
                f"root_attrs say split {attrs['split']!r} but the writer is for {split!r}"
            )
        if attrs.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise BadRelease(
                f"this writer writes schema {SCHEMA_VERSION}, root_attrs ask for "
                f"{attrs['schema_version']!r}"
            )
        attrs.pop("shard", None)
        attrs.pop("num_shards", None)
        attrs.setdefault("created", _utc_now())
        attrs["schema_version"] = SCHEMA_VERSION
        attrs["split"] = split
        attrs["codec"] = codec
        attrs["reader_needs"] = READER_NEEDS[codec]
        self._root_attrs = {k: _attr_value(k, v) for k, v in attrs.items()}

        self.folder = Path(folder)
        self.split = split
        self.codec = codec
        self.shard_bytes = int(shard_bytes)
        self.folder.mkdir(parents=True, exist_ok=True)
        clash = sorted(
            p.name
            for p in self.folder.glob(f"{split}*.h5")
            if (m := _SHARD_RE.fullmatch(p.name)) and m["split"] == split
        )
        if clash:
            raise ReleaseExists(
                f"expected no {split} files in {self.folder}, found {', '.join(clash)}; write "
                "each release into a new folder"
            )

        self._parts: list[Path] = []
        self._file: h5py.File | None = None
        self._shard_bytes_used = 0
        self._shard_sessions = 0
        self._ids: set[str] = set()
        self._session: SessionWriter | None = None
        self._final: list[Path] | None = None
        self._aborted = False
        self._env_set = False
        if codec == "blosc-zstd" and blosc_threads and "BLOSC_NTHREADS" not in os.environ:
            os.environ["BLOSC_NTHREADS"] = str(int(blosc_threads))
            self._env_set = True

    # -- context manager ----------------------------------------------------------------------

    def __enter__(self) -> SplitWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._aborted:
            self.close()

    # -- sessions -----------------------------------------------------------------------------

    def add_session(
        self,
        session_id: str,
        *,
        scene: str,
        attrs: Mapping[str, Any],
        short_shape: Sequence[int],
        long_shape: Sequence[int] | None = None,
        gt_shape: Sequence[int] | None = None,
        gt_recipe: str = GT_RECIPE,
        mean: bool = False,
        srgb: bool = False,
    ) -> SessionWriter:
        """Start the group ``/sessions/<session_id>``; returns its :class:`SessionWriter`.

        Parameters
        ----------
        session_id : str
            Unique within the split; no ``/``.
        scene : str
            The scene the session shows (written as the group's ``scene`` attribute).
        attrs : dict
            The group's attributes; every name in :data:`SESSION_ATTRS` is required.
        short_shape : (T, H, W)
            Kept short frames, cropped size.
        long_shape : (K, H, W), optional
            References, the same H and W; ``None`` or K = 0 for a session without any.
        gt_shape : (K, H', W', 3), optional
            sRGB renderings of the references.
        gt_recipe : str, optional
            The ``recipe`` attribute of ``gt_srgb``.
        mean : bool, optional
            Also declare ``long_mean`` (H, W) float32 and ``gt_mean_srgb`` (H, W, 3) uint16,
            the references' registered mean and its rendering (needs K >= 2); write them with
            :meth:`SessionWriter.write_mean`.
        srgb : bool, optional
            A video session: declare ``short_srgb`` (T, H, W, 3) uint8 instead of ``short``,
            and ``long_srgb`` (K, H, W, 3) uint8 for video references, or, with ``gt_shape``
            (raw references of a dark video), ``long`` and ``gt_srgb`` as usual.

        Returns
        -------
        SessionWriter
            Write every declared frame and the tables through it.  The previous session is
            checked for completeness here.
        """
        self._check_open()
        if (
            not isinstance(session_id, str)
            or not session_id
            or "/" in session_id
            or (session_id in (".", ".."))
        ):
            raise BadRelease(f"expected a session id without '/', found {session_id!r}")
        if session_id in self._ids:
            raise BadRelease(
                f"expected each session once per split, found {session_id!r} added twice"
            )
        short = _check_shape("short_shape", short_shape, 3, what="(T, H, W)")
        if min(short) < 1:
            raise BadRelease(f"expected at least one short frame of >= 1 pixel, found {short}")
        long = None
        if long_shape is not None:
            long = _check_shape("long_shape", long_shape, 3, what="(K, H, W)")
            if long[0] == 0:
                long = None
            elif long[1:] != short[1:]:
                raise BadRelease(
                    f"{session_id}: expected references of the short frames' size "
                    f"{short[1:]}, found {long[1:]}; crop both to the common window"
                )
        gt = None
        if gt_shape is not None:
            gt = _check_shape("gt_shape", gt_shape, 4, what="(K, H', W', 3)")
            if gt[0] == 0:
                gt = None
            elif long is None or gt[0] != long[0] or gt[3] != 3 or min(gt) < 1:
                raise BadRelease(
                    f"{session_id}: expected gt_shape (K, H', W', 3) with K = "
                    f"{long[0] if long else 0} references, found {gt}"
                )
        group_attrs = self._session_attrs(session_id, scene, attrs, short)

        if self._session is not None:
            self._session.close()
        need = 2 * (math.prod(short) + math.prod(long or (0,)) + math.prod(gt or (0,)))
        if mean and long is not None:
            need += 10 * long[1] * long[2]  # float32 mean + its uint16 rendering
        if (
            self._file is not None
            and self._shard_sessions
            and self._shard_bytes_used + need > self.shard_bytes
        ):
            self._finish_shard()
        if self._file is None:
            self._start_shard()
        assert self._file is not None
        group = self._file["sessions"].create_group(session_id)
        for k, v in group_attrs.items():
            group.attrs[k] = v
        self._session = SessionWriter(
            group,
            session_id,
            codec=self.codec,
            short_shape=short,  # type: ignore[arg-type]
            long_shape=long,  # type: ignore[arg-type]
            gt_shape=gt,  # type: ignore[arg-type]
            gt_recipe=gt_recipe,
            mean=mean,
            srgb=srgb,
        )
        self._ids.add(session_id)
        self._shard_bytes_used += need
        self._shard_sessions += 1
        return self._session

    def _session_attrs(
        self, session_id: str, scene: str, attrs: Mapping[str, Any], short: tuple
    ) -> dict[str, Any]:
        if not isinstance(scene, str) or not scene:
            raise BadRelease(f"{session_id}: expected a scene name, found {scene!r}")
        missing = [k for k in SESSION_ATTRS if k not in attrs]
        if missing:
            raise BadRelease(
                f"{session_id}: expected session attributes {', '.join(SESSION_ATTRS)}; "
                f"missing {', '.join(missing)}"
            )
        out = {k: _attr_value(k, v) for k, v in attrs.items()}
        out["scene"] = scene
        if attrs["kind"] not in SESSION_KINDS:
            raise BadRelease(
                f"{session_id}: expected kind among {', '.join(SESSION_KINDS)}, found "
                f"{attrs['kind']!r}"
            )
        for key in ("black_level", "white_balance"):
            if np.asarray(attrs[key]).shape != (4,):
                raise BadRelease(
                    f"{session_id}: expected {key} as 4 numbers (CFA raster order), found "
                    f"{attrs[key]!r}"
                )
        crop = np.asarray(attrs["crop"])
        if crop.shape != (4,) or tuple(int(v) for v in crop[2:]) != short[1:]:
            raise BadRelease(
                f"{session_id}: expected crop [y0, x0, H, W] with H, W = {short[1:]} (the "
                f"short frames' size), found {attrs['crop']!r}"
            )
        return out

    # -- shards -------------------------------------------------------------------------------

    def _start_shard(self) -> None:
        index = len(self._parts)
        part = self.folder / f".{self.split}-{index:05d}.h5{PART_SUFFIX}"
        self._parts.append(part)
        self._file = h5py.File(part, "w")
        for k, v in self._root_attrs.items():
            self._file.attrs[k] = v
        self._file.attrs["shard"] = index
        self._file.create_group("sessions")
        self._shard_bytes_used = 0
        self._shard_sessions = 0
        log.debug("started shard %d of split %s at %s", index, self.split, part)

    def _finish_shard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> list[Path]:
        """Finish the split: check the last session, rename every shard; returns final paths.

        Calling it again returns the same paths.  On any failure every file of this split is
        removed before the error propagates.
        """
        if self._final is not None:
            return list(self._final)
        self._check_open()
        renamed: list[Path] = []
        try:
            if self._session is not None:
                self._session.close()
            self._finish_shard()
            count = len(self._parts)
            finals = [self.folder / shard_name(self.split, i, count) for i in range(count)]
            for part in self._parts:
                with h5py.File(part, "r+") as f:
                    f.attrs["num_shards"] = count
                fsync_dir(part)  # opens and fsyncs any path, a file too
            for part, final in zip(self._parts, finals, strict=True):
                os.replace(part, final)
                renamed.append(final)
            if finals:
                fsync_dir(self.folder)
        except BaseException:
            for path in renamed:
                with contextlib.suppress(OSError):
                    path.unlink()
            self.abort()
            raise
        self._final = finals
        self._restore_env()
        log.info("wrote split %s: %s", self.split, ", ".join(p.name for p in finals) or "none")
        return list(finals)

    def abort(self) -> None:
        """Close and delete every temporary file of this split; rename nothing."""
        self._aborted = True
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
            self._file = None
        for part in self._parts:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        self._restore_env()

    def _restore_env(self) -> None:
        if self._env_set:
            os.environ.pop("BLOSC_NTHREADS", None)
            self._env_set = False

    def _check_open(self) -> None:
        if self._aborted or self._final is not None:
            raise DatasetError(
                f"the {self.split} writer is already "
                f"{'aborted' if self._aborted else 'closed'}; start a new SplitWriter"
            )

    @property
    def temp_paths(self) -> list[Path]:
        """The temporary files written so far (renamed by :meth:`close`)."""
        return list(self._parts)


# -- reading ----------------------------------------------------------------------------------


def open_file(path: str | os.PathLike) -> h5py.File:
    """Open a split file read-only, with the plugin filters registered.

    File locking is off: a published release is never written again, and HDF5's locks fail
    on some network file systems and would be shared with forked worker processes.

    Raises
    ------
    MissingFile
        There is no file at ``path``.
    CorruptFile
        The file is not HDF5 (or is truncated).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFile(f"expected an HDF5 split file at {path}, found nothing there")
    try:
        return h5py.File(path, "r", locking=False)
    except OSError as exc:
        raise CorruptFile(
            f"expected an HDF5 split file at {path}, could not open it ({exc}); the file is "
            "damaged or not HDF5: download it again and check it against SHA256SUMS"
        ) from None


def _codec_of(ds: h5py.Dataset) -> str:
    plist = ds.id.get_create_plist()
    names = [
        _FILTER_NAMES.get(plist.get_filter(i)[0], f"filter-{plist.get_filter(i)[0]}")
        for i in range(plist.get_nfilters())
    ]
    names = [n for n in names if n != "fletcher32"]
    if "blosc" in names:
        return "blosc-zstd" if "zstd" in _blosc_compressor(plist) else "blosc"
    table = {
        ("bitshuffle",): "bitshuffle-lz4",
        ("shuffle", "gzip"): "gzip-shuffle",
        ("gzip",): "gzip",
        (): "none",
    }
    return table.get(tuple(names), "+".join(names))


def _blosc_compressor(plist: h5py.h5p.PropDCID) -> str:
    for i in range(plist.get_nfilters()):
        code, _, values, _ = plist.get_filter(i)
        if code == BLOSC_ID and len(values) > 6:
            return {0: "blosclz", 1: "lz4", 2: "lz4hc", 3: "snappy", 4: "zlib", 5: "zstd"}.get(
                values[6], "?"
            )
    return "?"


def file_summary(path: str | os.PathLike) -> dict[str, Any]:
    """What a split file holds, as plain Python values (for ``dataset info`` and the card).

    Returns
    -------
    dict
        ``path``, ``size`` (bytes), ``attrs`` (root attributes), ``codec``, and ``sessions``:
        session id -> ``{"scene", "kind", "short": [T, H, W], "long": [K, H, W] or None,
        "gt_srgb": [K, H', W', 3] or None, "mean": whether ``long_mean`` and
        ``gt_mean_srgb`` are there, "chunks": short's chunk shape, "num_short",
        "num_long", "num_paired", "attrs"}``; plus totals ``num_sessions``, ``num_short``,
        ``num_long``, ``num_paired`` and ``raw_bytes`` (uncompressed bytes of all frames).

    Raises
    ------
    MissingFile, CorruptFile
        As :func:`open_file`, or when the file does not follow the layout.
    """
    path = Path(path)
    with open_file(path) as f:
        try:
            sessions: dict[str, Any] = {}
            codec = "none"
            raw = 0
            for sid, g in f["sessions"].items():
                video = "short_srgb" in g  # issue 14: a video session's 8-bit frames
                short = g["short_srgb"] if video else g["short"]
                codec = _codec_of(short)
                long = g.get("long_srgb" if video and "long_srgb" in g else "long")
                gt = g.get("gt_srgb")
                refs = g["short_frames"].fields("ref")[()] if "short_frames" in g else []
                for ds in (short, long, gt, g.get("long_mean"), g.get("gt_mean_srgb")):
                    if ds is not None:
                        raw += ds.size * ds.dtype.itemsize
                attrs = _attrs_dict(g.attrs)
                sessions[sid] = {
                    "scene": attrs.get("scene", ""),
                    "kind": attrs.get("kind", ""),
                    "modality": "video" if video else "raw",
                    "short": list(short.shape),
                    "long": list(long.shape) if long is not None else None,
                    "gt_srgb": list(gt.shape) if gt is not None else None,
                    "mean": "long_mean" in g,
                    "chunks": list(short.chunks or ()),
                    "num_short": int(short.shape[0]),
                    "num_long": int(long.shape[0]) if long is not None else 0,
                    "num_paired": int(np.count_nonzero(np.asarray(refs) >= 0)),
                    "attrs": attrs,
                }
            root = _attrs_dict(f.attrs)
        except (KeyError, OSError, ValueError, TypeError) as exc:
            raise CorruptFile(
                f"expected {path} to follow the split file layout (schema {SCHEMA_VERSION}), "
                f"could not read it: {exc}; run `dataset verify` for the details"
            ) from None
    return {
        "path": str(path),
        "size": path.stat().st_size,
        "attrs": root,
        "codec": codec,
        "sessions": sessions,
        "num_sessions": len(sessions),
        "num_short": sum(s["num_short"] for s in sessions.values()),
        "num_long": sum(s["num_long"] for s in sessions.values()),
        "num_paired": sum(s["num_paired"] for s in sessions.values()),
        "raw_bytes": raw,
    }


# -- verification -----------------------------------------------------------------------------


def verify_file(path: str | os.PathLike) -> list[str]:
    """Check a split file's layout and read every chunk of every dataset.

    Parameters
    ----------
    path : path
        The split file.

    Returns
    -------
    list of str
        Problems, each starting with the file name (empty: the file is good).  A chunk that
        fails its Fletcher-32 checksum reads ``"<file>: /sessions/<id>/short: checksum error
        (chunk (3, 0, 256))"``, the chunk named by its first element.  Never raises for a
        damaged file: a file that is not HDF5 gives one problem naming it.
    """
    path = Path(path)
    name = path.name
    try:
        f = open_file(path)
    except DatasetError as exc:
        return [f"{name}: {exc}"]
    problems: list[str] = []
    try:
        with f:
            problems += _check_root(f, name)
            sessions = f.get("sessions")
            if not isinstance(sessions, h5py.Group):
                problems.append(f"{name}: expected a /sessions group, found none")
                return problems
            for sid in sessions:
                g = sessions.get(sid)
                if not isinstance(g, h5py.Group):
                    problems.append(f"{name}: /sessions/{sid}: expected a group")
                    continue
                problems += _check_session(g, name, sid)
                for ds_name in g:
                    ds = g.get(ds_name)
                    if isinstance(ds, h5py.Dataset):
                        problems += _check_chunks(ds, name)
    except Exception as exc:
        problems.append(f"{name}: could not be read through: {type(exc).__name__}: {exc}")
    return problems


def _check_root(f: h5py.File, name: str) -> list[str]:
    problems = []
    attrs = f.attrs
    missing = [k for k in ROOT_ATTRS if k not in attrs]
    if missing:
        problems.append(f"{name}: missing root attributes {', '.join(missing)}")
    if "schema_version" in attrs and to_python(attrs["schema_version"]) != SCHEMA_VERSION:
        problems.append(
            f"{name}: expected schema_version {SCHEMA_VERSION}, found "
            f"{to_python(attrs['schema_version'])!r}"
        )
    if "shard" in attrs and "num_shards" in attrs:
        shard, count = to_python(attrs["shard"]), to_python(attrs["num_shards"])
        if not (isinstance(shard, int) and isinstance(count, int) and 0 <= shard < count):
            problems.append(f"{name}: expected 0 <= shard < num_shards, found {shard}, {count}")
        else:
            m = _SHARD_RE.fullmatch(name)
            split = to_python(attrs.get("split", ""))
            if m and m["split"] == split:
                expect = shard_name(split, shard, count)
                if expect != name:
                    problems.append(
                        f"{name}: its attributes (split {split}, shard {shard} of {count}) "
                        f"name it {expect}"
                    )
    return problems


def _check_session(g: h5py.Group, name: str, sid: str) -> list[str]:
    where = f"{name}: /sessions/{sid}"
    problems = []
    missing = [k for k in ("scene", *SESSION_ATTRS) if k not in g.attrs]
    if missing:
        problems.append(f"{where}: missing attributes {', '.join(missing)}")
    if "short_srgb" in g:  # a video session (issue 14)
        return [*problems, *_check_video_session(g, where)]
    short = g.get("short")
    if not isinstance(short, h5py.Dataset):
        return [*problems, f"{where}: no short dataset"]
    if short.ndim != 3 or short.dtype != np.uint16:
        problems.append(
            f"{where}/short: expected (T, H, W) uint16, found {short.dtype} {short.shape}"
        )
        return problems
    t, h, w = short.shape
    long = g.get("long")
    k = 0
    if long is not None:
        if long.ndim != 3 or long.dtype != np.uint16 or long.shape[1:] != (h, w):
            problems.append(
                f"{where}/long: expected (K, {h}, {w}) uint16 like short, found {long.dtype} "
                f"{long.shape}"
            )
        k = long.shape[0]
    gt = g.get("gt_srgb")
    if gt is not None and (gt.ndim != 4 or gt.shape[0] != k or gt.shape[3] != 3):
        problems.append(f"{where}/gt_srgb: expected ({k}, H', W', 3), found {gt.shape}")
    mean, gt_mean = g.get("long_mean"), g.get("gt_mean_srgb")
    if (mean is None) != (gt_mean is None):
        problems.append(f"{where}: expected long_mean and gt_mean_srgb together, found one")
    if mean is not None:
        if k < 2:
            problems.append(f"{where}/long_mean: a mean of references needs K >= 2, found K={k}")
        if mean.ndim != 2 or mean.dtype != np.float32 or mean.shape != (h, w):
            problems.append(
                f"{where}/long_mean: expected ({h}, {w}) float32, found {mean.dtype} {mean.shape}"
            )
    if gt_mean is not None and (
        gt_mean.ndim != 3 or gt_mean.dtype != np.uint16 or gt_mean.shape != (h, w, 3)
    ):
        problems.append(
            f"{where}/gt_mean_srgb: expected ({h}, {w}, 3) uint16, found {gt_mean.dtype} "
            f"{gt_mean.shape}"
        )
    for table, rows in (("short_frames", t), ("long_frames", k)):
        ds = g.get(table)
        if ds is None:
            if rows or table == "short_frames":
                problems.append(f"{where}: no {table} table")
            continue
        need = _TABLE_DTYPES[table].names or ()
        have = ds.dtype.names or ()
        lacking = [n for n in need if n not in have]
        if lacking:
            problems.append(f"{where}/{table}: missing fields {', '.join(lacking)}")
        if ds.shape != (rows,):
            problems.append(f"{where}/{table}: expected {rows} rows, found {ds.shape}")
        elif table == "short_frames" and "ref" in have:
            with contextlib.suppress(OSError):  # a damaged chunk is reported by the read-through
                refs = ds.fields("ref")[()]
                if np.any((refs < -1) | (refs >= k)):
                    problems.append(f"{where}/short_frames: ref outside [-1, {k})")
    crop = g.attrs.get("crop")
    if crop is not None and (np.shape(crop) != (4,) or tuple(int(v) for v in crop[2:]) != (h, w)):
        problems.append(
            f"{where}: crop {to_python(crop)} does not end in the frames' size {h}, {w}"
        )
    return problems


def _check_video_session(g: h5py.Group, where: str) -> list[str]:
    """The layout of a video session: short_srgb/long_srgb (N, H, W, 3) uint8 and tables."""
    problems = []
    short, long = g["short_srgb"], g.get("long_srgb")
    counts = {"short_frames": 0, "long_frames": 0}
    raw_long = g.get("long")  # raw references of a dark video
    if raw_long is not None:
        if raw_long.ndim != 3 or raw_long.shape[1:] != short.shape[1:3]:
            problems.append(f"{where}/long: expected (K, H, W) uint16, found {raw_long.shape}")
        counts["long_frames"] = raw_long.shape[0]
        gt = g.get("gt_srgb")
        if gt is None or gt.shape[0] != raw_long.shape[0] or gt.shape[-1] != 3:
            problems.append(f"{where}/gt_srgb: expected one rendering per raw reference")
    for name, ds, table in (
        ("short_srgb", short, "short_frames"),
        ("long_srgb", long, "long_frames"),
    ):
        if ds is None:
            continue
        if (
            ds.ndim != 4
            or ds.dtype != np.uint8
            or ds.shape[3] != 3
            or ds.shape[1:3] != short.shape[1:3]
        ):
            problems.append(
                f"{where}/{name}: expected (N, H, W, 3) uint8, found {ds.dtype} {ds.shape}"
            )
        counts[table] = ds.shape[0]
    for table, rows in counts.items():
        ds = g.get(table)
        if ds is None:
            if rows:
                problems.append(f"{where}: no {table} table")
        elif ds.shape != (rows,):
            problems.append(f"{where}/{table}: expected {rows} rows, found {ds.shape}")
    if to_python(g.attrs.get("modality", "")) != "video":
        problems.append(f"{where}: short_srgb without modality = 'video'")
    return problems


def _check_chunks(ds: h5py.Dataset, name: str) -> list[str]:
    where = f"{name}: {ds.name}"
    if ds.chunks is None:
        try:
            ds[()]
        except OSError as exc:
            return [f"{where}: read error: {exc}"]
        return [f"{where}: not chunked, so it has no Fletcher-32 checksum"]
    problems = []
    if not ds.fletcher32:
        problems.append(f"{where}: no Fletcher-32 checksum")
    if ds.size:
        expected = math.prod(-(-n // c) for n, c in zip(ds.shape, ds.chunks, strict=True))
        written = ds.id.get_num_chunks()
        if written != expected:
            problems.append(f"{where}: {written} of {expected} chunks were written")
    bad = 0
    for block in _blocks(ds):
        try:
            ds[block]
            continue
        except OSError:
            pass
        for sel in ds.iter_chunks(block):
            try:
                ds[sel]
            except OSError as exc:
                bad += 1
                if bad <= _MAX_PROBLEMS_PER_DATASET:
                    start = tuple(s.start for s in sel)
                    problems.append(f"{where}: {_chunk_failure(ds, start, exc)} (chunk {start})")
    if bad > _MAX_PROBLEMS_PER_DATASET:
        problems.append(f"{where}: {bad - _MAX_PROBLEMS_PER_DATASET} more bad chunks")
    return problems


def _blocks(ds: h5py.Dataset) -> Iterator[tuple[slice, ...]]:
    """Selections covering ``ds`` in whole chunks, each at most about 64 MiB decoded."""
    chunks = ds.chunks
    if not ds.size:
        return
    row_bytes = ds.dtype.itemsize * math.prod(chunks[:1]) * math.prod(ds.shape[1:])
    if ds.ndim == 1 or row_bytes <= _VERIFY_BLOCK_BYTES:
        step = chunks[0] * max(1, _VERIFY_BLOCK_BYTES // max(1, row_bytes))
        for i in range(0, ds.shape[0], step):
            rest = tuple(slice(0, n) for n in ds.shape[1:])
            yield (slice(i, min(i + step, ds.shape[0])), *rest)
        return
    band = ds.dtype.itemsize * chunks[0] * chunks[1] * math.prod(ds.shape[2:])
    step1 = chunks[1] * max(1, _VERIFY_BLOCK_BYTES // max(1, band))
    for i in range(0, ds.shape[0], chunks[0]):
        for j in range(0, ds.shape[1], step1):
            yield (
                slice(i, min(i + chunks[0], ds.shape[0])),
                slice(j, min(j + step1, ds.shape[1])),
                *(slice(0, n) for n in ds.shape[2:]),
            )


def _chunk_failure(ds: h5py.Dataset, start: tuple[int, ...], exc: OSError) -> str:
    """Why a chunk failed to read: its stored checksum, or a decoding filter after it."""
    # h5py surfaces only "filter returned failure", so recompute the checksum to say which.
    try:
        _, raw = ds.id.read_direct_chunk(start)
    except Exception as err:
        return f"read error ({err})"
    if ds.fletcher32 and not fletcher32_matches(raw):
        return "checksum error"
    return f"read error ({exc})"


def fletcher32_matches(stored: bytes) -> bool:
    """Whether a chunk as stored (data, then HDF5's 4-byte Fletcher-32) passes its checksum.

    Parameters
    ----------
    stored : bytes
        The chunk's bytes as on disk, the checksum last (little-endian, as HDF5 writes it).

    Returns
    -------
    bool
        True when the checksum matches, in the current or the pre-1.6.3 byte order that HDF5
        also accepts.

    Notes
    -----
    HDF5's Fletcher-32 sums the data as big-endian 16-bit words (an odd last byte padded with
    zero): ``sum1`` is the sum of the words and ``sum2`` the sum of the running ``sum1``, both
    modulo 65535, packed as ``sum2 << 16 | sum1``.  They are compared modulo 65535 because
    the reduction may leave 0xffff where 0 is meant.
    """
    if len(stored) < 4:
        return False
    data, tail = stored[:-4], stored[-4:]
    if len(data) % 2:
        data += b"\0"
    words = np.frombuffer(data, dtype=">u2").astype(np.uint64)
    n = words.size
    weights = (n - np.arange(n, dtype=np.uint64)) % np.uint64(65535)
    sum1 = int(words.sum() % np.uint64(65535))
    sum2 = int(((words % np.uint64(65535)) * weights).sum() % np.uint64(65535))
    value = int.from_bytes(tail, "little")
    swapped = int.from_bytes(bytes((tail[1], tail[0], tail[3], tail[2])), "little")
    return any((v & 0xFFFF) % 65535 == sum1 and (v >> 16) % 65535 == sum2 for v in (value, swapped))
