"""Build the data of a release: sessions and their curation into HDF5 split files.

Reads sessions only through :mod:`capture.session` and curation only through
:mod:`curate.result`; raw files are decoded by :mod:`curate.raw`.  Writes ``data/*.h5`` through
:mod:`dataset_card.h5writer`, ``pairs.csv`` and ``pairs.parquet`` (one row per paired short frame),
and each split's Parquet row table with small previews (:mod:`dataset_card.parquet`), all from
:func:`example_rows`.

Geometry: a pair's shift (dy, dx) says a scene point at (y, x) of the dark frame is at
(y + dy, x + dx) of the bright frame.  Each reference's window is offset from the short window
by its own shift (the curation's ``references`` entry, or the median of its pairs' shifts for a
curation made before that key existed) rounded to an even number of pixels (so the CFA phase
stays), and the residual, at most one pixel, is recorded per short frame (and per reference in
``long_frames``).  The short window is the largest one for which every reference window stays
on the sensor.

Integrity: every frame is read once, through :meth:`capture.session.Session.read_frame`, which
checks its size and sha256 against the journal; the bytes so checked are what is decoded,
once (a reference's ground truth is rendered from the file LibRaw already holds open).  A
frame that changed after capture (or after curation) stops the build with
:class:`~dataset_card.errors.FrameChanged`: a release never holds pixels its recorded sha256
does not vouch for.

Every kept reference of a static session is written (``long``, ``gt_srgb``); with K > 1 of
them the registered mean (``long_mean``, float32) and its rendering (``gt_mean_srgb``) are
written too: a ground truth with the references' noise divided by sqrt(K), as SIDD builds its
ground truth.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

from capture.errors import CaptureError, FrameMismatch
from capture.session import FrameRecord, Session, open_session
from curate.errors import CurateError
from curate.raw import open_raw, render_mosaic
from curate.result import Alignment, read_alignment
from dataset_card import video
from dataset_card.croissant import PAIRS_COLUMNS, PAIRS_CSV_COLUMNS
from dataset_card.errors import BadRelease, FrameChanged
from dataset_card.h5verify import file_summary
from dataset_card.h5writer import SplitWriter
from dataset_card.parquet import (
    PAIRS_PARQUET,
    RowsWriter,
    preview_ground_truth,
    preview_short,
    preview_size,
    write_pairs_parquet,
)
from dataset_card.schema import (
    DEFAULT_CODEC,
    LongFrameRow,
    ShortFrameRow,
)
from dataset_card.splits import DYNAMIC, SPLITS, assign_splits, read_split_lists
from sublux_common.fsio import atomic_write
from sublux_common.memory import release_freed_memory
from sublux_common.progress import OnProgress

__all__ = [
    "BuildResult",
    "FrameEntry",
    "LongEntry",
    "SessionPlan",
    "ShortEntry",
    "build",
    "example_rows",
    "plan_sessions",
    "read_checked",
    "render_mean",
]

log = logging.getLogger(__name__)


def _even(v: float) -> int:
    return int(2 * round(v / 2))


def _num(v) -> float:
    return float("nan") if v is None else float(v)


@dataclass
class FrameEntry:
    """A frame a session plan puts in the release: the fields of its frame-table row
    (:class:`~dataset_card.schema.FrameRow`) and where its checked bytes come from.

    Attributes
    ----------
    file, sha256 : str
        The frame's name within its pass and its journalled sha256.
    exposure_s, iso, t, angle : float or None
        As journalled (None: unknown; the tables store NaN).
    record : FrameRecord or None
        The journal record its bytes are checked against (:func:`read_checked`); None only
        for an entry made by hand (tests of the tables).
    path : Path or None
        The frame's file, for messages.
    """

    file: str
    sha256: str
    exposure_s: float | None
    iso: float | None
    t: float | None
    angle: float | None
    record: FrameRecord | None = field(default=None, repr=False)
    path: Path | None = None

    @classmethod
    def of(cls, session: Session, record: FrameRecord, **fields: Any) -> Self:
        """The entry of one journalled frame of ``session``; ``fields`` set the rest."""
        return cls(
            file=record.name,
            sha256=record.sha256,
            exposure_s=record.shutter_s,
            iso=record.iso,
            t=record.t_start,
            angle=record.angle,
            record=record,
            path=session.frame_path(record),
            **fields,
        )

    def _row_fields(self) -> dict[str, Any]:
        """The :class:`~dataset_card.schema.FrameRow` fields, by name (None as NaN)."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "exposure_s": _num(self.exposure_s),
            "iso": _num(self.iso),
            "t": _num(self.t),
            "angle": _num(self.angle),
        }


