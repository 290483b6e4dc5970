"""The GPU benchmark's measurement and extrapolation, run small on the CPU so that the code a
GPU session will run has run before (its figures here mean nothing for the targets)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).parents[2] / "scripts" / "bench_baseline.py"
_spec = importlib.util.spec_from_file_location("bench_baseline", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_measure_trains_full_batches_and_extrapolates_every_part():
    res = bench.measure(
        size=(96, 128), crop=16, epochs=2, batch=8, device="cpu", workers=0, threads=1
    )
    assert res["batch"] == 8, "enough train sequences for the batch asked for"
    assert res["steps"] >= 2 and res["images_per_s"] > 0
    parts = res["drv_minutes"]
    assert (
        parts["train"] > 0 and parts["val_during_training"] > 0 and parts["final_val_and_test"] > 0
    )
    assert abs(sum(v for k, v in parts.items() if k != "total") - parts["total"]) < 0.2
    assert [t["name"] for t in res["targets"]] == [
        "data wait fraction of step time",
        "DRV-sized validation, minutes (extrapolated)",
    ]
    assert all(t["met"] in (True, False) for t in res["targets"])
