"""Curate: turn captured sessions into aligned dark/bright pairs.

The algorithms are plain functions over numpy arrays (no file I/O, no printing):

- :mod:`curate.bayer`: validate mosaics, bin them to luminance, pack them SID-style.
- :mod:`curate.intensity`: per-frame brightness statistics and drop rules.
- :mod:`curate.matching`: correlation features, the score matrix, and the matchers.
- :mod:`curate.registration`: sub-pixel translation between dark frames and references.

The public names are importable from here, but each submodule is imported only when one of
its names is first used, so ``import curate`` stays light (numba's compiled kernels load with
registration).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "BadInput": "errors",
    "CurateError": "errors",
    "CFA_PATTERNS": "bayer",
    "bin_luminance": "bayer",
    "block_mean": "bayer",
    "pack_rggb": "bayer",
    "FrameStats": "intensity",
    "classify": "intensity",
    "frame_stats": "intensity",
    "video_frame_stats": "intensity",
    "Matches": "matching",
    "correlation_matrix": "matching",
    "features": "matching",
    "match_independent": "matching",
    "match_monotonic": "matching",
    "Drift": "registration",
    "Registration": "registration",
    "aligned_correlation": "registration",
    "aligned_correlations": "registration",
    "drift": "registration",
    "estimate_shift": "registration",
    "mean_frame": "registration",
    "register_images": "registration",
    "register_many": "registration",
    "register_pair": "registration",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(importlib.import_module(f"curate.{_HOMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'curate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
