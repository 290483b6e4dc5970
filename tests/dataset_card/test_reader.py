"""The numpy reader over a small release, in this process and in forked/spawned workers,
and the DRV/SID preprocessing helpers against hand-computed values."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle

import numpy as np
import pytest

from dataset_card import schema
from dataset_card.errors import BadRelease, CorruptFile, MissingFile, UnknownSplit
from dataset_card.h5io import open_file
from dataset_card.h5writer import SplitWriter
from dataset_card.reader import (
    SplitReader,
    apply_gain,
    bin_raw_rgb,
    open_release,
    pack_raw,
    pairs,
    random_window,
    subtract_black,
    table_dicts,
)
from dataset_card.schema import LONG_FRAMES_DTYPE, SHORT_FRAMES_DTYPE

H, W = 64, 96
ROOT = {"dataset_name": "tiny-dark", "version": "2.0.0", "tool_version": "0.1.0"}


def _attrs(kind: str) -> dict:
    return {
        "black_level": [800.0, 800.0, 800.0, 800.0],
        "white_level": 16300,
        "cfa": "RGGB",
        "white_balance": [2.0, 1.0, 1.5, 1.0],
        "exposure_ratio": 300.0 if kind != "dynamic" else float("nan"),
        "iso": 2000.0,
        "short_exposure_s": 1 / 30,
        "long_exposure_s": 10.0,
        "camera_make": "Sony",
        "camera_model": "DSC-RX100M6",
        "lighting": "lamp",
        "lux": 1.0,
        "kind": kind,
        "registration": "ecc",
        "crop": [0, 0, H, W],
    }


def _session(writer, rng, sid, *, refs, k, scene):
    t = len(refs)
    data = {
        "short": rng.integers(780, 1200, (t, H, W), dtype=np.uint16),
        "long": rng.integers(800, 16300, (k, H, W), dtype=np.uint16),
        "gt": rng.integers(0, 65536, (k, H, W, 3), dtype=np.uint16),
    }
    sf = np.zeros(t, SHORT_FRAMES_DTYPE)
    sf["file"] = [f"dark/{sid}-{i}.dng".encode() for i in range(t)]
    sf["ref"] = refs
    sf["exposure_ratio"] = 300.0
    sf["dy"] = 0.25
    lf = np.zeros(k, LONG_FRAMES_DTYPE)
    lf["file"] = [f"bright/{sid}-{j}.dng".encode() for j in range(k)]
    g = writer.add_session(
        sid,
        scene=scene,
        attrs=_attrs("static" if k else "dynamic"),
        short_shape=(t, H, W),
        long_shape=(k, H, W) if k else None,
        gt_shape=(k, H, W, 3) if k else None,
    )
    for i in range(t):
        g.write_short(i, data["short"][i])
    for j in range(k):
        g.write_long(j, data["long"][j])
        g.write_gt(j, data["gt"][j])
    g.write_table("short_frames", sf)
    if k:
        g.write_table("long_frames", lf)
    data["short_frames"], data["long_frames"] = sf, lf
    return data


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A release with a one-file train split and a two-shard val split; returns (folder, truth)."""
    root = tmp_path_factory.mktemp("release")
    rng = np.random.default_rng(42)
    truth = {}
    files = {}
    with SplitWriter(root / "data", "train", root_attrs=ROOT) as w:
        truth["desk"] = _session(w, rng, "desk", refs=[0, 0, 1, -1, 1], k=2, scene="desk")
        truth["street"] = _session(w, rng, "street", refs=[-1, -1, -1], k=0, scene="street")
        files["train"] = w.close()
    with SplitWriter(root / "data", "val", shard_bytes=1, root_attrs=ROOT) as w:
        truth["shelf"] = _session(w, rng, "shelf", refs=[0, -1, 0], k=1, scene="shelf")
        truth["plant"] = _session(w, rng, "plant", refs=[0, 0], k=1, scene="plant")
        files["val"] = w.close()
    manifest = {
        "name": "tiny-dark",
        "version": "2.0.0",
        "splits": {
            s: {"files": [str(p.relative_to(root)) for p in paths]} for s, paths in files.items()
        },
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root, truth


def test_release_lists_splits_and_sessions(release):
    root, _ = release
    rel = open_release(root)
    assert (rel.name, rel.version, rel.splits) == ("tiny-dark", "2.0.0", ["train", "val"])
    assert [p.name for p in rel.files("val")] == ["val-00000-of-00002.h5", "val-00001-of-00002.h5"]
    with rel.split("train") as train:
        assert train.sessions() == ["desk", "street"] and len(train) == 2
    with rel.split("val") as val:
        assert val.sessions() == ["shelf", "plant"]  # file order, then name order
        assert "plant" in val and "desk" not in val
    with pytest.raises(UnknownSplit, match="'test'"):
        rel.split("test")


def test_session_data_arrays_tables_and_attrs(release):
    root, truth = release
    with open_release(root).split("train") as train:
        sd = train.session("desk")
        t = truth["desk"]
        assert (sd.scene, sd.kind) == ("desk", "static")
        assert sd.short.shape == (5, H, W) and sd.short.dtype == np.uint16 and len(sd.short) == 5
        np.testing.assert_array_equal(np.asarray(sd.short), t["short"])
        np.testing.assert_array_equal(sd.long[1], t["long"][1])
        np.testing.assert_array_equal(sd.gt_srgb[0, 10:20, 30:40], t["gt"][0, 10:20, 30:40])
        assert sd.short_frames.tobytes() == t["short_frames"].tobytes()
        assert sd.long_frames.tobytes() == t["long_frames"].tobytes()
        a = sd.attrs
        assert a["black_level"] == [800.0] * 4 and a["white_level"] == 16300
        assert a["cfa"] == "RGGB" and isinstance(a["cfa"], str) and a["crop"] == [0, 0, H, W]
        rows = table_dicts(sd.short_frames)
        assert rows[2]["file"] == "dark/desk-2.dng" and rows[2]["ref"] == 1
        assert isinstance(rows[2]["dy"], float) and rows[2]["dy"] == 0.25

        dyn = train.session("street")
        assert dyn.kind == "dynamic" and dyn.long is None and dyn.gt_srgb is None
        assert dyn.long_frames.shape == (0,) and dyn.pairs() == []
        with pytest.raises(BadRelease, match="'nowhere'"):
            train.session("nowhere")


def test_slicing_reads_the_right_region(release):
    root, truth = release
    short = truth["shelf"]["short"]
    with open_release(root).split("val") as val:
        sd = val.session("shelf")
        np.testing.assert_array_equal(sd.short[2, 10:42, 20:84], short[2, 10:42, 20:84])
        np.testing.assert_array_equal(sd.short[:, 5, ::3], short[:, 5, ::3])
        np.testing.assert_array_equal(sd.short[[0, 2], -4:], short[[0, 2], -4:])
        assert sd.short[1, 3, 4] == short[1, 3, 4]


def test_slicing_a_tiled_file(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "WHOLE_FRAME_MAX_PIXELS", 1000)
    monkeypatch.setattr(schema, "TILE", 16)
    rng = np.random.default_rng(3)
    with SplitWriter(tmp_path, "train", root_attrs=ROOT) as w:
        data = _session(w, rng, "s", refs=[0, 0], k=1, scene="s")
    reader = SplitReader([tmp_path / "train.h5"])
    sd = reader.session("s")
    np.testing.assert_array_equal(sd.short[1, 7:41, 13:70], data["short"][1, 7:41, 13:70])
    np.testing.assert_array_equal(sd.gt_srgb[0, 15:17, 31:33], data["gt"][0, 15:17, 31:33])
    reader.close()


def test_pairs_yields_every_paired_frame(release):
    root, _ = release
    rel = open_release(root)
    assert list(pairs(rel.split("train"))) == [
        ("desk", 0, 0),
        ("desk", 1, 0),
        ("desk", 2, 1),
        ("desk", 4, 1),
    ]
    assert list(pairs(rel.split("val"))) == [
        ("shelf", 0, 0),
        ("shelf", 2, 0),
        ("plant", 0, 0),
        ("plant", 1, 0),
    ]


# Python 3.12+ warns about fork() in a process with threads; DataLoader forks all the same.
FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"


def _read_in_worker(reader: SplitReader) -> tuple[np.ndarray, np.ndarray, bool]:
    sd = reader.session("plant")
    crop = sd.short[1, 8:40, 16:48]
    gt = sd.gt_srgb[0, :4, :4]
    return crop, gt, reader._pid == os.getpid()


def _read_lazy_in_worker(view) -> np.ndarray:
    return view[0, 8:40, 16:48]


@pytest.mark.filterwarnings(FORK_WARNING)
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_reader_works_in_worker_processes(release, method):
    root, truth = release
    reader = open_release(root).split("val")
    sd = reader.session("plant")  # opens the files in this process, before the workers start
    expected = truth["plant"]["short"][1, 8:40, 16:48]
    np.testing.assert_array_equal(sd.short[1, 8:40, 16:48], expected)
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:
        results = pool.map(_read_in_worker, [reader] * 4)
        views = pool.map(_read_lazy_in_worker, [sd.short] * 2)
    for crop, gt, reopened in results:
        np.testing.assert_array_equal(crop, expected)
        np.testing.assert_array_equal(gt, truth["plant"]["gt"][0, :4, :4])
        assert reopened
    for view in views:
        np.testing.assert_array_equal(view, truth["plant"]["short"][0, 8:40, 16:48])
    # The parent's handles are untouched by the workers.
    np.testing.assert_array_equal(sd.short[1, 8:40, 16:48], expected)
    reader.close()


@pytest.mark.filterwarnings(FORK_WARNING)
def test_fork_reopens_handles_inherited_from_the_parent(release):
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.fail("this platform has no fork; the DataLoader default on Linux is fork")
    root, truth = release
    reader = open_release(root).split("train")
    sd = reader.session("desk")
    parent_pid = reader._pid
    assert parent_pid == os.getpid()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.SimpleQueue()

    def child() -> None:
        data = sd.long[1, 2:6, 3:9]
        queue.put((data, reader._pid, os.getpid()))

    proc = ctx.Process(target=child)
    proc.start()
    data, seen_pid, child_pid = queue.get()
    proc.join()
    assert proc.exitcode == 0
    assert seen_pid == child_pid != parent_pid
    np.testing.assert_array_equal(data, truth["desk"]["long"][1, 2:6, 3:9])
    assert reader._pid == parent_pid
    np.testing.assert_array_equal(sd.long[1, 2:6, 3:9], truth["desk"]["long"][1, 2:6, 3:9])
    reader.close()


def test_pickling_drops_the_handles(release):
    root, truth = release
    reader = open_release(root).split("val")
    sd = reader.session("shelf")
    sd.short[0, 0, 0]
    assert reader._handles is not None
    blob = pickle.dumps(reader)
    clone = pickle.loads(blob)
    assert clone._handles is None and clone.files == reader.files
    # one SessionData per id, so its attributes and tables are read once per reader; a
    # pickled reader starts without them
    assert reader.session("shelf") is sd and clone._sessions == {}
    np.testing.assert_array_equal(clone.session("shelf").short[2], truth["shelf"]["short"][2])
    again = pickle.loads(pickle.dumps(sd))
    np.testing.assert_array_equal(again.long[0, :3, :3], truth["shelf"]["long"][0, :3, :3])
    assert again.attrs["scene"] == "shelf"
    np.testing.assert_array_equal(sd.short[1], truth["shelf"]["short"][1])  # original still open
    for r in (reader, clone, again._reader):
        r.close()


def test_a_damaged_chunk_raises_corrupt_file(tmp_path):
    rng = np.random.default_rng(5)
    with SplitWriter(tmp_path, "train", codec="none", root_attrs=ROOT) as w:
        _session(w, rng, "s", refs=[0, 0, 0], k=1, scene="s")
    path = tmp_path / "train.h5"
    with open_file(path) as f:
        info = f["sessions/s/short"].id.get_chunk_info(1)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + 100)
        fh.write(b"\xff\x00")
    with SplitReader([path]) as reader:
        sd = reader.session("s")
        sd.short[0]
        sd.short[2]
        with pytest.raises(CorruptFile, match=r"train\.h5"):
            sd.short[1, :5, :5]


