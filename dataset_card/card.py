"""The Hugging Face dataset card (``README.md``) of a release, and its offline check.

The card is built with huggingface_hub's card API: the front matter is a
:class:`huggingface_hub.DatasetCardData` (license, task, tags, size bucket, one ``configs`` entry
per kind of split naming each split's Parquet row table, ``dataset_info`` with the features and
the examples and bytes of those tables) and
the prose comes from this module's Jinja template through :meth:`DatasetCard.from_template`.  The
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from capture.protocols import format_shutter
from dataset_card.errors import BadRelease
from dataset_card.parquet import PARQUET_DIR, PREVIEW_SIDE, card_features
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
    "build_card",
    "check_card",
    "check_release_info",
    "default_citation",
    "find_sensitive",
    "format_span",
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
        cameras[camera or "unknown camera"] += 1
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


def default_citation(info: ReleaseInfo) -> str:
    """``info.citation``, or a BibTeX ``@misc`` entry built from the release when it is empty."""
    if (info.citation or "").strip():
        return info.citation.strip()
    key = re.sub(r"[^A-Za-z0-9]+", "_", info.name).strip("_").lower() or "dataset"
    names = [str(c.get("name", "")).strip() for c in info.creators]
    authors = " and ".join(n for n in names if n) or info.name
    return (
        f"@misc{{{key}_{_year(info.created)},\n"
        f"  title = {{{info.name}, version {info.version}}},\n"
        f"  author = {{{authors}}},\n"
        f"  year = {{{_year(info.created)}}},\n"
        f"  version = {{{info.version}}},\n"
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


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\n", " ").replace("|", "\\|").strip() or "–"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


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


def _value(v: Any, fmt=lambda x: f"{x:g}") -> str:
    n = _number(v)
    return "–" if n is None else fmt(n)


def _list(items: Sequence[str], limit: int = 12) -> str:
    items = list(items)
    if not items:
        return "not recorded"
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


# -- the card -------------------------------------------------------------------------------

_TEMPLATE = """---
{{ card_data }}
---

# {{ pretty_name }}

{{ provenance }}{{ summary }}

- **Version:** {{ version }} (created {{ created }} with sublux {{ tool_version }})
- **License:** {{ license }}
- **Homepage / repository:** {{ url }}
- **Curated by:** {{ creators }}

## Motivation

{{ motivation }}

## Composition

{{ composition }}

## Collection process

{{ collection }}

## Preprocessing and curation

{{ preprocessing }}

## Uses

{{ uses }}

## Personal and sensitive information

{{ personal }}

## Bias, risks and limitations

{{ limitations }}

## Distribution

{{ distribution }}

## Maintenance

{{ maintenance }}

## Citation

```bibtex
{{ citation }}
```
"""


def _creators_text(creators: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for c in creators:
        name = str(c.get("name", "")).strip()
        if not name:
            continue
        link = c.get("url") or (f"mailto:{c['email']}" if c.get("email") else None)
        parts.append(f"[{name}]({link})" if link else name)
    return ", ".join(parts)


def _frames_kind(s: SessionSummary) -> str:
    """What the short frames are, for the card's first sentence."""
    if not s.video:
        return "RAW Bayer frames"
    if len(s.video) == s.num_sessions:
        return "8-bit sRGB video frames"
    return f"frames (RAW Bayer mosaics; 8-bit sRGB video in {len(s.video)} session(s))"


def _modality(s: SessionSummary) -> str:
    """Which sessions are raw and which video (issue 14); empty for an all-raw release."""
    if not s.video:
        return ""
    return (
        f"- **Modality:** {s.num_sessions - len(s.video)} raw session(s) (Bayer mosaics: "
        f"`short`, `long`, `gt_srgb`) and {len(s.video)} video session(s) imported with "
        "`capture import` ("
        + ", ".join(f"`{i}`" for i in s.video)
        + "): their frames are 8-bit sRGB as the camera rendered and encoded them "
        "(`short_srgb`, `long_srgb`, RGB order; the reference itself is the ground truth), "
        "with each video's source name, sha256, frame rate, duration and codec in the "
        "group's `video_dark`/`video_bright` attributes.  Lossy video compression and the "
        "camera's own rendering make them a different input from raw frames: train and "
        "report on them separately.\n"
    )


