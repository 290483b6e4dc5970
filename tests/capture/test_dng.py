"""capture.dng.encode_dng, byte for byte: a fixed seeded mosaic encodes to the same file as the
encoder did before it was split into phases (sha256 pinned, computed on that code with the
installed tifffile, 2026.3.3).  A change of tifffile's layout would show here too."""

from __future__ import annotations

import hashlib
import time
from fractions import Fraction

import numpy as np
import pytest

from capture.dng import encode_dng
from capture.errors import SettingError


@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC (DateTimeOriginal and OffsetTimeOriginal depend on it)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _mosaic() -> np.ndarray:
    return np.random.default_rng(13).integers(800, 16300, size=(8, 12), dtype=np.uint16)


def _encode(**kw) -> bytes:
    return encode_dng(
        _mosaic(),
        make="Sony",
        model="DSC-RX100M6",
        iso=2000,
        exposure_s=Fraction(1, 30),
        f_number=2.8,
        taken=1_790_000_000.25,
        neutral=(0.5, 1.0, 0.7),
        **kw,
    )


@pytest.mark.parametrize(
    ("kw", "size", "sha256"),
    [
        (
            {"serial": "SN123", "black_level": 800},
            936,
            "11bafc2355fe2f1de0e5c71cc201d16a49efc5c2f758b1c59a9c5339c53bff4f",
        ),
        (
            {"serial": None, "black_level": (800, 801, 802, 803), "cfa": "gbrg"},
            917,
            "b91c516ca17d5c34c11ebb1cbe90fd85e1ca4c53e4a82f089d4f7490e1b634e2",
        ),
    ],
)
def test_a_fixed_mosaic_encodes_to_the_same_bytes(utc, kw, size, sha256):
    data = _encode(**kw)
    assert len(data) == size
    assert hashlib.sha256(data).hexdigest() == sha256


def test_the_exif_ifd_is_linked_from_ifd0(utc):
    data = _encode(serial="SN123")
    assert data[:4] == b"II*\0"
    ifd0 = int.from_bytes(data[4:8], "little")
    count = int.from_bytes(data[ifd0 : ifd0 + 2], "little")
    tags = {}
    for i in range(count):
        entry = data[ifd0 + 2 + 12 * i : ifd0 + 14 + 12 * i]
        tags[int.from_bytes(entry[:2], "little")] = int.from_bytes(entry[8:12], "little")
    assert 34664 not in tags  # the placeholder was renamed
    exif = tags[34665]
    assert exif % 2 == 0 and exif < len(data)
    assert b"2026:09:21 14:13:20\0" in data[exif:]  # DateTimeOriginal, UTC
    assert b"+00:00\0" in data[exif:] and b"SN123\0" in data[exif:]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"raw": np.zeros((3, 4), np.uint16)}, "even-sized 2-D uint16"),
        ({"neutral": (1.0, 1.0)}, "3 neutral values"),
        ({"cfa": "RGBG"}, "Bayer tile"),
        ({"neutral": (0.0, 1.0, 1.0)}, "positive neutral"),
        ({"black_level": (1, 2, 3)}, "one black level or four"),
    ],
)
def test_malformed_inputs_are_setting_errors(change, message):
    kw = {
        "raw": _mosaic(),
        "make": "Sony",
        "model": "M",
        "serial": None,
        "iso": 100,
        "exposure_s": 1.0,
        "f_number": 4.0,
        "taken": 0.0,
        "neutral": (0.5, 1.0, 0.7),
        **change,
    }
    with pytest.raises(SettingError, match=message):
        encode_dng(**kw)
