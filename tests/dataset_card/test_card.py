"""The Hugging Face dataset card: built from a hand-made release, checked offline."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import jinja2
import pytest
from huggingface_hub import DatasetCard

from dataset_card import templating
from dataset_card.card import (
    CARD_TEMPLATE,
    REQUIRED_SECTIONS,
    FileInfo,
    ReleaseInfo,
    SplitInfo,
    add_results_section,
    build_card,
    check_card,
    default_citation,
    find_sensitive,
    render_card,
    size_category,
    summarize_sessions,
    write_card,
)
from dataset_card.croissant import PAIRS_COLUMNS
from dataset_card.errors import BadRelease
from dataset_card.parquet import card_features, write_pairs_parquet
from sublux_common.hashing import sha256_bytes, sha256_file

PAIRS_HEADER = (
    "split,session_id,scene,file,short_index,ref_index,short_file,short_sha256,long_file,"
    "exposure_ratio,iso,short_exposure_s,long_exposure_s,dy,dx,score,lux,kind"
)

# id, scene, split, kind, lux, short frames, long frames, dropped, rejected
_SESSIONS = (
    ("s0000", "desk", "train", "static", 0.8, 4, 1, {"too_dark": 2}, 1),
    ("s0001", "plant", "train", "sweep", None, 5, 3, {"too_bright": 1, "too_dark": 1}, 2),
    ("s0002", "books", "val", "static", 2.5, 3, 1, {}, 0),
    ("s0003", "mugs", "test", "static", 1.2, 3, 1, {"unreadable": 1}, 0),
    ("s0004", "street", "dynamic", "dynamic", None, 6, 0, {}, 0),
)


def make_release(root: Path, **overrides) -> ReleaseInfo:
    """A small release with real (tiny, fake) files under ``root``: what the packager fills."""
    sessions = []
    for sid, scene, split, kind, lux, n_short, n_long, dropped, rejected in _SESSIONS:
        dynamic = kind == "dynamic"
        sessions.append(
            {
                "id": sid,
                "scene": scene,
                "split": split,
                "kind": kind,
                "camera_make": "Sony",
                "camera_model": "DSC-RX100M6",
                "iso": 2000.0,
                "short_exposure_s": 1 / 30,
                "long_exposure_s": None if dynamic else 10.0 if kind == "static" else 4.0,
                "exposure_ratio": None if dynamic else 300.0 if kind == "static" else 120.0,
                "lux": lux,
                "lighting": "candle" if kind == "sweep" else "warm LED at 2 m",
                "frames_short": n_short,
                "frames_long": n_long,
                "pairs": 0 if dynamic else n_short,
                "dropped": dropped,
                "rejected": rejected,
                "registration": "coarse FFT correlation + Gauss-Newton on binned luminance",
            }
        )
    (root / "data").mkdir(parents=True, exist_ok=True)
    splits = []
    for name in ("train", "val", "test", "dynamic"):
        members = [s for s in sessions if s["split"] == name]
        path = root / "data" / f"{name}.h5"
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + name.encode() * 3)  # a few bytes stand in
        f = FileInfo(f"data/{name}.h5", path.stat().st_size, sha256_file(path), name)
        (root / "parquet").mkdir(exist_ok=True)
        table = root / "parquet" / f"{name}.parquet"
        table.write_bytes(b"PAR1" + name.encode() * 5)  # the card reads only size and sha256
        rows = FileInfo(f"parquet/{name}.parquet", table.stat().st_size, sha256_file(table), name)
        splits.append(
            SplitInfo(
                name=name,
                files=[f],
                rows=rows,
                sessions=[s["id"] for s in members],
                scenes=sorted({s["scene"] for s in members}),
                num_examples=sum(s["frames_short"] for s in members),
                num_bytes=f.size,
                num_short_frames=sum(s["frames_short"] for s in members),
                num_long_frames=sum(s["frames_long"] for s in members),
            )
        )
    rows = [PAIRS_HEADER]
    for s in sessions:
        if s["kind"] == "dynamic":
            continue
        for i in range(s["frames_short"]):
            lux = "nan" if s["lux"] is None else s["lux"]
            sid = s["id"]
            rows.append(
                f"{s['split']},{sid},{s['scene']},data/{s['split']}.h5,{i},0,{i:04d}.dng,"
                f"{sha256_bytes(f'{sid}/{i}'.encode())},0000.dng,{s['exposure_ratio']},"
                "2000.0,0.0333,"
                f"{s['long_exposure_s']},0.25,-0.5,0.9,{lux},{s['kind']}"
            )
    pairs = root / "pairs.csv"
    pairs.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with open(pairs, newline="", encoding="utf-8") as fh:
        table = write_pairs_parquet(csv.DictReader(fh), root / "pairs.parquet", PAIRS_COLUMNS)
    fields = {
        "name": "sublux-mini",
        "version": "1.2.0",
        "description": "A tiny DRV-style release for tests.",
        "url": "https://example.org/sublux-mini",
        "creators": [
            {"name": "Ada Lovelace", "email": "ada@example.org"},
            {"name": "Night Lab", "url": "https://example.org/lab", "type": "Organization"},
        ],
        "created": "2026-11-21T21:00:00Z",
        "tool_version": "0.1.0",
        "splits": splits,
        "sessions": sessions,
        "codec": "blosc-zstd5-bitshuffle",
        "gt_recipe": "rawpy postprocess(use_camera_wb=True, half_size=False, "
        "no_auto_bright=True, output_bps=16)",
        "extra_files": [
            FileInfo("pairs.parquet", table.stat().st_size, sha256_file(table)),
            FileInfo("pairs.csv", pairs.stat().st_size, sha256_file(pairs)),
        ],
    }
    fields.update(overrides)
    return ReleaseInfo(**fields)


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, ReleaseInfo]:
    root = tmp_path / "release"
    root.mkdir()
    return root, make_release(root)


@pytest.fixture
def card_path(release) -> Path:
    root, info = release
    return write_card(info, root / "README.md")


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_written_card_passes_the_offline_check(card_path, offline):
    assert check_card(card_path) == []
    assert check_card(card_path, check_files=True) == []


def test_front_matter_is_the_hub_metadata(card_path):
    data = DatasetCard.load(card_path).data.to_dict()
    assert data["license"] == "cc-by-4.0"
    assert data["pretty_name"] == "sublux-mini"
    assert data["task_categories"] == ["image-to-image"]
    assert {"low-light", "raw", "denoising", "bayer", "video"} <= set(data["tags"])
    assert data["annotations_creators"] == ["no-annotation"]
    assert data["source_datasets"] == ["original"]
    # 15 pairs (4 + 5 + 3 + 3 short frames with references) -> the smallest bucket.
    assert data["size_categories"] == ["n<1K"]
    configs = {c["config_name"]: c["data_files"] for c in data["configs"]}
    # The configs name the Parquet row tables only: `datasets` cannot read the HDF5 files.
    assert configs["default"] == [
        {"split": "train", "path": "parquet/train.parquet"},
        {"split": "val", "path": "parquet/val.parquet"},
        {"split": "test", "path": "parquet/test.parquet"},
    ]
    assert [c.get("default") for c in data["configs"]] == [True, None]
    # Dynamic rows have no references, so they get a config of their own.
    assert configs["dynamic"] == [{"split": "dynamic", "path": "parquet/dynamic.parquet"}]
    infos = {i["config_name"]: i for i in data["dataset_info"]}
    assert infos["default"]["features"] == card_features()
    train = infos["default"]["splits"][0]
    assert train["name"] == "train"
    assert train["num_examples"] == 9
    assert train["num_bytes"] == (card_path.parent / "parquet/train.parquet").stat().st_size
    dynamic_bytes = (card_path.parent / "parquet/dynamic.parquet").stat().st_size
    assert infos["dynamic"]["splits"] == [
        {"name": "dynamic", "num_bytes": dynamic_bytes, "num_examples": 6}
    ]
    assert infos["dynamic"]["download_size"] == dynamic_bytes


def test_prose_numbers_come_from_the_sessions(card_path):
    text = card_path.read_text(encoding="utf-8")
    for title in REQUIRED_SECTIONS:
        assert f"\n## {title}\n" in text
    comp = _section(text, "Composition")
    assert "5 sessions of 5 scenes (1 dynamic, 3 static, 1 sweep)" in comp
    assert "15 short/long pairs" in comp
    assert "21 short-exposure and 6 long-exposure frames" in comp
    assert "Sony DSC-RX100M6 (5 sessions)" in comp
    assert "**ISO:** 2000" in comp
    assert "**Short exposures:** 1/30 s; **long exposures:** 4 s–10 s" in comp
    assert "120–300 (median 300)" in comp
    assert "0.8–2.5 lux; not metered for 2 of 5 sessions" in comp
    assert "candle, warm LED at 2 m" in comp
    pre = _section(text, "Preprocessing and curation")
    assert "5 in all (1 `too_bright`, 3 `too_dark`, 1 `unreadable`)" in pre
    assert "**Rejected pairs:** 3" in pre
    assert "coarse FFT correlation + Gauss-Newton" in pre
    assert "no black-level subtraction" in pre
    assert "output_bps=16" in pre
    dist = _section(text, "Distribution")
    assert sha256_file(card_path.parent / "data/val.h5") in dist
    assert "sha256sum -c SHA256SUMS" in dist
    assert "blosc-zstd5-bitshuffle" in dist
    assert "semantic versioning" in _section(text, "Maintenance")


def test_summary_handles_missing_values():
    s = summarize_sessions(
        [
            {"id": "a", "scene": "x", "kind": "dynamic", "iso": float("nan"), "lux": None},
            {"id": "b", "scene": "x", "kind": "static", "iso": 1600, "lux": 3, "rejected": 2},
        ]
    )
    assert s.num_sessions == 2 and s.scenes == 1
    assert s.iso == (1600.0, 1600.0)
    assert s.lux == (3.0, 3.0) and s.lux_unknown == 1
    assert s.exposure_ratio is None and s.exposure_ratio_median is None
    assert s.cameras == {"unknown camera": 2}
    assert s.rejected == 2 and s.dropped == {}


@pytest.mark.parametrize(
    ("n", "bucket"),
    [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (12_345, "10K<n<100K"), (10**6, "1M<n<10M")],
)
def test_size_category_buckets(n, bucket):
    assert size_category(n) == bucket


def test_size_category_rejects_negative_counts():
    with pytest.raises(BadRelease, match="found -1"):
        size_category(-1)


def test_citation_defaults_to_bibtex_and_keeps_a_given_one(release):
    _, info = release
    bib = default_citation(info)
    assert bib.startswith("@misc{sublux_mini_2026,")
    assert "author = {Ada Lovelace and Night Lab}" in bib
    assert "https://example.org/sublux-mini" in bib
    info.citation = "@article{chen2019seeing, title={Seeing Motion in the Dark}}"
    assert default_citation(info) == info.citation
    assert info.citation in str(build_card(info))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": ""}, "url"),
        ({"creators": []}, "creator"),
        ({"creators": [{"name": "  ", "email": "x@example.org"}]}, "creator"),
        ({"splits": []}, "no splits"),
    ],
)
def test_build_refuses_an_incomplete_release(tmp_path, change, message):
    info = make_release(tmp_path, **change)
    with pytest.raises(BadRelease, match=message):
        build_card(info)
    assert not (tmp_path / "README.md").exists()
    with pytest.raises(BadRelease):
        write_card(info, tmp_path / "README.md")
    assert not (tmp_path / "README.md").exists()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: t.replace("\n## Maintenance\n", "\n## Upkeep\n"), "'## Maintenance' section"),
        (lambda t: t.replace(_section(t, "Uses"), "\n## Uses\n\n<!-- later -->\n"), "is empty"),
        (lambda t: t.replace("license: cc-by-4.0\n", ""), "`license`"),
        (lambda t: t.replace("- image-to-image\n", ""), "`task_categories`"),
        (lambda t: t.replace("n<1K", "tiny"), "size_categories"),
        (lambda t: t + "\nCurated by: [More Information Needed]\n", "More Information Needed"),
        (lambda t: t + "\nTODO: write the uses\n", "'TODO'"),
        (lambda t: t + "\n{{ direct_use }}\n", "unrendered template tag"),
        (lambda t: t.replace("num_examples: 9", "num_examples: many"), "num_examples"),
        (lambda t: t.replace("  - name: val\n", "  - name: validation\n"), "'validation'"),
        (lambda t: t.replace("pretty_name: sublux-mini\n", "pretty_name: [oops\n"), "parse"),
        (lambda t: t.split("\n---\n", 1)[1], "front matter"),
    ],
)
def test_check_card_reports_what_is_missing(card_path, mutate, expected, offline):
    card_path.write_text(mutate(card_path.read_text(encoding="utf-8")), encoding="utf-8")
    problems = check_card(card_path)
    assert problems, "the damaged card passed the check"
    assert any(expected in p for p in problems), problems


def test_check_card_with_files_finds_a_missing_data_file(card_path):
    (card_path.parent / "parquet" / "val.parquet").unlink()
    assert check_card(card_path) == []
    problems = check_card(card_path, check_files=True)
    assert len(problems) == 1 and "parquet/val.parquet" in problems[0]


def test_check_card_on_a_missing_file_does_not_go_to_the_hub(tmp_path, offline):
    problems = check_card(tmp_path / "README.md")
    assert problems and "no file" in problems[0]


def test_serials_and_gps_planted_upstream_never_reach_the_card(tmp_path, offline):
    info = make_release(tmp_path)
    info.sessions[0]["serial"] = "SN-0451-77731"
    info.sessions[1]["camera_serial_sha256"] = "f00dfeed" * 8
    info.sessions[2]["gps"] = {"lat": 22.3364, "lon": 114.2655}
    info.sessions[3]["GPSLatitude"] = "22 deg 20' 11.04\" N"
    path = write_card(info, tmp_path / "README.md")
    text = path.read_text(encoding="utf-8")
    for planted in ("SN-0451-77731", "f00dfeed", "22.3364", "114.2655", "20' 11.04"):
        assert planted not in text
    assert check_card(path) == []


@pytest.mark.parametrize(
    "line",
    [
        "serial: SN-0451-77731",
        "- camera_serial_sha256: f00dfeed",
        "BodySerialNumber=0451",
        '"gps": {"lat": 22.3}',
        "GPSLatitude: 22 deg 20' N",
        "latitude: 22.3364",
        "| session | serial | lux |",
        "Internal Serial Number : 0451",
    ],
)
def test_check_card_fails_on_a_serial_or_gps_key(card_path, line):
    text = card_path.read_text(encoding="utf-8")
    card_path.write_text(text.replace("## Maintenance\n", f"## Maintenance\n\n{line}\n"))
    problems = check_card(card_path)
    assert any("serial number or GPS" in p for p in problems), problems


def test_prose_about_serials_is_not_mistaken_for_one():
    assert find_sensitive("Camera serial numbers and GPS positions are not in the release.") == []
    # exiftool's way of printing them is caught.
    assert find_sensitive("Serial Number                   : 0451") != []
    assert find_sensitive("GPS Position                    : 22 deg 20' N") != []


def test_results_section_is_inserted_then_replaced(card_path):
    before = card_path.read_text(encoding="utf-8")
    front = before[: before.index("\n---\n", 4) + 5]
    table1 = "| model | PSNR |\n|---|---|\n| U-Net | 27.10 |"
    add_results_section(card_path, table1)
    text = card_path.read_text(encoding="utf-8")
    assert text.startswith(front)
    assert text.index("## Baseline results") < text.index("## Citation")
    assert text.index("## Maintenance") < text.index("## Baseline results")
    assert "| U-Net | 27.10 |" in text

    table2 = "| model | PSNR |\n|---|---|\n| U-Net | 28.40 |"
    add_results_section(card_path, table2)
    text = card_path.read_text(encoding="utf-8")
    assert text.count("## Baseline results") == 1
    assert "27.10" not in text and "| U-Net | 28.40 |" in text
    assert text.startswith(front)
    assert check_card(card_path) == []
    # Everything but the new section is as it was.
    assert text.replace(_section(text, "Baseline results"), "") == before


def test_results_section_is_appended_when_there_is_no_citation(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("---\nlicense: mit\n---\n\n# X\n\n## Uses\n\nSome.\n", encoding="utf-8")
    add_results_section(path, "| a |\n|---|\n| 1 |\n")
    assert path.read_text(encoding="utf-8").endswith(
        "## Uses\n\nSome.\n\n## Baseline results\n\n| a |\n|---|\n| 1 |\n\n"
    )


# -- the templates (dataset_card/templates/card) ----------------------------------------------


def test_card_text_fragments_are_as_before(card_path):
    """A few exact lines of the fixture's card, as the string-literal card.py wrote them before
    the prose moved into templates (the whole text was compared byte for byte then)."""
    text = card_path.read_text(encoding="utf-8")
    body = text[text.index("\n---\n", 4) + 5 :]
    assert body.startswith(
        "\n# sublux-mini\n\nA tiny DRV-style release for tests.  Version 1.2.0: 15 pairs of "
        "short-exposure RAW Bayer frames and long-exposure references from 5 sessions of 5 "
        "scenes, in HDF5.\n\n- **Version:** 1.2.0 (created 2026-11-21T21:00:00Z with sublux "
        "0.1.0)\n- **License:** cc-by-4.0\n- **Homepage / repository:** "
        "https://example.org/sublux-mini\n- **Curated by:** [Ada Lovelace]"
        "(mailto:ada@example.org), [Night Lab](https://example.org/lab)\n\n## Motivation\n\n"
        "A tiny DRV-style release for tests.\n\nThe dataset exists"
    )
    assert (
        "\n- **Lighting:** candle, warm LED at 2 m\n\n### Sessions\n\n| session | scene | split |"
        in body
    )
    assert (
        "| `s0000` | desk | train | static | Sony DSC-RX100M6 | captured | 2000 | 1/30 s | 10 s "
        "| 300 | 0.8 | 4 | 1 |\n" in body
    )
    assert "\n\nNo session journalled a warning.\n\n## Preprocessing and curation\n\n" in body
    assert (
        "- **Dropped frames:** 5 in all (1 `too_bright`, 3 `too_dark`, 1 `unreadable`).  " in body
    )
    assert "\n```python\nimport torch\nfrom dataset_card.reader import" in body
    assert "print(len(train), tuple(short.shape), tuple(gt.shape), float(ratio))\n```\n\n" in body
    assert "import h5py, hdf5plugin  # hdf5plugin registers the compression filters\n\n" in body
    assert body.endswith(
        "## Citation\n\n```bibtex\n" + default_citation(make_release_info()) + "\n```"
    )


def make_release_info() -> ReleaseInfo:
    """The fixture's metadata without its files (what the citation reads)."""
    return ReleaseInfo(
        name="sublux-mini",
        version="1.2.0",
        description="",
        url="https://example.org/sublux-mini",
        creators=[{"name": "Ada Lovelace"}, {"name": "Night Lab"}],
        created="2026-11-21T21:00:00Z",
        tool_version="0.1.0",
        splits=[],
        sessions=[],
    )


