"""The ``dataset`` command: build, publish, verify, describe and export releases."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from capture.errors import BadRequest, CaptureError
from curate.errors import BadInput, CurateError
from dataset_card.errors import BadRelease, DamagedRelease, DatasetError
from sublux_common.cliutil import handle_errors, run_app
from sublux_common.progress import OnProgress

if TYPE_CHECKING:
    from dataset_card.manifest import Manifest

app = typer.Typer(
    help="Package curated sessions into versioned, verifiable releases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


#: The ``dataset`` command's error handling: sublux's bad requests exit 2, its other errors
#: and OSError (one line naming the path) 1; a builtin exception is a bug and keeps its
#: traceback (sublux_common/cliutil.py).  A damaged release is a failure (exit 1) although
#: it is a :class:`BadRelease` for library callers: the most specific listed class decides.
BAD_REQUESTS = (BadRelease, BadInput, BadRequest)
FAILURES = (DamagedRelease, DatasetError, CurateError, CaptureError)
handle = handle_errors(bad=BAD_REQUESTS, fail=FAILURES, console=err, os_errors=True)


def _stoppable(fn):
    """SIGTERM/SIGHUP during a build or publish: the partial folder is already removed when
    :class:`~dataset_card.publish.Terminated` gets here; say so and exit 128 + the signal."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from dataset_card.publish import Terminated

        try:
            return fn(*args, **kwargs)
        except Terminated as exc:
            err.print(f"[bold red]stopped:[/] {exc}; the partial output was removed")
            raise typer.Exit(128 + exc.signum) from None
        except KeyboardInterrupt:
            err.print("[bold red]stopped:[/] Ctrl-C (SIGINT); the partial output was removed")
            raise typer.Exit(130) from None

    return wrapper


def _say(line: str) -> None:
    err.print(line, highlight=False, soft_wrap=True)


def _size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", text.lower())
    if not m:
        raise BadRelease(f"expected a size such as 4GB or 500MB, found {text!r}")
    return int(float(m.group(1)) * 1000 ** " kmgt".index(m.group(2) or " "))


def _creator(text: str) -> dict:
    m = re.fullmatch(r"\s*(.+?)\s*(?:<([^>]+)>)?\s*", text)
    if m is None:
        raise BadRelease(f"expected --creator 'Name <email or url>', found {text!r}")
    name, contact = m.group(1), m.group(2)
    c = {"name": name}
    if contact:
        c["url" if contact.startswith("http") else "email"] = contact
    return c


def _bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


