"""One line for an operating-system error: the path, what happened and what to do.

Every command prints an :class:`OSError` this way (exit 1, no traceback): a full disk, a
read-only file system, a permission problem or a failing card is the user's to fix, and the
message says how.
"""

from __future__ import annotations

import errno as _errno
import os

__all__ = ["os_error_message"]


_CHECK_PERMISSIONS = (
    "check the owner and permissions of the folder (ls -ld), or choose another path"
)

#: What an errno means for the user, and what to do about it.
_OS_ADVICE = {
    _errno.ENOSPC: ("the disk is full", "free some space or move the session to a larger disk"),
    _errno.EDQUOT: ("the disk quota is used up", "free some space or ask for a larger quota"),
    _errno.EROFS: (
        "the file system is read-only",
        "remount it read-write, or copy the session to a writable disk",
    ),
    _errno.EACCES: ("permission denied", _CHECK_PERMISSIONS),
    _errno.EPERM: ("operation not permitted", _CHECK_PERMISSIONS),
    _errno.EIO: (
        "an input/output error (a failing disk, card or cable?)",
        "check the disk (dmesg) and copy what is there to a healthy one",
    ),
    _errno.EFBIG: ("the file is too large for the file system", "use another file system"),
    _errno.ENOENT: (
        "no such file or folder",
        "check the path for a typo (ls the folder above it), or create the folder first",
    ),
    _errno.ENOTDIR: (
        "a part of the path is a file, not a folder",
        "check the path: every name before the last / must be a folder; choose a path in a folder",
    ),
    _errno.EISDIR: (
        "it is a folder, not a file",
        "give the path of a file, or a new name for one",
    ),
    _errno.ECONNREFUSED: (
        "the connection was refused",
        "check the address and port, and that the server is running there",
    ),
    _errno.ETIMEDOUT: (
        "the connection timed out",
        "check the address, that the server is running there and that no firewall is between",
    ),
}


def os_error_message(exc: OSError, *, doing: str = "", todo: str = "") -> str:
    """One line for an OS error: the path, what happened and what to do.

    An error that names no file (a timeout, a refused connection) is said without a path.

    >>> os_error_message(OSError(28, "No space left on device", "/data/s/dark/0003.dng"))
    '/data/s/dark/0003.dng: the disk is full (No space left on device); free some space or move the session to a larger disk'
    """  # noqa: E501
    what, advice = _OS_ADVICE.get(exc.errno, (None, None))
    strerror = exc.strerror or str(exc)
    what = f"{what} ({strerror})" if what else strerror
    path = exc.filename
    head = os.fsdecode(path) if path is not None else ""
    if exc.filename2 is not None:
        head += f" -> {os.fsdecode(exc.filename2)}"
    # an error of no file (a network timeout, a refused connection) is said without a path
    parts = [(f"{head}: {what}" if head else what) + (f" while {doing}" if doing else "")]
    parts += [a for a in (advice, todo) if a]
    return "; ".join(parts)
