"""Local-motion detection: synthetic truth for the functions, simulated sessions for the run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from capture.session import open_session
from capture.sim.objects import Light, MovingObject
from curate import motion
from curate.pipeline import Options, align_session
from tests.curate._sessions import static_session, sweep_session

H, W = 96, 128


def _scene(rng, electrons=4.0):
    """Mean electrons per work pixel: a textured scene around ``electrons``."""
    return rng.uniform(0.3, 1.7, (H, W)) * electrons


def _frame(rng, mean, read=3.2):
    return rng.poisson(mean) + rng.normal(0.0, read, mean.shape)


@pytest.mark.parametrize("n", [6, 7])
def test_leave_one_out_median_is_the_median_of_the_others(n):
    x = np.random.default_rng(n).normal(size=(n, 4, 5))
    loo = motion.leave_one_out_median(x)
    for j in range(n):
        np.testing.assert_allclose(loo[j], np.median(np.delete(x, j, axis=0), axis=0))


def test_fit_noise_recovers_shot_and_read_noise_despite_outliers():
    rng = np.random.default_rng(0)
    signal = rng.uniform(10, 400, 20000)
    a, b = 1.0, 150.0
    res = rng.normal(0.0, np.sqrt(a * signal + b), (3, signal.size))
    res[:, :200] += 500.0  # blocks that moved do not inflate the model
    m = motion.fit_noise(signal, res)
    assert m.a == pytest.approx(a, rel=0.1)
    assert m.b == pytest.approx(b, rel=0.15)


def test_a_moving_object_is_found_where_it_was_and_nothing_else():
    rng = np.random.default_rng(1)
    scene = _scene(rng)
    truth = (30, 40, 70, 70)
    frames = []
    for j in range(16):
        mean = scene.copy()
        if j == 5:
            y0, x0, y1, x1 = truth
            mean[y0:y1, x0:x1] *= 2.5
        frames.append(_frame(rng, mean))
    found = motion.burst_motion(frames, reference=scene * 300)
    assert [j for j, r in enumerate(found) if r is not None] == [5]
    y0, x0, y1, x1 = found[5].box
    # the box covers the object, to within two blocks
    assert y0 <= truth[0] < y0 + 8 and x0 <= truth[1] < x0 + 8
    assert y1 - 8 < truth[2] <= y1 and x1 - 8 < truth[3] <= x1
    assert found[5].strength > 10 and found[5].change > 0.8


def test_motion_free_bursts_raise_no_alarm_at_one_electron_per_pixel():
    rng = np.random.default_rng(2)
    scene = _scene(rng)
    alarms = 0
    for _ in range(10):
        found = motion.burst_motion([_frame(rng, scene) for _ in range(16)], reference=scene)
        alarms += sum(r is not None for r in found)
    assert alarms == 0


def test_a_dark_object_and_a_low_threshold():
    rng = np.random.default_rng(3)
    scene = _scene(rng, electrons=8.0)
    frames = [_frame(rng, scene) for _ in range(10)]
    dim = scene.copy()
    dim[10:40, 80:120] *= 0.3
    frames[2] = _frame(rng, dim)
    found = motion.burst_motion(frames)
    assert found[2] is not None and found[2].strength < 0 and found[2].change < -0.4
    assert sum(r is not None for r in found) == 1
    # a threshold of one sigma flags noise everywhere: the option is what decides
    assert sum(r is not None for r in motion.burst_motion(frames, threshold=1.0)) > 5


def test_the_reference_vetoes_a_change_it_shows_too():
    """A block must have changed against the burst *and* the reference: where the frame
    agrees with the reference (the burst's other frames were the odd ones), no alarm."""
    rng = np.random.default_rng(4)
    scene = _scene(rng)
    frames = [_frame(rng, scene) for _ in range(12)]
    lit = scene.copy()
    lit[20:60, 20:60] *= 2.5
    frames[3] = _frame(rng, lit)
    assert motion.burst_motion(frames, reference=scene)[3] is not None
    assert motion.burst_motion(frames, reference=lit)[3] is None


def test_pair_motion_flags_a_pair_with_an_object_only():
    rng = np.random.default_rng(5)
    scene = _scene(rng)
    assert motion.pair_motion(_frame(rng, scene), scene * 100) is None
    moved = scene.copy()
    moved[50:90, 10:40] *= 3.0
    r = motion.pair_motion(_frame(rng, moved), scene * 100)
    assert r is not None and r.box[0] <= 50 and r.box[2] >= 88


def test_a_static_session_drops_the_frames_the_simulated_object_touched(tmp_path):
    objects = [MovingObject(frames=range(3, 9)), Light(frames=[11], radius=0.3, gain=2.5)]
    s = static_session(tmp_path / "s", size=(96, 128), frames=16, refs=2, objects=objects)
    touched = {
        r["path"].split("/")[-1]: r["extra"]["sim_objects"]
        for r in open_session(s).records
        if r.get("path", "").startswith("dark/") and "sim_objects" in r.get("extra", {})
    }
    assert len(touched) == 7
    a = json.loads(align_session(s).read_text())
    moved = {d["file"]: d for d in a["dropped"] if d["reason"] == "motion"}
    assert set(moved) == set(touched)
    for name, d in moved.items():
        y0, x0, y1, x1 = d["region"]["box"]
        ty0, tx0, ty1, tx1 = touched[name][0]["box"]
        # the region found overlaps the truth
        assert y0 < ty1 and ty0 < y1 and x0 < tx1 and tx0 < x1, (name, d, touched[name])
        assert "sigma" in d["detail"]
    assert not {p["dark"] for p in a["pairs"]} & set(moved)
    assert len(a["pairs"]) == 16 - 7
    assert a["options"]["motion_threshold"] == motion.DEFAULT_THRESHOLD
    # the check off: every frame paired
    off = json.loads(
        align_session(s, out=tmp_path / "off", options=Options(motion_threshold=None)).read_text()
    )
    assert len(off["pairs"]) == 16 and not [d for d in off["dropped"] if d["reason"] == "motion"]


def test_sweep_pairs_carry_a_motion_flag(tmp_path):
    s = sweep_session(tmp_path / "sw")
    a = json.loads(align_session(s).read_text())
    assert a["pairs"] and all(p["motion"] is False for p in a["pairs"])
    # a light on in the first 13 shots (the dark pass, less its pre-roll): the pairs whose
    # dark frame it lit, and only those, are flagged; none is dropped
    light = Light(frames=range(13), gain=3.0, radius=0.2, at=(0.5, 0.5))
    m = sweep_session(tmp_path / "lit", objects=[light])
    lit = {r["path"] for r in open_session(m).records if "sim_objects" in r.get("extra", {})}
    b = json.loads(align_session(m).read_text())
    assert len(b["pairs"]) == len(a["pairs"])
    flagged = {p["dark"] for p in b["pairs"] if p["motion"]}
    assert flagged and flagged == {p["dark"] for p in b["pairs"] if f"dark/{p['dark']}" in lit}
    assert not any(f"bright/{p['bright']}" in lit for p in b["pairs"])
    assert all(p["motion_region"]["strength"] > 0 for p in b["pairs"] if p["motion"])


def test_a_light_in_a_black_corner_is_found_without_an_absurd_percentage():
    """Where the burst and the reference are black, a relative change is any number (the
    demo's kitchen said "brighter by 14382953988%"): the region is found, its change left
    out; a region half in the light gets a percentage of sane size."""
    rng = np.random.default_rng(6)
    scene = _scene(rng)
    scene[:40, :48] = 0.0  # black: read noise only
    frames = [_frame(rng, scene) for _ in range(12)]
    lamp = scene.copy()
    lamp[4:36, 4:44] += 3.0
    frames[5] = _frame(rng, lamp)
    found = motion.burst_motion(frames, reference=scene * 300)
    assert [j for j, r in enumerate(found) if r is not None] == [5]
    assert found[5].strength > 10 and found[5].change is None
    assert found[5].scaled(2.0)["change"] is None
    half = scene.copy()
    half[10:40, 30:70] *= 2.0
    half[10:40, 30:70] += 2.0
    frames[7] = _frame(rng, half)
    r = motion.burst_motion(frames, reference=scene * 300)[7]
    assert r is not None and 0.5 < r.change < 5.0, r


def test_the_drop_detail_gives_a_percentage_only_where_it_means_something():
    from curate.pipeline import _by

    assert _by(0.906) == " by 91%" and _by(-0.4) == " by 40%"
    assert _by(None) == " where they are about black"


def _video_sweep(root, objects=()):
    """A simulated sweep (raw) and the same passes recorded as 8-bit MP4s and imported."""
    from capture.importer import import_footage
    from capture.sim.video import write_pass_video

    raw = sweep_session(
        root / "raw", size=(128, 192), seed=1, lux=0.5, steps=6, step_deg=2.0, dark_frames=21,
        objects=objects,
    )  # fmt: skip
    for pass_ in ("dark", "bright"):
        write_pass_video(raw, pass_, root / f"{pass_}.mp4")
    import_footage(
        root / "video", dark=root / "dark.mp4", bright=root / "bright.mp4", scene="shelf",
        kind="sweep", exposure="1/30", bright_exposure="10", iso=2000, simulated=True,
    )  # fmt: skip
    return raw, root / "video"


def test_a_video_sweep_flags_motion_only_where_something_moved(tmp_path, monkeypatch):
    """8-bit frames are the camera's rendering: its tone curve makes the dark frame a curved
    function of the bright one. Scaled by one number, that curve was read as motion (the
    demo's video pairs at 4.8 and 8.0 sigma); mapped by a fitted curve, a motion-free video
    flags nothing, and a light flags the pairs it lit, as in the raw frames."""
    monkeypatch.setenv("SUBLUX_SALT", "sublux-tests")
    _, video = _video_sweep(tmp_path / "still")
    a = json.loads(align_session(video).read_text())
    assert len(a["pairs"]) == 6 and not [p["dark"] for p in a["pairs"] if p["motion"]]

    light = Light(frames=range(9), gain=3.0, radius=0.1, at=(0.5, 0.5))
    raw, video = _video_sweep(tmp_path / "lit", objects=[light])
    lit = {
        int(r["path"].split("/")[-1].split(".")[0])
        for r in open_session(raw).records
        if "sim_objects" in r.get("extra", {}) and r["path"].startswith("dark/")
    }
    b = json.loads(align_session(video).read_text())
    index = {p["dark"]: int(p["dark"].split("#")[-1]) for p in b["pairs"]}
    flagged = {index[p["dark"]] for p in b["pairs"] if p["motion"]}
    assert flagged and flagged == {i for i in index.values() if i in lit}
    assert all(p["motion_region"]["strength"] > 0 for p in b["pairs"] if p["motion"])
    c = json.loads(align_session(raw).read_text())  # the raw frames agree
    assert {int(p["dark"].split(".")[0]) for p in c["pairs"] if p["motion"]} == flagged


def test_tone_fit_follows_a_tone_curve_not_a_moved_region():
    rng = np.random.default_rng(8)
    bright = rng.uniform(0.05, 0.9, (60, 80))
    dark = 0.6 * bright**0.7 + 0.02  # a curved relation, as between two renderings
    moved = dark.copy()
    moved[10:20, 10:20] += 0.5
    fitted = motion.tone_fit(moved, bright)
    outside = np.ones(dark.shape, bool)
    outside[10:20, 10:20] = False
    assert np.abs(fitted - dark)[outside].max() < 0.02
    assert (moved - fitted)[10:20, 10:20].min() > 0.4  # the moved region stands out


def _png_rgb(path):
    import cv2

    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_the_report_shows_motion_frames_outlined_and_previews_that_average_noise(tmp_path):
    from curate.report import write_report

    objects = [MovingObject(frames=[2, 3], brightness=3.0)]
    s = static_session(tmp_path / "s", size=(96, 128), frames=10, refs=1, objects=objects)
    align_session(s)
    html = write_report(s / "curation").read_text()
    assert html.count("dropped: motion") == 2
    folder = s / "curation" / "report"
    rows = sorted(folder.glob("pair_*.png"))
    assert len(rows) == 8 + 2  # the 8 pairs, then the 2 frames dropped for motion
    green = np.array([40, 255, 40])
    for path in rows:
        strip = _png_rgb(path)
        outlined = np.all(strip == green, axis=2).sum()
        assert (outlined > 100) == (path in rows[-2:]), path
    # the dark tile of a pair is averaged to its noise: its pixels vary far less than
    # single 1 e-/px photosites x the gain would (which fill the whole 0-255 range)
    dark_tile = _png_rgb(rows[0])[20:190, 6:262].astype(float)
    assert dark_tile.std() < 40
    # the difference: within noise it is pale (|z| < 6 maps near white); the moved object
    # saturates to red
    diff_moved = _png_rgb(rows[-1])[20:190, 530:786].astype(int)
    red = (diff_moved[..., 0] > 90) & (diff_moved[..., 2] < 60) & (diff_moved[..., 1] < 60)
    assert red.mean() > 0.03
    diff_clean = _png_rgb(rows[0])[20:190, 530:786].astype(int)
    red_clean = (diff_clean[..., 0] > 90) & (diff_clean[..., 2] < 60) & (diff_clean[..., 1] < 60)
    assert red_clean.mean() < 0.005


def test_the_cli_threshold_option(tmp_path):
    from typer.testing import CliRunner

    from curate.cli import app

    s = static_session(tmp_path / "s", size=(96, 128), frames=8, objects=[MovingObject(frames=[3])])
    runner = CliRunner()
    r = runner.invoke(app, ["align", str(s), "--motion-threshold", "0"])
    assert r.exit_code == 0, r.output
    a = json.loads((s / "curation" / "alignment.json").read_text())
    assert a["options"]["motion_threshold"] is None and len(a["pairs"]) == 8
    r = runner.invoke(app, ["align", str(s)])
    a = json.loads((s / "curation" / "alignment.json").read_text())
    assert r.exit_code == 0 and "motion: 1" in r.output and len(a["pairs"]) == 7
    assert runner.invoke(app, ["align", str(s), "--motion-threshold", "-1"]).exit_code == 2
