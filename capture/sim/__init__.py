"""Simulators: a low-light camera and a GRBL controller on a pseudo-terminal."""
