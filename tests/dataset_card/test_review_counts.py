"""A release honours the curator's review and counts frames removed by review and by motion."""

from __future__ import annotations

import json

from capture.session import open_session
from capture.sim.objects import MovingObject
from curate import review as reviewmod
from curate.pipeline import align_session
from dataset_card.publish import publish, read_manifest
from dataset_card.reader import open_release
from tests._release import META, curated_scene
from tests.curate._sessions import static_session


def test_review_and_motion_drops_reach_the_release_and_its_card(tmp_path):
    root = tmp_path / "sessions"
    plain = [curated_scene(root, f"scene{i}", seed=40 + i, frames=4) for i in range(3)]
    moving = static_session(
        root / "street", size=(96, 128), frames=8, seed=7, objects=[MovingObject(frames=[2])]
    )
    meta = json.loads((moving / "session.json").read_text())
    meta["scene"] = "street"
    (moving / "session.json").write_text(json.dumps(meta))
    align_session(moving)
    reviewmod.append(moving / "curation", "dark/0005.dng", "reject", "lens touched")
    align_session(moving)  # the decision applies at this run
    out = publish([moving, *plain], tmp_path / "rel", META)
    sid = open_session(moving).session_id
    entry = read_manifest(out)["sessions"][sid]
    assert entry["dropped"] == {"motion": 1, "review": 1}
    card = (out / "README.md").read_text()
    assert "1 `motion`" in card and "1 `review`" in card
    assert "rejected by the curator" in card and "changed beyond noise" in card
    (data,) = [
        rel_split.session(sid)
        for rel_split in map(open_release(out).split, open_release(out).splits)
        if sid in rel_split
    ]
    files = {f.decode() for f in data.short_frames["file"]}
    assert files == {f"{i:04d}.dng" for i in (0, 1, 3, 4, 6, 7)}