def test_missing_release_pieces(tmp_path):
    with pytest.raises(MissingFile, match=r"manifest\.json"):
        open_release(tmp_path)
    (tmp_path / "manifest.json").write_text('{"name": "x"}')
    with pytest.raises(BadRelease, match="splits"):
        open_release(tmp_path)
    (tmp_path / "manifest.json").write_text('{"splits": {"train": {"files": ["data/x.h5"]}}}')
    reader = open_release(tmp_path).split("train")
    with pytest.raises(MissingFile, match=r"x\.h5"):
        reader.sessions()


# -- preprocessing ----------------------------------------------------------------------------

BLACK4 = [10.0, 20.0, 30.0, 40.0]


def test_subtract_black_uses_each_cfa_positions_level_and_clips():
    mosaic = np.array([[10, 120, 130, 70], [80, 40, 30, 39]], dtype=np.uint16)
    out = subtract_black(mosaic, black=BLACK4, white=110)
    # Position (0,0) black 10 over 100, (0,1) 20 over 90, (1,0) 30 over 80, (1,1) 40 over 70.
    expected = np.array(
        [[0.0, 1.0, 1.0, 50 / 90], [50 / 80, 0.0, 0.0, 0.0]],
        dtype=np.float32,
    )
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    stack = subtract_black(np.stack([mosaic, mosaic]), black=10, white=110)
    np.testing.assert_allclose(stack[1, 0], [0.0, 1.0, 1.0, 0.6], rtol=1e-6)


