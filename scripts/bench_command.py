"""Whole-command timings for ``scripts/bench curate``: curation as a user runs it.

The in-process speed section times ``align_session`` in a warm interpreter.  A user runs
``curate align SESSION``: a fresh process that imports the package, reads, hashes and decodes
every frame (while a thread of its own imports scipy and numba and loads the cached kernels),
then matches, registers and writes.  Each figure here is a fresh process, timed from outside,
``repeats`` times, as medians of wall time and of CPU time (user + system of the child, from
``getrusage(RUSAGE_CHILDREN)``: on a loaded machine wall time measures the load as much as the
work, CPU time much less so; the 1-minute load average is reported beside them):

* ``curate align`` (``--force``, the kernels' numba cache warm);
* the floor of that work as a process: python, numpy and rawpy imported, every file read
  once, sha256'd and decoded, on the same number of threads as the command (``workers``), and
  on one thread (the one-core floor: what one core does without any parallelism).  The
  targets are against this plain loop, as the issue that set them measured it.  The command
  also sets glibc's allocator to keep big blocks for reuse
  (:func:`sublux_common.memory.tune_allocator`), which spares the kernel's page faults on
  every 20 MP buffer and makes the loop itself a third faster; ``floor_same_allocator`` is
  the loop with that setting too, and ``ratio_command_over_floor_same_allocator_*`` what
  the command costs over it: nearly all of it the command's fixed start-up (the ``startup``
  split below), not its work per frame;
* the seeds' method (``bench_curate.seed_method``) as a process.  Its process also imports
  this benchmark's helpers (the sublux capture package, about 0.3 s), which favours us by
  at most that much; ``seed_method_in_process_s`` is its own time, without any start-up;
* the start-up split: a bare python, the floor's imports, the command's imports, and the
  preload (scipy, numba's registries and a cached kernel) that the command overlaps with
  decoding;
* ``curate align`` with an empty numba cache (``NUMBA_CACHE_DIR`` a new folder): what the
  first run after a fresh install costs when nothing compiled the kernels before.

Import this file by path (``scripts/`` is not a package).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

_FLOOR = r"""
import hashlib, io, sys
from concurrent.futures import ThreadPoolExecutor
import numpy as np
import rawpy

def one(p):
    data = open(p, "rb").read()
    hashlib.sha256(data).hexdigest()
    with rawpy.imread(io.BytesIO(data)) as raw:
        return int(np.array(raw.raw_image_visible, copy=True).shape[0])

files = sys.argv[2:]
with ThreadPoolExecutor(max_workers=int(sys.argv[1])) as pool:
    list(pool.map(one, files))
"""

#: the floor under the command's allocator settings (a few ms to import)
_SAME_ALLOCATOR = "from sublux_common.memory import tune_allocator\ntune_allocator()\n"

_SEED = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import bench_curate
out = bench_curate.seed_method(__import__("pathlib").Path(sys.argv[2]))
print(json.dumps({"total_s": out["total_s"], "pairs": len(out["pairs"])}))
"""

#: the command's start-up work that it overlaps with decoding (curate.pipeline._preload)
_PRELOAD = "import curate.pipeline as p; p._preload()"


