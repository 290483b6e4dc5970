"""Handing freed memory back to the system between units of work (sessions).

A long process (a curation worker, a publish) handles session after session.  glibc's
allocator keeps what a session freed (work images, FFT buffers, on several threads' arenas)
for reuse, and reuse from fragmented arenas is imperfect, so without a trim a process's
resident memory creeps up session after session; with one, every session starts from the
same resident memory and the peak is the largest single session's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable

__all__ = ["release_freed_memory"]


def release_freed_memory() -> bool:
    """Collect garbage and hand freed heap memory back to the system; True where it could.

    ``malloc_trim`` is glibc's; elsewhere (musl, macOS) this only collects garbage and
    returns False.
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up once per process (finding libc may run
    ``ldconfig``); None where the C library has none."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    return trim
