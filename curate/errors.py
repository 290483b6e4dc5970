"""The curation stage's exceptions.

Every error raised by :mod:`curate` derives from :class:`CurateError` and, where one fits, from
the builtin it resembles, so callers can catch either.  Messages say what was expected, what was
found, what we did about it and what to try next.
"""

from __future__ import annotations

__all__ = ["BadInput", "CurateError", "MissingMetadata", "UnreadableRaw"]


class CurateError(Exception):
    """Base of every error raised by :mod:`curate`."""


class BadInput(CurateError, ValueError):
    """An array or option handed to a curation algorithm cannot be used as given."""


class UnreadableRaw(CurateError, OSError):
    """A raw file could not be decoded (truncated, not a raw file, unsupported)."""


class MissingMetadata(CurateError, LookupError):
    """A raw file lacks metadata a step needs (exposure time, ISO)."""