def _provenance(s: SessionSummary) -> str:
    """The card's first line when any session is simulated (empty otherwise)."""
    if s.all_simulated:
        return (
            "> **Simulated data.** Every frame of this release comes from sublux's simulated "
            "camera (`--camera sim`: a physical noise model of a sensor, not a real one). It "
            "exercises the tooling; it is not a low-light dataset to train or benchmark "
            "models on.\n\n"
        )
    if s.simulated:
        return (
            f"> **Partly simulated.** {len(s.simulated)} of {s.num_sessions} sessions come "
            "from sublux's simulated camera, not a real one: "
            + ", ".join(f"`{i}`" for i in s.simulated)
            + ".  Leave them out for any claim about real sensors.\n\n"
        )
    return ""


def _realness(s: SessionSummary) -> str:
    if s.all_simulated:
        return (
            "so real captures are what such a dataset needs; the pairs of *this* release, "
            "however, are simulated (sublux's simulated camera), made to test the tools, not "
            "to stand in for real low-light frames.  The "
        )
    if s.simulated:
        return (
            f"so the pairs of the {s.num_sessions - len(s.simulated)} real sessions are real "
            f"captures; the {len(s.simulated)} simulated session(s) (listed in the first "
            "lines and under Composition) are not.  The "
        )
    return "so the pairs here are real captures.  The "


def _motivation(info: ReleaseInfo) -> str:
    s = summarize_sessions(info.sessions)
    return (
        f"{(info.description or '').strip()}\n\n"
        "The dataset exists to train and evaluate denoising and enhancement of *video* shot "
        "near 1 lux, in the style of DRV (Chen et al., *Seeing Motion in the Dark*, ICCV 2019): "
        "short-exposure RAW bursts whose single frames have a signal-to-noise ratio below 0 dB, "
        "paired with long-exposure references of the same scene.  Models trained on synthetic "
        "Poisson-Gaussian noise are a poor stand-in for such frames (DRV measured a signal-to-"
        "noise ratio of -3.24 dB on its real frames against 18.59 dB for the synthetic model), "
        f"{_realness(s)}"
        "release also answers what users of DRV, SID, SDSD and ELD ask for: checksums for every "
        "file, machine-readable splits (the `configs` above, `manifest.json` and the Croissant "
        "`pairs` record set), the capture metadata inside the files rather than in file names, "
        "and versioned releases with a changelog.\n\n"
        f"It was created by {_creators_text(info.creators)}."
    )


