"""The allocator's side of a process that handles 20 MP frames: keeping big blocks for reuse
while a command runs (:func:`tune_allocator`), handing freed memory back between units of
work (:func:`release_freed_memory`).

A long process (a curation worker, a publish) handles session after session.  glibc's
allocator keeps what a session freed (work images, FFT buffers, on several threads' arenas)
for reuse, and reuse from fragmented arenas is imperfect, so without a trim a process's
resident memory creeps up session after session; with one, every session starts from the
same resident memory and the peak is the largest single session's.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import functools
import gc
import os
from collections.abc import Callable, Mapping

__all__ = [
    "ALLOCATOR_SETTINGS",
    "DEFAULT_ALLOCATOR_ENV",
    "collect_once_at_exit",
    "release_freed_memory",
    "tune_allocator",
]

#: glibc ``mallopt`` settings for a process that reads, decodes and reduces frames of tens of
#: megabytes: blocks of any size below 1 GiB come from the heap, and freed memory stays there
#: for the next frame (trimmed by :func:`release_freed_memory`, or when 1 GiB is free at the
#: heap's top), which grows 128 MiB at a time.
ALLOCATOR_SETTINGS = {"mmap_threshold": 1 << 30, "trim_threshold": 1 << 30, "top_pad": 1 << 27}
_MALLOPT = {"trim_threshold": -1, "top_pad": -2, "mmap_threshold": -3}  # glibc's M_* numbers
#: set to 1, the commands leave glibc's allocator as it is
DEFAULT_ALLOCATOR_ENV = "SUBLUX_DEFAULT_ALLOCATOR"
_tuned: dict | None = None


def tune_allocator(environ: Mapping[str, str] = os.environ) -> dict:
    """Keep big blocks in glibc's heap for reuse (:data:`ALLOCATOR_SETTINGS`); once per
    process, at a command's start.  Returns the settings applied (empty where none were).

    glibc serves a block over its mmap threshold (at most 32 MiB however it adapts) with a
    fresh ``mmap`` and unmaps it when freed.  A 20 MP frame is bigger: its 38 MB of file
    bytes, LibRaw's 40 MB image and any copy are each mapped anew, and the kernel faults
    in and zeroes every 4 KiB page of every one.  On the 2-core machine that was a third of
    the CPU time of reading, hashing and decoding a 34-frame session (1.25 s of system time
    of 2.8 s); with these settings the same loop spent 0.15 s in the system and finished in
    0.96 s instead of 1.5 s.  The cost is memory: freed blocks stay in the heap for the next
    frame, so a command's peak resident memory is somewhat higher (``scripts/bench scale``).

    Left alone: where the user set the allocator (any ``MALLOC_*`` variable or a
    ``glibc.malloc`` tunable in ``environ``), where :data:`DEFAULT_ALLOCATOR_ENV` is ``1``,
    elsewhere than glibc (musl, macOS), and on a glibc that refuses a threshold this high
    (older ones cap it at 32 MiB: the other two settings alone would only switch off its
    adaptive threshold).
    """
    global _tuned
    if _tuned is not None:
        return _tuned
    applied: dict = {}
    user = (
        any(k.startswith("MALLOC_") for k in environ)
        or "glibc.malloc." in environ.get("GLIBC_TUNABLES", "")
        or environ.get(DEFAULT_ALLOCATOR_ENV) == "1"
    )
    mallopt = None if user else _libc_function("mallopt")
    if mallopt is not None:
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        for name, value in ALLOCATOR_SETTINGS.items():  # the mmap threshold first
            if mallopt(_MALLOPT[name], value) != 1:
                break
            applied[name] = value
    _tuned = applied
    return applied


def _collect_and_freeze() -> None:
    gc.collect()  # every object unreachable now is finalized, as at any exit
    gc.freeze()


@functools.cache
def collect_once_at_exit() -> None:
    """At exit, collect garbage once and then freeze what is left, so that the interpreter's
    own collections while it tears modules down skip it (once per process).

    A command that loaded numba, llvmlite and scipy holds some hundred thousand objects;
    Python's shutdown walks them in several collections, which took 0.09 s of a
    ``curate align``'s 0.6 s of fixed cost (0.02 s with this).  Objects still reachable at
    exit are then torn down with their modules as before; only cycles among them are not
    collected, which Python never promised at exit (``__del__`` is not guaranteed for objects
    alive when the interpreter exits).
    """
    atexit.register(_collect_and_freeze)


def release_freed_memory() -> bool:
    """Collect garbage and hand freed heap memory back to the system; True where it could.

    ``malloc_trim`` is glibc's; elsewhere (musl, macOS) this only collects garbage and
    returns False.
    """
    gc.collect()
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
    return True


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, looked up once per process (finding it may run ``ldconfig``)."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def _libc_function(name: str) -> Callable[..., int] | None:
    """glibc's function ``name``; None where the C library has none (not glibc)."""
    libc = _libc()
    return getattr(libc, name, None) if libc is not None else None
