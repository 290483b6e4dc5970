"""The HDF5 split writer: one split of a release, sharded by size, written atomically.

The layout it writes (schema 1) is described in :mod:`dataset_card.schema`; files are read
back through :mod:`dataset_card.h5io` and checked by :mod:`dataset_card.h5verify`.

Frames are written one at a time, so a 110-frame 20-megapixel burst never sits in memory.
Every dataset is chunked with a Fletcher-32 checksum per chunk; frames of up to
:data:`~dataset_card.schema.WHOLE_FRAME_MAX_PIXELS` are one chunk each, larger ones are cut
into 256 x 256 tiles so that a training crop decompresses only the tiles it touches.  Files
are written under temporary names and renamed only when the whole split is done, so an
interrupted publish leaves no partial file behind.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from dataset_card.errors import BadRelease, DatasetError, ReleaseExists
from dataset_card.h5io import hdf5plugin
from dataset_card.schema import (
    BLOSC_ZSTD_LEVEL,
    CODECS,
    DEFAULT_BLOSC_THREADS,
    DEFAULT_CODEC,
    GT_RECIPE,
    GZIP_LEVEL,
    MEAN_RECIPE,
    READER_NEEDS,
    SCHEMA_VERSION,
    SESSION_ATTRS,
    SESSION_KINDS,
    SHARD_RE,
    SPLIT_RE,
    TABLE_DTYPES,
    TABLE_FOR,
    canonical_codec,
    frame_chunks,
    shard_name,
    srgb_chunks,
)
from sublux_common.fsio import PART_SUFFIX, fsync_dir
from sublux_common.names import NAME_RULE, name_problem

__all__ = ["SessionWriter", "SplitWriter"]

log = logging.getLogger(__name__)


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
        self._frames_of = dict(TABLE_FOR)
        self._dtypes: dict[str, Any] = {}
        if srgb:
            # raw references of a dark video (gt_shape given) stay mosaics with renderings
            raw_refs = gt_shape is not None
            long_name = "long" if raw_refs else "long_srgb"
            self._frames_of = {"short_frames": "short_srgb", "long_frames": long_name}
            if raw_refs and long_shape is not None:
                for name, shape, chunks in (
                    ("long", long_shape, frame_chunks(*long_shape[1:])),
                    ("gt_srgb", gt_shape, srgb_chunks(*gt_shape[1:3])),
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
                    chunks=srgb_chunks(h, w),
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
            specs.append(("gt_srgb", gt_shape, srgb_chunks(h, w, c)))
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
        if name not in TABLE_DTYPES:
            raise BadRelease(
                f"expected a table name among {', '.join(TABLE_DTYPES)}, found {name!r}"
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
        required = TABLE_DTYPES[name]
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
        unless it is already set, and restores it on close).  The default, 1, writes the same
        bytes for the same frames every time; more threads store a chunk's blocks in the order
        they finish (:data:`~dataset_card.schema.DEFAULT_BLOSC_THREADS`).

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
        if not isinstance(split, str) or not SPLIT_RE.fullmatch(split):
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
            if (m := SHARD_RE.fullmatch(p.name)) and m["split"] == split
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
        problem = name_problem(session_id)  # the rule capture applies to scenes too
        if problem is not None:
            raise BadRelease(
                f"expected a session id without '/' ({NAME_RULE}), found {session_id!r} ({problem})"
            )
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
        problem = name_problem(scene)
        if problem is not None:
            raise BadRelease(
                f"{session_id}: expected a scene name ({NAME_RULE}), found {scene!r} ({problem})"
            )
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
