"""Export a release for existing loaders: SMID's folder layout, and aligned patch pairs.

SMID (Chen et al., "Seeing Motion in the Dark", github cchen156/Seeing-Motion-in-the-Dark)
reads, for each sequence id listed in ``train_list.txt``/``val_list.txt``/``test_list.txt``:

- ``long/<id>/half0001*.png``: the ground truth, 16-bit, BGR (OpenCV order), at half
  resolution; here the release's ``gt_srgb`` averaged over 2x2 blocks;
- ``VBM4D_rawRGB/<id>/*.png``: the input frames, 16-bit BGR, the Bayer mosaic binned 2x2 to raw
  RGB (greens averaged), black subtracted, scaled to [0, 1], times the exposure ratio, clipped.
  DRV's own frames were also denoised with VBM4D; these are not (the folder keeps the name
  SMID's loader looks for, and ``EXPORT.md`` says so).

A static sequence is the short frames paired with one reference: a static session is one
sequence named by its session id (``<session>-r<k>`` per reference when it has several).  A
sweep, and a session without references, is one of SMID's dynamic sequences: every short frame
in capture order, without ground truth, listed in ``<split>_dynamic_list.txt`` (sweeps) or
``dynamic_list.txt``.  Sequences with fewer than two frames are skipped (SMID draws two frames
of a sequence per step); those with fewer than :data:`SMID_MIN_FRAMES` are written with a
warning, since SMID's test scripts skip them.  An export that would write nothing fails before
creating anything.

Patches (the HKUST turntable project's training format): for every paired short frame, the
short mosaic and its reference cut into aligned, non-overlapping ``size`` x ``size`` tiles at
even offsets, as 16-bit PNGs, with ``patches.csv`` giving the residual sub-pixel shift.  A
video session's patches (issue 14) are cut from its 8-bit sRGB frames (``short_srgb``,
``long_srgb``) as 8-bit RGB PNGs (a dark video's raw references: their 16-bit renderings,
``gt_srgb``); ``patches.csv``'s ``modality`` says which.  SMID's input is
raw, so the SMID export skips video sessions and says so in ``EXPORT.md``.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dataset_card.errors import BadRelease, DatasetError
from dataset_card.reader import half_size, network_input, open_release, usable_ratio
from dataset_card.splits import DYNAMIC
from dataset_card.templating import count
from sublux_common.fsio import atomic_write, atomic_write_bytes
from sublux_common.progress import OnProgress

__all__ = ["SMID_MIN_FRAMES", "ExportSummary", "export_patches", "export_smid"]


def _png8(path: Path, rgb: np.ndarray) -> None:
    """An 8-bit RGB frame (a video session's) as an 8-bit PNG (BGR on disk, OpenCV's order)."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise BadRelease(f"expected to encode {path.name} as PNG, OpenCV refused")
    atomic_write_bytes(path, buf.tobytes())


def _png16(path: Path, rgb_or_grey: np.ndarray) -> None:
    img = rgb_or_grey
    if img.ndim == 3:
        img = img[..., ::-1]  # OpenCV writes BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(img))
    if not ok:
        raise BadRelease(f"could not encode {path} as PNG")
    atomic_write_bytes(path, buf.tobytes())


def _new_dir(dest: Path) -> None:
    if dest.exists():
        raise BadRelease(f"{dest} already exists; export into a new folder")
    dest.mkdir(parents=True)


#: SMID's test scripts skip sequences with fewer frames than this.
SMID_MIN_FRAMES = 8


