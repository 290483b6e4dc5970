"""The scale benchmark's fits and its measurement of a command's peak memory."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).parents[1] / "scripts" / "bench_scale.py"
_spec = importlib.util.spec_from_file_location("bench_scale", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_growth_exponent_and_line():
    ns = [2, 4, 8, 16]
    assert bench.fit_exponent(ns, [3.0 * n for n in ns]) == pytest.approx(1.0)
    assert bench.fit_exponent(ns, [0.5 * n**2 for n in ns]) == pytest.approx(2.0)
    assert bench.fit_line(ns, [5 + 2.0 * n for n in ns]) == pytest.approx((5.0, 2.0))


def test_peak_memory_is_that_of_the_command():
    grab = "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    _, big = bench.run_measured([sys.executable, "-c", grab])
    _, small = bench.run_measured([sys.executable, "-c", "pass"])
    assert big > 300 > small
    with pytest.raises(RuntimeError, match="exited 3"):
        bench.run_measured([sys.executable, "-c", "raise SystemExit(3)"])
