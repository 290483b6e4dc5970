"""``dataset validate``: train the baseline on a release and gate it.

Writes ``RELEASE/validation/`` (``metrics.json``, loss and PSNR curves, sample triptychs),
adds a "Baseline results" table to the card, and refreshes the release's checksums.  The gate:
the trained baseline beats DRV's Input+Rawpy reference on val by ``margin_db`` and the training
loss fell.  A previous ``validation/`` is kept, renamed with its time stamp.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from baseline import metrics as M
from baseline.train import Config, dump_json, evaluate, loss_fell, train
from dataset_card.card import add_results_section
from dataset_card.publish import refresh_checksums
from dataset_card.reader import open_release
from sublux_common.fsio import atomic_write

__all__ = ["loss_text", "validate_release"]


def _png(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight")


def _curves(result, folder: Path) -> None:
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    losses = np.asarray(result.losses)
    ax.plot(losses, lw=0.6, alpha=0.4, label="step")
    if len(losses) > 10:
        k = max(2, len(losses) // 50)
        ax.plot(
            np.arange(k - 1, len(losses)),
            np.convolve(losses, np.ones(k) / k, "valid"),
            lw=1.5,
            label=f"mean of {k}",
        )
    ax.set(xlabel="step", ylabel="training loss", title="Training loss")
    ax.legend()
    _png(fig, folder / "loss.png")
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    if result.val:
        e, p = zip(*result.val, strict=True)
        ax.plot(e, p, marker="o")
    ax.set(xlabel="epoch", ylabel="val PSNR (dB)", title="Validation PSNR (5th frame)")
    _png(fig, folder / "psnr.png")


def _triptychs(samples, folder: Path) -> list[str]:
    names = []
    for name, naive, out, gt in samples:
        fig = Figure(figsize=(9, 3.4))
        for j, (img, title) in enumerate(
            ((naive, "input x ratio (Input+Rawpy)"), (out, "baseline output"), (gt, "ground truth"))
        ):
            ax = fig.add_subplot(1, 3, j + 1)
            ax.imshow(np.clip(img, 0, 1))
            ax.set_title(f"{title}\nPSNR {M.psnr(img, gt):.2f} dB" if j < 2 else title, fontsize=8)
            ax.axis("off")
        fn = f"sample_{name}.png"
        _png(fig, folder / fn)
        names.append(fn)
    return names


def _fmt(v: float, nd: int = 2) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:.{nd}f}"


def loss_text(fell: bool) -> str:
    """The gate's loss condition in words: "the training loss fell" or "... did not fall"."""
    return "the training loss fell" if fell else "the training loss did not fall"


def _table(report: dict) -> str:
    t, v = report["test"], report["val"]
    cfg = report["config"]
    lines = [
        f"Baseline `{cfg['model']}` trained by `dataset validate` ({report['train']['steps']} "
        f"steps, {report['train']['seconds']:.0f} s on {report['device']}"
        f"{', tiny model' if cfg['tiny'] else ''}); gate: "
        f"**{'passed' if report['gate']['passed'] else 'FAILED'}** "
        f"(val margin over Input+Rawpy {_fmt(report['gate']['margin_db'])} dB, needed "
        f"{cfg['margin_db']} dB; {loss_text(report['gate']['loss_fell'])}).",
        "",
        _gt_line(report),
        "",
        "| | PSNR (dB) | SSIM | TPSNR (dB) | TSSIM | TMAE (x1e-2) |",
        "|---|---|---|---|---|---|",
        f"| Input+Rawpy, test (5th frame) | {_fmt(t['naive_psnr'])} | {_fmt(t['naive_ssim'], 3)} "
        "| | | |",
        f"| {cfg['model'].upper()} baseline, test (5th frame) | {_fmt(t['psnr'])} | "
        f"{_fmt(t['ssim'], 3)} | {_fmt(t.get('tpsnr'))} | {_fmt(t.get('tssim'), 3)} | "
        f"{_fmt(t.get('tmae_x100'))} |",
        f"| {cfg['model'].upper()} baseline, test (first {cfg['eval_frames']} frames) | "
        f"{_fmt(t.get('psnr_first_frames'))} | {_fmt(t.get('ssim_first_frames'), 3)} | | | |",
        f"| Input+Rawpy, val | {_fmt(v['naive_psnr'])} | {_fmt(v['naive_ssim'], 3)} | | | |",
        f"| {cfg['model'].upper()} baseline, val | {_fmt(v['psnr'])} | {_fmt(v['ssim'], 3)} "
        "| | | |",
        "",
        "For orientation, DRV (Chen et al., ICCV 2019) on its own static test set: "
        + ", ".join(f"{k} {p} dB / {s}" for k, (p, s) in M.DRV_TABLE1.items())
        + "; temporal (Table 2): "
        + ", ".join(
            f"{k} TPSNR {a} dB, TSSIM {b}, TMAE {c}" for k, (a, b, c) in M.DRV_TABLE2.items()
        )
        + ". Different data: not comparable number for number.",
    ]
    return "\n".join(lines)


