"""Curation of one session (or two folders of frames) into ``alignment.json``.

Each frame is decoded once, on the run's worker threads.  While the mosaic is still in
LibRaw's buffer one compiled pass (:func:`curate._kernels.bin_stats`) yields its statistics (for
the intensity rules) and a small *work image*: the black-subtracted 2x2-binned luminance,
block-averaged further so that it has at most :data:`WORK_PIXELS` pixels; its matching features
are computed on the same thread.  Matching and registration run on work images only (pairs
registered on the worker threads too), so a 20 MP session costs little more than decoding it
(``scripts/bench curate`` measures the ratio).  Shifts are converted back to full-resolution
sensor pixels.

Static sessions: the *mean* of the kept burst is registered to every kept reference (averaging
N frames divides the noise by sqrt(N)); references whose shift disagrees with the others (the
camera was bumped between them) are dropped, and kept dark frame j is paired with kept
reference j mod K, so every kept reference is used; the burst is checked for drift.
Sweeps: every kept bright frame is matched to a dark frame by the correlation criterion with an
order-keeping assignment (the turntable repeats one path), then each pair is registered.

Integrity: a session frame is read once (:meth:`capture.session.Session.read_frame`), checked
against its journal record (size and sha256), and decoded from those very bytes; a frame that
differs from its record is dropped (``hash_mismatch``, ``missing``), never curated.  A frame of
another size than its pass's majority is dropped (``size_mismatch``), and a mosaic holding
values no sensor gives (:func:`impossible_range`) as ``corrupt``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import logging
import math
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from capture.errors import CaptureError, FrameMismatch
from capture.session import open_session
from curate import intensity, matching, motion
from curate import review as reviewmod
from curate.bayer import block_mean, check_levels
from curate.errors import BadInput, CurateError, MissingMetadata, UnreadableRaw
from curate.raw import RawFrame, exposure_ratio, open_raw
from curate.result import (
    ALIGNMENT_FILE,
    Alignment,
    CorrelationIndex,
    Drop,
    FrameEntry,
    Pair,
    Reference,
    read_alignment,
    result_dir,
    write_alignment,
)
from curate.video import verified_copy, video_fps, video_rgb_frames
from sublux_common.progress import OnProgress

__all__ = ["Options", "align_folders", "align_session"]

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
#: Work images are block-averaged until they have at most this many pixels.
WORK_PIXELS = 500_000
NAN = float("nan")


@dataclass(frozen=True)
class Options:
    """Every threshold of a curation run (recorded in ``alignment.json``).

    The intensity rules are those of :func:`curate.intensity.classify`; ``min_aligned_corr`` and
    ``rel_aligned_corr`` reject a pair whose correlation after alignment is below an absolute
    floor or below a fraction of the session's median pair (a relative rule, because a single
    frame below one electron per pixel correlates weakly with anything, even when aligned).
    ``motion_threshold`` (standard deviations of noise, :mod:`curate.motion`) drops a static
    burst's frame with a region that changed (``motion``) and flags a sweep's pair
    (``motion: true``); None turns the check off.  ``motion_block`` is the block side in work
    pixels.
    """

    drop_ratio: float = 0.25
    jump_ratio: float = 2.5
    max_clipped: float = 0.01
    dark_floor_dn: float | None = None
    bright_floor_dn: float | None = None
    min_margin: float = 0.02
    feature_downsample: int = 2
    min_aligned_corr: float = 0.02
    rel_aligned_corr: float = 0.5
    max_drift_px: float = 1.0
    neighbours: int = 1
    ratio: float | None = None
    workers: int = 2
    motion_threshold: float | None = motion.DEFAULT_THRESHOLD
    motion_block: int = motion.DEFAULT_BLOCK


@dataclass
class _Frame:
    file: str
    path: Path
    pass_: str
    t: float | None = None
    angle: float | None = None
    moving: bool = False  # exposed while the turntable turned (a continuous pass)
    meta: dict = field(default_factory=dict)
    work: np.ndarray | None = None
    features: np.ndarray | None = None  # matching.features of work
    factor: float = 1.0  # full-resolution pixels per work pixel
    shape: tuple[int, int] | None = None
    stats: intensity.FrameStats | None = None
    raw: RawFrame | None = None  # metadata only: the mosaic is dropped after decoding
    error: str | None = None
    reason: str | None = None
    detail: str = ""
    # reads the bytes once, checked against the journal (session frames); None: read the path
    read: Callable[[], bytes] | None = None
    drop: dict = field(default_factory=dict)  # more fields of its ``dropped`` entry
    eight_bit: bool = False  # an 8-bit sRGB image or video frame: the seed's 20/255 rule
    video_frame: int | None = None  # index in an imported video (a session's video pass)


def _work_factor(shape: tuple[int, int]) -> int:
    down = 1
    while (shape[0] // (2 * down)) * (shape[1] // (2 * down)) > WORK_PIXELS:
        down *= 2
    return down


#: A mosaic with more than this fraction of its pixels outside :func:`impossible_range` is
#: dropped as ``corrupt`` (and at least :data:`CORRUPT_MIN_PIXELS` of them).
CORRUPT_FRACTION = 1e-3
CORRUPT_MIN_PIXELS = 16


def impossible_range(levels: np.ndarray, white: float) -> tuple[int, int]:
    """``(low, high)``: a raw value below ``low`` or above ``high`` no sensor gives.

    ``high`` is the full scale of the ADC that the white level implies (the smallest 2^n - 1
    at or above it): 16383 for a 14-bit white of 15000.  Not the white level itself: some
    cameras' recorded white is below the values their highlights reach.  ``low`` is half the
    smallest black level (0 when the black level is under 16): read noise spreads values a few
    tens of DN around black, never to half of it.  A DNG whose image data is gone decodes,
    without an error from LibRaw, into whatever memory held (zeros, or values up to 65535,
    different on every read): this range catches it.
    """
    top = int(white)
    high = min(65535, (1 << max(1, top.bit_length())) - 1)
    black = float(np.min(levels))
    low = int(black // 2) if black >= 16 else 0
    return low, high


_JOURNAL_REASONS = ("hash_mismatch", "missing")


def _mismatch(f: _Frame, exc: FrameMismatch) -> None:
    """Drop a session frame whose bytes differ from (or lack) their journal record."""
    f.error = str(exc)
    if exc.problem == "missing":
        f.reason, f.detail = "missing", f"journalled but not found: {exc}"
        f.drop = {"expected": exc.expected, "found": None}
        return
    found = exc.found
    if exc.problem == "size":
        # the error path only: the digest of what is there, for the record
        try:
            found = hashlib.sha256(f.path.read_bytes()).hexdigest()
        except OSError:
            found = None
        f.detail = (
            f"size differs from the journal: {exc.expected} bytes journalled, {exc.found} found "
            "(truncated, replaced or edited after capture)"
        )
    else:
        f.detail = "sha256 differs from the journal, same size (replaced or edited after capture)"
    f.reason = "hash_mismatch"
    f.drop = {"expected": f.meta.get("sha256") or exc.expected, "found": found}


def _load_raw(f: _Frame, opts: Options) -> None:
    """Decode one raw file and reduce it at once: statistics, work image, features.

    A session frame is read once, checked against its journal record, and decoded from those
    bytes (:func:`_mismatch` when they differ).  The mosaic is read where LibRaw decoded it
    (no copy) in one compiled pass that sums the work image's blocks, counts the clipped
    pixels and the impossible ones (``corrupt``), so a 20 MP frame costs little more than
    reading, hashing and decoding it.
    """
    try:
        source: bytes | Path = f.path if f.read is None else f.read()
    except FrameMismatch as exc:
        _mismatch(f, exc)
        return
    except OSError as exc:
        f.error = f"expected a readable file at {f.path}, found {exc.strerror or exc}"
        return
    from curate import _kernels  # numba: loaded by _preload while this frame was read

    try:
        with open_raw(source, name=str(f.path)) as raw:
            mosaic = raw.mosaic
            shape = mosaic.shape
            if len(shape) != 2 or shape[0] < 2 or shape[1] < 2:
                raise UnreadableRaw(f"expected a 2-D Bayer mosaic in {f.path}, found {shape}")
            levels, white = check_levels(raw.black_level, raw.white_level)
            down = _work_factor(shape)
            block = 2 * down
            clip_at = math.ceil(white - intensity.default_clip_margin(levels, white))
            low, high = impossible_range(levels, white)
            sums, clipped, total, outside = _kernels.bin_stats(mosaic, block, clip_at, low, high)
            # keep the metadata, not the mosaic (LibRaw's buffer, gone after this block)
            f.raw = dataclasses.replace(raw, mosaic=np.empty((0, 0), np.uint16))
    except UnreadableRaw as exc:
        f.error = str(exc)
        return
    n = shape[0] * shape[1]
    if outside > max(CORRUPT_MIN_PIXELS, CORRUPT_FRACTION * n):
        f.reason = "corrupt"
        f.error = f.detail = (
            f"{outside} of {n} pixels ({100 * outside / n:.2f}%) outside {low}..{high}, values "
            f"no sensor with black {float(np.min(levels)):g} and white {white:g} gives: the "
            "image data is damaged or missing (LibRaw decoded it without an error)"
        )
        return
    f.shape = shape
    f.stats = intensity.FrameStats(
        mean_dn=total / (shape[0] * shape[1]) - float(levels.mean()),
        clipped_fraction=clipped / (shape[0] * shape[1]),
    )
    # bin_luminance's units: quad sums above black, over the white-black range
    quads = down * down
    work = sums / quads - levels.sum()
    work *= 1.0 / (white - levels.mean())
    f.work = work.astype(np.float32)
    f.factor = float(block)
    f.features = matching.features(f.work, downsample=opts.feature_downsample)
    f.meta = {
        "camera": f"{raw.make} {raw.model}".strip(),
        "iso": raw.iso,
        "exposure_s": raw.exposure_s,
    }


def _grey_work(rgb: np.ndarray, f: _Frame, feature_downsample: int) -> None:
    f.shape = rgb.shape[:2]
    f.eight_bit = True
    grey = intensity.luma_601(rgb)
    f.stats = intensity.grey_stats(grey)
    down = _work_factor(f.shape) * 2
    f.work = block_mean(grey, down) / np.float32(255.0)
    f.factor = float(down)
    f.features = matching.features(f.work, downsample=feature_downsample)
    f.meta = {"camera": "", "iso": None, "exposure_s": None}


def _load_image(f: _Frame, opts: Options) -> None:
    import cv2

    img = cv2.imread(str(f.path), cv2.IMREAD_UNCHANGED)
    if img is None:
        f.error = f"expected an image OpenCV can read at {f.path}, found none readable"
        return
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    _grey_work(img[..., 2::-1], f, opts.feature_downsample)


def _video_frames(path: Path, pass_: str, opts: Options) -> list[_Frame]:
    """Every frame of a video as a ``_Frame`` (``frame_NNNNNN``, timed by its frame rate)."""
    fps = video_fps(path)
    frames = []
    for i, rgb in enumerate(video_rgb_frames(path)):
        f = _Frame(file=f"frame_{i:06d}", path=path, pass_=pass_, t=(i / fps) if fps else float(i))
        _grey_work(rgb, f, opts.feature_downsample)
        frames.append(f)
    if not frames:
        raise BadInput(f"expected frames in the video {path}, found none")
    return frames


def _session_video(frames: list[_Frame], opts: Options) -> None:
    """Decode a session's imported video pass into its frames (one ``_Frame`` per journalled
    frame, each with its ``video_frame``).

    The video file is the journalled unit: decoded from a verified temporary copy
    (:func:`curate.video.verified_copy`, which says why).  A video that differs from its
    record drops every frame.
    """
    try:
        data = frames[0].read() if frames[0].read else frames[0].path.read_bytes()
    except FrameMismatch as exc:
        for f in frames:
            _mismatch(f, exc)
        return
    by_index: dict[int, list[_Frame]] = {}
    for f in frames:
        if f.video_frame is not None:
            by_index.setdefault(f.video_frame, []).append(f)
    decoded = 0
    with verified_copy(data, frames[0].path.suffix) as copy:
        # each journalled frame reduced where it decodes (its record's time, not the fps)
        for decoded, rgb in enumerate(video_rgb_frames(copy), start=1):
            for f in by_index.get(decoded - 1, ()):
                journalled = f.meta
                _grey_work(rgb, f, opts.feature_downsample)
                f.meta = {**f.meta, **journalled}
        if not decoded:
            raise BadInput(f"expected frames in the video {copy}, found none")
    for f in frames:
        if f.video_frame is None or not 0 <= f.video_frame < decoded:
            f.error = (
                f"journalled as frame {f.video_frame} of {f.path.name}, which decodes to "
                f"{decoded} frames"
            )


def _preload() -> None:
    """Import what matching, registration and the motion check need (scipy.fft, scipy.ndimage,
    numba) and load the compiled kernels from numba's cache.

    A fresh ``curate align`` process spends about half a second of CPU here.  Run on a thread
    of its own while the first frames are read, hashed and decoded (file reads, sha256 and
    LibRaw release the GIL), it overlaps that work instead of preceding it; a decoding thread
    that needs a kernel first waits for it (Python's import lock, numba's compiler lock).
    """
    from curate import _kernels

    # numba's first call sets up its typing and code-generation registries (most of a
    # kernel's load time); the kernel decoding threads wait for first, then the rest
    lent = np.zeros((2, 2), np.uint16)
    lent.flags.writeable = False  # as curate.raw.open_raw lends a mosaic: numba's signature
    _kernels.bin_stats(lent, 1, 1)
    _kernels.spline_coefficients(np.zeros((4, 4), np.float64))
    from scipy import ndimage  # noqa: F401

    from curate import registration  # noqa: F401


def _decode_one(f: _Frame, opts: Options) -> None:
    if f.path.suffix.lower() in IMAGE_SUFFIXES:
        _load_image(f, opts)
    else:
        _load_raw(f, opts)


def _decode(
    passes: Sequence[tuple[list[_Frame], str]], opts: Options, progress: OnProgress | None
) -> None:
    """Decode every pass's frames, ``(frames, progress step)`` in order, on one pool of
    ``opts.workers`` threads (no idle thread between passes).

    Each task reads, checks and decodes one frame and keeps only its reductions (work image,
    features, statistics), so memory holds at most ``opts.workers`` raw files at a time,
    whatever the session's length.  The results do not depend on the order frames finish in:
    each frame's reductions are its own.  A session's video pass is decoded as one file first.
    """
    pooled = []
    for frames, step in passes:
        if frames and frames[0].video_frame is not None:
            _session_video(frames, opts)
            if progress:
                progress(step, len(frames), len(frames))
        else:
            pooled.append((frames, step))
    todo = [(f, step, len(frames)) for frames, step in pooled for f in frames]
    done: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:
        results = pool.map(_decode_one, [f for f, _, _ in todo], itertools.repeat(opts))
        for (_, step, total), _ in zip(todo, results, strict=True):
            done[step] += 1
            if progress:
                progress(step, done[step], total)


def _check_consistent(frames: list[_Frame], what: str) -> None:
    """Drop frames of another size than the pass's majority (``size_mismatch``); with no
    majority (a tie) there is no telling which size is right: :class:`BadInput`."""
    good = [f for f in frames if f.error is None and f.reason is None]
    counts = Counter(f.shape for f in good).most_common()
    if len(counts) > 1:
        if counts[0][1] == counts[1][1]:
            by = {}
            for f in good:
                by.setdefault(f.shape, f.file)
            listing = ", ".join(f"{name} is {s[1]}x{s[0]}" for s, name in by.items())
            raise BadInput(
                f"expected the {what} frames to share one size (or most of them to), found "
                f"no majority: {listing} ({counts[0][1]} of each of the commonest sizes); "
                "curate frames of one camera and one format together"
            )
        major, n_major = counts[0]
        for f in good:
            if f.shape != major:
                f.reason = "size_mismatch"
                f.detail = (
                    f"{f.shape[1]}x{f.shape[0]}, while {n_major} of the {len(good)} readable "
                    f"{what} frames are {major[1]}x{major[0]}"
                )
        good = [f for f in good if f.reason is None]
    cams = {f.meta.get("camera") for f in good if f.meta.get("camera")}
    if len(cams) > 1:
        by = {}
        for f in good:
            by.setdefault(f.meta.get("camera"), f.file)
        listing = ", ".join(f"{n} from {c}" for c, n in by.items())
        raise BadInput(f"expected {what} frames from one camera, found several: {listing}")


def _classify(frames: list[_Frame], kind: str, opts: Options, video: bool) -> None:
    for f in frames:
        if f.error is not None and f.reason is None:
            f.reason, f.detail = "unreadable", f.error
    readable = [f for f in frames if f.reason is None]
    if not readable:
        return
    floor = opts.dark_floor_dn if kind == "dark" else opts.bright_floor_dn
    # 8-bit sRGB frames (a video, PNG frames) get the seed's rule (mean below 20 of 255), never
    # the raw floors: the bright raw floor of 100 DN would drop good frames at 99 of 255
    if video or all(f.eight_bit for f in readable):
        floor = intensity.SEED_FLOOR_8BIT if floor is None else floor
    reasons = intensity.classify(
        [f.stats for f in readable],
        kind=kind,
        min_mean_dn=floor,
        drop_ratio=opts.drop_ratio,
        jump_ratio=opts.jump_ratio,
        max_clipped=opts.max_clipped,
    )
    median = float(np.median([f.stats.mean_dn for f in readable]))
    for f, reason in zip(readable, reasons, strict=True):
        if reason:
            f.reason = reason
            f.detail = (
                f"mean {f.stats.mean_dn:.2f} above black (pass median {median:.2f}), "
                f"{100 * f.stats.clipped_fraction:.2f}% clipped"
            )


#: Most dropped frames a refusal lists one by one (the rest are counted by reason).
DROPS_LISTED = 8


def _drops_text(frames: Sequence[_Frame]) -> str:
    """The dropped frames for a refusal: each with its reason and why (an unreadable file's
    own error), the first :data:`DROPS_LISTED` of them; the others counted by reason."""
    dropped = [f for f in frames if f.reason]
    listed = [
        f"{f.pass_}/{f.file}: {f.reason}" + (f" ({f.detail})" if f.detail else "")
        for f in dropped[:DROPS_LISTED]
    ]
    rest = Counter(f.reason for f in dropped[DROPS_LISTED:])
    if rest:
        listed.append(
            "and " + ", ".join(f"{n} more {reason}" for reason, n in sorted(rest.items()))
        )
    return "; ".join(listed)


def _frame_entry(f: _Frame, median: float) -> FrameEntry:
    s = f.stats
    return FrameEntry(
        file=f.file,
        kept=f.reason is None,
        mean_dn=None if s is None else round(s.mean_dn, 4),
        rel_mean=None if s is None or not median else round(s.mean_dn / median, 4),
        clipped=None if s is None else round(s.clipped_fraction, 6),
        t=f.t,
        angle=f.angle,
    )


def _ratio(dark: _Frame, bright: _Frame, opts: Options) -> float | None:
    if opts.ratio is not None:
        return opts.ratio
    if dark.raw is None or bright.raw is None:
        # an imported video's frames carry the exposure journalled at import (no raw metadata)
        de, be = dark.meta.get("exposure_s"), bright.meta.get("exposure_s")
        return round(be / de, 4) if de and be else None
    try:
        return round(exposure_ratio(dark.raw, bright.raw), 4)
    except MissingMetadata:
        return None


def _pair(
    dark: _Frame,
    bright: _Frame,
    dy: float,
    dx: float,
    corr: float,
    score: float,
    margin: float,
    ambiguous: bool,
    opts: Options,
) -> Pair:
    return Pair(
        bright=bright.file,
        dark=dark.file,
        score=round(float(score), 5),
        margin=None if not np.isfinite(margin) else round(float(margin), 5),
        ambiguous=bool(ambiguous),
        dy=round(float(dy), 4),
        dx=round(float(dx), 4),
        aligned_corr=None if not np.isfinite(corr) else round(float(corr), 5),
        exposure_ratio=_ratio(dark, bright, opts),
        dark_angle=dark.angle,
        bright_angle=bright.angle,
    )


def _reject(pairs: list[Pair], opts: Options) -> tuple[list[Pair], list[Pair], float | None]:
    """Split pairs into kept and rejected by aligned correlation; also the floor applied."""
    corrs = [p.aligned_corr for p in pairs if p.aligned_corr is not None]
    if not corrs:
        return pairs, [], None
    floor = max(opts.min_aligned_corr, opts.rel_aligned_corr * float(np.median(corrs)))
    kept, rejected = [], []
    for p in pairs:
        c = p.aligned_corr
        if c is None or c < floor:
            rejected.append(
                dataclasses.replace(
                    p,
                    reason="low_aligned_corr",
                    detail=f"aligned correlation {c} below {floor:.4f}",
                )
            )
        else:
            kept.append(p)
    return kept, rejected, round(floor, 5)


def _features(frames: list[_Frame]) -> np.ndarray:
    return np.stack([f.features for f in frames])


def _agreeing(shifts: np.ndarray, tol: float) -> tuple[list[int], np.ndarray]:
    """Indices of the references whose shifts agree, and their median shift.

    The largest group of references within ``tol`` of one of them (ties: the earliest, shot
    nearest the burst) is the camera's position; with two references that disagree, the
    first is kept.  A reference further than ``tol`` from that group's median moved.
    """
    dist = np.hypot(*(shifts[:, None, :] - shifts[None, :, :]).transpose(2, 0, 1))
    best = max(range(len(shifts)), key=lambda i: (int((dist[i] <= tol).sum()), -i))
    group = np.flatnonzero(dist[best] <= tol)
    centre = np.median(shifts[group], axis=0)
    keep = [i for i in range(len(shifts)) if np.hypot(*(shifts[i] - centre)) <= tol or i == best]
    return keep, centre


def _align_static(dark: list[_Frame], bright: list[_Frame], opts: Options) -> dict:
    from curate import registration

    mean = registration.mean_frame(f.work for f in dark)
    factor = bright[0].factor
    # independent registrations (compiled code and FFTs that release the GIL): on the run's
    # worker threads, each result what a serial loop gives
    with ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:
        work_shifts = np.array(
            list(pool.map(lambda b: registration.estimate_shift(mean, b.work), bright))
        )
    keep, centre = _agreeing(work_shifts * factor, opts.max_drift_px)
    dropped = []
    for i, b in enumerate(bright):
        if i not in keep:
            dy, dx = work_shifts[i] * factor
            off = float(np.hypot(dy - centre[0], dx - centre[1]))
            dropped.append(
                (
                    b,
                    "reference_moved",
                    f"shift of the burst to it ({dy:+.2f}, {dx:+.2f}) px differs from the "
                    f"references' median ({centre[0]:+.2f}, {centre[1]:+.2f}) by {off:.2f} px "
                    f"> max_drift_px {opts.max_drift_px:g}: the camera moved between references",
                )
            )
    # every kept dark frame uses one reference; more references than dark frames go unused
    used = keep[: len(dark)]
    for i in keep[len(dark) :]:
        dropped.append(
            (
                bright[i],
                "unused_reference",
                f"{len(keep)} references kept for {len(dark)} kept dark frames: each dark frame "
                "is paired with one reference, so this one has no dark frame",
            )
        )
    refs = [bright[i] for i in used]
    shifts = [tuple(work_shifts[i]) for i in used]
    ref = refs[0]
    drift = None
    if len(dark) >= 3:
        # Each third of the burst against the clean reference: far less noisy than thirds
        # against each other, which is what a drift check between noisy means would give.
        thirds = [
            registration.mean_frame(f.work for f in part)
            for part in np.array_split(np.array(dark, dtype=object), 3)
        ]
        with ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:
            third_shifts = np.array(
                list(pool.map(lambda t: registration.estimate_shift(t, ref.work), thirds))
            )
        spread = third_shifts.max(axis=0) - third_shifts.min(axis=0)
        drift = {
            "max_px": round(float(spread.max()) * ref.factor, 4),
            "thirds": (third_shifts * ref.factor).round(4).tolist(),
        }
    corr = matching.correlation_matrix(_features(dark), _features(refs))
    k_refs = len(refs)
    pair_corrs: list[float] = [float("nan")] * len(dark)
    for k, (r, (dy, dx)) in enumerate(zip(refs, shifts, strict=True)):
        members = list(range(k, len(dark), k_refs))
        got = registration.aligned_correlations((dark[j].work for j in members), r.work, dy, dx)
        for j, c in zip(members, got, strict=True):
            pair_corrs[j] = c
    pairs = []
    for j, f in enumerate(dark):
        k = j % k_refs
        dy, dx = shifts[k]
        r = refs[k]
        pairs.append(
            _pair(f, r, dy * r.factor, dx * r.factor, pair_corrs[j], corr[k, j], NAN, False, opts)
        )
    references = []
    for r, (dy, dx) in zip(refs, shifts, strict=True):
        (c,) = registration.aligned_correlations([mean], r.work, dy, dx)
        references.append(
            Reference(
                file=r.file,
                dy=round(float(dy * r.factor), 4),
                dx=round(float(dx * r.factor), 4),
                aligned_corr=None if not np.isfinite(c) else round(float(c), 5),
                t=r.t,
            )
        )
    return {
        "pairs": pairs,
        "corr": corr,
        "path": [[j % k_refs, j] for j in range(len(dark))],
        "drift": drift,
        "method": "static-reference",
        "references": references,
        "bright": refs,
        "dropped_refs": dropped,
    }


REVIEW_NOTE = f"the review ({reviewmod.REVIEW_FILE})"


def _apply_review(frames: list[_Frame], review: reviewmod.Review) -> None:
    """The curator's decisions: a rejected frame is dropped (``review``, with the note); a
    restored one dropped by a rule the curator may overrule (:data:`curate.review.RESTORABLE`)
    is kept."""
    for f in frames:
        d = review.get(f.pass_, f.file)
        if d is None:
            continue
        if d.decision == "reject" and f.reason is None:
            f.reason = "review"
            f.detail = f"rejected in review by {d.user or 'unknown'} at {d.time}: {d.reason}"
            f.drop = {"review": d.note()}
        elif d.decision == "restore" and f.reason in reviewmod.RESTORABLE:
            log.info("%s/%s: %s overruled by the review", f.pass_, f.file, f.reason)
            f.reason, f.detail, f.drop = None, "", {}


def _restore_pairs(
    pairs: list[Pair], rejected: list[Pair], review: reviewmod.Review
) -> tuple[list[Pair], list[Pair]]:
    """Pairs the curator restored (their dark or bright frame) leave ``rejected``."""
    back = [
        p
        for p in rejected
        if p.reason in reviewmod.RESTORABLE
        and (review.restored("dark", p.dark) or review.restored("bright", p.bright))
    ]
    if not back:
        return pairs, rejected
    keep = [p for p in rejected if p not in back]
    restored = [
        dataclasses.replace(
            p, reason=None, detail=None, review={"restored": p.reason, "detail": p.detail or ""}
        )
        for p in back
    ]
    return pairs + restored, keep


def _onto_dark(ref: _Frame, dy: float, dx: float) -> np.ndarray:
    """A reference's work image moved onto its dark frames (``dy, dx`` in sensor pixels)."""
    from scipy import ndimage

    return ndimage.shift(ref.work, (-dy / ref.factor, -dx / ref.factor), order=1, mode="nearest")


