"""The curation result: ``alignment.json``, its writer and its reader.

Later stages read curation only through this module.  ``curate align`` writes, into
``SESSION/curation/`` (or ``--out``)::

    alignment.json    the result below
    correlation.npy   the bright x dark correlation matrix (float32): row i is the i-th kept
                      bright frame of ``correlation.bright``, column j the j-th kept dark
                      frame of ``correlation.dark``
    report/           the visual report (``curate report``)

``alignment.json`` (schema 1)::

    {"schema": 1, "tool": {"name": "sublux", "version": ...}, "created": ...,
     "source": {"kind": "session" | "folders", "session": "<path>" | null,
                "session_id": ..., "scene": ..., "session_kind": "static" | "sweep" | null,
                "dark": "<dir or video>", "bright": "<dir>", "input_sha256": ...},
     "options": {...every threshold used...},
     "method": {"matching": "static-reference" | "monotonic-dp",
                "registration": "...", "features": "..."},
     "pairs": [{"bright": "0000.dng", "dark": "0003.dng", "score": 0.93, "margin": 0.12,
                "ambiguous": false, "dy": 0.24, "dx": 2.22, "aligned_corr": 0.81,
                "exposure_ratio": 300.0, "dark_angle": 1.5, "bright_angle": 2.0}, ...],
     "rejected": [{...pair fields..., "reason": "low_aligned_corr"}, ...],
     "aligned_corr_floor": 0.14,   the aligned correlation below which a pair was rejected:
                                   max(min_aligned_corr, rel_aligned_corr x median); null
                                   when no pair had one
     "references": [{"file": "0000.dng", "dy": 0.24, "dx": 2.22, "aligned_corr": 0.97,
                     "t": 1764670000.5}, ...],
     "dropped": [{"file": "0007.dng", "pass": "dark", "reason": "too_dark",
                  "detail": "..."},
                 {"file": "0003.dng", "pass": "dark", "reason": "hash_mismatch",
                  "detail": "...", "expected": "<journal sha256>", "found": "<file sha256>"},
                 ...],
     "frames": {"dark": [{"file": ..., "kept": true, "mean_dn": ..., "rel_mean": ...,
                          "clipped": ..., "t": ..., "angle": ...}, ...],
                "bright": [...]},
     "drift": {"max_px": 0.03, "thirds": [[dy, dx], ...]} | null,
     "correlation": {"file": "correlation.npy", "dark": ["0000.dng", ...],
                     "bright": ["0000.dng", ...], "path": [[bright_i, dark_j], ...]}}

Records.  :func:`read_alignment` returns an :class:`Alignment` whose entries are records:
:class:`Pair` (``pairs``, ``rejected``), :class:`Drop` (``dropped``; ``pass`` is
``Drop.pass_``), :class:`Reference`, :class:`FrameEntry` (``frames``, through
:meth:`Alignment.frames`) and :class:`CorrelationIndex` (``correlation``, the matrix itself
through :meth:`Alignment.correlation`).  Each has ``to_json``/``from_json``; ``to_json``
writes the keys above in this order, optional ones only when set, and ``from_json`` gives
keys an older result lacks their defaults.  :func:`summarize` gives what ``curate align``
prints.

Shift convention: a scene point at (y, x) of the dark frame is at (y + dy, x + dx) of the
bright frame, in full-resolution sensor pixels, so ``scipy.ndimage.shift(dark, (dy, dx))``
lines up with the bright frame.  File names are relative to their pass folder.

References (static sessions).  ``references`` lists every kept reference in shooting order,
with the registered shift of the mean of the kept burst to it (same convention as pairs),
the aligned correlation of that mean with it, and its capture time ``t``.  Kept dark frame
j (the j-th of ``frames.dark`` with ``kept`` true, i.e. of ``correlation.dark``) is paired
with kept reference j mod K, so every kept reference is used (a pair later rejected for its
aligned correlation moves to ``rejected`` and keeps its reference); each pair names its
reference in ``bright``, carries that reference's ``dy``/``dx``, and its ``aligned_corr`` is
measured against that reference.
``correlation.bright`` lists the kept references and ``correlation.path`` is
``[[j mod K, j], ...]``.  A readable reference that is not used is in ``dropped`` (pass
``bright``).  Sweeps have no ``references`` (``[]``; results written before it was added
lack the key: read it through :attr:`Alignment.references`).

Reasons for a dropped frame (``detail`` says what was found):

- ``unreadable``: LibRaw cannot decode it (truncated, not a raw file, unsupported; a
  linear/demosaiced DNG, X-Trans or Foveon file says "not a Bayer mosaic: ...").
- ``hash_mismatch``: a session frame whose bytes differ from its journal record, in sha256
  or in size (``detail`` says which); ``expected`` is the journal's sha256, ``found`` the
  file's.  ``missing``: a journalled frame whose file is gone (``found`` null).
- ``corrupt``: it decodes, but more than 0.1% of its pixels hold values no sensor gives
  (:func:`curate.pipeline.impossible_range`): image data damaged or absent.
- ``size_mismatch``: another size than the majority of its pass (no majority stops the run).
- ``too_dark``, ``too_bright``, ``saturated``: the intensity rules
  (:func:`curate.intensity.classify`).
- ``reference_moved`` (references): the burst's shift to it differs by more than
  ``options.max_drift_px`` from the median of the largest group of references that agree
  (the first reference wins a tie): the camera was bumped between references.
- ``unused_reference``: more kept references than kept dark frames.
- ``motion`` (static bursts, dark frames): a region changed beyond noise against the burst's
  other frames and the first reference (:mod:`curate.motion`); the entry carries
  ``"region": {"box": [y0, x0, y1, x1] (sensor px of the dark frame, end exclusive),
  "strength": sigma (signed: + brighter), "peak": sigma of its strongest block, "blocks": n,
  "change": mean relative change, null where the region should be about black}``.
  ``options.motion_threshold`` (null: not checked) and ``options.motion_block`` are the
  settings.
- ``review``: rejected by the curator (``review.jsonl`` beside ``alignment.json``, see
  :mod:`curate.review`); the entry carries ``"review": {"time", "user", "reason", "line"}``
  and ``detail`` quotes the note.

Sweeps: every pair has ``"motion": true | false`` (its residual after alignment holds a
region beyond noise) and, when true, ``"motion_region"`` as above; such pairs are kept.

Review (every result since issue 11): ``"review": {"file": "review.jsonl", "lines": n,
"rejected": ["dark/0007.dng", ...], "restored": [...], "damaged": ["review.jsonl line 3:
...", ...]}``: the decisions in force at this run.  A restored frame is kept despite
``motion`` or the intensity rules; a pair restored from ``low_aligned_corr`` is in ``pairs``
with ``"review": {"restored": "low_aligned_corr", "detail": ...}``.  Damaged lines and
decisions on unknown or unvouchable frames are also in ``warnings``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from curate.errors import CurateError
from sublux_common.fsio import atomic_write, atomic_write_json

__all__ = [
    "ALIGNMENT_FILE",
    "CURATION_DIR",
    "SCHEMA_VERSION",
    "Alignment",
    "CorrelationIndex",
    "Drop",
    "FrameEntry",
    "Pair",
    "Reference",
    "Summary",
    "read_alignment",
    "result_dir",
    "summarize",
    "write_alignment",
]

SCHEMA_VERSION = 1
CURATION_DIR = "curation"
ALIGNMENT_FILE = "alignment.json"
CORRELATION_FILE = "correlation.npy"


def result_dir(session: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Where a session's curation lives: ``--out`` or ``SESSION/curation``."""
    return Path(out) if out is not None else Path(session) / CURATION_DIR


