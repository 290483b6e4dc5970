"""h5py's side of the split files: opening them, their filters, their values as plain Python.

The writer (:mod:`dataset_card.h5writer`), the verifier and summary
(:mod:`dataset_card.h5verify`) and the reader (:mod:`dataset_card.reader`) open files and turn
HDF5 values into Python through this module.

Plugin filters (Bitshuffle, Blosc) come from hdf5plugin, which is imported here (when it is
installed) so that every file the package opens, or that :func:`open_file` hands out, can be
read.  Each file records its codec and what a reader needs in the root attributes ``codec``
and ``reader_needs``; ``gzip-shuffle`` and ``none`` need h5py alone.  Without hdf5plugin a
frame stored with a plugin filter cannot be read: :func:`missing_filters` names the filters a
dataset needs that this process lacks, and the reader turns that into
:class:`~dataset_card.errors.MissingFilter`, naming hdf5plugin.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

try:  # registers Blosc, Bitshuffle, ... with HDF5; gzip and none are read without it
    import hdf5plugin
except ImportError:  # pragma: no cover - exercised in a subprocess by the tests
    hdf5plugin = None

from dataset_card.errors import CorruptFile, MissingFile, MissingFilter
from dataset_card.schema import BLOSC2_ID, BLOSC_ID, BSHUF_ID, LZ4_ID, ZSTD_ID

__all__ = [
    "attrs_dict",
    "codec_of",
    "filter_error",
    "hdf5plugin",
    "missing_filters",
    "open_file",
    "to_python",
]

FILTER_NAMES = {
    h5py.h5z.FILTER_DEFLATE: "gzip",
    h5py.h5z.FILTER_SHUFFLE: "shuffle",
    h5py.h5z.FILTER_FLETCHER32: "fletcher32",
    BSHUF_ID: "bitshuffle",
    BLOSC_ID: "blosc",
    BLOSC2_ID: "blosc2",
    LZ4_ID: "lz4",
    ZSTD_ID: "zstd",
}


def missing_filters(ds: h5py.Dataset) -> list[str]:
    """The names of the filters ``ds`` is stored with that this process cannot load."""
    plist = ds.id.get_create_plist()
    out = []
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if not h5py.h5z.filter_avail(code):
            out.append(FILTER_NAMES.get(code, f"filter {code}"))
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


def attrs_dict(attrs: h5py.AttributeManager) -> dict[str, Any]:
    """Every attribute of a group, dataset or file as plain Python (:func:`to_python`)."""
    return {k: to_python(attrs[k]) for k in attrs}


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


def codec_of(ds: h5py.Dataset) -> str:
    """The codec a dataset is stored with, named as in :data:`~dataset_card.schema.CODECS`
    (other filter chains are named by their filters, joined by ``+``)."""
    plist = ds.id.get_create_plist()
    names = [
        FILTER_NAMES.get(plist.get_filter(i)[0], f"filter-{plist.get_filter(i)[0]}")
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
