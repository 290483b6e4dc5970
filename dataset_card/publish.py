"""Publish a release: build, card, validation and freeze in one step, atomically.

Everything is written into a hidden temporary folder beside ``DIR`` (``.DIR.partial-PID``,
holding a ``.partial.json`` that names its pid, host and start) and renamed to ``DIR`` only
once every check has passed, so an interrupted or failed publish leaves no release behind: an
exception, Ctrl-C (SIGINT) or SIGTERM/SIGHUP removes the partial folder before the process
ends.  A partial folder left by a process killed outright (SIGKILL, a power cut) is removed by
the next publish into the same parent folder once its pid is no longer alive on this host.  An
existing ``DIR`` is never touched.

Validation before the freeze: every HDF5 file's schema and every chunk read back (fletcher32);
no scene in two splits; no frame (by sha256) in two splits; the card complete; the Croissant
metadata valid (mlcroissant, offline) with matching checksums; ``SHA256SUMS`` verified.
With ``previous``, the version must follow semver: a change of split membership (a session
removed or moved) needs a MAJOR bump, added sessions at least a MINOR one.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import shutil
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dataset_card.build import BuildResult, SessionPlan, build, plan_sessions
from dataset_card.card import FileInfo, ReleaseInfo, SplitInfo, check_card, write_card
from dataset_card.croissant import validate_croissant, write_croissant
from dataset_card.errors import BadRelease, DatasetError, ReleaseExists
from dataset_card.h5io import open_file
from dataset_card.h5verify import file_summary, verify_file
from dataset_card.manifest import (
    MANIFEST,
    Counts,
    Manifest,
    SessionEntry,
    SplitEntry,
    read_manifest,
)
from dataset_card.parquet import PAIRS_PARQUET, count_rows
from dataset_card.schema import DEFAULT_CODEC, GT_RECIPE, SCHEMA_VERSION, canonical_codec
from sublux_common import __version__
from sublux_common.fsio import atomic_write, atomic_write_json, fsync_dir
from sublux_common.hashing import sha256_file
from sublux_common.progress import OnProgress

__all__ = [
    "MANIFEST",
    "ReleaseMeta",
    "check_release",
    "partial_folder",
    "publish",
    "push",
    "read_manifest",
    "refresh_checksums",
    "remove_stale_partials",
    "verify_release",
]

SUMS = "SHA256SUMS"
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
Say = Callable[[str], None]
PARTIAL_INFO = ".partial.json"
_PARTIAL_RE = re.compile(r"^\.(?P<name>.+)\.partial-(?P<pid>\d+)$")


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM or SIGHUP while a partial folder is open, so that
    the folder is removed on the way out; the CLI exits with 128 + the signal's number."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def remove_stale_partials(parent: str | os.PathLike, *, say: Say | None = None) -> list[Path]:
    """Remove the partial folders in ``parent`` whose publish is dead.

    A partial folder (``.NAME.partial-PID``) is stale when its ``.partial.json`` names this
    host and a pid no longer alive, or (a process killed before writing that file) when it has
    none and its pid is not alive here.  A folder of a live process, or of another host, is
    left alone.  Each removal is reported through ``say`` (one line).

    Returns
    -------
    list of pathlib.Path
        The folders removed.
    """
    parent = Path(parent)
    removed: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except FileNotFoundError:
        return removed
    host = socket.gethostname()
    for entry in entries:
        m = _PARTIAL_RE.match(entry.name)
        if not m or not entry.is_dir() or entry.is_symlink():
            continue
        pid = int(m["pid"])
        try:
            info = json.loads((entry / PARTIAL_INFO).read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            info = {}
        if info.get("host", host) != host or pid == os.getpid() or _pid_alive(pid):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if entry.exists():
            continue
        removed.append(entry)
        if say:
            since = f", started {info['started']}" if info.get("started") else ""
            say(
                f"removed {entry}: the partial release of a publish that was killed (pid "
                f"{pid}{since}, no longer running)"
            )
    return removed


@contextlib.contextmanager
def _cleanup_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` in the main thread (SIGINT already
    raises KeyboardInterrupt), so that ``finally`` blocks run; the old handlers come back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    old = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue
        old[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


_STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back (delivered when the block ends), main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _mark_partial(tmp: Path, out: Path) -> None:
    """Create the partial folder ``tmp`` with its ``.partial.json`` (pid, host, start, out), by
    which a later publish knows whether its process still runs."""
    tmp.mkdir()
    atomic_write_json(
        tmp / PARTIAL_INFO,
        {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "out": str(out),
        },
    )


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished partial folder to ``out`` in one step, never over an existing one.

    Raises
    ------
    ReleaseExists
        When ``out`` appeared while the release was being built.
    """
    (tmp / PARTIAL_INFO).unlink()
    if out.exists():
        raise ReleaseExists(
            f"{out} appeared while it was being built; nothing was overwritten and "
            "the new build was discarded. Choose a new --out"
        )
    fsync_dir(tmp)
    os.rename(tmp, out)
    fsync_dir(out.parent)


