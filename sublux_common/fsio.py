"""Durable file writes shared by every stage: atomic replace and fsynced appends.

A file that matters is written under a temporary name in its final folder, flushed, fsynced,
renamed over its final name, and the folder is fsynced, so a power cut leaves either the old
file or the new one, never half of one.  Journals are append-only and fsynced per record.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "CRASH_ENV",
    "PART_SUFFIX",
    "append_jsonl",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "crash_point",
    "cut_torn_tail",
    "fsync_dir",
]

#: How a temporary file being written ends (``.<name>.<random>.part`` beside its final name).
PART_SUFFIX = ".part"

#: Tests only: ``SUBLUX_TEST_CRASH_AT=LABEL:N`` makes the process SIGKILL itself the N-th time
#: it passes the crash point LABEL, so a fault test can hit an exact instant (between the
#: rename of a frame and its journal record, mid-append, inside session creation) on any
#: machine, at any speed.  Unset, a crash point costs one dictionary lookup.
CRASH_ENV = "SUBLUX_TEST_CRASH_AT"
_crash_hits: dict[str, int] = {}


def crash_point(label: str) -> None:
    """SIGKILL this process here if ``$SUBLUX_TEST_CRASH_AT`` names ``label`` (tests only)."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    want, _, count = spec.rpartition(":")
    if want != label:
        return
    _crash_hits[label] = _crash_hits.get(label, 0) + 1
    if _crash_hits[label] >= int(count):
        os.kill(os.getpid(), signal.SIGKILL)


def _name_path(exc: OSError, path: str | os.PathLike) -> OSError:
    """Give an OS error raised on a file descriptor (no filename) the path it was about."""
    if exc.filename is None:
        exc.filename = os.fspath(path)
    return exc


def fsync_dir(path: str | os.PathLike) -> None:
    """fsync a path: a directory, to flush a rename in it, or a file opened read-only."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PART_SUFFIX, dir=path.parent)
    # mkstemp makes 0600 files; data files are meant to be shared like any other file.
    os.fchmod(fd, 0o644)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            _name_path(exc, path)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON to ``path`` atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    with atomic_write(path, "w") as fh:
        fh.write(text)


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON record as a line, fsynced before returning.

    The line goes out in one ``write``; if the OS refuses part of it (a full disk), the file is
    cut back to where it was, so a failed append never leaves a fragment for the next record to
    glue onto.  Callers hold the session's lock: nobody else appends meanwhile.
    """
    data = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            done = 0
            if os.environ.get(CRASH_ENV):  # tests: a kill mid-append leaves half a line
                done = os.write(fd, data[: len(data) // 2])
                crash_point("journal:torn")
            while done < len(data):
                done += os.write(fd, data[done:])
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
                os.fsync(fd)
            _name_path(exc, path)
            raise
    finally:
        os.close(fd)
    crash_point("journal:appended")


def cut_torn_tail(path: str | os.PathLike) -> bytes:
    """Truncate a line-oriented file after its last newline; return the bytes cut (fsynced).

    A process killed while appending leaves a partial last line; appending after it would
    glue the next record to the fragment.  Call this before appending again.
    """
    with open(path, "r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return b""
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return b""
        # find the last newline, reading back in blocks
        end = size
        while end > 0:
            start = max(0, end - 65536)
            fh.seek(start)
            block = fh.read(end - start)
            nl = block.rfind(b"\n")
            if nl >= 0:
                keep = start + nl + 1
                break
            end = start
        else:
            keep = 0
        fh.seek(keep)
        tail = fh.read()
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    return tail
