"""A release as its users meet it: Hugging Face `datasets`, Croissant, plain h5py, SMID and
patch exports, and a PyTorch dataset built from the card's snippet.

One release of the simulated rig with DRV-style scene names ("0001", ...): four static scenes,
a turntable sweep in train and a session without references.  Every consumer that must not
need sublux runs in a subprocess where sublux (and, where said, hdf5plugin) cannot be
imported.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from curate.pipeline import align_session
from dataset_card.cli import app
from dataset_card.croissant import PAIRS_COLUMNS, PAIRS_CSV_COLUMNS, write_croissant
from dataset_card.parquet import preview_ground_truth, preview_short, preview_size
from dataset_card.publish import publish, read_manifest
from dataset_card.reader import open_release
from tests._release import META, curated_scene, dynamic_session
from tests.curate._sessions import sweep_session

runner = CliRunner()
SIZE = (96, 128)
ROOT = Path(__file__).resolve().parents[2]
#: put at the top of a subprocess: these packages cannot be imported there
BLOCK = "import sys\nfor _m in {mods!r}:\n    sys.modules[_m] = None\n"
SUBLUX = ("capture", "curate", "dataset_card", "baseline")


def _run(code: str, *, cwd: Path, env: dict | None = None, block=SUBLUX) -> str:
    """Run ``code`` in a fresh interpreter (sublux not on the path unless asked)."""
    full = BLOCK.format(mods=tuple(block)) + textwrap.dedent(code)
    r = subprocess.run(
        [sys.executable, "-c", full],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    out = [curated_scene(root, f"000{i}_s", seed=30 + i, size=SIZE) for i in range(1, 5)]
    sweep = sweep_session(root / "sweep", size=(192, 288), steps=4, dark_frames=13)
    meta = json.loads((sweep / "session.json").read_text())
    meta["scene"] = "0005"
    (sweep / "session.json").write_text(json.dumps(meta))
    align_session(sweep)
    out.append(sweep)
    out.append(dynamic_session(root, "street", size=SIZE))
    lists = root / "lists"
    lists.mkdir()
    (lists / "train_list.txt").write_text("0001\n0002\n0005\n")
    (lists / "val_list.txt").write_text("0003\n")
    (lists / "test_list.txt").write_text("0004\n")
    return out, lists


@pytest.fixture(scope="module")
def release(sessions, tmp_path_factory):
    paths, lists = sessions
    dest = tmp_path_factory.mktemp("rel") / "drv-like"
    return publish(paths, dest, META, split_lists=lists, shard_bytes=200_000)


def _csv_rows(release: Path) -> list[dict]:
    with open(release / "pairs.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# -- Hugging Face ------------------------------------------------------------------------------


def test_load_dataset_without_sublux_or_hdf5plugin(release, tmp_path):
    """load_dataset on the release folder, offline, in a process that cannot import sublux,
    hdf5plugin or h5py: the documented rows for every split, as the card's dataset_info says."""
    out = _run(
        f"""
        import io, json
        from datasets import load_dataset
        res = {{}}
        for config in ("default", "dynamic"):
            d = load_dataset({str(release)!r}, config)
            for split, ds in d.items():
                rows = []
                for r in ds:
                    s, g = r.pop("short_preview"), r.pop("gt_preview")
                    r["short_preview"] = list(s.size)
                    r["gt_preview"] = None if g is None else list(g.size)
                    rows.append(r)
                res[split] = rows
        default = load_dataset({str(release)!r})  # no config named: the card's default
        assert {{k: len(v) for k, v in default.items()}} == {{
            k: len(res[k]) for k in ("train", "val", "test")
        }}
        print(json.dumps(res))
        """,
        cwd=release,
        env={
            "HF_DATASETS_OFFLINE": "1",
            "HF_HUB_OFFLINE": "1",
            "HF_HOME": str(tmp_path / "hf"),
            "HF_DATASETS_CACHE": str(tmp_path / "hf" / "datasets"),
        },
        block=(*SUBLUX, "hdf5plugin", "h5py"),
    )
    got = json.loads(out.strip().splitlines()[-1])
    manifest = read_manifest(release)
    card = yaml.safe_load((release / "README.md").read_text().split("---")[1])
    stated = {
        sp["name"]: sp["num_examples"] for info in card["dataset_info"] for sp in info["splits"]
    }
    assert (
        set(got)
        == set(manifest["splits"])
        == set(stated)
        == {
            "train",
            "val",
            "test",
            "dynamic",
        }
    )
    for split, rows in got.items():
        assert len(rows) == stated[split] == manifest["splits"][split]["num_examples"], split
    # The paired rows are pairs.csv's rows, with the same types the card declares.
    csv_rows = _csv_rows(release)
    paired = [r for s in ("train", "val", "test") for r in got[s]]
    key = {(r["session_id"], int(r["short_index"])): r for r in csv_rows}
    assert len(paired) == len(csv_rows) > 0
    # the CSV's float columns, as the Croissant file types them ("nan" where unknown)
    floats = {name for name, kind, _ in PAIRS_COLUMNS if kind == "sc:Float"}
    assert "exposure_ratio" in floats and "lux" in floats
    for r in paired:
        c = key[(r["session_id"], r["short_index"])]
        for col in PAIRS_CSV_COLUMNS:
            want = c[col]
            if col in ("short_index", "ref_index"):
                assert r[col] == int(want), col
            elif col in floats:
                v = float(want)
                assert (r[col] is None) if math.isnan(v) else r[col] == pytest.approx(v), col
            else:
                assert r[col] == want, col
    assert {r["scene"] for r in paired} == {"0001", "0002", "0003", "0004", "0005"}
    # ... and the HDF5 tables: names, sha256 and ratios of the frames the rows point at.
    rel = open_release(release)
    for split in ("train", "val", "test", "dynamic"):
        with rel.split(split) as reader:
            for r in got[split]:
                assert r["file"] in manifest["splits"][split]["files"]
                sd = reader.session(r["session_id"])
                t = sd.short_frames[r["short_index"]]
                assert t["file"].decode() == r["short_file"]
                assert t["sha256"].decode() == r["short_sha256"]
                assert int(t["ref"]) == r["ref_index"]
                if r["ref_index"] >= 0:
                    lt = sd.long_frames[r["ref_index"]]
                    assert lt["sha256"].decode() == r["long_sha256"]
                    assert float(t["exposure_ratio"]) == r["exposure_ratio"]
                    assert r["gt_preview"] == r["short_preview"]
                else:
                    assert r["gt_preview"] is None and r["exposure_ratio"] is None
                _, h, w = sd.short.shape
                assert tuple(r["short_preview"]) == preview_size(h, w)[::-1]  # PIL: (w, h)
    assert {r["kind"] for r in got["train"]} == {"static", "sweep"}
    assert got["dynamic"] and all(r["kind"] == "dynamic" for r in got["dynamic"])


