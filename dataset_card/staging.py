"""A staging folder's record of what it was built from (``staging.json``).

``dataset build --out STAGING`` writes the HDF5 splits into a staging folder to inspect before
publishing, and beside them ``staging.json``: the sessions, the split assignment's inputs
(seed, shares, split lists) and the codec.  ``dataset publish --from STAGING`` publishes the
same sessions with the same splits; :func:`read_staging` is its API::

    st = read_staging("staging")
    publish(st.session_paths(), "release", meta, seed=st.seed,
            fractions=parse_fractions(st.fractions), split_lists=st.split_lists_path(),
            codec=st.codec or DEFAULT_CODEC)

The JSON keeps the keys ``build`` has always written, in order: ``sessions`` (absolute
paths), ``splits`` (scene -> split, for the reader's eye: publishing assigns the splits again
from the seed and lists), ``seed``, ``fractions`` (as given, e.g. ``"64/12/24"``),
``split_lists`` (absolute path or null) and ``codec``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataset_card.errors import BadRelease
from sublux_common.fsio import atomic_write_json

if TYPE_CHECKING:
    from dataset_card.build import SessionPlan

__all__ = ["STAGING", "Staging", "read_staging", "write_staging"]

#: The record's file name in a staging folder.
STAGING = "staging.json"

_REQUIRED = ("sessions", "seed", "fractions")


@dataclass(frozen=True)
class Staging:
    """What a staging folder was built from.

    Attributes
    ----------
    sessions : tuple of str
        The curated sessions, absolute paths, in the order given.
    seed : int
        The split assignment's seed.
    fractions : str
        The train/val/test shares as given (``"64/12/24"``).
    splits : dict of str to str
        Each scene's split as built (the dynamic split's scenes apart).
    split_lists : str or None
        The folder of ``train_list.txt`` and the like, absolute, or None.
    codec : str
        The HDF5 codec (empty: the default; a record written before codecs were recorded).
    """

    sessions: tuple[str, ...]
    seed: int
    fractions: str
    splits: dict[str, str] = field(default_factory=dict)
    split_lists: str | None = None
    codec: str = ""

    @classmethod
    def of(
        cls,
        plans: Sequence[SessionPlan],
        *,
        seed: int,
        fractions: str,
        split_lists: str | os.PathLike | None,
        codec: str,
    ) -> Staging:
        """The record of a build of ``plans`` (:func:`dataset_card.build.plan_sessions`).

        Parameters
        ----------
        plans : sequence of SessionPlan
            The planned sessions, their splits assigned.
        seed : int
            The assignment's seed.
        fractions : str
            The shares as the user gave them.
        split_lists : path or None
            The split lists' folder, if any (kept as an absolute path).
        codec : str
            The codec the splits were written with.
        """
        return cls(
            sessions=tuple(str(p.session.path.resolve()) for p in plans),
            seed=seed,
            fractions=fractions,
            splits={p.scene: p.split for p in plans if p.split != "dynamic"},
            split_lists=str(Path(split_lists).resolve()) if split_lists else None,
            codec=codec,
        )

    def session_paths(self) -> list[Path]:
        """The sessions, as paths."""
        return [Path(s) for s in self.sessions]

    def split_lists_path(self) -> Path | None:
        """The split lists' folder, as a path (None: none was given)."""
        return Path(self.split_lists) if self.split_lists else None

    def to_json(self) -> dict[str, Any]:
        """The JSON object ``staging.json`` holds, keys in the order ``build`` writes them."""
        return {
            "sessions": list(self.sessions),
            "splits": dict(self.splits),
            "seed": self.seed,
            "fractions": self.fractions,
            "split_lists": self.split_lists,
            "codec": self.codec,
        }

    @classmethod
    def from_json(cls, obj: Any, *, where: str = STAGING) -> Staging:
        """The record of a parsed ``staging.json``.

        Raises
        ------
        BadRelease
            ``sessions``, ``seed`` or ``fractions`` is missing, or a key holds the wrong type.
        """
        missing = [k for k in _REQUIRED if not isinstance(obj, Mapping) or k not in obj]
        if missing:
            raise BadRelease(
                f"expected {where} to hold sessions, seed and fractions, found no "
                f"{', '.join(missing)}; build the staging folder again"
            )
        sessions, seed, fractions = obj["sessions"], obj["seed"], obj["fractions"]
        splits = obj.get("splits", {})
        split_lists, codec = obj.get("split_lists"), obj.get("codec", "")
        checks = (
            ("sessions", "a list of session paths", _strings(sessions)),
            ("seed", "an integer", isinstance(seed, int) and not isinstance(seed, bool)),
            ("fractions", "shares such as '64/12/24'", isinstance(fractions, str)),
            ("splits", "scene -> split names", _str_map(splits)),
            (
                "split_lists",
                "a folder or null",
                split_lists is None or isinstance(split_lists, str),
            ),
            ("codec", "a codec name", isinstance(codec, str)),
        )
        for key, what, ok in checks:
            if not ok:
                raise BadRelease(
                    f"expected {where}'s {key} to be {what}, found {obj[key]!r}; build the "
                    "staging folder again"
                )
        return cls(
            sessions=tuple(sessions),
            seed=seed,
            fractions=fractions,
            splits=dict(splits),
            split_lists=split_lists,
            codec=codec,
        )


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _str_map(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def write_staging(folder: str | os.PathLike, staging: Staging) -> Path:
    """Write ``folder/staging.json`` atomically; returns its path.

    Parameters
    ----------
    folder : path
        The staging folder (or the partial folder it is built in).
    staging : Staging
        What it was built from.
    """
    path = Path(folder) / STAGING
    atomic_write_json(path, staging.to_json())
    return path


def read_staging(folder: str | os.PathLike) -> Staging:
    """Read what a staging folder was built from.

    Parameters
    ----------
    folder : path
        A folder ``dataset build --out`` wrote.

    Returns
    -------
    Staging

    Raises
    ------
    BadRelease
        ``folder`` holds no ``staging.json``, or one that is not JSON or lacks what ``build``
        writes.
    OSError
        The file is there but cannot be read (its path named).
    """
    path = Path(folder) / STAGING
    if not path.is_file():
        raise BadRelease(
            f"expected a staging folder holding {STAGING} at {folder}, found no {STAGING}; "
            "give a folder `dataset build ... --out` wrote, or publish the sessions directly"
        )
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError: a damaged file, not a bug
        raise BadRelease(
            f"expected {path} as `dataset build` writes it, found invalid JSON ({exc}); "
            "build the staging folder again"
        ) from None
    return Staging.from_json(obj, where=str(path))
