"""The capture stage's exceptions.

Every error the stage raises derives from :class:`CaptureError` and, where one fits, from the
builtin it resembles, so callers can catch either.  Messages say what was expected, what was
found, what we did about it and what to try next.  The CLI maps :class:`BadRequest` subclasses
to exit code 2 and every other :class:`CaptureError` to exit code 1.
"""

from __future__ import annotations


class CaptureError(Exception):
    """Base of every error raised by :mod:`capture`."""


class BadRequest(CaptureError):
    """The user asked for something that cannot be done as asked (CLI exit code 2)."""


class SettingError(BadRequest, ValueError):
    """An ISO, shutter speed, aperture or format the camera does not offer."""


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
    """Too little free disk for the planned frames."""
