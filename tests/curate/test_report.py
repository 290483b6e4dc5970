"""The curation report: a self-contained HTML page over a real (simulated) session.

Sessions are shot with the real ``capture`` CLI on the simulated camera (DNG files that rawpy
decodes like a camera's own), the curation result is written with the real writer, and the
page is checked as a browser would load it: parsed for every resource it references, each
embedded figure decoded, and once rendered by headless Chromium.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
import re
import shutil
import struct
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from capture.cli import app
from capture.session import open_session
from capture.sim.camera import encode_dng
from curate.errors import CurateError
from curate.report import _oriented, _shift, write_report
from curate.result import Alignment, read_alignment, write_alignment
from tests._browser import chromium, screenshot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


def _cli(*args: object) -> None:
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _shoot(path: Path, *, references: int) -> None:
    sim = ["--camera", "sim", "--sim-size", "96x128", "--iso", "2000"]
    _cli("burst", *sim, "--shutter", "1/30", "--frames", 6, "--session", path, "--scene", "desk")
    _cli("reference", *sim, "--shutter", "10", "--frames", references, "--session", path)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Two static sessions shot once: one reference frame, and two."""
    root = tmp_path_factory.mktemp("sessions")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUBLUX_SALT", "sublux-tests")
        mp.setenv("XDG_CONFIG_HOME", str(root / "config"))
        for refs in (1, 2):
            _shoot(root / f"refs{refs}", references=refs)
    return root


def _pair(bright: str, dark: str, **extra) -> dict:
    rec = {
        "bright": bright,
        "dark": dark,
        "score": 0.9,
        "margin": 0.2,
        "ambiguous": False,
        "dy": 0.5,
        "dx": -1.5,
        "aligned_corr": 0.8,
        "exposure_ratio": 300.0,
        "dark_angle": None,
        "bright_angle": None,
    }
    rec.update(extra)
    return rec


