"""Curation trusts nothing it cannot vouch for: frames checked against the journal, every
reference used or dropped with a reason, odd and lying files dropped while the rest is curated
(issue 9, items 1, 6, 10 and 11)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from curate import _kernels, pipeline
from curate.bayer import check_levels
from curate.errors import BadInput, MissingMetadata
from curate.pipeline import align_folders, align_session, impossible_range
from curate.raw import open_raw, read_raw, render_mosaic, render_srgb
from curate.result import read_alignment
from tests.curate._sessions import static_session, true_shift

DATA = Path(__file__).parents[1] / "data" / "raw"
TRUNCATED = sorted(p for p in (DATA / "truncated").iterdir() if p.suffix != ".md")


def _curate_with(tmp_path: Path, extra: Path, name: str, frames: int):
    """Curate a static session's dark frames as a folder with ``extra`` added as ``name``."""
    s = static_session(tmp_path / "s", frames=frames)
    dark = tmp_path / "dark"
    shutil.copytree(s / "dark", dark)
    shutil.copy(extra, dark / name)
    out = align_folders(dark, s / "bright", out=tmp_path / "r", kind="static")
    return read_alignment(out.parent)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- integrity -----------------------------------------------------------------------------


def test_a_replaced_frame_is_dropped_as_hash_mismatch_even_after_a_first_run(tmp_path):
    """The issue's case: dark/0003.dng replaced by a copy of 0005.dng (same size)."""
    s = static_session(tmp_path / "s", size=(128, 192), frames=12)
    first = read_alignment(align_session(s).parent)
    assert len(first.pairs) == 12
    journalled = _sha(s / "dark/0003.dng")
    shutil.copy2(s / "dark/0005.dng", s / "dark/0003.dng")  # keeps the mtime, like cp -p
    a = read_alignment(align_session(s).parent)  # not --force: the stale result is not reused
    assert len(a.pairs) == 11
    assert "0003.dng" not in {p.dark for p in a.pairs}
    (drop,) = a.dropped
    assert (drop.pass_, drop.file, drop.reason) == ("dark", "0003.dng", "hash_mismatch")
    assert drop.expected == journalled
    assert drop.found == _sha(s / "dark/0005.dng")
    assert "sha256" in drop.detail
    assert not a.frames("dark")[3].kept
    assert any("dark/0003.dng" in w and "journal" in w for w in a.warnings)


def test_a_missing_frame_is_dropped_as_missing(tmp_path):
    s = static_session(tmp_path / "s", frames=5)
    journalled = _sha(s / "dark/0001.dng")
    (s / "dark/0001.dng").unlink()
    a = read_alignment(align_session(s).parent)
    (drop,) = a.dropped
    assert (drop.file, drop.reason) == ("0001.dng", "missing")
    assert drop.expected == journalled and drop.found is None
    assert len(a.pairs) == 4


def test_session_frames_are_read_once_for_hash_and_decode(tmp_path, monkeypatch):
    """One read per frame: the bytes the journal vouched for are the bytes decoded."""
    s = static_session(tmp_path / "s", frames=4)
    reads: list[str] = []
    real = Path.read_bytes

    def counting(self):
        reads.append(self.name)
        return real(self)

    decoded: list[type] = []
    real_open = pipeline.open_raw

    def spy(source, **kw):
        decoded.append(type(source))
        return real_open(source, **kw)

    monkeypatch.setattr(Path, "read_bytes", counting)
    monkeypatch.setattr(pipeline, "open_raw", spy)
    align_session(s)
    frame_reads = [n for n in reads if n.endswith(".dng")]
    assert sorted(frame_reads) == sorted(
        ["0000.dng", "0001.dng", "0002.dng", "0003.dng", "0000.dng"]
    )
    assert decoded == [bytes] * 5


def test_folder_mode_has_no_journal_and_reads_by_path(tmp_path):
    s = static_session(tmp_path / "s", frames=4)
    a = read_alignment(
        align_folders(s / "dark", s / "bright", out=tmp_path / "o", kind="static").parent
    )
    assert len(a.pairs) == 4 and not a.dropped


# -- every reference -----------------------------------------------------------------------