@dataclass
class ShortEntry(FrameEntry):
    """A kept short frame of a plan and the pair it is in (a row of ``short_frames``).

    ``ref`` indexes the plan's ``long`` (-1: unpaired, then ``score``, ``dy``, ``dx`` and
    ``exposure_ratio`` are NaN); ``dy``/``dx`` are the pair's shift left after its
    reference's even offset.
    """

    ref: int = -1
    score: float = math.nan
    dy: float = math.nan
    dx: float = math.nan
    exposure_ratio: float = math.nan

    @property
    def paired(self) -> bool:
        """Whether the frame has a reference."""
        return self.ref >= 0

    def row(self) -> ShortFrameRow:
        """The entry as its ``short_frames`` row, filled by field name."""
        return ShortFrameRow(
            **self._row_fields(),
            ref=self.ref,
            score=_num(self.score),
            dy=_num(self.dy),
            dx=_num(self.dx),
            exposure_ratio=_num(self.exposure_ratio),
        )


@dataclass
class LongEntry(FrameEntry):
    """A reference of a plan (a row of ``long_frames``): where its window sits relative to
    the short window (``offset``, even for a raw reference) and its own shift left after
    that offset (``residual``, at most a pixel)."""

    offset: tuple[int, int] = (0, 0)
    residual: tuple[float, float] = (0.0, 0.0)

    def row(self) -> LongFrameRow:
        """The entry as its ``long_frames`` row, filled by field name."""
        (oy, ox), (dy, dx) = self.offset, self.residual
        return LongFrameRow(**self._row_fields(), offset_y=oy, offset_x=ox, dy=dy, dx=dx)


@dataclass
class SessionPlan:
    """What one session contributes to a release."""

    session: Session
    alignment: Alignment | None
    kind: str
    split: str = ""
    short: list[ShortEntry] = field(default_factory=list)
    long: list[LongEntry] = field(default_factory=list)
    window: tuple[int, int, int, int] = (0, 0, 0, 0)
    sensor: tuple[int, int] = (0, 0)
    attrs: dict = field(default_factory=dict)

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def scene(self) -> str:
        return self.session.scene

    @property
    def mean_reference(self) -> bool:
        """Whether the release gets the registered mean of the references (``long_mean``): a
        static session with more than one kept reference (a sweep's references show different
        positions, so they have no mean)."""
        return self.kind == "static" and len(self.long) > 1

    def unused_references(self) -> list[dict]:
        """References the curation did not use, with its reason (``dropped``, pass bright),
        and kept references no pair names (a curation made before every reference was kept)."""
        out: list[dict] = []
        if self.alignment is None:
            return out
        for d in self.alignment.dropped:
            if d.pass_ == "bright":
                out.append({"file": d.file, "reason": d.reason, "detail": d.detail or ""})
        if self.kind != "static":
            return out  # a sweep's bright frames no dark frame was matched to are not lost
        used = {entry.file for entry in self.long} | {d["file"] for d in out}
        for fr in self.alignment.frames("bright"):
            if fr.kept and fr.file not in used:
                out.append(
                    {
                        "file": fr.file,
                        "reason": "unused_reference",
                        "detail": "kept by curation but paired with no frame (a curation made "
                        "before every reference was kept; `curate align --force` pairs it)",
                    }
                )
        return out

    def summary(self) -> dict:
        """The per-session facts the card and Croissant need (never serials or GPS)."""
        a = self.attrs
        dropped: dict[str, int] = {}
        if self.alignment is not None:
            for d in self.alignment.dropped:
                dropped[d.reason] = dropped.get(d.reason, 0) + 1
        return {
            "id": self.session_id,
            "scene": self.scene,
            "split": self.split,
            "kind": self.kind,
            "camera_make": a["camera_make"],
            "camera_model": a["camera_model"],
            "iso": None if math.isnan(a["iso"]) else a["iso"],
            "short_exposure_s": None
            if math.isnan(a["short_exposure_s"])
            else a["short_exposure_s"],
            "long_exposure_s": None if math.isnan(a["long_exposure_s"]) else a["long_exposure_s"],
            "exposure_ratio": None if math.isnan(a["exposure_ratio"]) else a["exposure_ratio"],
            "lux": None if math.isnan(a["lux"]) else a["lux"],
            "lighting": a["lighting"],
            "frames_short": len(self.short),
            "frames_long": len(self.long),
            "pairs": sum(1 for s in self.short if s.paired),
            "dropped": dropped,
            "rejected": 0 if self.alignment is None else len(self.alignment.rejected),
            "registration": a["registration"],
            "simulated": self.session.simulated,
            "modality": a.get("modality", "raw"),
            "warnings": [{"code": w.code, "message": w.message} for w in self.session.warnings],
            "unused_references": self.unused_references(),
            "mean_reference": self.mean_reference,
        }


