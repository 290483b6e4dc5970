"""Curation end to end on sessions from the simulated rig, with the simulator's truth."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from capture.session import open_session
from curate.cli import app
from curate.errors import BadInput
from curate.pipeline import align_folders, align_session
from curate.result import read_alignment
from tests.curate._sessions import static_session, sweep_session, true_shift

runner = CliRunner()


def _digest(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "curation" not in p.parts
    }


@pytest.mark.parametrize("offset", [(0.0, 0.0), (1.3, -2.6)])
def test_static_session_registers_the_burst_to_its_reference(tmp_path, offset):
    s = static_session(tmp_path / "s", size=(192, 256), frames=12, offset=offset, lux=1.0)
    before = _digest(s)
    a = read_alignment(align_session(s).parent)
    assert len(a.pairs) == 12 and not a.dropped and not a.rejected
    assert {p.bright for p in a.pairs} == {"0000.dng"}
    for p in a.pairs:
        dy, dx = true_shift(s, p)
        assert (p.dy, p.dx) == pytest.approx((dy, dx), abs=0.15)
        assert p.exposure_ratio == pytest.approx(300)
    assert a.drift["max_px"] < 0.5
    assert _digest(s) == before, "curation must not touch captured files"


def test_sweep_matches_the_nearest_dark_frame_of_the_path(tmp_path):
    s = sweep_session(tmp_path / "sw", size=(192, 288), steps=4, step_deg=1.0, dark_frames=13)
    a = read_alignment(align_session(s).parent)
    recs = [r for r in open_session(s).records if r.get("type") == "frame"]
    dark_true = {
        r["path"].split("/")[-1]: r["extra"]["angle_deg"] for r in recs if r["pass"] == "dark"
    }
    assert len(a.pairs) == 4
    for p in a.pairs:
        b_angle = next(
            r["extra"]["angle_deg"]
            for r in recs
            if r["pass"] == "bright" and r["path"].endswith(p.bright)
        )
        nearest = min(dark_true, key=lambda f: abs(dark_true[f] - b_angle))
        assert p.dark == nearest
        dy, dx = true_shift(s, p)
        # At 1 lux these 192x288 frames register within 0.8 px, depending on the noise
        # drawn (0.66 px for this scene's first pair after a sweep's two pre-roll frames
        # move the noise on; main's capture failed 0.5 px for 2 of 8 noise draws too).
        assert (p.dy, p.dx) == pytest.approx((dy, dx), abs=1.0)
    path = a.correlation_index.path
    assert [j for _, j in path] == sorted(j for _, j in path)
    assert a.correlation().shape == (4, 13)
    assert a.references == []  # sweeps: each bright frame is its own pair's reference


def test_bad_frames_are_dropped_with_reasons(tmp_path):
    s = static_session(tmp_path / "s", frames=10, refs=2, events={2: 0.0, 6: 12.0})
    data = (s / "dark/0004.dng").read_bytes()
    (s / "dark/0004.dng").write_bytes(data[: len(data) // 3])  # a truncated download
    a = read_alignment(align_session(s).parent)
    got = {(d.pass_, d.file): d.reason for d in a.dropped}
    # a session frame cut short no longer matches its journal record: hash_mismatch (it was
    # "unreadable" before frames were checked against the journal)
    assert got == {
        ("dark", "0002.dng"): "too_dark",
        ("dark", "0006.dng"): "too_bright",
        ("dark", "0004.dng"): "hash_mismatch",
    }
    (cut,) = [d for d in a.dropped if d.file == "0004.dng"]
    assert "size" in cut.detail and cut.expected == hashlib.sha256(data).hexdigest()
    assert cut.found == hashlib.sha256(data[: len(data) // 3]).hexdigest()
    assert len(a.pairs) == 7
    assert (s / "dark/0004.dng").read_bytes() == data[: len(data) // 3], "never repaired"
    # a reference blown out by a light left on: saturated, and the other one is used
    s2 = static_session(tmp_path / "s2", frames=4, refs=2, ref_events={0: 3000.0})
    a2 = read_alignment(align_session(s2).parent)
    assert [(d.pass_, d.file, d.reason) for d in a2.dropped] == [
        ("bright", "0000.dng", "saturated")
    ]
    assert {p.bright for p in a2.pairs} == {"0001.dng"}


def test_incomplete_sessions_are_refused_unless_allowed(tmp_path):
    s = static_session(tmp_path / "s", frames=4)
    with open(s / "journal.jsonl", "a") as fh:
        fh.write(json.dumps({"type": "stop", "t": 0, "exit_status": "abort", "reason": "x"}) + "\n")
    with pytest.raises(BadInput, match="allow-incomplete"):
        align_session(s)
    assert align_session(s, allow_incomplete=True).exists()


def test_a_session_whose_journal_hides_a_frame_names_capture_repair(tmp_path):
    """A damaged line hid a frame's record: `capture resume` would refuse the journal, so the
    refusal names `capture repair` first, and the frame missing."""
    s = static_session(tmp_path / "s", frames=4)
    lines = (s / "journal.jsonl").read_bytes().split(b"\n")
    n = next(i for i, line in enumerate(lines) if b'"type":"frame"' in line.replace(b" ", b""))
    lines[n] = lines[n][:20] + b"\xff" + lines[n][21:]
    (s / "journal.jsonl").write_bytes(b"\n".join(lines))
    with pytest.raises(BadInput) as err:
        align_session(s)
    msg = str(err.value)
    assert f"damaged journal line(s) {n + 1}" in msg and "1 planned frame(s)" in msg
    assert f"run `capture repair {s}`, then `capture resume {s}`" in msg


def test_session_without_references(tmp_path):
    from capture import plan
    from capture.protocols import CameraInfo
    from capture.session import SessionWriter

    w = SessionWriter.create(
        tmp_path / "s",
        scene="x",
        kind="static",
        camera=CameraInfo("a", "b", "sim", "sim"),
        plan={"passes": {"dark": plan.static_pass(1, 2000, "1/30", None)}, "order": ["dark"]},
    )
    w.stop("success")
    r = runner.invoke(app, ["align", str(w.path), "--allow-incomplete"])
    assert r.exit_code == 2 and "capture reference" in r.output


def test_rerun_is_idempotent(tmp_path):
    s = static_session(tmp_path / "s", frames=4)
    p = align_session(s)
    first = p.read_bytes()
    mtime = p.stat().st_mtime_ns
    assert align_session(s) == p
    assert p.stat().st_mtime_ns == mtime and p.read_bytes() == first
    align_session(s, force=True)
    assert p.stat().st_mtime_ns != mtime


def test_folders_rerun_sees_a_reshot_frame_of_the_same_size(tmp_path):
    s = static_session(tmp_path / "s", frames=4)
    dark, bright = s / "dark", s / "bright"
    p = align_folders(dark, bright, out=tmp_path / "out", kind="static")
    mtime = p.stat().st_mtime_ns
    assert align_folders(dark, bright, out=tmp_path / "out", kind="static") == p
    assert p.stat().st_mtime_ns == mtime, "unchanged input: not recomputed"
    # a frame replaced by another of the same size (same camera mode): recomputed
    frames = sorted(dark.iterdir())
    first, second = frames[0].read_bytes(), frames[1].read_bytes()
    assert len(first) == len(second)
    frames[0].write_bytes(second)
    align_folders(dark, bright, out=tmp_path / "out", kind="static")
    assert p.stat().st_mtime_ns != mtime


def test_the_rejection_floor_is_recorded(tmp_path):
    a = read_alignment(align_session(sweep_session(tmp_path / "s")).parent)
    floor = a.aligned_corr_floor
    corrs = [p.aligned_corr for p in a.pairs]
    assert floor == pytest.approx(max(0.02, 0.5 * float(np.median(corrs))), abs=1e-4)
    assert all(c >= floor for c in corrs)


def _texture(h, w, seed=0):
    rng = np.random.default_rng(seed)
    img = cv2.resize(
        rng.random((h // 8, w // 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    return np.clip(img, 0, 1)


def test_folders_with_a_dark_video(tmp_path, monkeypatch):
    h, w = 120, 160
    wide = _texture(h, w + 80, seed=1)
    video = tmp_path / "dark.mp4"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 24, (w, h))
    assert vw.isOpened()
    for i in range(20):
        x = 2 * i
        frame = (wide[:, x : x + w] * 0.4 * 255 + 25).astype(np.uint8)
        if i == 7:
            frame = (frame * 0.1).astype(np.uint8)  # lights out: mean below 20 of 255
        vw.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    vw.release()
    bright = tmp_path / "bright"
    bright.mkdir()
    for k, x in enumerate([0, 12, 24, 36]):
        img = (wide[:, x : x + w] * 255).astype(np.uint8)
        cv2.imwrite(str(bright / f"b{k:02d}.png"), cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    a = read_alignment(align_folders(video, bright, out=tmp_path / "out").parent)
    assert [d.reason for d in a.dropped] == ["too_dark"]
    assert a.dropped[0].file == "frame_000007"
    assert [p.dark for p in a.pairs] == [
        "frame_000000",
        "frame_000006",
        "frame_000012",
        "frame_000018",
    ]
    for p in a.pairs:
        assert abs(p.dx) < 0.6 and abs(p.dy) < 0.6
    # a re-run with nothing changed does not decode the video again
    import curate.pipeline as pipeline

    def no_decoding(*args, **kwargs):
        raise AssertionError("the video was decoded for an up-to-date result")

    monkeypatch.setattr(pipeline, "_video_frames", no_decoding)
    assert align_folders(video, bright, out=tmp_path / "out") == tmp_path / "out" / "alignment.json"


def test_folder_errors(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "b").mkdir()
    r = runner.invoke(
        app,
        [
            "align",
            "--dark",
            str(tmp_path / "d"),
            "--bright",
            str(tmp_path / "b"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert r.exit_code == 2 and "empty folder" in r.output
    s1 = static_session(tmp_path / "s1", size=(64, 96), frames=2)
    s2 = static_session(tmp_path / "s2", size=(64, 128), frames=2)
    d = tmp_path / "mixed"
    d.mkdir()
    (d / "a.dng").write_bytes((s1 / "dark/0000.dng").read_bytes())
    (d / "b.dng").write_bytes((s2 / "dark/0000.dng").read_bytes())
    with pytest.raises(BadInput, match=r"a\.dng is 96x64, b\.dng is 128x64"):
        align_folders(d, s1 / "bright", out=tmp_path / "o2")


def test_cli_align_and_report(tmp_path):
    s = static_session(tmp_path / "s", frames=4)
    r = runner.invoke(app, ["align", str(s)])
    assert r.exit_code == 0, r.output
    assert "alignment:" in r.output
    r = runner.invoke(app, ["report", str(s)])
    assert r.exit_code == 0, r.output
    assert (s / "curation/report/index.html").exists()


def test_run_many_with_a_process_pool_and_a_failure(tmp_path):
    from curate.batch import run_many

    a = static_session(tmp_path / "a", frames=4)
    b = static_session(tmp_path / "b", frames=4, seed=6)
    missing = tmp_path / "missing"
    res = run_many([a, missing, b], workers=2, report=False)
    assert [r["ok"] for r in res] == [True, False, True]
    assert "missing" in res[1]["error"]
    assert read_alignment(a).pairs and read_alignment(b).pairs


def test_run_many_on_a_dask_cluster(tmp_path):
    from distributed import LocalCluster

    from curate.batch import run_many

    s = static_session(tmp_path / "a", frames=4)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        res = run_many([s], scheduler=cluster.scheduler_address, report=False)
    assert res[0]["ok"], res[0]
    assert res[0]["pairs"] == 4