@dataclass
class ExportSummary:
    """What an export wrote and skipped, for the CLI to print and ``EXPORT.md`` to keep."""

    dest: Path
    written: dict[str, list[str]] = field(default_factory=dict)  # list name -> items
    #: frames written (SMID), or short frames cut into patches (patches)
    frames: int = 0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: dark/bright patch pairs written (patches; 0 for SMID)
    patches: int = 0

    def lines(self) -> list[str]:
        """One line per list written, the total, then one per skip and per warning."""
        out = []
        for name, items in self.written.items():
            n = len(items)
            if name.endswith("patches"):
                out.append(f"{name}: {count(n, 'dark/bright pair')}")
            else:
                out.append(f"{name}: {count(n, 'sequence')}")
        if self.patches:
            out.append(
                f"patches written: {self.patches} dark/bright pairs, cut from "
                f"{count(self.frames, 'short frame')}"
            )
        else:
            out.append(f"frames written: {self.frames}")
        out += [f"skipped: {s}" for s in self.skipped]
        out += [f"warning: {w}" for w in self.warnings]
        return out


def _static_sequences(sd) -> list[tuple[str, int, list[int]]]:
    """SMID's static sequences of a static session: the frames paired with each reference,
    named by the session id (with the reference index when there are several)."""
    seqs = sd.sequences()
    return [
        (sd.session_id if len(seqs) == 1 else f"{sd.session_id}-r{k:02d}", k, idx)
        for k, idx in seqs
    ]


def _ratio(sd, i: int) -> float:
    """A frame's exposure ratio; a sweep frame without a pair takes the session's."""
    r = float(sd.short_frames["exposure_ratio"][i])
    if np.isfinite(r) and r > 0:
        return r
    return usable_ratio(sd.attrs.get("exposure_ratio", float("nan")))


def _write_frames(dest: Path, name: str, sd, idx: list[int]) -> None:
    (dest / "VBM4D_rawRGB" / name).mkdir(parents=True)
    a = sd.attrs
    for n, i in enumerate(idx):
        rgb = network_input(np.asarray(sd.short[i]), a, _ratio(sd, i), layout="rgb")
        _png16(
            dest / "VBM4D_rawRGB" / name / f"{n:04d}.png",
            np.round(np.moveaxis(rgb, 0, -1) * 65535).astype(np.uint16),
        )


def _smid_plan(rel) -> tuple[dict[str, list[tuple]], list[str]]:
    """Every sequence the export will write, by list file, and the sessions it skips."""
    plan: dict[str, list[tuple]] = {}
    skipped: list[str] = []
    for split in ("train", "val", "test", DYNAMIC):
        if split not in rel.splits:
            continue
        with rel.split(split) as reader:
            for sid in reader.sessions():
                sd = reader.session(sid)
                if sd.short is None:  # issue 14: a video session (8-bit sRGB, no raw input)
                    skipped.append(f"{sid} (a video session: SMID's input is raw)")
                elif sd.kind == "static":
                    for name, k, idx in _static_sequences(sd):
                        plan.setdefault(f"{split}_list.txt", []).append(
                            ("static", split, sid, name, k, idx)
                        )
                else:  # a sweep or a session without references: SMID's dynamic videos
                    idx = list(range(len(sd.short)))
                    key = "dynamic_list.txt" if split == DYNAMIC else f"{split}_dynamic_list.txt"
                    plan.setdefault(key, []).append(("dynamic", split, sid, sid, -1, idx))
    return plan, skipped


