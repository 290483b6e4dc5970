"""The dataset stage's exceptions.

Every error raised by :mod:`dataset_card` derives from :class:`DatasetError` and, where one
fits, from the builtin it resembles, so callers can catch either.  Messages say what was
expected, what was found, what we did about it and what to try next.  The CLI maps
:class:`BadRelease` (a bad request or a release that does not hold together) to exit code 2 and
every other :class:`DatasetError` to exit code 1.
"""

from __future__ import annotations

from capture.errors import FrameMismatch

__all__ = [
    "BadRelease",
    "CorruptFile",
    "DamagedRelease",
    "DatasetError",
    "FrameChanged",
    "MissingFile",
    "ReleaseExists",
    "UnknownSplit",
]


class DatasetError(Exception):
    """Base of every error raised by :mod:`dataset_card`."""


class BadRelease(DatasetError, ValueError):
    """A request, a session or a release's contents that cannot be used as given."""


class DamagedRelease(BadRelease):
    """A release whose ``manifest.json`` is there but damaged: not JSON, or a value of the
    wrong type (edited by hand, cut short, half downloaded).

    A :class:`BadRelease` for library callers (the release cannot be used as given); the
    ``dataset`` commands report it as a failure, exit 1 (a damaged file), and ``dataset
    verify`` lists it as a problem.
    """


class FrameChanged(BadRelease):
    """A session frame whose bytes differ from its journal record (missing, another size or
    another sha256): a release is never built from it.

    ``problem`` is ``missing``, ``size`` or ``hash_mismatch``; ``expected`` and ``found`` the
    journal's and the file's values.  A bad input to the packager (exit code 2): the fix is
    upstream, by re-curating the session or restoring the file.
    """

    def __init__(self, message: str, *, path: str, problem: str, expected: str, found: str):
        super().__init__(message)
        self.path = path
        self.problem = problem
        self.expected = expected
        self.found = found

    @classmethod
    def from_mismatch(cls, message: str, mismatch: FrameMismatch, *, path: str) -> FrameChanged:
        """The release's error for capture's :class:`~capture.errors.FrameMismatch`, keeping
        its problem, expected and found values; ``path`` is the file's full path (capture's
        is relative to the session)."""
        return cls(
            message,
            path=path,
            problem=mismatch.problem,
            expected=mismatch.expected,
            found=mismatch.found,
        )


class CorruptFile(DatasetError, OSError):
    """A release file that cannot be read: not HDF5, truncated, or a chunk failing its checksum."""


class MissingFilter(DatasetError, OSError):
    """A frame stored with a compression filter this process cannot load (Blosc or Bitshuffle
    without hdf5plugin): the file is fine, the reader lacks a package."""


class MissingFile(DatasetError, FileNotFoundError):
    """A file the release (or its manifest) names is not there."""


class NoRelease(MissingFile, BadRelease):
    """A folder that holds no release (no ``manifest.json``, or no such folder).

    Both readers of a manifest raise it: a command reports it as a bad request (exit 2, the
    path given was wrong: :class:`BadRelease` comes first among the commands' listed classes),
    a library caller may catch it as the missing file it is (:class:`MissingFile`,
    ``FileNotFoundError``).
    """


class ReleaseExists(BadRelease, FileExistsError):
    """A write would overwrite or mix into files that already exist."""


class UnknownSplit(DatasetError, KeyError):
    """A split name the release does not have."""

    def __str__(self) -> str:
        # KeyError's str() is the repr of its argument, quotes and escapes included.
        return str(self.args[0]) if self.args else ""