def read_checked(session: Session, record: FrameRecord) -> bytes:
    """A frame's bytes, read once and checked against its journal record.

    Raises
    ------
    FrameChanged
        The file is missing, or its size or sha256 differs from the journal's: nothing of a
        release may be built from it.  The message names the file, the expected and found
        values, and what to do.
    """
    try:
        return session.read_frame(record)
    except FrameMismatch as exc:
        found = {
            "missing": "no file",
            "size": f"{exc.found} bytes",
            "hash_mismatch": f"sha256 {exc.found}",
        }.get(exc.problem, exc.found)
        expected = f"{exc.expected} bytes" if exc.problem == "size" else f"sha256 {exc.expected}"
        where = session.path / record.path
        curated = record.pass_ == "bright" or bool(session.frames("bright"))
        fix = (
            f"re-curate with `curate align {session.path} --force` (curation drops a frame "
            "that differs from its journal record as hash_mismatch), or restore the file from "
            "a backup, then publish again"
            if curated
            else "restore the file from a backup, or leave the session out, then publish again"
        )
        raise FrameChanged.from_mismatch(
            f"{where}: expected {expected} as journalled at capture, found {found}; the file "
            f"changed after capture, so its pixels are not the frame the journal (and the "
            f"release) would name. Nothing was published; {fix}",
            exc,
            path=str(where),
        ) from None


def _plan_one(path: str | os.PathLike) -> SessionPlan:
    try:
        s = open_session(path)
    except CaptureError as exc:
        raise BadRelease(str(exc)) from None
    has_refs = bool(s.frames("bright"))
    alignment = None
    if has_refs:
        try:
            alignment = read_alignment(path)
        except CurateError:
            raise BadRelease(
                f"expected {path} to be curated, found no curation result; run `curate run "
                f"{path}` first (sessions without references go in as dynamic, uncurated)"
            ) from None
        if alignment.source.get("session_id") != s.session_id:
            raise BadRelease(
                f"{path}: the curation result belongs to session "
                f"{alignment.source.get('session_id')!r}, not {s.session_id!r}; re-run "
                f"`curate align {path} --force`"
            )
    dark = {f.name: f for f in s.frames("dark")}
    plan = SessionPlan(session=s, alignment=alignment, kind=s.kind if has_refs else DYNAMIC)
    if alignment is None:
        plan.short = [ShortEntry.of(s, f) for f in dark.values()]
        if not plan.short:
            raise BadRelease(f"expected frames in {path}, found none")
    else:
        bright = {f.name: f for f in s.frames("bright")}
        pairs = {p.dark: p for p in alignment.pairs}
        refs, shifts = _references(alignment)
        if not refs:
            raise BadRelease(
                f"expected aligned pairs in the curation of {path}, found none (every pair "
                "was rejected or every frame dropped); check its report"
            )
        missing = [f for f in refs if f not in bright]
        if missing:
            raise BadRelease(
                f"{path}: the curation names reference(s) {', '.join(missing)} that the "
                f"journal does not list; re-run `curate align {path} --force`"
            )
        ref_index = {f: k for k, f in enumerate(refs)}
        offsets = {f: (_even(dy), _even(dx)) for f, (dy, dx) in shifts.items()}
        for fr in alignment.frames("dark"):
            if not fr.kept:
                continue
            p = pairs.get(fr.file)
            if p is None:
                plan.short.append(ShortEntry.of(s, dark[fr.file]))
                continue
            oy, ox = offsets[p.bright]
            plan.short.append(
                ShortEntry.of(
                    s,
                    dark[fr.file],
                    ref=ref_index[p.bright],
                    score=p.score,
                    dy=p.dy - oy,
                    dx=p.dx - ox,
                    exposure_ratio=_num(p.exposure_ratio),
                )
            )
        plan.long = [
            LongEntry.of(
                s,
                bright[f],
                offset=offsets[f],
                residual=(shifts[f][0] - offsets[f][0], shifts[f][1] - offsets[f][1]),
            )
            for f in refs
        ]
    return plan


