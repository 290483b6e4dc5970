"""A small real release built from simulated sessions, shared by the dataset and baseline tests."""

from __future__ import annotations

import json
from pathlib import Path

from capture import plan
from capture.protocols import Exposure
from capture.session import SessionWriter
from capture.sim.camera import SimCamera
from curate.pipeline import align_session
from dataset_card.publish import ReleaseMeta
from tests.curate._sessions import static_session

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
    cam = SimCamera(size=size, seed=99, fps=1e6, max_wait=0.0)
    spec = plan.static_pass(3, 2000, "1/30", None)
    w = SessionWriter.create(
        root / name,
        scene=name,
        kind="static",
        camera=cam.info,
        plan={"passes": {"dark": spec}, "order": ["dark"]},
    )
    applied = cam.apply(Exposure(iso=2000, shutter="1/30"))
    for i, shot in enumerate(cam.shoot(3)):
        w.write_frame("dark", i, shot, requested=Exposure(), applied=applied, angle=None)
    w.stop("success")
    return root / name
