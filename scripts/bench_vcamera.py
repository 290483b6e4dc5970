"""Time ``Gphoto2Camera.shoot(n)`` against a bare python-gphoto2 capture-and-download loop.

Both run on libgphoto2's virtual USB camera (python-gphoto2's Linux wheel), each measurement in
a fresh process with a fresh ``Camera.init()``: the virtual camera allows 26 captures per init
and can crash the interpreter, so nothing is shared between runs.  Prints one JSON object::

    {"frames": 20, "bare_fps": ..., "sublux_fps": ..., "ratio": sublux/bare, ...}

Usage: ``python scripts/bench_vcamera.py [--frames 20] [--repeats 5] [--size 640x480]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAX_FRAMES = 20  # the virtual camera fails its 27th capture after an init


def child(mode: str, frames: int) -> float:
    """One measurement in this (fresh) process: seconds for ``frames`` frames."""
    if mode == "bare":
        import gphoto2 as gp

        camera = gp.Camera()
        camera.init()
        try:
            t0 = time.perf_counter()
            for _ in range(frames):
                path = camera.capture(gp.GP_CAPTURE_IMAGE)
                cam_file = camera.file_get(path.folder, path.name, gp.GP_FILE_TYPE_NORMAL)
                bytes(cam_file.get_data_and_size())
            return time.perf_counter() - t0
        finally:
            camera.exit()
    from capture.devices.gphoto2_camera import Gphoto2Camera
    from capture.protocols import Exposure

    with Gphoto2Camera() as cam:
        cam.apply(Exposure(raw=False))  # settings are not part of the frame loop
        t0 = time.perf_counter()
        shots = list(cam.shoot(frames))
        elapsed = time.perf_counter() - t0
    assert len(shots) == frames
    return elapsed


def plant_jpeg(root: Path, size: tuple[int, int]) -> int:
    import cv2
    import numpy as np

    h, w = size
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (5, 5), 0)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    (root / "DCIM" / "100TEST").mkdir(parents=True)
    (root / "DCIM" / "100TEST" / "IMG_0001.JPG").write_bytes(buf.tobytes())
    return len(buf)


def run(mode: str, frames: int, root: Path) -> float:
    home = root / "home"
    (home / ".config").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("IOLIBS", "CAMLIBS")}
    repo = Path(__file__).resolve().parents[1]
    env.update(
        VCAMERADIR=str(root),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        PYTHONPATH=os.pathsep.join([str(repo), env.get("PYTHONPATH", "")]),
    )
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--frames", str(frames)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{mode} run exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=MAX_FRAMES)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", default="640x480", help="planted JPEG, WIDTHxHEIGHT")
    parser.add_argument("--child", choices=["bare", "sublux"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.frames <= MAX_FRAMES:
        parser.error(f"--frames must be 1..{MAX_FRAMES} (the virtual camera's limit per init)")
    if args.child:
        print(child(args.child, args.frames))
        return
    w, h = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="sublux-bench-") as tmp:
        root = Path(tmp)
        jpeg_bytes = plant_jpeg(root, (h, w))
        times: dict[str, list[float]] = {"bare": [], "sublux": []}
        for _ in range(args.repeats):
            for mode in times:  # interleaved, so drift hits both alike
                times[mode].append(run(mode, args.frames, root))
    bare = args.frames / statistics.median(times["bare"])
    sublux = args.frames / statistics.median(times["sublux"])
    print(
        json.dumps(
            {
                "frames": args.frames,
                "repeats": args.repeats,
                "jpeg_bytes": jpeg_bytes,
                "bare_fps": round(bare, 1),
                "sublux_fps": round(sublux, 1),
                "ratio": round(sublux / bare, 3),
                "bare_s": [round(t, 5) for t in times["bare"]],
                "sublux_s": [round(t, 5) for t in times["sublux"]],
            }
        )
    )


if __name__ == "__main__":
    main()
