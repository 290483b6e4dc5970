"""The curation result as records (:mod:`curate.result`): the JSON on disk, round trips,
older results, and the summary ``curate align`` prints."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curate.errors import CurateError
from curate.result import (
    ALIGNMENT_FILE,
    Alignment,
    CorrelationIndex,
    Drop,
    FrameEntry,
    Pair,
    Reference,
    read_alignment,
    summarize,
    write_alignment,
)
from tests.curate._golden import DATA, normalized, static_alignment, sweep_alignment


def _text(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _skeleton(obj):
    """The keys of every object, in order, all the way down (values left out)."""
    if isinstance(obj, dict):
        return [(k, _skeleton(v)) for k, v in obj.items()]
    if isinstance(obj, list):
        return [_skeleton(v) for v in obj]
    return None


# -- alignment.json as the code before the records wrote it -------------------------------


def test_a_static_session_writes_what_the_dict_literal_wrote(tmp_path):
    """Every kind of entry (drops with journal digests, motion regions and review notes;
    rejected pairs, a restored pair, references, drift): key for key, value for value."""
    path = static_alignment(tmp_path)
    assert _text(normalized(path)) == (DATA / "alignment_static.json").read_text()


def test_a_sweep_writes_the_keys_the_dict_literal_wrote(tmp_path):
    """A sweep's pairs carry ``motion`` (and ``motion_region`` when true).  The simulated
    turntable's angles vary a little between runs, so the keys are compared, in order."""
    got = normalized(sweep_alignment(tmp_path))
    want = json.loads((DATA / "alignment_sweep.json").read_text())
    assert _skeleton(got) == _skeleton(want)
    assert any(p["motion"] for p in got["pairs"]) and not all(p["motion"] for p in got["pairs"])


@pytest.mark.parametrize("name", ["static", "sweep"])
def test_records_round_trip_the_pinned_results(name):
    raw = json.loads((DATA / f"alignment_{name}.json").read_text())
    al = Alignment.from_json(raw)
    assert _text(al.to_json()) == _text(raw)  # the same keys in the same order
    assert Alignment.from_json(al.to_json()) == al


def test_a_written_result_reads_back_equal(tmp_path):
    al = Alignment.from_json(json.loads((DATA / "alignment_static.json").read_text()))
    corr = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = write_alignment(tmp_path, al, corr)
    back = read_alignment(tmp_path)
    assert path == tmp_path / ALIGNMENT_FILE and back.path == tmp_path
    assert back.tool["name"] == "sublux" and back.created.endswith("Z")
    assert back.correlation_index.file == "correlation.npy"
    np.testing.assert_array_equal(back.correlation(), corr)
    assert back.pairs == al.pairs and back.dropped == al.dropped
    assert back.references == al.references and back.frames("dark") == al.frames("dark")


# -- the records --------------------------------------------------------------------------


def test_pair_keys_appear_only_when_set():
    pair = Pair(bright="0000.dng", dark="0003.dng", score=0.9, dy=0.25, dx=-1.5)
    assert list(pair.to_json()) == [
        "bright", "dark", "score", "margin", "ambiguous", "dy", "dx", "aligned_corr",
        "exposure_ratio", "dark_angle", "bright_angle",
    ]  # fmt: skip
    region = {"box": [0, 0, 8, 8], "strength": 9.0, "peak": 9.0, "blocks": 1, "change": 0.5}
    flagged = Pair(bright="b", dark="d", motion=True, motion_region=region)
    rejected = Pair(bright="b", dark="d", motion=False, reason="low_aligned_corr", detail="x")
    assert list(flagged.to_json())[-2:] == ["motion", "motion_region"]
    assert list(rejected.to_json())[-3:] == ["motion", "reason", "detail"]
    for p in (pair, flagged, rejected):
        assert Pair.from_json(p.to_json()) == p


def test_drop_writes_both_digests_for_journal_reasons_only():
    missing = Drop(file="0001.dng", pass_="dark", reason="missing", detail="gone", expected="ab")
    assert missing.to_json() == {
        "file": "0001.dng",
        "pass": "dark",
        "reason": "missing",
        "detail": "gone",
        "expected": "ab",
        "found": None,
    }
    dark = Drop(file="0002.dng", pass_="dark", reason="too_dark", detail="mean 0.02")
    assert set(dark.to_json()) == {"file", "pass", "reason", "detail"}
    for d in (missing, dark):
        assert Drop.from_json(d.to_json()) == d


