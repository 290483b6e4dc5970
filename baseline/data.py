"""Training and evaluation data from a release, through :mod:`dataset_card.reader` only.

SID samples: a short frame packed to four channels at half resolution (black subtracted,
scaled to [0, 1], times the exposure ratio, clipped) with the matching crop of its reference's
ground truth at full resolution (``gt="pair"``: the frame's reference; ``"mean"``: the mean of
the session's references where the release has one).  SMID samples: two short frames of one
sequence (frames that share a reference), each binned to raw RGB at half resolution and
gained, with the ground truth averaged to half resolution.  Random crops at even sensor
offsets (the CFA phase stays), random flips and transposes applied identically to input and
target.

The HDF5 files are opened lazily by the reader in whichever process reads them, so the datasets
are safe in DataLoader worker processes; randomness comes from torch's per-worker generator.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from baseline.errors import BadRequest
from dataset_card.errors import UnknownSplit
from dataset_card.reader import (
    SplitReader,
    half_size,
    network_input,
    open_release,
)

#: The ground truths a model can be trained and scored against (see
#: :meth:`dataset_card.reader.SessionData.ground_truth`): ``pair``, the rendering of the
#: reference a frame is paired with (DRV's protocol, in every release); ``mean``, the rendering
#: of the mean of a static session's references where it has more than one (SIDD's way).
GROUND_TRUTHS = ("pair", "mean")

__all__ = [
    "GROUND_TRUTHS",
    "SIDPairs",
    "SMIDPairs",
    "frame_input",
    "half_gt",
    "sequences",
    "split_reader",
]


def split_reader(release: str | os.PathLike, split: str) -> SplitReader:
    rel = open_release(release)
    if split not in rel.splits:
        raise UnknownSplit(
            f"expected a {split} split in {release}, found {', '.join(rel.splits) or 'none'}"
        )
    return rel.split(split)


def frame_input(mosaic: np.ndarray, attrs: dict, ratio: float, *, model: str) -> np.ndarray:
    """The network input for a mosaic: packed (SID) or binned raw RGB (SMID), gained, clipped."""
    return network_input(mosaic, attrs, ratio, layout="packed" if model == "sid" else "rgb")


def half_gt(gt: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint16 ground truth to (3, H/2, W/2) float in [0, 1] by 2x2 averaging."""
    return np.moveaxis(half_size(gt) / 65535.0, -1, 0)


def _augment(arrays: Sequence[np.ndarray], flips: torch.Tensor) -> list[np.ndarray]:
    out = list(arrays)
    if flips[0]:
        out = [a[..., ::-1] for a in out]
    if flips[1]:
        out = [a[..., ::-1, :] for a in out]
    if flips[2]:
        out = [np.swapaxes(a, -1, -2) for a in out]
    return [np.ascontiguousarray(a) for a in out]


class _Pairs(Dataset):
    """One item per sequence (a reference and its short frames) of a split."""

    def __init__(
        self,
        release: str | os.PathLike,
        split: str,
        *,
        crop: int = 512,
        augment: bool = True,
        gt: str = "pair",
    ):
        if gt not in GROUND_TRUTHS:
            raise BadRequest(f"expected --gt {' or '.join(GROUND_TRUTHS)}, found {gt!r}")
        self.gt = gt
        self.crop = int(crop)
        self.augment = augment
        self.reader = split_reader(release, split)
        self.items = sequences(self.reader)
        if not self.items:
            raise BadRequest(
                f"expected paired frames in the {split} split of {release}, found none; the "
                "trainer needs short frames with references"
            )

    def __len__(self) -> int:
        return len(self.items)

    def _window(self, h: int, w: int) -> tuple[int, int, int, int]:
        """A random crop of ``crop`` packed pixels (2 x crop sensor pixels) at even offsets."""
        side_y = min(2 * self.crop, h // 2 * 2)
        side_x = min(2 * self.crop, w // 2 * 2)
        y = 2 * int(torch.randint(0, (h - side_y) // 2 + 1, ()).item())
        x = 2 * int(torch.randint(0, (w - side_x) // 2 + 1, ()).item())
        return y, x, side_y, side_x


def sequences(reader) -> list[tuple[str, int, list[int]]]:
    """(session, reference, its short frames) for every reference of every raw session (the
    baseline's input is a Bayer mosaic: video sessions, 8-bit sRGB, are left out)."""
    return [
        (sid, k, idx)
        for sid in reader.sessions()
        if reader.session(sid).short is not None
        for k, idx in reader.session(sid).sequences()
    ]


def _pick(frames: list[int]) -> int:
    return frames[int(torch.randint(0, len(frames), ()).item())]


class SIDPairs(_Pairs):
    """(packed input, full-resolution ground truth): one item per sequence, a random frame of it.

    As in SID's and SMID's own loaders, an epoch visits every sequence (a reference and its
    short frames) once, drawing one of its frames, so its length does not grow with the burst.
    """

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        sid, _k, frames = self.items[index]
        i = _pick(frames)
        sd = self.reader.session(sid)
        _, h, w = sd.short.shape
        y, x, sy, sx = self._window(h, w)
        mosaic = sd.short[i, y : y + sy, x : x + sx]
        gt = sd.ground_truth(i, self.gt, (slice(y, y + sy), slice(x, x + sx)))
        inp = frame_input(mosaic, sd.attrs, sd.short_frames["exposure_ratio"][i], model="sid")
        tgt = np.moveaxis(gt.astype(np.float32) / 65535.0, -1, 0)
        if self.augment:
            inp, tgt = _augment([inp, tgt], torch.randint(0, 2, (3,)))
        return torch.from_numpy(inp), torch.from_numpy(tgt)


class SMIDPairs(_Pairs):
    """Two different frames of one sequence (binned raw RGB) and the half-resolution GT."""

    def __getitem__(self, index: int):
        sid, _k, frames = self.items[index]
        i = _pick(frames)
        others = [j for j in frames if j != i] or [i]
        j = _pick(others)
        sd = self.reader.session(sid)
        _, h, w = sd.short.shape
        y, x, sy, sx = self._window(h, w)
        ratio = sd.short_frames["exposure_ratio"]
        a = frame_input(sd.short[i, y : y + sy, x : x + sx], sd.attrs, ratio[i], model="smid")
        b = frame_input(sd.short[j, y : y + sy, x : x + sx], sd.attrs, ratio[j], model="smid")
        gt = half_gt(sd.ground_truth(i, self.gt, (slice(y, y + sy), slice(x, x + sx))))
        if self.augment:
            a, b, gt = _augment([a, b, gt], torch.randint(0, 2, (3,)))
        return torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(gt)
