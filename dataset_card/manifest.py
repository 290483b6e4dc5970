"""A release's ``manifest.json`` as a typed record: its splits, sessions, counts and files.

``dataset publish`` writes it (:meth:`Manifest.to_json`, through
:func:`~sublux_common.fsio.atomic_write_json`), ``refresh_checksums`` adds the ``files`` list,
and the reader (:func:`dataset_card.reader.open_release`) and the release checks read it back
with :meth:`Manifest.read`.  The JSON keeps its documented keys in their order::

    {"name", "version", "schema", "tool_version", "created", "codec",
     "splits": {split: {"files", "rows", "sessions", "scenes", "num_examples", "num_bytes",
                        "num_short_frames", "num_long_frames"}},
     "sessions": {session_id: {"scene", "split", "kind", "simulated", "warnings", "dropped",
                               "references", "unused_references", "mean_reference"}},
     "counts": {"sessions", "scenes", "pairs"},
     "files": [{"path", "size", "sha256"}]}

Only ``splits`` is required when reading (a hand-made manifest naming each split's files opens
as a release); a missing key reads as its default, and :meth:`Manifest.to_json` then writes
every key but ``files``, which it writes when the manifest has it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataset_card.errors import BadRelease, DamagedRelease, NoRelease
from dataset_card.schema import SCHEMA_VERSION

__all__ = [
    "MANIFEST",
    "Counts",
    "FileEntry",
    "Manifest",
    "SessionEntry",
    "SessionWarning",
    "SplitEntry",
    "UnusedReference",
    "load_manifest_json",
    "no_manifest_message",
    "read_manifest",
]

#: The manifest's file name in a release folder.
MANIFEST = "manifest.json"

_MISSING = object()


def _take(
    obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any, where: str
):
    """``obj[key]`` checked to be of ``kind`` (``default`` when absent)."""
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        return default
    bad_bool = isinstance(value, bool) and bool not in (
        kind if isinstance(kind, tuple) else (kind,)
    )
    if not isinstance(value, kind) or bad_bool:
        names = " or ".join(
            k.__name__ if k is not type(None) else "null"
            for k in (kind if isinstance(kind, tuple) else (kind,))
        )
        raise DamagedRelease(
            f"expected {where}.{key} to be {names}, found {type(value).__name__} {value!r}; "
            f"the {MANIFEST} was edited or damaged: download or publish the release again"
        )
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DamagedRelease(
            f"expected {where} to be a JSON object, found {type(value).__name__}; the "
            f"{MANIFEST} was edited or damaged: download or publish the release again"
        )
    return value


def _strings(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = _take(obj, key, list, [], where)
    if not all(isinstance(v, str) for v in values):
        raise DamagedRelease(
            f"expected {where}.{key} to be a list of strings, found {values!r}; the "
            f"{MANIFEST} was edited or damaged: download or publish the release again"
        )
    return tuple(values)


def no_manifest_message(folder: str | os.PathLike) -> str:
    """Why ``folder`` holds no release, for an error: no such folder, a file, or a folder
    without ``manifest.json``; and what to do."""
    folder = Path(folder)
    expected = f"expected a release folder holding {MANIFEST} at {folder}"
    if not folder.exists():
        return (
            f"{expected}, found no such folder; check the path (a release is the folder "
            "`dataset publish --out` made)"
        )
    if not folder.is_dir():
        return f"{expected}, found a file; give the release's folder, not a file in it"
    return f"{expected}, found no {MANIFEST}; point at the folder `dataset publish` wrote"


def read_manifest(folder: str | os.PathLike) -> Any:
    """The parsed ``manifest.json`` of the release ``folder``, as JSON (:meth:`Manifest.read`
    types it).

    Raises
    ------
    NoRelease
        No ``manifest.json`` there (the message says whether the folder exists at all).
    DamagedRelease
        It is not JSON: the release is damaged.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise NoRelease(no_manifest_message(folder))
    return load_manifest_json(path)