def _mean_sessions(release: Path) -> int:
    """Sessions of the release that hold a mean of their references (``gt_mean_srgb``)."""
    rel = open_release(release)
    n = 0
    for split in rel.splits:
        with rel.split(split) as reader:
            n += sum(reader.session(sid).gt_mean_srgb is not None for sid in reader.sessions())
    return n


def _gt_line(report: dict) -> str:
    if report.get("ground_truth", "pair") == "mean":
        n = report.get("ground_truth_means", 0)
        return (
            "Ground truth: `mean` — the rendering of the mean of a static session's references "
            f"(`gt_mean_srgb`, {n} session(s)), the pair's reference (`gt_srgb`) where a session "
            "has only one."
        )
    return (
        "Ground truth: `pair` — each short frame against the rendering of the reference it is "
        "paired with (`gt_srgb[ref]`, DRV's protocol)."
    )


def validate_release(release: str | os.PathLike, cfg: Config, progress=None) -> dict:
    """Train, score and gate; write ``validation/``; return the report.

    ``progress`` is passed to :func:`baseline.train.train` (a :class:`TrainProgress` after
    every step and evaluation).
    """
    release = Path(release)
    model, result, device, rank = train(release, cfg, progress=progress)
    if rank != 0:
        return {}
    val = evaluate(model, release, "val", cfg, device, full=True)
    has_test = "test" in open_release(release).splits
    test = (
        evaluate(model, release, "test", cfg, device, full=True, samples=4)
        if has_test
        else {
            "psnr": math.nan,
            "ssim": math.nan,
            "naive_psnr": math.nan,
            "naive_ssim": math.nan,
            "_samples": [],
        }
    )
    samples = test.pop("_samples") or val.pop("_samples", [])
    val.pop("_samples", None)
    margin = val["psnr"] - val["naive_psnr"]
    fell = loss_fell(result.losses)
    report = {
        "release": str(release),
        "device": str(device),
        "config": asdict(cfg),
        "train": {k: v for k, v in asdict(result).items() if k != "losses"},
        "val": val,
        "test": test,
        "gate": {
            "passed": bool(math.isfinite(margin) and margin >= cfg.margin_db and fell),
            "margin_db": margin,
            "needed_db": cfg.margin_db,
            "loss_fell": fell,
        },
        "ground_truth": cfg.gt,
        "ground_truth_means": _mean_sessions(release) if cfg.gt == "mean" else 0,
        "drv_reference": {"table1": M.DRV_TABLE1, "table2": M.DRV_TABLE2},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    folder = release / "validation"
    tmp = release / ".validation.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    _curves(result, tmp)
    report["samples"] = _triptychs(samples, tmp)
    dump_json(tmp / "losses.json", result.losses)
    dump_json(tmp / "metrics.json", report)
    if folder.exists():
        os.rename(folder, release / f"validation-{int(folder.stat().st_mtime)}")
    os.rename(tmp, folder)
    add_results_section(release / "README.md", _table(report))
    refresh_checksums(release)
    return report