def _references(alignment: Alignment) -> tuple[list[str], dict[str, tuple[float, float]]]:
    """The references a release holds, in order, and each one's shift (dy, dx).

    A curation with ``references`` (every kept reference of a static session, each with its
    own registration) gives them; one made before that key existed gives the references its
    pairs name, sorted, each with the median of its pairs' shifts.
    """
    listed = alignment.references
    if listed:
        refs = [r.file for r in listed]
        return refs, {r.file: (float(r.dy), float(r.dx)) for r in listed}
    refs = sorted({p.bright for p in alignment.pairs})
    shifts = {}
    for f in refs:
        ps = [p for p in alignment.pairs if p.bright == f]
        shifts[f] = (
            float(np.median([p.dy for p in ps])),
            float(np.median([p.dx for p in ps])),
        )
    return refs, shifts


def _geometry(plan: SessionPlan) -> None:
    first_frame = plan.short[0]
    data = read_checked(plan.session, first_frame.record)
    with open_raw(data, name=str(first_frame.path)) as raw:  # the size and levels; no copy
        hs, ws = raw.mosaic.shape
        first = dataclasses.replace(raw, mosaic=np.empty((0, 0), np.uint16))
    plan.sensor = (hs, ws)
    oys = [entry.offset[0] for entry in plan.long] or [0]
    oxs = [entry.offset[1] for entry in plan.long] or [0]
    y0, x0 = max(0, -min(oys)), max(0, -min(oxs))
    h = (hs - y0 - max(0, max(oys))) // 2 * 2
    w = (ws - x0 - max(0, max(oxs))) // 2 * 2
    if h < 32 or w < 32:
        raise BadRelease(
            f"{plan.session.path}: the pairs' shifts (up to {max(map(abs, oys))} x "
            f"{max(map(abs, oxs))} px) leave no common region on a {ws}x{hs} sensor; check "
            "the curation report"
        )
    plan.window = (y0, x0, h, w)
    ratios = [s.exposure_ratio for s in plan.short if not math.isnan(s.exposure_ratio)]
    camera = plan.session.camera
    matrix = first.color_matrix
    if matrix is None and plan.long:
        # references are rendered to the ground truth, which needs the colour matrix
        try:
            first.require_color_matrix()
        except CurateError as exc:
            raise BadRelease(f"{plan.session.path}: {exc}") from None
    plan.attrs = {
        "black_level": [float(v) for v in first.black_level],
        "white_level": int(first.white_level),
        "cfa": first.cfa,
        "white_balance": [float(v) for v in first.white_balance],
        "color_matrix": (
            [math.nan] * 9 if matrix is None else [float(v) for row in matrix for v in row]
        ),
        "exposure_ratio": float(np.median(ratios)) if ratios else math.nan,
        "iso": _num(plan.short[0].iso),
        "short_exposure_s": _num(plan.short[0].exposure_s),
        "long_exposure_s": _num(plan.long[0].exposure_s) if plan.long else math.nan,
        "camera_make": camera.make or first.make,
        "camera_model": camera.model or first.model,
        "lighting": plan.session.lighting,
        "lux": _num(plan.session.lux),
        "kind": plan.kind,
        "registration": (
            plan.alignment.method["registration"] if plan.alignment else "none (no references)"
        ),
        "crop": [y0, x0, h, w],
    }