def load_manifest_json(path: str | os.PathLike) -> Any:
    """The parsed JSON of a ``manifest.json`` that exists.

    Raises
    ------
    DamagedRelease
        The file is not UTF-8 JSON: the release is damaged (the message says what to do).
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DamagedRelease(
            f"expected JSON in {path}, found text that does not parse ({exc}): the release is "
            f"damaged ({MANIFEST} was edited, cut short or not fully downloaded); download the "
            "release again and check it with `sha256sum -c SHA256SUMS`, or publish it again "
            "from its sessions"
        ) from None


@dataclass(frozen=True)
class FileEntry:
    """A file of the release (``files``): its path in the folder, size and SHA-256."""

    path: str
    size: int
    sha256: str

    @classmethod
    def from_json(cls, obj: Any, where: str = "files[]") -> FileEntry:
        """The entry of a ``files`` item."""
        obj = _mapping(obj, where)
        return cls(
            path=_take(obj, "path", str, "", where),
            size=_take(obj, "size", int, 0, where),
            sha256=_take(obj, "sha256", str, "", where),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``files`` item."""
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class SplitEntry:
    """A split of the release: its HDF5 files, row table, members and counts.

    Attributes
    ----------
    files : tuple of str
        The split's HDF5 files, relative to the release folder.
    rows : str or None
        Its Parquet row table (None: none written).
    sessions, scenes : tuple of str
        Its sessions, in build order, and its scenes, sorted.
    num_examples : int
        Pairs (frames for the dynamic split).
    num_bytes, num_short_frames, num_long_frames : int
        Bytes of its HDF5 files; short and reference frames.
    """

    files: tuple[str, ...] = ()
    rows: str | None = None
    sessions: tuple[str, ...] = ()
    scenes: tuple[str, ...] = ()
    num_examples: int = 0
    num_bytes: int = 0
    num_short_frames: int = 0
    num_long_frames: int = 0

    @classmethod
    def from_json(cls, obj: Any, where: str = "splits[]") -> SplitEntry:
        """The entry of one ``splits`` value."""
        obj = _mapping(obj, where)
        return cls(
            files=_strings(obj, "files", where),
            rows=_take(obj, "rows", (str, type(None)), None, where),
            sessions=_strings(obj, "sessions", where),
            scenes=_strings(obj, "scenes", where),
            **{k: _take(obj, k, int, 0, where) for k in _SPLIT_COUNTS},
        )

    def to_json(self) -> dict[str, Any]:
        """The ``splits`` value."""
        return {
            "files": list(self.files),
            "rows": self.rows,
            "sessions": list(self.sessions),
            "scenes": list(self.scenes),
            **{k: getattr(self, k) for k in _SPLIT_COUNTS},
        }


_COUNTS = ("sessions", "scenes", "pairs")
_SPLIT_COUNTS = ("num_examples", "num_bytes", "num_short_frames", "num_long_frames")


@dataclass(frozen=True)
class SessionWarning:
    """A warning journalled at capture (``code``, ``message``)."""

    code: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """The ``warnings`` item."""
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class UnusedReference:
    """A reference the release does not hold, and why (``file``, ``reason``, ``detail``)."""

    file: str
    reason: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``unused_references`` item."""
        return {"file": self.file, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class SessionEntry:
    """A session of the release: where it is, and what changes its meaning.

    Attributes
    ----------
    scene, split, kind : str
        Its scene, its split and its kind (static, sweep, dynamic).
    simulated : bool
        Shot by the simulated rig.
    warnings : tuple of SessionWarning
        Warnings journalled at capture.
    dropped : dict
        Frames the curation dropped, counted by reason.
    references : int
        References the release holds for it.
    unused_references : tuple of UnusedReference
        References it does not hold, with the reason.
    mean_reference : bool
        Whether it has the references' registered mean (``long_mean``).
    """

    scene: str = ""
    split: str = ""
    kind: str = ""
    simulated: bool = False
    warnings: tuple[SessionWarning, ...] = ()
    dropped: dict[str, int] = field(default_factory=dict)
    references: int = 0
    unused_references: tuple[UnusedReference, ...] = ()
    mean_reference: bool = False

    @classmethod
    def from_json(cls, obj: Any, where: str = "sessions[]") -> SessionEntry:
        """The entry of one ``sessions`` value."""
        obj = _mapping(obj, where)
        warnings = []
        for w in _take(obj, "warnings", list, [], where):
            w = _mapping(w, f"{where}.warnings[]")
            warnings.append(
                SessionWarning(
                    code=str(w.get("code", "")),
                    message=str(w.get("message", "")),
                )
            )
        unused = []
        for u in _take(obj, "unused_references", list, [], where):
            u = _mapping(u, f"{where}.unused_references[]")
            unused.append(
                UnusedReference(
                    file=_take(u, "file", str, "", where),
                    reason=_take(u, "reason", str, "", where),
                    detail=_take(u, "detail", str, "", where),
                )
            )
        dropped = _take(obj, "dropped", dict, {}, where)
        for reason, count in dropped.items():
            if isinstance(count, bool) or not isinstance(count, int):
                raise DamagedRelease(
                    f"expected {where}.dropped to count frames by reason, found {reason}: "
                    f"{count!r}; the {MANIFEST} was edited or damaged: download or publish "
                    "the release again"
                )
        return cls(
            scene=_take(obj, "scene", str, "", where),
            split=_take(obj, "split", str, "", where),
            kind=_take(obj, "kind", str, "", where),
            simulated=_take(obj, "simulated", bool, False, where),
            warnings=tuple(warnings),
            dropped=dict(dropped),
            references=_take(obj, "references", int, 0, where),
            unused_references=tuple(unused),
            mean_reference=_take(obj, "mean_reference", bool, False, where),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``sessions`` value."""
        return {
            "scene": self.scene,
            "split": self.split,
            "kind": self.kind,
            "simulated": self.simulated,
            "warnings": [w.to_json() for w in self.warnings],
            "dropped": dict(self.dropped),
            "references": self.references,
            "unused_references": [u.to_json() for u in self.unused_references],
            "mean_reference": self.mean_reference,
        }


