"""Curate many sessions: a local process pool, or a Dask distributed cluster.

Sessions are independent, so each is one task: align it, then write its report.  A task returns
a small summary dict (never arrays), so results travel cheaply between processes or machines.
Re-running is idempotent: a session whose inputs and options have not changed keeps its
``alignment.json`` (``force=True`` recomputes).
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Any

from capture.errors import BadRequest, CaptureError
from curate.errors import BadInput, CurateError
from curate.pipeline import Options, align_session
from curate.report import write_report
from curate.result import read_alignment
from sublux_common.memory import release_freed_memory, tune_allocator

__all__ = ["curate_in_worker", "curate_one", "run_many"]


def curate_one(
    session: str,
    *,
    options: Options | None = None,
    allow_incomplete: bool = False,
    report: bool = True,
    force: bool = False,
) -> dict:
    """Align one session (and write its report); return a summary, errors included.

    A failure is ``ok: False`` with ``error`` (one line), ``bad_request`` (a sublux bad
    request: the user's to fix), ``bug`` (not a sublux error nor an OSError: ours to fix) and
    ``traceback``.
    """
    try:
        path = align_session(
            session, options=options, allow_incomplete=allow_incomplete, force=force
        )
        a = read_alignment(path.parent)
        html = str(write_report(path.parent, session=session)) if report else None
        return {
            "session": session,
            "ok": True,
            "alignment": str(path),
            "report": html,
            "pairs": len(a.pairs),
            "rejected": len(a.rejected),
            "dropped": len(a.dropped),
            "warnings": a.warnings,
        }
    except Exception as exc:  # reported per session; one bad session must not stop the rest
        return {
            "session": session,
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            # sublux's bad requests only: a builtin exception is a bug, never the user's
            "bad_request": isinstance(exc, (BadInput, BadRequest)),
            "bug": not isinstance(exc, (CurateError, CaptureError, OSError)),
            "traceback": traceback.format_exc(),
        }
    finally:
        release_freed_memory()


def curate_in_worker(session: str, **kwargs: Any) -> dict:
    """:func:`curate_one` in a worker process (the local pool's, a Dask worker's): the worker
    first sets the allocator as the ``curate`` command does for itself
    (:func:`~sublux_common.memory.tune_allocator`, once per process; a ``MALLOC_*``
    variable in the worker's environment leaves it alone)."""
    tune_allocator()
    return curate_one(session, **kwargs)


def _local(sessions: Sequence[str], workers: int, kwargs: dict) -> Iterator[dict]:
    if workers <= 1 or len(sessions) == 1:
        for s in sessions:
            yield curate_one(s, **kwargs)
        return
    # spawn: no forked copies of open files or threads (h5py, BLAS pools) in the workers
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(curate_in_worker, s, **kwargs) for s in sessions]
        for fut in as_completed(futures):
            yield fut.result()


#: How long to wait for a Dask scheduler to answer.
SCHEDULER_TIMEOUT_S = 30


def _client(address: str) -> Any:
    """A ``distributed.Client`` connected to ``address``, or :class:`CurateError` saying
    which address did not answer and what to try."""
    from distributed import Client

    try:
        return Client(address, timeout=f"{SCHEDULER_TIMEOUT_S}s")
    except ValueError as exc:  # an address distributed cannot parse
        raise BadInput(
            f"expected --scheduler tcp://HOST:PORT (as `dask scheduler` prints it), found "
            f"{address!r} ({exc})"
        ) from None
    except OSError as exc:  # a timeout, a refused connection
        raise CurateError(
            f"expected a Dask scheduler answering at {address}, found none within "
            f"{SCHEDULER_TIMEOUT_S} s ({exc}); check the address "
            "(tcp://HOST:PORT, as `dask scheduler` prints it), that the scheduler is running "
            "and reachable from here, or leave out --scheduler to curate on this machine"
        ) from exc


def _dask(sessions: Sequence[str], address: str, kwargs: dict) -> Iterator[dict]:
    from distributed import as_completed as dask_completed

    with _client(address) as client:
        futures = [client.submit(curate_in_worker, s, pure=False, **kwargs) for s in sessions]
        for fut in dask_completed(futures):
            yield fut.result()


def run_many(
    sessions: Sequence[str | os.PathLike],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    options: Options | None = None,
    allow_incomplete: bool = False,
    report: bool = True,
    force: bool = False,
    on_done: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Curate every session; return one summary per session, in input order.

    ``scheduler`` (``tcp://HOST:PORT``) sends the sessions to a Dask distributed cluster whose
    workers see the same paths (a shared file system); otherwise a local process pool of
    ``workers`` processes (default: the CPU count, at most the number of sessions).
    """
    paths = [str(Path(s).resolve()) for s in sessions]
    kwargs = {
        "options": options,
        "allow_incomplete": allow_incomplete,
        "report": report,
        "force": force,
    }
    if scheduler:
        results = _dask(paths, scheduler, kwargs)
    else:
        n = workers or min(len(paths), os.cpu_count() or 1)
        if n > 1:
            # processes share the cores: one decode thread each
            kwargs["options"] = replace(options or Options(), workers=1)
        results = _local(paths, n, kwargs)
    done = {}
    for r in results:
        done[r["session"]] = r
        if on_done:
            on_done(r)
    return [done[p] for p in paths]