def test_every_kept_reference_is_paired_and_recorded(tmp_path):
    s = static_session(tmp_path / "s", size=(160, 224), frames=7, refs=3, offset=(0.6, -1.2))
    a = read_alignment(align_session(s).parent)
    refs = a.references
    assert [r.file for r in refs] == ["0000.dng", "0001.dng", "0002.dng"]
    assert not a.dropped and len(a.pairs) == 7
    by_file = {r.file: r for r in refs}
    for j, p in enumerate(a.pairs):
        assert p.bright == f"{j % 3:04d}.dng"
        assert (p.dy, p.dx) == (by_file[p.bright].dy, by_file[p.bright].dx)
        assert (p.dy, p.dx) == pytest.approx(true_shift(s, p), abs=0.15)
    for r in refs:
        assert r.aligned_corr > 0.5 and r.t is not None
    assert [b for b, _ in a.correlation_index.path] == [j % 3 for j in range(7)]
    assert a.correlation().shape == (3, 7)


def test_a_reference_shot_after_the_camera_moved_is_dropped(tmp_path):
    s = static_session(
        tmp_path / "s", size=(160, 224), frames=6, refs=3, ref_offsets={2: (0.0, 4.0)}
    )
    a = read_alignment(align_session(s).parent)
    assert [r.file for r in a.references] == ["0000.dng", "0001.dng"]
    (drop,) = a.dropped
    assert (drop.pass_, drop.file, drop.reason) == ("bright", "0002.dng", "reference_moved")
    assert "max_drift_px" in drop.detail
    assert {p.bright for p in a.pairs} == {"0000.dng", "0001.dng"}
    assert not a.frames("bright")[2].kept
    assert any("0002.dng" in w and "camera moved" in w for w in a.warnings)


def test_more_references_than_dark_frames_leaves_some_unused(tmp_path):
    s = static_session(tmp_path / "s", frames=2, refs=3)
    a = read_alignment(align_session(s).parent)
    assert [p.bright for p in a.pairs] == ["0000.dng", "0001.dng"]
    assert [(d.file, d.reason) for d in a.dropped] == [("0002.dng", "unused_reference")]
    assert len(a.references) == 2


# -- a bad frame does not stop curation ----------------------------------------------------


def test_a_frame_of_another_size_is_dropped_and_the_rest_curated(tmp_path):
    s = static_session(tmp_path / "s", size=(64, 96), frames=4)
    other = static_session(tmp_path / "o", size=(64, 128), frames=1)
    shutil.copy(other / "dark/0000.dng", s / "dark/0009.dng")  # not journalled: folder mode
    a = read_alignment(
        align_folders(s / "dark", s / "bright", out=tmp_path / "r", kind="static").parent
    )
    (drop,) = a.dropped
    assert (drop.file, drop.reason) == ("0009.dng", "size_mismatch")
    assert "128x64" in drop.detail and "4 of the 5" in drop.detail
    assert "96x64" in drop.detail
    assert len(a.pairs) == 4
    # a tie has no majority: the run stops, saying so
    shutil.copy(other / "dark/0000.dng", s / "dark/0010.dng")
    shutil.copy(other / "dark/0000.dng", s / "dark/0011.dng")
    shutil.copy(other / "dark/0000.dng", s / "dark/0012.dng")
    with pytest.raises(BadInput, match="no majority"):
        align_folders(s / "dark", s / "bright", out=tmp_path / "r", kind="static")


# -- raw files that lie ----------------------------------------------------------------------


def test_stripped_dng_decodes_to_garbage_and_is_dropped_as_corrupt(tmp_path):
    """A real DNG without its image data: LibRaw decodes it without an error."""
    with open_raw(DATA / "stripped.dng") as raw:  # no error: the lie
        mosaic = np.array(raw.mosaic)
        levels, white = check_levels(raw.black_level, raw.white_level)
    low, high = impossible_range(levels, white)
    assert np.count_nonzero((mosaic < low) | (mosaic > high)) > mosaic.size // 100
    a = _curate_with(tmp_path, DATA / "stripped.dng", "0002b.dng", frames=4)
    (drop,) = a.dropped
    assert (drop.file, drop.reason) == ("0002b.dng", "corrupt")
    assert "outside" in drop.detail
    assert len(a.pairs) == 4


def test_real_and_simulated_mosaics_are_not_corrupt(tmp_path):
    for path in [
        DATA / "colorchart.dng",
        static_session(tmp_path / "s", frames=1) / "dark/0000.dng",
    ]:
        with open_raw(path) as raw:
            levels, white = check_levels(raw.black_level, raw.white_level)
            low, high = impossible_range(levels, white)
            *_, outside = _kernels.bin_stats(raw.mosaic, 2, 65535, low, high)
        assert outside == 0, path
    assert impossible_range(np.array([2056.0] * 4), 15000) == (1028, 16383)
    assert impossible_range(np.array([0.0] * 4), 65535) == (0, 65535)


