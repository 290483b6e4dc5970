"""An imported raw session's release is the release of the same frames captured directly."""

from __future__ import annotations

import csv
import shutil

import h5py
import hdf5plugin  # noqa: F401  (the release's compression filters)
import numpy as np
import pytest

from capture.importer import import_footage
from curate.pipeline import align_session
from dataset_card.publish import publish
from tests._release import META
from tests.curate._sessions import static_session

ONE = {"train": 1.0, "val": 0.0, "test": 0.0}


@pytest.fixture(autouse=True)
def _salt(monkeypatch):
    monkeypatch.setenv("SUBLUX_SALT", "sublux-tests")


def _group(release):
    (h5,) = (release / "data").glob("*.h5")
    f = h5py.File(h5, "r")
    (sid,) = list(f["sessions"])
    return f["sessions"][sid]


def _rows(release):
    with open(release / "pairs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r.pop("session_id")  # provenance: each session has its own id
    return rows


def test_imported_raw_session_publishes_the_same_release(tmp_path):
    direct = static_session(tmp_path / "direct", size=(96, 128), frames=5, refs=2, seed=21)
    for p in ("dark", "bright"):
        shutil.copytree(direct / p, tmp_path / "card" / p)
    imported = tmp_path / "imported"
    import_footage(
        imported, dark=tmp_path / "card" / "dark", bright=tmp_path / "card" / "bright",
        scene="desk",
    )  # fmt: skip
    for s in (direct, imported):
        align_session(s)
    a = publish([direct], tmp_path / "rel_direct", META, fractions=ONE)
    b = publish([imported], tmp_path / "rel_imported", META, fractions=ONE)
    ga, gb = _group(a), _group(b)
    assert sorted(ga) == sorted(gb)
    for name in ga:
        x, y = ga[name][()], gb[name][()]
        if x.dtype.names is None:
            assert x.dtype == y.dtype and np.array_equal(x, y), name  # the same pixels
            continue
        for col in x.dtype.names:
            if col == "t":
                # the time of capture as the DNG's EXIF records it: to the millisecond
                np.testing.assert_allclose(x[col], y[col], atol=1e-3, rtol=0)
            else:
                assert np.array_equal(x[col], y[col], equal_nan=x[col].dtype.kind == "f"), col
    assert {k: str(v) for k, v in ga.attrs.items()} == {k: str(v) for k, v in gb.attrs.items()}
    assert _rows(a) == _rows(b)
