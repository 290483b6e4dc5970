"""Dataset benchmark: the HDF5 codecs and chunk layouts of the split writer, on simulated DNGs.

Frames are real DNG files from the simulated RX100-class camera (``capture.sim.camera``) at
about 1 lux: short exposures at ISO 2000, 1/30 s, and references at 10 s (ratio 300), decoded
with ``curate.raw.read_raw`` exactly as ``dataset publish`` decodes them.  Every figure comes
from one run on this machine; the comparisons are ratios within that run.

Sections (each returns one JSON-able dict; ``run`` prints a "target missed" line per miss):

codecs
    For each codec of ``dataset_card.schema.CODECS`` (Blosc zstd at one and at two threads):
    compression ratio on short and on long exposures (raw bytes over the bytes HDF5 stores,
    Fletcher-32 included); ``write_mbps``, raw input through ``SplitWriter`` per second
    (chunking, compression, checksums and the fsync at close); ``package_mbps``, the same with
    the DNGs decoded by two worker threads as ``dataset publish`` does; ``crop_ms``, the median
    time to read a random 512 x 512 crop of a short frame (even offsets, many draws);
    ``frame_ms``, a whole short frame.  ``entropy_bound_short`` is 16 bits over the
    zero-order entropy of the short frames' values: the ratio no coder of independent pixels
    can beat, which for read-noise-dominated frames is every lossless coder here.  The chosen
    codec is compared with gzip+shuffle and with no compression as ratios in the same run.
chunks
    The chosen codec with one chunk per frame against 256 x 256 tiles: crop and frame read
    times, write speed and ratio.  The writer keeps whole-frame chunks up to 4 MP and tiles
    above.
integrity
    What checking every frame against its journal record costs the packager: the same frames
    decoded by two worker threads from their paths (``read_raw(path)``, as before the check)
    and read once, checked (size and sha256, ``capture.session.read_frame_bytes``) and decoded
    from those bytes, as ``dataset publish`` now does; ``checked_over_plain`` is the time
    ratio in the same run; ``package_mbps_plain`` and ``package_mbps_checked`` package with the
    chosen codec without and with the check (and their time ratio); ``package_mbps_previews``
    adds the JPEG preview of every short frame that ``dataset publish`` renders for the Parquet
    row tables (``dataset_card.parquet.preview_short``), against the packaging target, with
    its time ratio to the checked packaging.

Targets: ratio >= 2.5 on short exposures, packaging >= 150 MB/s of raw input on two cores
(with the integrity check too), a random 512 x 512 crop in <= 5 ms.

Import this file by path (``scripts/`` is not a package); ``scripts/bench.py dataset`` does.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _benchlib, beside this script
from _benchlib import bench_main, report_misses  # noqa: E402

from capture.session import FrameRecord, read_frame_bytes  # noqa: E402
from capture.sim.rig import SimSettings, shoot_files  # noqa: E402
from curate.raw import read_raw  # noqa: E402
from dataset_card import schema  # noqa: E402
from dataset_card.h5io import open_file  # noqa: E402
from dataset_card.h5writer import SplitWriter  # noqa: E402
from dataset_card.parquet import preview_short  # noqa: E402
from dataset_card.schema import (  # noqa: E402
    DEFAULT_CODEC,
    LONG_FRAMES_DTYPE,
    READER_NEEDS,
    SHORT_FRAMES_DTYPE,
)
from sublux_common.hashing import sha256_file  # noqa: E402

log = logging.getLogger("bench_dataset")

SECTIONS = ("codecs", "chunks", "integrity")
FULL_SIZE = (3672, 5496)
QUICK_SIZE = (1224, 1832)
CROP = 512
TARGETS = {"ratio_short": 2.5, "package_mbps": 150.0, "crop_ms": 5.0}
#: (label, codec, Blosc threads)
VARIANTS: tuple[tuple[str, str, int], ...] = (
    ("bitshuffle-lz4", "bitshuffle-lz4", 1),
    ("blosc-zstd@1", "blosc-zstd", 1),
    ("blosc-zstd@2", "blosc-zstd", 2),
    ("gzip-shuffle", "gzip-shuffle", 1),
    ("none", "none", 1),
)
_ROOT_ATTRS = {"dataset_name": "bench", "version": "0.0.0", "tool_version": "bench"}


# -- frames -----------------------------------------------------------------------------------


def make_dngs(
    folder: Path, *, size: tuple[int, int], short: int, long: int, seed: int = 5
) -> tuple[list[Path], list[Path]]:
    """Shoot ``short`` dark and ``long`` bright DNGs with the simulated camera into ``folder``."""
    cam = SimSettings(size=size, seed=seed, lux=1.0).camera(max_wait=0, fps=1e9)
    out: dict[str, list[Path]] = {}
    for kind, shutter, count in (("dark", "1/30", short), ("bright", "10", long)):
        shots = shoot_files(
            folder, cam, count, shutter=shutter, names=f"{kind}_{{:04d}}.dng".format
        )
        out[kind] = [path for path, _ in shots]
    return out["dark"], out["bright"]


def entropy_bound(frames: np.ndarray) -> float:
    """16 bits over the zero-order entropy of the values: the best ratio for independent pixels."""
    _, counts = np.unique(frames, return_counts=True)
    p = counts / counts.sum()
    bits = float(-(p * np.log2(p)).sum())
    return 16.0 / bits if bits > 0 else math.inf


# -- writing and reading ----------------------------------------------------------------------


@contextlib.contextmanager
def whole_frame_limit(pixels: int) -> Iterator[None]:
    """Temporarily move the writer's whole-frame/tile threshold (the ``chunks`` section)."""
    old = schema.WHOLE_FRAME_MAX_PIXELS
    schema.WHOLE_FRAME_MAX_PIXELS = pixels
    try:
        yield
    finally:
        schema.WHOLE_FRAME_MAX_PIXELS = old


