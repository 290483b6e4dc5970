"""HDF5 split files: the names earlier releases of sublux imported from here.

The module was split along its seams: the layout as data (no h5py) in
:mod:`dataset_card.schema`, opening files and their filters in :mod:`dataset_card.h5io`, the
writer in :mod:`dataset_card.h5writer`, and the verifier and summary in
:mod:`dataset_card.h5verify`.  Import from those; this module re-exports their public names
for code written against the single module (values only: to change a chunking constant such
as ``WHOLE_FRAME_MAX_PIXELS`` for a test or a bench, set it on :mod:`dataset_card.schema`).
"""

from __future__ import annotations

from dataset_card.h5io import filter_error, missing_filters, open_file, to_python
from dataset_card.h5verify import file_summary, fletcher32_matches, verify_file
from dataset_card.h5writer import SessionWriter, SplitWriter
from dataset_card.schema import (
    BLOSC2_ID,
    BLOSC_ID,
    BLOSC_ZSTD_LEVEL,
    BSHUF_ID,
    CODEC_ALIASES,
    CODECS,
    DEFAULT_BLOSC_THREADS,
    DEFAULT_CODEC,
    GT_RECIPE,
    GZIP_LEVEL,
    LONG_FRAMES_DTYPE,
    LZ4_ID,
    MEAN_RECIPE,
    READER_NEEDS,
    ROOT_ATTRS,
    SCHEMA_VERSION,
    SESSION_ATTRS,
    SESSION_KINDS,
    SHORT_FRAMES_DTYPE,
    TILE,
    WHOLE_FRAME_MAX_PIXELS,
    ZSTD_ID,
    canonical_codec,
    frame_chunks,
    shard_name,
)

__all__ = [
    "BLOSC2_ID",
    "BLOSC_ID",
    "BLOSC_ZSTD_LEVEL",
    "BSHUF_ID",
    "CODECS",
    "CODEC_ALIASES",
    "DEFAULT_BLOSC_THREADS",
    "DEFAULT_CODEC",
    "GT_RECIPE",
    "GZIP_LEVEL",
    "LONG_FRAMES_DTYPE",
    "LZ4_ID",
    "MEAN_RECIPE",
    "READER_NEEDS",
    "ROOT_ATTRS",
    "SCHEMA_VERSION",
    "SESSION_ATTRS",
    "SESSION_KINDS",
    "SHORT_FRAMES_DTYPE",
    "TILE",
    "WHOLE_FRAME_MAX_PIXELS",
    "ZSTD_ID",
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
