"""Imported video passes through curation, and the seed's 8-bit rule for 8-bit frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.importer import import_footage
from curate.errors import BadInput
from curate.pipeline import align_folders, align_session
from curate.result import read_alignment

H, W = 64, 96


@pytest.fixture(autouse=True)
def _salt(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("SUBLUX_SALT", "sublux-tests")


def _scene(seed=0):
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.uniform(0, 255, (H, W + 100, 3)), (0, 0), 2.5)


def _frame(big, i, level, rng=None):
    f = big[:, 2 * i : 2 * i + W] * (level / big.mean())
    if rng is not None:
        f = f + rng.normal(0, 3, f.shape)
    return np.clip(f, 0, 255).astype(np.uint8)


def seed_footage(folder: Path, *, bright_png: bool) -> tuple[Path, Path]:
    """The seed's kind of footage: a 48-frame dark MP4 at mean ~30 of 255 (the scene moves two
    pixels a frame), and its bright pass (mean 99 of 255) every 4th frame: 12 frames."""
    folder.mkdir(parents=True, exist_ok=True)
    big, rng = _scene(), np.random.default_rng(1)
    fourcc = cv2.VideoWriter_fourcc(*"mp4v")
    dark = folder / "dark.mp4"
    w = cv2.VideoWriter(str(dark), fourcc, 24.0, (W, H))
    for i in range(48):
        w.write(_frame(big, i, 30, rng))
    w.release()
    if bright_png:
        bright = folder / "bright"
        bright.mkdir()
        for j in range(12):
            cv2.imwrite(str(bright / f"{j:03d}.png"), _frame(big, 4 * j, 99))
    else:
        bright = folder / "bright.mp4"
        w = cv2.VideoWriter(str(bright), fourcc, 24.0, (W, H))
        for j in range(12):
            w.write(_frame(big, 4 * j, 99))
        w.release()
    return dark, bright


def imported_seed_session(tmp_path: Path, **options) -> Path:
    """:func:`seed_footage` (its bright pass an MP4) imported as a sweep session at
    ``tmp_path / "s"``, the dark video shot at 1/30 s; ``options``: import_footage's others."""
    dark, bright = seed_footage(tmp_path / "f", bright_png=False)
    s = tmp_path / "s"
    import_footage(
        s, dark=dark, bright=bright, scene="tt", kind="sweep", exposure="1/30", **options
    )
    return s


def test_bright_8bit_frames_at_99_of_255_are_kept(tmp_path):
    # the report: the 100 DN floor meant for 14-bit raw dropped these as too_dark
    dark, bright = seed_footage(tmp_path / "f", bright_png=True)
    a = read_alignment(align_folders(dark, bright, out=tmp_path / "out").parent)
    assert [d for d in a.dropped if d.pass_ == "bright"] == []
    assert len(a.pairs) == 12


def test_imported_video_session_is_curated_like_a_raw_pass(tmp_path):
    s = imported_seed_session(tmp_path, bright_exposure="1/8", iso=2000)
    a = read_alignment(align_session(s).parent)
    assert a.dropped == []
    pairs = {p.bright: p for p in a.pairs}
    assert len(pairs) == 12
    for j in range(12):
        p = pairs[f"video.mp4#{j:06d}"]
        assert p.dark == f"video.mp4#{4 * j:06d}"
        # the scene is the same in both (no motion between dark 4j and bright j)
        assert abs(p.dy) < 1.0 and abs(p.dx) < 1.0
        assert p.exposure_ratio == pytest.approx(30 / 8, rel=1e-3)


def test_a_changed_video_drops_its_frames(tmp_path):
    s = imported_seed_session(tmp_path, iso=1)
    data = bytearray((s / "dark" / "video.mp4").read_bytes())
    data[-10] ^= 0xFF
    (s / "dark" / "video.mp4").write_bytes(bytes(data))
    with pytest.raises(BadInput, match="hash_mismatch"):
        align_session(s)


def test_report_shows_the_frames_of_an_imported_video(tmp_path, caplog):
    from curate.report import write_report

    s = imported_seed_session(tmp_path, iso=1)
    align_session(s)
    with caplog.at_level("WARNING", logger="curate.report"):
        write_report(s, max_pairs=3)
    assert not [r for r in caplog.records if "not shown" in r.getMessage()]


def test_report_reads_and_copies_a_video_once(tmp_path, monkeypatch):
    # every tile of a video session is a frame of one journalled video: it is read, checked
    # and copied once for the report, not once per tile
    from capture.session import Session
    from curate import report

    s = imported_seed_session(tmp_path, iso=1)
    align_session(s)
    reads: list[str] = []
    real = Session.read_frame

    def counting(self, record):
        reads.append(record.path)
        return real(self, record)

    monkeypatch.setattr(Session, "read_frame", counting)
    report.write_report(s, max_pairs=3)
    assert reads and len(reads) == len(set(reads)), reads


