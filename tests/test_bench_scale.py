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


@pytest.mark.slow
def test_one_n_of_two_sessions_runs_the_chain_and_reports_per_frame_figures(tmp_path):
    """`--big` runs one N (two sessions at 20 MP): the whole chain as commands, per-frame time
    and peak memory, and no growth fit (one point has none)."""
    out = bench.scale(tmp_path, ns=(2,), size=(64, 96))
    (row,) = out["rows"]
    assert row["n"] == 2 and row["frames"] > 40
    assert all(row["seconds"][st] > 0 and row["peak_rss_mb"][st] > 0 for st in out["ms_per_frame"])
    assert set(out["ms_per_frame"]) == {"capture", "curate", "publish", "verify"}
    assert "growth_exponent" not in out and "targets" not in out
