"""The import benchmark run small, so that the code `scripts/bench import` runs has run before
(its figures here mean nothing for the targets; only their shape and the pair count are checked)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).parents[2] / "scripts" / "bench_import.py"


def _bench():
    sys.path.insert(0, str(_PATH.parent))  # the bench imports its sibling helpers
    try:
        spec = importlib.util.spec_from_file_location("bench_import", _PATH)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(_PATH.parent))


def test_quick_import_bench_reports_ratio_and_the_video_paths_pairs(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBLUX_SALT", "bench")
    res = _bench().run(quick=True, tmp=str(tmp_path))
    raw = res["import_raw"]
    assert raw["copy_s"] > 0 and raw["import_s"] > 0
    assert raw["ratio_import_over_copy"] > 0
    assert [t["name"] for t in raw["targets"]] == ["import / safe copy"]
    video = res["video_path"]
    # 12 bright frames of the simulated turntable video, each paired with a dark frame
    assert video["pairs"] == 12 and video["patch_pairs"] > 0 and video["pairs_per_s"] > 0
