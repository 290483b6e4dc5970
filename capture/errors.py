"""The capture stage's exceptions.

Every error the stage raises derives from :class:`CaptureError` and, where one fits, from the
builtin it resembles, so callers can catch either.  Messages say what was expected, what was
found, what we did about it and what to try next.  The CLI maps :class:`BadRequest` subclasses
to exit code 2 and every other :class:`CaptureError` to exit code 1.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from sublux_common.oserrors import os_error_message


class CaptureError(Exception):
    """Base of every error raised by :mod:`capture`."""


class BadRequest(CaptureError):
    """The user asked for something that cannot be done as asked (CLI exit code 2)."""


class SettingError(BadRequest, ValueError):
    """An ISO, shutter speed, aperture or format the camera does not offer."""


class BadImport(BadRequest, ValueError):
    """Footage ``capture import`` cannot take as asked (no readable raw file, a video OpenCV
    cannot open, frames of several sizes or cameras, exposure unknown); nothing was written."""


class BadSessionInfo(BadRequest, ValueError):
    """A scene name or an illuminance a new session cannot record: a scene ``dataset publish``
    would refuse (:func:`sublux_common.names.name_problem`), or a ``--lux`` that is not a
    finite number >= 0.  Refused before anything is opened or written."""


class SessionError(CaptureError):
    """A session directory is missing, malformed or not what the command expects."""


class FrameMismatch(SessionError):
    """A journalled frame's bytes are missing or differ from its journal record.

    ``problem`` is ``missing``, ``size`` or ``hash_mismatch``; ``expected`` and ``found`` are
    the journal's and the file's sha256 (or sizes, for ``size``).
    """

    def __init__(self, message: str, *, path: str, problem: str, expected: str, found: str):
        super().__init__(message)
        self.path = path
        self.problem = problem
        self.expected = expected
        self.found = found


class MalformedRecord(SessionError):
    """A journal record lacks a field its type needs, or holds one of the wrong kind (a
    ``frame`` without its ``sha256``, say); ``capture repair`` un-journals it."""


class SessionExists(SessionError, BadRequest, FileExistsError):
    """A command would overwrite or mix into an existing session."""


class CameraError(CaptureError):
    """The camera could not be reached or failed during a capture."""


class CameraNotFound(CameraError, LookupError):
    """No camera answered on the requested port."""


class CameraBusy(CameraError):
    """Another process holds the camera (usually gvfs), or it stayed busy through every retry."""


class TurntableError(CaptureError):
    """The turntable controller failed, timed out or reported an error."""


class TurntableAlarm(TurntableError):
    """The GRBL controller is in an alarm state and refuses to move."""


class TurntableTimeout(TurntableError, TimeoutError):
    """The controller did not answer, or did not become idle, in time."""


class DiskFull(BadRequest, OSError):
    """Too little free disk for the planned frames, found before anything is written.

    A disk that fills up *during* a run is a :class:`StorageError` (a failure, exit 1).
    """


class NotASession(SessionError, BadRequest):
    """The path given as a session is no session: nothing there, or no ``session.json``
    (a bad request, exit 2, as curate and dataset treat it)."""


class SessionLocked(SessionError, BadRequest):
    """Another live process is writing to the session; ``holder`` is its lock note
    (``pid``, ``host``, ``command``, ``since``) or None."""

    def __init__(self, message: str, *, holder: dict | None = None):
        super().__init__(message)
        self.holder = holder


class JournalDamaged(SessionError):
    """The journal has damaged lines, so nothing may be appended until `capture repair`.

    ``damaged`` lists the :class:`capture.session.DamagedLine` entries found.
    """

    def __init__(self, message: str, *, damaged: list | None = None):
        super().__init__(message)
        self.damaged = damaged or []


class StorageError(CaptureError, OSError):
    """The operating system refused a write (disk full, read-only, no permission, I/O error).

    ``errno`` and ``filename`` are the original error's; the message is one line naming the
    path, what happened and what to do (see :func:`os_error_message`).
    """

    def __init__(self, message: str, *, errno: int | None = None, filename: str | None = None):
        super().__init__(message)
        self.errno = errno
        self.filename = filename

    def __str__(self) -> str:  # OSError's would print "[Errno 28] None: path"
        return str(self.args[0]) if self.args else ""

    @classmethod
    def from_os_error(cls, exc: OSError, *, doing: str = "", todo: str = "") -> StorageError:
        """Wrap ``exc`` with a one-line message (``doing``: what we were doing, e.g.
        "writing frame dark/0003.dng"; ``todo``: what to do once the cause is fixed)."""
        if isinstance(exc, StorageError):
            return exc
        return cls(
            os_error_message(exc, doing=doing, todo=todo),
            errno=exc.errno,
            filename=None if exc.filename is None else os.fsdecode(exc.filename),
        )


@contextlib.contextmanager
def storage_errors(doing: str = "", todo: str = "") -> Iterator[None]:
    """Turn an :class:`OSError` raised in the block into a :class:`StorageError`.

    A :class:`CaptureError` passes unchanged, even one that is also an ``OSError``
    (:class:`DiskFull`, :class:`SessionExists`): it already says what to do.

    Parameters
    ----------
    doing, todo : str
        As for :meth:`StorageError.from_os_error`.
    """
    try:
        yield
    except CaptureError:
        raise
    except OSError as exc:
        raise StorageError.from_os_error(exc, doing=doing, todo=todo) from None


class Interrupted(KeyboardInterrupt):
    """A second Ctrl-C or SIGTERM interrupted a run mid-frame; the message names the signal."""