def test_previews_are_the_frames_they_name(release):
    """The preview bytes are the render of the HDF5 frame times its ratio, and the pair's
    ground truth: recomputed from the HDF5 file, they are equal byte for byte."""
    table = pq.read_table(release / "parquet" / "val.parquet").to_pylist()
    assert table
    with open_release(release).split("val") as reader:
        for row in table:
            sd = reader.session(row["session_id"])
            i, k = row["short_index"], row["ref_index"]
            frame = np.asarray(sd.short[i])
            assert row["short_preview"]["bytes"] == preview_short(
                frame, sd.attrs, row["exposure_ratio"]
            )
            assert row["gt_preview"]["bytes"] == preview_ground_truth(
                np.asarray(sd.gt_srgb[k]), preview_size(*frame.shape)
            )


# -- Croissant ----------------------------------------------------------------------------------


def _records(path: Path) -> list[dict]:
    import mlcroissant as mlc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        records = list(mlc.Dataset(jsonld=path).records("pairs"))
    return [
        {
            c: (v.decode() if isinstance(v, bytes) else v)
            for c, v in ((k, r[f"pairs/{k}"]) for k in PAIRS_CSV_COLUMNS)
        }
        for r in records
    ]


def test_croissant_keeps_drv_scene_names(release, offline):
    got = _records(release / "croissant.json")
    rows = _csv_rows(release)
    assert len(got) == len(rows)
    assert sorted({r["scene"] for r in got}) == ["0001", "0002", "0003", "0004", "0005"]
    assert [(r["session_id"], r["short_index"], r["short_sha256"]) for r in got] == [
        (r["session_id"], int(r["short_index"]), r["short_sha256"]) for r in rows
    ]


