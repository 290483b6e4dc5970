"""The curator's decisions: review.jsonl, their re-application, the CLI and the page."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from capture.sim.objects import MovingObject
from curate import review as reviewmod
from curate.cli import app
from curate.pipeline import align_session
from curate.review_server import ReviewServer, Target
from tests._browser import Chromium, chromium
from tests.curate._sessions import static_session

runner = CliRunner()


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> Path:
    """A curated static session whose frames 2 and 3 were crossed by an object."""
    base = tmp_path_factory.mktemp("review")
    s = static_session(
        base / "s", size=(96, 128), frames=10, refs=1, objects=[MovingObject(frames=[2, 3])]
    )
    align_session(s)
    return s


@pytest.fixture
def session(curated, tmp_path) -> Path:
    s = tmp_path / "s"
    shutil.copytree(curated, s)
    return s


def _result(s: Path) -> dict:
    return json.loads((s / "curation" / "alignment.json").read_text())


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_reject_and_restore_from_the_command_line_apply_at_the_next_run(session):
    before = _result(session)
    assert {d["file"] for d in before["dropped"] if d["reason"] == "motion"} == {
        "0002.dng",
        "0003.dng",
    }
    r = _invoke("review", session, "--reject", "0005.dng", "--reason", "lens touched")
    assert r.exit_code == 0, r.output
    r = _invoke("review", session, "--restore", "dark/0003.dng", "--reason", "a cat, fine")
    assert r.exit_code == 0, r.output
    lines = (session / "curation" / "review.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first["file"] == "dark/0005.dng" and first["decision"] == "reject"
    assert first["reason"] == "lens touched" and first["user"] and first["time"].endswith("Z")
    # the next run (no --force: the decisions are part of what it is up to date with)
    after = json.loads(align_session(session).read_text())
    by = {d["file"]: d for d in after["dropped"]}
    assert by["0005.dng"]["reason"] == "review"
    assert "lens touched" in by["0005.dng"]["detail"]
    assert by["0005.dng"]["review"]["reason"] == "lens touched"
    assert "0003.dng" not in by  # restored: motion overruled
    assert by["0002.dng"]["reason"] == "motion"
    paired = {p["dark"] for p in after["pairs"]}
    assert "0003.dng" in paired and "0005.dng" not in paired
    assert after["review"]["rejected"] == ["dark/0005.dng"]
    assert after["review"]["restored"] == ["dark/0003.dng"]
    # a later restore undoes the reject
    assert _invoke("review", session, "--restore", "0005.dng").exit_code == 0
    again = json.loads(align_session(session).read_text())
    assert "0005.dng" in {p["dark"] for p in again["pairs"]}


def test_bad_requests_exit_2_and_say_what_to_do(session, tmp_path):
    r = _invoke("review", session, "--reject", "dark/0050.dng", "--reason", "x")
    assert r.exit_code == 2
    assert "not one of its" in r.output and "dark/0005.dng" in r.output  # nearest names
    r = _invoke("review", session, "--reject", "0000.dng", "--reason", "x")
    assert r.exit_code == 2 and "dark/0000.dng" in r.output and "bright/0000.dng" in r.output
    r = _invoke("review", session, "--reject", "0005.dng")
    assert r.exit_code == 2 and "--reason" in r.output
    bare = static_session(tmp_path / "bare", size=(64, 96), frames=4)
    r = _invoke("review", bare, "--reject", "0001.dng", "--reason", "x")
    assert r.exit_code == 2 and "curate align" in r.output
    assert _invoke("review", bare, "--no-browser").exit_code == 2
    assert not (session / "curation" / "review.jsonl").exists()


def test_a_damaged_line_is_named_and_the_others_apply(session):
    path = session / "curation" / "review.jsonl"
    good = {"time": "t", "user": "u", "file": "dark/0006.dng", "decision": "reject", "reason": "r"}
    path.write_text(
        json.dumps(good) + "\n" + "{not json\n" + '{"file": "dark/0007.dng", "decision": "rej'
    )  # the last line torn by a crash
    kept = path.read_bytes()
    a = json.loads(align_session(session).read_text())
    assert {d["file"] for d in a["dropped"] if d["reason"] == "review"} == {"0006.dng"}
    damaged = [w for w in a["warnings"] if "review.jsonl line" in w]
    assert len(damaged) == 2 and "line 2" in damaged[0] and "line 3" in damaged[1]
    assert a["review"]["damaged"] == damaged
    # appending keeps every byte that was there, and the new line is whole
    reviewmod.append(session / "curation", "dark/0008.dng", "reject", "smudge")
    data = path.read_bytes()
    assert data.startswith(kept)
    review = reviewmod.load(session / "curation")
    assert review.rejected("dark", "0008.dng") and review.rejected("dark", "0006.dng")
    assert len(review.damaged) == 2


def test_decisions_on_frames_the_curation_lacks_or_cannot_vouch_for_are_warned(session):
    folder = session / "curation"
    reviewmod.append(folder, "dark/9999.dng", "reject", "gone")
    (session / "dark" / "0004.dng").write_bytes(b"replaced")  # now a hash_mismatch
    reviewmod.append(folder, "dark/0004.dng", "restore", "keep it")
    a = json.loads(align_session(session).read_text())
    assert any("dark/9999.dng" in w for w in a["warnings"])
    assert any("dark/0004.dng (hash_mismatch)" in w for w in a["warnings"])
    assert {d["file"]: d["reason"] for d in a["dropped"]}["0004.dng"] == "hash_mismatch"


def _request(url, *, data=None, host=None):
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if host:
        req.add_header("Host", host)
    if data:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_server_answers_only_under_its_token_and_to_local_hosts(session):
    with ReviewServer([Target("s", session / "curation", session)], user="tester") as srv:
        assert srv.httpd.server_address[0] == "127.0.0.1"
        assert len(srv.token) >= 20
        code, page = _request(srv.url)
        assert code == 200 and b"dark/0002.dng" in page and b"dropped: motion" in page
        base = srv.url.rsplit("/", 2)[0]
        assert _request(base + "/wrongtoken/")[0] == 404
        assert _request(srv.url, host="evil.example:80")[0] == 404
        code, png = _request(srv.url + "preview.png?target=0&file=dark/0002.dng")
        assert code == 200 and png.startswith(b"\x89PNG")
        body = json.dumps(
            {"target": 0, "file": "dark/0050.dng", "decision": "reject", "reason": "x"}
        ).encode()
        code, answer = _request(srv.url + "decide", data=body)
        assert code == 400 and b"nearest" in answer
        body = json.dumps(
            {"target": 0, "file": "dark/0001.dng", "decision": "reject", "reason": "blur"}
        ).encode()
        assert _request(srv.url + "decide", data=body)[0] == 200
    d = reviewmod.load(session / "curation").rejected("dark", "0001.dng")
    assert d is not None and d.user == "tester" and d.reason == "blur"


# -- in a browser --------------------------------------------------------------------------


@pytest.mark.browser
def test_the_page_rejects_a_frame_by_keyboard_in_headless_chromium(session, tmp_path):
    exe = chromium()
    with ReviewServer([Target("s", session / "curation", session)], user="tester") as srv:
        browser = Chromium(exe, tmp_path / "profile")
        try:
            browser.open(srv.url)
            assert browser.wait_for("document.body && document.body.dataset.ready") == "1"
            # the previews load (they are the report's)
            assert browser.wait_for(
                "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
                " && document.images.length"
            )
            second = browser.wait_for("document.querySelectorAll('.item')[1].dataset.file")
            browser.key("/", "Slash", 191, "/")  # to the reason field
            browser.send("Input.insertText", text="reflection on the lens")
            browser.key("Escape", "Escape", 27)
            browser.key("j", "KeyJ", 74, "j")  # the second item
            browser.key("x", "KeyX", 88, "x")  # reject it
            said = browser.wait_for(
                "(document.querySelector('.item.sel .decision').textContent.includes('rejected')"
                " && document.querySelector('.item.sel .decision').textContent)"
            )
        finally:
            browser.close()
    assert "reflection on the lens" in said
    lines = (session / "curation" / "review.jsonl").read_text().splitlines()
    (rec,) = [json.loads(x) for x in lines]
    assert rec["file"] == second and rec["decision"] == "reject"
    assert rec["reason"] == "reflection on the lens" and rec["user"] == "tester"
    pass_, name = second.split("/")
    a = json.loads(align_session(session).read_text())
    by = {(d["pass"], d["file"]): d for d in a["dropped"]}
    assert by[pass_, name]["reason"] == "review"
    assert "reflection on the lens" in by[pass_, name]["detail"]
    assert name not in {p[pass_] for p in a["pairs"]}


def test_folder_mode_results_take_decisions_under_out(curated, tmp_path):
    from curate.pipeline import align_folders

    out = tmp_path / "out"
    align_folders(curated / "dark", curated / "bright", out=out, kind="static")
    r = _invoke("review", out, "--reject", "dark/0006.dng", "--reason", "blurred")
    assert r.exit_code == 0, r.output
    assert (out / "review.jsonl").exists()
    a = json.loads(align_folders(curated / "dark", curated / "bright", out=out, kind="static")
                   .read_text())  # fmt: skip
    assert {d["file"]: d["reason"] for d in a["dropped"]}["0006.dng"] == "review"


def test_a_pair_rejected_for_its_aligned_correlation_can_be_restored(session):
    from curate.pipeline import Options

    strict = Options(rel_aligned_corr=0.999)  # most pairs fall below 0.999 x the median
    a = json.loads(align_session(session, options=strict, force=True).read_text())
    low = [p for p in a["rejected"] if p["reason"] == "low_aligned_corr"]
    assert low
    name = low[0]["dark"]
    assert _invoke("review", session, "--restore", f"dark/{name}").exit_code == 0
    b = json.loads(align_session(session, options=strict).read_text())
    back = {p["dark"]: p for p in b["pairs"]}
    assert back[name]["review"]["restored"] == "low_aligned_corr"
    assert name not in {p["dark"] for p in b["rejected"]}


def test_append_returns_the_line_number_of_the_new_decision(tmp_path):
    from curate import review as rv

    assert rv.append(tmp_path, "dark/0000.dng", "reject", "blur").line == 1
    assert rv.append(tmp_path, "dark/0001.dng", "reject", "blur").line == 2
    with open(tmp_path / rv.REVIEW_FILE, "ab") as fh:
        fh.write(b'{"torn')  # a torn last line: the next decision goes on a line of its own
    assert rv.append(tmp_path, "dark/0002.dng", "restore").line == 4
    assert len((tmp_path / rv.REVIEW_FILE).read_bytes().splitlines()) == 4


class _PageParser(HTMLParser):
    """What a browser makes of the page: its script elements, headings, items and text."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.headings: list[str] = []
        self.items: list[dict] = []
        self.text: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._tag = tag
        self.scripts += tag == "script"
        if tag == "div" and "item" in (a.get("class") or "").split():
            self.items.append({**a, "img": None})
        if tag == "img" and self.items:
            self.items[-1]["img"] = a

    def handle_data(self, data):
        if self._tag == "h2":
            self.headings.append(data)
        if self._tag != "script":
            self.text.append(data)

    def handle_endtag(self, tag):
        self._tag = ""