def test_a_linear_dng_is_named_as_such(tmp_path):
    a = _curate_with(tmp_path, DATA / "linear.dng", "linear.dng", frames=3)
    (drop,) = a.dropped
    assert drop.reason == "unreadable"
    assert "not a Bayer mosaic: a linear/demosaiced DNG" in drop.detail
    assert "truncated" not in drop.detail


def test_a_missing_colour_matrix_blocks_rendering_only():
    frame = read_raw(DATA / "zero-matrix.dng")  # curation reads it: mosaic and levels
    assert frame.color_matrix is None and frame.mosaic.shape == (64, 96)
    with pytest.raises(MissingMetadata, match="colour matrix"):
        frame.require_color_matrix()
    with pytest.raises(MissingMetadata, match="not rendered"):
        render_srgb(DATA / "zero-matrix.dng")
    with pytest.raises(MissingMetadata, match="colour matrix"):
        render_mosaic(
            frame.mosaic,
            black_level=frame.black_level,
            white_level=frame.white_level,
            cfa=frame.cfa,
            white_balance=frame.white_balance,
            color_matrix=frame.color_matrix,
        )


def test_frames_without_a_colour_matrix_are_curated(tmp_path):
    dark, bright = tmp_path / "d", tmp_path / "b"
    dark.mkdir()
    bright.mkdir()
    for i in range(3):
        shutil.copy(DATA / "zero-matrix.dng", dark / f"{i}.dng")
    shutil.copy(DATA / "zero-matrix.dng", bright / "0.dng")
    a = read_alignment(align_folders(dark, bright, out=tmp_path / "r", kind="static").parent)
    assert len(a.pairs) == 3 and not a.dropped


@pytest.mark.parametrize("path", TRUNCATED, ids=[p.name for p in TRUNCATED])
def test_real_truncated_camera_files_are_dropped_as_unreadable(tmp_path, path):
    a = _curate_with(tmp_path, path, path.name, frames=3)
    (drop,) = a.dropped
    assert (drop.file, drop.reason) == (path.name, "unreadable")
    assert path.name in drop.detail and "LibRaw" in drop.detail
    assert len(a.pairs) == 3
    assert os.path.getsize(path) < 2_000_000


def test_cli_says_which_frames_differ_from_the_journal(tmp_path):
    from typer.testing import CliRunner

    from curate.cli import app

    s = static_session(tmp_path / "s", frames=6, refs=2)
    shutil.copy(s / "dark/0005.dng", s / "dark/0003.dng")
    r = CliRunner().invoke(app, ["align", str(s)])
    assert r.exit_code == 0, r.output
    # the warning line is not wrapped (the table is, to the terminal's width)
    assert "1 frame(s) do not match their journal records" in r.output
    assert "were dropped: dark/0003.dng;" in r.output


def test_a_run_left_with_unreadable_files_says_why_each_is_unreadable(tmp_path):
    """`curate align` refuses when nothing readable is left, naming each file with its
    reason, not only "unreadable"."""
    from typer.testing import CliRunner

    from curate.cli import app

    cr3 = DATA / "truncated" / "canon-eos-r-truncated.cr3"
    dark, bright = tmp_path / "dark", tmp_path / "bright"
    for folder in (dark, bright):
        folder.mkdir()
        shutil.copy(cr3, folder / "0000.cr3")
    args = ["align", "--dark", dark, "--bright", bright, "--out", tmp_path / "r"]
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    for pass_, folder in (("dark", dark), ("bright", bright)):
        assert (
            f"{pass_}/0000.cr3: unreadable (expected a raw file LibRaw can decode at "
            f"{folder / '0000.cr3'}, found LibRawIOError" in text
        ), text
    assert "the file may be truncated" in text


def test_a_refusal_lists_the_first_drops_and_counts_the_rest():
    frames = [
        pipeline._Frame(file=f"{i:04d}.dng", path=Path(f"{i:04d}.dng"), pass_="dark",
                        reason="unreadable", detail=f"reason {i}")
        for i in range(pipeline.DROPS_LISTED + 3)
    ]  # fmt: skip
    frames[-1].reason, frames[-1].detail = "too_dark", ""
    text = pipeline._drops_text(frames)
    assert text.startswith("dark/0000.dng: unreadable (reason 0); dark/0001.dng: unreadable")
    assert f"(reason {pipeline.DROPS_LISTED - 1})" in text
    assert f"reason {pipeline.DROPS_LISTED})" not in text
    assert text.endswith("and 1 more too_dark, 2 more unreadable")
