"""The HDF5 split writer, verifier and summary on small synthetic sessions (64 x 96 frames)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from dataset_card import schema
from dataset_card.errors import BadRelease, CorruptFile, DatasetError, MissingFile, ReleaseExists
from dataset_card.h5io import open_file
from dataset_card.h5verify import file_summary, fletcher32_matches, verify_file
from dataset_card.h5writer import SplitWriter
from dataset_card.schema import CODECS, LONG_FRAMES_DTYPE, SHORT_FRAMES_DTYPE, frame_chunks

H, W = 64, 96
ROOT = {"dataset_name": "tiny-dark", "version": "1.2.0", "tool_version": "0.1.0"}


def session_attrs(h: int = H, w: int = W, *, kind: str = "static") -> dict:
    return {
        "black_level": [800.0, 801.0, 802.0, 803.0],
        "white_level": 16300,
        "cfa": "RGGB",
        "white_balance": [2.1, 1.0, 1.6, 1.0],
        "exposure_ratio": 300.0 if kind != "dynamic" else math.nan,
        "iso": 2000.0,
        "short_exposure_s": 1 / 30,
        "long_exposure_s": 10.0 if kind != "dynamic" else math.nan,
        "camera_make": "Sony",
        "camera_model": "DSC-RX100M6",
        "lighting": "one tungsten lamp",
        "lux": math.nan,
        "kind": kind,
        "registration": "ECC translation on 2x2-binned luminance",
        "crop": [2, 4, h, w],
    }


def make_session(rng, *, t: int = 4, k: int = 2, h: int = H, w: int = W) -> dict:
    """Random frames, references, renderings and tables (k = 0: a dynamic session)."""
    short = (800 + rng.poisson(2.0, (t, h, w))).astype(np.uint16)
    long = rng.integers(800, 16300, (k, h, w), dtype=np.uint16)
    gt = rng.integers(0, 65536, (k, h, w, 3), dtype=np.uint16)
    sf = np.zeros(t, SHORT_FRAMES_DTYPE)
    sf["file"] = [f"dark/{i:05d}.dng".encode() for i in range(t)]
    sf["sha256"] = [bytes(f"{i:064x}", "ascii") for i in range(t)]
    sf["exposure_s"] = 1 / 30
    sf["iso"] = 2000
    sf["t"] = 1.7e9 + np.arange(t) / 16
    sf["angle"] = np.nan
    sf["ref"] = [(i % k) if k else -1 for i in range(t)]
    if k and t > 2:
        sf["ref"][-1] = -1
    sf["score"] = rng.random(t)
    sf["dy"] = rng.uniform(-1, 1, t)
    sf["dx"] = rng.uniform(-1, 1, t)
    sf["exposure_ratio"] = 300.0 if k else np.nan
    lf = np.zeros(k, [*LONG_FRAMES_DTYPE.descr, ("offset_y", "i4"), ("offset_x", "i4")])
    lf["file"] = [f"bright/{j:05d}.dng" for j in range(k)]
    lf["offset_y"] = 2 * np.arange(k)
    return {"short": short, "long": long, "gt": gt, "short_frames": sf, "long_frames": lf}


def write(writer: SplitWriter, sid: str, data: dict, *, scene: str = "desk") -> None:
    t, h, w = data["short"].shape
    k = len(data["long"])
    g = writer.add_session(
        sid,
        scene=scene,
        attrs=session_attrs(h, w, kind="static" if k else "dynamic"),
        short_shape=(t, h, w),
        long_shape=(k, h, w) if k else None,
        gt_shape=(k, h, w, 3) if k else None,
    )
    for i in reversed(range(t)):  # any order is fine
        g.write_short(i, data["short"][i])
    for j in range(k):
        g.write_long(j, data["long"][j])
        g.write_gt(j, data["gt"][j])
    g.write_table("short_frames", data["short_frames"])
    if k:
        g.write_table("long_frames", data["long_frames"])


def files_in(folder) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_is_exact(tmp_path, codec):
    rng = np.random.default_rng(1)
    sessions = {"s-static": make_session(rng), "s-dynamic": make_session(rng, t=3, k=0)}
    with SplitWriter(tmp_path, "train", codec=codec, root_attrs=ROOT) as w:
        for sid, data in sessions.items():
            write(w, sid, data)
        paths = w.close()
    assert [p.name for p in paths] == ["train.h5"]
    assert files_in(tmp_path) == ["train.h5"]
    assert verify_file(paths[0]) == []

    with open_file(paths[0]) as f:
        root = dict(f.attrs)
        assert root["schema_version"] == 1 and root["split"] == "train"
        assert root["shard"] == 0 and root["num_shards"] == 1
        assert root["dataset_name"] == "tiny-dark" and root["created"].endswith("Z")
        for sid, data in sessions.items():
            g = f["sessions"][sid]
            assert g.attrs["scene"] == "desk"
            short = g["short"]
            assert short.dtype == np.uint16 and short.fletcher32
            assert short.chunks == (1, H, W)
            np.testing.assert_array_equal(short[()], data["short"])
            assert g["short_frames"][()].tobytes() == data["short_frames"].tobytes()
            if len(data["long"]):
                np.testing.assert_array_equal(g["long"][()], data["long"])
                np.testing.assert_array_equal(g["gt_srgb"][()], data["gt"])
                assert g["gt_srgb"].chunks == (1, H, W, 3)
                assert not g["gt_srgb"].attrs["half_size"]
                lf = g["long_frames"][()]
                assert lf.dtype.names == data["long_frames"].dtype.names  # extra fields kept
                for name in lf.dtype.names:
                    np.testing.assert_array_equal(lf[name], data["long_frames"][name])
            else:
                assert "long" not in g and "gt_srgb" not in g and "long_frames" not in g


def test_summary_reports_shapes_attrs_and_codec(tmp_path):
    rng = np.random.default_rng(2)
    with SplitWriter(tmp_path, "val", codec="bitshuffle-lz4", root_attrs=ROOT) as w:
        write(w, "a", make_session(rng, t=5, k=2))
        write(w, "b", make_session(rng, t=3, k=0), scene="street")
    s = file_summary(tmp_path / "val.h5")
    assert s["codec"] == "bitshuffle-lz4"
    assert s["attrs"]["split"] == "val" and s["attrs"]["num_shards"] == 1
    a, b = s["sessions"]["a"], s["sessions"]["b"]
    assert a["short"] == [5, H, W] and a["long"] == [2, H, W] and a["gt_srgb"] == [2, H, W, 3]
    assert (a["num_short"], a["num_long"], a["num_paired"]) == (5, 2, 4)
    assert b["scene"] == "street" and b["kind"] == "dynamic" and b["long"] is None
    assert b["num_paired"] == 0 and math.isnan(b["attrs"]["exposure_ratio"])
    assert a["attrs"]["black_level"] == [800.0, 801.0, 802.0, 803.0]
    assert a["attrs"]["crop"] == [2, 4, H, W] and a["attrs"]["cfa"] == "RGGB"
    assert s["num_short"] == 8 and s["num_paired"] == 4
    assert s["raw_bytes"] == 2 * (5 * H * W + 2 * H * W + 2 * H * W * 3 + 3 * H * W)
    assert s["size"] == os.path.getsize(tmp_path / "val.h5")


def test_shards_roll_over_and_are_named_by_count(tmp_path):
    rng = np.random.default_rng(3)
    data = [make_session(rng, t=2, k=1) for _ in range(3)]
    per_session = 2 * (2 * H * W + H * W + H * W * 3)
    # Room for two sessions per shard: sessions 0 and 1 share a file, 2 starts the next.
    with SplitWriter(tmp_path / "two", "train", shard_bytes=2 * per_session, root_attrs=ROOT) as w:
        for i, d in enumerate(data):
            write(w, f"s{i}", d)
    assert files_in(tmp_path / "two") == ["train-00000-of-00002.h5", "train-00001-of-00002.h5"]
    # A session bigger than a shard still gets one (a session never spans files).
    with SplitWriter(tmp_path / "tiny", "test", shard_bytes=1, root_attrs=ROOT) as w:
        for i, d in enumerate(data):
            write(w, f"s{i}", d)
        paths = w.close()
    names = [f"test-{i:05d}-of-00003.h5" for i in range(3)]
    assert [p.name for p in paths] == names and files_in(tmp_path / "tiny") == names
    for i, p in enumerate(paths):
        s = file_summary(p)
        assert (s["attrs"]["shard"], s["attrs"]["num_shards"]) == (i, 3)
        assert list(s["sessions"]) == [f"s{i}"]
        assert verify_file(p) == []
    with open_file(tmp_path / "two" / "train-00000-of-00002.h5") as f:
        assert sorted(f["sessions"]) == ["s0", "s1"]


def test_exception_inside_the_writer_leaves_no_file(tmp_path):
    rng = np.random.default_rng(4)
    writer = SplitWriter(tmp_path, "train", shard_bytes=1, root_attrs=ROOT)
    with pytest.raises(RuntimeError, match="power cut"), writer as w:
        write(w, "s0", make_session(rng, t=2, k=1))
        write(w, "s1", make_session(rng, t=2, k=1))
        assert len(w.temp_paths) == 2 and all(p.exists() for p in w.temp_paths)
        assert all(p.name.startswith(".train-") for p in w.temp_paths)
        raise RuntimeError("power cut")
    assert files_in(tmp_path) == []


def test_an_incomplete_session_fails_the_split_and_leaves_nothing(tmp_path):
    rng = np.random.default_rng(5)
    data = make_session(rng, t=3, k=1)
    writer = SplitWriter(tmp_path, "train", root_attrs=ROOT)
    with pytest.raises(BadRelease, match=r"short frames \[1\]"), writer as w:
        g = w.add_session(
            "s0", scene="desk", attrs=session_attrs(), short_shape=(3, H, W), long_shape=(1, H, W)
        )
        g.write_short(0, data["short"][0])
        g.write_short(2, data["short"][2])
        g.write_long(0, data["long"][0])
        g.write_table("short_frames", data["short_frames"])
        g.write_table("long_frames", data["long_frames"])
    assert files_in(tmp_path) == []


def test_close_twice_returns_the_same_paths_and_empty_split_writes_nothing(tmp_path):
    rng = np.random.default_rng(6)
    with SplitWriter(tmp_path, "train", root_attrs=ROOT) as w:
        write(w, "s0", make_session(rng, t=2, k=1))
        first = w.close()
        assert w.close() == first
        with pytest.raises(DatasetError, match="closed"):
            write(w, "s1", make_session(rng, t=2, k=1))
    with SplitWriter(tmp_path, "val", root_attrs=ROOT) as w:
        assert w.close() == []
    assert files_in(tmp_path) == ["train.h5"]


def test_refuses_to_mix_into_an_existing_split(tmp_path):
    (tmp_path / "train-00000-of-00002.h5").write_bytes(b"old")
    with pytest.raises(ReleaseExists, match=r"train-00000-of-00002\.h5"):
        SplitWriter(tmp_path, "train", root_attrs=ROOT)
    SplitWriter(tmp_path, "train_extra", root_attrs=ROOT).close()  # another split is fine


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"codec": "lzma"}, "codec"),
        ({"split": "train/../x"}, "split name"),
        ({"root_attrs": {"version": "1"}}, "dataset_name"),
        ({"shard_bytes": 0}, "shard_bytes"),
    ],
)
def test_writer_options_are_checked(tmp_path, change, match):
    kwargs = {"split": "train", "root_attrs": ROOT, **change}
    with pytest.raises(BadRelease, match=match):
        SplitWriter(tmp_path, **kwargs)


def test_frames_shapes_tables_and_attrs_are_checked(tmp_path):
    rng = np.random.default_rng(7)
    data = make_session(rng, t=2, k=1)
    with SplitWriter(tmp_path, "train", root_attrs=ROOT) as w:
        bad = session_attrs()
        del bad["lux"]
        with pytest.raises(BadRelease, match="missing lux"):
            w.add_session("s", scene="x", attrs=bad, short_shape=(2, H, W))
        with pytest.raises(BadRelease, match="crop"):
            w.add_session("s", scene="x", attrs=session_attrs(), short_shape=(2, H, W + 2))
        with pytest.raises(BadRelease, match=r"found 'a/b' \(it holds '/'\)"):
            w.add_session("a/b", scene="x", attrs=session_attrs(), short_shape=(2, H, W))
        with pytest.raises(BadRelease, match=r"expected a scene name \(a non-empty.*it is empty"):
            w.add_session("s", scene="", attrs=session_attrs(), short_shape=(2, H, W))
        with pytest.raises(BadRelease, match="None"):
            w.add_session(
                "s", scene="x", attrs={**session_attrs(), "lux": None}, short_shape=(2, H, W)
            )
        with pytest.raises(BadRelease, match="references of the short frames' size"):
            w.add_session(
                "s", scene="x", attrs=session_attrs(), short_shape=(2, H, W), long_shape=(1, H, 8)
            )
        g = w.add_session(
            "s", scene="x", attrs=session_attrs(), short_shape=(2, H, W), long_shape=(1, H, W)
        )
        with pytest.raises(BadRelease, match="added twice"):
            w.add_session("s", scene="x", attrs=session_attrs(), short_shape=(2, H, W))
        with pytest.raises(BadRelease, match="uint16"):
            g.write_short(0, data["short"][0].astype(np.int32))
        with pytest.raises(BadRelease, match="shape"):
            g.write_short(0, data["short"][0][:, :-2])
        with pytest.raises(BadRelease, match=r"index in \[0, 2\)"):
            g.write_short(2, data["short"][0])
        with pytest.raises(BadRelease, match="gt_shape"):
            g.write_gt(0, data["gt"][0])
        with pytest.raises(BadRelease, match="2 rows"):
            g.write_table("short_frames", data["short_frames"][:1])
        too_long = (
            data["short_frames"]
            .copy()
            .astype([(n, "U200" if n == "file" else t) for n, t in SHORT_FRAMES_DTYPE.descr])
        )
        too_long["file"][0] = "x" * 129
        with pytest.raises(BadRelease, match="129 bytes"):
            g.write_table("short_frames", too_long)
        wrong_ref = data["short_frames"].copy()
        wrong_ref["ref"][0] = 1
        with pytest.raises(BadRelease, match="ref"):
            g.write_table("short_frames", wrong_ref)
        w.abort()
    assert files_in(tmp_path) == []


def test_text_fields_may_be_given_as_str(tmp_path):
    rng = np.random.default_rng(8)
    data = make_session(rng, t=2, k=1)
    as_str = data["short_frames"].astype(
        [(n, "U128" if n in ("file", "sha256") else t) for n, t in SHORT_FRAMES_DTYPE.descr]
    )
    data["short_frames"] = as_str
    with SplitWriter(tmp_path, "train", root_attrs=ROOT) as w:
        write(w, "s", data)
    with open_file(tmp_path / "train.h5") as f:
        table = f["sessions/s/short_frames"][()]
    assert table.dtype["file"] == np.dtype("S128")
    assert table["file"].tolist() == [b"dark/00000.dng", b"dark/00001.dng"]


def _flip_byte(path, dataset: str, chunk: int, at: int = 7) -> None:
    with open_file(path) as f:
        info = f[dataset].id.get_chunk_info(chunk)
    assert info.size > at
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + at)
        byte = fh.read(1)[0]
        fh.seek(info.byte_offset + at)
        fh.write(bytes([byte ^ 0x5A]))


@pytest.mark.parametrize("codec", CODECS)
def test_verify_finds_a_flipped_byte(tmp_path, codec):
    rng = np.random.default_rng(9)
    with SplitWriter(tmp_path, "train", codec=codec, root_attrs=ROOT) as w:
        write(w, "s1", make_session(rng, t=4, k=1))
    path = tmp_path / "train.h5"
    assert verify_file(path) == []
    _flip_byte(path, "sessions/s1/short", chunk=2)
    problems = verify_file(path)
    assert problems == ["train.h5: /sessions/s1/short: checksum error (chunk (2, 0, 0))"]


def test_verify_finds_damage_in_tiles_and_tables(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "WHOLE_FRAME_MAX_PIXELS", 1000)
    monkeypatch.setattr(schema, "TILE", 32)
    assert frame_chunks(H, W) == (1, 32, 32)
    rng = np.random.default_rng(10)
    data = make_session(rng, t=3, k=1)
    with SplitWriter(tmp_path, "train", codec="gzip-shuffle", root_attrs=ROOT) as w:
        write(w, "s1", data)
    path = tmp_path / "train.h5"
    with open_file(path) as f:
        assert f["sessions/s1/short"].chunks == (1, 32, 32)
        assert f["sessions/s1/gt_srgb"].chunks == (1, 32, 32, 3)
        np.testing.assert_array_equal(f["sessions/s1/short"][()], data["short"])
        # Chunk 7 of a (3, 64, 96) stack in 32 x 32 tiles: frame 1, rows 0-31, cols 0-31.
        assert f["sessions/s1/short"].id.get_chunk_info(7).chunk_offset == (1, 0, 32)
    _flip_byte(path, "sessions/s1/short", chunk=7)
    _flip_byte(path, "sessions/s1/short_frames", chunk=0, at=3)
    assert verify_file(path) == [
        "train.h5: /sessions/s1/short: checksum error (chunk (1, 0, 32))",
        "train.h5: /sessions/s1/short_frames: checksum error (chunk (0,))",
    ]


def test_verify_names_a_file_that_is_not_hdf5_or_missing(tmp_path):
    junk = tmp_path / "train.h5"
    junk.write_bytes(b"\x89HDF but not really" * 10)
    (problem,) = verify_file(junk)
    assert problem.startswith("train.h5: ") and "not HDF5" in problem
    (problem,) = verify_file(tmp_path / "val.h5")
    assert problem.startswith("val.h5: ") and "found nothing" in problem
    with pytest.raises(CorruptFile):
        file_summary(junk)
    with pytest.raises(MissingFile):
        open_file(tmp_path / "val.h5")


def test_verify_reports_layout_problems(tmp_path):
    import h5py  # only to damage the layout on purpose

    rng = np.random.default_rng(11)
    with SplitWriter(tmp_path, "train", root_attrs=ROOT) as w:
        write(w, "s1", make_session(rng, t=3, k=1))
    path = tmp_path / "train.h5"
    with h5py.File(path, "r+") as f:
        del f.attrs["tool_version"]
        f.attrs["num_shards"] = 2
        del f["sessions/s1"].attrs["cfa"]
        del f["sessions/s1/long_frames"]
    problems = verify_file(path)
    assert "train.h5: missing root attributes tool_version" in problems
    assert any("name it train-00000-of-00002.h5" in p for p in problems)
    assert "train.h5: /sessions/s1: missing attributes cfa" in problems
    assert "train.h5: /sessions/s1: no long_frames table" in problems


def test_fletcher32_matches_hdf5s_checksum(tmp_path):
    rng = np.random.default_rng(12)
    checked = 0
    for codec in CODECS:
        with SplitWriter(tmp_path / codec, "train", codec=codec, root_attrs=ROOT) as w:
            write(w, "s", make_session(rng, t=3, k=1))
        with open_file(tmp_path / codec / "train.h5") as f:
            for name in ("short", "long", "gt_srgb", "short_frames", "long_frames"):
                ds = f["sessions/s"][name]
                for i in range(ds.id.get_num_chunks()):
                    info = ds.id.get_chunk_info(i)
                    raw = ds.id.read_direct_chunk(info.chunk_offset)[1]
                    assert fletcher32_matches(raw), (codec, name, i)
                    damaged = bytearray(raw)
                    damaged[len(raw) // 2] ^= 0x01
                    assert not fletcher32_matches(bytes(damaged))
                    checked += 1
    assert checked == 4 * 7  # 3 + 1 + 1 frames and 2 tables per codec


def test_blosc_threads_are_set_while_writing_and_restored(tmp_path, monkeypatch):
    monkeypatch.delenv("BLOSC_NTHREADS", raising=False)
    w = SplitWriter(tmp_path, "train", codec="blosc-zstd", blosc_threads=2, root_attrs=ROOT)
    assert os.environ["BLOSC_NTHREADS"] == "2"
    w.close()
    assert "BLOSC_NTHREADS" not in os.environ
    monkeypatch.setenv("BLOSC_NTHREADS", "1")
    with SplitWriter(tmp_path, "val", codec="blosc-zstd", blosc_threads=2, root_attrs=ROOT):
        assert os.environ["BLOSC_NTHREADS"] == "1"  # the user's setting wins
    assert os.environ["BLOSC_NTHREADS"] == "1"


def test_frame_chunks_tile_only_large_frames():
    assert frame_chunks(1224, 1832) == (1, 1224, 1832)
    assert frame_chunks(2000, 2000) == (1, 2000, 2000)
    assert frame_chunks(3672, 5496) == (1, 256, 256)
    assert frame_chunks(100, 50_000) == (1, 100, 256)


def test_the_same_frames_are_stored_as_the_same_bytes(tmp_path, monkeypatch):
    """Review finding 8: two packagings of the same input gave different compressed chunks.
    With several threads c-blosc lays a chunk's blocks out in the order its threads finish
    them; the default (one thread) stores the same bytes every time."""
    monkeypatch.delenv("BLOSC_NTHREADS", raising=False)
    data = make_session(np.random.default_rng(8), t=4, k=0, h=1024, w=1024)  # 2 MiB chunks

    def chunks(folder) -> list[bytes]:
        with SplitWriter(folder, "test", codec="blosc-zstd", root_attrs=ROOT) as w:
            write(w, "s", data)
            (path,) = w.close()
        with open_file(path) as f:
            ds = f["sessions/s/short"]
            return [ds.id.read_direct_chunk((i, 0, 0))[1] for i in range(4)]

    first = chunks(tmp_path / "a")
    for n in range(4):
        assert chunks(tmp_path / f"b{n}") == first
