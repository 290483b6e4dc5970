"""The layout as data (dataset_card.schema): frame rows filled by name, the layout rows the
card prints, and the modules split out of hdf5.py."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from dataset_card import hdf5, schema
from dataset_card.build import LongEntry, ShortEntry, _write_tables
from dataset_card.card import write_card
from dataset_card.errors import BadRelease
from dataset_card.h5writer import SplitWriter
from dataset_card.schema import (
    LONG_FRAMES_DTYPE,
    REFERENCE_FRAMES_DTYPE,
    SHORT_FRAMES_DTYPE,
    FrameRow,
    LongFrameRow,
    ShortFrameRow,
    layout_rows,
)
from tests.dataset_card.test_card import make_release
from tests.dataset_card.test_hdf5 import ROOT, session_attrs

# The frame tables' dtypes as hdf5.py spelled them before the split (positional tuples).
_FRAME_FIELDS = [
    ("file", "S128"),
    ("sha256", "S64"),
    ("exposure_s", "f8"),
    ("iso", "f8"),
    ("t", "f8"),
    ("angle", "f8"),
]
OLD_SHORT = np.dtype(
    [
        *_FRAME_FIELDS,
        ("ref", "i4"),
        ("score", "f4"),
        ("dy", "f4"),
        ("dx", "f4"),
        ("exposure_ratio", "f4"),
    ]
)
OLD_LONG = np.dtype(
    [*_FRAME_FIELDS, ("offset_y", "i4"), ("offset_x", "i4"), ("dy", "f4"), ("dx", "f4")]
)

# Digests of the frame tables of the seeded plans below, computed on the commit before frame
# rows were filled by name (6a0a464: positional tuples in build._write_tables).
TABLES_DIGEST = "ad8c4d8e9d32569a0f8478263815f5f50fd319ecddb6ded1b1d448aa87c027cf"
DYNAMIC_TABLE_DIGEST = "c42715833f5bf1edcaa8b222501fc3efbb61b82eef86c06f342e542a736f1e2c"
FILE_DIGEST = "b8901e2715372f324a76fe3dbfa8779620d57ac74c288cb5b21da3fceb032b02"
DYNAMIC_FILE_DIGEST = "ee59f5e1c1bb462ee682e2a4490e88f8864db0e9eb94b4d73299e867033e3ba7"


def seeded_plan(seed: int = 13, t: int = 7, k: int = 3) -> SimpleNamespace:
    """A session plan's frame entries as build.plan_sessions makes them: unknown ISO and
    angle (None), unpaired frames (NaN), references with even offsets and residual shifts."""
    rng = np.random.default_rng(seed)

    def frame(i: int, pass_: str) -> dict:
        return {
            "file": f"{pass_}/{i:05d}.dng",
            "sha256": f"{int(rng.integers(0, 2**62)):064x}",
            "exposure_s": 1 / 30 if pass_ == "dark" else 10.0,
            "iso": None if i == 2 else float(rng.choice([800, 2000, 6400])),
            "t": 1.7e9 + float(rng.random()) * 100,
            "angle": None if i % 2 else float(rng.uniform(-90, 90)),
        }

    short = []
    for i in range(t):
        paired = i % 3 != 2 and k > 0
        short.append(
            ShortEntry(
                **frame(i, "dark"),
                ref=int(i % k) if paired and k else -1,
                score=float(rng.random()) if paired else math.nan,
                dy=float(rng.uniform(-1, 1)) if paired else math.nan,
                dx=float(rng.uniform(-1, 1)) if paired else math.nan,
                exposure_ratio=300.0 if paired else math.nan,
            )
        )
    long = [
        LongEntry(
            **frame(j, "bright"),
            offset=(2 * j, -2 * j),
            residual=(float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1))),
        )
        for j in range(k)
    ]
    return SimpleNamespace(short=short, long=long)


class Recorder:
    """Stands in for a SessionWriter: keeps the tables handed to write_table."""

    def __init__(self) -> None:
        self.tables: dict[str, np.ndarray] = {}

    def write_table(self, name: str, table: np.ndarray) -> None:
        self.tables[name] = np.asarray(table).copy()


def _digest(tables: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in ("short_frames", "long_frames"):
        if name in tables:
            a = tables[name]
            h.update(f"{name}:{a.dtype.descr}".encode())
            h.update(a.tobytes())
    return h.hexdigest()


def _written(plan: SimpleNamespace, folder: Path) -> dict[str, np.ndarray]:
    """The tables of ``plan`` as a real split file stores them."""
    t, k = len(plan.short), len(plan.long)
    with SplitWriter(folder, "train", codec="gzip-shuffle", root_attrs=ROOT) as w:
        g = w.add_session(
            "s",
            scene="desk",
            attrs=session_attrs(8, 8, kind="static" if k else "dynamic"),
            short_shape=(t, 8, 8),
            long_shape=(k, 8, 8) if k else None,
        )
        for i in range(t):
            g.write_short(i, np.zeros((8, 8), np.uint16))
        for j in range(k):
            g.write_long(j, np.zeros((8, 8), np.uint16))
        _write_tables(g, plan)
    with h5py.File(folder / "train.h5") as f:
        grp = f["sessions/s"]
        return {n: grp[n][()] for n in ("short_frames", "long_frames") if n in grp}


# -- frame rows -------------------------------------------------------------------------------


def test_frame_row_dtypes_are_the_tables_dtypes_as_before():
    assert SHORT_FRAMES_DTYPE == OLD_SHORT == ShortFrameRow.dtype()
    assert LONG_FRAMES_DTYPE == np.dtype(_FRAME_FIELDS) == FrameRow.dtype()
    assert REFERENCE_FRAMES_DTYPE == OLD_LONG == LongFrameRow.dtype()
    assert [f.name for f in dataclasses.fields(ShortFrameRow)] == list(OLD_SHORT.names)
    assert tuple(_FRAME_FIELDS) == schema.FRAME_FIELDS


def test_release_frame_tables_are_byte_for_byte_what_positional_tuples_made(tmp_path):
    rec = Recorder()
    _write_tables(rec, seeded_plan())
    assert _digest(rec.tables) == TABLES_DIGEST
    rec = Recorder()
    _write_tables(rec, seeded_plan(seed=5, t=3, k=0))
    assert list(rec.tables) == ["short_frames"]
    assert hashlib.sha256(rec.tables["short_frames"].tobytes()).hexdigest() == (
        DYNAMIC_TABLE_DIGEST
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _digest(_written(seeded_plan(), tmp_path / "a")) == FILE_DIGEST
    assert _digest(_written(seeded_plan(seed=5, t=3, k=0), tmp_path / "b")) == (DYNAMIC_FILE_DIGEST)


def test_table_fills_columns_by_name_and_reads_back():
    rows = [
        ShortFrameRow(
            file="dark/00000.dng",
            sha256="ab" * 32,
            exposure_s=1 / 30,
            iso=None,  # unknown: NaN in the table
            t=1.7e9,
            angle=math.nan,
            ref=1,
            score=0.5,
            dy=0.25,
            dx=-0.5,
            exposure_ratio=300.0,
        ),
        ShortFrameRow(
            file="dark/00001.dng", sha256="cd" * 32, exposure_s=0.5, iso=800.0, t=2.0, angle=3.0
        ),
    ]
    table = ShortFrameRow.table(rows)
    assert table.dtype == SHORT_FRAMES_DTYPE
    assert table["file"].tolist() == [b"dark/00000.dng", b"dark/00001.dng"]
    assert math.isnan(table["iso"][0]) and table["iso"][1] == 800.0
    assert table["ref"].tolist() == [1, -1]  # the default: unpaired
    assert table["dx"][0] == -0.5 and math.isnan(table["score"][1])
    back = ShortFrameRow.from_table(table)
    assert ShortFrameRow.table(back).tobytes() == table.tobytes()  # NaN != NaN, bytes agree
    assert (back[1].file, back[1].iso, back[1].angle, back[1].ref) == (
        "dark/00001.dng",
        800.0,
        3.0,
        -1,
    )
    assert back[0].file == "dark/00000.dng" and back[0].ref == 1 and math.isnan(back[0].iso)
    # an empty table still has the table's fields
    assert ShortFrameRow.table([]).dtype == SHORT_FRAMES_DTYPE
    assert LongFrameRow.table([]).shape == (0,)


def test_table_refuses_rows_of_another_kind_and_tables_without_the_fields():
    row = FrameRow(file="a", sha256="0" * 64, exposure_s=1.0, iso=1.0, t=0.0, angle=0.0)
    with pytest.raises(BadRelease, match=r"expected ShortFrameRow records.*found FrameRow"):
        ShortFrameRow.table([row])
    with pytest.raises(BadRelease, match="ref"):
        ShortFrameRow.from_table(FrameRow.table([row]))


def test_table_refuses_text_longer_than_its_column_instead_of_cutting_it():
    """A cut file name would name another file (or none): the build stops and says so."""

    def row(name: str) -> FrameRow:
        return FrameRow(file=name, sha256="0" * 64, exposure_s=1.0, iso=1.0, t=0.0, angle=0.0)

    fits = "dark/" + "a" * 119 + ".dng"  # 128 bytes: the column's width
    assert FrameRow.table([row(fits)])["file"][0] == fits.encode()
    with pytest.raises(BadRelease, match=r"at most 128 bytes.*found 129 bytes.*shorter name"):
        FrameRow.table([row("dark/" + "a" * 120 + ".dng")])
    with pytest.raises(BadRelease, match="found 131 bytes"):  # UTF-8 bytes, not characters
        FrameRow.table([row("dark/" + "é" * 61 + ".dng")])


# -- layout and the split modules -------------------------------------------------------------


def test_layout_rows_render_the_cards_layout_text(tmp_path):
    """The card's HDF5 layout description, as the card prints it, from layout_rows."""
    info = make_release(tmp_path)
    text = write_card(info, tmp_path / "README.md").read_text()
    rows = layout_rows()
    bullets = ";\n".join(
        f"- {r.subject}: {r.description}" if r.description else f"- {r.subject}" for r in rows
    )
    assert bullets + ".\n" in text
    root = ", ".join(f"`{a}`" for a in (*schema.ROOT_ATTRS, *schema.CODEC_ATTRS))
    assert f"root attributes {root}." in text
    assert rows[-1].names == schema.SESSION_ATTRS
    assert [r.names[0] for r in rows[:3]] == ["short", "long", "gt_srgb"]


def test_schema_imports_without_h5py():
    code = "import sys, dataset_card.schema; print('h5py' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_hdf5_still_offers_what_it_offered():
    from dataset_card import h5io, h5verify, h5writer

    assert hdf5.SplitWriter is h5writer.SplitWriter
    assert hdf5.verify_file is h5verify.verify_file and hdf5.file_summary is h5verify.file_summary
    assert hdf5.open_file is h5io.open_file and hdf5.to_python is h5io.to_python
    assert hdf5.SHORT_FRAMES_DTYPE == SHORT_FRAMES_DTYPE
    assert hdf5.canonical_codec("gzip") == "gzip-shuffle"
    assert all(hasattr(hdf5, name) for name in hdf5.__all__)


def test_chunking_follows_the_schema_constants(monkeypatch):
    assert schema.frame_chunks(100, 200) == (1, 100, 200)
    assert schema.srgb_chunks(300, 100) == (1, 256, 100, 3)
    monkeypatch.setattr(schema, "WHOLE_FRAME_MAX_PIXELS", 1000)
    monkeypatch.setattr(schema, "TILE", 16)
    assert schema.frame_chunks(100, 200) == (1, 16, 16)
    assert schema.srgb_chunks(300, 10) == (1, 16, 10, 3)
