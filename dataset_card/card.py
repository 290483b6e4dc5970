"""The Hugging Face dataset card (``README.md``) of a release, and its offline check.

The card is built with huggingface_hub's card API: the front matter is a
:class:`huggingface_hub.DatasetCardData` (license, task, tags, size bucket, one ``configs`` entry
per kind of split naming each split's Parquet row table, ``dataset_info`` with the features and
the examples and bytes of those tables) and
the prose comes from the Jinja2 templates in ``dataset_card/templates/card/`` (``card.md.j2``
and one template per section), rendered by :func:`render_card`; this module gathers the
numbers and table rows they print and checks a written card.  The
prose answers the questions of *Datasheets for Datasets* (Gebru et al., 2021): motivation,
composition, collection, preprocessing, uses, distribution, maintenance, with the numbers
computed from the per-session summaries the packager hands over in a :class:`ReleaseInfo`.

:func:`check_card` is the offline completeness check; ``DatasetCard.validate()`` asks the Hub,
so it is never called here.  Camera serial numbers and GPS data never enter a release: the card
reads only a fixed list of session keys, and :func:`check_card` fails on anything that looks
like a ``serial`` or ``gps`` key.
"""

from __future__ import annotations

import logging
import math
import os
import re
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from capture.protocols import format_shutter
from dataset_card.errors import BadRelease
from dataset_card.parquet import PARQUET_DIR, PREVIEW_SIDE, card_features
from dataset_card.schema import CODEC_ATTRS, ROOT_ATTRS, SCHEMA_VERSION, layout_rows
from dataset_card.templating import code, count, md_text, render
from sublux_common.fsio import atomic_write

__all__ = [
    "PLACEHOLDERS",
    "REQUIRED_METADATA",
    "REQUIRED_SECTIONS",
    "RESULTS_SECTION",
    "FileInfo",
    "ReleaseInfo",
    "SessionSummary",
    "SplitInfo",
    "add_results_section",
    "bibtex_text",
    "build_card",
    "cameras_text",
    "check_card",
    "check_release_info",
    "default_citation",
    "find_sensitive",
    "format_span",
    "render_card",
    "shutter_text",
    "size_category",
    "summarize_sessions",
    "write_card",
]

log = logging.getLogger(__name__)

TASK_CATEGORIES = ["image-to-image"]
TAGS = ["low-light", "raw", "denoising", "bayer", "video", "burst", "hdf5"]
# The order matters: build_card writes them in this order and check_card asks for each.
REQUIRED_SECTIONS = (
    "Motivation",
    "Composition",
    "Collection process",
    "Preprocessing and curation",
    "Uses",
    "Personal and sensitive information",
    "Bias, risks and limitations",
    "Distribution",
    "Maintenance",
    "Citation",
)
REQUIRED_METADATA = (
    "license",
    "pretty_name",
    "task_categories",
    "tags",
    "size_categories",
    "annotations_creators",
    "source_datasets",
    "configs",
    "dataset_info",
)
RESULTS_SECTION = "Baseline results"
PLACEHOLDERS = (
    "More Information Needed",
    "TODO",
    "TBD",
    "FIXME",
    "Lorem ipsum",
)
_SIZE_BUCKETS = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
    (100_000_000_000, "10B<n<100B"),
    (1_000_000_000_000, "100B<n<1T"),
)
SIZE_CATEGORIES = (*(b for _, b in _SIZE_BUCKETS), "n>1T")
DEFAULT_CONFIG = "default"
DYNAMIC_CONFIG = "dynamic"

# Only these keys of a session summary are ever read (the card and Croissant both go through
# summarize_sessions), so a serial number or position planted upstream cannot reach a release.
SESSION_KEYS = (
    "id",
    "scene",
    "split",
    "kind",
    "camera_make",
    "camera_model",
    "iso",
    "short_exposure_s",
    "long_exposure_s",
    "exposure_ratio",
    "lux",
    "lighting",
    "frames_short",
    "frames_long",
    "pairs",
    "dropped",
    "rejected",
    "registration",
    "simulated",
    "warnings",
    "unused_references",
    "mean_reference",
    "modality",  # issue 14: "raw" or "video"
)