@pytest.mark.parametrize(
    ("cfa", "order"),
    [
        # Values at the quad positions (0,0)=1, (0,1)=2, (1,0)=3, (1,1)=4, listed as R, G, B, G.
        ("RGGB", [1, 2, 4, 3]),
        ("BGGR", [4, 3, 1, 2]),
        ("GRBG", [2, 1, 3, 4]),
        ("GBRG", [3, 4, 2, 1]),
    ],
)
def test_pack_raw_orders_planes_r_g_b_g(cfa, order):
    quad = np.array([[1, 2], [3, 4]], dtype=np.float64) * 100 + 1000
    mosaic = np.tile(quad, (2, 3)).astype(np.uint16)
    packed = pack_raw(mosaic, black=1000, white=1500, cfa=cfa)
    assert packed.shape == (4, 2, 3) and packed.dtype == np.float32
    np.testing.assert_allclose(packed[:, 0, 0], np.array(order) * 100 / 500, rtol=1e-6)
    assert np.all(packed == packed[:, :1, :1])


def test_pack_raw_clips_like_sid():
    mosaic = np.array([[900, 1600], [1000, 1100]], dtype=np.uint16)
    packed = pack_raw(mosaic, black=1000, white=1500)
    np.testing.assert_allclose(packed[:, 0, 0], [0.0, 1.0, 0.2, 0.0], rtol=1e-6)


