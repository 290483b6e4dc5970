"""sublux benchmarks: speed as ratios against a reference timed in the same run.

capture
    * the capture loop's per-frame overhead on the simulated camera: ``run_passes`` writing a
      journalled session against the same camera's bare ``shoot(n)`` producing the bytes;
    * the capture rate over libgphoto2's virtual camera against a bare python-gphoto2
      capture-and-download loop (``scripts/bench_vcamera.py``, each run in a fresh process).
curate
    ``scripts/bench_curate.py``: accuracy against simulated truth, bad frames, and curation time
    against bare raw decoding and against the seed method.
dataset
    ``scripts/bench_dataset.py``: HDF5 codecs (ratio and speed), packaging, random crops.
import
    ``scripts/bench_import.py``: ``capture import`` against a safe copy of the same bytes, and
    the seed's video path (import, curate, publish, patches) in pairs per second.
scale
    ``scripts/bench_scale.py``: capture, curate, publish and verify N = 2, 4, 8, 16 sessions
    as commands; seconds per frame, peak memory and the growth exponent of each stage
    (``--big`` adds two sessions at 20 MP).
baseline
    ``scripts/bench_baseline.py``, with CUDA only: training throughput, data-wait fraction,
    peak memory and the extrapolated time to validate a DRV-sized release (absolute figures).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sim_rig(size, shutter_count=0):
    from capture.sim.rig import SimRig, SimSettings

    return SimRig(SimSettings(size=size, seed=7), fps=1e9, shutter_count=shutter_count)


def bench_capture_overhead(size=(1024, 1536), frames=20, repeats=3) -> dict:
    from capture.protocols import Exposure
    from capture.sim.rig import static_plan

    bare, loop = [], []
    for r in range(repeats):
        with _sim_rig(size, shutter_count=r * frames) as rig:
            rig.camera.apply(Exposure(iso=2000, shutter="1/30"))
            t0 = time.perf_counter()
            total = sum(len(s.data) for s in rig.camera.shoot(frames))
            bare.append(time.perf_counter() - t0)
        with (
            tempfile.TemporaryDirectory(dir=ROOT) as tmp,
            _sim_rig(size, shutter_count=r * frames) as rig,
        ):
            w = rig.create(
                Path(tmp) / "s",
                scene="bench",
                kind="static",
                plan=static_plan(frames=frames, refs=0),
            )
            rig.callback(w.close)
            t0 = time.perf_counter()
            rig.run(w, command="bench")
            loop.append(time.perf_counter() - t0)
    b, l_ = statistics.median(bare), statistics.median(loop)
    return {
        "sensor": f"{size[0]}x{size[1]}",
        "frames": frames,
        "frame_mb": round(total / frames / 1e6, 2),
        "bare_shoot_ms_per_frame": round(1e3 * b / frames, 2),
        "capture_loop_ms_per_frame": round(1e3 * l_ / frames, 2),
        "overhead_ms_per_frame": round(1e3 * (l_ - b) / frames, 2),
        "ratio_loop_over_bare": round(l_ / b, 3),
    }


def bench_vcamera(quick: bool) -> dict:
    args = [sys.executable, str(ROOT / "scripts" / "bench_vcamera.py")]
    if quick:
        args += ["--repeats", "2"]
    r = subprocess.run(
        args, capture_output=True, text=True, timeout=600, cwd=ROOT, env=dict(os.environ)
    )
    if r.returncode != 0:
        return {"error": r.stderr.strip()[-500:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "sections",
        nargs="*",
        default=["capture", "curate", "dataset", "import"],
        help="capture, curate, dataset, import, scale, baseline (default: all but scale, a few "
        "minutes on its own, and baseline, which needs CUDA)",
    )
    ap.add_argument("--quick", action="store_true", help="fewer repeats, smaller frames")
    ap.add_argument("--big", action="store_true", help="scale: also two sessions at 20 MP")
    a = ap.parse_args()
    known = {"capture", "curate", "dataset", "import", "scale", "baseline"}
    unknown = set(a.sections) - known
    if unknown:
        ap.error(f"unknown section(s) {sorted(unknown)}; choose from {sorted(known)}")
    sys.path.insert(0, str(Path(__file__).parent))
    results = {}
    if "capture" in a.sections:
        size = (512, 768) if a.quick else (1024, 1536)
        results["capture_sim_overhead"] = bench_capture_overhead(size=size)
        results["capture_vcamera"] = bench_vcamera(a.quick)
    if "curate" in a.sections:
        import bench_curate

        results["curate"] = bench_curate.run(quick=a.quick)
    if "dataset" in a.sections:
        import bench_dataset

        results["dataset"] = bench_dataset.run(quick=a.quick)
    if "import" in a.sections:
        import bench_import

        results["import"] = bench_import.run(quick=a.quick)
    if "scale" in a.sections:
        import bench_scale

        results["scale"] = bench_scale.run(quick=a.quick, big=a.big)
    if "baseline" in a.sections:
        sys.path.insert(0, str(ROOT))
        import bench_baseline

        results["baseline"] = bench_baseline.run(quick=a.quick)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