def test_croissant_keeps_numeric_looking_session_ids(tmp_path, offline):
    from dataset_card.parquet import write_pairs_parquet
    from tests.dataset_card.test_card import make_release

    root = tmp_path / "rel"
    root.mkdir()
    info = make_release(root)
    rows = _csv_rows(root)
    for r in rows:  # DRV names both its scenes and its videos with digits
        r["session_id"] = "00" + r["session_id"][-2:]
        r["scene"] = "0" + r["session_id"]
    write_pairs_parquet(rows, root / "pairs.parquet", PAIRS_COLUMNS)
    from sublux_common.hashing import sha256_file

    for f in info.extra_files:
        f.size, f.sha256 = (root / f.path).stat().st_size, sha256_file(root / f.path)
    write_croissant(info, root / "croissant.json")
    got = _records(root / "croissant.json")
    assert [(r["session_id"], r["scene"]) for r in got] == [
        (r["session_id"], r["scene"]) for r in rows
    ]
    assert got[0]["session_id"] == "0000" and got[0]["scene"] == "00000"


# -- HDF5 portability ---------------------------------------------------------------------------


def test_each_file_records_its_codec_and_what_a_reader_needs(release):
    for split, s in read_manifest(release)["splits"].items():
        for rel in s["files"]:
            with h5py.File(release / rel, "r") as f:
                assert f.attrs["codec"] == "blosc-zstd", split
                assert "hdf5plugin" in f.attrs["reader_needs"]


def test_reader_without_hdf5plugin_names_it(release, tmp_path):
    """No hdf5plugin (the import blocked, HDF5's plugin path empty): tables and attributes
    read, and the first frame raises MissingFilter naming hdf5plugin and the way out."""
    empty = tmp_path / "no-plugins"
    empty.mkdir()
    out = _run(
        f"""
        sys.path.insert(0, {str(ROOT)!r})
        from dataset_card.errors import MissingFilter
        from dataset_card.reader import open_release
        with open_release({str(release)!r}).split("val") as r:
            sd = r.session(r.sessions()[0])
            print("table", len(sd.short_frames), sd.attrs["cfa"])
            try:
                sd.short[0]
            except MissingFilter as exc:
                print("error", exc)
        """,
        cwd=tmp_path,
        env={"HDF5_PLUGIN_PATH": str(empty)},
        block=("hdf5plugin",),
    )
    assert "table 4 RGGB" in out
    (line,) = [x for x in out.splitlines() if x.startswith("error")]
    assert "hdf5plugin" in line and "blosc" in line and "gzip-shuffle" in line


def test_gzip_release_reads_with_plain_h5py(sessions, tmp_path):
    paths, lists = sessions
    r = runner.invoke(
        app,
        [
            "publish",
            *[str(p) for p in paths[:4]],
            "--name",
            "plain",
            "--version",
            "1.0.0",
            "--out",
            str(tmp_path / "gz"),
            "--url",
            "https://example.org/x",
            "--creator",
            "Lab <lab@example.org>",
            "--split-lists",
            str(lists),
            "--codec",
            "gzip",
        ],
    )
    assert r.exit_code == 0, r.output
    rel = tmp_path / "gz"
    assert read_manifest(rel)["codec"] == "gzip-shuffle"
    empty = tmp_path / "no-plugins"
    empty.mkdir()
    out = _run(
        """
        import h5py
        with h5py.File("data/train.h5", "r") as f:
            print(f.attrs["codec"], "|", f.attrs["reader_needs"])
            g = next(iter(f["sessions"].values()))
            print(g["short"][0].shape, g["gt_srgb"][0].dtype)
        """,
        cwd=rel,
        env={"HDF5_PLUGIN_PATH": str(empty)},
        block=(*SUBLUX, "hdf5plugin"),
    )
    assert out.splitlines()[0].startswith("gzip-shuffle | h5py only")
    # The card's h5py snippet for this release runs there too, and imports no hdf5plugin.
    card = (rel / "README.md").read_text()
    dist = card[card.index("\n## Distribution\n") : card.index("\n## Maintenance")]
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", dist, re.S) if "h5py" in b]
    assert "hdf5plugin" not in code
    _run(
        code + "\nprint(short.shape, gt.shape)\n",
        cwd=rel,
        env={"HDF5_PLUGIN_PATH": str(empty)},
        block=(*SUBLUX, "hdf5plugin"),
    )
    r = runner.invoke(
        app,
        [
            "publish",
            str(paths[0]),
            "--name",
            "x",
            "--version",
            "1.0.0",
            "--out",
            str(tmp_path / "bad"),
            "--url",
            "u",
            "--creator",
            "c",
            "--codec",
            "lzma",
        ],
    )
    assert r.exit_code == 2 and "gzip-shuffle" in r.output
    assert not (tmp_path / "bad").exists()