def _static_motion(
    dark: list[_Frame], result: dict, opts: Options, restored: set[str] = frozenset()
) -> bool:
    """Drop the burst's frames with a region that changed beyond noise (``motion``) against
    the other frames and the first reference; True when any was dropped.  Frames the curator
    ``restored`` are kept (and still serve as the others' comparison)."""
    refs = result.get("references") or []
    reference = None
    if refs:
        first = result["bright"][0]
        reference = _onto_dark(first, refs[0].dy, refs[0].dx)
    found = motion.burst_motion(
        [f.work for f in dark],
        reference=reference,
        block=opts.motion_block,
        threshold=opts.motion_threshold,
        rendered=any(f.eight_bit for f in dark),
    )
    for f, region in zip(dark, found, strict=True):
        if region is None or f.file in restored:
            continue
        r = region.scaled(f.factor)
        y0, x0, y1, x1 = r["box"]
        f.reason = "motion"
        f.detail = (
            f"a region of {r['blocks']} block(s) at x {x0}-{x1}, y {y0}-{y1} (sensor px) "
            f"{'brighter' if r['strength'] > 0 else 'darker'}{_by(r['change'])} than "
            f"the burst and the reference ({abs(r['strength']):.1f} sigma of noise, threshold "
            f"{opts.motion_threshold:g} per block): something moved or a light changed"
        )
        f.drop = {"region": r}
    return any(f.reason == "motion" for f in dark)