@contextlib.contextmanager
def partial_folder(out: str | os.PathLike, *, say: Say | None = None) -> Iterator[Path]:
    """A hidden folder beside ``out`` to build into; renamed to ``out`` when the block ends
    normally, removed when it raises or the process is stopped by SIGINT, SIGTERM or SIGHUP.

    Stale partial folders of dead publishes in the same parent are removed first
    (:func:`remove_stale_partials`, reported through ``say``).

    Raises
    ------
    ReleaseExists
        When ``out`` exists (checked again just before the rename).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(out.parent, say=say)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    if tmp.exists():  # ours, from an earlier call in this process
        shutil.rmtree(tmp)
    with _cleanup_on_signals():
        try:
            _mark_partial(tmp, out)
            yield tmp
            _move_into_place(tmp, out)
        except BaseException:
            with _signals_held():  # a second Ctrl-C or SIGTERM must not cut the cleanup short
                shutil.rmtree(tmp, ignore_errors=True)
            raise


@dataclass
class ReleaseMeta:
    """What the user says about a release."""

    name: str
    version: str
    description: str = ""
    license: str = "cc-by-4.0"
    url: str = ""
    creators: tuple[dict, ...] = ()
    citation: str = ""


def _semver(v: str) -> tuple[int, int, int]:
    m = SEMVER.match(v)
    if not m:
        raise BadRelease(f"expected a version MAJOR.MINOR.PATCH such as 1.0.0, found {v!r}")
    return tuple(int(x) for x in m.groups())  # type: ignore[return-value]


def _membership(manifest: Manifest) -> dict[str, str]:
    return {sid: split for split, s in manifest.splits.items() for sid in s.sessions}


def _scene_splits(manifest: Manifest) -> dict[str, str]:
    return {sc: split for split, s in manifest.splits.items() for sc in s.scenes}


def _changes(old: Manifest, new: Manifest) -> dict[str, list]:
    a, b = _membership(old), _membership(new)
    scene = {k: v.scene for m in (old, new) for k, v in m.sessions.items()}

    def label(sid: str) -> str:
        return f"{sid} (scene {scene[sid]})" if sid in scene else sid

    return {
        "added": sorted((label(s), b[s]) for s in b.keys() - a.keys()),
        "removed": sorted((label(s), a[s]) for s in a.keys() - b.keys()),
        "moved": sorted((label(s), a[s], b[s]) for s in a.keys() & b.keys() if a[s] != b[s]),
    }


def _check_semver(old: Manifest, version: str, changes: dict[str, list]) -> str:
    o, n = _semver(old.version), _semver(version)
    if n <= o:
        raise BadRelease(f"expected a version above the previous {old.version}, found {version}")
    if (changes["removed"] or changes["moved"]) and n[0] == o[0]:
        raise BadRelease(
            f"split membership changed ({len(changes['removed'])} removed, "
            f"{len(changes['moved'])} moved sessions): expected a MAJOR bump from "
            f"{old.version} (e.g. {o[0] + 1}.0.0), found {version}"
        )
    if changes["added"] and n[:2] == o[:2]:
        raise BadRelease(
            f"{len(changes['added'])} sessions added: expected at least a MINOR bump from "
            f"{old.version} (e.g. {o[0]}.{o[1] + 1}.0), found {version}"
        )
    return "major" if n[0] > o[0] else "minor" if n[1] > o[1] else "patch"


def _changelog(old: Manifest, meta: ReleaseMeta, changes: dict[str, list], bump: str) -> str:
    lines = [
        f"# Changelog of {meta.name}",
        "",
        f"## {meta.version} ({bump}, from {old.version})",
        "",
    ]
    for title, key, fmt in (
        ("Added sessions", "added", lambda r: f"- {r[0]} in {r[1]}"),
        ("Removed sessions", "removed", lambda r: f"- {r[0]} (was in {r[1]})"),
        ("Moved sessions", "moved", lambda r: f"- {r[0]}: {r[1]} -> {r[2]}"),
    ):
        lines += [f"### {title}", ""]
        lines += [fmt(r) for r in changes[key]] or ["- none"]
        lines.append("")
    return "\n".join(lines)


def _file_info(root: Path, path: Path, split: str | None) -> FileInfo:
    return FileInfo(
        path=path.relative_to(root).as_posix(),
        size=path.stat().st_size,
        sha256=sha256_file(path),
        split=split,
    )


def refresh_checksums(
    root: str | os.PathLike,
    *,
    known: dict[str, str] | None = None,
    progress: OnProgress | None = None,
) -> None:
    """Rewrite the manifest's file list and ``SHA256SUMS`` for what is in ``root`` now.

    Every file is hashed once (``known`` maps relative paths to digests already computed, such
    as the HDF5 files' in the card); only ``manifest.json`` is hashed after it is rewritten.
    ``progress(step, done, total)`` is told of each file listed ("SHA256SUMS").
    """
    root = Path(root)
    known = known or {}
    tell = progress or (lambda step, done, total: None)
    manifest = read_manifest(root)
    entries = []
    skip = (SUMS, MANIFEST, PARTIAL_INFO)
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.name not in skip)
    total = len(paths) + 1  # and manifest.json
    for n, p in enumerate(paths):
        tell("SHA256SUMS", n, total)
        rel = p.relative_to(root).as_posix()
        entries.append(
            {"path": rel, "size": p.stat().st_size, "sha256": known.get(rel) or sha256_file(p)}
        )
    manifest["files"] = entries
    atomic_write_json(root / MANIFEST, manifest)
    m = root / MANIFEST
    entries.append({"path": MANIFEST, "size": m.stat().st_size, "sha256": sha256_file(m)})
    with atomic_write(root / SUMS, "w") as fh:
        fh.writelines(
            f"{e['sha256']}  {e['path']}\n" for e in sorted(entries, key=lambda e: e["path"])
        )
    tell("SHA256SUMS", total, total)


def check_release(
    root: str | os.PathLike, *, chunks: bool = True, progress: OnProgress | None = None
) -> list[str]:
    """Every check of a frozen or staged release; returns the problems found.

    Raises :class:`~dataset_card.errors.DamagedRelease` for a damaged ``manifest.json`` (the
    ``dataset`` commands exit 1 on it) and :class:`~dataset_card.errors.BadRelease` where there
    is none (not a release).

    ``progress(step, done, total)`` is told of each file hashed ("checksums"), each
    HDF5 file checked ("HDF5 files") and then the card and the Croissant metadata checked
    ("metadata", 2 in all).
    """
    root = Path(root)
    tell = progress or (lambda step, done, total: None)
    problems: list[str] = []
    manifest = Manifest.read(root)
    sums = root / SUMS
    digests: dict[str, str] = {}  # each file hashed once, for the Croissant check too
    if sums.exists():
        lines = sums.read_text().splitlines()
        for n, line in enumerate(lines):
            tell("checksums", n, len(lines))
            digest, _, rel = line.partition("  ")
            p = root / rel
            if not p.is_file():
                problems.append(f"{rel}: listed in {SUMS} but missing")
                continue
            digests[rel] = sha256_file(p)
            if digests[rel] != digest:
                problems.append(f"{rel}: sha256 differs from {SUMS}")
        tell("checksums", len(lines), len(lines))
    else:
        problems.append(f"{SUMS} is missing")
    scenes: dict[str, str] = {}
    frames: dict[str, tuple[str, str]] = {}
    for info in manifest.splits.values():
        if info.rows:
            problems += count_rows(root / info.rows, info.num_examples)
    shards = [(split, rel) for split, info in manifest.splits.items() for rel in info.files]
    for n, (split, rel) in enumerate(shards):
        tell("HDF5 files", n, len(shards))
        path = root / rel
        if chunks:
            problems += verify_file(path)
        if not path.exists():
            continue
        summary = file_summary(path)
        for s in summary["sessions"].values():
            prev = scenes.setdefault(s["scene"], split)
            if prev != split:
                problems.append(f"scene {s['scene']!r} is in both {prev} and {split}")
        with open_file(path) as h5:
            for sid in summary["sessions"]:
                g = h5["sessions"][sid]
                for table in ("short_frames", "long_frames"):
                    if table not in g:
                        continue
                    for sha in g[table]["sha256"]:
                        sha = sha.decode()
                        where = frames.setdefault(sha, (split, sid))
                        if where[0] != split:
                            problems.append(
                                f"frame {sha[:12]}... is in {where[0]} ({where[1]}) and "
                                f"{split} ({sid})"
                            )
    tell("HDF5 files", len(shards), len(shards))
    tell("metadata", 0, 2)
    problems += [f"README.md: {p}" for p in check_card(root / "README.md")]
    tell("metadata", 1, 2)
    problems += [
        f"croissant.json: {p}"
        for p in validate_croissant(root / "croissant.json", check_files=True, digests=digests)
    ]
    tell("metadata", 2, 2)
    return problems


def verify_release(root: str | os.PathLike, *, progress: OnProgress | None = None) -> list[str]:
    """``dataset verify``: checksums, every chunk (fletcher32), schema, leakage, metadata."""
    return check_release(root, chunks=True, progress=progress)


# -- publish, phase by phase ------------------------------------------------------------------
#
# _plan (checks, the previous release, the split plan) -> partial_folder (a hidden folder beside
# `out`) -> _build_data (HDF5 splits, Parquet rows, pairs) -> _describe (hash the data files
# into a ReleaseInfo) -> _write_metadata (card, Croissant) -> _manifest / _write_changelog ->
# _write_checksums (manifest.json, SHA256SUMS) -> _verify -> partial_folder renames it to `out`.


@dataclass(frozen=True)
class _PublishPlan:
    """What :func:`publish` decided before writing anything."""

    out: Path
    meta: ReleaseMeta
    codec: str
    old: Manifest | None  # the previous release's manifest, with ``previous``
    plans: list[SessionPlan]  # one per session, with its split
    created: str


def _plan(
    sessions: Sequence[str | os.PathLike],
    out: Path,
    meta: ReleaseMeta,
    *,
    previous: str | os.PathLike | None,
    seed: int,
    fractions: dict[str, float] | None,
    split_lists: str | os.PathLike | None,
    codec: str,
) -> _PublishPlan:
    """Phase 1: refuse an existing ``out``, a bad version or missing url/creators; read the
    previous release; plan every session's split.  Nothing is written."""
    if out.exists():
        raise BadRelease(
            f"{out} already exists; a release is never overwritten. Choose a new --out "
            "(one folder per version)."
        )
    _semver(meta.version)
    if not meta.url or not meta.creators:
        raise BadRelease(
            "expected --url and at least one --creator (Croissant and the card need them), "
            f"found url={meta.url!r}, creators={list(meta.creators)!r}"
        )
    codec = canonical_codec(codec)
    old = Manifest.read(previous) if previous else None
    plans = plan_sessions(
        sessions,
        seed=seed,
        fractions=fractions,
        split_lists=split_lists,
        previous=_scene_splits(old) if old else None,
    )
    created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _PublishPlan(out=out, meta=meta, codec=codec, old=old, plans=plans, created=created)


def _build_data(
    plan: _PublishPlan, tmp: Path, *, shard_bytes: int, progress: OnProgress | None
) -> BuildResult:
    """Phase 2: the HDF5 splits, Parquet row tables and pairs files, in the partial folder
    (progress step "package", one per frame)."""
    return build(
        plan.plans,
        tmp,
        name=plan.meta.name,
        version=plan.meta.version,
        created=plan.created,
        tool_version=__version__,
        codec=plan.codec,
        shard_bytes=shard_bytes,
        progress=progress,
    )


def _describe(
    plan: _PublishPlan, tmp: Path, result: BuildResult, *, progress: OnProgress | None
) -> ReleaseInfo:
    """Phase 3: hash every data file once (progress step "hashing") and gather what the card,
    Croissant and manifest say about the release."""
    tell = progress or (lambda step, done, total: None)
    to_hash = [(path, split) for split, paths in result.files.items() for path in paths]
    to_hash += [(path, split) for split, path in result.rows.items() if path]
    to_hash += [(tmp / PAIRS_PARQUET, None), (result.pairs_csv, None)]
    hashed: dict[Path, FileInfo] = {}
    for n, (path, split) in enumerate(to_hash):
        tell("hashing", n, len(to_hash))
        hashed[path] = _file_info(tmp, path, split)
    tell("hashing", len(to_hash), len(to_hash))
    splits = []
    for split, paths in result.files.items():
        members = [p for p in plan.plans if p.split == split]
        files = [hashed[p] for p in paths]
        pairs = sum(1 for p in members for s in p.short if s.paired)
        rows = result.rows.get(split)
        splits.append(
            SplitInfo(
                name=split,
                files=files,
                rows=hashed[rows] if rows else None,
                sessions=[p.session_id for p in members],
                scenes=sorted({p.scene for p in members}),
                num_examples=pairs if split != "dynamic" else sum(len(p.short) for p in members),
                num_bytes=sum(f.size for f in files),
                num_short_frames=sum(len(p.short) for p in members),
                num_long_frames=sum(len(p.long) for p in members),
            )
        )
    meta = plan.meta
    return ReleaseInfo(
        name=meta.name,
        version=meta.version,
        description=meta.description,
        license=meta.license,
        creators=list(meta.creators),
        url=meta.url,
        citation=meta.citation,
        created=plan.created,
        tool_version=__version__,
        splits=splits,
        sessions=[p.summary() for p in plan.plans],
        codec=plan.codec,
        gt_recipe=GT_RECIPE,
        extra_files=[hashed[tmp / PAIRS_PARQUET], hashed[result.pairs_csv]],
    )


def _write_metadata(info: ReleaseInfo, tmp: Path) -> None:
    """Phase 4: the dataset card (``README.md``) and the Croissant metadata."""
    write_card(info, tmp / "README.md")
    write_croissant(info, tmp / "croissant.json")


def _session_detail(plan: SessionPlan) -> SessionEntry:
    """A session's entry in ``manifest.json``: where it is, and what changes its meaning."""
    summary = plan.summary()
    return SessionEntry.from_json(
        {
            "scene": plan.scene,
            "split": plan.split,
            "kind": plan.kind,
            "simulated": summary["simulated"],
            "warnings": summary["warnings"],
            "dropped": summary["dropped"],
            "references": len(plan.long),
            "unused_references": summary["unused_references"],
            "mean_reference": summary["mean_reference"],
        },
        f"session {plan.session_id}",
    )


def _manifest(plan: _PublishPlan, info: ReleaseInfo) -> Manifest:
    """``manifest.json`` of the release (its ``files`` come later, with the checksums)."""
    manifest_splits = {
        sp.name: SplitEntry(
            files=tuple(f.path for f in sp.files),
            rows=sp.rows.path if sp.rows else None,
            sessions=tuple(sp.sessions),
            scenes=tuple(sp.scenes),
            num_examples=sp.num_examples,
            num_bytes=sp.num_bytes,
            num_short_frames=sp.num_short_frames,
            num_long_frames=sp.num_long_frames,
        )
        for sp in info.splits
    }
    return Manifest(
        name=plan.meta.name,
        version=plan.meta.version,
        schema=SCHEMA_VERSION,
        tool_version=__version__,
        created=plan.created,
        codec=plan.codec,
        splits=manifest_splits,
        sessions={p.session_id: _session_detail(p) for p in plan.plans},
        counts=Counts(
            sessions=len(plan.plans),
            scenes=len({p.scene for p in plan.plans}),
            pairs=sum(s.num_examples for k, s in manifest_splits.items() if k != "dynamic"),
        ),
    )


def _write_changelog(plan: _PublishPlan, manifest: Manifest, tmp: Path) -> None:
    """Phase 5 (with a previous release): check the version bump against the changes of split
    membership and write ``CHANGELOG.md``."""
    if plan.old is None:
        return
    changes = _changes(plan.old, manifest)
    bump = _check_semver(plan.old, plan.meta.version, changes)
    with atomic_write(tmp / "CHANGELOG.md", "w") as fh:
        fh.write(_changelog(plan.old, plan.meta, changes, bump))


def _write_checksums(
    tmp: Path, manifest: Manifest, info: ReleaseInfo, *, progress: OnProgress | None
) -> None:
    """Phase 6: ``manifest.json`` with every file, and ``SHA256SUMS`` (the data files are not
    hashed again; progress step "SHA256SUMS")."""
    atomic_write_json(tmp / MANIFEST, manifest.to_json())
    hashed = [*info.files, *info.extra_files, *(sp.rows for sp in info.splits if sp.rows)]
    refresh_checksums(tmp, known={f.path: f.sha256 for f in hashed}, progress=progress)


def _verify(tmp: Path, *, progress: OnProgress | None) -> None:
    """Phase 7: every check of :func:`check_release` on the partial folder; any problem stops
    the publish (progress steps "checksums", "HDF5 files", "metadata")."""
    problems = check_release(tmp, progress=progress)
    if problems:
        raise DatasetError(
            f"the release failed validation with {len(problems)} problem(s), nothing was "
            "published: " + "; ".join(problems[:8])
        )


def publish(
    sessions: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    meta: ReleaseMeta,
    *,
    previous: str | os.PathLike | None = None,
    seed: int = 0,
    fractions: dict[str, float] | None = None,
    split_lists: str | os.PathLike | None = None,
    codec: str = DEFAULT_CODEC,
    shard_bytes: int = 4 * 10**9,
    progress: OnProgress | None = None,
    say: Say | None = None,
) -> Path:
    """Build, describe, validate and freeze a release at ``out``; returns ``out``.

    Built in :func:`partial_folder` (nothing is left behind by a failure, Ctrl-C or SIGTERM;
    partials of killed publishes in the same parent are removed and reported through
    ``say``), which renames it to ``out`` once every check has passed.  Every frame is checked
    against its journal record as it is read: a frame that changed raises
    :class:`~dataset_card.errors.FrameChanged` and nothing is published.

    ``progress(step, done, total)`` is told of each frame packaged ("package"), each data file
    hashed ("hashing"), each file added to ``SHA256SUMS`` ("SHA256SUMS") and the checks of
    :func:`check_release` ("checksums", "HDF5 files", "metadata").
    """
    plan = _plan(
        sessions,
        Path(out),
        meta,
        previous=previous,
        seed=seed,
        fractions=fractions,
        split_lists=split_lists,
        codec=codec,
    )
    with partial_folder(plan.out, say=say) as tmp:
        result = _build_data(plan, tmp, shard_bytes=shard_bytes, progress=progress)
        info = _describe(plan, tmp, result, progress=progress)
        _write_metadata(info, tmp)
        manifest = _manifest(plan, info)
        _write_changelog(plan, manifest, tmp)
        _write_checksums(tmp, manifest, info, progress=progress)
        _verify(tmp, progress=progress)
    return plan.out


def push(release: str | os.PathLike, target: str, *, dry_run: bool = False) -> dict:
    """Upload a release to the Hugging Face Hub (``hf://ORG/NAME``) and tag its version."""
    m = re.match(r"^hf://([\w.-]+/[\w.-]+)$", target)
    if not m:
        raise BadRelease(f"expected --push hf://ORG/NAME, found {target!r}")
    root = Path(release)
    manifest = read_manifest(root)
    repo = m.group(1)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    plan = {
        "repo_id": repo,
        "repo_type": "dataset",
        "tag": f"v{manifest['version']}",
        "files": files,
        "bytes": sum((root / f).stat().st_size for f in files),
    }
    if dry_run:
        return plan
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo, repo_type="dataset", exist_ok=True)
        api.upload_folder(
            folder_path=str(root),
            repo_id=repo,
            repo_type="dataset",
            commit_message=f"{manifest['name']} {manifest['version']}",
        )
        api.create_tag(repo, tag=plan["tag"], repo_type="dataset")
    except Exception as exc:
        raise DatasetError(
            f"could not push {root} to {repo}: {type(exc).__name__}: {exc}; check the network "
            "and `hf auth login`, then push again (the release folder is unchanged)"
        ) from None
    return plan