def _split_table(info: ReleaseInfo) -> str:
    rows = [
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
    return _table(
        (
            "split",
            "examples are",
            "sessions",
            "scenes",
            "examples",
            "short frames",
            "long frames",
            "files",
            "size",
        ),
        rows,
    )


def _session_table(info: ReleaseInfo) -> str:
    rows = []
    order = {sp.name: i for i, sp in enumerate(info.splits)}
    rows_in = sorted(
        (_clean(s) for s in info.sessions),
        key=lambda r: (order.get(r["split"], len(order)), str(r["split"]), str(r["id"])),
    )
    for r in rows_in:
        camera = " ".join(str(r[k]) for k in ("camera_make", "camera_model") if r[k])
        rows.append(
            (
                f"`{r['id']}`",
                r["scene"],
                r["split"],
                r["kind"],
                camera,
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
    return _table(
        (
            "session",
            "scene",
            "split",
            "kind",
            "camera",
            "frames are",
            "ISO",
            "short",
            "long",
            "ratio",
            "lux",
            "short frames",
            "long frames",
        ),
        rows,
    )


def _composition(info: ReleaseInfo, s: SessionSummary) -> str:
    kinds = ", ".join(f"{n} {k}" for k, n in s.kinds.items()) or "none"
    cameras = ", ".join(f"{cam} ({n} sessions)" for cam, n in s.cameras.items()) or "none"
    ratio = format_span(s.exposure_ratio, lambda v: f"{v:.0f}")
    if s.exposure_ratio_median is not None:
        ratio += f" (median {s.exposure_ratio_median:.0f})"
    lux = format_span(s.lux, unit=" lux")
    if s.lux_unknown:
        lux += f"; not metered for {s.lux_unknown} of {s.num_sessions} sessions"
    return (
        f"{s.num_sessions} sessions of {s.scenes} scenes ({kinds}); {info.num_pairs} "
        f"short/long pairs; {s.frames_short} short-exposure and {s.frames_long} long-exposure "
        "frames kept.  An *example* is one short-exposure Bayer frame with its matched "
        "reference (a row of `pairs.csv`); in a split without references it is one short "
        "frame.  Splits are disjoint by scene: every session of a scene, under any lighting, "
        "is in the same split.\n\n"
        f"{_split_table(info)}\n\n"
        "- **Session kinds:** `static` — a tripod burst (about 110 frames) and long "
        "exposure(s) of a still scene, every kept short frame paired with the reference; "
        "`sweep` — a motorised turntable repeats one path, once dark (short exposures) and "
        "once bright (long exposures at each step), frames matched along the path; `dynamic` "
        "— motion without references, for qualitative and temporal evaluation.\n"
        f"- **Cameras:** {cameras}\n"
        f"- **ISO:** {format_span(s.iso, lambda v: f'{v:.0f}')}\n"
        f"- **Short exposures:** {format_span(s.short_exposure_s, shutter_text)}; "
        "**long exposures:** "
        f"{format_span(s.long_exposure_s, shutter_text)}\n"
        f"- **Exposure ratio (long/short):** {ratio}\n"
        f"- **Illuminance at the scene:** {lux}\n"
        f"- **Lighting:** {_list(s.lighting)}\n"
        f"{_modality(s)}\n"
        "### Sessions\n\n"
        f"{_session_table(info)}"
    )


def _warnings(info: ReleaseInfo) -> str:
    rows = [
        (f"`{r['id']}`", f"`{w.get('code', '')}`", w.get("message", ""))
        for r in (_clean(x) for x in info.sessions)
        for w in r["warnings"] or []
    ]
    if not rows:
        return "No session journalled a warning."
    return (
        "Warnings journalled at capture (the plan was not kept, or something else changes what "
        "the frames mean); read them before using these sessions:\n\n"
        + _table(("session", "code", "message"), rows)
    )


def _collection(info: ReleaseInfo, s: SessionSummary) -> str:
    if s.all_simulated:
        how = (
            f"Every frame was made by sublux's simulated camera (`capture --camera sim`, tool "
            f"version {info.tool_version}): a physical model of a Bayer sensor (photon shot "
            "noise, read noise, black level, quantisation) looking at a synthetic scene, "
            "written as DNG files and journalled exactly as a real capture would be; the "
            "turntable of sweeps is the GRBL simulator.  Nothing was photographed.  The "
            "protocol simulated is the real one.  "
        )
    else:
        how = (
            f"Every frame was captured tethered with sublux (`capture` command, tool version "
            f"{info.tool_version}) through libgphoto2, as the camera's RAW files"
            + (
                f", except those of the {len(s.simulated)} simulated session(s) ("
                + ", ".join(f"`{i}`" for i in s.simulated)
                + "), made by sublux's simulated camera"
                if s.simulated
                else ""
            )
            + ".  "
        )
    return (
        f"{how}Static scenes "
        "were shot from a tripod: a short-"
        "exposure burst, then the long-exposure reference(s) with the same ISO and the "
        "shutter lengthened by the exposure ratio.  Moving scenes were shot on a motorised "
        "turntable driven by a GRBL controller, which repeats one path twice, once with short "
        "exposures and once with long ones, and records the angle of each frame.  ISO, shutter "
        "and aperture were set on the camera, and the values read back are journalled with "
        "every frame.\n\n"
        "Each session keeps an append-only journal (`journal.jsonl`) in which a frame is "
        "recorded, with its sha256 and the settings read back from the camera, only once its "
        "file is whole on disk; the packager reads each frame once and checks its size and "
        "sha256 against that record before writing it (a frame that changed stops the "
        "publish), and the sha256 of every source RAW file travels into the release "
        "(`short_frames` / `long_frames` tables, and `short_sha256` in `pairs.csv`), so any "
        "frame can be traced to the capture.  Lighting and, where a meter was used, the "
        f"illuminance were noted per session ({_list(s.lighting, 6)}).\n\n"
        f"{_warnings(info)}"
    )


def _drop_table(info: ReleaseInfo) -> str:
    rows = []
    for r in (_clean(x) for x in info.sessions):
        dropped = r["dropped"] or {}
        unused = r["unused_references"] or []
        if not dropped and not r["rejected"] and not unused:
            continue
        rows.append(
            (
                f"`{r['id']}`",
                ", ".join(f"{n} `{k}`" for k, n in sorted(dropped.items())) or "none",
                r["rejected"] or 0,
                "; ".join(
                    f"`{u.get('file', '')}` (`{u.get('reason', '')}`"
                    + (f": {u['detail']}" if u.get("detail") else "")
                    + ")"
                    for u in unused
                )
                or "none",
            )
        )
    if not rows:
        return "No session lost a frame, a pair or a reference at curation."
    return "Per session:\n\n" + _table(
        ("session", "dropped frames", "rejected pairs", "references not used"), rows
    )


def _preprocessing(info: ReleaseInfo, s: SessionSummary) -> str:
    dropped = (
        ", ".join(f"{n} `{reason}`" for reason, n in s.dropped.items()) if s.dropped else "none"
    )
    total = sum(s.dropped.values())
    methods = "; ".join(f"`{m}`" for m in s.registration) or "not recorded"
    recipe = (info.gt_recipe or "").strip() or "not rendered in this release"
    reasons = "; ".join(
        f"`{k}`: {DROP_REASONS[k]}" for k in DROP_REASONS if k in s.dropped or k in _CORE_REASONS
    )
    others = [k for k in s.dropped if k not in DROP_REASONS]
    if others:
        reasons += "; " + ", ".join(f"`{k}`" for k in others) + ": see the curation report"
    mean = (
        f"- **Mean ground truth (`long_mean`, `gt_mean_srgb`):** {s.mean_sessions} static "
        "session(s) have more than one reference; for them the release also holds the mean of "
        "the K reference windows (float32) and its sRGB rendering, a cleaner target whose "
        "noise is about 1/sqrt(K) of one reference's (as SIDD builds its ground truth).  Each "
        "reference keeps its own residual shift (`long_frames` `dy`, `dx`, under a pixel), so "
        "the mean is registered to within a pixel.\n"
        if s.mean_sessions
        else "- **Mean ground truth:** no session has more than one reference, so there is no "
        "`long_mean` / `gt_mean_srgb`; `gt_srgb` is the only ground truth.\n"
    )
    return (
        "Curation (`curate align`) decodes every frame once, drops unusable frames, matches "
        "short frames to references and registers each pair; the packager then crops and "
        "writes the pairs.\n\n"
        f"- **Dropped frames:** {total} in all ({dropped}).  {reasons}.\n"
        f"- **Rejected pairs:** {s.rejected} matched pairs whose correlation after alignment "
        "was too low were left out.\n"
        f"- **References not used:** {s.unused_references} (listed per session below, with "
        "the reason).  Every kept reference of a static session is in the release: with K of "
        "them, kept short frame j is paired with reference j mod K (`short_frames` `ref`).\n"
        f"- **Registration:** translation only, estimated on binned luminance ({methods}).  "
        "Static bursts are averaged before registering to the reference, which divides the "
        "noise by the square root of the burst length.\n"
        "- **Untouched values:** `short` and `long` hold the Bayer mosaic exactly as the RAW "
        "decoder reports it: no black-level subtraction, no white balance, no gain, no "
        "demosaicing, no denoising, no clipping.  The only change is a spatial crop to the "
        "region common to the aligned pair(s), at even offsets so that the colour-filter "
        "phase stays `RGGB`.  The black and white levels, white balance and the crop window "
        "are stored as attributes, so a model applies its own normalisation.  The shift left "
        "after the even crop (at most one pixel per axis) is stored per short frame as "
        "`dy`, `dx`.\n"
        f"- **Ground-truth sRGB (`gt_srgb`):** {recipe}.\n"
        f"{mean}"
        "- **No annotation:** there are no human labels; the reference of a short frame is "
        "its long exposure.\n\n"
        f"{_drop_table(info)}"
    )


TORCH_SNIPPET = """\
import torch
from dataset_card.reader import open_release, pairs

RELEASE = "."  # the release folder, where this README is


class Pairs(torch.utils.data.Dataset):
    \"\"\"(short, long, ground truth, exposure ratio) for every pair of one split.\"\"\"

    def __init__(self, release, split="train"):
        self.split = open_release(release).split(split)  # opens its files lazily, per worker
        self.index = list(pairs(self.split))  # (session_id, short_index, ref_index)

    def __len__(self):
        return len(self.index)

    def __getitem__(self, n):
        sid, i, k = self.index[n]
        sd = self.split.session(sid)
        short = torch.from_numpy(sd.short[i].astype("float32"))  # raw Bayer, black included
        long = torch.from_numpy(sd.long[k].astype("float32"))
        gt = torch.from_numpy(sd.ground_truth(i, kind="mean").astype("float32") / 65535)
        ratio = float(sd.short_frames["exposure_ratio"][i])
        return short, long, gt, ratio


train = Pairs(RELEASE, "train")
loader = torch.utils.data.DataLoader(train, batch_size=1, shuffle=True, num_workers=2)
short, long, gt, ratio = next(iter(loader))
print(len(train), tuple(short.shape), tuple(gt.shape), float(ratio))
"""


def _uses(info: ReleaseInfo) -> str:
    return (
        "### Direct use\n\n"
        "- Training and evaluating single-image RAW denoising and low-light enhancement "
        "(SID-style: packed Bayer in, sRGB or linear RGB out).\n"
        "- Burst and video denoising (DRV/SMID-style), with the static bursts for training "
        "and the `dynamic` sessions for temporal consistency.\n"
        "- Studying sensor noise at very low photon counts (the values are untouched).\n\n"
        "DRV's protocol evaluates the 5th frame of each static test sequence with PSNR and "
        "SSIM against `gt_srgb`; where a static session has several references, "
        "`gt_mean_srgb` (their mean) is the less noisy target.  Say which one you used.\n\n"
        "### Loading\n\n"
        "With Hugging Face `datasets` (nothing else to install): one row per pair, with the "
        "frames' file names, sha256, exposure ratio, shift, score and two small previews "
        f"(at most {PREVIEW_SIDE} px: the dark frame times its exposure ratio, and the ground "
        "truth).  The rows say where the full-resolution frames are in the HDF5 files "
        "(`file`, `session_id`, `short_index`, `ref_index`).\n\n"
        "```python\n"
        "from datasets import load_dataset\n\n"
        'rows = load_dataset("RELEASE_FOLDER_OR_HUB_ID")  # the default config\n'
        'row = rows["train"][0]\n'
        'row["scene"], row["exposure_ratio"], row["short_preview"]  # a PIL image\n'
        "```\n\n"
        "For training, read the frames from HDF5.  A PyTorch dataset of (short, long, ground "
        "truth, exposure ratio) with sublux's reader (`pip install sublux torch`; h5py and "
        "hdf5plugin come with it), run from the release folder:\n\n"
        f"```python\n{TORCH_SNIPPET}```\n\n"
        "`short` and `long` are the raw Bayer mosaics (black level included; `sd.attrs` holds "
        "`black_level`, `white_level` and `cfa`, and `dataset_card.reader.network_input` "
        "applies SID's packing and gain); `gt` is sRGB in [0, 1], the mean of the session's "
        'references where it has several (`kind="pair"` for the pair\'s own).\n\n'
        "### Out-of-scope use\n\n"
        "- Recognising, tracking or identifying people or places: the scenes are staged "
        "still lifes and were not collected for that.\n"
        "- Treating `gt_srgb` as a photometric truth: it is one rendering of a long exposure "
        "(camera white balance, no auto-brightness).\n"
        "- Claims about cameras not in the release: noise statistics are sensor- and ISO-"
        "specific."
    )


def _personal() -> str:
    return (
        "The capture protocol (a tripod or a turntable in front of the camera) is meant for "
        "arranged scenes, not for recording people.  Camera serial numbers and GPS positions "
        "are not in the release: the packager copies only a "
        "fixed list of capture settings (make, model, ISO, shutter, levels, white balance) "
        "from the RAW files and session files, and the release check refuses any metadata "
        "that looks like a serial number or a position.  Frame file names are the capture "
        "order (`0000.dng`, ...), not timestamps or user names."
    )


def _limitations(info: ReleaseInfo, s: SessionSummary) -> str:
    cameras = ", ".join(s.cameras) or "the camera(s) listed above"
    sim = (
        f"- **Simulated frames:** {len(s.simulated)} of {s.num_sessions} sessions come from a "
        "simulated camera; their noise is a model's (shot, read and quantisation noise), "
        "without the fixed-pattern noise, hot pixels, optics and flicker of a real sensor, so "
        "results on them say nothing about real low-light images.\n"
        if s.simulated
        else ""
    )
    return (
        f"{sim}- **Few sensors:** every frame comes from {cameras}; noise models learned here may "
        "not transfer to other sensors or ISO settings.\n"
        "- **Scenes limited by the rig:** still scenes in front of a tripod and objects on a "
        "turntable; the motion in sweeps is the turntable's rotation, not free camera or "
        "subject motion.  See the lighting list above for the light sources covered.\n"
        "- **References are not noise-free:** a long exposure at the same ISO still carries "
        "shot and read noise, and any scene motion or flicker during it blurs the reference "
        "(`gt_mean_srgb`, where there is one, divides that noise by sqrt(K)).\n"
        "- **Residual misalignment:** pairs are registered by translation only; the residual "
        "shift is recorded (`dy`, `dx`) but rotation or parallax is not corrected.\n"
        "- **Illuminance:** lux values are as noted at capture where a meter was used (meters "
        "are imprecise near 1 lux) and missing (NaN) otherwise.\n\n"
        "**Recommendations:** report results per split as released, never re-split by "
        "frame (scenes would leak across splits); state the release version; check the "
        "checksums before training."
    )


def _distribution(info: ReleaseInfo) -> str:
    rows = [(f"`{f.path}`", f.split or "–", _bytes(f.size), f"`{f.sha256}`") for f in info.files]
    rows += [(f"`{f.path}`", "–", _bytes(f.size), f"`{f.sha256}`") for f in info.extra_files]
    codec = (info.codec or "").strip() or "not recorded"
    return (
        f"Released at {info.url} under the `{info.license}` license.  Files (sizes and "
        "sha256):\n\n"
        f"{_table(('file', 'split', 'size', 'sha256'), rows)}\n\n"
        f"`{PARQUET_DIR}/<split>.parquet` are the rows the `configs` above name (what "
        "`datasets.load_dataset` and the Hub's viewer show): one row per example with small "
        "JPEG previews.  `pairs.parquet` and `pairs.csv` list the pairs (the same rows, "
        "without previews).  Alongside: `croissant.json` (Croissant 1.1 metadata with the "
        "Responsible-AI fields; its `pairs` record set reads `pairs.parquet`, so every field "
        "keeps its type), `manifest.json` (splits, sessions, scenes, counts, file sizes and "
        "hashes), `SHA256SUMS` and, from the second release on, `CHANGELOG.md`.\n\n"
        "**Verify** the download before use, from the release folder:\n\n"
        "```bash\nsha256sum -c SHA256SUMS\n```\n\n"
        "**HDF5 layout (schema 1).** One file per split (or shards `train-00000-of-00002.h5`, "
        "...); root attributes `dataset_name`, `version`, `schema_version`, `tool_version`, "
        "`created`, `split`, `shard`, `num_shards`, `codec`, `reader_needs`.  One group per "
        "session at `/sessions/<session_id>` with attribute `scene` and:\n\n"
        "- `short` (T, H, W) uint16: kept short-exposure Bayer frames, untouched values;\n"
        "- `long` (K, H, W) uint16: the reference(s), cropped to the same size (absent for "
        "dynamic sessions);\n"
        "- `gt_srgb` (K, H, W, 3) uint16: each reference rendered to sRGB;\n"
        "- `long_mean` (H, W) float32 and `gt_mean_srgb` (H, W, 3) uint16, only in static "
        "sessions with K > 1 references: the mean of the K reference windows and its sRGB "
        "rendering, a ground truth with 1/sqrt(K) of one reference's noise;\n"
        "- `short_frames`, `long_frames`: per-frame tables (`file`, `sha256`, `exposure_s`, "
        "`iso`, `t`, `angle`; short frames also `ref` (index into `long`, -1 if unpaired), "
        "`score`, `dy`, `dx`, `exposure_ratio`; references also `offset_y`, `offset_x` (their "
        "window's even offset from the short window) and `dy`, `dx` (their own shift left "
        "after it)).  A point at (y, x) of a cropped short frame is at (y + dy, x + dx) of "
        "its cropped reference;\n"
        "- group attributes `black_level`, `white_level`, `cfa`, `white_balance`, "
        "`exposure_ratio`, `iso`, `short_exposure_s`, `long_exposure_s`, `camera_make`, "
        "`camera_model`, `lighting`, `lux`, `kind`, `registration`, `crop`.\n\n"
        f"Every dataset carries a fletcher32 checksum; compression: {codec}.  The root "
        "attributes `codec` and `reader_needs` say what a reader needs: "
        + (
            "h5py alone reads this release.\n\n```python\nimport h5py\n\n"
            if codec in ("gzip-shuffle", "none")
            else "Blosc and Bitshuffle are HDF5 plugin filters, registered by `import "
            "hdf5plugin` before h5py reads a frame (without it, attributes and tables read "
            "but frames fail; sublux's reader then names hdf5plugin).\n\n"
            "```python\n"
            "import h5py, hdf5plugin  # hdf5plugin registers the compression filters\n\n"
        )
        + f'with h5py.File("{(info.files[0].path if info.files else "data/train.h5")}") as f:\n'
        '    for sid, g in f["sessions"].items():\n'
        '        short = g["short"][0]  # first kept short frame, raw Bayer values\n'
        '        table = g["short_frames"][:]\n'
        '        if "long" in g and table["ref"][0] >= 0:\n'
        '            long = g["long"][table["ref"][0]]\n'
        '            gt = g["gt_mean_srgb"][()] if "gt_mean_srgb" in g else '
        'g["gt_srgb"][table["ref"][0]]\n'
        "```\n\n"
        "sublux's `dataset_card.reader` module reads these files as well (see Uses).  The "
        "Hugging Face `configs` above name the Parquet row tables, not the HDF5 files: the "
        "`datasets` HDF5 builder reads a file as columns rather than a group per session."
    )


def _maintenance(info: ReleaseInfo) -> str:
    return (
        f"This is version {info.version}.  Versions follow semantic versioning: a *major* "
        "version changes the HDF5 schema, removes sessions or moves scenes between splits; a "
        "*minor* version adds sessions (existing scenes keep their split, so results on an "
        "older test split stay comparable); a *patch* fixes metadata or documentation without "
        "changing any frame.  Each release after the first ships a `CHANGELOG.md` listing the "
        "sessions added, removed or changed since the previous one, and every release carries "
        "its own `SHA256SUMS` so a silent re-release cannot go unnoticed.  Errors and "
        f"questions: open an issue at {info.url}.  A published version is never changed in "
        "place: a fix is a new version."
    )


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
        datasheet prose.  Splits with references go in the ``default`` config; splits without
        (``dynamic``) in a ``dynamic`` config.

    Raises
    ------
    BadRelease
        When the release has no url, no named creator, no name or no split.
    """
    check_release_info(info)
    s = summarize_sessions(info.sessions)
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
    card_data = DatasetCardData(
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
    summary = (
        f"{(info.description or '').strip()}  Version {info.version}: {info.num_pairs} pairs of "
        f"short-exposure {_frames_kind(s)} and long-exposure references from "
        f"{s.num_sessions} sessions of {s.scenes} scenes, in HDF5."
    )
    return DatasetCard.from_template(
        card_data,
        template_str=_TEMPLATE,
        pretty_name=info.name,
        provenance=_provenance(s),
        summary=summary,
        version=info.version,
        created=info.created,
        tool_version=info.tool_version,
        license=info.license,
        url=info.url,
        creators=_creators_text(info.creators),
        motivation=_motivation(info),
        composition=_composition(info, s),
        collection=_collection(info, s),
        preprocessing=_preprocessing(info, s),
        uses=_uses(info),
        personal=_personal(),
        limitations=_limitations(info, s),
        distribution=_distribution(info),
        maintenance=_maintenance(info),
        citation=default_citation(info),
    )


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
