"""`python -m sublux.warmup` (run by scripts/_venv.sh after installing) leaves every kernel
compiled in numba's cache, so the first `curate align` after an install compiles nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from numba.core.registry import CPUDispatcher

from curate import _kernels


@pytest.mark.slow
def test_warmup_caches_every_kernel(tmp_path):
    cache = tmp_path / "numba"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    run = subprocess.run(
        [sys.executable, "-m", "sublux.warmup"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    assert "numba kernels compiled" in run.stdout
    kernels = {n for n, f in vars(_kernels).items() if isinstance(f, CPUDispatcher)}
    assert kernels, "the kernels module's numba functions"
    cached = {p.name.split(".")[1].rsplit("-", 1)[0] for p in cache.rglob("*.nbi")}
    assert kernels <= cached, f"not cached: {sorted(kernels - cached)}"
    assert list(cache.rglob("*.nbc")), "compiled code beside the indexes"


@pytest.mark.slow
def test_warmup_covers_a_camera_whose_raw_files_have_margins(tmp_path):
    """LibRaw lends a margined camera's visible area as a strided view (numba's layout "A"):
    after the warm-up its kernel loads from the cache instead of compiling."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    warm = subprocess.run([sys.executable, "-m", "sublux.warmup"], capture_output=True, env=env)
    assert warm.returncode == 0, warm.stderr
    code = (
        "import numpy as np\n"
        "from curate import _kernels\n"
        "full = np.zeros((40, 48), np.uint16)\n"
        "view = full[2:38, 4:44]\n"
        "view.flags.writeable = False\n"
        "_kernels.bin_stats(view, 4, 100, 0, 65535)\n"
        "st = _kernels._bin_stats.stats\n"
        "print(sum(st.cache_hits.values()), sum(st.cache_misses.values()))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    hits, misses = map(int, run.stdout.split())
    assert (hits, misses) == (1, 0)