def _curate(tmp_path: Path, session: Path, *, matrix: str = "full") -> Path:
    """Copy a shot session and write a plausible alignment.json for it.

    Dark frame 0003 is dropped (too_dark), dark 0005 is rejected, the other four are paired
    with the references in turn.  ``matrix``: "full" (bright x dark, as
    curate writes it, with a path), "none".
    """
    s = tmp_path / "session"
    shutil.copytree(session, s)
    sess = open_session(s)
    darks = [Path(f.path).name for f in sess.frames("dark")]
    brights = [Path(f.path).name for f in sess.frames("bright")]
    t0 = sess.frames("dark")[0].t_start
    frames = {
        "dark": [
            {
                "file": name,
                "kept": name != "0003.dng",
                "mean_dn": 0.02 if name == "0003.dng" else 9.0 + k * 0.1,
                "rel_mean": None,
                "clipped": 0.0,
                "t": t0 + k / 16,
                "angle": None,
            }
            for k, name in enumerate(darks)
        ],
        "bright": [
            {"file": n, "kept": True, "mean_dn": 2400.0, "clipped": 0.0, "t": None, "angle": None}
            for n in brights
        ],
    }
    kept = [d for d in darks if d != "0003.dng"]
    paired = [d for d in kept if d != "0005.dng"]
    pairs = [
        _pair(
            brights[k * len(brights) // len(paired)],
            d,
            dy=0.25 * k,
            dx=-1.0 + 0.5 * k,
            score=0.9 - 0.01 * k,
        )
        for k, d in enumerate(paired)
    ]
    data = {
        "source": {
            "kind": "session",
            "session": str(s),
            "session_id": sess.session_id,
            "scene": sess.scene,
            "session_kind": sess.kind,
            "dark": str(s / "dark"),
            "bright": str(s / "bright"),
            "input_sha256": "0" * 64,
        },
        "options": {"min_aligned_corr": 0.3},
        "aligned_corr_floor": 0.3,
        "method": {"matching": "static-reference", "registration": "ecc", "features": "rank"},
        "pairs": pairs,
        "rejected": [
            _pair(brights[0], "0005.dng", aligned_corr=0.12, dy=7.0, reason="low_aligned_corr")
        ],
        "dropped": [
            {"file": "0003.dng", "pass": "dark", "reason": "too_dark", "detail": "mean 0.02 DN"}
        ],
        "frames": frames,
        "drift": {"max_px": 0.03, "thirds": [[0.0, 0.01], [0.01, 0.0], [0.01, 0.02]]},
    }
    corr = None
    if matrix == "full":
        rng = np.random.default_rng(1)
        corr = rng.uniform(0.1, 0.4, (len(brights), len(kept)))
        path = [[brights.index(p["bright"]), kept.index(p["dark"])] for p in pairs]
        for b, d in path:
            corr[b, d] = 0.9
        data["correlation"] = {"dark": kept, "bright": brights, "path": path}
    write_alignment(s / "curation", Alignment.from_json(data), correlation=corr)
    return s / "curation"


class _Page(HTMLParser):
    """Every tag with its attributes, and the text of <style> blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        (self.styles if self._in_style else self.text).append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _images(page: _Page) -> dict[str, bytes]:
    out = {}
    for tag, attrs in page.tags:
        if tag == "img":
            src = attrs["src"] or ""
            assert src.startswith("data:image/png;base64,"), src[:60]
            out[attrs["alt"] or ""] = base64.b64decode(src.split(",", 1)[1], validate=True)
    return out


def _captions(html_path: Path) -> list[str]:
    text = html_path.read_text(encoding="utf-8")
    return re.findall(r'<div class=cap>(.*?)</div><img alt="(pair_\d+\.png)"', text)


# -- the page ------------------------------------------------------------------------------


def test_page_is_self_contained_with_valid_png_figures(tmp_path, sessions):
    result = _curate(tmp_path, sessions / "refs2")
    html_path = write_report(result)
    assert html_path == result / "report" / "index.html"
    page = _parse(html_path)
    names = [t for t, _ in page.tags]
    assert "script" not in names and "link" not in names and "iframe" not in names
    for tag, attrs in page.tags:
        for key in ("src", "href", "srcset", "action", "data", "poster"):
            value = attrs.get(key)
            if value is not None and tag != "img":
                assert value.startswith("#"), f"<{tag} {key}={value!r}> leaves the page"
    css = "".join(page.styles)
    assert "url(" not in css and "@import" not in css
    assert not re.search(r"https?://", html_path.read_text(encoding="utf-8"))

    images = _images(page)
    # 4 pairs fit under max_pairs, plus intensity, correlation and shift figures.
    assert sorted(images) == [
        "correlation.png", "intensity.png", "pair_01.png", "pair_02.png", "pair_03.png",
        "pair_04.png", "shifts.png",
    ]  # fmt: skip
    for name, data in images.items():
        width, height = _png_size(data)
        assert 200 <= width <= 2000 and 50 <= height <= 2000, (name, width, height)
        assert 1000 < len(data) < 2_000_000, (name, len(data))
        # The PNG beside the page is the same figure, byte for byte.
        assert (html_path.parent / name).read_bytes() == data
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert decoded is not None and decoded.std() > 5, name


def test_page_names_pairs_drops_and_rejections(tmp_path, sessions):
    result = _curate(tmp_path, sessions / "refs2")
    html_path = write_report(result)
    text = " ".join(" ".join(_parse(html_path).text).split())
    al = read_alignment(result)
    assert f"Curation report: {al.source['scene']}" in text
    assert al.source["session_id"] in text
    assert "static" in text and "static-reference" in text
    assert "×300" in text  # exposure ratio
    assert "dark too_dark 1" in text  # dropped by pass and reason, in the header
    assert "Dropped frames (1)" in text and "mean 0.02 DN" in text
    assert "Rejected pairs (1)" in text and "low_aligned_corr" in text
    assert "Sony DSC-RX100M6 (simulated)" in text  # from session.json, via open_session
    captions = _captions(html_path)
    assert len(captions) == 4
    in_path_order = sorted(al.pairs, key=lambda p: (p.bright, p.dark))
    for (cap, _), pair in zip(captions, in_path_order, strict=True):
        assert pair.bright in cap and pair.dark in cap
        assert f"dy {pair.dy:+.2f}, dx {pair.dx:+.2f} px" in cap
        assert f"aligned r <b>{pair.aligned_corr:.3f}</b>" in cap
        assert "mean |Δ|" in cap  # both frames were decoded and compared
    assert "the chosen path" in text  # the correlation heat map, not the fallback


def test_untrusted_text_is_escaped(tmp_path, sessions):
    result = _curate(tmp_path, sessions / "refs2")
    al = read_alignment(result)
    data = al.to_json()
    data["source"]["scene"] = 'desk"><script>alert(1)</script>'
    data["dropped"][0]["detail"] = "<img src=http://example.invalid/x.png>"
    write_alignment(result, Alignment.from_json(data))
    page = _parse(write_report(result))
    assert "script" not in [t for t, _ in page.tags]
    assert all((a.get("src") or "").startswith("data:") for t, a in page.tags if t == "img")
    assert "<img src=http://example.invalid/x.png>" in " ".join(page.text)


def test_a_session_name_and_a_drop_reason_holding_markup_are_shown_as_text(tmp_path, sessions):
    """The page is rendered from its template with autoescaping: text from the session and
    the result never becomes markup."""
    result = _curate(tmp_path, sessions / "refs2")
    meta = json.loads((result.parent / "session.json").read_text())
    meta["scene"] = "<script>alert('scene')</script>"
    (result.parent / "session.json").write_text(json.dumps(meta))
    data = read_alignment(result).to_json()
    data["source"]["scene"] = None  # the title and heading then come from session.json
    data["dropped"][0]["reason"] = "<script>alert('reason')</script>"
    data["rejected"][0]["reason"] = '"><b onmouseover=alert(1)>'
    write_alignment(result, Alignment.from_json(data))
    html_path = write_report(result)
    page = _parse(html_path)
    tags = [t for t, _ in page.tags]
    assert "script" not in tags and all(
        not any(k.startswith("on") for k in a) for _, a in page.tags
    )
    text = " ".join(page.text)
    assert "Curation report: <script>alert('scene')</script>" in text
    assert "<script>alert('reason')</script>" in text
    assert '"><b onmouseover=alert(1)>' in text
    raw = html_path.read_text(encoding="utf-8")
    assert (
        "<title>sublux curation: &lt;script&gt;alert(&#39;scene&#39;)&lt;/script&gt;</title>" in raw
    )


def test_contact_sheet_chooses_pairs_evenly_and_clears_stale_rows(tmp_path, sessions):
    result = _curate(tmp_path, sessions / "refs2")
    html_path = write_report(result)
    assert (html_path.parent / "pair_04.png").exists()
    steps = []
    html_path = write_report(result, max_pairs=2, progress=lambda s, d, t: steps.append((d, t)))
    pairs = sorted(read_alignment(result).pairs, key=lambda p: (p.bright, p.dark))
    captions = _captions(html_path)
    assert [name for _, name in captions] == ["pair_01.png", "pair_02.png"]
    assert pairs[0].dark in captions[0][0] and pairs[-1].dark in captions[1][0]
    assert sorted(p.name for p in html_path.parent.glob("pair_*.png")) == [
        "pair_01.png",
        "pair_02.png",
    ]
    assert steps == [(k, 5) for k in range(1, 6)]  # 2 pairs and 3 figures


def test_single_reference_shows_per_frame_scores(tmp_path, sessions):
    html_path = write_report(_curate(tmp_path, sessions / "refs1"))
    text = " ".join(_parse(html_path).text)
    assert "One reference: the correlation of each kept dark frame with it." in text
    assert (html_path.parent / "correlation.png").stat().st_size > 1000


def test_without_a_matrix_the_scores_per_pair_are_shown(tmp_path, sessions):
    html_path = write_report(_curate(tmp_path, sessions / "refs2", matrix="none"))
    text = " ".join(_parse(html_path).text)
    assert "No correlation matrix was saved" in text
    assert "correlation.png" in _images(_parse(html_path))


def test_missing_frame_is_a_labelled_placeholder_not_a_failure(tmp_path, sessions, caplog):
    result = _curate(tmp_path, sessions / "refs2")
    first_dark = min((p.bright, p.dark) for p in read_alignment(result).pairs)[1]
    (result.parent / "dark" / first_dark).unlink()
    with caplog.at_level(logging.WARNING, logger="curate.report"):
        html_path = write_report(result)
    assert any(first_dark in r.getMessage() for r in caplog.records)
    captions = _captions(html_path)
    assert "mean |Δ|" not in captions[0][0] and "mean |Δ|" in captions[1][0]
    assert (html_path.parent / "pair_01.png").exists()


def test_moved_session_is_found_through_the_session_argument(tmp_path, sessions):
    result = _curate(tmp_path, sessions / "refs2")
    moved = tmp_path / "elsewhere"
    shutil.copytree(result.parent, moved)
    shutil.rmtree(result.parent / "dark")  # the recorded session no longer has its frames
    html_path = write_report(moved / "curation", session=moved)
    assert html_path.parent == moved / "curation" / "report"
    assert all("mean |Δ|" in cap for cap, _ in _captions(html_path))


def test_no_result_is_a_curate_error(tmp_path):
    with pytest.raises(CurateError, match="curate align"):
        write_report(tmp_path)


# -- what the tiles show -------------------------------------------------------------------


def _dng(path: Path, mosaic: np.ndarray, exposure: Fraction) -> None:
    path.write_bytes(
        encode_dng(
            mosaic, make="Sony", model="DSC-RX100M6", serial=None, iso=2000,
            exposure_s=exposure, f_number=Fraction(28, 10), taken=1.8e9,
            neutral=(1.0, 1.0, 1.0),
        )
    )  # fmt: skip


def _mean_diff(caption: str) -> float:
    return float(re.search(r"mean \|Δ\| ([0-9.]+)", caption).group(1))


def test_dark_tile_is_shifted_onto_the_bright_one_and_gained(tmp_path, synth):
    """Folder mode, frames with a known shift: only the recorded shift lines them up."""
    rng = np.random.default_rng(7)
    shift = (6.0, -10.0)  # full-resolution px: dark (y, x) is bright (y + 6, x - 10)
    darks, bright = synth.pair(rng, (128, 192), shift, electrons=50.0)
    (tmp_path / "dark").mkdir()
    (tmp_path / "bright").mkdir()
    _dng(tmp_path / "dark" / "0000.dng", darks[0], Fraction(1, 30))
    _dng(tmp_path / "bright" / "0000.dng", bright, Fraction(2, 15))
    ratio = 200.0 / 50.0  # the synthetic reference holds 200 e-/px
    trials = {"right": shift, "none": (0.0, 0.0), "backwards": (-shift[0], -shift[1])}
    pairs = [_pair("0000.dng", "0000.dng", dy=dy, dx=dx, exposure_ratio=ratio) for dy, dx in
             trials.values()]  # fmt: skip
    data = {
        "source": {"kind": "folders", "session": None, "session_id": None, "scene": "synthetic",
                   "session_kind": None, "dark": str(tmp_path / "dark"),
                   "bright": str(tmp_path / "bright"), "input_sha256": None},
        "options": {}, "method": {"matching": "static-reference"},
        "pairs": pairs, "rejected": [], "dropped": [],
        "frames": {"dark": [{"file": "0000.dng", "kept": True, "mean_dn": 500.0}],
                   "bright": [{"file": "0000.dng", "kept": True, "mean_dn": 2000.0}]},
    }  # fmt: skip
    write_alignment(tmp_path / "out", Alignment.from_json(data))
    html_path = write_report(tmp_path / "out")
    diffs = dict(zip(trials, (_mean_diff(c) for c, _ in _captions(html_path)), strict=True))
    assert diffs["right"] < 0.6 * diffs["none"], diffs
    assert diffs["right"] < 0.6 * diffs["backwards"], diffs

    strip = cv2.imdecode(
        np.frombuffer((html_path.parent / "pair_01.png").read_bytes(), np.uint8), cv2.IMREAD_COLOR
    )
    # Tiles are 256 px wide (the 2x2-binned 64x96 frames enlarged), below a 20 px label band,
    # 6 px apart.
    assert strip.shape[1] == 3 * 256 + 4 * 6
    dark_tile = strip[20:190, 6:262].astype(float)
    bright_tile = strip[20:190, 268:524].astype(float)
    # The gain brings the dark frame to the reference's brightness (without it, 4x darker).
    assert abs(dark_tile.mean() / bright_tile.mean() - 1) < 0.1
    assert bright_tile.std() > 20  # a scene, not a placeholder


def test_fast_shift_is_scipy_shift():
    """The OpenCV warp used for speed moves content exactly as ``scipy.ndimage.shift``."""
    from scipy import ndimage

    rng = np.random.default_rng(3)
    image = ndimage.gaussian_filter(rng.random((40, 56, 3)), (2, 2, 0)).astype(np.float32)
    for dy, dx in [(2.3, -4.7), (-0.5, 0.25), (0.0, 6.0)]:
        expected = ndimage.shift(image, (dy, dx, 0), order=1, mode="nearest")
        np.testing.assert_allclose(_shift(image, dy, dx), expected, atol=1e-4)


def test_correlation_matrix_is_drawn_as_saved_and_a_wrong_shape_is_not_drawn():
    """curate writes bright x dark; a square matrix with a rejected pair (a path longer than
    the kept pairs) is still drawn as saved, and one whose shape contradicts the frame lists
    is left out rather than guessed."""
    square = np.array([[0.9, 0.1], [0.2, 0.8]])
    meta = {"dark": ["a", "b"], "bright": ["x", "y"], "path": [[0, 0], [1, 1]]}
    al = Alignment.from_json(
        {"correlation": meta, "pairs": [{"bright": "x", "dark": "a", "score": 0.9}]}, Path(".")
    )
    np.testing.assert_array_equal(_oriented(al, square), square)
    meta = {"dark": ["a", "b", "c"], "bright": ["x", "y"], "path": [[0, 0], [1, 2]]}
    al = Alignment.from_json({"correlation": meta, "pairs": []}, Path("."))
    bright_by_dark = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(_oriented(al, bright_by_dark), bright_by_dark)
    assert _oriented(al, bright_by_dark.T) is None


def test_dark_frames_from_a_video_are_read_at_their_frame_number(tmp_path, sessions):
    """Folder mode with the dark pass as a video: ``frame_000003`` is the fourth frame.

    Each frame shows its own pattern, the reference frame 3's brighter: 8-bit frames are
    matched to the reference's brightness (the camera rendered them with its own gain), so
    a frame is told from another by what it shows, not by its level."""
    video = tmp_path / "dark.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 24.0, (128, 96))
    assert writer.isOpened()
    rng = np.random.default_rng(11)
    patterns = [cv2.GaussianBlur(rng.uniform(0.4, 1.6, (96, 128)), (0, 0), 6) for _ in range(5)]
    patterns = [0.5 + (p - p.min()) / (p.max() - p.min()) for p in patterns]  # 0.5 .. 1.5
    levels = [40, 80, 120, 60, 60]
    for level, pattern in zip(levels, patterns, strict=True):
        writer.write(np.repeat((level * pattern)[..., None], 3, axis=2).astype(np.uint8))
    writer.release()
    bright = tmp_path / "bright"
    bright.mkdir()
    ref = np.repeat((150 * patterns[3])[..., None], 3, axis=2).astype(np.uint8)
    cv2.imwrite(str(bright / "ref.png"), ref)
    data = {
        "source": {"kind": "folders", "session": None, "session_id": None, "scene": "clip",
                   "session_kind": None, "dark": str(video), "bright": str(bright),
                   "input_sha256": None},
        "options": {}, "method": {"matching": "monotonic-dp"},
        "pairs": [_pair("ref.png", "frame_000003", dy=0.0, dx=0.0, exposure_ratio=1.0),
                  _pair("ref.png", "frame_000000", dy=0.0, dx=0.0, exposure_ratio=1.0)],
        "rejected": [], "dropped": [],
        "frames": {"dark": [{"file": f"frame_{k:06d}", "kept": True, "mean_dn": float(v)}
                            for k, v in enumerate(levels)],
                   "bright": [{"file": "ref.png", "kept": True, "mean_dn": 200.0}]},
    }  # fmt: skip
    write_alignment(tmp_path / "out", Alignment.from_json(data))
    html_path = write_report(tmp_path / "out")
    diffs = {re.search(r"frame_\d+", c).group(0): _mean_diff(c) for c, _ in _captions(html_path)}
    near, far = diffs["frame_000003"], diffs["frame_000000"]
    assert near < 0.03 < far  # frame 3 (its pattern) matches the reference; frame 0 does not


# -- in a browser --------------------------------------------------------------------------


@pytest.mark.browser
def test_page_renders_in_headless_chromium(tmp_path, sessions):
    exe = chromium()
    html_path = write_report(_curate(tmp_path, sessions / "refs2"))
    shot = tmp_path / "shot.png"
    proc = screenshot(
        exe, html_path.as_uri(), shot, profile=tmp_path / "profile", size=(1280, 2000)
    )
    assert shot.exists(), proc.stderr[-2000:]
    image = cv2.imread(str(shot), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (2000, 1280)
    assert image.std() > 20  # not a blank page
    # The contact sheet (dark rows of tiles) sits below the header: plenty of dark pixels.
    sheet = image[500:1400].mean(axis=2)
    assert (sheet < 60).mean() > 0.2
    # The tiles themselves are pictures, not flat placeholders.
    assert sheet[sheet < 250].std() > 20


# -- integrity, references and warnings (issue 9) ------------------------------------------


def test_report_shows_warnings_references_and_digests(tmp_path):
    from tests.curate._sessions import static_session

    s = static_session(
        tmp_path / "s",
        frames=6,
        refs=3,
        ref_offsets={2: (0.0, 4.0)},
        warnings=(("camera_behind", "the camera reached 7.6 frames/s of the 16 planned"),),
    )
    journalled = hashlib.sha256((s / "dark/0003.dng").read_bytes()).hexdigest()
    shutil.copy2(s / "dark/0005.dng", s / "dark/0003.dng")
    from curate.pipeline import align_session

    result = align_session(s).parent
    text = " ".join(" ".join(_parse(write_report(result)).text).split())
    assert "Session warnings (1)" in text and "camera_behind" in text
    assert "the camera reached 7.6 frames/s of the 16 planned" in text
    assert "References (2 kept, 1 dropped)" in text
    assert "reference_moved" in text and "max_drift_px" in text
    assert "hash_mismatch" in text and f"journal {journalled[:12]}…" in text
    al = read_alignment(result)
    for r in al.references:
        assert r.file in text


def test_a_frame_changed_after_curation_is_not_shown(tmp_path, caplog):
    from curate.pipeline import align_session
    from tests.curate._sessions import static_session

    s = static_session(tmp_path / "s", frames=4)
    result = align_session(s).parent
    shutil.copy2(s / "dark/0001.dng", s / "dark/0000.dng")  # after curation
    with caplog.at_level(logging.WARNING, logger="curate.report"):
        html_path = write_report(result)
    assert any("0000.dng" in r.getMessage() and "sha256" in r.getMessage() for r in caplog.records)
    captions = dict((name, cap) for cap, name in _captions(html_path))
    assert "mean |Δ|" not in captions["pair_01.png"]  # a placeholder, not the replaced pixels
    assert all("mean |Δ|" in c for n, c in captions.items() if n != "pair_01.png")


# -- 8-bit frames, the session's facts, the numbering (review findings 1 and 11) -------------


def _tiles(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dark, bright and difference tiles of a contact-sheet row (RGB, 256 px wide)."""
    strip = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return tuple(strip[20:190, x : x + 256].astype(float) for x in (6, 268, 530))


def test_a_video_sessions_dark_tile_is_matched_to_the_bright_one_not_gained_x300(tmp_path):
    """An imported video's frames are the camera's rendering (the dark pass brightened to
    ~30 of 255): the exposure ratio (x300 here) made the dark tile white and the difference
    solid red. The gain is measured instead, and the difference shows noise, not the curve."""
    from capture.importer import import_footage
    from curate.pipeline import align_session
    from tests.curate.test_video_sessions import seed_footage

    dark, bright = seed_footage(tmp_path / "f", bright_png=False)
    s = tmp_path / "s"
    import_footage(
        s, dark=dark, bright=bright, scene="tt", kind="sweep", exposure="1/30",
        bright_exposure="10", iso=2000, simulated=True,
    )  # fmt: skip
    al = read_alignment(align_session(s).parent)
    assert al.pairs[0].exposure_ratio == pytest.approx(300.0)
    html_path = write_report(s, max_pairs=4)
    text = " ".join(" ".join(_parse(html_path).text).split())
    assert "not recorded (8-bit sRGB video, simulated)" in text  # the camera fact
    from capture.session import open_session
    from curate.report import _eight_bit_passes

    # the intensity figure's axes say grey levels for both passes, not DN above black
    assert _eight_bit_passes(al, s / "dark", open_session(s)) == {"dark", "bright"}
    assert "measured ratio of the two frames' median brightness" in text
    captions = _captions(html_path)
    assert len(captions) == 4
    for caption, name in captions:
        assert "(measured: 8-bit frames)" in caption and "gain ×300" not in caption
        dark_tile, bright_tile, diff = _tiles(html_path.parent / name)
        assert (dark_tile.min(axis=2) > 250).mean() < 0.02, name  # not white
        assert abs(dark_tile.mean() / bright_tile.mean() - 1) < 0.25, name
        red = (diff[..., 0] > 150) & (diff[..., 2] < 100)
        blue = (diff[..., 2] > 150) & (diff[..., 0] < 100)
        assert red.mean() < 0.05 and blue.mean() < 0.05, name  # noise, not a solid colour


def test_imported_simulated_frames_are_marked_simulated_and_warning_times_are_utc(tmp_path):
    """The camera fact follows Session.simulated (the simulated camera's DNGs imported as
    from a card say so, like the card and the manifest); a warning's time is UTC text."""
    from capture.importer import import_footage
    from capture.session import open_session
    from curate.pipeline import align_session
    from tests.curate._sessions import static_session

    shot = static_session(tmp_path / "shot", frames=4)
    s = tmp_path / "imported"
    import_footage(s, dark=shot / "dark", bright=shot / "bright", scene="hall")
    assert open_session(s).camera.driver == "import" and open_session(s).simulated
    align_session(s)
    text = " ".join(" ".join(_parse(write_report(s)).text).split())
    assert "Sony DSC-RX100M6 (simulated)" in text

    warned = static_session(
        tmp_path / "warned", frames=4, warnings=(("camera_behind", "reached 7.6 of 16"),)
    )
    (warning,) = open_session(warned).warnings
    align_session(warned)
    text = " ".join(" ".join(_parse(write_report(warned)).text).split())
    when = datetime.datetime.fromtimestamp(warning.t, tz=datetime.timezone.utc)
    assert f"camera_behind reached 7.6 of 16 {when:%Y-%m-%d %H:%M:%S} UTC" in text
    assert f"{warning.t:.1f}" not in text


def test_the_header_and_the_contact_sheet_say_what_their_numbers_are(tmp_path, sessions):
    result = _curate(tmp_path, sessions / "refs2")
    al = read_alignment(result)
    every = sorted([(p.bright, p.dark, False) for p in al.pairs]
                   + [(p.bright, p.dark, True) for p in al.rejected])  # fmt: skip
    rejected = [n for n, (_, _, rej) in enumerate(every, start=1) if rej]
    html_path = write_report(result, max_pairs=2)
    text = " ".join(" ".join(_parse(html_path).text).split())
    assert "pairs kept 4 from 6 dark frames and 2 bright frames" in text
    numbers = [int(re.search(r'class="no">#(\d+)<', c).group(1)) for c, _ in _captions(html_path)]
    kept = [n for n, (_, _, rej) in enumerate(every, start=1) if not rej]
    skipped = [n for n in kept if n not in numbers]
    assert numbers == [kept[0], kept[-1]] and len(skipped) == 2
    assert (
        "Each row's number is the pair's in the tables below (all 5 pairs, rejected ones "
        "included, sorted by bright then dark file); not in the sheet: kept pairs not shown: "
        f"#{skipped[0]}, #{skipped[1]}; rejected pairs: #{rejected[0]}."
    ) in text
