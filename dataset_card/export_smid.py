"""Export a release for existing loaders: SMID's folder layout, and aligned patch pairs.

SMID (Chen et al., "Seeing Motion in the Dark", github cchen156/Seeing-Motion-in-the-Dark)
reads, for each sequence id listed in ``train_list.txt``/``val_list.txt``/``test_list.txt``:

- ``long/<id>/half0001*.png``: the ground truth, 16-bit, BGR (OpenCV order), at half
  resolution; here the release's ``gt_srgb`` averaged over 2x2 blocks;
- ``VBM4D_rawRGB/<id>/*.png``: the input frames, 16-bit BGR, the Bayer mosaic binned 2x2 to raw
  RGB (greens averaged), black subtracted, scaled to [0, 1], times the exposure ratio, clipped.
  DRV's own frames were also denoised with VBM4D; these are not (the folder keeps the name
  SMID's loader looks for, and ``EXPORT.md`` says so).

A sequence is the short frames paired with one reference: a static session is one sequence
named by its session id; a sweep gives one per reference (``<session>-r<k>``).  Sequences with
fewer than two frames are skipped (SMID draws two frames of a sequence per step).

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
from pathlib import Path

import cv2
import numpy as np

from capture.fsio import atomic_write, atomic_write_bytes
from dataset_card.errors import BadRelease
from dataset_card.reader import half_size, network_input, open_release

__all__ = ["export_patches", "export_smid"]


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


def _sequences(sd) -> list[tuple[str, int, list[int]]]:
    """SMID's sequence names: the session id, with the reference index when there are several."""
    seqs = sd.sequences()
    return [
        (sd.session_id if len(seqs) == 1 else f"{sd.session_id}-r{k:02d}", k, idx)
        for k, idx in seqs
    ]


def export_smid(release: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Write SMID-compatible folders for every split with references."""
    rel = open_release(release)
    dest = Path(dest)
    _new_dir(dest)
    skipped: list[str] = []
    for split in ("train", "val", "test"):
        if split not in rel.splits:
            (dest / f"{split}_list.txt").write_text("")
            continue
        reader = rel.split(split)
        ids: list[str] = []
        for sid in reader.sessions():
            sd = reader.session(sid)
            a = sd.attrs
            if sd.short is None:  # issue 14: a video session (8-bit sRGB, no raw input)
                skipped.append(f"{sid} (a video session: SMID's input is raw)")
                continue
            for name, k, idx in _sequences(sd):
                if len(idx) < 2:
                    skipped.append(f"{name} ({len(idx)} frame)")
                    continue
                half = half_size(sd.gt_srgb[k])
                (dest / "long" / name).mkdir(parents=True)
                _png16(
                    dest / "long" / name / "half0001_00.png",
                    np.clip(half + 0.5, 0, 65535).astype(np.uint16),
                )
                (dest / "VBM4D_rawRGB" / name).mkdir(parents=True)
                for n, i in enumerate(idx):
                    rgb = network_input(
                        np.asarray(sd.short[i]),
                        a,
                        sd.short_frames["exposure_ratio"][i],
                        layout="rgb",
                    )
                    img = np.moveaxis(rgb, 0, -1)
                    _png16(
                        dest / "VBM4D_rawRGB" / name / f"{n:04d}.png",
                        np.round(img * 65535).astype(np.uint16),
                    )
                ids.append(name)
        (dest / f"{split}_list.txt").write_text("".join(f"{i}\n" for i in ids))
        reader.close()
    with atomic_write(dest / "EXPORT.md", "w") as fh:
        fh.write(
            f"# SMID export of {rel.name} {rel.version}\n\n"
            "Input frames are 2x2-binned raw RGB with the exposure-ratio gain, clipped to [0, 1],"
            " stored as 16-bit BGR PNG. They are NOT VBM4D-denoised, unlike DRV's release; the "
            "folder is named VBM4D_rawRGB because that is where SMID's loader looks.\n\n"
            f"Skipped (sequences of fewer than two frames, video sessions): "
            f"{', '.join(skipped) or 'none'}\n"
        )
    return dest


def export_patches(release: str | os.PathLike, dest: str | os.PathLike, *, size: int = 512) -> Path:
    """Write aligned dark/bright patch pairs, per split, with ``patches.csv``."""
    if size < 16 or size % 2:
        raise BadRelease(f"expected an even --size of at least 16, found {size}")
    rel = open_release(release)
    dest = Path(dest)
    _new_dir(dest)
    for split in ("train", "val", "test"):
        if split not in rel.splits:
            continue
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
    return dest
