"""``python -m sublux.warmup``: compile curation's numba kernels once, at install time.

The kernels (:mod:`curate._kernels`) are compiled with ``cache=True``: numba writes the
machine code beside the module (``curate/__pycache__``), or, where that folder is not
writable, under ``NUMBA_CACHE_DIR`` or the user's cache folder, and every later process
loads it instead of compiling.  Without this step the first ``curate align`` after an
install pays the compile (several seconds; ``scripts/bench curate`` measures it as
``first_run_compile_s``).  ``scripts/_venv.sh`` runs this after installing.

It curates a small simulated static session (a dark burst and a reference, shot by
:func:`capture.sim.rig.simulated_session`) in a temporary folder: the same calls, with the same
argument types, as any curation.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

__all__ = ["warm_up"]


def warm_up() -> float:
    """Compile (or load) every kernel curation uses; return the seconds it took."""
    from capture.sim.rig import simulated_session
    from curate.pipeline import align_session

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sublux-warmup-") as tmp:
        path = simulated_session(
            Path(tmp) / "s", scene="warmup", size=(96, 128), seed=1, frames=4, refs=1
        )
        align_session(path)
    _margined_mosaic()
    return time.perf_counter() - t0


def _margined_mosaic() -> None:
    """The binning kernel for a camera whose raw files have masked margins: LibRaw's visible
    area is then a strided view (numba's layout "A"), not the contiguous array the simulated
    camera's DNGs give, and numba compiles one version of a kernel per layout."""
    import numpy as np

    from curate import _kernels

    full = np.zeros((20, 24), np.uint16)
    visible = full[2:18, 4:20]
    visible.flags.writeable = False  # as curate.raw.open_raw lends it
    _kernels.bin_stats(visible, 4, 16000, 0, 65535)


def main() -> int:
    seconds = warm_up()
    print(f"curation's numba kernels compiled or loaded from their cache in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