def test_user_text_is_escaped_in_table_cells_only_and_never_as_html(tmp_path):
    """Markdown, not HTML: a `|` or newline in a table cell is escaped as the card always did;
    `&` and quotes reach the card as written, `<` with a Markdown backslash (review finding 13:
    it would start an HTML tag), never as an HTML entity; a `{{ ... }}` in user text is not
    run."""
    root = tmp_path / "r"
    root.mkdir()
    info = make_release(root, name="Night & <Day> 'one'", description="Say {{ 1 + 1 }}.")
    info.sessions[0]["scene"] = "desk | lamp\nleft"
    info.sessions[0]["warnings"] = [{"code": "plan", "message": "ISO | changed"}]
    info.sessions[2]["lighting"] = "LED | 2 m"
    text = str(build_card(info))
    assert "# Night & \\<Day\\> 'one'\n" in text and "&amp;" not in text and "&lt;" not in text
    assert "| `s0000` | desk \\| lamp left | train |" in text
    assert "| `s0000` | `plan` | ISO \\| changed |" in text
    assert "- **Lighting:** LED | 2 m, candle, warm LED at 2 m\n" in text  # prose: as written
    assert "Say {{ 1 + 1 }}." in text and "Say 2." not in text


def test_inline_code_cells_use_the_code_filter(tmp_path):
    """The card's `code` cells (session ids, warning codes, unused files, paths, digests) go
    through :func:`dataset_card.templating.code`: plain values print between single backticks
    as before, a value holding a backtick gets a longer fence instead of breaking the cell."""
    root = tmp_path / "r"
    root.mkdir()
    info = make_release(root)
    info.sessions[0]["warnings"] = [{"code": "odd`code", "message": "m"}]
    text = str(build_card(info))
    assert "| `s0000` | `` odd`code `` | m |" in text
    f = info.files[0]
    assert f"| `{f.path}` | {f.split} | {f.size} B | `{f.sha256}` |\n" in text


