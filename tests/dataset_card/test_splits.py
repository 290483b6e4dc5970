"""Scene-disjoint split assignment."""

import pytest

from dataset_card.errors import BadRelease
from dataset_card.splits import assign_splits, parse_fractions, read_split_lists


def test_default_shares_and_determinism():
    scenes = [f"s{i:03d}" for i in range(202)]
    a = assign_splits(scenes, seed=1)
    counts = {k: sum(v == k for v in a.values()) for k in ("train", "val", "test")}
    assert counts == {"train": 129, "val": 24, "test": 49}  # DRV's 64/12/24 of 202
    assert assign_splits(reversed(scenes), seed=1) == a
    assert assign_splits(scenes, seed=2) != a


def test_every_split_gets_a_scene():
    a = assign_splits(["a", "b", "c"])
    assert sorted(a.values()) == ["test", "train", "val"]


def test_adding_scenes_never_moves_old_ones():
    old = assign_splits([f"s{i}" for i in range(20)], seed=3)
    new = assign_splits([f"s{i}" for i in range(30)], seed=3, previous=old)
    assert all(new[s] == old[s] for s in old)
    counts = {k: sum(v == k for v in new.values()) for k in ("train", "val", "test")}
    assert counts["train"] >= 17 and counts["val"] >= 3 and counts["test"] >= 6


def test_too_few_scenes():
    with pytest.raises(BadRelease, match="at least 3 scenes"):
        assign_splits(["a", "b"])
    assert set(assign_splits(["a", "b"], fractions=parse_fractions("80/20/0")).values()) == {
        "train",
        "val",
    }


def test_fractions_parse():
    assert parse_fractions("64/12/24") == pytest.approx({"train": 0.64, "val": 0.12, "test": 0.24})
    with pytest.raises(BadRelease, match="TRAIN/VAL/TEST"):
        parse_fractions("64/36")


def test_split_lists(tmp_path):
    (tmp_path / "train_list.txt").write_text("a\nb\n")
    (tmp_path / "val_list.txt").write_text("c\n")
    (tmp_path / "test_list.txt").write_text("# comment\nd\n")
    assert read_split_lists(tmp_path, ["a", "b", "c", "d"]) == {
        "a": "train",
        "b": "train",
        "c": "val",
        "d": "test",
    }
    with pytest.raises(BadRelease, match="unlisted: e"):
        read_split_lists(tmp_path, ["a", "e"])
    (tmp_path / "test_list.txt").write_text("a\n")
    with pytest.raises(BadRelease, match="one split only"):
        read_split_lists(tmp_path, ["a"])