@contextlib.contextmanager
def no_blosc_env() -> Iterator[None]:
    """Let each writer set BLOSC_NTHREADS itself, whatever the caller's environment says."""
    old = os.environ.pop("BLOSC_NTHREADS", None)
    try:
        yield
    finally:
        if old is not None:
            os.environ["BLOSC_NTHREADS"] = old


def _session_attrs(h: int, w: int) -> dict:
    return {
        "black_level": [800.0] * 4,
        "white_level": 16300,
        "cfa": "RGGB",
        "white_balance": [2.0, 1.0, 1.5, 1.0],
        "exposure_ratio": 300.0,
        "iso": 2000.0,
        "short_exposure_s": 1 / 30,
        "long_exposure_s": 10.0,
        "camera_make": "Sony",
        "camera_model": "DSC-RX100M6",
        "lighting": "simulated",
        "lux": 1.0,
        "kind": "static",
        "registration": "none (benchmark)",
        "crop": [0, 0, h, w],
    }


def write_split(
    folder: Path,
    *,
    codec: str,
    threads: int,
    short: Callable[[], Iterator[np.ndarray]],
    long: Callable[[], Iterator[np.ndarray]],
    n_short: int,
    n_long: int,
    shape: tuple[int, int],
) -> tuple[Path, float]:
    """Write one session through :class:`SplitWriter`; returns (file, seconds incl. close)."""
    h, w = shape
    t0 = time.perf_counter()
    with SplitWriter(
        folder, "bench", codec=codec, blosc_threads=threads, root_attrs=_ROOT_ATTRS
    ) as writer:
        g = writer.add_session(
            "s",
            scene="bench",
            attrs=_session_attrs(h, w),
            short_shape=(n_short, h, w),
            long_shape=(n_long, h, w),
        )
        for i, frame in enumerate(short()):
            g.write_short(i, frame)
        for k, frame in enumerate(long()):
            g.write_long(k, frame)
        table = np.zeros(n_short, SHORT_FRAMES_DTYPE)
        table["ref"] = 0
        g.write_table("short_frames", table)
        g.write_table("long_frames", np.zeros(n_long, LONG_FRAMES_DTYPE))
        (path,) = writer.close()
    return path, time.perf_counter() - t0


