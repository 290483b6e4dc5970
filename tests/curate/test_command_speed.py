"""What makes `curate align` fast as a command, without changing what it computes: one pool of
worker threads for every pass (at most ``workers`` raw files in memory), registrations on
those threads, scipy and numba loaded on a thread of their own while frames decode, and
OpenBLAS's own threads off in the command.  The results are the same, byte for byte, for any
number of workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from curate import pipeline
from curate.pipeline import Options, align_session
from tests.curate._sessions import static_session, sweep_session


def _normalised(out) -> str:
    """alignment.json with what legitimately differs between two runs taken out: the time it
    was written, and the worker count (an option recorded, and so part of the input digest)."""
    data = json.loads((out / "alignment.json").read_text())
    data.pop("created", None)
    data["options"].pop("workers")
    data["source"].pop("input_sha256")
    return json.dumps(data, indent=2, sort_keys=True)


@pytest.mark.parametrize("kind", ["static", "sweep"])
def test_alignment_is_byte_identical_for_any_number_of_workers(tmp_path, kind):
    if kind == "static":
        s = static_session(tmp_path / "s", size=(128, 192), frames=9, refs=3, offset=(1.3, -0.7))
    else:
        s = sweep_session(tmp_path / "s", size=(128, 192), steps=4, dark_frames=13)
    outs = []
    for workers in (1, 2, 5):
        out = tmp_path / f"out-{workers}"
        align_session(s, out=out, options=Options(workers=workers), force=True)
        outs.append(out)
    first = _normalised(outs[0])
    assert json.loads(first)["pairs"], "a session that pairs frames"
    for out in outs[1:]:
        assert _normalised(out) == first
        assert (out / "correlation.npy").read_bytes() == (outs[0] / "correlation.npy").read_bytes()


def test_decoding_holds_at_most_workers_frames_at_once(tmp_path, monkeypatch):
    s = static_session(tmp_path / "s", size=(96, 128), frames=10, refs=2)
    inside, peak, lock = 0, 0, threading.Lock()
    real = pipeline._load_raw

    def counting(f, opts):
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        try:
            real(f, opts)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(pipeline, "_load_raw", counting)
    steps: dict[str, tuple[int, int]] = {}
    align_session(
        s,
        out=tmp_path / "out",
        options=Options(workers=2),
        force=True,
        progress=lambda step, done, total: steps.__setitem__(step, (done, total)),
    )
    assert 1 <= peak <= 2
    # one pool for both passes, and still a counted step for each
    assert steps["decode dark"] == (10, 10)
    assert steps["decode bright"] == (2, 2)


def _python(code: str, env: dict | None = None) -> str:
    """The standard output of ``code`` run in a fresh interpreter (which must succeed)."""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_importing_the_command_and_pipeline_leaves_scipy_and_numba_for_later():
    code = (
        "import sys, curate.cli, curate.pipeline; "
        "print(sorted(m for m in ('scipy', 'numba', 'scipy.ndimage', 'scipy.fft') "
        "if m in sys.modules))"
    )
    assert _python(code).strip() == "[]"


def test_preload_loads_what_registration_needs():
    code = (
        "import sys, curate.pipeline as p; p._preload(); "
        "print(all(m in sys.modules for m in ('scipy.ndimage', 'scipy.fft', 'numba', "
        "'curate._kernels', 'curate.registration')))"
    )
    assert _python(code).strip() == "True"


@pytest.mark.parametrize("preset", [None, "3"])
def test_the_curate_command_turns_openblas_threads_off_unless_told(monkeypatch, preset):
    from sublux import cli

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "0")  # restored (or removed) after the test
    if preset is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", preset)
    with pytest.raises(SystemExit) as exc:
        cli.curate(["--help"], prog_name="curate")
    assert exc.value.code == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == (preset or "1")


def test_python_m_curate_turns_openblas_threads_off_before_numpy_loads():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    code = (
        "import os, runpy, sys; sys.argv = ['curate', '--help']\n"
        "try:\n    runpy.run_module('curate', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('BLAS', os.environ.get('OPENBLAS_NUM_THREADS'))"
    )
    assert "BLAS 1" in _python(code, env=env)


def test_each_session_of_a_batch_hands_its_freed_memory_back(tmp_path, monkeypatch):
    from curate import batch

    calls = []
    monkeypatch.setattr(batch, "release_freed_memory", lambda: calls.append(1) or True)
    s = static_session(tmp_path / "s", size=(96, 128), frames=6)
    ok = batch.curate_one(str(s), report=False)
    bad = batch.curate_one(str(tmp_path / "missing"), report=False)
    assert ok["ok"] and not bad["ok"]
    assert calls == [1, 1]  # after a failed session too


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_freed_memory_reaches_glibc_on_linux():
    from sublux_common.memory import release_freed_memory

    assert release_freed_memory() is True


def test_curate_runs_workers_set_the_allocator_as_the_command_does(monkeypatch):
    # `curate run` curates in worker processes (a local pool, Dask workers) that do not start
    # through the command's run_app: each worker sets the allocator itself, once
    from curate import batch

    tuned, curated = [], []
    monkeypatch.setattr(batch, "tune_allocator", lambda: tuned.append(1) or {})
    monkeypatch.setattr(batch, "curate_one", lambda s, **kw: curated.append(s) or {"session": s})
    submitted = []

    class Inline:  # a pool or a Dask client that runs what it is given at once
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, fn, *args, pure=None, **kwargs):
            import concurrent.futures

            submitted.append(fn)
            fut = concurrent.futures.Future()
            fut.set_result(fn(*args, **kwargs))
            return fut

    monkeypatch.setattr(batch, "ProcessPoolExecutor", Inline)
    # results come as they complete: any order
    assert sorted(r["session"] for r in batch._local(["a", "b"], 2, {})) == ["a", "b"]
    monkeypatch.setattr(batch, "_client", lambda address: Inline())
    import distributed

    monkeypatch.setattr(distributed, "as_completed", lambda futures: iter(futures))
    assert [r["session"] for r in batch._dask(["c"], "tcp://x:1", {})] == ["c"]
    assert submitted == [batch.curate_in_worker] * 3
    assert curated == ["a", "b", "c"] and tuned == [1, 1, 1]