def _env(*, curate_env: bool = True, **extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if curate_env:
        # what the installed `curate` command sets for itself; the floor does no matrix
        # products, so it runs the same with it or without
        from curate.env import set_curate_env

        set_curate_env(env)
    env.update(extra)
    return env


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: Sequence[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run ``cmd`` to its end: ``(wall s, CPU s (user + system of the child), stdout)``.

    CPU time is the growth of ``RUSAGE_CHILDREN`` across the run, so call it from one thread
    with no other child process running.
    """
    cpu0 = _child_cpu()
    t0 = time.perf_counter()
    run = subprocess.run(list(cmd), capture_output=True, text=True, env=env or _env())
    spent = time.perf_counter() - t0
    cpu = _child_cpu() - cpu0
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {run.returncode}: {run.stderr[-2000:]}")
    return spent, cpu, run.stdout


def summarise_runs(runs: Sequence[tuple[float, float]]) -> dict:
    """Medians (and the best wall) of ``(wall, cpu)`` runs, rounded to milliseconds."""
    walls = [w for w, _ in runs]
    cpus = [c for _, c in runs]
    return {
        "wall_s": round(statistics.median(walls), 3),
        "cpu_s": round(statistics.median(cpus), 3),
        "best_wall_s": round(min(walls), 3),
        "runs": len(runs),
    }


def ratio(a: dict, b: dict, key: str) -> float | None:
    """``a[key] / b[key]`` rounded to 3 places, None when ``b[key]`` is not positive."""
    return round(a[key] / b[key], 3) if b[key] > 0 else None


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def whole_commands(session: Path, files: Sequence[Path], *, workers: int, repeats: int = 5) -> dict:
    """Time ``curate align SESSION`` and its references as fresh processes (medians of
    ``repeats``, the command and the floors interleaved so that a change of load hits them
    alike); returns seconds, CPU seconds and ratios."""
    py = sys.executable
    load_before = _load()
    with tempfile.TemporaryDirectory(prefix="sublux-cmd-") as tmp:
        out = Path(tmp) / "curation"
        align = [py, "-m", "curate", "align", str(session), "--force", "--out", str(out)]
        timed(align)  # the kernels' numba cache written once (a no-op if it is already there)
        paths = list(map(str, files))
        cmds = {
            "align": align,
            "floor": [py, "-c", _FLOOR, str(workers), *paths],
            "floor_1_thread": [py, "-c", _FLOOR, "1", *paths],
            "floor_same_allocator": [py, "-c", _SAME_ALLOCATOR + _FLOOR, str(workers), *paths],
        }
        runs: dict[str, list] = {k: [] for k in cmds}
        for _ in range(repeats):
            for name, cmd in cmds.items():
                runs[name].append(timed(cmd)[:2])
        seed_runs, seed_inner = [], []
        for _ in range(max(1, min(2, repeats))):  # minutes each: at most two
            # the seeds' method in the environment it was given (OpenBLAS's threads its own)
            w, c, text = timed([py, "-c", _SEED, str(HERE), str(session)], _env(curate_env=False))
            seed_runs.append((w, c))
            seed_inner.append(json.loads(text.strip().splitlines()[-1])["total_s"])
        cold_env = _env(NUMBA_CACHE_DIR=str(Path(tmp) / "numba-cold"))
        cold = timed(align, cold_env)
        startup_cmds = {
            "python": [py, "-c", "pass"],
            "import_numpy_rawpy": [py, "-c", "import numpy, rawpy"],
            "import_curate_cli_pipeline": [py, "-c", "import curate.cli, curate.pipeline"],
            "import_and_preload": [py, "-c", _PRELOAD],
        }
        startup = {
            name: summarise_runs([timed(cmd)[:2] for _ in range(repeats)])
            for name, cmd in startup_cmds.items()
        }
    s = {k: summarise_runs(v) for k, v in runs.items()}
    seed = summarise_runs(seed_runs)
    a, f, f1, fa = s["align"], s["floor"], s["floor_1_thread"], s["floor_same_allocator"]
    return {
        "workers": workers,
        "cores_used": (
            f"the command decodes on {workers} worker threads (plus one that imports scipy and "
            f"numba meanwhile); 'floor' decodes on {workers} threads too, 'floor_1_thread' on "
            "one: compare like with like (wall against 'floor'), and CPU seconds for the work "
            "done whatever the cores"
        ),
        "load_1min": {"before": load_before, "after": _load()},
        "curate_align": a,
        "floor_read_sha256_decode": f,
        "floor_read_sha256_decode_1_thread": f1,
        "floor_same_allocator": fa,
        "seed_method": seed,
        "seed_method_in_process_s": round(statistics.median(seed_inner), 3),
        "curate_align_first_run_s": round(cold[0], 3),
        "first_run_compile_s": round(cold[0] - a["wall_s"], 3),
        "startup": startup,
        "startup_cpu_over_floor_s": round(
            startup["import_and_preload"]["cpu_s"] - startup["import_numpy_rawpy"]["cpu_s"], 3
        ),
        "ratio_command_over_floor_wall": ratio(a, f, "wall_s"),
        "ratio_command_over_floor_cpu": ratio(a, f, "cpu_s"),
        "ratio_command_over_floor_1_thread_wall": ratio(a, f1, "wall_s"),
        "ratio_command_over_floor_same_allocator_wall": ratio(a, fa, "wall_s"),
        "ratio_command_over_floor_same_allocator_cpu": ratio(a, fa, "cpu_s"),
        "command_over_floor_same_allocator_s": round(a["wall_s"] - fa["wall_s"], 3),
        "ratio_seed_command_over_command_wall": ratio(seed, a, "wall_s"),
        "ratio_seed_command_over_command_cpu": ratio(seed, a, "cpu_s"),
        # the names the targets were first reported under (wall time, like the above)
        "ratio_command_over_read_hash_decode_command": ratio(a, f, "wall_s"),
        "ratio_seed_command_over_command": ratio(seed, a, "wall_s"),
    }