def _by(change: float | None) -> str:
    """`` by 91%``, or, where the region should be about black (no percentage means
    anything there), `` where they are about black``."""
    return " where they are about black" if change is None else f" by {abs(change):.0%}"


def _sweep_motion(dark: list[_Frame], bright: list[_Frame], pairs: list[Pair], opts) -> None:
    """Flag (``motion: true``, ``motion_region``) the sweep pairs whose residual after
    alignment holds a region beyond noise; they are kept: a sweep's scene changes anyway.
    ``pairs`` is updated in place."""
    by_d = {f.file: f for f in dark}
    by_b = {f.file: f for f in bright}

    def one(p: Pair) -> motion.Region | None:
        d, b = by_d[p.dark], by_b[p.bright]
        return motion.pair_motion(
            d.work,
            _onto_dark(b, p.dy, p.dx),
            block=opts.motion_block,
            threshold=opts.motion_threshold,
            rendered=d.eight_bit or b.eight_bit,  # a video's frames: the camera's tone curve
        )

    # independent pairs: on the run's worker threads (results in the pairs' order)
    with ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:
        regions = list(pool.map(one, pairs))
    for k, (p, region) in enumerate(zip(pairs, regions, strict=True)):
        pairs[k] = dataclasses.replace(
            p,
            motion=region is not None,
            motion_region=None if region is None else region.scaled(by_d[p.dark].factor),
        )


