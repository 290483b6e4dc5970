"""Scene-disjoint splits: a seeded, documented assignment, or DRV-style list files.

Sessions group by ``scene`` (one scene under other lighting stays in one split).  Scenes with
references go to ``train``/``val``/``test``; sessions without references (DRV's dynamic test
videos) go to ``dynamic``.

The seeded assignment orders scenes by ``sha256(f"{seed}:{scene}")`` and fills each split up to
its share (default 64/12/24) by the largest-remainder method, with at least one scene per split
that has a non-zero share.  With ``previous`` (the assignment of the release before), scenes
keep their split and only new scenes are placed, towards the target shares: adding scenes never
moves old ones, so a minor release never changes split membership.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from dataset_card.errors import BadRelease

__all__ = ["DEFAULT_FRACTIONS", "SPLITS", "assign_splits", "parse_fractions", "read_split_lists"]

SPLITS = ("train", "val", "test")
DYNAMIC = "dynamic"
DEFAULT_FRACTIONS = {"train": 0.64, "val": 0.12, "test": 0.24}


def parse_fractions(text: str) -> dict[str, float]:
    """``"64/12/24"`` or ``"0.8/0.2/0"`` (train/val/test) into shares summing to 1."""
    try:
        parts = [float(p) for p in text.split("/")]
    except ValueError:
        parts = []
    if len(parts) != 3 or any(p < 0 or math.isnan(p) for p in parts) or sum(parts) <= 0:
        raise BadRelease(
            f"expected split shares as TRAIN/VAL/TEST such as 64/12/24, found {text!r}"
        )
    total = sum(parts)
    return {s: p / total for s, p in zip(SPLITS, parts, strict=True)}


def _order(scenes: Iterable[str], seed: int) -> list[str]:
    return sorted(scenes, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())


def _targets(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    raw = {s: fractions.get(s, 0.0) * n for s in SPLITS}
    counts = {s: math.floor(v) for s, v in raw.items()}
    for s in sorted(SPLITS, key=lambda s: raw[s] - counts[s], reverse=True)[
        : n - sum(counts.values())
    ]:
        counts[s] += 1
    for s in SPLITS:  # every split with a share gets a scene, taken from the largest
        if fractions.get(s, 0) > 0 and counts[s] == 0:
            donor = max(SPLITS, key=lambda k: counts[k])
            if counts[donor] > 1:
                counts[donor] -= 1
                counts[s] += 1
    return counts


def assign_splits(
    scenes: Iterable[str],
    *,
    seed: int = 0,
    fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
    previous: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Assign each scene to ``train``, ``val`` or ``test``; see the module notes."""
    scenes = sorted(set(scenes))
    wanted = [s for s in SPLITS if fractions.get(s, 0) > 0]
    if len(scenes) < len(wanted):
        raise BadRelease(
            f"expected at least {len(wanted)} scenes with references for the splits "
            f"{'/'.join(wanted)}, found {len(scenes)} ({', '.join(scenes) or 'none'}); scenes "
            "never cross splits, so capture more scenes or give fewer splits a share "
            "(e.g. --fractions 80/20/0)"
        )
    previous = {k: v for k, v in (previous or {}).items() if k in scenes and v in SPLITS}
    targets = _targets(len(scenes), fractions)
    assigned = dict(previous)
    counts = {s: sum(1 for v in assigned.values() if v == s) for s in SPLITS}
    for scene in _order([s for s in scenes if s not in assigned], seed):
        split = max(wanted, key=lambda s: (targets[s] - counts[s], -SPLITS.index(s)))
        assigned[scene] = split
        counts[split] += 1
    return assigned


def _no_lists_message(folder: Path) -> str:
    """Why ``folder`` gave no scene for any split: what was expected, what is there, what to do."""
    names = ", ".join(f"{split}_list.txt" for split in SPLITS)
    expected = f"expected split lists ({names}: one scene name a line) in {folder}"
    if not folder.exists():
        found = "found no such folder"
    elif not folder.is_dir():
        found = "found a file, not a folder"
    else:
        lists = [f"{split}_list.txt" for split in SPLITS if (folder / f"{split}_list.txt").exists()]
        if lists:
            found = f"found {', '.join(lists)} without a scene name (only blank or # lines)"
        else:
            there = sorted(p.name for p in folder.iterdir())
            shown = ", ".join(there[:8]) + (f" and {len(there) - 8} more" if len(there) > 8 else "")
            found = f"found none of them (the folder holds {shown or 'nothing'})"
    return (
        f"{expected}, {found}; write the lists there, or leave out --split-lists to assign "
        "scenes to splits by --fractions and --seed"
    )


def read_split_lists(folder: str | Path, scenes: Iterable[str]) -> dict[str, str]:
    """Read DRV-style ``train_list.txt``/``val_list.txt``/``test_list.txt`` (one scene a line)."""
    folder = Path(folder)
    assigned: dict[str, str] = {}
    for split in SPLITS:
        path = folder / f"{split}_list.txt"
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            name = line.strip()
            if not name or name.startswith("#"):
                continue
            if name in assigned and assigned[name] != split:
                raise BadRelease(
                    f"{path}: scene {name!r} is also listed in {assigned[name]}_list.txt; a "
                    "scene may be in one split only"
                )
            assigned[name] = split
    if not assigned:
        raise BadRelease(_no_lists_message(folder))
    missing = sorted(set(scenes) - set(assigned))
    if missing:
        raise BadRelease(
            f"expected every scene in the split lists of {folder}, found {len(missing)} "
            f"unlisted: {', '.join(missing[:10])}; add them to one of the lists"
        )
    return {s: assigned[s] for s in scenes}
