"""One writer per session: an advisory ``flock`` on ``SESSION/.lock``.

Every command that writes to a session (``burst``, ``reference``, ``sweep``, ``resume``,
``repair``) holds an exclusive lock on the session's ``.lock`` file for its whole run.  The lock
is the kernel's: it dies with its process, so a lock left by a killed process is never an
obstacle, and the file's content (who holds it: pid, host, command, since when) is only a note
for the message a second writer prints, overwritten by the next holder.

The lock file is never replaced or removed (a new inode would be a second, independent lock);
its content is rewritten in place.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import os
import socket
import weakref
from pathlib import Path

from capture.errors import SessionLocked

__all__ = ["LOCK_FILE", "SessionLock", "read_holder"]

LOCK_FILE = ".lock"


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_holder(path: str | os.PathLike) -> dict | None:
    """The note in a lock file (``pid``, ``host``, ``command``, ``since``), or None."""
    try:
        note = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


def _describe(note: dict | None) -> str:
    if not note:
        return "another process (it has not written its name yet)"
    return (
        f"`capture {note.get('command', '?')}` (pid {note.get('pid', '?')} on "
        f"{note.get('host', '?')}, since {note.get('since', '?')})"
    )


class SessionLock:
    """An exclusive advisory lock on a session directory, held until :meth:`release`.

    Acquire it with :meth:`acquire`; it never waits: a lock held by a live process raises
    :class:`~capture.errors.SessionLocked` naming the holder, before anything is written.
    """

    def __init__(self, directory: Path, fd: int, note: dict):
        self.directory = directory
        self.note = note
        self._fd: int | None = fd
        # A writer dropped without release() still lets go when it is collected.
        self._finalizer = weakref.finalize(self, os.close, fd)

    @classmethod
    def acquire(cls, directory: str | os.PathLike, command: str) -> SessionLock:
        """Lock ``directory`` (which must exist) for ``command``.

        Raises
        ------
        SessionLocked
            Another live process holds the lock; nothing was written.
        OSError
            The lock file cannot be opened (a read-only or unwritable folder).
        """
        directory = Path(directory)
        path = directory / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = read_holder(path)
            raise SessionLocked(
                f"expected no other writer on the session {directory}, found it locked by "
                f"{_describe(holder)}; nothing was written. Wait for that command to finish (or "
                "stop it with Ctrl-C), then run yours again; a session takes one writer at a time.",
                holder=holder,
            ) from None
        note = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": _utc_now(),
        }
        try:
            data = (json.dumps(note) + "\n").encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except OSError:
            # The note is a courtesy for the message a second writer prints; the lock holds
            # without it (a full disk must not stop a resume from writing its stop record).
            pass
        return cls(directory, fd, note)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Let go of the lock (idempotent); the note is cleared first, while still held."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        self._finalizer()  # closes fd, which releases the flock

    def __enter__(self) -> SessionLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