def plan_sessions(
    sessions: Sequence[str | os.PathLike],
    *,
    seed: int = 0,
    fractions: dict[str, float] | None = None,
    split_lists: str | os.PathLike | None = None,
    previous: dict[str, str] | None = None,
) -> list[SessionPlan]:
    """Read every session and its curation, check them, and assign splits."""
    if not sessions:
        raise BadRelease("expected at least one session, found none")
    plans = [_plan_one(p) for p in sessions]
    ids = [p.session_id for p in plans]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise BadRelease(f"expected each session once, found {', '.join(sorted(dup))} twice")
    ref_scenes = {p.scene for p in plans if p.kind != DYNAMIC}
    both = ref_scenes & {p.scene for p in plans if p.kind == DYNAMIC}
    if both:
        raise BadRelease(
            f"scene(s) {', '.join(sorted(both))} have sessions with and without references; a "
            "scene may be in one split only, so give the dynamic sessions their own scene name"
        )
    if split_lists is not None:
        assignment = read_split_lists(split_lists, ref_scenes)
    else:
        extra = {"fractions": fractions} if fractions else {}
        assignment = assign_splits(ref_scenes, seed=seed, previous=previous, **extra)
    for p in plans:
        p.split = DYNAMIC if p.kind == DYNAMIC else assignment[p.scene]
        # issue 14: a session imported from video keeps its 8-bit frames (dataset_card.video)
        (video.geometry if video.is_video(p.session) else _geometry)(p)
    return plans


@dataclass
class BuildResult:
    plans: list[SessionPlan]
    files: dict[str, list[Path]]  # split -> final h5 paths
    session_file: dict[str, Path]  # session id -> the h5 file holding it
    pairs_csv: Path
    rows: dict[str, Path] = field(default_factory=dict)  # split -> parquet/<split>.parquet


def _crop(a: np.ndarray, y: int, x: int, h: int, w: int) -> np.ndarray:
    """An owned C-ordered copy of the window (a view of the whole frame would be no copy)."""
    return np.array(a[y : y + h, x : x + w], order="C", copy=True)


def _in_order(pool: ThreadPoolExecutor, fn: Callable, items: Sequence, ahead: int) -> Iterator:
    """``pool.map(fn, items)`` with at most ``ahead`` results decoded ahead of the writer, so
    a burst is never held in memory whole when writing is slower than decoding."""
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _short_window(plan: SessionPlan, entry: ShortEntry) -> np.ndarray:
    """The release's window of one short frame, cut while the frame is in LibRaw's buffer,
    decoded from the bytes checked against the journal."""
    y0, x0, h, w = plan.window
    data = read_checked(plan.session, entry.record)
    with open_raw(data, name=str(entry.path)) as raw:
        if raw.mosaic.shape != plan.sensor:
            raise BadRelease(f"{entry.path}: expected {plan.sensor}, found {raw.mosaic.shape}")
        return _crop(raw.mosaic, y0, x0, h, w)


def _long_window(plan: SessionPlan, entry: LongEntry) -> tuple[np.ndarray, np.ndarray]:
    """A reference's window and the window of its sRGB rendering, from one checked read and
    one decode (the ground truth is rendered from the file LibRaw already holds open)."""
    y0, x0, h, w = plan.window
    y, x = y0 + entry.offset[0], x0 + entry.offset[1]
    data = read_checked(plan.session, entry.record)
    name = str(entry.path)
    with open_raw(data, name=name) as raw:
        if raw.mosaic.shape != plan.sensor:
            raise BadRelease(f"{name}: expected {plan.sensor}, found {raw.mosaic.shape}")
        mosaic = _crop(raw.mosaic, y, x, h, w)
        rgb = raw.render_srgb()
    return mosaic, _crop(rgb, y, x, h, w)


