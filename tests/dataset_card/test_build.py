"""The release build (dataset_card.build): typed plan entries, and each reference read and
decoded once for both its mosaic (``long``) and its ground truth (``gt_srgb``)."""

from __future__ import annotations

import collections
import hashlib
import io
from pathlib import Path

import h5py
import pytest
import rawpy

from capture.session import Session
from dataset_card.build import LongEntry, ShortEntry, build, plan_sessions
from dataset_card.schema import LongFrameRow, ShortFrameRow
from tests._release import curated_scene, multi_reference_scene

SIZE = (96, 128)

# sha256 of the ground truths (gt_srgb, gt_mean_srgb) of the release below, computed on the
# commit before references were rendered from the file already open (459f4c0: a second
# rawpy.imread of the checked bytes in curate.raw.render_srgb).
GT_DIGEST = "14b46870207282c6f5a3c05baf177aa5798e7f3fad02bee1090fdabd1f6b2bcc"


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    return [
        multi_reference_scene(root, size=SIZE),  # three kept references and their mean
        curated_scene(root, "desk", seed=3, size=SIZE, frames=3),
    ]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_each_reference_is_read_and_decoded_once(sessions, tmp_path, monkeypatch):
    plans = plan_sessions(sessions, fractions={"train": 1.0})
    reads: collections.Counter[str] = collections.Counter()
    decodes: collections.Counter[str] = collections.Counter()
    real_read, real_imread = Session.read_frame, rawpy.imread

    def read_frame(self, record):
        reads[record.sha256] += 1
        return real_read(self, record)

    def imread(source, *args, **kwargs):
        data = source.getvalue() if isinstance(source, io.BytesIO) else Path(source).read_bytes()
        decodes[_sha(data)] += 1
        return real_imread(source, *args, **kwargs)

    monkeypatch.setattr(Session, "read_frame", read_frame)
    monkeypatch.setattr(rawpy, "imread", imread)
    result = build(plans, tmp_path / "out", name="t", version="1.0.0", created="", tool_version="0")

    refs = [e.sha256 for p in plans for e in p.long]
    assert len(refs) == 4 and len(set(refs)) == 4
    assert {sha: reads[sha] for sha in refs} == dict.fromkeys(refs, 1)
    assert {sha: decodes[sha] for sha in refs} == dict.fromkeys(refs, 1)
    # and every reference's ground truth is in the release, from that one decode
    h = hashlib.sha256()
    for p in plans:
        with h5py.File(result.session_file[p.session_id]) as f:
            g = f["sessions"][p.session_id]
            assert g["gt_srgb"].shape[0] == len(p.long)
            for k in ("gt_srgb", "gt_mean_srgb"):
                if k in g:
                    a = g[k][()]
                    h.update(f"{k}:{a.dtype.str}:{a.shape}".encode())
                    h.update(a.tobytes())
    assert h.hexdigest() == GT_DIGEST


def test_plan_entries_are_typed_records_of_the_journal(sessions):
    (plan,) = plan_sessions(sessions[:1], fractions={"train": 1.0})
    assert all(isinstance(e, ShortEntry) for e in plan.short)
    assert all(isinstance(e, LongEntry) for e in plan.long)
    for pass_, entries in (("dark", plan.short), ("bright", plan.long)):
        journal = {f.name: f for f in plan.session.frames(pass_)}
        for e in entries:
            rec = journal[e.file]
            assert e.record == rec and e.sha256 == rec.sha256
            assert e.path == plan.session.frame_path(rec) and e.path.name == e.file
            assert (e.exposure_s, e.iso, e.t, e.angle) == (
                rec.shutter_s,
                rec.iso,
                rec.t_start,
                rec.angle,
            )
    paired = [e for e in plan.short if e.paired]
    assert paired and all(0 <= e.ref < len(plan.long) and e.exposure_ratio > 0 for e in paired)
    row = plan.short[0].row()
    assert isinstance(row, ShortFrameRow)
    assert (row.file, row.sha256, row.ref) == (plan.short[0].file, plan.short[0].sha256, 0)
    ref = plan.long[1]
    long_row = ref.row()
    assert isinstance(long_row, LongFrameRow)
    assert (long_row.offset_y, long_row.offset_x) == ref.offset == (2, 2)
    assert (long_row.dy, long_row.dx) == ref.residual


def test_memory_is_handed_back_after_each_session_is_packaged(sessions, tmp_path, monkeypatch):
    """One process packages every session: freed memory goes back to the system after each,
    so the packager's peak is the largest session's, not a creep over the release."""
    import dataset_card.build as build_module
    from sublux_common.memory import release_freed_memory

    done: list[int] = []
    monkeypatch.setattr(
        build_module, "release_freed_memory", lambda: done.append(1) or release_freed_memory()
    )
    plans = plan_sessions(sessions, fractions={"train": 1.0})
    build(plans, tmp_path / "out", name="t", version="1.0.0", created="", tool_version="0")
    assert len(done) == len(plans) == 2
