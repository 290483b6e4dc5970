"""The release's Parquet tables: what Hugging Face ``datasets``, its Hub viewer and Croissant read.

HDF5 is the training format, but neither ``datasets`` (its HDF5 builder reads a file as
columns of datasets, not a group per session, and cannot load the Blosc filter) nor the Hub's
viewer can read a release's HDF5 files.  So a release also carries:

- ``parquet/<split>.parquet``: one row per example of the split (a pair of a split with
  references; a short frame of the ``dynamic`` split), with the columns of :data:`ROW_FEATURES`:
  where the frames are (split, session, scene, HDF5 file and indices), their source file names
  and sha256, the exposure ratio, shift and score, and two small JPEG previews (the dark frame
  times its exposure ratio, rendered as the ground truth is, and the ground truth).  The card's
  ``configs`` point at these files, so ``datasets.load_dataset(RELEASE)`` needs nothing but
  ``datasets`` (and pyarrow, which it brings).
- ``pairs.parquet``: the typed twin of ``pairs.csv`` (exactly its columns), which the Croissant
  ``pairs`` record set reads: Parquet keeps text as text, so a scene named ``0001`` stays
  ``"0001"`` (mlcroissant reads CSV with pandas' type inference, which turns it into 1).

Rows come from the build's plans (:func:`dataset_card.build.example_rows`), so any kind of
session a plan can describe gets its rows the same way.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.errors import CurateError
from curate.raw import render_mosaic
from dataset_card.errors import BadRelease
from sublux_common.fsio import fsync_dir

__all__ = [
    "PAIRS_PARQUET",
    "PARQUET_DIR",
    "PREVIEW_SIDE",
    "ROW_FEATURES",
    "RowsWriter",
    "card_features",
    "count_rows",
    "preview_ground_truth",
    "preview_short",
    "preview_size",
    "rows_path",
    "write_pairs_parquet",
]

#: Folder of the per-split row tables (the card's ``configs``).
PARQUET_DIR = "parquet"
#: The typed pairs table the Croissant record set reads.
PAIRS_PARQUET = "pairs.parquet"
#: Longest side of a preview image, in pixels.
PREVIEW_SIDE = 256
JPEG_QUALITY = 90

_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
_ARROW = {"string": pa.string(), "int32": pa.int32(), "float64": pa.float64()}

#: (column, datasets dtype, description) of a row of ``parquet/<split>.parquet``.  ``image`` is
#: a ``datasets.Image`` (JPEG bytes; PIL images once loaded).  Unknown numbers are null.
ROW_FEATURES: tuple[tuple[str, str, str], ...] = (
    ("split", "string", "train, val, test or dynamic"),
    ("session_id", "string", "session; HDF5 group /sessions/<session_id>"),
    ("scene", "string", "scene name; splits are disjoint by scene"),
    ("kind", "string", "static, sweep or dynamic"),
    ("file", "string", "release-relative path of the HDF5 file holding the session"),
    ("short_index", "int32", "index of the short frame in the group's `short`"),
    ("ref_index", "int32", "index of its reference in `long` and `gt_srgb`; -1 without one"),
    ("short_file", "string", "source RAW file of the short frame"),
    ("short_sha256", "string", "sha256 of that file"),
    ("long_file", "string", "source RAW file of the reference (empty without one)"),
    ("long_sha256", "string", "sha256 of that file (empty without one)"),
    ("exposure_ratio", "float64", "long over short exposure time (null without a reference)"),
    ("iso", "float64", "ISO of the short frame"),
    ("short_exposure_s", "float64", "exposure time of the short frame, s"),
    ("long_exposure_s", "float64", "exposure time of the reference, s"),
    ("dy", "float64", "residual vertical shift, sensor pixels"),
    ("dx", "float64", "residual horizontal shift, sensor pixels"),
    ("score", "float64", "matching score of the pair"),
    ("lux", "float64", "illuminance noted at capture (null when not measured)"),
    (
        "short_preview",
        "image",
        "the short frame times its exposure ratio (1 without one), rendered as gt_srgb is, "
        f"at most {PREVIEW_SIDE} px",
    ),
    (
        "gt_preview",
        "image",
        "the pair's ground truth (gt_srgb[ref_index]), same size; null without a reference",
    ),
)
ROW_COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in ROW_FEATURES)


def _arrow_type(dtype: str) -> pa.DataType:
    return _IMAGE if dtype == "image" else _ARROW[dtype]


def _hf_feature(dtype: str) -> dict[str, Any]:
    return {"_type": "Image"} if dtype == "image" else {"dtype": dtype, "_type": "Value"}


def _schema(features: Iterable[tuple[str, str, str]]) -> pa.Schema:
    features = list(features)
    hf = {"info": {"features": {n: _hf_feature(t) for n, t, _ in features}}}
    return pa.schema([(n, _arrow_type(t)) for n, t, _ in features]).with_metadata(
        {"huggingface": json.dumps(hf)}
    )


ROW_SCHEMA = _schema(ROW_FEATURES)


def card_features() -> list[dict[str, str]]:
    """``dataset_info.features`` for the card's front matter (the Hub's YAML form)."""
    return [{"name": n, "dtype": t} for n, t, _ in ROW_FEATURES]


def rows_path(split: str) -> str:
    """Release-relative path of a split's row table."""
    return f"{PARQUET_DIR}/{split}.parquet"


