"""A small real release built from simulated sessions, shared by the dataset and baseline tests."""

from __future__ import annotations

import json
from pathlib import Path

from capture.session import SessionWriter
from capture.sim.rig import simulated_session
from curate.pipeline import align_session
from dataset_card.publish import ReleaseMeta
from tests.curate._sessions import static_session

#: the shifts (dy, dx) :func:`multi_reference_scene`'s curation gives its three kept references
SHIFTS = {"0000.dng": (0.2, -0.3), "0001.dng": (2.3, 1.6), "0002.dng": (-0.4, 0.45)}
#: the warning journalled in :func:`multi_reference_scene`
WARNING = ("sweep_behind_plan", "the camera reached 7.6 frames/s against the 16 planned")

META = ReleaseMeta(
    name="night-desk",
    version="1.0.0",
    description="Test release.",
    url="https://example.org/night-desk",
    creators=({"name": "Night Lab", "email": "lab@example.org"},),
)


def curated_scene(
    root: Path, name: str, *, seed: int, size=(96, 128), frames: int = 4, lux: float = 1.0
) -> Path:
    """A static session of its own scene, curated."""
    s = static_session(root / name, size=size, frames=frames, seed=seed, lux=lux)
    meta = json.loads((s / "session.json").read_text())
    meta["scene"] = name.split("_")[0]
    (s / "session.json").write_text(json.dumps(meta))
    align_session(s)
    return s


def dynamic_session(root: Path, name: str, *, size=(96, 128)) -> Path:
    """A burst without references (goes to the dynamic split)."""
    return simulated_session(root / name, scene=name, size=size, seed=99, frames=3, refs=0)


def multi_reference_scene(root: Path, size=(96, 128), name: str = "multi") -> Path:
    """A static session with four references, curated by hand to the contract of the
    curation that keeps every reference: three kept (frame j paired with reference j mod 3,
    each reference with its own shift), the fourth dropped as ``reference_moved``; one dark
    frame dropped as ``hash_mismatch``; and a warning journalled at capture."""
    s = static_session(root / name, size=size, frames=6, refs=4, seed=21)
    meta = json.loads((s / "session.json").read_text())
    meta["scene"] = name
    (s / "session.json").write_text(json.dumps(meta))
    SessionWriter(s).warn(*WARNING, fps=7.6)
    align_session(s)
    path = s / "curation" / "alignment.json"
    al = json.loads(path.read_text())
    template = al["pairs"][0]
    kept_refs = list(SHIFTS)
    al["references"] = [
        {"file": f, "dy": dy, "dx": dx, "aligned_corr": 0.9, "t": float(k)}
        for k, (f, (dy, dx)) in enumerate(SHIFTS.items())
    ]
    pairs = []
    for j, f in enumerate(f"{i:04d}.dng" for i in range(5)):
        ref = kept_refs[j % 3]
        pairs.append(
            {**template, "dark": f, "bright": ref, "dy": SHIFTS[ref][0], "dx": SHIFTS[ref][1]}
        )
    al["pairs"] = pairs
    al["rejected"] = []
    al["dropped"] = [
        {"file": "0005.dng", "pass": "dark", "reason": "hash_mismatch", "detail": "changed"},
        {"file": "0003.dng", "pass": "bright", "reason": "reference_moved", "detail": "9 px"},
    ]
    for fr in al["frames"]["dark"]:
        fr["kept"] = fr["file"] != "0005.dng"
    for fr in al["frames"]["bright"]:
        fr["kept"] = fr["file"] != "0003.dng"
    path.write_text(json.dumps(al))
    return s