# -- records -------------------------------------------------------------------------------
#
# Each record mirrors one JSON object of alignment.json: ``to_json`` writes its keys in the
# documented order (optional keys only when set), ``from_json`` reads it back, with defaults
# for keys an older result lacks.


@dataclass(frozen=True)
class Pair:
    """A matched dark/bright pair (``pairs[]``), or a rejected one (``rejected[]``).

    ``motion`` is set for sweeps only (None: not checked, the key is absent), with
    ``motion_region`` when true.  A rejected pair has ``reason`` and ``detail``; a pair the
    curator restored has ``review`` (``{"restored": reason, "detail": ...}``).
    """

    bright: str
    dark: str
    score: float | None = None
    margin: float | None = None
    ambiguous: bool = False
    dy: float | None = None
    dx: float | None = None
    aligned_corr: float | None = None
    exposure_ratio: float | None = None
    dark_angle: float | None = None
    bright_angle: float | None = None
    motion: bool | None = None
    motion_region: dict[str, Any] | None = None
    reason: str | None = None
    detail: str | None = None
    review: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The pair as its ``alignment.json`` object."""
        out: dict[str, Any] = {
            "bright": self.bright,
            "dark": self.dark,
            "score": self.score,
            "margin": self.margin,
            "ambiguous": self.ambiguous,
            "dy": self.dy,
            "dx": self.dx,
            "aligned_corr": self.aligned_corr,
            "exposure_ratio": self.exposure_ratio,
            "dark_angle": self.dark_angle,
            "bright_angle": self.bright_angle,
        }
        if self.motion is not None:
            out["motion"] = self.motion
        if self.motion_region is not None:
            out["motion_region"] = self.motion_region
        if self.reason is not None:
            out["reason"] = self.reason
        if self.detail is not None:
            out["detail"] = self.detail
        if self.review is not None:
            out["review"] = self.review
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Pair:
        """Read a pair object (missing keys take their defaults)."""
        return cls(
            bright=obj["bright"],
            dark=obj["dark"],
            score=obj.get("score"),
            margin=obj.get("margin"),
            ambiguous=bool(obj.get("ambiguous", False)),
            dy=obj.get("dy"),
            dx=obj.get("dx"),
            aligned_corr=obj.get("aligned_corr"),
            exposure_ratio=obj.get("exposure_ratio"),
            dark_angle=obj.get("dark_angle"),
            bright_angle=obj.get("bright_angle"),
            motion=obj.get("motion"),
            motion_region=obj.get("motion_region"),
            reason=obj.get("reason"),
            detail=obj.get("detail"),
            review=obj.get("review"),
        )


@dataclass(frozen=True)
class Drop:
    """A dropped frame (``dropped[]``) and the fields its reason adds.

    ``expected``/``found`` (the journal's and the file's sha256) are written, both, when
    ``expected`` is set (``hash_mismatch``, ``missing``; ``found`` may be null); ``region``
    for ``motion``; ``review`` (the curator's note) for ``review``.
    """

    file: str
    pass_: str
    reason: str
    detail: str = ""
    expected: str | None = None
    found: str | None = None
    region: dict[str, Any] | None = None
    review: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The drop as its ``alignment.json`` object (``pass_`` is ``pass``)."""
        out: dict[str, Any] = {
            "file": self.file,
            "pass": self.pass_,
            "reason": self.reason,
            "detail": self.detail,
        }
        if self.expected is not None:
            out["expected"] = self.expected
            out["found"] = self.found
        if self.region is not None:
            out["region"] = self.region
        if self.review is not None:
            out["review"] = self.review
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Drop:
        """Read a drop object (missing keys take their defaults)."""
        return cls(
            file=obj["file"],
            pass_=obj.get("pass", "?"),
            reason=obj.get("reason", "?"),
            detail=obj.get("detail") or "",
            expected=obj.get("expected"),
            found=obj.get("found"),
            region=obj.get("region"),
            review=obj.get("review"),
        )


@dataclass(frozen=True)
class Reference:
    """A kept reference of a static session (``references[]``): the burst mean's shift to
    it, their aligned correlation and its capture time."""

    file: str
    dy: float
    dx: float
    aligned_corr: float | None = None
    t: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The reference as its ``alignment.json`` object."""
        return {
            "file": self.file,
            "dy": self.dy,
            "dx": self.dx,
            "aligned_corr": self.aligned_corr,
            "t": self.t,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Reference:
        """Read a reference object."""
        return cls(
            file=obj["file"],
            dy=obj["dy"],
            dx=obj["dx"],
            aligned_corr=obj.get("aligned_corr"),
            t=obj.get("t"),
        )


@dataclass(frozen=True)
class FrameEntry:
    """One frame of a pass (``frames.dark[]``, ``frames.bright[]``): kept or not, and its
    brightness statistics (None when it could not be read)."""

    file: str
    kept: bool = True
    mean_dn: float | None = None
    rel_mean: float | None = None
    clipped: float | None = None
    t: float | None = None
    angle: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The frame as its ``alignment.json`` object."""
        return {
            "file": self.file,
            "kept": self.kept,
            "mean_dn": self.mean_dn,
            "rel_mean": self.rel_mean,
            "clipped": self.clipped,
            "t": self.t,
            "angle": self.angle,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> FrameEntry:
        """Read a frame object (missing keys take their defaults)."""
        return cls(
            file=obj["file"],
            kept=bool(obj.get("kept", True)),
            mean_dn=obj.get("mean_dn"),
            rel_mean=obj.get("rel_mean"),
            clipped=obj.get("clipped"),
            t=obj.get("t"),
            angle=obj.get("angle"),
        )


@dataclass(frozen=True)
class CorrelationIndex:
    """What the rows and columns of ``correlation.npy`` are (``correlation``): the kept dark
    and bright frames, the matching path ``[[bright_i, dark_j], ...]`` and the file."""

    dark: list[str] = field(default_factory=list)
    bright: list[str] = field(default_factory=list)
    path: list[list[int]] = field(default_factory=list)
    file: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The index as its ``alignment.json`` object."""
        out: dict[str, Any] = {"dark": self.dark, "bright": self.bright, "path": self.path}
        if self.file is not None:
            out["file"] = self.file
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> CorrelationIndex:
        """Read the ``correlation`` object (missing keys take their defaults)."""
        return cls(
            dark=list(obj.get("dark") or []),
            bright=list(obj.get("bright") or []),
            path=[list(p) for p in obj.get("path") or []],
            file=obj.get("file"),
        )


@dataclass
class Alignment:
    """A curation result: ``alignment.json`` as records.

    ``path`` is the folder it was read from (None for one not yet written).  ``source``,
    ``options``, ``method``, ``drift``, ``tool`` and ``review`` stay JSON objects (dicts):
    their keys are documented above and read by name where used.
    """

    source: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    method: dict[str, Any] = field(default_factory=dict)
    pairs: list[Pair] = field(default_factory=list)
    rejected: list[Pair] = field(default_factory=list)
    aligned_corr_floor: float | None = None
    references: list[Reference] = field(default_factory=list)
    dropped: list[Drop] = field(default_factory=list)
    frame_entries: dict[str, list[FrameEntry]] = field(default_factory=dict)
    drift: dict[str, Any] | None = None
    correlation_index: CorrelationIndex | None = None
    warnings: list[str] = field(default_factory=list)
    review: dict[str, Any] | None = None
    schema: int = SCHEMA_VERSION
    tool: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    path: Path | None = field(default=None, compare=False)

    def frames(self, pass_: str) -> list[FrameEntry]:
        """The frames of pass ``dark`` or ``bright`` (``[]`` when the result has none)."""
        return self.frame_entries.get(pass_, [])

    def reference_pair(self, dark: str) -> Pair | None:
        """Dark frame ``dark`` against the first kept reference, as a pair with that
        reference's shift and the first known exposure ratio of the kept pairs: how a
        dropped dark frame of a static session is shown.  None without references (sweeps).
        """
        if not self.references:
            return None
        first = self.references[0]
        ratio = next((p.exposure_ratio for p in self.pairs if p.exposure_ratio), None)
        return Pair(dark=dark, bright=first.file, dy=first.dy, dx=first.dx, exposure_ratio=ratio)

    def correlation(self) -> np.ndarray | None:
        """The bright x dark correlation matrix saved beside it, or None."""
        index = self.correlation_index
        if index is None or not index.file or self.path is None:
            return None
        if not (self.path / index.file).exists():
            return None
        return np.load(self.path / index.file, allow_pickle=False)

    def to_json(self) -> dict[str, Any]:
        """The result as ``alignment.json``'s object, keys in the documented order."""
        out: dict[str, Any] = {
            "schema": self.schema,
            "tool": self.tool,
            "created": self.created,
            "source": self.source,
            "options": self.options,
            "method": self.method,
            "pairs": [p.to_json() for p in self.pairs],
            "rejected": [p.to_json() for p in self.rejected],
            "aligned_corr_floor": self.aligned_corr_floor,
            "references": [r.to_json() for r in self.references],
            "dropped": [d.to_json() for d in self.dropped],
            "frames": {k: [f.to_json() for f in v] for k, v in self.frame_entries.items()},
            "drift": self.drift,
        }
        if self.correlation_index is not None:
            out["correlation"] = self.correlation_index.to_json()
        out["warnings"] = self.warnings
        if self.review is not None:
            out["review"] = self.review
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], path: Path | None = None) -> Alignment:
        """Read ``alignment.json``'s object; keys an older result lacks take their defaults
        (``references``, ``rejected`` and ``warnings`` empty, ``review`` None)."""
        corr = obj.get("correlation")
        frames = obj.get("frames") or {}
        return cls(
            schema=obj.get("schema", SCHEMA_VERSION),
            tool=dict(obj.get("tool") or {}),
            created=obj.get("created") or "",
            source=dict(obj.get("source") or {}),
            options=dict(obj.get("options") or {}),
            method=dict(obj.get("method") or {}),
            pairs=[Pair.from_json(p) for p in obj.get("pairs") or []],
            rejected=[Pair.from_json(p) for p in obj.get("rejected") or []],
            aligned_corr_floor=obj.get("aligned_corr_floor"),
            references=[Reference.from_json(r) for r in obj.get("references") or []],
            dropped=[Drop.from_json(d) for d in obj.get("dropped") or []],
            frame_entries={k: [FrameEntry.from_json(f) for f in v] for k, v in frames.items()},
            drift=obj.get("drift"),
            correlation_index=None if corr is None else CorrelationIndex.from_json(corr),
            warnings=list(obj.get("warnings") or []),
            review=obj.get("review"),
            path=path,
        )


