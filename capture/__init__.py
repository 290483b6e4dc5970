"""Capture: tethered RAW bursts and turntable sweeps into resumable sessions."""

__version__ = "0.1.0"
