"""Whole-command timings for ``scripts/bench curate``: curation as a user runs it.

The in-process speed section times ``align_session`` in a warm interpreter.  A user runs
``curate align SESSION``: a fresh process that imports the package (numpy, scipy.ndimage,
numba and its cached kernels, rawpy), reads, hashes and decodes every frame, then matches,
registers and writes.  Each figure here is a fresh process, timed from outside:

* ``curate align`` (``--force``, the kernels' numba cache warm);
* the floor of that work as a process: python, numpy and rawpy imported, every file read
  once, sha256'd and decoded on the same number of threads;
* the seeds' method (``bench_curate.seed_method``) as a process.  Its process also imports
  this benchmark's helpers (the sublux capture package, about 0.3 s), which favours us by
  at most that much; ``seed_method_in_process_s`` is its own time, without any start-up;
* ``curate align`` with an empty numba cache (``NUMBA_CACHE_DIR`` a new folder): what the
  first run after a fresh install costs when nothing compiled the kernels before.

Import this file by path (``scripts/`` is not a package).
"""

from __future__ import annotations

import json
import os
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

_SEED = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import bench_curate
out = bench_curate.seed_method(__import__("pathlib").Path(sys.argv[2]))
print(json.dumps({"total_s": out["total_s"], "pairs": len(out["pairs"])}))
"""


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _timed(cmd: Sequence[str], env: dict | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    run = subprocess.run(list(cmd), capture_output=True, text=True, env=env or _env())
    spent = time.perf_counter() - t0
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {run.returncode}: {run.stderr[-2000:]}")
    return spent, run.stdout


def whole_commands(session: Path, files: Sequence[Path], *, workers: int, repeats: int = 2) -> dict:
    """Time ``curate align SESSION`` and its references as fresh processes (best of
    ``repeats``); returns seconds and ratios."""
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="sublux-cmd-") as tmp:
        out = Path(tmp) / "curation"
        align = [py, "-m", "curate", "align", str(session), "--force", "--out", str(out)]
        _timed(align)  # the kernels' numba cache written once (a no-op if it is already there)
        align_s = min(_timed(align)[0] for _ in range(repeats))
        floor = [py, "-c", _FLOOR, str(workers), *map(str, files)]
        floor_s = min(_timed(floor)[0] for _ in range(repeats))
        seed_s, seed_out = _timed([py, "-c", _SEED, str(HERE), str(session)])
        seed_inner = json.loads(seed_out.strip().splitlines()[-1])["total_s"]
        cold_env = _env(NUMBA_CACHE_DIR=str(Path(tmp) / "numba-cold"))
        cold_s = _timed(align, cold_env)[0]
        import_s = min(_timed([py, "-c", "import curate.cli"])[0] for _ in range(repeats))
        bare_s = min(_timed([py, "-c", "pass"])[0] for _ in range(repeats))
    return {
        "curate_align_command_s": round(align_s, 3),
        "read_sha256_decode_command_s": round(floor_s, 3),
        "seed_method_command_s": round(seed_s, 3),
        "seed_method_in_process_s": round(seed_inner, 3),
        "curate_align_first_run_s": round(cold_s, 3),
        "first_run_compile_s": round(cold_s - align_s, 3),
        "import_curate_cli_s": round(import_s, 3),
        "python_start_s": round(bare_s, 3),
        "ratio_command_over_read_hash_decode_command": round(align_s / floor_s, 3),
        "ratio_seed_command_over_command": round(seed_s / align_s, 2),
    }