def test_names_and_reasons_on_the_page_are_text_not_markup(session):
    evil = "\"'><script>alert(1)</script>"
    result = session / "curation"
    # a dropped frame whose name and reason hold markup and quotes, as a hand-edited or
    # hostile alignment.json could
    a = _result(session)
    d = next(d for d in a["dropped"] if d["pass"] == "dark")
    d["file"], d["reason"] = f"x{evil}.dng", f"motion{evil}"
    (result / "alignment.json").write_text(json.dumps(a))
    reviewmod.append(result, "dark/0005.dng", "reject", f"lens{evil}", user="tester")
    with ReviewServer([Target(f"scene{evil}", result, session)], user="tester") as srv:
        code, page = _request(srv.url)
    assert code == 200
    assert b"<script>alert" not in page and page.count(b"<script>") == 1  # the page's own
    parsed = _PageParser()
    parsed.feed(page.decode())
    assert parsed.scripts == 1
    assert parsed.headings == [f"scene{evil}"]
    (item,) = [i for i in parsed.items if i["data-file"] == f"dark/x{evil}.dng"]
    assert item["data-target"] == "0" and item["img"]["alt"] == f"dark/x{evil}.dng"
    assert item["img"]["src"] == "preview.png?target=0&file=" + quote(f"dark/x{evil}.dng")
    text = "".join(parsed.text)
    assert f"dropped: motion{evil}" in text
    assert f"rejected: lens{evil}" in text
    (rejected,) = [i for i in parsed.items if i["data-file"] == "dark/0005.dng"]
    assert rejected["class"] == "item reject"