def test_render_card_is_the_text_build_card_parses(release):
    _, info = release
    assert render_card(info) == str(build_card(info))


def test_templates_autoescape_html_only():
    """HTML/XML templates are autoescaped; the card's Markdown templates are not."""
    env = templating.environment()
    assert env.autoescape("report/report.html.j2") and env.autoescape("x.xml")
    assert not env.autoescape(CARD_TEMPLATE) and not env.autoescape("card/torch_example.py.j2")
    assert env.from_string("{{ x }}").render(x="<b>") == "<b>"
    assert templating.md_cell("a|b\nc") == "a\\|b c" and templating.md_cell(None) == "–"


def test_a_missing_template_name_is_an_error_not_blank_text(release):
    _, info = release
    with pytest.raises(jinja2.UndefinedError, match="'s' is undefined"):
        templating.render(CARD_TEMPLATE, card_data="", info=info)


def test_every_template_ships_in_the_wheel():
    """pyproject's package-data globs cover every file under dataset_card/templates."""
    root = Path(__file__).resolve().parents[2]
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    table = pyproject.split("[tool.setuptools.package-data]\n", 1)[1].split("\n[", 1)[0]
    line = re.search(r"^dataset_card = \[(.*)\]$", table, re.M)
    globs = re.findall(r'"([^"]+)"', line.group(1))
    package = root / "dataset_card"
    shipped = {p for g in globs for p in package.glob(g)}
    templates = {p for p in (package / templating.TEMPLATES).rglob("*") if p.is_file()}
    assert templates and templates <= shipped
    assert '    "jinja2>=3",\n' in pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]