def render_mean(mean: np.ndarray, attrs: dict) -> np.ndarray:
    """The sRGB rendering of the references' mean: the mean rounded to whole DN, rendered
    with the session's levels, white balance and colour matrix (:func:`render_mosaic`)."""
    mosaic = np.clip(np.rint(mean), 0, 65535).astype(np.uint16)
    return render_mosaic(
        mosaic,
        black_level=attrs["black_level"],
        white_level=attrs["white_level"],
        cfa=attrs["cfa"],
        white_balance=attrs["white_balance"],
        color_matrix=attrs["color_matrix"],
    )


def _is_example(plan: SessionPlan, entry: ShortEntry) -> bool:
    """Whether a short frame is one of the release's examples (a row of its split's table):
    a paired frame, or any frame of a session without references."""
    return entry.paired or plan.kind == DYNAMIC


def _short_and_preview(plan: SessionPlan, entry: ShortEntry) -> tuple[np.ndarray, bytes | None]:
    frame = _short_window(plan, entry)
    if not _is_example(plan, entry):
        return frame, None
    return frame, preview_short(frame, plan.attrs, entry.exposure_ratio)


def start_group(writer: SplitWriter, plan: SessionPlan, *, gt: bool, **options: Any) -> Any:
    """Start the session's HDF5 group, shaped by its plan (either layout): ``short`` (T, H, W),
    ``long`` (K, H, W) when it keeps references and ``gt_srgb`` (K, H, W, 3) when ``gt`` too;
    ``options`` go to :meth:`SplitWriter.add_session` (``mean``, ``srgb``)."""
    _, _, h, w = plan.window
    k = len(plan.long)
    return writer.add_session(
        plan.session_id,
        scene=plan.scene,
        attrs=plan.attrs,
        short_shape=(len(plan.short), h, w),
        long_shape=(k, h, w) if k else None,
        gt_shape=(k, h, w, 3) if k and gt else None,
        **options,
    )


def _write_session(
    writer: SplitWriter,
    plan: SessionPlan,
    pool: ThreadPoolExecutor,
    ahead: int,
    tick: Callable[[], None],
    rows: RowsWriter | None = None,
) -> None:
    if video.is_video(plan.session):  # issue 14: the 8-bit sRGB layout
        previews = video.write_session(writer, plan, tick)
        _add_rows(rows, plan, *previews)
        return
    _, _, h, w = plan.window
    short_previews: dict[int, bytes] = {}
    gt_previews: dict[int, bytes] = {}
    k = len(plan.long)
    g = start_group(writer, plan, gt=True, mean=plan.mean_reference)

    for i, (frame, preview) in enumerate(
        _in_order(pool, lambda e: _short_and_preview(plan, e), plan.short, ahead)
    ):
        g.write_short(i, frame)
        if preview is not None:
            short_previews[i] = preview
        tick()

    total = np.zeros((h, w), np.float64) if plan.mean_reference else None
    size = preview_size(h, w)
    for j, (mosaic, rgb) in enumerate(
        _in_order(pool, lambda e: _long_window(plan, e), plan.long, ahead)
    ):
        g.write_long(j, mosaic)
        g.write_gt(j, rgb)
        gt_previews[j] = preview_ground_truth(rgb, size)
        if total is not None:
            total += mosaic
        tick()
    if total is not None:
        mean = (total / k).astype(np.float32)
        g.write_mean(mean, render_mean(mean, plan.attrs))
    _write_tables(g, plan)
    g.close()
    _add_rows(rows, plan, short_previews, gt_previews)


def _add_rows(
    rows: RowsWriter | None,
    plan: SessionPlan,
    short_previews: dict[int, bytes],
    gt_previews: dict[int, bytes],
) -> None:
    """The session's examples, with their previews, into the split's Parquet table."""
    if rows is None:
        return
    rows.add(
        [
            {
                **row,
                "short_preview": short_previews[row["short_index"]],
                "gt_preview": gt_previews.get(row["ref_index"]),
            }
            for row in example_rows(plan, "")
        ]
    )


def _write_tables(g: Any, plan: SessionPlan) -> None:
    """``short_frames`` and ``long_frames`` of a session (either layout)."""
    g.write_table("short_frames", ShortFrameRow.table(s.row() for s in plan.short))
    if plan.long:
        g.write_table("long_frames", LongFrameRow.table(s.row() for s in plan.long))


