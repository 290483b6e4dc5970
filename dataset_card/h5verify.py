"""Checking and describing split files: the verifier (every chunk read) and the summary.

:func:`verify_file` checks a file against the layout of :mod:`dataset_card.schema` and reads
every chunk through its Fletcher-32 checksum; :func:`file_summary` says what a file holds, as
plain Python values, for ``dataset info``, the card and the release checks.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from dataset_card.errors import CorruptFile, DatasetError
from dataset_card.h5io import attrs_dict, codec_of, open_file, to_python
from dataset_card.schema import (
    ROOT_ATTRS,
    SCHEMA_VERSION,
    SESSION_ATTRS,
    SHARD_RE,
    TABLE_DTYPES,
    shard_name,
)

__all__ = ["file_summary", "fletcher32_matches", "verify_file"]

_MAX_PROBLEMS_PER_DATASET = 10
_VERIFY_BLOCK_BYTES = 64 * 2**20


# -- summary ----------------------------------------------------------------------------------


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
                codec = codec_of(short)
                long = g.get("long_srgb" if video and "long_srgb" in g else "long")
                gt = g.get("gt_srgb")
                refs = g["short_frames"].fields("ref")[()] if "short_frames" in g else []
                for ds in (short, long, gt, g.get("long_mean"), g.get("gt_mean_srgb")):
                    if ds is not None:
                        raw += ds.size * ds.dtype.itemsize
                attrs = attrs_dict(g.attrs)
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
            root = attrs_dict(f.attrs)
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
            m = SHARD_RE.fullmatch(name)
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
        need = TABLE_DTYPES[table].names or ()
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
