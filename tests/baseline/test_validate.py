"""`dataset validate --tiny` end to end on the CPU, on a release of simulated sessions."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from baseline.cli import app
from baseline.data import SIDPairs, SMIDPairs
from dataset_card.publish import publish
from tests._release import META, curated_scene, multi_reference_scene
from tests.baseline.test_cli_text import table_report

runner = CliRunner()
SIZE = (128, 192)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    sessions = [
        curated_scene(root, f"scene{i}", seed=20 + i, size=SIZE, frames=6) for i in range(5)
    ]
    return publish(sessions, tmp_path_factory.mktemp("rel") / "v1", META)


def test_sid_pairs_are_packed_crops_with_their_ground_truth(release):
    torch.manual_seed(0)
    data = SIDPairs(release, "train", crop=16)
    x, y = data[0]
    assert x.shape == (4, 16, 16) and y.shape == (3, 32, 32)
    assert x.dtype == y.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1 and float(y.max()) <= 1
    # the gain lifts the dark frame to the reference's level, as DRV's preprocessing does
    assert 0.2 < float(x.mean()) / max(float(y.mean()), 1e-6) < 5


def test_smid_pairs_are_two_frames_of_one_sequence(release):
    torch.manual_seed(0)
    a, b, gt = SMIDPairs(release, "train", crop=16)[0]
    assert a.shape == b.shape == gt.shape == (3, 16, 16)
    assert not torch.equal(a, b), "two different noisy frames"


def _check_validation(release, report):
    v = release / "validation"
    assert report["gate"]["passed"] and report["gate"]["loss_fell"]
    assert report["val"]["psnr"] > report["val"]["naive_psnr"] + 5
    assert np.isfinite(report["test"]["tpsnr"]) and report["test"]["tmae_x100"] >= 0
    for png in ("loss.png", "psnr.png", *report["samples"]):
        assert (v / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["samples"], "sample triptychs"
    card = (release / "README.md").read_text()
    assert "## Baseline results" in card and "Input+Rawpy" in card and "27.69" in card
    assert report["ground_truth"] == "pair" and "Ground truth: `pair`" in card
    sums = subprocess.run(
        ["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=release, capture_output=True, text=True
    )
    assert sums.returncode == 0, sums.stdout
    assert "validation/metrics.json" in (release / "SHA256SUMS").read_text()


def test_validate_tiny_passes_the_gate(release):
    """The gate on a model small and quick enough to train in seconds (300 steps on 32-pixel
    crops): it clears the 5-dB margin by about 4 dB.  The demo's full tiny run is the slow
    test below."""
    r = runner.invoke(
        app,
        [
            *("validate", str(release), "--tiny", "--device", "cpu", "--workers", "0"),
            *("--steps", "300", "--crop", "32"),
        ],
    )
    assert r.exit_code == 0, r.output
    report = json.loads((release / "validation" / "metrics.json").read_text())
    assert report["train"]["steps"] == 300 and report["config"]["crop"] == 32
    assert report["config"]["threads"] == 1, "the tiny CPU run uses one thread"
    _check_validation(release, report)


@pytest.mark.slow
def test_validate_tiny_as_the_demo_runs_it(tmp_path_factory):
    """The demo's `dataset validate --tiny` (its default steps and crops) passes the gate."""
    root = tmp_path_factory.mktemp("sessions")
    sessions = [
        curated_scene(root, f"scene{i}", seed=20 + i, size=SIZE, frames=6) for i in range(5)
    ]
    rel = publish(sessions, tmp_path_factory.mktemp("rel") / "v1", META)
    r = runner.invoke(app, ["validate", str(rel), "--tiny", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    report = json.loads((rel / "validation" / "metrics.json").read_text())
    assert report["train"]["steps"] == 2500 and report["config"]["crop"] == 64
    _check_validation(rel, report)


def test_training_reports_its_progress(release):
    """The trainer calls its progress callback after every step and evaluation: steps out of
    the planned total, images/s, the latest loss, the last val PSNR and the time left."""
    from baseline.train import Config, train

    seen = []
    cfg = Config(tiny=True, device="cpu", workers=0, steps=40, crop=16)
    _, result, _, _ = train(release, cfg, progress=seen.append)
    steps = [p.step for p in seen]
    assert steps == sorted(steps) and steps[0] == 1 and steps[-1] == 40
    assert set(range(1, 41)) <= set(steps)
    assert {p.total_steps for p in seen} == {40}
    assert all(p.images_per_s > 0 for p in seen)
    assert seen[0].loss is None and seen[-1].loss == result.losses[-1]
    vals = [p.val_psnr for p in seen if p.val_psnr is not None]
    assert vals and vals[-1] == result.val[-1][1], "the last val PSNR is shown"
    assert seen[-1].seconds_left == 0 and all(p.seconds_left >= 0 for p in seen[1:])
    assert torch.get_num_threads() == 1


def test_threads_must_be_positive():
    from baseline.train import Config

    with pytest.raises(ValueError, match="--threads 1 or more"):
        Config(threads=0)
    assert Config(tiny=True).threads == 1 and Config().threads is None


def test_the_mean_ground_truth_is_offered_and_checked(tmp_path):
    """--gt mean trains against the rendering of the mean of a session's references where
    it has several; the choice is checked and written in the card's results."""
    from baseline.train import Config
    from baseline.validate import _table
    from dataset_card.reader import open_release

    root = tmp_path / "sessions"
    multi = multi_reference_scene(root, (96, 128))
    plain = [curated_scene(root, f"scene{i}", seed=50 + i, size=(96, 128)) for i in range(2)]
    lists = tmp_path / "lists"
    lists.mkdir()
    for split, scene in (("train", "multi"), ("val", "scene0"), ("test", "scene1")):
        (lists / f"{split}_list.txt").write_text(scene + "\n")
    release = publish([multi, *plain], tmp_path / "rel", META, split_lists=lists)
    sd = (
        open_release(release)
        .split("train")
        .session(open_release(release).split("train").sessions()[0])
    )
    for gt, want in (("mean", sd.gt_mean_srgb[()]), ("pair", None)):
        torch.manual_seed(1)
        data = SIDPairs(release, "train", crop=16, augment=False, gt=gt)
        for index, (_sid, k, _frames) in enumerate(data.items):
            _, y = data[index]
            target = np.moveaxis(y.numpy(), 0, -1) * 65535
            source = want if want is not None else sd.gt_srgb[k]
            hits = [
                (yy, xx)
                for yy in range(0, source.shape[0] - 31, 2)
                for xx in range(0, source.shape[1] - 31, 2)
                if np.allclose(source[yy : yy + 32, xx : xx + 32], target, atol=0.01)
            ]
            assert hits, f"{gt}: the target of sequence {k} is not a crop of its ground truth"
    with pytest.raises(ValueError, match="--gt pair or mean"):
        Config(gt="median")
    with pytest.raises(ValueError, match="--gt pair or mean"):
        SIDPairs(release, "train", crop=16, gt="median")
    report = table_report(passed=True, ground_truth="mean", means=1)
    assert "Ground truth: `mean`" in _table(report) and "gt_mean_srgb" in _table(report)


def test_stopping_rules_and_loss_copies():
    from baseline import train as T

    assert T._should_stop(10, 10, False, world=1)
    assert T._should_stop(3, 10, True, world=1)
    assert not T._should_stop(3, 10, False, world=1)
    pending = [torch.tensor(1.5), torch.tensor(2.5)]
    assert T._host(pending) == [1.5, 2.5] and pending == []
    assert T._host(pending) == []


def test_cuda_without_cuda_is_a_clear_error(release, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r = runner.invoke(app, ["validate", str(release), "--device", "cuda"])
    assert r.exit_code == 2
    assert "CUDA" in r.output and "--device cpu" in r.output


def test_release_without_val_and_a_corrupt_shard(release, tmp_path):
    copy = tmp_path / "noval"
    shutil.copytree(release, copy)
    m = json.loads((copy / "manifest.json").read_text())
    del m["splits"]["val"]
    (copy / "manifest.json").write_text(json.dumps(m))
    r = runner.invoke(app, ["validate", str(copy), "--tiny", "--device", "cpu", "--workers", "0"])
    assert r.exit_code == 2 and "val split" in r.output
    bad = tmp_path / "bad"
    shutil.copytree(release, bad)
    h5 = sorted((bad / "data").glob("train*.h5"))[0]
    data = bytearray(h5.read_bytes())
    for off in range(len(data) // 3, len(data) // 3 + 4096, 97):
        data[off] ^= 0xFF
    h5.write_bytes(bytes(data))
    r = runner.invoke(app, ["validate", str(bad), "--tiny", "--device", "cpu", "--workers", "0"])
    assert r.exit_code == 1
    assert h5.name in r.output


@pytest.mark.parametrize("limit", [["--steps", "80"], ["--minutes", "0.1"]], ids=["steps", "time"])
def test_torchrun_trains_one_model_on_two_processes(release, tmp_path, limit):
    """DistributedDataParallel through torchrun, on the CPU (gloo): the wiring a multi-GPU
    run uses: sharded sampling, stopping at one step on every rank (a step limit, or a time
    budget the ranks vote on), rank 0 alone evaluating and writing.  A rank that stopped on
    its own would leave the other waiting: the timeout turns that into a failure."""
    copy = tmp_path / "ddp"
    shutil.copytree(release, copy)
    had = (copy / "validation").exists()
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "baseline.cli"]
    cmd += ["validate", str(copy), "--tiny", "--device", "cpu", "--workers", "0"]
    cmd += [*limit, "--margin", "-100"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert run.stderr.count("training sid (tiny)") == 1, "only rank 0 speaks"
    report = json.loads((copy / "validation" / "metrics.json").read_text())
    assert report["train"]["world_size"] == 2
    if limit[0] == "--steps":
        assert report["train"]["steps"] == 80
        assert report["gate"]["loss_fell"]
    else:  # stopped by the clock, at a vote (every 16 steps); too few steps to judge the loss
        assert report["train"]["steps"] % 16 == 0 and report["train"]["steps"] > 0
    # one rank wrote validation/ (a second would have set the first one's aside)
    assert len(list(copy.glob("validation-*"))) == int(had)
    sums = subprocess.run(
        ["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=copy, capture_output=True, text=True
    )
    assert sums.returncode == 0, sums.stdout
