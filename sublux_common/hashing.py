"""SHA-256 digests: how every stage vouches for a file's bytes.

A frame is hashed from the bytes that were read to decode it (one read for both); these
helpers are for bytes in hand and for whole files read in chunks.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["sha256_bytes", "sha256_file"]


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