def _progress(bar: Progress) -> OnProgress:
    """One Rich task per step named in the calls (``package``, ``hashing``, ``checksums``...)."""
    tasks: dict[str, int] = {}

    def progress(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = bar.add_task(step, total=total)
        bar.update(tasks[step], completed=done, total=total)

    return progress


SeedOpt = Annotated[int, typer.Option(help="Seed of the split assignment.")]
FracOpt = Annotated[str, typer.Option(help="Train/val/test shares.")]
CodecOpt = Annotated[
    str,
    typer.Option(
        help="HDF5 compression: blosc-zstd (default; readers need hdf5plugin), gzip-shuffle "
        "(alias gzip; h5py alone reads it, slower), none, or bitshuffle-lz4 (hdf5plugin). "
        "Figures in the README.  publish --from: the staging folder's unless given."
    ),
]
ListsOpt = Annotated[
    Path | None, typer.Option(help="Folder with train_list.txt, val_list.txt, test_list.txt.")
]


@app.command()
@_stoppable
@handle
def build(
    sessions: Annotated[list[Path], typer.Argument(help="Curated sessions.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Staging folder (new).")],
    seed: SeedOpt = 0,
    fractions: FracOpt = "64/12/24",
    split_lists: ListsOpt = None,
    shard_size: Annotated[str, typer.Option(help="Shard HDF5 files above this size.")] = "4GB",
    codec: CodecOpt = "blosc-zstd",
) -> None:
    """Build the HDF5 splits into a staging folder, to inspect before publishing."""
    from dataset_card.build import build as build_data
    from dataset_card.build import plan_sessions
    from dataset_card.publish import partial_folder
    from dataset_card.schema import canonical_codec
    from dataset_card.splits import parse_fractions
    from dataset_card.staging import Staging, write_staging
    from sublux_common import __version__

    if out_dir.exists():
        raise BadRelease(f"{out_dir} already exists; choose a new staging folder")
    canonical_codec(codec)
    plans = plan_sessions(
        sessions, seed=seed, fractions=parse_fractions(fractions), split_lists=split_lists
    )
    with partial_folder(out_dir, say=_say) as tmp, _bar() as bar:
        result = build_data(
            plans,
            tmp,
            name="staging",
            version="0.0.0",
            created="",
            tool_version=__version__,
            codec=canonical_codec(codec),
            shard_bytes=_size(shard_size),
            progress=_progress(bar),
        )
        staged = Staging.of(
            plans,
            seed=seed,
            fractions=fractions,
            split_lists=split_lists,
            codec=canonical_codec(codec),
        )
        write_staging(tmp, staged)
    t = Table(title=f"staged in {out_dir}")
    for col in ("split", "sessions", "scenes", "files"):
        t.add_column(col)
    for split, files in result.files.items():
        members = [p for p in plans if p.split == split]
        t.add_row(
            split,
            str(len(members)),
            str(len({p.scene for p in members})),
            ", ".join(f.name for f in files),
        )
    out.print(t)


@app.command()
@_stoppable
@handle
def publish(
    sessions: Annotated[list[Path] | None, typer.Argument(help="Curated sessions.")] = None,
    name: Annotated[str, typer.Option(help="Dataset name.")] = "",
    version: Annotated[str, typer.Option(help="Semantic version X.Y.Z.")] = "",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Release folder (new).")] = None,
    staging: Annotated[Path | None, typer.Option("--from", help="A staging folder.")] = None,
    previous: Annotated[Path | None, typer.Option(help="The release before this one.")] = None,
    url: Annotated[str, typer.Option(help="Homepage or repository of the dataset.")] = "",
    creator: Annotated[list[str] | None, typer.Option(help="'Name <email or url>'.")] = None,
    license_: Annotated[str, typer.Option("--license", help="SPDX-style licence.")] = "cc-by-4.0",
    description: Annotated[str, typer.Option(help="One paragraph about the dataset.")] = "",
    citation: Annotated[str, typer.Option(help="BibTeX to cite.")] = "",
    seed: SeedOpt = 0,
    fractions: FracOpt = "64/12/24",
    split_lists: ListsOpt = None,
    shard_size: Annotated[str, typer.Option(help="Shard HDF5 files above this size.")] = "4GB",
    push_to: Annotated[str | None, typer.Option("--push", help="hf://ORG/NAME")] = None,
    dry_run: Annotated[bool, typer.Option(help="With --push: say what would be sent.")] = False,
    codec: CodecOpt = "",
) -> None:
    """Build, describe, validate and freeze a release (and optionally push it)."""
    from dataset_card.publish import ReleaseMeta, push
    from dataset_card.publish import publish as do_publish
    from dataset_card.schema import DEFAULT_CODEC
    from dataset_card.splits import parse_fractions
    from dataset_card.staging import read_staging

    if not (name and version and out_dir):
        raise BadRelease("expected --name, --version and --out")
    if staging is not None:
        if sessions or split_lists:
            raise BadRelease(
                "give either SESSION... (with --split-lists) or --from STAGING, not both; a "
                "staging folder publishes the sessions and splits it was built with"
            )
        st = read_staging(staging)
        sessions = st.session_paths()
        seed, fractions = st.seed, st.fractions
        codec = codec or st.codec
        split_lists = st.split_lists_path()
    if not sessions:
        raise BadRelease("expected SESSION... or --from STAGING, found neither")
    meta = ReleaseMeta(
        name=name,
        version=version,
        description=description,
        license=license_,
        url=url,
        creators=tuple(_creator(c) for c in creator or []),
        citation=citation,
    )
    with _bar() as bar:
        path = do_publish(
            sessions,
            out_dir,
            meta,
            previous=previous,
            seed=seed,
            fractions=parse_fractions(fractions),
            split_lists=split_lists,
            codec=codec or DEFAULT_CODEC,
            shard_bytes=_size(shard_size),
            progress=_progress(bar),
            say=_say,
        )
    out.print(f"[green]published[/] {name} {version} at {path}")
    _summary(path)
    if push_to:
        plan = push(path, push_to, dry_run=dry_run)
        verb = "would send" if dry_run else "sent"
        out.print(
            f"{verb} {len(plan['files'])} files ({plan['bytes'] / 1e6:.1f} MB) to "
            f"{plan['repo_type']} {plan['repo_id']}, tag {plan['tag']}:"
        )
        for f in plan["files"]:
            out.print(f"  {f}", highlight=False)


@app.command()
@handle
def verify(release: Annotated[Path, typer.Argument(help="A release folder.")]) -> None:
    """Checksums, every HDF5 chunk (fletcher32), schema, leakage and metadata."""
    from dataset_card.publish import verify_release

    with _bar() as bar:
        problems = verify_release(release, progress=_progress(bar))
    if problems:
        for p in problems:
            err.print(f"[red]x[/] {p}", highlight=False, soft_wrap=True)
        err.print(f"[bold red]{len(problems)} problem(s)[/] in {release}")
        raise typer.Exit(1)
    out.print(f"[green]ok[/] {release}: checksums, chunks, schema, splits and metadata")


def _summary(release: Path) -> None:
    """What ``dataset info`` prints (and ``dataset publish`` after the release): the splits'
    table, then the notes, from one read of ``manifest.json``."""
    from dataset_card.manifest import Manifest

    m = Manifest.read(release)
    _info(m)
    _notes(m)


def _info(m: Manifest) -> None:
    """The splits of a release, as a table."""
    t = Table(title=f"{m.name} {m.version} (created {m.created}, codec {m.codec})")
    for col in ("split", "sessions", "scenes", "pairs / frames", "short", "long", "MB", "files"):
        t.add_column(col)
    for split, s in m.splits.items():
        t.add_row(
            split,
            str(len(s.sessions)),
            str(len(s.scenes)),
            str(s.num_examples),
            str(s.num_short_frames),
            str(s.num_long_frames),
            f"{s.num_bytes / 1e6:.1f}",
            ", ".join(Path(f).name for f in s.files),
        )
    out.print(t)


def _notes(m: Manifest) -> None:
    """What changes the data's meaning, in a line each (the card has the details)."""
    sessions = m.sessions
    sim = [sid for sid, s in sessions.items() if s.simulated]
    if sim:
        out.print(
            f"[yellow]note:[/] {len(sim)} of {len(sessions)} sessions are simulated "
            "(`--camera sim`); the card says so in its first lines",
            highlight=False,
        )
    for sid, s in sessions.items():
        for w in s.warnings:
            out.print(f"[yellow]warning[/] {sid}: {w.code}: {w.message}", highlight=False)


@app.command()
@handle
def info(release: Annotated[Path, typer.Argument(help="A release folder.")]) -> None:
    """A summary of a release."""
    _summary(release)


@app.command()
@handle
def export(
    release: Annotated[Path, typer.Argument(help="A release folder.")],
    dest: Annotated[Path, typer.Argument(help="Output folder (new).")],
    format_: Annotated[str, typer.Option("--format", help="smid or patches.")] = "smid",
    size: Annotated[int, typer.Option(help="Patch size in sensor pixels (patches).")] = 512,
) -> None:
    """Export a release for existing loaders: SMID folders, or aligned patch pairs."""
    from dataset_card import export_smid

    if format_ not in ("smid", "patches"):
        raise BadRelease(f"expected --format smid or patches, found {format_!r}")
    with _bar() as bar:
        if format_ == "smid":
            summary = export_smid.export_smid(release, dest, progress=_progress(bar))
        else:
            summary = export_smid.export_patches(release, dest, size=size, progress=_progress(bar))
    for line in summary.lines():
        if line.startswith("warning: "):
            err.print(f"[yellow]warning:[/] {line[9:]}", highlight=False, soft_wrap=True)
        else:
            out.print(f"  {line}", highlight=False)
    out.print(f"exported {release} as {format_} to {summary.dest}", highlight=False)


def main() -> None:
    run_app(app)