def read_times(path: Path, *, crops: int, frames: int, seed: int = 0) -> dict:
    """Median and 90th-percentile ms of random 512 x 512 crops, and of whole frames."""
    rng = np.random.default_rng(seed)
    with open_file(path) as f:
        ds = f["sessions/s/short"]
        t, h, w = ds.shape
        ds[0, :2, :2]  # open the dataset before timing
        crop_s = []
        for _ in range(crops):
            i = int(rng.integers(t))
            y = 2 * int(rng.integers((h - CROP) // 2 + 1))
            x = 2 * int(rng.integers((w - CROP) // 2 + 1))
            t0 = time.perf_counter()
            ds[i, y : y + CROP, x : x + CROP]
            crop_s.append(time.perf_counter() - t0)
        frame_s = []
        for i in range(frames):
            t0 = time.perf_counter()
            ds[i % t]
            frame_s.append(time.perf_counter() - t0)
        chunks = "x".join(str(c) for c in ds.chunks)
    return {
        "crop_ms": round(1e3 * statistics.median(crop_s), 2),
        "crop_p90_ms": round(1e3 * float(np.percentile(crop_s, 90)), 2),
        "frame_ms": round(1e3 * statistics.median(frame_s), 1),
        "chunks": chunks,
    }


def stored_ratios(path: Path) -> dict:
    """Raw bytes over stored bytes, per dataset."""
    with open_file(path) as f:
        g = f["sessions/s"]
        out = {}
        for name in ("short", "long"):
            ds = g[name]
            out[name] = ds.size * ds.dtype.itemsize / max(1, ds.id.get_storage_size())
    return out


# -- sections ---------------------------------------------------------------------------------


class Frames:
    """Decoded frames and their DNG files, cycled to ``n_short`` frames per write."""

    def __init__(self, dark: list[Path], bright: list[Path], n_short: int) -> None:
        self.dark_files, self.bright_files = dark, bright
        self.dark = [read_raw(p).mosaic for p in dark]
        self.bright = [read_raw(p).mosaic for p in bright]
        self.n_short = n_short
        self.shape = self.dark[0].shape
        self.frame_bytes = self.dark[0].nbytes

    def short(self) -> Iterator[np.ndarray]:
        for i in range(self.n_short):
            yield self.dark[i % len(self.dark)]

    def long(self) -> Iterator[np.ndarray]:
        yield from self.bright

    def decoded(self, pool: ThreadPoolExecutor, files: Sequence[Path]) -> Iterator[np.ndarray]:
        """Decode the files in the pool, in order, as ``dataset publish`` does."""
        yield from pool.map(lambda p: read_raw(p).mosaic, files)

    @property
    def raw_bytes(self) -> int:
        return self.frame_bytes * (self.n_short + len(self.bright))


def bench_codecs(work: Path, frames: Frames, *, crops: int, progress: Callable) -> dict:
    rows: dict[str, dict] = {}
    with no_blosc_env():
        for label, codec, threads in VARIANTS:
            progress(f"codec {label}")
            path, secs = write_split(
                work / f"w-{label}",
                codec=codec,
                threads=threads,
                short=frames.short,
                long=frames.long,
                n_short=frames.n_short,
                n_long=len(frames.bright),
                shape=frames.shape,
            )
            ratios = stored_ratios(path)
            reads = read_times(path, crops=crops, frames=8)
            dark_files = [
                frames.dark_files[i % len(frames.dark_files)] for i in range(frames.n_short)
            ]
            with ThreadPoolExecutor(max_workers=2) as pool:
                _, pack_secs = write_split(
                    work / f"p-{label}",
                    codec=codec,
                    threads=threads,
                    short=lambda files=dark_files, pool=pool: frames.decoded(pool, files),
                    long=lambda pool=pool: frames.decoded(pool, frames.bright_files),
                    n_short=frames.n_short,
                    n_long=len(frames.bright),
                    shape=frames.shape,
                )
            rows[label] = {
                "ratio_short": round(ratios["short"], 3),
                "ratio_long": round(ratios["long"], 3),
                "write_mbps": round(frames.raw_bytes / secs / 1e6, 1),
                "package_mbps": round(frames.raw_bytes / pack_secs / 1e6, 1),
                **reads,
                "reader_needs": READER_NEEDS[codec],
            }
            for d in (work / f"w-{label}", work / f"p-{label}"):
                for p in d.iterdir():
                    p.unlink()
    chosen_label = next(lab for lab, c, _ in VARIANTS if c == DEFAULT_CODEC)
    if DEFAULT_CODEC == "blosc-zstd":
        chosen_label = f"blosc-zstd@{schema.DEFAULT_BLOSC_THREADS}"
    chosen = rows[chosen_label]
    vs = {}
    for other in ("gzip-shuffle", "none"):
        o = rows[other]
        vs[other] = {
            "stored_bytes_other_over_chosen": round(chosen["ratio_short"] / o["ratio_short"], 3),
            "write_speed_chosen_over_other": round(chosen["write_mbps"] / o["write_mbps"], 3),
            "package_speed_chosen_over_other": round(chosen["package_mbps"] / o["package_mbps"], 3),
            "crop_time_chosen_over_other": round(chosen["crop_ms"] / o["crop_ms"], 3),
        }
    short_stack = np.stack(frames.dark)
    bound = entropy_bound(short_stack)
    targets = [
        _target("ratio_short", chosen["ratio_short"], TARGETS["ratio_short"], most=False),
        _target("package_mbps", chosen["package_mbps"], TARGETS["package_mbps"], most=False),
        _target("crop_ms", chosen["crop_ms"], TARGETS["crop_ms"], most=True),
    ]
    return {
        "sensor": f"{frames.shape[0]}x{frames.shape[1]}",
        "frames_written": {"short": frames.n_short, "long": len(frames.bright)},
        "raw_mb": round(frames.raw_bytes / 1e6, 1),
        "short_mean_dn": round(float(short_stack.mean()), 1),
        "short_std_dn": round(float(short_stack.std()), 2),
        "entropy_bound_short": round(bound, 3),
        "entropy_bound_long": round(entropy_bound(np.stack(frames.bright)), 3),
        "codecs": rows,
        "chosen": chosen_label,
        "chosen_vs": vs,
        "chosen_fraction_of_bound": round(chosen["ratio_short"] / bound, 3),
        "targets": targets,
    }


def bench_chunks(work: Path, frames: Frames, *, crops: int, progress: Callable) -> dict:
    rows = {}
    h, w = frames.shape
    with no_blosc_env():
        for label, limit in (("whole_frame", 10**12), ("tiles_256", 0)):
            progress(f"chunks {label}")
            with whole_frame_limit(limit):
                path, secs = write_split(
                    work / f"c-{label}",
                    codec=DEFAULT_CODEC,
                    threads=schema.DEFAULT_BLOSC_THREADS,
                    short=frames.short,
                    long=frames.long,
                    n_short=frames.n_short,
                    n_long=len(frames.bright),
                    shape=frames.shape,
                )
            rows[label] = {
                "ratio_short": round(stored_ratios(path)["short"], 3),
                "write_mbps": round(frames.raw_bytes / secs / 1e6, 1),
                **read_times(path, crops=crops, frames=8),
            }
            for p in (work / f"c-{label}").iterdir():
                p.unlink()
    default = "whole_frame" if h * w <= schema.WHOLE_FRAME_MAX_PIXELS else "tiles_256"
    return {
        "sensor": f"{h}x{w}",
        "codec": DEFAULT_CODEC,
        "layouts": rows,
        "writer_uses": default,
        "crop_time_tiles_over_whole": round(
            rows["tiles_256"]["crop_ms"] / rows["whole_frame"]["crop_ms"], 3
        ),
        "targets": [_target("crop_ms", rows[default]["crop_ms"], TARGETS["crop_ms"], most=True)],
    }


def _record(path: Path, index: int) -> FrameRecord:
    """The journal record a capture would have written for ``path``."""
    return FrameRecord(
        pass_="dark",
        index=index,
        path=path.name,
        sha256=sha256_file(path),
        size=path.stat().st_size,
        angle=None,
        t_start=0.0,
        t_end=0.0,
        readback={"iso": 2000, "shutter_s": None, "aperture": None},
    )


def bench_integrity(work: Path, frames: Frames, *, progress: Callable) -> dict:
    files = [frames.dark_files[i % len(frames.dark_files)] for i in range(frames.n_short)]
    files += frames.bright_files
    records = {p: _record(p, i) for i, p in enumerate(sorted(set(files)))}

    def plain(p: Path) -> np.ndarray:
        return read_raw(p).mosaic

    def checked(p: Path) -> np.ndarray:
        return read_raw(read_frame_bytes(p, records[p]), name=str(p)).mosaic

    first = read_raw(frames.dark_files[0])
    attrs = {
        "black_level": list(first.black_level),
        "white_level": first.white_level,
        "cfa": first.cfa,
        "white_balance": list(first.white_balance),
        "color_matrix": [float(v) for v in np.asarray(first.color_matrix).ravel()],
    }

    def previewed(p: Path) -> np.ndarray:
        # what `dataset publish` does per paired short frame since the Parquet row tables
        mosaic = checked(p)
        preview_short(mosaic, attrs, 300.0)
        return mosaic

    times = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for label, fn in (("plain", plain), ("checked", checked), ("plain_again", plain)):
            progress(f"integrity: decode {label}")
            t0 = time.perf_counter()
            for _ in pool.map(fn, files):
                pass
            times[label] = time.perf_counter() - t0
        plain_s = min(times["plain"], times["plain_again"])  # the file cache warm for both
        dark = files[: frames.n_short]
        pack = {}
        for label, fn in (("plain", plain), ("checked", checked), ("previews", previewed)):
            progress(f"integrity: package, {label}")
            _, pack[label] = write_split(
                work / f"i-{label}",
                codec=DEFAULT_CODEC,
                threads=schema.DEFAULT_BLOSC_THREADS,
                short=lambda fn=fn: pool.map(fn, dark),
                long=lambda fn=fn: pool.map(fn, frames.bright_files),
                n_short=frames.n_short,
                n_long=len(frames.bright),
                shape=frames.shape,
            )
            for p in (work / f"i-{label}").iterdir():
                p.unlink()
    mbps = round(frames.raw_bytes / pack["previews"] / 1e6, 1)
    return {
        "sensor": f"{frames.shape[0]}x{frames.shape[1]}",
        "frames": len(files),
        "decode_s_plain": round(plain_s, 3),
        "decode_s_checked": round(times["checked"], 3),
        "checked_over_plain": round(times["checked"] / plain_s, 3),
        "package_mbps_plain": round(frames.raw_bytes / pack["plain"] / 1e6, 1),
        "package_mbps_checked": round(frames.raw_bytes / pack["checked"] / 1e6, 1),
        "package_time_checked_over_plain": round(pack["checked"] / pack["plain"], 3),
        "package_mbps_previews": mbps,
        "package_time_previews_over_checked": round(pack["previews"] / pack["checked"], 3),
        "targets": [_target("package_mbps", mbps, TARGETS["package_mbps"], most=False)],
    }


def _target(name: str, value: float, target: float, *, most: bool) -> dict:
    met = value <= target if most else value >= target
    return {"name": name, "value": value, "target": target, "most": most, "met": bool(met)}


def run(
    sections: Sequence[str] = SECTIONS,
    *,
    quick: bool = False,
    tmp: str | Path | None = None,
    emit: Callable[[str, dict], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Run the dataset benchmark sections; returns ``{section: result}``.

    ``quick``: 1224 x 1832 frames, 6 distinct dark frames written 24 times over, 100 crops;
    otherwise the full 3672 x 5496 sensor, 8 distinct dark frames written as 24, 300 crops.
    Every target missed is written to stderr as a "target missed" line.
    """
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    say = progress or (lambda msg: print(f"[bench dataset] {msg}", file=sys.stderr, flush=True))
    size, distinct, crops = (QUICK_SIZE, 6, 100) if quick else (FULL_SIZE, 8, 300)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="sublux-bench-ds-", dir=tmp) as d:
        work = Path(d)
        say(f"shooting {distinct} dark and 2 bright DNGs at {size[0]}x{size[1]}")
        dark, bright = make_dngs(work / "dng", size=size, short=distinct, long=2)
        frames = Frames(dark, bright, n_short=24)
        for name in sections:
            t0 = time.perf_counter()
            if name == "codecs":
                res = bench_codecs(work, frames, crops=crops, progress=say)
            elif name == "integrity":
                res = bench_integrity(work, frames, progress=say)
            else:
                res = bench_chunks(work, frames, crops=crops, progress=say)
            res["section_s"] = round(time.perf_counter() - t0, 1)
            results[name] = res
            report_misses(
                f"dataset {name}", res, lambda t: f"{'<=' if t['most'] else '>='} {t['target']}"
            )
            if emit:
                emit(name, res)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main(__doc__, SECTIONS, run, "1224x1832 frames, fewer crops", argv)


if __name__ == "__main__":
    sys.exit(main())
