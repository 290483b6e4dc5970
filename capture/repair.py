"""``capture repair``: salvage a session whose journal or frames were damaged.

Repair holds the session's lock and:

1. keeps every valid journal record and drops every damaged line (the original journal stays
   beside the new one as ``journal.jsonl.damaged-<UTC time>``, never deleted);
2. re-verifies every journalled frame against its record (size and sha256): a record whose
   file is missing or differs no longer vouches for anything, so it is dropped and the file (if
   any) moved to ``unjournaled/``; ``capture resume`` then shoots that index again.  Of two
   records for one index (two writers at once, before sessions were locked) the one the file
   matches is kept;
3. moves every file of a pass folder that no kept record vouches for to ``unjournaled/``;
4. writes the new journal atomically, ending with an ``event`` record ``what: "repair"`` that
   says what it did (and, when damaged lines were dropped, a ``journal_repaired`` warning
   before it: what those lines held is unknown).

A session with nothing to repair is left exactly as it was.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from capture.errors import FrameMismatch, MalformedRecord, storage_errors
from capture.lock import SessionLock
from capture.session import (
    JOURNAL_FILE,
    PASSES,
    SESSION_FILE,
    UNJOURNALED_DIR,
    FrameRecord,
    Session,
    SessionWriter,
    WarningRecord,
    finish_interrupted_creation,
    load_journal,
    read_frame_bytes,
    unjournaled_path,
)
from sublux_common.fsio import atomic_write_bytes, crash_point, fsync_dir

__all__ = ["RepairReport", "repair_session"]

log = logging.getLogger(__name__)


@dataclass
class RepairReport:
    """What :func:`repair_session` found and did."""

    session: Path
    damaged_lines: list[dict] = field(default_factory=list)
    frames_unvouched: list[dict] = field(default_factory=list)
    files_moved: list[dict] = field(default_factory=list)
    backup: str | None = None
    remaining: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.damaged_lines or self.frames_unvouched or self.files_moved)

    def to_json(self) -> dict:
        return {
            "damaged_lines": self.damaged_lines,
            "frames_unvouched": self.frames_unvouched,
            "files_moved": self.files_moved,
            "original_journal": self.backup,
            "remaining": self.remaining,
        }


def _utc_stamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _set_aside(root: Path, rel: str) -> str:
    """Move ``root/rel`` into ``unjournaled/`` (never deleted); return where it went."""
    pass_, _, name = rel.partition("/")
    dest = unjournaled_path(root, f"repair-{pass_}-{name.lstrip('.')}")
    os.replace(root / rel, dest)
    return dest.relative_to(root).as_posix()


def repair_session(path: str | os.PathLike, *, command: str = "repair") -> RepairReport:
    """Repair the session at ``path`` (see the module's documentation).

    Raises
    ------
    SessionLocked
        Another process writes to the session; nothing was changed.
    SessionError
        ``path`` is not a session (and no interrupted creation can be finished there).
    StorageError
        The OS refused a write; the original journal is untouched until the new one replaces
        it whole.
    """
    path = Path(path)
    with storage_errors("repairing the session", "the original journal is kept"):
        finish_interrupted_creation(path, command)
        return _repair(path, command)


def _repair(path: Path, command: str) -> RepairReport:
    # The writer's own journal checks would refuse a damaged journal: repair reads it itself,
    # under the same lock every writer takes.
    if not (path / SESSION_FILE).is_file():
        Session(path)  # raises what is wrong: no folder, not a session
    with SessionLock.acquire(path, command):
        session = Session(path)
        journal = load_journal(path / JOURNAL_FILE)
        report = RepairReport(path)
        report.damaged_lines = [d.to_json() for d in journal.damaged]

        kept: list[dict] = []
        vouched: dict[tuple[str, int], dict] = {}
        for rec in journal.records:
            if rec.get("type") != "frame":
                kept.append(rec)
                continue
            try:
                frame = FrameRecord.from_json(rec)
            except MalformedRecord:
                report.frames_unvouched.append(
                    {
                        "record": rec,
                        "problem": "malformed",
                        "why": "a frame record without its pass, index, path, sha256 or size",
                    }
                )
                continue
            key = (frame.pass_, frame.index)
            problem = None
            if key in vouched:
                problem = {
                    "problem": "duplicate",
                    "expected": vouched[key]["sha256"],
                    "found": frame.sha256,
                }
            else:
                try:
                    read_frame_bytes(path / frame.path, frame)
                except FrameMismatch as exc:
                    problem = {"problem": exc.problem, "expected": exc.expected, "found": exc.found}
            if problem:
                report.frames_unvouched.append(
                    {"pass": frame.pass_, "index": frame.index, "path": frame.path, **problem}
                )
                continue
            vouched[key] = rec
            kept.append(rec)

        # Of two records for one index, the first the file matches is kept (a record the file
        # does not match was un-vouched above, whichever came first).
        known = {r["path"] for r in vouched.values()}
        for pass_ in PASSES:
            d = path / pass_
            if not d.is_dir():
                continue
            for f in sorted(d.iterdir()):
                rel = f"{pass_}/{f.name}"
                if f.is_file() and rel not in known:
                    to = _set_aside(path, rel)
                    report.files_moved.append({"file": rel, "to": to})
        if report.files_moved:
            fsync_dir(path / UNJOURNALED_DIR)
            for pass_ in PASSES:
                if (path / pass_).is_dir():
                    fsync_dir(path / pass_)

        original = path / JOURNAL_FILE
        if report.damaged_lines or report.frames_unvouched or journal.unterminated:
            # Keep the original beside the new journal: a hard link, so that journal.jsonl
            # exists at every instant; a copy where links are not offered.
            backup = path / f"{JOURNAL_FILE}.damaged-{_utc_stamp()}"
            try:
                os.link(original, backup)
            except OSError:
                shutil.copy2(original, backup)
            report.backup = backup.name
            fsync_dir(path)
            crash_point("repair:backup")

        for pass_ in session.plan["passes"]:
            done = {(r["pass"], int(r["index"])) for r in vouched.values()}
            left = [i for i in range(session.planned(pass_)) if (pass_, i) not in done]
            if left:
                report.remaining[pass_] = len(left)

        if not report.changed and not journal.unterminated:
            return report

        now = time.time()
        extra = []
        if report.damaged_lines:
            extra.append(
                WarningRecord(
                    code="journal_repaired",
                    message=f"`capture repair` dropped {len(report.damaged_lines)} damaged "
                    f"journal line(s) (kept in {report.backup}); what they held is unknown",
                    t=now,
                    details={"lines": [d["line"] for d in report.damaged_lines]},
                ).to_json()
            )
        extra.append(
            {
                "type": "event",
                "t": now,
                "what": "repair",
                "command": command,
                **report.to_json(),
                "summary": summary(report),
            }
        )
        text = "".join(
            json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in kept + extra
        )
        atomic_write_bytes(original, text.encode())
        crash_point("repair:written")
    # Writers accept the result: a last check that nothing the writers refuse is left.
    SessionWriter(path, command=command).close()
    return report


def summary(report: RepairReport) -> str:
    """One paragraph saying what a repair did."""
    if not report.changed:
        return f"{report.session}: the journal is intact and every journalled frame matches it"
    parts = []
    if report.damaged_lines:
        lines = ", ".join(str(d["line"]) for d in report.damaged_lines[:10])
        parts.append(f"dropped {len(report.damaged_lines)} damaged journal line(s) ({lines})")
    if report.frames_unvouched:
        shown = ", ".join(
            f"{u.get('path', '?')} ({u['problem']})" for u in report.frames_unvouched[:5]
        )
        parts.append(
            f"un-vouched {len(report.frames_unvouched)} frame record(s) whose file is missing "
            f"or differs: {shown}"
        )
    if report.files_moved:
        parts.append(
            f"moved {len(report.files_moved)} file(s) no record vouches for to unjournaled/"
        )
    if report.backup:
        parts.append(f"kept the original journal as {report.backup}")
    if report.remaining:
        left = ", ".join(f"{n} {p}" for p, n in report.remaining.items())
        parts.append(f"frames left to shoot: {left} (`capture resume {report.session}`)")
    return "; ".join(parts)
