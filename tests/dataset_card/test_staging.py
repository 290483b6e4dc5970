"""staging.json through its API (dataset_card.staging): what `dataset build` writes and
`dataset publish --from` reads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from dataset_card.errors import BadRelease
from dataset_card.staging import STAGING, Staging, read_staging, write_staging


def _plans(root: Path) -> list[SimpleNamespace]:
    """Stand-ins for SessionPlan: a session path, a scene and a split."""
    out = []
    for name, split in (("a", "train"), ("b", "val"), ("c", "dynamic")):
        (root / name).mkdir()
        out.append(
            SimpleNamespace(session=SimpleNamespace(path=root / name), scene=name, split=split)
        )
    return out


def test_written_staging_is_what_build_wrote_before(tmp_path):
    plans = _plans(tmp_path)
    lists = tmp_path / "lists"
    st = Staging.of(plans, seed=7, fractions="64/12/24", split_lists=lists, codec="gzip-shuffle")
    (tmp_path / "out").mkdir()
    path = write_staging(tmp_path / "out", st)
    assert path == tmp_path / "out" / STAGING
    # the dict literal dataset/cli.py's build wrote before the API, key for key
    old = {
        "sessions": [str(p.session.path.resolve()) for p in plans],
        "splits": {p.scene: p.split for p in plans if p.split != "dynamic"},
        "seed": 7,
        "fractions": "64/12/24",
        "split_lists": str(lists.resolve()),
        "codec": "gzip-shuffle",
    }
    assert path.read_text() == json.dumps(old, indent=2, ensure_ascii=False) + "\n"
    back = read_staging(tmp_path / "out")
    assert back == st == Staging.from_json(st.to_json())
    assert back.session_paths() == [p.session.path.resolve() for p in plans]
    assert back.split_lists_path() == lists.resolve()
    assert back.splits == {"a": "train", "b": "val"}


def test_a_staging_without_lists_or_codec_reads_with_defaults(tmp_path):
    (tmp_path / STAGING).write_text(
        json.dumps({"sessions": ["/s/a"], "seed": 0, "fractions": "80/20/0"})
    )
    st = read_staging(tmp_path)
    assert st.codec == "" and st.split_lists_path() is None and st.splits == {}
    assert st.session_paths() == [Path("/s/a")]


def test_unusable_staging_folders_say_what_to_do(tmp_path):
    with pytest.raises(BadRelease, match=r"found no staging\.json.*dataset build"):
        read_staging(tmp_path)
    (tmp_path / STAGING).write_text("{not json")
    with pytest.raises(BadRelease, match=r"invalid JSON.*build the staging folder again"):
        read_staging(tmp_path)
    (tmp_path / STAGING).write_text('{"sessions": []}')
    with pytest.raises(
        BadRelease, match="hold sessions, seed and fractions, found no seed, fractions"
    ):
        read_staging(tmp_path)
    (tmp_path / STAGING).write_text("[1, 2]")
    with pytest.raises(BadRelease, match="found no sessions, seed, fractions"):
        read_staging(tmp_path)


@pytest.mark.parametrize(
    "key, value, what",
    [
        ("sessions", "/s/a", "a list of session paths"),
        ("seed", "7", "an integer"),
        ("seed", True, "an integer"),
        ("fractions", [64, 12, 24], "shares such as"),
        ("splits", {"a": 1}, "scene -> split names"),
        ("split_lists", 3, "a folder or null"),
        ("codec", None, "a codec name"),
    ],
)
def test_a_value_of_the_wrong_type_is_named(tmp_path, key, value, what):
    obj = Staging(sessions=("/s/a",), seed=1, fractions="64/12/24").to_json()
    obj[key] = value
    (tmp_path / STAGING).write_text(json.dumps(obj))
    with pytest.raises(BadRelease, match=rf"{key} to be {re.escape(what)}"):
        read_staging(tmp_path)


def test_publish_from_a_folder_without_staging_json_exits_2(tmp_path):
    from typer.testing import CliRunner

    from dataset_card.cli import app

    args = ["publish", "--name", "n", "--version", "1.0.0", "--out", str(tmp_path / "rel")]
    r = CliRunner().invoke(app, [*args, "--from", str(tmp_path)])
    assert r.exit_code == 2, r.output
    assert "found no staging.json" in r.output and "dataset build" in r.output
    assert not (tmp_path / "rel").exists()
