"""manifest.json as a typed record (dataset_card.manifest): what publish writes, key for key,
and what the reader and the release checks read back through it."""

from __future__ import annotations

import json
import shutil

import pytest

from dataset_card.errors import BadRelease, MissingFile, NoRelease
from dataset_card.manifest import (
    MANIFEST,
    Counts,
    FileEntry,
    Manifest,
    SessionEntry,
    SessionWarning,
    SplitEntry,
    UnusedReference,
)
from dataset_card.publish import publish, read_manifest, verify_release
from dataset_card.reader import open_release
from sublux_common.fsio import atomic_write_json
from tests._release import META, curated_scene, dynamic_session, multi_reference_scene

SIZE = (64, 96)

# The keys publish wrote on the commit before the record (6a0a464), in order.
TOP_KEYS = ["name", "version", "schema", "tool_version", "created", "codec"]
TOP_KEYS += ["splits", "sessions", "counts", "files"]
SPLIT_KEYS = ["files", "rows", "sessions", "scenes", "num_examples", "num_bytes"]
SPLIT_KEYS += ["num_short_frames", "num_long_frames"]
SESSION_KEYS = ["scene", "split", "kind", "simulated", "warnings", "dropped", "references"]
SESSION_KEYS += ["unused_references", "mean_reference"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    sessions = [curated_scene(root, f"000{i}_s", seed=40 + i, size=SIZE) for i in range(1, 3)]
    sessions.append(multi_reference_scene(root, size=SIZE))
    sessions.append(dynamic_session(root, "street", size=SIZE))
    return publish(sessions, tmp_path_factory.mktemp("rel") / "r", META, seed=3)


def _example() -> Manifest:
    return Manifest(
        name="night-desk",
        version="1.2.0",
        tool_version="0.4.0",
        created="2026-01-02T03:04:05Z",
        codec="blosc-zstd",
        splits={
            "train": SplitEntry(
                files=("data/train.h5",),
                rows="parquet/train.parquet",
                sessions=("desk-1", "multi-1"),
                scenes=("desk", "multi"),
                num_examples=9,
                num_bytes=1234,
                num_short_frames=9,
                num_long_frames=4,
            ),
            "dynamic": SplitEntry(files=("data/dynamic.h5",), rows=None, sessions=("street-1",)),
        },
        sessions={
            "multi-1": SessionEntry(
                scene="multi",
                split="train",
                kind="static",
                simulated=True,
                warnings=(SessionWarning("sweep_behind_plan", "7.6 frames/s"),),
                dropped={"hash_mismatch": 1, "reference_moved": 1},
                references=3,
                unused_references=(UnusedReference("0003.dng", "reference_moved", "9 px"),),
                mean_reference=True,
            ),
        },
        counts=Counts(sessions=3, scenes=3, pairs=9),
        files=(FileEntry("data/train.h5", 1000, "ab" * 32),),
    )


def test_publish_writes_the_records_json_key_for_key(release):
    text = (release / MANIFEST).read_text()
    obj = json.loads(text)
    m = Manifest.from_json(obj)
    assert m.to_json() == obj
    assert json.dumps(m.to_json(), indent=2, ensure_ascii=False) + "\n" == text
    assert list(obj) == TOP_KEYS
    assert all(list(s) == SPLIT_KEYS for s in obj["splits"].values())
    assert all(list(s) == SESSION_KEYS for s in obj["sessions"].values())
    assert list(obj["counts"]) == ["sessions", "scenes", "pairs"]
    assert all(list(f) == ["path", "size", "sha256"] for f in obj["files"])
    multi = next(s for s in m.sessions.values() if s.scene == "multi")
    assert multi.warnings[0].code == "sweep_behind_plan"
    assert [u.reason for u in multi.unused_references] == ["reference_moved"]
    assert multi.dropped == {"hash_mismatch": 1, "reference_moved": 1}
    assert m.counts.pairs == sum(s.num_examples for k, s in m.splits.items() if k != "dynamic")


def test_the_reader_and_verify_read_the_record(release, tmp_path):
    rel = open_release(release)
    assert isinstance(rel.manifest, Manifest)
    assert rel.manifest == Manifest.read(release)
    assert rel.manifest.to_json() == read_manifest(release)
    assert rel.splits == list(rel.manifest.splits) and rel.version == "1.0.0"
    assert verify_release(release) == []
    # a value of the wrong type stops verify with what was expected, not a KeyError
    bad = tmp_path / "bad"
    shutil.copytree(release, bad)
    obj = read_manifest(bad)
    obj["splits"]["train"]["num_examples"] = "many"
    atomic_write_json(bad / MANIFEST, obj)
    with pytest.raises(BadRelease, match=r"splits\.train\.num_examples to be int, found str"):
        verify_release(bad)


def test_round_trip_of_every_field():
    m = _example()
    assert Manifest.from_json(m.to_json()) == m
    assert Manifest.from_json(json.loads(json.dumps(m.to_json()))) == m
    obj = m.to_json()
    assert obj["splits"]["dynamic"]["rows"] is None and "files" in obj
    # before refresh_checksums lists the files, the manifest has no "files" key
    unlisted = {k: v for k, v in obj.items() if k != "files"}
    assert Manifest.from_json(unlisted).files is None
    assert Manifest.from_json(unlisted).to_json() == unlisted


def test_a_hand_made_manifest_reads_with_defaults(tmp_path):
    m = Manifest.from_json({"splits": {"train": {"files": ["data/x.h5"]}}})
    assert m.splits["train"].files == ("data/x.h5",) and m.splits["train"].num_examples == 0
    assert m.name == "" and m.sessions == {} and m.files is None
    with pytest.raises(MissingFile, match=r"manifest\.json"):
        Manifest.read(tmp_path)


@pytest.mark.parametrize("where", ["empty", "missing"])
def test_no_release_is_one_error_for_both_readers_and_a_bad_request_for_commands(tmp_path, where):
    from typer.testing import CliRunner

    from dataset_card import cli

    folder = tmp_path / "r"
    if where == "empty":
        folder.mkdir()
    for read in (Manifest.read, read_manifest, open_release):
        with pytest.raises(NoRelease, match=r"manifest\.json") as exc:
            read(folder)
        assert isinstance(exc.value, MissingFile) and isinstance(exc.value, BadRelease)
    for command in (["info", str(folder)], ["verify", str(folder)]):
        r = CliRunner().invoke(cli.app, command)
        assert r.exit_code == 2, r.output  # the path given was wrong: a bad request
        assert "manifest.json" in r.output


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda o: o.pop("splits"), "'splits' mapping"),
        (lambda o: o.update(splits=[]), "'splits' mapping"),
        (lambda o: o.update(version=2), r"version to be str, found int"),
        (lambda o: o["splits"]["train"].update(files="data/t.h5"), "files to be list, found str"),
        (lambda o: o["splits"]["train"].update(scenes=[1]), "scenes to be a list of strings"),
        (lambda o: o["splits"]["train"].update(num_bytes=True), "num_bytes to be int, found bool"),
        (lambda o: o["sessions"]["multi-1"].update(dropped={"x": "1"}), "count frames by reason"),
        (lambda o: o["sessions"]["multi-1"].update(simulated="yes"), "simulated to be bool"),
        (lambda o: o.update(counts=[]), "counts to be a JSON object"),
        (lambda o: o.update(files=[{"path": 1}]), r"path to be str"),
    ],
)
def test_damaged_manifests_say_what_was_expected(change, message):
    obj = _example().to_json()
    change(obj)
    with pytest.raises(BadRelease, match=message):
        Manifest.from_json(obj)