# -- review findings 9, 10 and 13: blanks, plurals and user text ------------------------------


def _body(info: ReleaseInfo) -> str:
    text = str(build_card(info))
    return text[text.index("\n---\n", 4) + 5 :]


def test_a_card_without_description_has_no_blank_artefacts(tmp_path):
    info = make_release(tmp_path, description="")
    body = _body(info)
    assert "\n# sublux-mini\n\nVersion 1.2.0: 15 pairs of short-exposure RAW" in body
    assert "\n## Motivation\n\nThe dataset exists" in body
    assert "\n\n\n" not in body[: body.index("## Composition")]  # (the Python example has some)
    spaces = make_release(tmp_path / "s", description="   \n ")
    assert _body(spaces) == body


def test_counts_are_singular_for_one(tmp_path):
    info = make_release(tmp_path)
    info.sessions = info.sessions[:1]
    info.sessions[0].update(camera_make=None, camera_model=None, modality="video")
    body = _body(info)
    assert "in HDF5" in body and "from 1 session of 1 scene, in HDF5." in body
    comp = _section(body, "Composition")
    assert "1 session of 1 scene (1 static)" in comp
    assert "**Cameras:** unknown camera (1 session)\n" in comp
    assert "session(s)" not in _section(body, "Motivation") + body[: body.index("## Motivation")]
    mixed = make_release(tmp_path / "m")
    mixed.sessions[4]["modality"] = "video"
    assert "8-bit sRGB video in 1 session)" in _body(mixed)