def test_bin_raw_rgb_averages_the_greens():
    mosaic = np.array([[1100, 1200], [1400, 1300]], dtype=np.uint16)  # R G / G B
    rgb = bin_raw_rgb(mosaic, black=1000, white=2000, cfa="RGGB")
    np.testing.assert_allclose(rgb[:, 0, 0], [0.1, (0.2 + 0.4) / 2, 0.3], rtol=1e-6)
    bggr = bin_raw_rgb(mosaic, black=1000, white=2000, cfa="BGGR")
    np.testing.assert_allclose(bggr[:, 0, 0], [0.3, 0.3, 0.1], rtol=1e-6)


def test_apply_gain_clips_at_one_only_when_asked():
    x = np.array([0.001, 0.004, 0.5, -0.01], dtype=np.float32)
    np.testing.assert_allclose(apply_gain(x, 300), [0.3, 1.0, 1.0, -3.0], rtol=1e-6)
    np.testing.assert_allclose(apply_gain(x, 300, clip=False), [0.3, 1.2, 150.0, -3.0], rtol=1e-6)
    assert apply_gain(x, 2).dtype == np.float32
    with pytest.raises(BadRelease, match="exposure ratio"):
        apply_gain(x, float("nan"))


def test_random_window_keeps_the_cfa_phase():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(2000):
        rows, cols = random_window(20, 30, size=(8, 10), rng=rng)
        assert rows.start % 2 == 0 and cols.start % 2 == 0
        assert rows.start >= 0 and rows.stop <= 20 and rows.stop - rows.start == 8
        assert cols.start >= 0 and cols.stop <= 30 and cols.stop - cols.start == 10
        seen.add((rows.start, cols.start))
    assert len(seen) == 7 * 11  # every even offset is reachable
    with pytest.raises(BadRelease, match="even"):
        random_window(20, 30, size=7, rng=rng)