def test_folder_mode_refuses_a_video_against_raw_references_and_says_to_import_it(tmp_path):
    """An 8-bit video is the camera's rendering and its file records no exposure: as folders
    the mix had no exposure ratio and nothing said what it was ("0 pairs, ratio unknown",
    exit 0). Refused before anything is decoded (exit 2): a session holds such a mix (its
    import journals it, the release states it), so the message says how to import it."""
    from typer.testing import CliRunner

    from curate.cli import app
    from tests.curate._sessions import static_session

    dark, _ = seed_footage(tmp_path / "f", bright_png=False)
    raw = static_session(tmp_path / "raw", frames=2)
    with pytest.raises(
        BadInput, match="expected dark and bright frames of one kind in folder mode"
    ) as info:
        align_folders(dark, raw / "bright", out=tmp_path / "out")
    message = str(info.value)
    assert "dark: 8-bit video (dark.mp4), bright: raw files (0000.dng)" in message
    assert "capture import --session DIR --scene NAME --dark VIDEO --bright FOLDER" in message
    assert not (tmp_path / "out" / "alignment.json").exists()
    with pytest.raises(BadInput, match=r"dark: raw files .*, bright: 8-bit images"):
        align_folders(raw / "dark", seed_footage(tmp_path / "g", bright_png=True)[1],
                      out=tmp_path / "out")  # fmt: skip
    args = ["align", "--dark", dark, "--bright", raw / "bright", "--out", tmp_path / "out"]
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 2, r.output
    assert "error: expected dark and bright frames of one kind" in " ".join(r.output.split())


def test_a_static_video_burst_drops_the_frame_something_lit_and_only_it(tmp_path):
    """A static burst recorded as video: the reference is mapped onto the burst by a fitted
    tone curve (8-bit renderings), which keeps the frame a light brightened, and no other."""
    rng = np.random.default_rng(3)
    scene = cv2.GaussianBlur(rng.uniform(0, 1, (H, W)), (0, 0), 3)
    scene = (scene - scene.min()) / (scene.max() - scene.min())

    def write(path: Path, frames: list[np.ndarray]) -> None:
        out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24.0, (W, H))
        for linear in frames:  # the sRGB curve, as a camera renders
            x = np.clip(linear, 0, 1)
            code = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
            out.write(np.repeat(np.round(255 * code)[..., None], 3, axis=2).astype(np.uint8))
        out.release()

    darks = [rng.poisson(scene * 20 + 2) / 20.0 * 0.02 for _ in range(16)]
    darks[9][30:60, 40:80] *= 2.5
    write(tmp_path / "dark.mp4", darks)
    write(tmp_path / "bright.mp4", [scene * 0.3 + 0.01] * 2)
    s = tmp_path / "s"
    import_footage(
        s, dark=tmp_path / "dark.mp4", bright=tmp_path / "bright.mp4", scene="x", kind="static",
        exposure="1/30", bright_exposure="10", iso=100,
    )  # fmt: skip
    a = read_alignment(align_session(s).parent)
    assert [(d.file, d.reason) for d in a.dropped] == [("video.mp4#000009", "motion")]
    assert len(a.pairs) == 15


def test_a_frame_journalled_past_the_videos_end_is_dropped_and_the_rest_curated(tmp_path):
    s = imported_seed_session(tmp_path, bright_exposure="1/8", iso=2000)
    journal = s / "journal.jsonl"
    lines = journal.read_text().splitlines()
    last = '"video_frame":47,'
    assert sum(last in line and '"dark"' in line for line in lines) == 1
    journal.write_text(
        "\n".join(
            line.replace(last, '"video_frame":48,') if '"dark"' in line else line for line in lines
        )
        + "\n"
    )
    a = read_alignment(align_session(s).parent)
    [drop] = a.dropped
    assert (drop.pass_, drop.file) == ("dark", "video.mp4#000048")
    assert "journalled as frame 48 of video.mp4, which decodes to 48 frames" in drop.detail
    assert len(a.pairs) == 12
    kept = [f for f in a.frames("dark") if f.kept]
    assert len(kept) == 47 and all(f.mean_dn is not None for f in kept)


def test_one_video_frame_is_the_frame_streaming_gives(tmp_path):
    from curate.video import video_frame_bgr, video_rgb_frames

    dark, _ = seed_footage(tmp_path / "f", bright_png=True)
    frames = list(video_rgb_frames(dark))
    for index in (0, 7, len(frames) - 1):
        np.testing.assert_array_equal(video_frame_bgr(dark, index)[..., ::-1], frames[index])
    assert video_frame_bgr(dark, len(frames)) is None  # past the end: no frame
    not_video = tmp_path / "x.mp4"
    not_video.write_bytes(b"not a video")
    with pytest.raises(BadInput, match="FFmpeg backend can open"):
        video_frame_bgr(not_video, 0)