def test_an_older_result_without_newer_keys_reads():
    """Results written before references, warnings, review and motion flags existed."""
    old = {
        "schema": 1,
        "source": {"kind": "session", "scene": "desk"},
        "pairs": [{"bright": "0000.dng", "dark": "0001.dng", "dy": 0.5, "dx": -1.0}],
        "dropped": [{"file": "0002.dng", "pass": "dark", "reason": "too_dark"}],
        "frames": {"dark": [{"file": "0001.dng", "kept": True}], "bright": []},
    }
    al = Alignment.from_json(old)
    assert al.references == [] and al.rejected == [] and al.warnings == []
    assert al.review is None and al.aligned_corr_floor is None
    assert al.correlation_index is None and al.correlation() is None
    (pair,) = al.pairs
    assert pair.motion is None and pair.score is None and pair.exposure_ratio is None
    assert "motion" not in pair.to_json()
    assert al.dropped[0].detail == "" and al.frames("dark")[0].mean_dn is None
    assert al.frames("missing") == []


def test_a_result_that_is_not_an_object_is_refused(tmp_path):
    (tmp_path / ALIGNMENT_FILE).write_text("[1, 2]")
    with pytest.raises(CurateError, match="expected curation schema 1, found 'list'"):
        read_alignment(tmp_path)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda d: d["pairs"][0].pop("dark"), "found one without 'dark'"),
        (lambda d: d.update(pairs=[[1, 2]]), "found another shape"),
    ],
)
def test_a_damaged_result_is_refused_as_such(tmp_path, change, said):
    data = json.loads((DATA / "alignment_static.json").read_text())
    change(data)
    (tmp_path / ALIGNMENT_FILE).write_text(json.dumps(data))
    with pytest.raises(CurateError, match=said):
        read_alignment(tmp_path)


# -- the summary --------------------------------------------------------------------------


def _result(**kw) -> Alignment:
    return Alignment(source={"scene": "desk", "dark": "/x/dark"}, **kw)


def test_summary_counts_pairs_drops_and_ranges():
    pairs = [
        Pair(bright="0000.dng", dark="0000.dng", dy=0.5, dx=-2.25, exposure_ratio=300.0),
        Pair(bright="0001.dng", dark="0001.dng", dy=-3.0, dx=1.0, exposure_ratio=310.0),
        Pair(bright="0000.dng", dark="0002.dng", dy=0.0, dx=0.0, ambiguous=True),
    ]
    drops = [
        Drop(file="0003.dng", pass_="dark", reason="too_dark"),
        Drop(file="0004.dng", pass_="dark", reason="motion"),
        Drop(file="0005.dng", pass_="dark", reason="too_dark"),
    ]
    s = summarize(
        _result(
            pairs=pairs,
            rejected=[Pair(bright="b", dark="d", reason="low_aligned_corr")],
            dropped=drops,
            references=[Reference(file="0000.dng", dy=0.5, dx=-2.25)],
            warnings=["the burst drifted"],
        )
    )
    assert s.title == "desk"
    assert (s.pairs, s.references, s.rejected, s.ambiguous) == (3, 1, 1, 1)
    assert s.dropped == {"too_dark": 2, "motion": 1}
    assert list(s.dropped) == ["too_dark", "motion"]  # as they first appear
    assert s.exposure_ratio == (300.0, 310.0)
    assert s.max_shift_px == 3.0
    assert s.warnings == ["the burst drifted"]


def test_summary_of_a_result_without_pairs():
    s = summarize(Alignment(source={"dark": "/x/dark.mp4"}))
    assert s.title == "/x/dark.mp4"
    assert (s.pairs, s.references, s.rejected, s.ambiguous, s.dropped) == (0, 0, 0, 0, {})
    assert s.exposure_ratio is None and s.max_shift_px is None


def test_frame_entry_and_correlation_index_round_trip():
    entry = FrameEntry(file="0000.dng", kept=False, mean_dn=1.5, rel_mean=0.2, clipped=0.0)
    assert FrameEntry.from_json(entry.to_json()) == entry
    index = CorrelationIndex(dark=["a"], bright=["b"], path=[[0, 0]])
    assert "file" not in index.to_json()
    assert CorrelationIndex.from_json(index.to_json()) == index


def test_a_dark_frame_against_the_first_reference():
    refs = [Reference(file="r0.dng", dy=0.5, dx=-2.25), Reference(file="r1.dng", dy=9.0, dx=9.0)]
    pairs = [
        Pair(bright="r1.dng", dark="0000.dng", dy=9.0, dx=9.0),  # no ratio known: skipped
        Pair(bright="r0.dng", dark="0001.dng", dy=0.5, dx=-2.25, exposure_ratio=300.0),
    ]
    al = _result(pairs=pairs, references=refs)
    assert al.reference_pair("0007.dng") == Pair(
        bright="r0.dng", dark="0007.dng", dy=0.5, dx=-2.25, exposure_ratio=300.0
    )
    assert _result(pairs=pairs, references=[]).reference_pair("0007.dng") is None
    no_ratio = _result(pairs=pairs[:1], references=refs).reference_pair("0007.dng")
    assert no_ratio is not None and no_ratio.exposure_ratio is None