def _null_nan(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _column(name: str, dtype: str, rows: list[Mapping[str, Any]]) -> pa.Array:
    if dtype == "image":
        return pa.array(
            [None if r.get(name) is None else {"bytes": r[name], "path": None} for r in rows],
            type=_IMAGE,
        )
    values = [_null_nan(r.get(name)) for r in rows]
    if dtype == "float64":
        values = [_null_nan(None if v is None else float(v)) for v in values]
    elif dtype == "int32":
        values = [None if v is None else int(v) for v in values]
    else:
        values = [None if v is None else str(v) for v in values]
    return pa.array(values, type=_ARROW[dtype])


def _table(schema: pa.Schema, features, rows: list[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_arrays([_column(n, t, rows) for n, t, _ in features], schema=schema)


class RowsWriter:
    """Writes one split's row table, a row group per session, then fills in ``file``.

    The HDF5 shard that holds a session is known only once the split is closed, so rows are
    written to a hidden part file first and copied, a row group at a time (memory stays one
    session's previews), into ``parquet/<split>.parquet`` by :meth:`close`.
    """

    def __init__(self, root: str | os.PathLike, split: str) -> None:
        self.root = Path(root)
        self.split = split
        self.path = self.root / rows_path(split)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._part = self.path.parent / f".{split}.parquet.part"
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self._part, ROW_SCHEMA)
        self.count = 0

    def add(self, rows: list[Mapping[str, Any]]) -> None:
        """Append one session's rows (dicts with the keys of :data:`ROW_COLUMNS`)."""
        if not rows or self._writer is None:
            return
        self._writer.write_table(_table(ROW_SCHEMA, ROW_FEATURES, rows))
        self.count += len(rows)

    def close(self, session_file: Mapping[str, str]) -> Path:
        """Write the final table with each row's ``file`` from ``session_file``
        (session id -> release-relative HDF5 path); returns its path."""
        if self._writer is None:
            return self.path
        self._writer.close()
        self._writer = None
        src = pq.ParquetFile(self._part)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        try:
            with pq.ParquetWriter(tmp, ROW_SCHEMA) as out:
                if src.metadata.num_row_groups == 0:
                    out.write_table(ROW_SCHEMA.empty_table())
                for g in range(src.metadata.num_row_groups):
                    t = src.read_row_group(g)
                    files = [session_file[s] for s in t.column("session_id").to_pylist()]
                    i = t.schema.get_field_index("file")
                    out.write_table(t.set_column(i, "file", pa.array(files, pa.string())))
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            fsync_dir(self.path.parent)
        finally:
            tmp.unlink(missing_ok=True)
            self._part.unlink(missing_ok=True)
        return self.path

    def abort(self) -> None:
        """Drop what was written (the build failed)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._part.unlink(missing_ok=True)


def count_rows(path: str | os.PathLike, expected: int) -> list[str]:
    """Problems with a row table: not readable Parquet, or not ``expected`` rows."""
    path = Path(path)
    try:
        n = pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowException) as exc:
        return [f"{path}: expected a Parquet row table, could not read it ({exc})"]
    if n != expected:
        return [f"{path}: expected {expected} rows (the card's num_examples), found {n}"]
    return []


def write_pairs_parquet(
    rows: Iterable[Mapping[str, Any]], path: str | os.PathLike, columns: Iterable[tuple]
) -> Path:
    """Write the typed pairs table (``pairs.parquet``) atomically.

    Parameters
    ----------
    rows
        Dicts keyed by column name (``pairs.csv``'s rows as the build makes them).
    path
        Where to write.
    columns
        ``(name, Croissant dataType, description)`` as in
        :data:`dataset_card.croissant.PAIRS_COLUMNS`; ``sc:Integer`` is int32, ``sc:Float``
        float64 (NaN written as null), anything else text.
    """
    kinds = {"sc:Integer": "int32", "sc:Float": "float64"}
    features = [(n, kinds.get(t, "string"), d) for n, t, d in columns]
    schema = _schema(features)
    table = _table(schema, features, list(rows))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# -- previews ---------------------------------------------------------------------------------


def _factor(h: int, w: int, side: int) -> int:
    """The number of CFA tiles per preview tile side: the preview's longest side <= ``side``,
    both sides >= 22 (LibRaw renders nothing smaller)."""
    n = max(1, math.ceil(max(h, w) / side))
    while n > 1 and min(h, w) // (2 * n) * 2 < 22:
        n -= 1
    return n


def preview_size(h: int, w: int, *, side: int = PREVIEW_SIDE) -> tuple[int, int]:
    """(height, width) of the previews of a session whose frames are ``h`` x ``w``."""
    n = _factor(h, w, side)
    return h // (2 * n) * 2, w // (2 * n) * 2


def _bin_mosaic(mosaic: np.ndarray, n: int) -> np.ndarray:
    """Average each n x n block of CFA tiles: a smaller mosaic with the same CFA and levels.

    Each CFA site's plane is area-averaged by OpenCV (an exact block mean for an integer
    factor, rounded), ten times faster than a NumPy reshape-mean on a 20 MP frame.
    """
    h, w = mosaic.shape
    th, tw = h // (2 * n), w // (2 * n)
    out = np.empty((2 * th, 2 * tw), np.uint16)
    for dy in (0, 1):
        for dx in (0, 1):
            plane = np.ascontiguousarray(mosaic[dy : th * 2 * n : 2, dx : tw * 2 * n : 2])
            if n > 1:
                plane = cv2.resize(plane, (tw, th), interpolation=cv2.INTER_AREA)
            out[dy::2, dx::2] = plane
    return out


def _jpeg(rgb16: np.ndarray) -> bytes:
    img8 = (np.asarray(rgb16, dtype=np.uint32) >> 8).astype(np.uint8)
    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(img8[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    if not ok:
        raise BadRelease("could not encode a preview as JPEG")
    return buf.tobytes()


def _simple_render(small: np.ndarray, attrs: Mapping[str, Any], gain: float) -> np.ndarray:
    """A preview without a colour matrix: binned raw RGB, white balance, gamma 1/2.2."""
    from dataset_card.reader import bin_raw_rgb  # the reader's DRV/SID binning

    rgb = bin_raw_rgb(
        small, black=attrs["black_level"], white=attrs["white_level"], cfa=attrs["cfa"]
    )
    wb = np.asarray(attrs["white_balance"][:3], dtype=np.float32)
    wb = wb / wb[1] if np.all(np.isfinite(wb)) and wb[1] > 0 else np.ones(3, np.float32)
    rgb = np.clip(rgb * gain * wb[:, None, None], 0, 1) ** (1 / 2.2)
    rgb = np.moveaxis(rgb, 0, -1)
    rgb = cv2.resize(rgb, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.round(rgb * 65535).astype(np.uint16)


def preview_short(
    mosaic: np.ndarray, attrs: Mapping[str, Any], ratio: float, *, side: int = PREVIEW_SIDE
) -> bytes:
    """A JPEG of a short frame times its exposure ratio, rendered as the ground truth is.

    The mosaic is averaged over blocks of CFA tiles (keeping the CFA) to at most ``side``
    pixels, gained by ``ratio`` in linear raw (1 when unknown) and rendered by
    :func:`curate.raw.render_mosaic` with the session's levels, white balance and colour
    matrix (DRV's "Input+Rawpy"); a session without a colour matrix gets white balance and
    gamma only.

    Returns
    -------
    bytes
        The JPEG, :func:`preview_size` of the frame.
    """
    h, w = mosaic.shape
    small = _bin_mosaic(mosaic, _factor(h, w, side))
    gain = float(ratio) if np.isfinite(ratio) and ratio > 0 else 1.0
    matrix = np.asarray(attrs["color_matrix"], dtype=np.float64)
    rgb = None
    if np.all(np.isfinite(matrix)):
        try:
            rgb = render_mosaic(
                small,
                black_level=attrs["black_level"],
                white_level=int(attrs["white_level"]),
                cfa=attrs["cfa"],
                white_balance=attrs["white_balance"],
                color_matrix=list(matrix.ravel()),
                gain=gain,
            )
        except CurateError:
            rgb = None
    if rgb is None:
        rgb = _simple_render(small, attrs, gain)
    return _jpeg(rgb)


def preview_ground_truth(rgb: np.ndarray, size: tuple[int, int]) -> bytes:
    """A JPEG of an sRGB ground truth (uint16), area-averaged to ``size`` (height, width)."""
    small = cv2.resize(np.ascontiguousarray(rgb), (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return _jpeg(small)