@dataclass(frozen=True)
class Summary:
    """The facts ``curate align`` prints about a result (:func:`summarize`).

    ``dropped`` counts drops by reason, in the order the reasons first appear;
    ``exposure_ratio`` is the (lowest, highest) known ratio of the kept pairs, None when no
    pair knows it; ``max_shift_px`` the largest ``max(|dy|, |dx|)`` of a kept pair, None
    without pairs.
    """

    title: str
    pairs: int
    references: int
    rejected: int
    ambiguous: int
    dropped: dict[str, int]
    exposure_ratio: tuple[float, float] | None
    max_shift_px: float | None
    warnings: list[str]


def summarize(alignment: Alignment) -> Summary:
    """Summary statistics of a curation result.

    Parameters
    ----------
    alignment : Alignment
        A result (:func:`read_alignment`).

    Returns
    -------
    Summary
        Counts of pairs, references, rejected and ambiguous pairs and drops by reason, the
        range of exposure ratios, the largest shift and the warnings.
    """
    dropped: dict[str, int] = {}
    for d in alignment.dropped:
        dropped[d.reason] = dropped.get(d.reason, 0) + 1
    ratios = sorted({p.exposure_ratio for p in alignment.pairs if p.exposure_ratio})
    shifts = [max(abs(p.dy or 0.0), abs(p.dx or 0.0)) for p in alignment.pairs]
    source = alignment.source
    return Summary(
        title=str(source.get("scene") or source.get("dark")),
        pairs=len(alignment.pairs),
        references=len(alignment.references),
        rejected=len(alignment.rejected),
        ambiguous=sum(bool(p.ambiguous) for p in alignment.pairs),
        dropped=dropped,
        exposure_ratio=(ratios[0], ratios[-1]) if ratios else None,
        max_shift_px=max(shifts) if shifts else None,
        warnings=list(alignment.warnings),
    )


