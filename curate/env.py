"""The environment the curate command runs in, set before numpy is first imported.

Curation parallelises over frames on its own threads, and its matrix products are small (a
correlation matrix of a few dozen frames, 4x4 solves): OpenBLAS's own threads, which spin while
they wait, only compete with those threads.  On a loaded 2-core machine one such product took
0.5 to 4.5 s with OpenBLAS's threads and 0.05 s without.  A user's own setting wins.

This module imports nothing heavy, so a command can apply it before anything loads numpy.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

__all__ = ["CURATE_ENV", "set_curate_env"]

CURATE_ENV = {"OPENBLAS_NUM_THREADS": "1"}


def set_curate_env(environ: MutableMapping[str, str] = os.environ) -> MutableMapping[str, str]:
    """Fill in :data:`CURATE_ENV` where ``environ`` (the process's by default) has no value of
    its own; returns ``environ``."""
    for key, value in CURATE_ENV.items():
        environ.setdefault(key, value)
    return environ