def _box_blur_x(image: np.ndarray, length: float) -> np.ndarray:
    """Average over a horizontal segment ``length`` pixels long (fractional ends weighted)."""
    if length <= 1.0:
        return image
    n = int(np.ceil(length))
    n += 1 - n % 2  # odd, so the kernel stays centred
    kernel = np.ones(n, np.float32)
    edge = (length - (n - 2)) / 2  # the two end taps share what is left of the length
    kernel[0] = kernel[-1] = edge
    from scipy import ndimage

    return ndimage.convolve1d(image, kernel / kernel.sum(), axis=1, mode="nearest")


def _motion_blur(dark: list[_Frame], bright: list[_Frame]) -> list[float]:
    """Per dark frame, the turntable's motion blur in work pixels (0 when it stood still).

    Only frames of a continuous pass move during their exposure (a stepped pass shoots with
    the table at rest).  The speed comes from the journalled angles and times of neighbouring
    dark frames, the scale (work pixels per degree) from registering two clean bright frames
    whose angles are known.  A continuous dark pass smears the scene along x by speed x
    exposure; blurring the reference the same way before registration keeps the correlation
    peak sharp.
    """
    ok = (
        any(f.moving for f in dark)
        and all(f.angle is not None and f.t is not None for f in dark)
        and len(dark) > 2
    )
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(bright)
        if a.angle is not None and b.angle is not None and abs(b.angle - a.angle) > 1e-6
    ]
    if not ok or not pairs:
        return [0.0] * len(dark)
    from curate import registration

    a, b = pairs[len(pairs) // 2]
    _, dx = registration.estimate_shift(a.work, b.work)
    px_per_deg = abs(dx) / abs(b.angle - a.angle)
    angles = np.array([f.angle for f in dark], float)
    times = np.array([f.t for f in dark], float)
    speed = np.abs(np.gradient(angles, times)) if np.ptp(times) > 0 else np.zeros(len(dark))
    exposure = np.array([f.meta.get("exposure_s") or 0.0 for f in dark], float)
    moving = np.array([f.moving for f in dark])
    return list(np.where(moving, speed * exposure * px_per_deg, 0.0))


def _candidates(path: Sequence[int], n_dark: int, neighbours: int) -> list[list[int]]:
    """Every dark frame :func:`nearest_on_path` may pick for each bright frame (a superset:
    it also narrows each list by what was picked for the bright frame before)."""
    out = []
    for i, j in enumerate(path):
        lo = path[i - 1] - neighbours if i > 0 else 0
        hi = path[i + 1] if i + 1 < len(path) else n_dark - 1
        out.append([c for c in range(j - neighbours, j + neighbours + 1) if max(lo, 0) <= c <= hi])
    return out


def nearest_on_path(
    path: Sequence[int], n_dark: int, neighbours: int, distance: Callable[[int, int], float]
) -> list[int]:
    """Refine an order-keeping match: for bright frame ``i`` pick, among dark frames within
    ``neighbours`` of ``path[i]``, the one of least ``distance(i, c)``, never before the dark
    frame picked for ``i - 1`` nor after ``path[i + 1]``, so the result keeps the order of
    both passes as ``path`` did (non-decreasing)."""
    choice: list[int] = []
    for i, j in enumerate(path):
        lo = choice[i - 1] if i > 0 else 0
        hi = path[i + 1] if i + 1 < len(path) else n_dark - 1
        cands = [c for c in range(j - neighbours, j + neighbours + 1) if lo <= c <= hi]
        choice.append(min(cands, key=lambda c, i=i: distance(i, c)) if cands else j)
    return choice


def _align_sweep(dark: list[_Frame], bright: list[_Frame], opts: Options) -> dict:
    from curate import registration

    corr = matching.correlation_matrix(_features(dark), _features(bright))
    per_step = max(1, round(len(dark) / max(1, len(bright))))
    m = matching.match_monotonic(corr, exclude=per_step, min_margin=opts.min_margin)
    blur = _motion_blur(dark, bright)
    shifts: dict[tuple[int, int], registration.Registration] = {}

    def register(key: tuple[int, int]) -> registration.Registration:
        i, j = key
        ref = _box_blur_x(bright[i].work, blur[j])
        return registration.register_images(dark[j].work, ref)

    # Pairs are independent, and registration runs compiled code and FFTs that release the
    # GIL: register them on the run's worker threads.
    with ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:

        def shift_all(keys: Sequence[tuple[int, int]]) -> None:
            todo = [k for k in dict.fromkeys(keys) if k not in shifts]
            shifts.update(zip(todo, pool.map(register, todo), strict=True))

        def at(i: int, j: int) -> tuple[float, float]:
            return shifts[i, j].dy, shifts[i, j].dx

        # Correlation picks the right stretch of the path; the nearest frame within it is
        # then chosen by the angles the controller reported, when every frame has one.
        # Without angles (footage shot by other means), the registered shift decides:
        # neighbouring dark frames differ by a fraction of a feature pixel, which correlation
        # barely sees below one photon per pixel, while the shift measures it directly; the
        # nearest frame is the one whose shift is closest to the offset common to all pairs
        # (the median).
        path = [int(j) for j in m.dark]
        have_angles = all(f.angle is not None for f in [*dark, *bright])
        if have_angles:
            choice = nearest_on_path(
                path, len(dark), opts.neighbours, lambda i, c: abs(dark[c].angle - bright[i].angle)
            )
        else:
            shift_all(
                [
                    (i, c)
                    for i, cands in enumerate(_candidates(path, len(dark), opts.neighbours))
                    for c in cands
                ]
            )
            offset = np.median(np.array([at(i, j) for i, j in enumerate(path)]), axis=0)
            choice = nearest_on_path(
                path,
                len(dark),
                opts.neighbours,
                lambda i, c: float(np.hypot(*np.subtract(at(i, c), offset))),
            )
        shift_all(list(enumerate(choice)))
    pairs = []
    for i, b in enumerate(bright):
        d = dark[choice[i]]
        reg = shifts[i, choice[i]]
        pairs.append(
            _pair(
                d,
                b,
                reg.dy * b.factor,
                reg.dx * b.factor,
                reg.correlation,
                corr[i, choice[i]],
                m.margin[i],
                m.ambiguous[i],
                opts,
            )
        )
    return {
        "pairs": pairs,
        "corr": corr,
        "path": [[i, j] for i, j in enumerate(choice)],
        "drift": None,
        "method": "monotonic-dp + nearest by angle or registration; motion-blurred reference",
    }


def _eight_bit_file(f: _Frame) -> bool:
    """Whether a frame is 8-bit sRGB by its file (a video's frame, an image), not raw."""
    suffix = f.path.suffix.lower()
    return f.video_frame is not None or suffix in VIDEO_SUFFIXES or suffix in IMAGE_SUFFIXES


def _modality(frames: Sequence[_Frame]) -> str:
    """What a pass holds, in words, for :func:`_check_modality`."""
    eight = [f for f in frames if _eight_bit_file(f)]
    kinds = []
    if eight:
        video = any(f.video_frame is not None or f.path.suffix.lower() in VIDEO_SUFFIXES
                    for f in eight)  # fmt: skip
        kinds.append(f"8-bit {'video' if video else 'images'} ({eight[0].path.name})")
    if len(eight) < len(frames):
        first = next(f for f in frames if not _eight_bit_file(f))
        kinds.append(f"raw files ({first.path.name})")
    return " and ".join(kinds)


def _check_modality(dark: Sequence[_Frame], bright: Sequence[_Frame]) -> None:
    """Refuse, in folder mode, raw frames in one pass against only 8-bit frames (a video,
    images) in the other.

    An 8-bit frame is the camera's rendering (its own gain and tone curve), and a video's
    files say nothing of its exposure: curated as folders, such a mix has no exposure ratio
    and nothing records what it is.  A session holds it (``capture import`` journals the
    video's exposure and a ``video_with_raw_references`` warning, which the release states),
    so the message says to import it.
    """
    eight_d = {_eight_bit_file(f) for f in dark}
    eight_b = {_eight_bit_file(f) for f in bright}
    if not eight_d or not eight_b or eight_d & eight_b:
        return
    raise BadInput(
        f"expected dark and bright frames of one kind in folder mode (raw files with raw "
        f"files, a video or images with 8-bit frames), found dark: {_modality(dark)}, bright: "
        f"{_modality(bright)}; give the bright frames of the same camera in the dark frames' "
        "kind, or import the footage as a session, which records the video's exposure and "
        "states the mix in the release: `capture import --session DIR --scene NAME --dark "
        "VIDEO --bright FOLDER --exposure T` (T: the video's shutter time, e.g. 1/30), then "
        "`curate align DIR`"
    )


def _input_hash(frames: Sequence[_Frame], extra: dict) -> str:
    h = hashlib.sha256(json.dumps(extra, sort_keys=True, default=str).encode())
    stats: dict[Path, str] = {}
    for f in frames:
        # the journal's sha256; for footage without a journal, size and modification time
        # (frames of one camera mode often share a size, so size alone misses a re-shoot)
        # A session frame's journal sha256 does not change when its file is replaced, so its
        # size and times count too: ctime moves on any write or rename and cannot be set back
        # (``cp -p`` keeps mtime), so a replaced frame is curated, and checked, again.
        # A video pass's frames share one file: stat it once, not once per frame.
        if f.path not in stats:
            try:
                st = f.path.stat()
                stats[f.path] = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
            except FileNotFoundError:
                stats[f.path] = "missing"
        stamp = f"{f.meta.get('sha256', '')}:{stats[f.path]}"
        h.update(f"{f.pass_}/{f.file}:{stamp}".encode())
    return h.hexdigest()


def _up_to_date(out: Path, digest: str) -> bool:
    if not (out / ALIGNMENT_FILE).exists():
        return False
    try:
        return read_alignment(out).source.get("input_sha256") == digest
    except CurateError:
        return False


def _run(
    dark: list[_Frame],
    bright: list[_Frame],
    out: Path,
    source: dict,
    opts: Options,
    kind: str,
    video: bool,
    progress: OnProgress | None,
    force: bool,
) -> Path:
    review = reviewmod.load(out)
    digest = _input_hash(
        [*dark, *bright],
        {"options": asdict(opts), "kind": kind, "review": review.fingerprint()},
    )
    if not force and _up_to_date(out, digest):
        log.info("%s is up to date", out / ALIGNMENT_FILE)
        return out / ALIGNMENT_FILE
    # start-up work (imports, numba's kernels) on a thread of its own, overlapping decoding
    with ThreadPoolExecutor(max_workers=1) as loader:
        preloaded = loader.submit(_preload)
        if video:  # ``dark`` is one entry standing for the file; its frames are decoded now
            dark = _video_frames(dark[0].path, "dark", opts)
            _decode([(bright, "decode bright")], opts, progress)
        else:
            _decode([(dark, "decode dark"), (bright, "decode bright")], opts, progress)
        preloaded.result()  # its error, if any, is raised here
    _check_consistent(dark, "dark")
    _check_consistent(bright, "bright")
    _classify(dark, "dark", opts, video)
    _classify(bright, "bright", opts, video=False)  # 8-bit frames are told by eight_bit
    _apply_review([*dark, *bright], review)
    kd = [f for f in dark if f.reason is None]
    kb = [f for f in bright if f.reason is None]
    if not kd or not kb:
        raise BadInput(
            f"expected kept dark and bright frames, found {len(kd)} dark and {len(kb)} bright "
            f"after dropping: {_drops_text([*dark, *bright])}"
        )
    if kd[0].shape != kb[0].shape:
        raise BadInput(
            f"expected dark and bright frames of one size, found {kd[0].file} "
            f"{kd[0].shape[1]}x{kd[0].shape[0]} and {kb[0].file} {kb[0].shape[1]}x"
            f"{kb[0].shape[0]}; pair frames of the same camera and format"
        )
    if progress:
        progress("align", 0, 1)
    result = (_align_static if kind == "static" else _align_sweep)(kd, kb, opts)
    restored = {f.file for f in kd if review.restored("dark", f.file)}
    if (
        kind == "static"
        and opts.motion_threshold is not None
        and _static_motion(kd, result, opts, restored)
    ):
        kd = [f for f in kd if f.reason is None]
        if not kd:
            raise BadInput(
                "expected dark frames without local motion, found every kept dark frame "
                "changed beyond noise (reason motion in the log); raise --motion-threshold "
                "or reshoot the burst"
            )
        result = _align_static(kd, kb, opts)  # the pairs and the mean without them
    elif kind == "sweep" and opts.motion_threshold is not None:
        _sweep_motion(kd, kb, result["pairs"], opts)
    for f, reason, detail in result.get("dropped_refs", []):
        f.reason, f.detail = reason, detail
    kb = result.get("bright", kb)
    pairs, rejected, floor = _reject(result["pairs"], opts)
    pairs, rejected = _restore_pairs(pairs, rejected, review)
    if progress:
        progress("align", 1, 1)
    med_d = float(np.median([f.stats.mean_dn for f in dark if f.stats]))
    med_b = float(np.median([f.stats.mean_dn for f in bright if f.stats]))
    warnings = []
    if any(p.exposure_ratio is None for p in pairs):
        warnings.append(
            "exposure time missing from the metadata: exposure_ratio is null; "
            "pass --ratio R to set it by hand"
        )
    changed = [f"{f.pass_}/{f.file}" for f in [*dark, *bright] if f.reason in _JOURNAL_REASONS]
    if changed:
        warnings.append(
            f"{len(changed)} frame(s) do not match their journal records (changed or missing "
            f"after capture) and were dropped: {', '.join(changed[:10])}"
            + (" ..." if len(changed) > 10 else "")
            + "; restore them from a backup to curate them"
        )
    moved = [f.file for f in bright if f.reason == "reference_moved"]
    if moved:
        warnings.append(
            f"reference(s) {', '.join(moved)} shot after the camera moved (shift to the burst "
            f"differs from the other references' by more than {opts.max_drift_px} px): dropped"
        )
    if result["drift"] and result["drift"]["max_px"] > opts.max_drift_px:
        warnings.append(
            f"the burst drifted {result['drift']['max_px']:.2f} px "
            f"(> {opts.max_drift_px}): the camera or the scene moved"
        )
    warnings.extend(reviewmod.warnings(review, [f"{f.pass_}/{f.file}" for f in [*dark, *bright]]))
    kept_anyway = [
        f"{f.pass_}/{f.file} ({f.reason})"
        for f in [*dark, *bright]
        if f.reason and f.reason != "review" and review.restored(f.pass_, f.file)
    ]
    if kept_anyway:
        warnings.append(
            f"{REVIEW_NOTE} asks to restore frame(s) curation cannot vouch for, which stay "
            f"dropped: {', '.join(kept_anyway[:10])}"
        )
    alignment = Alignment(
        source={**source, "input_sha256": digest},
        options=asdict(opts),
        method={
            "matching": result["method"],
            "registration": "coarse FFT correlation + Gauss-Newton on binned luminance",
            "features": f"binned luminance, block mean x{opts.feature_downsample}, ranks",
        },
        pairs=pairs,
        rejected=rejected,
        aligned_corr_floor=floor,
        references=result.get("references", []),
        dropped=[
            Drop(file=f.file, pass_=f.pass_, reason=f.reason, detail=f.detail, **f.drop)
            for f in [*dark, *bright]
            if f.reason
        ],
        frame_entries={
            "dark": [_frame_entry(f, med_d) for f in dark],
            "bright": [_frame_entry(f, med_b) for f in bright],
        },
        drift=result["drift"],
        correlation_index=CorrelationIndex(
            dark=[f.file for f in kd],
            bright=[f.file for f in kb],
            path=result["path"],
        ),
        warnings=warnings,
        review=review.summary(),
    )
    return write_alignment(out, alignment, result["corr"])


def align_session(
    session: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    options: Options | None = None,
    allow_incomplete: bool = False,
    force: bool = False,
    progress: OnProgress | None = None,
) -> Path:
    """Curate a captured session; returns the path of the ``alignment.json`` written."""
    opts = options or Options()
    try:
        s = open_session(session)
    except CaptureError as exc:
        raise BadInput(str(exc)) from None
    if not s.is_complete and not allow_incomplete:
        last = s.last_stop
        found = f"last stop {last.exit_status!r} ({last.reason})" if last else ("no stop record")
        missing = sum(len(s.remaining(p)) for p in s.plan["passes"])
        if missing:
            found += f", {missing} planned frame(s) not journalled"
        # a damaged journal line hides its record: resume refuses until it is repaired
        fix = f"finish it with `capture resume {session}`"
        if s.damaged:
            lines = ", ".join(str(d.line) for d in s.damaged)
            found += f", damaged journal line(s) {lines}"
            fix = f"run `capture repair {session}`, then `capture resume {session}`"
        raise BadInput(
            f"expected a finished session at {session} (a 'success' stop record and every "
            f"planned frame), found {found}; {fix}, or "
            "pass --allow-incomplete to curate what is there"
        )
    frames = {}
    for p in ("dark", "bright"):
        frames[p] = [
            _Frame(
                file=r.name,
                path=s.frame_path(r),
                video_frame=r.video_frame,
                pass_=p,
                t=r.t_start,
                angle=r.angle,
                # a continuous pass's frames move, but those it journals as shot with the
                # turntable standing still (its first, and any after the table stopped)
                moving=(s.plan.get("passes", {}).get(p, {}).get("mode") == "continuous")
                and not r.turntable_stopped,
                meta={"sha256": r.sha256}
                | ({"exposure_s": r.shutter_s, "iso": r.iso} if r.video_frame is not None else {}),
                read=functools.partial(s.read_frame, r),
            )
            for r in s.frames(p)
        ]
    if not frames["bright"]:
        raise BadInput(
            f"expected bright frames (long-exposure references) in {session}, found none; "
            f"add them with `capture reference --session {session}`"
        )
    if not frames["dark"]:
        raise BadInput(f"expected dark frames in {session}, found none; shoot `capture burst`")
    source = {
        "kind": "session",
        "session": str(Path(session).resolve()),
        "session_id": s.session_id,
        "scene": s.scene,
        "session_kind": s.kind,
        "dark": "dark",
        "bright": "bright",
    }
    return _run(
        frames["dark"],
        frames["bright"],
        result_dir(session, out),
        source,
        opts,
        s.kind,
        False,
        progress,
        force,
    )


def _list_folder(folder: Path, pass_: str) -> list[_Frame]:
    if not folder.is_dir():
        raise BadInput(f"expected a folder of {pass_} frames at {folder}, found none")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise BadInput(f"expected {pass_} frames in {folder}, found an empty folder")
    return [_Frame(file=p.name, path=p, pass_=pass_, t=float(i)) for i, p in enumerate(files)]


def align_folders(
    dark: str | os.PathLike,
    bright: str | os.PathLike,
    *,
    out: str | os.PathLike,
    kind: str = "sweep",
    options: Options | None = None,
    force: bool = False,
    progress: OnProgress | None = None,
) -> Path:
    """Curate footage shot by other means: frames in file-name order, or a dark video."""
    opts = options or Options()
    dark, bright = Path(dark), Path(bright)
    video = dark.is_file() and dark.suffix.lower() in VIDEO_SUFFIXES
    if kind not in ("static", "sweep"):
        raise BadInput(f"expected --kind static or sweep, found {kind!r}")
    # a video stands as one entry until the up-to-date check has passed (its size and time
    # in the input hash): decoding it only to find nothing changed would waste a full pass
    dark_frames = [_Frame(file=dark.name, path=dark, pass_="dark")] if video else None
    dark_frames = dark_frames or _list_folder(dark, "dark")
    bright_frames = _list_folder(bright, "bright")
    _check_modality(dark_frames, bright_frames)
    source = {
        "kind": "folders",
        "session": None,
        "session_id": None,
        "scene": None,
        "session_kind": kind,
        "dark": str(dark.resolve()),
        "bright": str(bright.resolve()),
    }
    return _run(dark_frames, bright_frames, Path(out), source, opts, kind, video, progress, force)
