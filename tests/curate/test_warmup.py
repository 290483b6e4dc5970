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
