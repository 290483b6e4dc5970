"""Croissant 1.1 metadata (``croissant.json``) of a release, with the Responsible-AI fields.

Croissant does not understand HDF5 (mlcommons/croissant#697), so each ``.h5`` file is described
as a ``cr:FileObject`` (``application/x-hdf5``, sha256, size) and the record set sits on the
``pairs.parquet`` table the packager writes with exactly :data:`PAIRS_CSV_COLUMNS` (the
typed twin of ``pairs.csv``): one record per short frame with a reference, naming the HDF5
file and the indices that find the frame and its reference inside it.  The source is Parquet,
not the CSV, because mlcroissant reads a CSV with pandas' type inference and ignores the
declared ``dataType``: a DRV-style scene ``0001`` would come back as ``1``.  Parquet carries
its types, so every field keeps the one declared here.

:func:`validate_croissant` runs mlcroissant's own validation offline (local files only: every
``contentUrl`` is a path relative to the JSON file, which mlcroissant resolves against the
file's folder) and adds the checks mlcroissant does not make: a ``url`` and a ``creator``,
a sha256 on every file, optionally the hashes of the files on disk, and no serial-number or GPS
key anywhere.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dataset_card.card import (
    FileInfo,
    ReleaseInfo,
    cameras_text,
    check_release_info,
    default_citation,
    find_sensitive,
    format_span,
    shutter_text,
    summarize_sessions,
)
from dataset_card.errors import BadRelease
from dataset_card.templating import count
from sublux_common.fsio import atomic_write_json
from sublux_common.hashing import sha256_file

__all__ = [
    "CROISSANT_VERSION",
    "PAIRS_COLUMNS",
    "PAIRS_CSV_COLUMNS",
    "PAIRS_RECORD_SET",
    "RAI_VERSION",
    "build_croissant",
    "validate_croissant",
    "write_croissant",
]

log = logging.getLogger(__name__)

CROISSANT_VERSION = "http://mlcommons.org/croissant/1.1"
RAI_VERSION = "http://mlcommons.org/croissant/RAI/1.0"
PAIRS_RECORD_SET = "pairs"
#: The typed table the ``pairs`` record set reads (see :mod:`dataset_card.parquet`).
PAIRS_TABLE = "pairs.parquet"
HDF5_MIME = "application/x-hdf5"

# (column, Croissant data type, description).  The packager writes pairs.csv with exactly these
# columns in this order; floats may be "nan" where a value is unknown.
PAIRS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("split", "sc:Text", "Split of the pair: train, val or test."),
    ("session_id", "sc:Text", "Session the frames come from (group /sessions/<session_id>)."),
    ("scene", "sc:Text", "Scene name; splits are disjoint by scene."),
    ("file", "sc:Text", "Release-relative path of the HDF5 file holding the session."),
    ("short_index", "sc:Integer", "Index of the short-exposure frame in the group's `short`."),
    ("ref_index", "sc:Integer", "Index of its reference in the group's `long` and `gt_srgb`."),
    ("short_file", "sc:Text", "Source RAW file name of the short-exposure frame."),
    ("short_sha256", "sc:Text", "sha256 of the short-exposure frame's source RAW file."),
    ("long_file", "sc:Text", "Source RAW file name of the reference."),
    ("exposure_ratio", "sc:Float", "Long exposure time over short exposure time."),
    ("iso", "sc:Float", "ISO of the short-exposure frame."),
    ("short_exposure_s", "sc:Float", "Exposure time of the short frame, in seconds."),
    ("long_exposure_s", "sc:Float", "Exposure time of the reference, in seconds."),
    (
        "dy",
        "sc:Float",
        "Residual vertical shift in sensor pixels after the even-offset crop: a point at (y, x) "
        "of the cropped short frame is at (y + dy, x + dx) of the cropped reference.",
    ),
    ("dx", "sc:Float", "Residual horizontal shift in sensor pixels (see dy)."),
    ("score", "sc:Float", "Matching score of the pair (correlation, higher is better)."),
    ("lux", "sc:Float", "Illuminance noted at capture, in lux; nan when not measured."),
    ("kind", "sc:Text", "Session kind: static or sweep."),
)
PAIRS_CSV_COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in PAIRS_COLUMNS)

_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

_LICENSE_URLS = {
    "cc-by-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "cc-by-sa-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "cc-by-nc-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "cc-by-nc-sa-4.0": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "cc0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "mit": "https://opensource.org/licenses/MIT",
    "apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
}
_MIME_BY_SUFFIX = {
    ".h5": HDF5_MIME,
    ".hdf5": HDF5_MIME,
    ".csv": "text/csv",
    ".parquet": "application/x-parquet",
    ".json": "application/json",
    ".md": "text/markdown",
    ".txt": "text/plain",
}


def _file_object(f: FileInfo, description: str) -> dict[str, Any]:
    mime = _MIME_BY_SUFFIX.get(Path(f.path).suffix.lower(), "application/octet-stream")
    return {
        "@type": "cr:FileObject",
        "@id": f.path,
        "name": f.path,
        "description": description,
        "contentUrl": f.path,
        "contentSize": f"{int(f.size)} B",
        "encodingFormat": mime,
        "sha256": f.sha256,
    }


def _creator(c: Mapping[str, Any]) -> dict[str, Any]:
    kind = "sc:Organization" if str(c.get("type", "")).lower() == "organization" else "sc:Person"
    out: dict[str, Any] = {"@type": kind, "name": str(c["name"]).strip()}
    if c.get("url"):
        out["url"] = str(c["url"])
    if c.get("email"):
        out["email"] = str(c["email"])
    return out


def _rai(info: ReleaseInfo) -> dict[str, Any]:
    s = summarize_sessions(info.sessions)
    cameras = cameras_text(s) or "not recorded"
    dropped = ", ".join(f"{n} {reason}" for reason, n in s.dropped.items()) or "none"
    methods = "; ".join(s.registration) or "not recorded"
    recipe = (info.gt_recipe or "").strip() or "not rendered in this release"
    if s.all_simulated:
        source = (
            f"Simulated RAW capture: every frame was made by sublux {info.tool_version}'s "
            "simulated camera (a physical noise model of a Bayer sensor viewing a synthetic "
            "scene), not photographed; the protocol simulated is sublux's: static "
        )
        collection_type = ["Simulation", "Synthetic data generation"]
    elif s.simulated:
        source = (
            f"Tethered RAW capture with sublux {info.tool_version} through libgphoto2, except "
            f"{len(s.simulated)} of {s.num_sessions} sessions made by sublux's simulated camera "
            f"({', '.join(s.simulated)}): static "
        )
        collection_type = [
            "Direct measurement",
            "Physical data collection",
            "Simulation",
            "Synthetic data generation",
        ]
    else:
        source = f"Tethered RAW capture with sublux {info.tool_version} through libgphoto2: static "
        collection_type = ["Direct measurement", "Physical data collection"]
    warned = [
        f"{r['id']}: {w.get('code', '')}: {w.get('message', '')}"
        for r in info.sessions
        for w in r.get("warnings") or []
    ]
    return {
        "rai:dataCollection": (
            f"{source}"
            "scenes as a short-exposure burst from a tripod followed by long-exposure "
            "reference(s); moving scenes on a GRBL-driven turntable that repeats one path once "
            "with short and once with long exposures.  Every frame is journalled with its "
            "sha256 and the camera settings read back.  "
            f"{count(s.num_sessions, 'session')} of {count(s.scenes, 'scene')}; cameras: "
            f"{cameras}; ISO "
            f"{format_span(s.iso)}; short exposures "
            f"{format_span(s.short_exposure_s, fmt=shutter_text)}; long exposures "
            f"{format_span(s.long_exposure_s, fmt=shutter_text)}; exposure ratios "
            f"{format_span(s.exposure_ratio)}; illuminance {format_span(s.lux, unit=' lux')}."
        ),
        "rai:dataCollectionType": collection_type,
        "rai:dataCollectionMissingData": (
            f"Frames dropped at curation: {dropped}; {s.rejected} matched pairs rejected for "
            f"low correlation after alignment; {s.unused_references} references not used.  "
            + (
                f"Illuminance was not measured for {s.lux_unknown} of {s.num_sessions} "
                "sessions (lux is nan).  "
                if s.lux_unknown
                else ""
            )
            + "Sessions of kind dynamic have no reference.  Warnings journalled at capture: "
            + ("; ".join(warned) if warned else "none")
            + "."
        ),
        "rai:dataCollectionRawData": (
            ("The simulated camera's DNG files" if s.all_simulated else "The camera's RAW files")
            + ".  They are not redistributed; each frame's source file name and sha256 (checked "
            "against the capture journal when packaged) are kept in the per-frame tables and in "
            "pairs.csv."
        ),
        "rai:dataPreprocessingProtocol": [
            "Frames that do not decode, are far darker or brighter than their burst, or (for "
            "references) have more than about 1 % clipped pixels are dropped.",
            "Short frames are matched to references (one reference per static burst; an "
            "order-keeping assignment along turntable sweeps) and each pair is registered by "
            f"translation ({methods}).",
            "Bayer values are stored untouched (no black-level subtraction, white balance, "
            "scaling or denoising), cropped to the region common to the aligned pair(s) at "
            "even offsets so the RGGB phase is kept; the residual shift (at most a pixel per "
            "axis) is recorded per frame (dy, dx).",
            f"Reference sRGB images (gt_srgb): {recipe}.",
        ],
        "rai:dataManipulationProtocol": (
            "Only spatial cropping at even offsets.  No pixel value is changed and no noise is "
            "added"
            + (
                "; the frames of the simulated sessions listed under dataCollection were "
                "synthesised by the simulated camera."
                if s.simulated
                else ", no frame is synthesised."
            )
        ),
        "rai:dataImputationProtocol": "None: unknown values are stored as nan.",
        "rai:dataAnnotationProtocol": [
            "No human annotation.  The target of a short-exposure frame is the long exposure "
            "of the same scene; pairing and alignment are computed by sublux curate."
        ],
        "rai:machineAnnotationTools": [
            f"sublux {info.tool_version} curate (frame matching and translation registration)",
            "rawpy / LibRaw (rendering of gt_srgb)",
        ],
        "rai:dataUseCases": [
            "Training, validation and testing of RAW low-light denoising and enhancement.",
            "Burst and video denoising; temporal consistency on the dynamic sessions.",
            "Study of sensor noise at very low photon counts.",
        ],
        "rai:dataLimitations": [
            *(
                [
                    f"{len(s.simulated)} of {s.num_sessions} sessions are simulated, not real "
                    "captures: results on them say nothing about real sensors."
                ]
                if s.simulated
                else []
            ),
            f"Few sensors ({cameras}): noise statistics are sensor- and ISO-specific.",
            "Scenes are limited by the rig (tripod or turntable); motion is turntable rotation.",
            "References are long exposures, not noise-free images; registration is "
            "translation-only.",
            "Do not re-split by frame: splits are disjoint by scene.",
        ],
        "rai:dataBiases": [
            "Scene content and light sources reflect what the creators staged and had "
            "available; they are not a sample of real night scenes.",
        ],
        "rai:personalSensitiveInformation": [
            "None intended: the capture protocol is for arranged scenes, not people.  Camera "
            "serial numbers and GPS data are excluded from every file of the release.",
        ],
        "rai:dataSocialImpact": (
            "Better low-light imaging helps photography and vision in the dark; the same "
            "techniques can improve surveillance at night.  The capture protocol collects "
            "no personal data."
        ),
        "rai:dataReleaseMaintenancePlan": (
            "Semantic versioning: major for schema or split changes, minor for added "
            "sessions, patch for metadata fixes.  Each release ships SHA256SUMS and, after "
            f"the first, a CHANGELOG.md.  Issues: {info.url}."
        ),
    }


def build_croissant(info: ReleaseInfo, *, pairs_table: str = PAIRS_TABLE) -> dict[str, Any]:
    """Build the Croissant 1.1 JSON-LD of a release.

    Parameters
    ----------
    info
        The release, as filled by the packager.  ``info.extra_files`` must list
        ``pairs_table`` (its sha256 goes into the metadata).
    pairs_table
        Release-relative path of the typed pairs table (Parquet, the columns of
        :data:`PAIRS_CSV_COLUMNS`).

    Returns
    -------
    dict
        JSON-LD: dataset fields (name, description, license, url, version, creator,
        datePublished, citeAs, keywords), ``distribution`` (every HDF5 file and every extra
        file as a ``cr:FileObject`` with a relative ``contentUrl``, sha256 and size), the
        ``pairs`` record set with one field per column of :data:`PAIRS_CSV_COLUMNS`, and the
        ``rai:`` Responsible-AI fields.

    Raises
    ------
    BadRelease
        When the release lacks a url, a named creator, a name or a split, or when
        ``pairs_table`` is not among ``info.extra_files``.
    """
    check_release_info(info)
    by_path = {f.path: f for f in info.extra_files}
    if pairs_table not in by_path:
        raise BadRelease(
            f"expected {pairs_table} among the release's extra files (its sha256 goes into the "
            f"Croissant metadata), found only {sorted(by_path) or 'none'}; write it first "
            "(dataset_card.parquet.write_pairs_parquet) and list it in ReleaseInfo.extra_files"
        )
    distribution = []
    # issue 14: say which sessions are video (8-bit sRGB short_srgb/long_srgb), which raw
    video = sorted(str(r["id"]) for r in info.sessions if r.get("modality") == "video")
    video_note = (
        "  Sessions imported from video ("
        + ", ".join(video)
        + ") hold 8-bit sRGB frames instead (short_srgb, long_srgb; attribute modality = "
        "video, the videos' metadata in video_dark/video_bright); every other session is raw."
        if video
        else ""
    )
    for split in info.splits:
        for f in split.files:
            distribution.append(
                _file_object(
                    f,
                    f"HDF5 (schema 1) file of the {split.name} split: one group per session "
                    "under /sessions with the short-exposure Bayer frames (short), the "
                    "references (long, gt_srgb) and per-frame tables." + video_note,
                )
            )
    for split in info.splits:
        if split.rows is not None:
            distribution.append(
                _file_object(
                    split.rows,
                    f"Parquet table of the {split.name} split (the card's `configs`, what "
                    "Hugging Face `datasets` loads): one row per example with small preview "
                    "images.",
                )
            )
    for f in info.extra_files:
        if f.path == pairs_table:
            desc = (
                "Typed manifest of pairs (Parquet): one row per short-exposure frame that has "
                "a reference; the same rows as pairs.csv."
            )
        elif f.path.endswith(".csv"):
            desc = "Manifest of pairs as CSV: the rows of pairs.parquet."
        else:
            desc = f"Release file {f.path}."
        distribution.append(_file_object(f, desc))
    rs = PAIRS_RECORD_SET
    fields = [
        {
            "@type": "cr:Field",
            "@id": f"{rs}/{name}",
            "name": name,
            "description": description,
            "dataType": data_type,
            "source": {"fileObject": {"@id": pairs_table}, "extract": {"column": name}},
        }
        for name, data_type, description in PAIRS_COLUMNS
    ]
    record_set = {
        "@type": "cr:RecordSet",
        "@id": rs,
        "name": rs,
        "description": (
            "One record per short-exposure frame with a matched long-exposure reference.  "
            "Open `file` with h5py; the frame is sessions/<session_id>/short[short_index], its "
            "reference sessions/<session_id>/long[ref_index] and gt_srgb[ref_index] (for a "
            "video session short_srgb[short_index] and long_srgb[ref_index]).  Read "
            "from pairs.parquet, whose types are kept (scene 0001 stays the text 0001); "
            "unknown numbers are null."
        ),
        "key": [{"@id": f"{rs}/session_id"}, {"@id": f"{rs}/short_index"}],
        "field": fields,
    }
    license_ = _LICENSE_URLS.get(str(info.license).lower(), info.license)
    doc: dict[str, Any] = {
        "@context": dict(_CONTEXT),
        "@type": "sc:Dataset",
        "conformsTo": [CROISSANT_VERSION, RAI_VERSION],
        "name": info.name,
        "description": (info.description or "").strip() or info.name,
        "license": license_,
        "url": info.url,
        "version": info.version,
        "creator": [_creator(c) for c in info.creators if str(c.get("name", "")).strip()],
        "datePublished": info.created,
        "citeAs": default_citation(info),
        "keywords": ["low-light", "RAW", "Bayer", "denoising", "video", "burst", "HDF5"]
        + (["synthetic", "simulated"] if summarize_sessions(info.sessions).simulated else []),
        "isAccessibleForFree": True,
        "distribution": distribution,
        "recordSet": [record_set],
    }
    doc.update(_rai(info))
    return doc


def write_croissant(
    info: ReleaseInfo, path: str | os.PathLike, *, pairs_table: str = PAIRS_TABLE
) -> Path:
    """Build the Croissant metadata of ``info`` and write it to ``path`` atomically.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    doc = build_croissant(info, pairs_table=pairs_table)
    path = Path(path)
    atomic_write_json(path, doc)
    log.info("wrote the Croissant metadata %s", path)
    return path


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep mlcroissant's Python warnings and absl log lines out of the caller's run.

    Warnings are filtered here only, never globally, so a test run with warnings-as-errors
    still sees its own.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stderr(io.StringIO()):
            yield


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _strings(obj: Any) -> Iterator[str]:
    """Every key and string value of a JSON document, with ``key: value`` for scalars."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                yield f"{k}: {v}"
            else:
                yield f"{k}:"
                yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)
    elif isinstance(obj, str):
        yield obj


def _own_checks(
    doc: Mapping[str, Any], root: Path, check_files: bool, digests: Mapping[str, str]
) -> list[str]:
    problems = []
    if not str(doc.get("url") or "").strip():
        problems.append(
            "expected a non-empty `url` (homepage or repository), found none; mlcroissant does "
            "not require it but users need somewhere to report problems"
        )
    creators = _as_list(doc.get("creator"))
    named = [c for c in creators if isinstance(c, Mapping) and str(c.get("name", "")).strip()]
    if not named:
        problems.append(
            f"expected at least one `creator` with a name, found {creators if creators else 'none'}"
        )
    for obj in _as_list(doc.get("distribution")):
        if not isinstance(obj, Mapping) or obj.get("@type") not in ("cr:FileObject", "FileObject"):
            continue
        ident = obj.get("@id") or obj.get("name")
        sha = str(obj.get("sha256") or "")
        if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha.lower()):
            problems.append(f"FileObject {ident!r}: expected a hex sha256, found {sha!r}")
            continue
        if not check_files:
            continue
        url = str(obj.get("contentUrl") or "")
        if "://" in url:
            problems.append(
                f"FileObject {ident!r}: contentUrl {url!r} is remote; only files next to the "
                "JSON can be checked offline"
            )
            continue
        file = root / url
        if not file.is_file():
            problems.append(f"FileObject {ident!r}: expected a file at {file}, found none")
            continue
        actual = digests.get(url) or sha256_file(file)
        if actual != sha.lower():
            problems.append(
                f"FileObject {ident!r}: sha256 of {file} is {actual}, the metadata says {sha}; "
                "the file changed after the metadata was written, rebuild the release"
            )
    for line in _strings(doc):
        for snippet in find_sensitive(line):
            problems.append(
                f"found {snippet!r}, which looks like a camera serial number or GPS data; these "
                "never enter a release"
            )
    return problems


def validate_croissant(
    path: str | os.PathLike,
    *,
    check_files: bool = False,
    digests: Mapping[str, str] | None = None,
) -> list[str]:
    """Validate a ``croissant.json`` offline.

    Parameters
    ----------
    path
        The Croissant file.  Relative ``contentUrl`` values are read against its folder.
    check_files
        Also hash every FileObject's file on disk and compare with its ``sha256``.
    digests
        sha256 already computed this run, by path relative to the JSON's folder (as in
        ``contentUrl``), so that a file just hashed is not read again.

    Returns
    -------
    list of str
        One message per problem, empty when valid: JSON that does not parse, every error
        and warning of ``mlcroissant.Dataset(jsonld=path)`` (the same check as ``mlcroissant
        validate``), and our own checks: a non-empty ``url``, a named ``creator``, a sha256 on
        every FileObject (matching the file when ``check_files``), no serial-number or GPS
        key.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"expected Croissant JSON-LD at {path}, could not read it ({exc})"]
    if not isinstance(doc, Mapping):
        return [f"expected a JSON object in {path}, found {type(doc).__name__}"]
    problems: list[str] = []
    import mlcroissant as mlc  # heavy (pandas, networkx, rdflib): only when validating

    try:
        with _quiet():
            dataset = mlc.Dataset(jsonld=path)
    except mlc.ValidationError as exc:
        problems += [f"mlcroissant: {line}" for line in str(exc).splitlines() if line.strip()]
    except Exception as exc:  # mlcroissant raises bare ValueError/KeyError on some inputs
        problems.append(f"mlcroissant could not load {path}: {type(exc).__name__}: {exc}")
    else:
        problems += [
            f"mlcroissant warning: {w}" for w in sorted(dataset.metadata.ctx.issues.warnings)
        ]
    problems += _own_checks(doc, path.parent, check_files, digests or {})
    return problems
