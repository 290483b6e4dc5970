"""The curator's decisions: reject or restore a frame (or pair), kept in ``review.jsonl``.

A curation result folder (``SESSION/curation/`` or ``--out``) may hold ``review.jsonl``, one
JSON object per line, appended and never rewritten::

    {"time": "2026-12-02T12:00:00Z", "user": "ana", "file": "dark/0007.dng",
     "decision": "reject" | "restore", "reason": "lens touched"}

``file`` is ``PASS/NAME`` (``dark/0007.dng``, ``bright/0000.dng``).  The latest decision on a
file wins.  ``curate align`` / ``curate run`` re-apply the decisions on every run
(:func:`load` then :func:`apply_frames` and :func:`apply_pairs` from
:mod:`curate.pipeline`):

- ``reject``: the frame is dropped with reason ``review`` and the curator's note, before
  matching; a static burst's dark frame is its pair, a sweep's bright frame is its pair.
- ``restore``: an automatic decision is overruled: a frame dropped for ``motion`` or by the
  intensity rules is kept, a pair rejected for its aligned correlation is kept; a later
  ``restore`` also undoes a ``reject``.  Frames dropped because they cannot be vouched for
  (``hash_mismatch``, ``missing``, ``corrupt``, ``unreadable``, ``size_mismatch``) stay
  dropped, with a warning.

A damaged line (torn by a crash, edited by hand) is named in the result's warnings; the other
lines apply and the file is left as it is.  ``dataset publish`` reads ``alignment.json`` only,
so it honours the decisions once curation has run.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import fcntl
import getpass
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from curate.errors import BadInput
from curate.result import Alignment

__all__ = [
    "DECISIONS",
    "RESTORABLE",
    "REVIEW_FILE",
    "Decision",
    "Review",
    "append",
    "load",
    "resolve_file",
]

REVIEW_FILE = "review.jsonl"
DECISIONS = ("reject", "restore")
#: Automatic reasons a curator may overrule with ``restore``.
RESTORABLE = frozenset(
    {"motion", "too_dark", "too_bright", "saturated", "low_aligned_corr", "review"}
)


@dataclass(frozen=True)
class Decision:
    """One line of ``review.jsonl``."""

    time: str
    user: str
    file: str
    decision: str
    reason: str
    line: int = 0

    def note(self) -> dict:
        """The decision as recorded in ``alignment.json`` (``dropped[].review``)."""
        return {"time": self.time, "user": self.user, "reason": self.reason, "line": self.line}


@dataclass
class Review:
    """The decisions of one result folder, the latest per file."""

    path: Path
    latest: dict[str, Decision] = field(default_factory=dict)
    lines: int = 0
    damaged: list[str] = field(default_factory=list)

    def get(self, pass_: str, name: str) -> Decision | None:
        """The latest decision on ``pass_/name``, or None."""
        return self.latest.get(f"{pass_}/{name}")

    def rejected(self, pass_: str, name: str) -> Decision | None:
        d = self.get(pass_, name)
        return d if d is not None and d.decision == "reject" else None

    def restored(self, pass_: str, name: str) -> Decision | None:
        d = self.get(pass_, name)
        return d if d is not None and d.decision == "restore" else None

    def fingerprint(self) -> list:
        """What changes a curation run: the decision in force on each file."""
        return sorted([k, d.decision, d.reason] for k, d in self.latest.items())

    def summary(self) -> dict:
        """For ``alignment.json``'s ``review``."""
        return {
            "file": REVIEW_FILE,
            "lines": self.lines,
            "rejected": sorted(k for k, d in self.latest.items() if d.decision == "reject"),
            "restored": sorted(k for k, d in self.latest.items() if d.decision == "restore"),
            "damaged": list(self.damaged),
        }


