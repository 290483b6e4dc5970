"""Baseline trainer benchmark, for a machine with CUDA (skipped, saying so, without it).

Measures, on a release built from simulated sessions: training steps and images per second at
512 crops (SID U-Net, bf16, channels_last), the fraction of step time spent waiting for data,
peak GPU memory, and full-resolution inference time on an RX100 VI frame; then extrapolates the
time ``dataset validate`` takes on a DRV-sized release (202 static sessions: 129 train, 24 val,
49 test sequences; 30 frames scored per val/test sequence) at the default 100 epochs.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

DRV = {"train": 129, "val": 24, "test": 49, "frames_scored": 30, "epochs": 100}


def run(*, quick: bool = False) -> dict:
    import torch

    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device here; run scripts/bench baseline on a GPU machine"}
    from baseline.models import build_model
    from baseline.train import Config, train
    from dataset_card.publish import publish
    from tests._release import META, curated_scene

    size = (512, 768) if quick else (1224, 1832)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sessions = [curated_scene(root, f"scene{i}", seed=i, size=size, frames=6) for i in range(6)]
        rel = publish(sessions, root / "rel", META)
        cfg = Config(
            model="sid",
            epochs=3 if quick else 20,
            device="cuda",
            crop=256 if quick else 512,
            batch=8,
            workers=6,
        )
        _, result, _, _ = train(rel, cfg)
    model = build_model("sid").cuda().to(memory_format=torch.channels_last).eval()
    x = torch.rand(1, 4, 1836, 2748, device="cuda").contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        model(x)
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(5):
            model(x)
        torch.cuda.synchronize()
    infer = (time.perf_counter() - t) / 5
    steps_per_s = result.steps / result.step_seconds  # evaluations on val excluded
    train_s = DRV["epochs"] * DRV["train"] / cfg.batch / steps_per_s
    eval_s = (DRV["val"] + DRV["test"]) * DRV["frames_scored"] * infer
    return {
        "gpu": torch.cuda.get_device_name(0),
        "crop": cfg.crop,
        "batch": cfg.batch,
        "steps_per_s": round(steps_per_s, 2),
        "images_per_s": round(result.images_per_s, 1),
        "data_wait_fraction": round(result.data_wait_fraction, 3),
        "peak_gpu_mb": round(result.peak_gpu_mb or 0, 1),
        "full_frame_inference_s": round(infer, 4),
        "drv_validate_minutes_extrapolated": round((train_s + eval_s) / 60, 1),
        "targets": {"data_wait_fraction": "< 0.10", "drv_validate_minutes": "<= 15"},
    }
