"""Raw decoding against a real camera file and against the simulator's DNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from capture.protocols import Exposure
from capture.sim.camera import SimCamera
from curate.errors import MissingMetadata, UnreadableRaw
from curate.raw import exposure_ratio, open_raw, read_raw, render_srgb

DATA = Path(__file__).parents[1] / "data" / "raw"
COLORCHART = DATA / "colorchart.dng"


def test_real_canon_dng_levels_and_pattern():
    f = read_raw(COLORCHART)
    assert f.mosaic.shape == (1156, 1734)
    assert f.mosaic.dtype == np.uint16
    assert f.mosaic.flags.owndata, "the mosaic must outlive rawpy's file handle"
    assert f.black_level == (2056, 2056, 2056, 2056)
    assert f.white_level == 15000
    assert f.cfa == "RGGB"
    assert f.make == "Canon" and "Kiss X4" in f.model
    assert f.white_balance[3] == f.white_balance[1]
    # the data is real: above black, below white, not constant
    assert 2056 < np.median(f.mosaic) < 15000 and f.mosaic.std() > 100


def test_missing_exposure_metadata_is_reported_not_invented():
    f = read_raw(COLORCHART)
    # LibRaw reports a 1 s shutter from an APEX value of 0; the EXIF says nothing was recorded
    assert f.exposure_s is None and f.iso is None
    with pytest.raises(MissingMetadata, match="--ratio"):
        f.require_exposure()
    with pytest.raises(MissingMetadata):
        exposure_ratio(f, f)


def _sim_dng(tmp_path: Path, shutter: str, name: str) -> Path:
    with SimCamera(size=(64, 96), seed=3, max_wait=0) as cam:
        cam.apply(Exposure(iso=2000, shutter=shutter, aperture="3.5"))
        (shot,) = list(cam.shoot(1))
    p = tmp_path / name
    p.write_bytes(shot.data)
    return p


def test_simulator_dng_metadata_and_ratio(tmp_path):
    dark = read_raw(_sim_dng(tmp_path, "1/30", "d.dng"))
    bright = read_raw(_sim_dng(tmp_path, "10", "b.dng"))
    assert dark.black_level == (800, 800, 800, 800) and dark.white_level == 16300
    assert dark.cfa == "RGGB" and dark.mosaic.shape == (64, 96)
    assert dark.iso == 2000 and dark.exposure_s == pytest.approx(1 / 30)
    assert exposure_ratio(dark, bright) == pytest.approx(300)
    assert bright.mosaic.mean() > dark.mosaic.mean() + 100


def test_render_srgb_16_bit(tmp_path):
    img = render_srgb(_sim_dng(tmp_path, "10", "b.dng"))
    assert img.dtype == np.uint16 and img.shape == (64, 96, 3)
    assert img.max() > 1000


@pytest.mark.parametrize("cut", [0.1, 0.6])
def test_truncated_and_foreign_files_are_unreadable(tmp_path, cut):
    data = COLORCHART.read_bytes()
    p = tmp_path / "cut.dng"
    p.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(UnreadableRaw, match=r"cut\.dng"):
        read_raw(p)
    q = tmp_path / "notes.txt"
    q.write_text("not a raw file")
    with pytest.raises(UnreadableRaw, match="truncated or not a raw file"):
        read_raw(q)


def test_bytes_decode_like_the_file():
    data = COLORCHART.read_bytes()
    a, b = read_raw(COLORCHART), read_raw(data, name="chart")
    assert np.array_equal(a.mosaic, b.mosaic)
    assert (a.cfa, a.black_level, a.white_level, a.make) == (
        b.cfa,
        b.black_level,
        b.white_level,
        b.make,
    )
    assert np.array_equal(
        render_srgb(COLORCHART, half_size=True), render_srgb(data, half_size=True)
    )
    with pytest.raises(UnreadableRaw, match="chart"):
        read_raw(data[:1000], name="chart")


def test_decoding_a_files_bytes_leaves_nothing_holding_them(tmp_path):
    # tifffile's reader is a reference cycle: had it read from the caller's bytes, they would
    # live on until a cycle collection (a 20 MP session's frames piled up to 600 MB)
    import gc
    import sys

    sim = _sim_dng(tmp_path, "10", "b.dng")
    for data in (COLORCHART.read_bytes(), sim.read_bytes()):
        gc.disable()
        try:
            before = sys.getrefcount(data)
            with open_raw(data, name="x") as frame:
                assert frame.make == "Canon" or frame.exposure_s == 10.0  # TIFF tags read
            assert sys.getrefcount(data) == before
            read_raw(data, name="x")
            assert sys.getrefcount(data) == before
        finally:
            gc.enable()


# -- rendering the ground truth from the open file ----------------------------------------------


@pytest.mark.parametrize("half_size", [False, True])
def test_an_open_frame_renders_like_render_srgb_and_keeps_its_mosaic(tmp_path, half_size):
    sim = _sim_dng(tmp_path, "10", "b.dng")
    for source, name in [(COLORCHART, ""), (sim.read_bytes(), "b.dng")]:
        expected = render_srgb(source, half_size=half_size, name=name)
        owned = read_raw(source, name=name).mosaic
        with open_raw(source, name=name) as frame:
            rgb = frame.render_srgb(half_size=half_size)
            # LibRaw renders into its own buffers: the lent mosaic is still the file's
            np.testing.assert_array_equal(frame.mosaic, owned)
        assert rgb.dtype == np.uint16 and rgb.shape == expected.shape
        np.testing.assert_array_equal(rgb, expected)


def test_an_open_frame_is_decoded_once_for_mosaic_and_rendering(monkeypatch):
    import rawpy

    opened = []
    real = rawpy.imread
    monkeypatch.setattr(rawpy, "imread", lambda *a, **k: opened.append(a) or real(*a, **k))
    with open_raw(COLORCHART) as frame:
        frame.render_srgb(half_size=True)
    assert len(opened) == 1


def test_rendering_a_closed_frame_is_a_bug_not_a_bad_file():
    with open_raw(COLORCHART) as frame:
        kept = frame
    for closed in (kept, read_raw(COLORCHART)):
        with pytest.raises(RuntimeError, match="inside open_raw's block"):
            closed.render_srgb()


def test_an_open_frame_without_a_colour_matrix_is_not_rendered():
    with open_raw(DATA / "zero-matrix.dng") as frame:
        assert frame.color_matrix is None
        with pytest.raises(MissingMetadata, match="not rendered"):
            frame.render_srgb()
