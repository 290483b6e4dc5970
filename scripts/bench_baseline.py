"""Baseline trainer benchmark, for a machine with CUDA (skipped, saying so, without it).

Measures, on a release built from simulated sessions: training images per second at 512 crops
(SID U-Net, bf16, channels_last, batch 8), the fraction of step time spent waiting for data, peak
GPU memory, and the time one full evaluation (DRV's protocol, PSNR/SSIM included) takes per
scored frame; then extrapolates the time ``dataset validate`` takes on a DRV-sized release (202
static sessions: 129 train, 24 val, 49 test sequences, 20 MP frames) at the default 100 epochs:
training, the evaluations on val during training (one frame per sequence, 20 of them at the
default) and the final scoring of val and test (30 frames per sequence).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

DRV = {
    "train": 129,
    "val": 24,
    "test": 49,
    "frames_scored": 30,
    "epochs": 100,
    "evaluations": 20,  # on val during training, at the default 100 epochs (every 5th)
    "pixels": 3672 * 5496,
}
#: Simulated scenes: about 64 % of them land in train, enough sequences for a batch of 8.
SCENES = 16
FRAMES = 6


def measure(
    *,
    size: tuple[int, int],
    crop: int,
    epochs: int,
    batch: int,
    device: str,
    workers: int = 6,
    threads: int | None = None,
) -> dict:
    """Train and evaluate on a simulated release; the figures and the DRV extrapolation."""
    import torch

    from baseline.train import Config, evaluate, train
    from dataset_card.publish import publish
    from tests._release import META, curated_scene

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sessions = [
            curated_scene(root, f"scene{i}", seed=i, size=size, frames=FRAMES)
            for i in range(SCENES)
        ]
        rel = publish(sessions, root / "rel", META)
        cfg = Config(
            model="sid",
            epochs=epochs,
            device=device,
            crop=crop,
            batch=batch,
            workers=workers,
            threads=threads,
        )
        model, result, dev, _ = train(rel, cfg)
        t = time.perf_counter()
        scored = evaluate(model, rel, "val", cfg, dev, full=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        per_frame = (time.perf_counter() - t) / (scored["sequences"] * min(FRAMES, 30))
    scale = DRV["pixels"] / (size[0] * size[1])  # evaluation works on whole frames
    train_s = DRV["epochs"] * DRV["train"] / result.images_per_s
    during_s = DRV["evaluations"] * DRV["val"] * per_frame * scale
    final_s = (DRV["val"] + DRV["test"]) * DRV["frames_scored"] * per_frame * scale
    minutes = (train_s + during_s + final_s) / 60
    out = {
        "device": str(dev) if dev.type != "cuda" else torch.cuda.get_device_name(dev),
        "crop": cfg.crop,
        "batch": result.batch,
        "steps": result.steps,
        "steps_per_s": round(result.steps / result.step_seconds, 2),
        "images_per_s": round(result.images_per_s, 1),
        "data_wait_fraction": round(result.data_wait_fraction, 3),
        "peak_gpu_mb": round(result.peak_gpu_mb or 0, 1),
        "evaluation_s_per_frame_at_bench_size": round(per_frame, 4),
        "drv_minutes": {
            "train": round(train_s / 60, 1),
            "val_during_training": round(during_s / 60, 1),
            "final_val_and_test": round(final_s / 60, 1),
            "total": round(minutes, 1),
        },
    }
    out["targets"] = [
        {
            "name": "data wait fraction of step time",
            "value": out["data_wait_fraction"],
            "target": "< 0.10",
            "met": out["data_wait_fraction"] < 0.10,
        },
        {
            "name": "DRV-sized validation, minutes (extrapolated)",
            "value": out["drv_minutes"]["total"],
            "target": "<= 15",
            "met": minutes <= 15,
        },
    ]
    return out


def run(*, quick: bool = False) -> dict:
    import torch
    from _benchlib import report_misses

    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device here; run scripts/bench baseline on a GPU machine"}
    res = measure(
        size=(512, 768) if quick else (1224, 1832),
        crop=256 if quick else 512,
        epochs=3 if quick else 20,
        batch=8,
        device="cuda",
    )
    report_misses("baseline", res, lambda t: t["target"])
    return res
