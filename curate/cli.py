"""The ``curate`` command: align captured sessions, draw their reports, run many at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from capture.errors import BadRequest, CaptureError
from curate.errors import BadInput, CurateError
from curate.motion import DEFAULT_THRESHOLD as DEFAULT_MOTION_THRESHOLD
from curate.result import read_alignment, summarize
from sublux_common.cliutil import handle_errors, run_app

app = typer.Typer(
    help="Curate captured sessions into aligned dark/bright pairs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


#: sublux's bad requests exit 2, its other errors and OSError (one line naming the path) 1;
#: a builtin exception is a bug and keeps its traceback (sublux_common/cliutil.py).
_handle = handle_errors(
    bad=(BadInput, BadRequest), fail=(CurateError, CaptureError), console=err, os_errors=True
)


RatioOpt = Annotated[
    float | None,
    typer.Option("--ratio", help="Exposure ratio to use when the files do not record exposure."),
]


def _summary(path: Path) -> None:
    s = summarize(read_alignment(path.parent))
    t = Table(title=f"curation of {s.title}")
    cols = ["pairs", "rejected", "ambiguous", "dropped", "exposure ratio", "max |shift| px"]
    if s.references:
        cols.insert(1, "references")
    for col in cols:
        t.add_column(col)
    if s.exposure_ratio is None:
        ratio = "unknown"
    else:
        low, high = s.exposure_ratio
        ratio = f"{low:g}" if low == high else f"{low:g}-{high:g}"
    row = [
        str(s.pairs),
        str(s.rejected),
        str(s.ambiguous),
        ", ".join(f"{k}: {v}" for k, v in s.dropped.items()) or "0",
        ratio,
        "-" if s.max_shift_px is None else f"{s.max_shift_px:.2f}",
    ]
    if s.references:
        row.insert(1, str(s.references))
    t.add_row(*row)
    out.print(t)
    for w in s.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    out.print(f"alignment: {path}")


def _progress_bar():
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@app.command()
@_handle
def align(
    session: Annotated[Path | None, typer.Argument(help="A captured session.")] = None,
    dark: Annotated[Path | None, typer.Option(help="Folder of dark frames, or a video.")] = None,
    bright: Annotated[Path | None, typer.Option(help="Folder of bright frames.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where results go.")] = None,
    kind: Annotated[str, typer.Option(help="With --dark/--bright: sweep or static.")] = "sweep",
    allow_incomplete: Annotated[bool, typer.Option(help="Curate an unfinished session.")] = False,
    ratio: RatioOpt = None,
    force: Annotated[bool, typer.Option(help="Recompute even if up to date.")] = False,
    motion_threshold: Annotated[
        float,
        typer.Option(
            help="Local motion: sigmas of noise beyond which a region changed (0: no check)."
        ),
    ] = DEFAULT_MOTION_THRESHOLD,
) -> None:
    """Drop bad frames, match dark to bright frames and register each pair."""
    if motion_threshold < 0:
        raise BadRequest(f"expected --motion-threshold >= 0, found {motion_threshold}")
    # imported here: the pipeline (scipy.ndimage, numba) is what `align` needs, not `report`
    from curate.pipeline import Options, align_folders, align_session

    opts = Options(ratio=ratio, motion_threshold=motion_threshold or None)
    with _progress_bar() as bar:
        tasks: dict[str, int] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        if session is not None:
            if dark or bright:
                raise BadRequest("give either SESSION or --dark/--bright, not both")
            path = align_session(
                session,
                out=out_dir,
                options=opts,
                force=force,
                allow_incomplete=allow_incomplete,
                progress=progress,
            )
        else:
            if not (dark and bright and out_dir):
                raise BadRequest(
                    "expected SESSION, or --dark DIR|VIDEO --bright DIR --out DIR for footage "
                    "shot by other means; found neither"
                )
            path = align_folders(
                dark, bright, out=out_dir, kind=kind, options=opts, force=force, progress=progress
            )
    _summary(path)


@app.command()
@_handle
def report(
    target: Annotated[Path, typer.Argument(help="A session, or a curation result folder.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="The result folder.")] = None,
    max_pairs: Annotated[int, typer.Option(help="Pairs in the contact sheet.")] = 12,
) -> None:
    """Write the visual report (self-contained HTML with PNG figures)."""
    from curate.report import write_report

    folder = read_alignment(out_dir or target).path
    session = target if (target / "session.json").exists() else None
    html = write_report(folder, session=session, max_pairs=max_pairs)
    out.print(f"report: {html}")


@app.command()
@_handle
def run(
    sessions: Annotated[list[Path], typer.Argument(help="Captured sessions.")],
    workers: Annotated[int | None, typer.Option(help="Local worker processes.")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler, tcp://HOST:PORT (shared paths).")
    ] = None,
    allow_incomplete: Annotated[bool, typer.Option(help="Curate unfinished sessions.")] = False,
    report_: Annotated[bool, typer.Option("--report/--no-report", help="Write reports.")] = True,
    force: Annotated[bool, typer.Option(help="Recompute even if up to date.")] = False,
) -> None:
    """Curate many sessions in parallel (every step, with reports)."""
    from curate.batch import run_many

    with Progress(
        TextColumn("[bold]curating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as bar:
        task = bar.add_task("sessions", total=len(sessions))
        results = run_many(
            sessions,
            workers=workers,
            scheduler=scheduler,
            allow_incomplete=allow_incomplete,
            report=report_,
            force=force,
            on_done=lambda r: bar.advance(task),
        )
    t = Table(title="curation")
    for col in ("session", "pairs", "rejected", "dropped", "status"):
        t.add_column(col)
    for r in results:
        name = Path(r["session"]).name
        if r["ok"]:
            t.add_row(name, str(r["pairs"]), str(r["rejected"]), str(r["dropped"]), "ok")
        else:
            t.add_row(name, "-", "-", "-", "[red]failed[/]")
    out.print(t)
    for r in results:
        if r["ok"]:
            out.print(
                f"{r['session']}: {r['report'] or r['alignment']}", highlight=False, soft_wrap=True
            )
        else:
            err.print(f"[red]{r['session']}:[/] {r['error']}", highlight=False, soft_wrap=True)
            if r.get("bug"):  # not sublux's error: a bug, shown with its traceback
                err.print(r["traceback"], highlight=False, markup=False, soft_wrap=True)
    failed = [r for r in results if not r["ok"]]
    if failed:
        raise typer.Exit(2 if all(r["bad_request"] for r in failed) else 1)


def _review_target(arg: Path, out_dir: Path | None):
    from curate.result import ALIGNMENT_FILE, result_dir
    from curate.review_server import Target

    if (arg / ALIGNMENT_FILE).is_file():  # a result folder (folder mode's --out)
        return Target(label=str(arg), result=arg, session=None)
    folder = result_dir(arg, out_dir)
    if not (folder / ALIGNMENT_FILE).is_file():
        raise BadInput(
            f"expected a curation of {arg} ({folder / ALIGNMENT_FILE}), found none; run "
            f"`curate align {arg}` first (for footage curated with --out, give that folder)"
        )
    session = arg if (arg / "session.json").is_file() else None
    return Target(label=str(arg), result=folder, session=session)


@app.command()
@_handle
def review(
    sessions: Annotated[
        list[Path], typer.Argument(help="Curated sessions, or folder-mode result folders.")
    ],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="The result folder of one session.")
    ] = None,
    reject: Annotated[
        str | None, typer.Option(help="Reject this frame (PASS/NAME or NAME).")
    ] = None,
    restore: Annotated[str | None, typer.Option(help="Restore this frame or pair.")] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded with the decision).")] = "",
    browser: Annotated[bool, typer.Option(help="Open the page in a browser.")] = True,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free one).")] = 0,
) -> None:
    """Reject or restore frames: a local page, or --reject/--restore for scripts.

    Decisions go to RESULT/review.jsonl and apply at the next `curate align` or `curate run`.
    """
    from curate import review as reviewmod

    targets = [_review_target(s, out_dir) for s in sessions]
    if reject is not None or restore is not None:
        if len(targets) != 1 or (reject is not None and restore is not None):
            raise BadRequest(
                "expected one SESSION and one of --reject FILE or --restore FILE, found "
                f"{len(targets)} session(s), --reject {reject!r}, --restore {restore!r}"
            )
        if reject is not None and not reason.strip():
            raise BadRequest("expected --reason TEXT with --reject (why the frame is rejected)")
        t = targets[0]
        al = read_alignment(t.result)
        file = reviewmod.resolve_file(al, reject if reject is not None else restore)
        decision = "reject" if reject is not None else "restore"
        d = reviewmod.append(t.result, file, decision, reason)
        out.print(
            f"{decision}: {file} ({d.reason or 'no reason given'}), line {d.line} of "
            f"{t.result / reviewmod.REVIEW_FILE}; re-run `curate align` to apply it",
            highlight=False,
            soft_wrap=True,
        )
        return
    from curate.review_server import ReviewServer

    server = ReviewServer(targets, port=port)
    out.print(f"review page: {server.url}  (Ctrl-C to stop)", highlight=False, soft_wrap=True)
    if browser:
        import webbrowser

        try:
            webbrowser.get().open(server.url)
        except webbrowser.Error:
            err.print("no browser found: open the address above in one", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


def main() -> None:
    run_app(app)