def write_alignment(
    folder: str | os.PathLike,
    alignment: Alignment,
    correlation: np.ndarray | None = None,
) -> Path:
    """Write ``alignment.json`` (and the correlation matrix) atomically into ``folder``.

    Parameters
    ----------
    folder : str or os.PathLike
        The result folder (created if needed).
    alignment : Alignment
        The result; its ``schema``, ``tool`` and ``created`` are stamped now (a hand-built
        result: :meth:`Alignment.from_json` of its JSON).
    correlation : ndarray, optional
        The bright x dark correlation matrix, saved as ``correlation.npy`` (float32) and
        named in ``correlation.file``.

    Returns
    -------
    pathlib.Path
        ``folder/alignment.json``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    from sublux_common import __version__

    stamp = {
        "schema": SCHEMA_VERSION,
        "tool": {"name": "sublux", "version": __version__},
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if correlation is not None:
        with atomic_write(folder / CORRELATION_FILE, "wb") as fh:
            np.save(fh, np.asarray(correlation, dtype=np.float32), allow_pickle=False)
    index = alignment.correlation_index
    if correlation is not None:
        index = replace(index or CorrelationIndex(), file=CORRELATION_FILE)
    data = replace(alignment, correlation_index=index, **stamp).to_json()
    atomic_write_json(folder / ALIGNMENT_FILE, data)
    return folder / ALIGNMENT_FILE


def read_alignment(folder: str | os.PathLike) -> Alignment:
    """Read a curation result folder (or a session, whose ``curation/`` is read).

    Parameters
    ----------
    folder : str or os.PathLike
        A folder holding ``alignment.json``, or a session holding ``curation/alignment.json``.

    Returns
    -------
    Alignment
        The result, with ``path`` the folder holding ``alignment.json``.

    Raises
    ------
    curate.errors.CurateError
        No ``alignment.json``, one that is not JSON, one of another schema, or one whose
        entries lack their names or have another shape (edited or damaged).
    """
    folder = Path(folder)
    if not (folder / ALIGNMENT_FILE).exists() and (folder / CURATION_DIR / ALIGNMENT_FILE).exists():
        folder = folder / CURATION_DIR
    path = folder / ALIGNMENT_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CurateError(
            f"expected a curation result at {path}, found none; run `curate align` on the "
            "session first"
        ) from None
    except json.JSONDecodeError as exc:
        raise CurateError(f"{path} is not valid JSON ({exc}); re-run `curate align`") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise CurateError(
            f"{path}: expected curation schema {SCHEMA_VERSION}, found {found!r}; "
            "re-run `curate align` with this version of sublux"
        )
    try:
        return Alignment.from_json(data, path=folder)
    except KeyError as exc:
        raise CurateError(
            f"{path}: expected every pair, drop, reference and frame entry to name its file, "
            f"found one without {exc}; the file was edited or damaged: re-run `curate align "
            "--force`"
        ) from None
    except (TypeError, AttributeError) as exc:
        raise CurateError(
            f"{path}: expected the objects and lists of curation schema {SCHEMA_VERSION}, "
            f"found another shape ({exc}); the file was edited or damaged: re-run "
            "`curate align --force`"
        ) from None
