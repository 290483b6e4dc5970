"""Seeded simulated sessions whose ``alignment.json`` is pinned in ``tests/curate/data/``.

The pinned files were written by the code before ``alignment.json`` was built from typed
records (:mod:`curate.result`); the test compares what curation writes now with them, key for
key, after :func:`normalized` blanks what differs between runs (time, version, paths, the
input digest, which includes file times).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from capture.sim.objects import Light, MovingObject
from curate import review as reviewmod
from curate.pipeline import Options, align_session
from tests.curate._sessions import static_session, sweep_session

DATA = Path(__file__).parent / "data"
NOW = _dt.datetime(2026, 12, 1, 12, 0, 0, tzinfo=_dt.timezone.utc)


def static_alignment(root: Path) -> Path:
    """A static burst with every kind of entry: drops (too_dark, hash_mismatch, motion,
    review), rejected pairs, a pair restored in review, several references, drift."""
    objects = [MovingObject(frames=range(4, 6))]
    s = static_session(
        root / "static", size=(96, 128), frames=12, refs=3, events={2: 0.0}, objects=objects
    )
    data = (s / "dark/0009.dng").read_bytes()
    (s / "dark/0009.dng").write_bytes(data[: len(data) // 3])
    strict = Options(rel_aligned_corr=0.999, workers=1)
    cur = s / "curation"
    cur.mkdir()
    reviewmod.append(
        cur, "dark/0007.dng", "reject", "<script>blurred</script>", user="ana", now=NOW
    )
    first = json.loads(align_session(s, options=strict).read_text())
    low = sorted(p["dark"] for p in first["rejected"])
    reviewmod.append(cur, f"dark/{low[0]}", "restore", "fine", user="ana", now=NOW)
    return align_session(s, options=strict)


def sweep_alignment(root: Path) -> Path:
    """A sweep whose pairs carry motion flags (a light on during part of the dark pass)."""
    light = Light(frames=range(13), gain=3.0, radius=0.2, at=(0.5, 0.5))
    s = sweep_session(root / "sweep", objects=[light])
    return align_session(s, options=Options(workers=1))


def normalized(path: Path) -> dict:
    """``alignment.json`` with what differs between runs blanked."""
    data = json.loads(path.read_text())
    data["created"] = "CREATED"
    data["tool"]["version"] = "VERSION"
    data["source"]["session"] = "SESSION"
    data["source"]["input_sha256"] = "INPUT"
    data["source"]["session_id"] = "SESSION_ID"
    for entry in [*data["references"], *data["frames"]["dark"], *data["frames"]["bright"]]:
        entry["t"] = "T"  # the capture's wall-clock time
    for d in data["dropped"]:
        for key in ("expected", "found"):  # the simulated DNGs record their capture time
            if d.get(key):
                d[key] = "SHA256"
    return data
