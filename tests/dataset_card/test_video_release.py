"""Video sessions in a release: the short_srgb/long_srgb layout, the card, Croissant, patches."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from capture.importer import import_footage
from curate.pipeline import align_session
from dataset_card.errors import FrameChanged
from dataset_card.export_smid import export_patches
from dataset_card.publish import check_release, publish
from dataset_card.reader import open_release
from tests._release import META, curated_scene
from tests.curate.test_video_sessions import seed_footage

ONE = {"train": 1.0, "val": 0.0, "test": 0.0}


@pytest.fixture(autouse=True)
def _salt(monkeypatch):
    monkeypatch.setenv("SUBLUX_SALT", "sublux-tests")


@pytest.fixture
def video_session(tmp_path):
    dark, bright = seed_footage(tmp_path / "footage", bright_png=False)
    s = tmp_path / "video"
    import_footage(
        s, dark=dark, bright=bright, scene="turntable", kind="sweep", exposure="1/30",
        bright_exposure="1/8", iso=2000,
    )  # fmt: skip
    align_session(s)
    return s, dark, bright


def _decoded(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return out
        out.append(bgr[..., ::-1])


def test_video_session_is_published_as_8bit_srgb_beside_raw(tmp_path, video_session):
    s, dark, _bright = video_session
    raw = curated_scene(tmp_path / "raw", "desk", seed=3, size=(64, 96))
    rel = publish([raw, s], tmp_path / "rel", META, fractions=ONE)
    assert check_release(rel) == []
    reader = open_release(rel).split("train")
    by_mod = {reader.session(i).modality: reader.session(i) for i in reader.sessions()}
    assert set(by_mod) == {"raw", "video"}
    v = by_mod["video"]
    assert v.short is None and v.short_srgb.dtype == np.uint8
    t, h, w, c = v.short_srgb.shape
    assert (t, c) == (48, 3) and v.long_srgb.shape == (12, h, w, 3)
    y0, x0 = v.attrs["crop"][:2]
    frames = v.short_frames
    src = _decoded(dark)
    for i in (0, 17, 47):
        n = int(frames["file"][i].decode().split("#")[1])
        assert np.array_equal(np.asarray(v.short_srgb[i]), src[n][y0 : y0 + h, x0 : x0 + w])
    meta = json.loads(v.attrs["video_dark"])
    assert meta["fps"] == pytest.approx(24) and meta["frame_count"] == 48
    assert meta["codec"] == "FMP4" and meta["source"] == "dark.mp4"
    assert v.pairs() and np.array_equal(
        v.ground_truth(v.pairs()[0][0]), v.long_srgb[v.pairs()[0][1]]
    )
    card = (rel / "README.md").read_text()
    assert "**Modality:** 1 raw session(s)" in card and v.session_id in card
    croissant = (rel / "croissant.json").read_text()
    assert "short_srgb" in croissant and v.session_id in croissant
    reader.close()

    out = export_patches(rel, tmp_path / "patches", size=32).dest
    with open(out / "train" / "patches.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    kinds = {r["modality"] for r in rows}
    assert kinds == {"raw", "video"}
    vrow = next(r for r in rows if r["modality"] == "video")
    img = cv2.imread(str(out / "train" / "dark" / vrow["patch"]), cv2.IMREAD_UNCHANGED)
    assert img.dtype == np.uint8 and img.shape == (32, 32, 3)


def test_a_video_changed_after_import_stops_the_publish(tmp_path, video_session):
    s, _, _ = video_session
    data = bytearray((s / "dark" / "video.mp4").read_bytes())
    data[-10] ^= 0xFF
    (s / "dark" / "video.mp4").write_bytes(bytes(data))
    with pytest.raises(FrameChanged):
        publish([s], tmp_path / "rel", META, fractions=ONE)
    assert not (tmp_path / "rel").exists()


def test_dark_video_with_raw_references_is_published_and_stated(tmp_path):
    import shutil

    from capture.sim.video import write_pass_video
    from tests.curate._sessions import sweep_session

    sw = sweep_session(tmp_path / "sw", size=(128, 192), steps=3, dark_frames=9)
    write_pass_video(sw, "dark", tmp_path / "dark.mp4")
    shutil.copytree(sw / "bright", tmp_path / "card")
    s = tmp_path / "mixed"
    result = import_footage(
        s, dark=tmp_path / "dark.mp4", bright=tmp_path / "card", scene="shelf", kind="sweep",
        exposure="1/30", iso=2000, simulated=True,
    )  # fmt: skip
    assert any("raw" in w for w in result.warnings)
    align_session(s)
    rel = publish([s], tmp_path / "rel", META, fractions=ONE)
    assert check_release(rel) == []
    reader = open_release(rel).split("train")
    (sid,) = reader.sessions()
    v = reader.session(sid)
    assert v.modality == "video" and v.long_srgb is None
    assert v.short_srgb.dtype == np.uint8 and v.long.dtype == np.uint16
    assert v.gt_srgb.shape == (*v.long.shape, 3)
    i, k = v.pairs()[0]
    assert np.array_equal(v.ground_truth(i), v.gt_srgb[k])
    assert v.attrs["video_bright"] == "" and v.attrs["cfa"] == "RGGB"
    card = (rel / "README.md").read_text()
    assert "video_with_raw_references" in card and "**Modality:**" in card
    reader.close()