def export_smid(
    release: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    progress: OnProgress | None = None,
) -> ExportSummary:
    """Write SMID-compatible folders: static sessions as static sequences with their ground
    truth, sweeps and sessions without references as dynamic sequences (frames only).

    ``progress(step, done, total)`` is called after each sequence with the frames written so
    far (step ``"frames"``; ``(step, 0, total)`` before the first).

    Returns
    -------
    ExportSummary
        Sequences written per list file, frames written, sequences skipped (fewer than two
        frames) and warnings (sequences SMID's test scripts skip: fewer than
        :data:`SMID_MIN_FRAMES` frames; dynamic frames without an exposure ratio).

    Raises
    ------
    DatasetError
        When nothing would be written (no session has a sequence of two frames or more);
        nothing is created.
    """
    rel = open_release(release)
    dest = Path(dest)
    plan, skipped = _smid_plan(rel)
    summary = ExportSummary(dest)
    summary.skipped.extend(skipped)
    keep: dict[str, list[tuple]] = {}
    for key, seqs in plan.items():
        for seq in seqs:
            kind, _, _, name, _, idx = seq
            if len(idx) < 2:
                summary.skipped.append(
                    f"{name} ({kind}, {len(idx)} frame; SMID draws two frames per sequence)"
                )
                continue
            if len(idx) < SMID_MIN_FRAMES:
                summary.warnings.append(
                    f"{name} has {len(idx)} frames; SMID's test scripts skip sequences of "
                    f"fewer than {SMID_MIN_FRAMES}"
                )
            keep.setdefault(key, []).append(seq)
    if not keep:
        why = "; ".join(summary.skipped) or "the release has no train, val, test or dynamic split"
        raise DatasetError(
            f"nothing to export from {release}: no sequence has two frames or more ({why}); "
            f"{dest} was not created"
        )
    _new_dir(dest)
    for split in ("train", "val", "test"):  # SMID's loaders open every split list
        keep.setdefault(f"{split}_list.txt", [])
    total = sum(len(seq[-1]) for seqs in keep.values() for seq in seqs)
    if progress:
        progress("frames", 0, total)
    for key, seqs in keep.items():
        names = []
        for kind, split, sid, name, k, idx in seqs:
            with rel.split(split) as reader:
                sd = reader.session(sid)
                if kind == "static":
                    half = half_size(sd.gt_srgb[k])
                    (dest / "long" / name).mkdir(parents=True)
                    _png16(
                        dest / "long" / name / "half0001_00.png",
                        np.clip(half + 0.5, 0, 65535).astype(np.uint16),
                    )
                elif not np.isfinite(float(sd.attrs.get("exposure_ratio", float("nan")))):
                    summary.warnings.append(
                        f"{name}: no exposure ratio recorded (no references); its frames are "
                        "exported with gain 1"
                    )
                _write_frames(dest, name, sd, idx)
            summary.frames += len(idx)
            names.append(name)
            if progress:
                progress("frames", summary.frames, total)
        atomic_write_bytes(dest / key, "".join(f"{n}\n" for n in names).encode())
        summary.written[key] = names
    with atomic_write(dest / "EXPORT.md", "w") as fh:
        fh.write(
            f"# SMID export of {rel.name} {rel.version}\n\n"
            "Input frames are 2x2-binned raw RGB with the exposure-ratio gain, clipped to [0, 1],"
            " stored as 16-bit BGR PNG. They are NOT VBM4D-denoised, unlike DRV's release; the "
            "folder is named VBM4D_rawRGB because that is where SMID's loader looks.\n\n"
            "Static sessions are static sequences (`<split>_list.txt`, ground truth in "
            "`long/<id>/half0001_00.png`). Sweeps (`<split>_dynamic_list.txt`) and sessions "
            "without references (`dynamic_list.txt`) are dynamic sequences: every short frame "
            "in capture order, no ground truth.\n\n"
            + "".join(f"- {line}\n" for line in summary.lines())
        )
    return summary


def _patch_plan(rel) -> tuple[list[str], int | None]:
    """The splits with pairs, and the smallest frame side among their sessions."""
    splits, side = [], None
    for split in ("train", "val", "test"):
        if split not in rel.splits:
            continue
        with rel.split(split) as reader:
            for sid in reader.sessions():
                sd = reader.session(sid)
                if not sd.pairs():
                    continue
                frames = sd.short if sd.short is not None else sd.short_srgb  # raw or video
                h, w = frames.shape[1:3]
                side = min(h, w) if side is None else min(side, h, w)
                if split not in splits:
                    splits.append(split)
    return splits, side