#: What each reason for a dropped frame means (curation's ``dropped``); others are shown as is.
DROP_REASONS = {
    "unreadable": "the RAW file did not decode",
    "too_dark": "below an absolute floor above black or far below the median of its burst (a "
    "frame shot while the light failed)",
    "too_bright": "far above that median",
    "saturated": "a reference with more than about 1 % clipped pixels",
    "hash_mismatch": "the file's sha256 differs from its journal record (it changed after capture)",
    "size_mismatch": "a frame of another size than the majority of its pass",
    "corrupt": "decoded values above the white level (a damaged or stripped file)",
    "reference_moved": "a reference registered far from the others (the camera or scene moved)",
    "unused_reference": "a kept reference no frame was paired with",
    "motion": "a region of the frame changed beyond noise against the rest of its burst and "
    "the reference (something moved, or a light changed)",
    "review": "rejected by the curator in `curate review` (their note is in alignment.json)",
}
_CORE_REASONS = ("unreadable", "too_dark", "too_bright", "saturated")
SIMULATED_TAGS = ["synthetic", "simulated"]

# "serial: 123", "BodySerialNumber=…", '"gps_lat": 22.3', "GPSLatitude: …", exiftool's
# "Serial Number   : 123" and "GPS Position : …", a table column named serial/gps, or a bare
# latitude/longitude key.
_SENSITIVE = re.compile(
    r"""(?ix)
    \b[\w-]*(?:serial|gps)[\w-]*(?:[ ][a-z]+)?["']?\s*[:=]\s*\S
    | \|\s*[\w -]*(?:serial|gps)[\w -]*\s*\|
    | \b(?:latitude|longitude)["']?\s*[:=]\s*\S
    """
)
_JINJA_LEFTOVER = re.compile(r"\{\{ [^{}\n]+ \}\}|\{%-? [^{}\n]+ -?%\}")
_FRONT_MATTER = re.compile(r"\A\s*---\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_COMMENT = re.compile(r"<!--.*?-->", re.S)


@dataclass
class FileInfo:
    """One file of a release.

    Parameters
    ----------
    path
        Path relative to the release root, with ``/`` separators (``data/train.h5``).
    size
        Size in bytes.
    sha256
        Hex sha256 of the file's bytes.
    split
        The split the file belongs to, or None for manifests and other extra files.
    """

    path: str
    size: int
    sha256: str
    split: str | None = None


@dataclass
class SplitInfo:
    """One split of a release (``train``, ``val``, ``test``, ``dynamic``).

    ``num_examples`` counts pairs (short frames with a reference) or, for a split without
    references, short frames.  ``num_bytes`` is what the packager reports for the split's data.
    """

    name: str
    files: list[FileInfo]
    sessions: list[str]
    scenes: list[str]
    num_examples: int
    num_bytes: int
    num_short_frames: int
    num_long_frames: int
    #: the split's Parquet row table (``parquet/<split>.parquet``), which the card's configs
    #: name: one row per example; None when the packager wrote none
    rows: FileInfo | None = None

    @property
    def paired(self) -> bool:
        """Whether the split's examples are short/long pairs (a split with references)."""
        return self.num_long_frames > 0 or self.num_short_frames == 0


@dataclass(kw_only=True)
class ReleaseInfo:
    """Everything the card and the Croissant metadata say about a release.

    The packager fills it; nothing here reads HDF5.  ``sessions`` holds one summary dict per
    session with the keys ``id, scene, split, kind, camera_make, camera_model, iso,
    short_exposure_s, long_exposure_s, exposure_ratio, lux, lighting, frames_short, frames_long,
    dropped ({reason: count}), rejected, registration`` (numbers may be None when unknown); other
    keys are ignored.  ``creators`` are dicts with ``name`` and optionally ``url``, ``email`` and
    ``type`` (``"Person"``, the default, or ``"Organization"``).  ``extra_files`` lists the
    non-HDF5 files the metadata describes (``pairs.csv``, ...); it must not list the card or
    the Croissant file themselves.
    """

    name: str
    version: str
    description: str
    url: str
    creators: list[dict]
    created: str
    tool_version: str
    splits: list[SplitInfo]
    sessions: list[dict]
    license: str = "cc-by-4.0"
    citation: str = ""
    codec: str = ""
    gt_recipe: str = ""
    extra_files: list[FileInfo] = field(default_factory=list)

    @property
    def num_pairs(self) -> int:
        """Pairs over every split with references."""
        return sum(s.num_examples for s in self.splits if s.paired)

    @property
    def files(self) -> list[FileInfo]:
        """Every data file of every split, in split order."""
        return [f for s in self.splits for f in s.files]


@dataclass(frozen=True)
class SessionSummary:
    """Numbers over a release's sessions, as the card and Croissant report them.

    Ranges are ``(min, max)`` over the sessions that know the value, or None when none does.
    """

    num_sessions: int
    kinds: dict[str, int]
    scenes: int
    cameras: dict[str, int]
    iso: tuple[float, float] | None
    short_exposure_s: tuple[float, float] | None
    long_exposure_s: tuple[float, float] | None
    exposure_ratio: tuple[float, float] | None
    exposure_ratio_median: float | None
    lux: tuple[float, float] | None
    lux_unknown: int
    lighting: list[str]
    frames_short: int
    frames_long: int
    dropped: dict[str, int]
    rejected: int
    registration: list[str]
    simulated: list[str] = field(default_factory=list)
    warnings: int = 0
    unused_references: int = 0
    mean_sessions: int = 0
    video: list[str] = field(default_factory=list)  # issue 14: sessions imported from video

    @property
    def all_simulated(self) -> bool:
        """Every session comes from the simulated camera."""
        return self.num_sessions > 0 and len(self.simulated) == self.num_sessions


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _range(values: Sequence[float | None]) -> tuple[float, float] | None:
    known = [v for v in values if v is not None]
    return (min(known), max(known)) if known else None


def _clean(session: Mapping[str, Any]) -> dict[str, Any]:
    return {k: session.get(k) for k in SESSION_KEYS}


def summarize_sessions(sessions: Sequence[Mapping[str, Any]]) -> SessionSummary:
    """Count and range the per-session facts of a release.

    Parameters
    ----------
    sessions
        The per-session dicts of :class:`ReleaseInfo` (only the keys in ``SESSION_KEYS`` are
        read).

    Returns
    -------
    SessionSummary
        Counts by kind and camera, ISO/shutter/exposure-ratio/lux ranges, frame totals, drop
        counts by reason, rejected pairs and the registration methods used.
    """
    rows = [_clean(s) for s in sessions]
    cameras: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for r in rows:
        camera = " ".join(str(r[k]).strip() for k in ("camera_make", "camera_model") if r[k])
        cameras[camera or UNKNOWN_CAMERA] += 1
        for reason, n in (r["dropped"] or {}).items():
            dropped[str(reason)] += int(n)
    ratios = [v for v in (_number(r["exposure_ratio"]) for r in rows) if v is not None]
    lux = [_number(r["lux"]) for r in rows]
    return SessionSummary(
        num_sessions=len(rows),
        kinds=dict(sorted(Counter(str(r["kind"] or "unknown") for r in rows).items())),
        scenes=len({r["scene"] for r in rows}),
        cameras=dict(cameras.most_common()),
        iso=_range([_number(r["iso"]) for r in rows]),
        short_exposure_s=_range([_number(r["short_exposure_s"]) for r in rows]),
        long_exposure_s=_range([_number(r["long_exposure_s"]) for r in rows]),
        exposure_ratio=_range(ratios),
        exposure_ratio_median=statistics.median(ratios) if ratios else None,
        lux=_range(lux),
        lux_unknown=sum(v is None for v in lux),
        lighting=sorted({str(r["lighting"]).strip() for r in rows if r["lighting"]}),
        frames_short=sum(int(r["frames_short"] or 0) for r in rows),
        frames_long=sum(int(r["frames_long"] or 0) for r in rows),
        dropped=dict(sorted(dropped.items())),
        rejected=sum(int(r["rejected"] or 0) for r in rows),
        registration=sorted({str(r["registration"]) for r in rows if r["registration"]}),
        simulated=sorted(str(r["id"]) for r in rows if r["simulated"]),
        warnings=sum(len(r["warnings"] or []) for r in rows),
        unused_references=sum(len(r["unused_references"] or []) for r in rows),
        mean_sessions=sum(1 for r in rows if r["mean_reference"]),
        video=sorted(str(r["id"]) for r in rows if r["modality"] == "video"),
    )


def size_category(n: int) -> str:
    """The Hugging Face ``size_categories`` bucket for ``n`` examples (``"n<1K"``, ...)."""
    if n < 0:
        raise BadRelease(f"expected a count of examples >= 0, found {n}")
    for limit, bucket in _SIZE_BUCKETS:
        if n < limit:
            return bucket
    return "n>1T"


def _year(created: str) -> str:
    m = re.match(r"\s*(\d{4})", created or "")
    return m.group(1) if m else "n.d."


#: What a character special to (La)TeX becomes in a BibTeX field.
_BIBTEX = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",  # BibTeX counts braces even after a backslash
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_BIBTEX_RE = re.compile("[" + re.escape("".join(_BIBTEX)) + "]")


def bibtex_text(value: Any) -> str:
    """``value`` as the text of a BibTeX field: ``& % $ # _ { } ~ ^ \\`` escaped for LaTeX
    (``R&D`` becomes ``R\\&D``); other text is returned unchanged."""
    return _BIBTEX_RE.sub(lambda m: _BIBTEX[m.group(0)], str(value))


def default_citation(info: ReleaseInfo) -> str:
    """``info.citation``, or a BibTeX ``@misc`` entry built from the release when it is empty
    (the name, creators and version escaped with :func:`bibtex_text`)."""
    if (info.citation or "").strip():
        return info.citation.strip()
    key = re.sub(r"[^A-Za-z0-9]+", "_", info.name).strip("_").lower() or "dataset"
    names = [str(c.get("name", "")).strip() for c in info.creators]
    authors = " and ".join(bibtex_text(n) for n in names if n) or bibtex_text(info.name)
    version = bibtex_text(info.version)
    return (
        f"@misc{{{key}_{_year(info.created)},\n"
        f"  title = {{{bibtex_text(info.name)}, version {version}}},\n"
        f"  author = {{{authors}}},\n"
        f"  year = {{{_year(info.created)}}},\n"
        f"  version = {{{version}}},\n"
        f"  howpublished = {{\\url{{{info.url}}}}},\n"
        f"  note = {{Low-light RAW pairs packaged with sublux {info.tool_version}}}\n"
        "}"
    )


def check_release_info(info: ReleaseInfo) -> None:
    """Raise :class:`~dataset_card.errors.BadRelease` unless ``info`` is publishable.

    A release needs a name, a url, at least one creator with a name and at least one split.
    """
    problems = []
    if not str(info.url or "").strip():
        problems.append("a homepage or repository url (ReleaseInfo.url) is empty")
    if not [c for c in info.creators if str(c.get("name", "")).strip()]:
        problems.append("no creator with a name (ReleaseInfo.creators)")
    if not str(info.name or "").strip():
        problems.append("the dataset name is empty")
    if not info.splits:
        problems.append("the release has no splits")
    if problems:
        raise BadRelease(
            "expected a release with a name, a url, at least one named creator and a split; "
            f"found: {'; '.join(problems)}. Nothing was written; fill these in (dataset publish "
            "--url/--creator) and try again"
        )


# -- formatting -----------------------------------------------------------------------------


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover - the loop always returns


def shutter_text(seconds: float | None) -> str:
    """An exposure time for a reader (``1/30 s``, ``4 s``), or "–" when not recorded."""
    return "–" if seconds is None else format_shutter(seconds, unit=True)


def format_span(rng: tuple[float, float] | None, fmt=lambda v: f"{v:g}", unit: str = "") -> str:
    """``lo–hi unit`` (one value when equal), or "not recorded"."""
    if rng is None:
        return "not recorded"
    lo, hi = (fmt(v) for v in rng)
    return f"{lo}{unit}" if lo == hi else f"{lo}–{hi}{unit}"


def _span(
    rng: tuple[float, float] | None, how: str | Callable[[float], str] = "g", unit: str = ""
) -> str:
    """:func:`format_span` for templates: ``how`` is a format spec (``".0f"``) or a function."""
    return format_span(rng, how if callable(how) else (lambda v: format(v, how)), unit)


def _value(v: Any, fmt=lambda x: f"{x:g}") -> str:
    n = _number(v)
    return "–" if n is None else fmt(n)


def _list(items: Sequence[str], limit: int = 12) -> str:
    """User text items for prose, each through :func:`~dataset_card.templating.md_text`:
    joined with ", ", or with "; " when an item holds a comma (so the items stay apart)."""
    items = list(items)
    if not items:
        return "not recorded"
    sep = "; " if any("," in str(i) for i in items) else ", "
    shown = sep.join(md_text(i) for i in items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


#: What :func:`summarize_sessions` counts a session without a camera make or model under.
UNKNOWN_CAMERA = "unknown camera"


def cameras_text(s: SessionSummary) -> str:
    """The cameras of a release for a sentence: the known ones joined with ", ", and the
    sessions whose camera was not recorded counted apart ("Sony DSC-RX100M6 (and 1 session
    whose camera was not recorded)", "cameras not recorded (5 sessions)")."""
    known = [c for c in s.cameras if c != UNKNOWN_CAMERA]
    unknown = s.cameras.get(UNKNOWN_CAMERA, 0)
    sessions = count(unknown, "session")
    if not unknown:
        return ", ".join(known)
    if not known:
        return f"{'a camera' if unknown == 1 else 'cameras'} not recorded ({sessions})"
    return f"{', '.join(known)} (and {sessions} whose camera was not recorded)"


# -- the card: the numbers and table rows here, the prose in templates/card/*.md.j2 ----------

CARD_TEMPLATE = "card/card.md.j2"


def _creators_text(creators: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for c in creators:
        name = str(c.get("name", "")).strip()
        if not name:
            continue
        link = c.get("url") or (f"mailto:{c['email']}" if c.get("email") else None)
        parts.append(f"[{md_text(name)}]({link})" if link else md_text(name))
    return ", ".join(parts)


def _split_rows(info: ReleaseInfo) -> list[tuple]:
    """One row per split: name, what an example is, sessions, scenes, examples, frames, files,
    size."""
    return [
        (
            s.name,
            "pairs" if s.paired else "frames (no reference)",
            len(s.sessions),
            len(set(s.scenes)),
            s.num_examples,
            s.num_short_frames,
            s.num_long_frames,
            len(s.files),
            _bytes(s.num_bytes),
        )
        for s in info.splits
    ]


def _session_rows(info: ReleaseInfo) -> list[tuple]:
    """One row per session, in split order then by id."""
    order = {sp.name: i for i, sp in enumerate(info.splits)}
    rows_in = sorted(
        (_clean(s) for s in info.sessions),
        key=lambda r: (order.get(r["split"], len(order)), str(r["split"]), str(r["id"])),
    )
    rows = []
    for r in rows_in:
        camera = " ".join(str(r[k]) for k in ("camera_make", "camera_model") if r[k])
        rows.append(
            (
                code(r["id"]),
                md_text(r["scene"]),
                md_text(r["split"]),
                md_text(r["kind"]),
                md_text(camera),
                "simulated" if r["simulated"] else "captured",
                _value(r["iso"]),
                shutter_text(_number(r["short_exposure_s"])),
                shutter_text(_number(r["long_exposure_s"])),
                _value(r["exposure_ratio"], lambda x: f"{x:.0f}"),
                _value(r["lux"]),
                r["frames_short"],
                r["frames_long"],
            )
        )
    return rows


def _warning_rows(info: ReleaseInfo) -> list[tuple]:
    """One row per warning journalled at capture: session, code, message."""
    return [
        (code(r["id"]), code(w.get("code", "")), md_text(w.get("message", "")))
        for r in (_clean(x) for x in info.sessions)
        for w in r["warnings"] or []
    ]


def _unused_text(unused: Sequence[Mapping[str, Any]]) -> str:
    return (
        "; ".join(
            f"{code(u.get('file', ''))} ({code(u.get('reason', ''))}"
            + (f": {md_text(u['detail'])}" if u.get("detail") else "")
            + ")"
            for u in unused
        )
        or "none"
    )


def _drop_rows(info: ReleaseInfo) -> list[tuple]:
    """One row per session that lost a frame, a pair or a reference at curation."""
    rows = []
    for r in (_clean(x) for x in info.sessions):
        dropped = r["dropped"] or {}
        unused = r["unused_references"] or []
        if not dropped and not r["rejected"] and not unused:
            continue
        rows.append(
            (
                code(r["id"]),
                ", ".join(f"{n} {code(k)}" for k, n in sorted(dropped.items())) or "none",
                r["rejected"] or 0,
                _unused_text(unused),
            )
        )
    return rows


def _file_rows(info: ReleaseInfo) -> list[tuple]:
    """One row per file the card lists: path, split, size, sha256."""
    rows = [(code(f.path), f.split or "–", _bytes(f.size), code(f.sha256)) for f in info.files]
    rows += [(code(f.path), "–", _bytes(f.size), code(f.sha256)) for f in info.extra_files]
    return rows


def _card_data(info: ReleaseInfo, s: SessionSummary) -> DatasetCardData:
    """The front matter: Hub metadata, one config per kind of split naming the Parquet rows."""
    groups: dict[str, list[SplitInfo]] = {}
    for split in info.splits:
        groups.setdefault(DEFAULT_CONFIG if split.paired else DYNAMIC_CONFIG, []).append(split)
    # Only the Parquet row tables are configs: the `datasets` HDF5 builder reads a file as
    # columns of datasets, not a group per session, and cannot load the Blosc filter.
    groups = {name: [sp for sp in splits if sp.rows is not None] for name, splits in groups.items()}
    groups = {name: splits for name, splits in groups.items() if splits}
    configs = [
        {
            "config_name": name,
            "data_files": [{"split": sp.name, "path": sp.rows.path} for sp in splits],
            **({"default": True} if name == DEFAULT_CONFIG else {}),
        }
        for name, splits in groups.items()
    ]
    dataset_info = [
        {
            "config_name": name,
            "features": card_features(),
            "splits": [
                {"name": sp.name, "num_bytes": int(sp.rows.size), "num_examples": sp.num_examples}
                for sp in splits
            ],
            "download_size": sum(int(sp.rows.size) for sp in splits),
            "dataset_size": sum(int(sp.rows.size) for sp in splits),
        }
        for name, splits in groups.items()
    ]
    n = info.num_pairs or sum(sp.num_examples for sp in info.splits)
    return DatasetCardData(
        license=info.license,
        pretty_name=info.name,
        task_categories=list(TASK_CATEGORIES),
        tags=list(TAGS) + (SIMULATED_TAGS if s.simulated else []),
        size_categories=[size_category(n)],
        annotations_creators=["no-annotation"],
        source_datasets=["original"],
        configs=configs,
        dataset_info=dataset_info,
    )


def _layout() -> dict:
    """What the card's "HDF5 layout" paragraph prints, from the schema module (one source for
    the writer, the verifier and the card)."""
    return {
        "schema": SCHEMA_VERSION,
        "root_attrs": (*ROOT_ATTRS, *CODEC_ATTRS),
        "rows": layout_rows(),
    }


def render_card(info: ReleaseInfo) -> str:
    """The card's text (front matter and Markdown) as the template renders it.

    :func:`build_card` parses this into a :class:`huggingface_hub.DatasetCard`, whose ``str``
    is what :func:`write_card` writes.

    Raises
    ------
    BadRelease
        When the release has no url, no named creator, no name or no split.
    """
    check_release_info(info)
    s = summarize_sessions(info.sessions)
    citation = default_citation(info)
    return render(
        CARD_TEMPLATE,
        card_data=_card_data(info, s).to_yaml(),
        info=info,
        s=s,
        creators=_creators_text(info.creators),
        citation=citation,
        fence=_fence(citation),
        description=md_text((info.description or "").strip()),
        sensors=md_text(cameras_text(s)) or "the camera(s) listed above",
        codec=(info.codec or "").strip() or "not recorded",
        split_rows=_split_rows(info),
        session_rows=_session_rows(info),
        warning_rows=_warning_rows(info),
        drop_rows=_drop_rows(info),
        file_rows=_file_rows(info),
        layout=_layout(),
        drop_reasons=DROP_REASONS,
        core_reasons=_CORE_REASONS,
        parquet_dir=PARQUET_DIR,
        preview_side=PREVIEW_SIDE,
        span=_span,
        shutter_text=shutter_text,
        list_text=_list,
    )


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text`` (three at least)."""
    runs = [len(r) for r in re.findall(r"`{3,}", text)]
    return "`" * max(3, max(runs, default=0) + 1)


def build_card(info: ReleaseInfo) -> DatasetCard:
    """Build the Hugging Face dataset card of a release.

    Parameters
    ----------
    info
        The release, as filled by the packager.

    Returns
    -------
    huggingface_hub.DatasetCard
        Front matter from :class:`huggingface_hub.DatasetCardData` (license, pretty name,
        ``image-to-image`` task, tags, size bucket from the pair count, ``no-annotation``,
        ``original``, ``configs`` with each split's Parquet row table (:attr:`SplitInfo.rows`;
        the HDF5 files are not configs, the `datasets` HDF5 builder cannot read them),
        ``dataset_info`` with the rows' features and each split's examples and bytes) and the
        datasheet prose of ``dataset_card/templates/card/``.  Splits with references go in
        the ``default`` config; splits without (``dynamic``) in a ``dynamic`` config.

    Raises
    ------
    BadRelease
        When the release has no url, no named creator, no name or no split.
    """
    return DatasetCard(render_card(info))


def write_card(info: ReleaseInfo, path: str | os.PathLike) -> Path:
    """Build the card of ``info`` and write it to ``path`` (``README.md``) atomically.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    card = build_card(info)
    path = Path(path)
    with atomic_write(path, "w") as fh:
        fh.write(str(card))
    log.info("wrote the dataset card %s", path)
    return path


# -- checking -------------------------------------------------------------------------------


def find_sensitive(text: str) -> list[str]:
    """Snippets of ``text`` that look like a serial-number or GPS key with a value.

    Prose that merely mentions serial numbers or GPS does not match; ``serial: 1234``,
    ``BodySerialNumber=…``, ``"gps_lat": 22.3``, ``GPSLatitude: …``, ``latitude: …`` and a
    table column named after one of them do.
    """
    return [m.group(0).strip() for m in _SENSITIVE.finditer(text)]


def _split_front_matter(text: str) -> tuple[str, str]:
    m = _FRONT_MATTER.match(text)
    return (text[: m.end()], text[m.end() :]) if m else ("", text)


def _sections(body: str, level: int = 2) -> list[tuple[str, int, int, int]]:
    """``(title, heading_start, content_start, end)`` of each heading of ``level``."""
    found: list[tuple[str, int, int]] = []
    pos = 0
    fence = False
    for line in body.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("```") or stripped.startswith("~~~"):
            fence = not fence
        elif not fence:
            m = _HEADING.match(line.rstrip("\r\n"))
            if m and len(m.group(1)) == level:
                found.append((m.group(2).strip(), pos, pos + len(line)))
        pos += len(line)
    out = []
    for i, (title, start, content) in enumerate(found):
        end = found[i + 1][1] if i + 1 < len(found) else len(body)
        out.append((title, start, content, end))
    return out


def _check_metadata(data: Mapping[str, Any], root: Path | None) -> list[str]:
    problems = []
    for key in REQUIRED_METADATA:
        if not data.get(key):
            problems.append(
                f"front matter: expected a non-empty `{key}`, found "
                f"{'nothing' if key not in data else repr(data[key])}; rebuild the card with "
                "build_card"
            )
    sizes = data.get("size_categories") or []
    for value in [sizes] if isinstance(sizes, str) else sizes:
        if value not in SIZE_CATEGORIES:
            problems.append(
                f"front matter: expected size_categories from {', '.join(SIZE_CATEGORIES)}, "
                f"found {value!r}"
            )
    config_splits: dict[str, set[str]] = {}
    for cfg in data.get("configs") or []:
        name = cfg.get("config_name", "?") if isinstance(cfg, Mapping) else "?"
        files = cfg.get("data_files") if isinstance(cfg, Mapping) else None
        if not files or not isinstance(files, list):
            problems.append(f"front matter: config {name!r} has no data_files list")
            continue
        for entry in files:
            split = entry.get("split") if isinstance(entry, Mapping) else None
            paths = entry.get("path") if isinstance(entry, Mapping) else None
            paths = [paths] if isinstance(paths, str) else (paths or [])
            if not split or not paths:
                problems.append(
                    f"front matter: config {name!r} has a data_files entry without a split "
                    f"and its paths: {entry!r}"
                )
                continue
            config_splits.setdefault(name, set()).add(split)
            for p in paths:
                if root is not None and not (root / p).is_file():
                    problems.append(
                        f"config {name!r} split {split!r} lists {p}, which is not a file "
                        f"under {root}"
                    )
    infos = data.get("dataset_info") or []
    for entry in [infos] if isinstance(infos, Mapping) else infos:
        name = entry.get("config_name", DEFAULT_CONFIG)
        for sp in entry.get("splits") or []:
            if sp.get("name") not in config_splits.get(name, set()):
                problems.append(
                    f"front matter: dataset_info of config {name!r} describes split "
                    f"{sp.get('name')!r}, which the config's data_files do not list"
                )
            for key in ("num_examples", "num_bytes"):
                v = sp.get(key)
                if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                    problems.append(
                        f"front matter: expected {key} >= 0 for split {sp.get('name')!r} "
                        f"of config {name!r}, found {v!r}"
                    )
    return problems


def check_card(path: str | os.PathLike, *, check_files: bool = False) -> list[str]:
    """Check a dataset card for completeness, offline.

    Parameters
    ----------
    path
        The ``README.md`` to check.
    check_files
        Also check that every file named in ``configs`` exists next to the card.

    Returns
    -------
    list of str
        One message per problem (empty when the card is complete): front matter that does not
        parse with :meth:`huggingface_hub.DatasetCard.load`, a missing or empty required
        metadata key, ``dataset_info`` out of step with ``configs``, a required section
        missing or empty, placeholder text (``[More Information Needed]``, ``TODO``, leftover
        template tags), and anything that looks like a camera serial number or GPS data.
    """
    path = Path(path)
    if not path.is_file():
        return [f"expected a dataset card at {path}, found no file; write it with write_card"]
    problems: list[str] = []
    try:
        # A Path, never a str: DatasetCard.load would take a str that is not a file for a Hub
        # repository id and go to the network.
        card = DatasetCard.load(path)
    except Exception as exc:  # yaml errors, a front matter that is not a mapping, ...
        return [f"front matter of {path} does not parse ({type(exc).__name__}: {exc})"]
    text = path.read_text(encoding="utf-8-sig")
    front, body = _split_front_matter(text)
    if not front:
        problems.append(
            f"expected YAML front matter between '---' lines at the top of {path}, found none"
        )
    problems += _check_metadata(card.data.to_dict(), path.parent if check_files else None)

    sections = {title.casefold(): (content, end) for title, _, content, end in _sections(body)}
    for title in REQUIRED_SECTIONS:
        where = sections.get(title.casefold())
        if where is None:
            problems.append(f"expected a '## {title}' section, found none")
        elif not _COMMENT.sub("", body[where[0] : where[1]]).strip():
            problems.append(f"section '## {title}' is empty")
    for word in PLACEHOLDERS:
        pattern = re.escape(word) if " " in word else rf"\b{re.escape(word)}\b"
        if re.search(pattern, text):
            problems.append(f"placeholder text {word!r} left in the card; fill it in")
    for m in _JINJA_LEFTOVER.finditer(text):
        problems.append(f"unrendered template tag {m.group(0)!r} left in the card")
    for snippet in find_sensitive(text):
        problems.append(
            f"found {snippet!r}, which looks like a camera serial number or GPS data; these "
            "never enter a release: remove the key from the session metadata and rebuild"
        )
    return problems


def add_results_section(path: str | os.PathLike, markdown_table: str) -> None:
    """Insert or replace the ``## Baseline results`` section of a card, atomically.

    The section goes before ``## Citation`` (or at the end when there is none); an existing
    one is replaced whole, up to the next level-2 heading.  The front matter is kept byte for
    byte.

    Parameters
    ----------
    path
        The card (``README.md``).
    markdown_table
        The section's content, usually a Markdown table with a line of context.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    front, body = _split_front_matter(text)
    section = f"## {RESULTS_SECTION}\n\n{markdown_table.strip()}\n\n"
    sections = _sections(body)
    existing = [s for s in sections if s[0].casefold() == RESULTS_SECTION.casefold()]
    if existing:
        _, start, _, end = existing[0]
        body = body[:start] + section + body[end:]
    else:
        citation = [s for s in sections if s[0].casefold() == "citation"]
        if citation:
            start = citation[0][1]
            body = body[:start] + section + body[start:]
        else:
            body = body.rstrip("\n") + "\n\n" + section
    with atomic_write(path, "w") as fh:
        fh.write(front + body)
