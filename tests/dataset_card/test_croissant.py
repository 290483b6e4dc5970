"""Croissant metadata: built from a hand-made release, validated offline by mlcroissant and us."""

from __future__ import annotations

import csv
import json
import math
import warnings
from pathlib import Path

import pytest

from dataset_card.croissant import (
    CROISSANT_VERSION,
    PAIRS_CSV_COLUMNS,
    build_croissant,
    validate_croissant,
    write_croissant,
)
from dataset_card.errors import BadRelease
from sublux_common.hashing import sha256_file
from tests.dataset_card.test_card import make_release

RAI_FIELDS = (
    "rai:dataCollection",
    "rai:dataCollectionType",
    "rai:dataPreprocessingProtocol",
    "rai:dataLimitations",
    "rai:dataBiases",
    "rai:personalSensitiveInformation",
    "rai:dataUseCases",
    "rai:dataSocialImpact",
    "rai:dataManipulationProtocol",
    "rai:dataAnnotationProtocol",
)


@pytest.fixture
def release(tmp_path: Path):
    root = tmp_path / "release"
    root.mkdir()
    info = make_release(root)
    return root, info, write_croissant(info, root / "croissant.json")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _save(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def test_pairs_columns_are_the_documented_ones():
    assert PAIRS_CSV_COLUMNS == (
        "split",
        "session_id",
        "scene",
        "file",
        "short_index",
        "ref_index",
        "short_file",
        "short_sha256",
        "long_file",
        "exposure_ratio",
        "iso",
        "short_exposure_s",
        "long_exposure_s",
        "dy",
        "dx",
        "score",
        "lux",
        "kind",
    )


def test_written_croissant_validates_offline(release, offline):
    _, _, path = release
    assert validate_croissant(path) == []
    assert validate_croissant(path, check_files=True) == []


def test_dataset_fields_and_distribution(release):
    root, _, path = release
    doc = _load(path)
    assert doc["@context"]["rai"] == "http://mlcommons.org/croissant/RAI/"
    assert doc["@context"]["cr"] == "http://mlcommons.org/croissant/"
    assert CROISSANT_VERSION in doc["conformsTo"]
    assert doc["@type"] == "sc:Dataset"
    assert doc["name"] == "sublux-mini"
    assert doc["version"] == "1.2.0"
    assert doc["url"] == "https://example.org/sublux-mini"
    assert doc["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert doc["datePublished"] == "2026-11-21T21:00:00Z"
    assert doc["citeAs"].startswith("@misc{")
    assert [c["@type"] for c in doc["creator"]] == ["sc:Person", "sc:Organization"]
    assert doc["creator"][0] == {
        "@type": "sc:Person",
        "name": "Ada Lovelace",
        "email": "ada@example.org",
    }
    objects = {o["@id"]: o for o in doc["distribution"]}
    assert set(objects) == {
        "data/train.h5",
        "data/val.h5",
        "data/test.h5",
        "data/dynamic.h5",
        "pairs.csv",
        "pairs.parquet",
        *(f"parquet/{name}.parquet" for name in ("train", "val", "test", "dynamic")),
    }
    for name in ("train", "val", "test", "dynamic"):
        o = objects[f"data/{name}.h5"]
        f = root / "data" / f"{name}.h5"
        assert o["@type"] == "cr:FileObject"
        assert o["contentUrl"] == f"data/{name}.h5"
        assert o["encodingFormat"] == "application/x-hdf5"
        assert o["sha256"] == sha256_file(f)
        assert o["contentSize"] == f"{f.stat().st_size} B"
    assert objects["pairs.csv"]["encodingFormat"] == "text/csv"
    assert objects["pairs.csv"]["sha256"] == sha256_file(root / "pairs.csv")
    assert objects["pairs.parquet"]["encodingFormat"] == "application/x-parquet"
    assert objects["parquet/val.parquet"]["sha256"] == sha256_file(root / "parquet/val.parquet")
    for key in RAI_FIELDS:
        assert doc[key], key
    assert "2000" in doc["rai:dataCollection"] and "120–300" in doc["rai:dataCollection"]
    assert "3 too_dark" in doc["rai:dataCollectionMissingData"]


def test_pairs_record_set_has_one_field_per_csv_column(release):
    _, _, path = release
    (rs,) = _load(path)["recordSet"]
    assert rs["@id"] == "pairs"
    assert [f["name"] for f in rs["field"]] == list(PAIRS_CSV_COLUMNS)
    for f in rs["field"]:
        assert f["@type"] == "cr:Field"
        assert f["source"] == {
            "fileObject": {"@id": "pairs.parquet"},
            "extract": {"column": f["name"]},
        }
    types = {f["name"]: f["dataType"] for f in rs["field"]}
    assert types["short_index"] == types["ref_index"] == "sc:Integer"
    assert types["dy"] == types["lux"] == "sc:Float"
    assert types["session_id"] == "sc:Text"


@pytest.mark.parametrize("key", ["url", "creator"])
def test_missing_url_or_creator_fails_our_check_though_mlcroissant_accepts_it(release, key):
    _, _, path = release
    doc = _load(path)
    del doc[key]
    _save(path, doc)
    problems = validate_croissant(path)
    assert len(problems) == 1, problems
    assert key in problems[0] and not problems[0].startswith("mlcroissant")


def test_a_creator_without_a_name_fails(release):
    _, _, path = release
    doc = _load(path)
    doc["creator"] = [{"@type": "sc:Person", "name": " "}]
    _save(path, doc)
    assert any("creator" in p for p in validate_croissant(path))


def test_a_file_object_without_sha256_fails(release):
    _, _, path = release
    doc = _load(path)
    del doc["distribution"][1]["sha256"]
    _save(path, doc)
    problems = validate_croissant(path)
    assert any("data/val.h5" in p and "sha256" in p for p in problems), problems


def test_a_changed_file_fails_only_with_check_files(release):
    root, _, path = release
    (root / "data" / "test.h5").write_bytes(b"tampered")
    assert validate_croissant(path) == []
    problems = validate_croissant(path, check_files=True)
    assert len(problems) == 1
    assert "data/test.h5" in problems[0] and sha256_file(root / "data/test.h5") in problems[0]


def test_a_missing_file_fails_with_check_files(release):
    root, _, path = release
    (root / "data" / "val.h5").unlink()
    problems = validate_croissant(path, check_files=True)
    assert any("data/val.h5" in p and "found none" in p for p in problems), problems


def test_mlcroissant_errors_are_reported_not_raised(release):
    _, _, path = release
    doc = _load(path)
    doc["recordSet"][0]["field"][0]["source"]["fileObject"]["@id"] = "no-such-file.csv"
    _save(path, doc)
    problems = validate_croissant(path)
    assert problems and all(p.startswith("mlcroissant") for p in problems), problems


def test_not_json_is_a_problem_not_an_exception(tmp_path):
    path = tmp_path / "croissant.json"
    path.write_text("{not json", encoding="utf-8")
    assert "could not read" in validate_croissant(path)[0]


def test_a_serial_key_in_the_metadata_fails(release):
    _, _, path = release
    doc = _load(path)
    doc["distribution"][0]["description"] = "shot on camera serial: SN-0451"
    doc["rai:dataCollectionRawData"] = {"gps_lat": 22.3}
    _save(path, doc)
    problems = [p for p in validate_croissant(path) if "serial number or GPS" in p]
    assert len(problems) == 2, problems


def test_build_needs_pairs_table_among_extra_files(tmp_path):
    info = make_release(tmp_path, extra_files=[])
    with pytest.raises(BadRelease, match=r"pairs\.parquet"):
        build_croissant(info)
    with pytest.raises(BadRelease, match="url"):
        build_croissant(make_release(tmp_path, url=" "))


def _csv_value(column: str, text: str):
    if column in ("short_index", "ref_index"):
        return int(text)
    if column in ("exposure_ratio", "iso", "short_exposure_s", "long_exposure_s"):
        return float(text)
    if column in ("dy", "dx", "score", "lux"):
        v = float(text)
        return None if math.isnan(v) else v
    return text


def test_pairs_record_set_loads_the_local_csv(release, offline):
    root, _, path = release
    import mlcroissant as mlc

    # mlcroissant's own dependencies (rdflib) warn on import paths it uses; keep that local.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        records = list(mlc.Dataset(jsonld=path).records("pairs"))
    with open(root / "pairs.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(records) == len(rows) == 15
    got = [
        {
            c: (v.decode() if isinstance(v, bytes) else v)
            for c, v in ((c, r[f"pairs/{c}"]) for c in PAIRS_CSV_COLUMNS)
        }
        for r in records
    ]
    want = [{c: _csv_value(c, row[c]) for c in PAIRS_CSV_COLUMNS} for row in rows]
    assert got == want
    # Unmetered sessions ("nan" in the CSV) come back as missing values.
    assert {r["session_id"] for r in got if r["lux"] is None} == {"s0001"}


def test_missing_illuminance_is_said_only_when_some_is_missing(tmp_path):
    info = make_release(tmp_path)
    missing = build_croissant(info)["rai:dataCollectionMissingData"]
    assert "Illuminance was not measured for 2 of 5 sessions (lux is nan)." in missing
    for s in info.sessions:
        s["lux"] = 1.0
    missing = build_croissant(info)["rai:dataCollectionMissingData"]
    assert "Illuminance" not in missing and "0 of 5" not in missing
    assert "references not used.  Sessions of kind dynamic have no reference." in missing


def test_cameras_not_recorded_are_counted_not_named(tmp_path):
    info = make_release(tmp_path)
    info.sessions[0].update(camera_make=None, camera_model="")
    doc = build_croissant(info)
    assert (
        "cameras: Sony DSC-RX100M6 (and 1 session whose camera was not recorded);"
        in (doc["rai:dataCollection"])
    )
    assert "unknown camera" not in json.dumps(doc)