def _short_frames(rel, splits: list[str]) -> int:
    """How many short frames of ``splits`` belong to a sequence (those cut into patches)."""
    total = 0
    for split in splits:
        with rel.split(split) as reader:
            for sid in reader.sessions():
                total += sum(len(idx) for _, idx in reader.session(sid).sequences())
    return total


def export_patches(
    release: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    size: int = 512,
    progress: OnProgress | None = None,
) -> ExportSummary:
    """Write aligned dark/bright patch pairs, per split, with ``patches.csv``.

    ``progress(step, done, total)`` is called after each short frame is cut (step
    ``"frames"``, counting the frames of every split; ``(step, 0, total)`` before the first).

    Raises
    ------
    BadRelease
        An odd ``size``, one below 16, or one larger than the frames (the message names the
        largest size that fits); nothing is created.
    DatasetError
        When the release has no pair to cut patches from; nothing is created.
    """
    if size < 16 or size % 2:
        raise BadRelease(f"expected an even --size of at least 16, found {size}")
    rel = open_release(release)
    dest = Path(dest)
    splits, side = _patch_plan(rel)
    if side is None:
        raise DatasetError(
            f"nothing to export from {release}: no train, val or test session has a pair "
            f"(short frame with a reference); {dest} was not created"
        )
    if size > side:
        fits = side // 2 * 2
        raise BadRelease(
            f"expected --size at most {fits} (the smallest frames of the release are {side} "
            f"pixels on their short side), found {size}; no patch would fit. Try --size {fits}"
        )
    total = _short_frames(rel, splits) if progress else 0
    _new_dir(dest)
    summary = ExportSummary(dest)
    cut = 0
    if progress:
        progress("frames", 0, total)
    for split in splits:
        reader = rel.split(split)
        base = dest / split
        (base / "dark").mkdir(parents=True)
        (base / "bright").mkdir(parents=True)
        rows = []
        for sid in reader.sessions():
            sd = reader.session(sid)
            frames = sd.short_frames
            # issue 14: a video session's patches are its 8-bit sRGB frames
            video = sd.short is None
            shorts, longs = (sd.short_srgb, sd.long_srgb) if video else (sd.short, sd.long)
            write = write_long = _png8 if video else _png16
            if video and longs is None:  # a dark video's raw references: their renderings
                longs, write_long = sd.gt_srgb, _png16
            h, w = shorts.shape[1:3]
            for k, idx in sd.sequences():
                long = np.asarray(longs[k])  # once per reference, not per short frame
                for i in idx:
                    short = np.asarray(shorts[i])
                    for y in range(0, h - size + 1, size):
                        for x in range(0, w - size + 1, size):
                            name = f"{sid}_{i:04d}_{y:05d}_{x:05d}.png"
                            write(base / "dark" / name, short[y : y + size, x : x + size])
                            write_long(base / "bright" / name, long[y : y + size, x : x + size])
                            rows.append(
                                {
                                    "patch": name,
                                    "session_id": sid,
                                    "short_index": i,
                                    "ref_index": int(k),
                                    "y": y,
                                    "x": x,
                                    "dy": float(frames["dy"][i]),
                                    "dx": float(frames["dx"][i]),
                                    "exposure_ratio": float(frames["exposure_ratio"][i]),
                                    "modality": "video" if video else "raw",
                                }
                            )
                    cut += 1
                    if progress:
                        progress("frames", cut, total)
        with atomic_write(base / "patches.csv", "w") as fh:
            wr = csv.DictWriter(
                fh,
                fieldnames=[
                    "patch",
                    "session_id",
                    "short_index",
                    "ref_index",
                    "y",
                    "x",
                    "dy",
                    "dx",
                    "exposure_ratio",
                    "modality",
                ],
                lineterminator="\n",
            )
            wr.writeheader()
            wr.writerows(rows)
        reader.close()
        summary.written[f"{split} patches"] = [r["patch"] for r in rows]
        summary.patches += len(rows)
    summary.frames = cut
    return summary
