"""Shared fixtures for the capture tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_salt(monkeypatch, tmp_path_factory):
    """Keep the serial-number salt out of the user's home during tests."""
    monkeypatch.setenv("SUBLUX_SALT", "sublux-tests")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