# -- exports ------------------------------------------------------------------------------------


def test_patch_size_larger_than_frames_exits_2_with_the_size_that_fits(release, tmp_path):
    with open_release(release).split("val") as r:
        _, h, w = r.session(r.sessions()[0]).short.shape
    fits = min(h, w) // 2 * 2
    r = runner.invoke(
        app, ["export", str(release), str(tmp_path / "p"), "--format", "patches", "--size", "512"]
    )
    assert r.exit_code == 2, r.output
    assert f"--size {fits}" in r.output
    assert not (tmp_path / "p").exists()
    r = runner.invoke(
        app,
        ["export", str(release), str(tmp_path / "p"), "--format", "patches", "--size", str(fits)],
    )
    assert r.exit_code == 0, r.output
    assert "train patches:" in r.output


def test_an_export_that_would_write_nothing_exits_1(release, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    m = read_manifest(release)
    m["splits"] = {k: v for k, v in m["splits"].items() if k == "dynamic"}
    (bare / "manifest.json").write_text(json.dumps(m))
    (bare / "data").symlink_to(release / "data")
    r = runner.invoke(
        app, ["export", str(bare), str(tmp_path / "p"), "--format", "patches", "--size", "32"]
    )
    assert r.exit_code == 1, r.output
    assert "no train, val or test session has a pair" in r.output
    assert not (tmp_path / "p").exists()
    m["splits"] = {}
    (bare / "manifest.json").write_text(json.dumps(m))
    r = runner.invoke(app, ["export", str(bare), str(tmp_path / "s"), "--format", "smid"])
    assert r.exit_code == 1 and "nothing to export" in r.output, r.output
    assert not (tmp_path / "s").exists()


def test_smid_export_writes_sweeps_as_dynamic_sequences_and_says_what_it_did(release, tmp_path):
    dest = tmp_path / "smid"
    r = runner.invoke(app, ["export", str(release), str(dest), "--format", "smid"])
    assert r.exit_code == 0, r.output
    m = read_manifest(release)
    sweep = next(s for s, d in m["sessions"].items() if d["kind"] == "sweep")
    street = m["splits"]["dynamic"]["sessions"][0]
    assert (dest / "train_dynamic_list.txt").read_text().split() == [sweep]
    assert (dest / "dynamic_list.txt").read_text().split() == [street]
    assert sweep not in (dest / "train_list.txt").read_text()
    with open_release(release).split("train") as rd:
        n = len(rd.session(sweep).short)
    assert len(list((dest / "VBM4D_rawRGB" / sweep).glob("*.png"))) == n >= 8
    assert not (dest / "long" / sweep).exists()  # no ground truth for dynamic sequences
    assert len(list((dest / "VBM4D_rawRGB" / street).glob("*.png"))) == 3
    # The summary is printed, with the warning for the sequences SMID's scripts skip.
    assert "train_list.txt: 2 sequences" in r.output
    assert "train_dynamic_list.txt: 1 sequence\n" in r.output
    assert re.search(rf"warning:.*{street} has 3 frames.*fewer than 8", r.output, re.S)
    assert "train_dynamic_list.txt: 1 sequence\n" in (dest / "EXPORT.md").read_text()


@pytest.mark.parametrize("fmt", ["smid", "patches"])
def test_export_counts_the_frames_it_writes(release, tmp_path, fmt):
    from dataset_card.export_smid import export_patches, export_smid

    calls: list[tuple[str, int, int]] = []
    record = lambda *call: calls.append(call)  # noqa: E731
    if fmt == "smid":
        summary = export_smid(release, tmp_path / "e", progress=record)
    else:
        summary = export_patches(release, tmp_path / "e", size=32, progress=record)
    steps = {step for step, _, _ in calls}
    totals = {total for _, _, total in calls}
    done = [d for _, d, _ in calls]
    assert steps == {"frames"} and len(totals) == 1
    assert done[0] == 0 and done == sorted(done)  # counted up from nothing
    # the last call says every frame was written: the summary's count (smid), or every short
    # frame of a sequence cut into patches (several patches a frame)
    assert done[-1] == totals.pop() > 0
    if fmt == "smid":
        assert done[-1] == summary.frames
    else:
        assert summary.frames >= done[-1]


# -- PyTorch ------------------------------------------------------------------------------------


def test_the_cards_pytorch_snippet_runs_without_baseline(release):
    card = (release / "README.md").read_text()
    uses = card[card.index("\n## Uses\n") : card.index("\n## Personal")]
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", uses, re.S) if "torch" in b]
    assert "torch.utils.data.Dataset" in code and "dataset_card.reader" in code
    out = _run(
        f"sys.path.insert(0, {str(ROOT)!r})\n" + code,
        cwd=release,
        block=("baseline",),
    )
    line = out.strip().splitlines()[-1]
    short, gt = (
        tuple(int(v) for v in t.split(",") if v.strip()) for t in re.findall(r"\(([^)]*)\)", line)
    )
    assert int(line.split()[0]) == read_manifest(release)["splits"]["train"]["num_examples"]
    assert len(short) == 3 and short[0] == 1  # a batch of one (H, W) mosaic
    assert gt == (*short, 3)
    assert float(line.split()[-1]) > 1  # the exposure ratio


def test_publish_from_staging_keeps_the_staged_codec(sessions, tmp_path):
    paths, lists = sessions
    stage = tmp_path / "stage"
    args = [*[str(p) for p in paths[:4]], "--split-lists", str(lists)]
    r = runner.invoke(app, ["build", *args, "--out", str(stage), "--codec", "gzip"])
    assert r.exit_code == 0, r.output
    with h5py.File(stage / "data" / "val.h5", "r") as f:
        assert f.attrs["codec"] == "gzip-shuffle"
    r = runner.invoke(
        app,
        [
            "publish",
            "--from",
            str(stage),
            "--name",
            "n",
            "--version",
            "1.0.0",
            "--out",
            str(tmp_path / "rel"),
            "--url",
            "https://example.org/n",
            "--creator",
            "Lab",
        ],
    )
    assert r.exit_code == 0, r.output
    assert read_manifest(tmp_path / "rel")["codec"] == "gzip-shuffle"


def test_preview_binning_keeps_the_cfa_and_averages_blocks():
    from dataset_card.parquet import _bin_mosaic

    rng = np.random.default_rng(3)
    m = rng.integers(0, 4096, (600, 820), dtype=np.uint16)
    n = 3
    small = _bin_mosaic(m, n)
    assert small.shape == preview_size(600, 820, side=274) == (200, 272)
    th, tw = 600 // (2 * n), 820 // (2 * n)
    tiles = m[: th * 2 * n, : tw * 2 * n].astype(np.float64).reshape(th, n, 2, tw, n, 2)
    want = np.rint(tiles.mean(axis=(1, 4))).reshape(2 * th, 2 * tw)
    assert np.abs(small.astype(np.int64) - want).max() <= 1  # OpenCV rounds half differently
    # each site of the 2x2 tile stays its own: a mosaic of constant sites bins to itself
    flat = np.tile(np.array([[10, 20], [30, 40]], np.uint16), (300, 410))
    assert (_bin_mosaic(flat, 5)[:2, :2] == [[10, 20], [30, 40]]).all()