def load(folder: str | os.PathLike) -> Review:
    """Read ``folder/review.jsonl`` (an empty review when there is none).

    A line that is not a JSON object with a ``file`` (``PASS/NAME``), a ``decision`` in
    :data:`DECISIONS` and text fields is listed in :attr:`Review.damaged` (``review.jsonl line
    N: ...``) and skipped; the others apply.
    """
    path = Path(folder) / REVIEW_FILE
    review = Review(path=path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return review
    for n, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        review.lines += 1
        problem = None
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                problem = f"expected a JSON object, found {type(rec).__name__}"
            elif rec.get("decision") not in DECISIONS:
                problem = f"expected a decision in {DECISIONS}, found {rec.get('decision')!r}"
            elif not isinstance(rec.get("file"), str) or "/" not in rec["file"]:
                problem = f"expected a file as PASS/NAME, found {rec.get('file')!r}"
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            problem = f"not JSON ({exc.msg if hasattr(exc, 'msg') else exc})"
        if problem:
            text = line[:80].decode("utf-8", "replace")
            review.damaged.append(f"{REVIEW_FILE} line {n}: {problem}: {text!r}; skipped")
            continue
        d = Decision(
            time=str(rec.get("time", "")),
            user=str(rec.get("user", "")),
            file=rec["file"],
            decision=rec["decision"],
            reason=str(rec.get("reason") or ""),
            line=n,
        )
        review.latest[d.file] = d
    return review


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER") or "unknown"


def append(
    folder: str | os.PathLike,
    file: str,
    decision: str,
    reason: str = "",
    *,
    user: str | None = None,
    now: _dt.datetime | None = None,
) -> Decision:
    """Append a decision to ``folder/review.jsonl`` (created if needed), fsynced.

    The line is written in one ``write`` under an exclusive lock on the file; a file whose
    last line was torn (no newline) gets one first, so the torn line stays as it was (and is
    reported by :func:`load`) and the new one is whole.
    """
    if decision not in DECISIONS:
        raise BadInput(f"expected a decision in {DECISIONS}, found {decision!r}")
    now = now or _dt.datetime.now(_dt.timezone.utc)
    rec = {
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "user": user or _user(),
        "file": file,
        "decision": decision,
        "reason": reason,
    }
    path = Path(folder) / REVIEW_FILE
    data = (json.dumps(rec, ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        # the new line's number, counted under the lock (another curator may append after it)
        lines = os.pread(fd, size, 0).count(b"\n") + data.count(b"\n")
        start, done = size, 0
        try:
            while done < len(data):
                done += os.write(fd, data[done:])
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)
    return Decision(line=lines, **rec)


def frame_names(alignment: Alignment) -> list[str]:
    """Every frame of a curation result as ``PASS/NAME``."""
    return [f"{pass_}/{f.file}" for pass_ in ("dark", "bright") for f in alignment.frames(pass_)]


def resolve_file(alignment: Alignment, text: str) -> str:
    """The ``PASS/NAME`` a user means by ``text`` (``dark/0007.dng``, or ``0007.dng`` when
    one pass has it); :class:`BadInput` listing the nearest names otherwise."""
    names = frame_names(alignment)
    text = text.strip().replace("\\", "/")
    if text in names:
        return text
    base = text.rsplit("/", 1)[-1]
    matches = [n for n in names if n.rsplit("/", 1)[-1] == base]
    if len(matches) == 1 and "/" not in text:
        return matches[0]
    if len(matches) > 1 and "/" not in text:
        raise BadInput(
            f"expected one frame named {text!r}, found {len(matches)}: {', '.join(matches)}; "
            "give the pass too (e.g. dark/NAME)"
        )
    near = difflib.get_close_matches(text, names, n=5, cutoff=0.3) or difflib.get_close_matches(
        base, [n.rsplit("/", 1)[-1] for n in names], n=5, cutoff=0.3
    )
    raise BadInput(
        f"expected a frame of this curation (PASS/NAME or NAME), found {text!r}, which is not "
        f"one of its {len(names)} frames; nearest: {', '.join(near) or 'none'}"
    )


def warnings(review: Review, known: Iterable[str]) -> list[str]:
    """Result warnings: damaged lines, and decisions on files the curation does not have."""
    known = set(known)
    out = list(review.damaged)
    unknown = sorted(k for k in review.latest if k not in known)
    if unknown:
        out.append(
            f"{REVIEW_FILE} decides on {len(unknown)} file(s) this curation does not have "
            f"(ignored): {', '.join(unknown[:10])}"
        )
    return out
