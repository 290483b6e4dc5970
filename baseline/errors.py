"""The trainer's exceptions.

Every error raised by :mod:`baseline` derives from :class:`BaselineError` and, where one fits,
from the builtin it resembles, so callers can catch either (code that catches ``ValueError``
around :func:`baseline.metrics.psnr` keeps working).  Messages say what was expected, what was
found and what to try.  ``dataset validate`` maps :class:`BadRequest` to exit code 2 and every
other :class:`BaselineError` to exit code 1; a builtin exception is a bug and keeps its
traceback.
"""

from __future__ import annotations

__all__ = ["BadArgument", "BadRequest", "BaselineError"]


class BaselineError(Exception):
    """Base of every error raised by :mod:`baseline`."""


class BadRequest(BaselineError, ValueError):
    """A training request that cannot be carried out as asked: an option (``--model``,
    ``--gt``, ``--device``), a missing extra, or a release without what training needs
    (a val split, paired frames, colour matrices).  Exit code 2."""


class BadArgument(BaselineError, ValueError):
    """A model, loss or metric called with arguments it cannot use (shapes, channel counts,
    too few frames).  Raised by library functions; from inside ``dataset validate`` it is a
    failure (exit 1), as the trainer chose the arguments."""
