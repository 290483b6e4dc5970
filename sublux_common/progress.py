"""The one progress-callback type every stage reports through.

Library code never prints: a long job calls ``on_progress(step, done, total)`` where ``step``
names what is being counted ("frames", "dark", "checksums"...), ``done`` is how many are
finished and ``total`` how many there are (0 when unknown).  Only a command turns the calls
into a Rich progress bar.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["OnProgress"]

#: ``on_progress(step, done, total)``; see the module docstring.
OnProgress = Callable[[str, int, int], None]
