"""``capture import`` and the seed's video path: speed as ratios and rates in one run.

import_raw
    ``capture import`` of a folder of the simulated camera's DNGs (copied, fsynced, read back
    and compared as the source is hashed, journalled) against copying the same bytes safely
    (``shutil.copyfile`` then ``fsync`` per file, the least a copy that survives a power cut
    does), both from the page cache to the same disk.  Target: import at most 1.5x the copy's time.
video_path
    The whole video path on the seed's kind of footage (a 48-frame dark MP4 at ~30 of 255, its
    12-frame bright MP4): import, curate, publish, export 512x512 patch pairs.  Reports pairs
    per second of the whole path and each stage's seconds (absolute: no reference exists).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET_IMPORT_RATIO = 1.5


def _dngs(folder: Path, n: int, size: tuple[int, int]) -> int:
    from capture.sim.rig import SimSettings, shoot_files

    folder.mkdir(parents=True)
    cam = SimSettings(size=size, seed=3).camera(fps=1e9, max_wait=0.0)
    shots = shoot_files(folder, cam, n, shutter="1/30", names="DSC{:05d}.ARW.dng".format)
    return sum(len(shot.data) for _, shot in shots)


def _safe_copy(src: Path, dest: Path) -> None:
    dest.mkdir()
    for p in sorted(src.iterdir()):
        shutil.copyfile(p, dest / p.name)
        fd = os.open(dest / p.name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def bench_import_raw(tmp: Path, *, quick: bool) -> dict:
    from capture.importer import import_footage

    n, size = (12, (512, 768)) if quick else (30, (2048, 3072))
    src = tmp / "card"
    total = _dngs(src, n, size)
    copy_t, import_t = [], []
    for r in range(2 if quick else 3):
        t0 = time.perf_counter()
        _safe_copy(src, tmp / f"copy{r}")
        copy_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        import_footage(tmp / f"s{r}", dark=src, bright=None, scene="bench")
        import_t.append(time.perf_counter() - t0)
        shutil.rmtree(tmp / f"copy{r}")
        shutil.rmtree(tmp / f"s{r}")
    c, i = statistics.median(copy_t), statistics.median(import_t)
    ratio = i / c
    return {
        "files": n,
        "mb": round(total / 1e6, 1),
        "copy_s": round(c, 3),
        "import_s": round(i, 3),
        "copy_mb_s": round(total / 1e6 / c, 1),
        "import_mb_s": round(total / 1e6 / i, 1),
        "ratio_import_over_copy": round(ratio, 3),
        "targets": [
            {"name": "import / safe copy", "value": round(ratio, 3),
             "max": TARGET_IMPORT_RATIO, "met": ratio <= TARGET_IMPORT_RATIO}
        ],
    }  # fmt: skip


def _footage(folder: Path, h: int, w: int) -> tuple[Path, Path]:
    import cv2

    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (h, w + 200, 3)).astype(np.float32), (0, 0), 3)
    fourcc = cv2.VideoWriter_fourcc(*"mp4v")
    paths = []
    for name, n, step, level, noise in (("dark", 48, 2, 30, 3), ("bright", 12, 8, 99, 0)):
        p = folder / f"{name}.mp4"
        wr = cv2.VideoWriter(str(p), fourcc, 24.0, (w, h))
        for i in range(n):
            f = big[:, step * i : step * i + w] * (level / big.mean())
            if noise:
                f = f + rng.normal(0, noise, f.shape)
            wr.write(np.clip(f, 0, 255).astype(np.uint8))
        wr.release()
        paths.append(p)
    return paths[0], paths[1]


def bench_video_path(tmp: Path, *, quick: bool) -> dict:
    from capture.importer import import_footage
    from curate.pipeline import align_session
    from dataset_card.export_smid import export_patches
    from dataset_card.publish import ReleaseMeta, publish

    h, w, size = (360, 640, 128) if quick else (1080, 1920, 512)
    folder = tmp / "footage"
    folder.mkdir()
    dark, bright = _footage(folder, h, w)
    meta = ReleaseMeta(
        name="bench", version="1.0.0", description="bench", url="https://example.org",
        creators=({"name": "bench", "email": "b@example.org"},),
    )  # fmt: skip
    stages = {}
    t0 = time.perf_counter()
    s = tmp / "video"
    import_footage(s, dark=dark, bright=bright, scene="tt", kind="sweep", exposure="1/30", iso=2000)
    stages["import_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    align_session(s)
    stages["curate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    rel = publish([s], tmp / "rel", meta, fractions={"train": 1.0, "val": 0.0, "test": 0.0})
    stages["publish_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out = export_patches(rel, tmp / "patches", size=size).dest
    stages["export_s"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    rows = (out / "train" / "patches.csv").read_text().splitlines()[1:]
    pairs = len({tuple(r.split(",")[1:3]) for r in rows})
    return {
        "video": f"{w}x{h}, 48 dark + 12 bright frames",
        "patch": size,
        "pairs": pairs,
        "patch_pairs": len(rows),
        **{k: round(v, 3) for k, v in stages.items()},
        "total_s": round(total, 3),
        "pairs_per_s": round(pairs / total, 2),
        "patch_pairs_per_s": round(len(rows) / total, 1),
    }


def run(*, quick: bool = False, tmp: str | None = None) -> dict:
    os.environ.setdefault("SUBLUX_SALT", "bench")
    with tempfile.TemporaryDirectory(dir=tmp or ROOT) as d:
        (Path(d) / "a").mkdir()
        (Path(d) / "b").mkdir()
        return {
            "import_raw": bench_import_raw(Path(d) / "a", quick=quick),
            "video_path": bench_video_path(Path(d) / "b", quick=quick),
        }


if __name__ == "__main__":
    import json

    sys.path.insert(0, str(ROOT))
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