def build(
    plans: Sequence[SessionPlan],
    out: str | os.PathLike,
    *,
    name: str,
    version: str,
    created: str,
    tool_version: str,
    codec: str = DEFAULT_CODEC,
    shard_bytes: int = 4 * 10**9,
    workers: int = 2,
    progress: OnProgress | None = None,
) -> BuildResult:
    """Write ``data/<split>*.h5``, ``parquet/<split>.parquet`` (the rows of
    :func:`example_rows`, with previews), ``pairs.csv`` and ``pairs.parquet`` under ``out``."""
    out = Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    total = sum(len(p.short) + len(p.long) for p in plans)
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress:
            progress("package", done[0], total)

    files: dict[str, list[Path]] = {}
    session_file: dict[str, Path] = {}
    rows: dict[str, Path] = {}
    order = [*SPLITS, DYNAMIC]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for split in order:
            members = [p for p in plans if p.split == split]
            if not members:
                continue
            root = {
                "dataset_name": name,
                "version": version,
                "tool_version": tool_version,
                "created": created,
                "split": split,
            }
            table = RowsWriter(out, split)
            try:
                with SplitWriter(
                    out / "data", split, codec=codec, shard_bytes=shard_bytes, root_attrs=root
                ) as writer:
                    for p in members:
                        _write_session(writer, p, pool, workers + 1, tick, table)
                        release_freed_memory()  # each session starts from the same memory
                    paths = writer.close()
                files[split] = [Path(x) for x in paths]
                for f in files[split]:
                    for sid in file_summary(f)["sessions"]:
                        session_file[sid] = f
                rows[split] = table.close(
                    {
                        p.session_id: session_file[p.session_id].relative_to(out).as_posix()
                        for p in members
                    }
                )
            except BaseException:
                table.abort()
                raise
    pairs_csv = out / "pairs.csv"
    buf = io.StringIO()
    wr = csv.DictWriter(buf, fieldnames=list(PAIRS_CSV_COLUMNS), lineterminator="\n")
    wr.writeheader()
    for row in pair_rows(plans, session_file, out):
        wr.writerow(row)
    with atomic_write(pairs_csv, "w") as fh:
        fh.write(buf.getvalue())
    write_pairs_parquet(pair_rows(plans, session_file, out), out / PAIRS_PARQUET, PAIRS_COLUMNS)
    return BuildResult(list(plans), files, session_file, pairs_csv, rows)


def example_rows(plan: SessionPlan, file: str) -> Iterator[dict]:
    """The examples one session contributes: a row per paired short frame (per short frame
    of a session without references), with the columns of ``pairs.csv`` and ``long_sha256``.

    ``file`` is the release-relative HDF5 file holding the session.  This is the one place
    that says what a row is: ``pairs.csv``, ``pairs.parquet`` and the per-split Parquet tables
    of the card's configs are all written from it.
    """
    for i, s in enumerate(plan.short):
        if not _is_example(plan, s):
            continue
        ref = plan.long[s.ref] if s.paired else None
        yield {
            "split": plan.split,
            "session_id": plan.session_id,
            "scene": plan.scene,
            "file": file,
            "short_index": i,
            "ref_index": s.ref,
            "short_file": s.file,
            "short_sha256": s.sha256,
            "long_file": ref.file if ref else "",
            "long_sha256": ref.sha256 if ref else "",
            "exposure_ratio": s.exposure_ratio,
            "iso": s.iso,
            "short_exposure_s": s.exposure_s,
            "long_exposure_s": ref.exposure_s if ref else math.nan,
            "dy": round(s.dy, 4),
            "dx": round(s.dx, 4),
            "score": s.score,
            "lux": plan.attrs["lux"],
            "kind": plan.kind,
        }


def pair_rows(plans: Iterable[SessionPlan], session_file: dict[str, Path], root: Path):
    """Rows of ``pairs.csv``: every short frame that has a reference."""
    for p in plans:
        if p.kind == DYNAMIC:
            continue
        file = session_file[p.session_id].relative_to(root).as_posix()
        for row in example_rows(p, file):
            yield {k: row[k] for k in PAIRS_CSV_COLUMNS}
