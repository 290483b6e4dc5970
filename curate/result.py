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
  "change": mean relative change}``.  ``options.motion_threshold`` (null: not checked) and
  ``options.motion_block`` are the settings.
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
from dataclasses import dataclass
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
    "read_alignment",
    "result_dir",
    "write_alignment",
]

SCHEMA_VERSION = 1
CURATION_DIR = "curation"
ALIGNMENT_FILE = "alignment.json"
CORRELATION_FILE = "correlation.npy"


def result_dir(session: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Where a session's curation lives: ``--out`` or ``SESSION/curation``."""
    return Path(out) if out is not None else Path(session) / CURATION_DIR


@dataclass
class Alignment:
    """A curation result as read back."""

    path: Path
    data: dict[str, Any]

    @property
    def pairs(self) -> list[dict]:
        return self.data["pairs"]

    @property
    def dropped(self) -> list[dict]:
        return self.data["dropped"]

    @property
    def references(self) -> list[dict]:
        """The kept references of a static session (``[]`` for sweeps and older results)."""
        return self.data.get("references") or []

    @property
    def rejected(self) -> list[dict]:
        return self.data.get("rejected", [])

    @property
    def source(self) -> dict:
        return self.data["source"]

    def frames(self, pass_: str) -> list[dict]:
        return self.data["frames"][pass_]

    def correlation(self) -> np.ndarray | None:
        corr = self.data.get("correlation") or {}
        f = corr.get("file")
        if not f or not (self.path / f).exists():
            return None
        return np.load(self.path / f, allow_pickle=False)


def write_alignment(
    folder: str | os.PathLike, data: dict[str, Any], correlation: np.ndarray | None = None
) -> Path:
    """Write ``alignment.json`` (and the correlation matrix) atomically into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    from sublux_common import __version__

    data = {
        "schema": SCHEMA_VERSION,
        "tool": {"name": "sublux", "version": __version__},
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **data,
    }
    if correlation is not None:
        with atomic_write(folder / CORRELATION_FILE, "wb") as fh:
            np.save(fh, np.asarray(correlation, dtype=np.float32), allow_pickle=False)
        data.setdefault("correlation", {})["file"] = CORRELATION_FILE
    atomic_write_json(folder / ALIGNMENT_FILE, data)
    return folder / ALIGNMENT_FILE


def read_alignment(folder: str | os.PathLike) -> Alignment:
    """Read a curation result folder (or a session, whose ``curation/`` is read)."""
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
    if data.get("schema") != SCHEMA_VERSION:
        raise CurateError(
            f"{path}: expected curation schema {SCHEMA_VERSION}, found {data.get('schema')!r}; "
            "re-run `curate align` with this version of sublux"
        )
    return Alignment(path=folder, data=data)