def test_few_sensors_counts_sessions_without_a_camera_apart(tmp_path):
    info = make_release(tmp_path)
    assert "every frame comes from Sony DSC-RX100M6;" in _section(
        _body(info), "Bias, risks and limitations"
    )
    info.sessions[1].update(camera_make="", camera_model=None)
    limits = _section(_body(info), "Bias, risks and limitations")
    assert (
        "every frame comes from Sony DSC-RX100M6 (and 1 session whose camera was not recorded);"
        in limits
    )
    assert "unknown camera" not in limits
    for s in info.sessions:
        s.update(camera_make=None, camera_model=None)
    limits = _section(_body(info), "Bias, risks and limitations")
    assert "every frame comes from cameras not recorded (5 sessions);" in limits


def test_lighting_items_with_commas_are_joined_with_semicolons(tmp_path):
    info = make_release(tmp_path)
    info.sessions[0]["lighting"] = "LED, warm, at 2 m"
    body = _body(info)
    assert "- **Lighting:** LED, warm, at 2 m; candle; warm LED at 2 m\n" in body
    assert "were noted per session (LED, warm, at 2 m; candle; warm LED at 2 m)" in body


def test_user_html_and_markdown_show_as_text(tmp_path):
    info = make_release(
        tmp_path,
        name="R&D's <i>set</i>",
        description="# Not a heading, *not bold*, [not](a link) & <b>not bold</b> &amp;",
    )
    info.sessions[0]["lighting"] = "Tom's lamp & <b>bulb</b>"
    info.sessions[0]["scene"] = "<script>x</script>"
    info.creators = [{"name": "Ada [Lab]", "email": "ada@example.org"}]
    body = _body(info)
    prose = body[: body.index("## Citation")]
    assert "<b>" not in prose and "<i>" not in prose and "<script>" not in prose
    assert "# R&D's \\<i\\>set\\</i\\>\n" in body
    assert "- **Lighting:** Tom's lamp & \\<b\\>bulb\\</b\\>, candle, warm LED at 2 m\n" in body
    assert (
        "\\# Not a heading, \\*not bold\\*, \\[not\\](a link) & \\<b\\>not bold\\</b\\> \\&amp;"
        in body
    )
    assert "| `s0000` | \\<script\\>x\\</script\\> | train |" in body
    assert "[Ada \\[Lab\\]](mailto:ada@example.org)" in body
    assert "title = {R\\&D's <i>set</i>, version 1.2.0}" in body  # BibTeX: a code block


