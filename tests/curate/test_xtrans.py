"""A Fujifilm X-Trans raw (a 6x6 colour pattern) is named and refused, not decoded as Bayer.

The file is a real CFA DNG written here with tifffile (CFARepeatPatternDim 6x6 and X-Trans's
CFAPattern), which LibRaw reads as a flat raw with a 6x6 pattern, as it reads a Fujifilm DNG.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import rawpy
import tifffile

from curate.errors import UnreadableRaw
from curate.raw import open_raw, read_raw

#: X-Trans's 6x6 layout (0 red, 1 green, 2 blue), as Fujifilm's X-T cameras have it.
XTRANS = np.array(
    [
        [1, 1, 0, 1, 1, 2],
        [1, 1, 2, 1, 1, 0],
        [2, 0, 1, 0, 2, 1],
        [1, 1, 2, 1, 1, 0],
        [1, 1, 0, 1, 1, 2],
        [0, 2, 1, 2, 0, 1],
    ],
    dtype=np.uint8,
)


def _cfa_dng(pattern: np.ndarray, *, shape=(48, 72)) -> bytes:
    rows, cols = pattern.shape
    mosaic = np.random.default_rng(3).integers(0, 4095, shape, dtype=np.uint16)
    tags = [
        (50706, "B", 4, (1, 4, 0, 0)),  # DNGVersion
        (50717, "I", 1, 4095),  # WhiteLevel
        (33421, "H", 2, (rows, cols)),  # CFARepeatPatternDim
        (33422, "B", rows * cols, tuple(int(v) for v in pattern.ravel())),  # CFAPattern
        (50710, "B", 3, (0, 1, 2)),  # CFAPlaneColor
        (271, "s", 0, "Fujifilm"),
        (272, "s", 0, "X-T3"),
        (50778, "H", 1, 21),  # CalibrationIlluminant1: D65
        (50721, "2i", 9, (1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)),
    ]
    out = io.BytesIO()
    tifffile.imwrite(out, mosaic, photometric=32803, extratags=tags)  # 32803: CFA
    return out.getvalue()


def test_the_written_file_is_what_libraw_calls_a_6x6_pattern(tmp_path):
    path = tmp_path / "DSCF0001.dng"
    path.write_bytes(_cfa_dng(XTRANS))
    with rawpy.imread(str(path)) as raw:
        assert raw.raw_type == rawpy.RawType.Flat
        assert np.shape(raw.raw_pattern) == (6, 6)


def test_an_xtrans_raw_is_refused_with_what_it_is(tmp_path):
    path = tmp_path / "DSCF0001.dng"
    path.write_bytes(_cfa_dng(XTRANS))
    with pytest.raises(UnreadableRaw) as err:
        read_raw(path)
    message = str(err.value)
    assert str(path) in message
    assert "6x6 colour pattern (an X-Trans sensor)" in message
    assert "only 2x2 Bayer sensors are supported" in message
    with pytest.raises(UnreadableRaw, match="X-Trans"), open_raw(path):
        pass


def test_the_same_file_with_a_2x2_pattern_is_read_as_bayer(tmp_path):
    """The control: only the pattern differs, and a 2x2 RGGB one decodes."""
    path = tmp_path / "IMG_0001.dng"
    path.write_bytes(_cfa_dng(np.array([[0, 1], [1, 2]], dtype=np.uint8)))
    frame = read_raw(path)
    assert frame.cfa == "RGGB"
    assert frame.mosaic.shape == (48, 72)