@dataclass(frozen=True)
class Counts:
    """The release's totals: sessions, scenes and pairs (the dynamic split's frames apart)."""

    sessions: int = 0
    scenes: int = 0
    pairs: int = 0

    def to_json(self) -> dict[str, Any]:
        """The ``counts`` value."""
        return {k: getattr(self, k) for k in _COUNTS}


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` says about a release.

    Attributes
    ----------
    name, version : str
        The dataset's name and the release's semantic version.
    schema : int
        The HDF5 layout version (:data:`dataset_card.schema.SCHEMA_VERSION`).
    tool_version, created, codec : str
        sublux's version, the time of publishing (ISO 8601 UTC) and the HDF5 codec.
    splits : dict of str to SplitEntry
        The splits, in the order the release lists them.
    sessions : dict of str to SessionEntry
        The sessions by id.
    counts : Counts
        Totals.
    files : tuple of FileEntry or None
        Every file but ``SHA256SUMS`` and the manifest itself; None until
        :func:`~dataset_card.publish.refresh_checksums` has listed them.
    """

    splits: dict[str, SplitEntry]
    name: str = ""
    version: str = ""
    schema: int = SCHEMA_VERSION
    tool_version: str = ""
    created: str = ""
    codec: str = ""
    sessions: dict[str, SessionEntry] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)
    files: tuple[FileEntry, ...] | None = None

    @classmethod
    def from_json(cls, obj: Any, *, where: str = MANIFEST) -> Manifest:
        """The record of a parsed ``manifest.json``.

        Parameters
        ----------
        obj : dict
            The parsed JSON.
        where : str, optional
            What to call it in error messages (its path).

        Raises
        ------
        BadRelease
            ``obj`` is not an object with a ``splits`` mapping, or a key holds the wrong type.
        """
        if not isinstance(obj, Mapping) or not isinstance(obj.get("splits"), Mapping):
            raise BadRelease(
                f"expected {where} to hold an object with a 'splits' mapping; point at the "
                "folder `dataset publish` wrote, or download the release again"
            )
        counts = _mapping(obj.get("counts", {}), f"{where}: counts")
        files = _take(obj, "files", list, None, where)
        return cls(
            name=_take(obj, "name", str, "", where),
            version=_take(obj, "version", str, "", where),
            schema=_take(obj, "schema", int, SCHEMA_VERSION, where),
            tool_version=_take(obj, "tool_version", str, "", where),
            created=_take(obj, "created", str, "", where),
            codec=_take(obj, "codec", str, "", where),
            splits={
                k: SplitEntry.from_json(v, f"{where}: splits.{k}") for k, v in obj["splits"].items()
            },
            sessions={
                k: SessionEntry.from_json(v, f"{where}: sessions.{k}")
                for k, v in _mapping(obj.get("sessions", {}), f"{where}: sessions").items()
            },
            counts=Counts(**{k: _take(counts, k, int, 0, f"{where}: counts") for k in _COUNTS}),
            files=None
            if files is None
            else tuple(FileEntry.from_json(f, f"{where}: files[]") for f in files),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object ``manifest.json`` holds, keys in their documented order."""
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "schema": self.schema,
            "tool_version": self.tool_version,
            "created": self.created,
            "codec": self.codec,
            "splits": {k: v.to_json() for k, v in self.splits.items()},
            "sessions": {k: v.to_json() for k, v in self.sessions.items()},
            "counts": self.counts.to_json(),
        }
        if self.files is not None:
            out["files"] = [f.to_json() for f in self.files]
        return out

    @classmethod
    def read(cls, folder: str | os.PathLike) -> Manifest:
        """Read ``folder/manifest.json``.

        Raises
        ------
        NoRelease
            No ``manifest.json`` in ``folder`` (or no folder ``folder``): a
            :class:`~dataset_card.errors.MissingFile` and a ``BadRelease``.
        DamagedRelease
            It is not JSON, or holds a value of the wrong type (:meth:`from_json`).
        BadRelease
            It is JSON but not a manifest (no ``splits``).
        """
        return cls.from_json(read_manifest(folder), where=str(Path(folder) / MANIFEST))