def test_md_text_leaves_ordinary_text_alone_and_escapes_what_markdown_reads():
    for plain in ("warm LED at 2 m", "use_camera_wb=True", "R&D's set", "-3 dB", "a - b", ""):
        assert templating.md_text(plain) == plain
    assert templating.md_text("_a_ b_") == "\\_a\\_ b\\_"
    assert templating.md_text("- item\n1. two\n---") == "\\- item\n1\\. two\n\\---"
    assert templating.md_text("a\\b `c` ~d~") == "a\\\\b \\`c\\` \\~d\\~"
    assert templating.md_text("&#38; &copy; & x") == "\\&#38; \\&copy; & x"
    assert templating.code("a`b") == "`` a`b ``" and templating.code("ab") == "`ab`"
    assert templating.count(1, "pair") == "1 pair" and templating.count(0, "pair") == "0 pairs"


def test_bibtex_special_characters_are_escaped_in_the_default_citation(tmp_path):
    info = make_release(tmp_path, name="R&D's 100% {set}_#1")
    info.creators = [{"name": "Ada $Love~lace^"}]
    bib = default_citation(info)
    assert (
        "  title = {R\\&D's 100\\% \\textbraceleft{}set\\textbraceright{}\\_\\#1, version 1.2.0},"
        in bib
    )
    assert "  author = {Ada \\$Love\\textasciitilde{}lace\\textasciicircum{}}," in bib
    assert bib.count("{") == bib.count("}")
    info.citation = "@misc{x, note={```}}"
    text = str(build_card(info))
    assert "\n````bibtex\n@misc{x, note={```}}\n````" in text
