"""Capture: tethered RAW bursts and turntable sweeps into resumable sessions."""

from sublux_common import __version__

__all__ = ["__version__"]
