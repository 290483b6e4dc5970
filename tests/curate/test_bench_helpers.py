"""The curation benchmark's scoring helpers (``scripts/bench_curate.py``), checked against the
simulator they score: the truth they derive must be the simulator's geometry."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from capture.protocols import Exposure
from capture.sim.camera import SimCamera
from curate.errors import UnreadableRaw
from curate.raw import read_raw

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "bench_curate.py"
_spec = importlib.util.spec_from_file_location("bench_curate", _PATH)
bench = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bench_curate", bench)  # dataclasses look their module up by name
_spec.loader.exec_module(bench)

SIZE = (64, 96)


def _extra(cam: SimCamera, angle: float, offset: tuple[float, float]) -> dict:
    pan = angle * cam.scene.px_per_deg
    return {"shift_px": [offset[0], offset[1] - pan], "angle_deg": angle}


def _green(mosaic: np.ndarray) -> np.ndarray:
    """The mean of an RGGB mosaic's two green planes, at half resolution."""
    return 0.5 * (mosaic[0::2, 1::2] + mosaic[1::2, 0::2])


@pytest.mark.parametrize(
    ("dark", "bright"),
    [((0.0, (0.0, 0.0)), (2.0, (0.0, 0.0))), ((1.0, (0.0, 0.0)), (0.0, (1.5, -2.5)))],
)
def test_true_shift_moves_dark_content_onto_the_bright_frame(dark, bright):
    cam = SimCamera(size=SIZE, seed=4)
    cam.apply(Exposure(iso=2000, shutter="1/30", aperture="3.5"))
    d = cam.render_electrons(angle_deg=dark[0], offset=dark[1])
    b = cam.render_electrons(angle_deg=bright[0], offset=bright[1])
    dy, dx = bench.true_shift(_extra(cam, *dark), _extra(cam, *bright))
    assert math.hypot(dy, dx) > 1.0  # the case is not trivial
    # On the green planes (half resolution), move the dark view by the shift: it must land on
    # the bright view, and the opposite sign must not.
    g_d, g_b = _green(d), _green(b)
    inner = (slice(6, -6), slice(6, -6))
    right = ndimage.shift(g_d, (dy / 2, dx / 2), order=3, mode="nearest")[inner]
    wrong = ndimage.shift(g_d, (-dy / 2, -dx / 2), order=3, mode="nearest")[inner]
    err_right = np.abs(right - g_b[inner]).mean()
    err_wrong = np.abs(wrong - g_b[inner]).mean()
    assert err_right < 0.1 * g_b.mean()
    assert err_right < 0.5 * err_wrong


def test_nearest_dark_picks_the_closest_true_position_and_keeps_ties():
    bright = {"shift_px": [0.0, -10.0]}
    darks = {
        "a": {"shift_px": [0.0, -4.0]},
        "b": {"shift_px": [0.0, -9.0]},
        "c": {"shift_px": [0.0, -11.0]},
        "d": {"shift_px": [3.0, -10.0]},
    }
    assert bench.nearest_dark(bright, darks) == {"b", "c"}
    assert bench.nearest_dark(bright, {k: darks[k] for k in "ad"}) == {"d"}
    assert bench.nearest_dark(bright, {}) == set()


def test_score_pairs_counts_exact_matches_and_measures_errors():
    extras = {
        ("bright", "b0"): {"shift_px": [0.0, 0.0]},
        ("bright", "b1"): {"shift_px": [0.0, -20.0]},
        ("dark", "d0"): {"shift_px": [0.0, 0.5]},
        ("dark", "d1"): {"shift_px": [0.0, -19.0]},
        ("dark", "d2"): {"shift_px": [0.0, -25.0]},
    }
    pairs = [
        {"bright": "b0", "dark": "d0", "dy": 0.1, "dx": -0.5},  # right frame, 0.1 px off
        {"bright": "b1", "dark": "d2", "dy": 0.0, "dx": 5.0},  # wrong frame, shift exact
    ]
    r = bench.score_pairs(pairs, extras, ["d0", "d1", "d2"])
    assert r["n"] == 2 and r["exact"] == 1
    assert r["errors"] == pytest.approx([0.1, 0.0], abs=1e-9)
    assert r["off_by"] == [4.0]  # d2 is 5 px away where d1 was 1 px away


def test_summarise_ignores_nan_but_counts_it():
    s = bench.summarise([0.1, 0.2, float("nan"), 0.3])
    assert s["n"] == 4 and s["n_nan"] == 1
    assert s["median"] == pytest.approx(0.2) and s["max"] == pytest.approx(0.3)
    assert bench.summarise([float("nan")])["median"] is None


def test_corr2_is_pearson_r():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (20, 30)).astype(np.uint8)
    b = (a.astype(np.float64) * 0.5 + rng.normal(0, 20, a.shape)).clip(0, 255).astype(np.uint8)
    assert bench.corr2(a, b) == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1], abs=1e-12)
    assert math.isnan(bench.corr2(np.zeros((4, 4)), b[:4, :4]))


def test_a_truncated_sim_dng_is_unreadable(tmp_path):
    cam = SimCamera(size=SIZE, seed=1, max_wait=0.0)
    cam.apply(Exposure(iso=2000, shutter="1/30"))
    path = tmp_path / "0000.dng"
    path.write_bytes(next(iter(cam.shoot(1))).data)
    assert read_raw(path).mosaic.shape == SIZE
    size = path.stat().st_size
    assert bench.truncate(path, 0.3) == int(0.3 * size) == path.stat().st_size
    with pytest.raises(UnreadableRaw):
        read_raw(path)


_CMD_PATH = _PATH.parent / "bench_command.py"
_cmd_spec = importlib.util.spec_from_file_location("bench_command", _CMD_PATH)
bench_command = importlib.util.module_from_spec(_cmd_spec)
_cmd_spec.loader.exec_module(bench_command)


def test_summarise_runs_takes_medians_of_wall_and_cpu_and_the_best_wall():
    runs = [(3.0, 2.0), (1.0, 5.0), (2.0, 4.0)]
    assert bench_command.summarise_runs(runs) == {
        "wall_s": 2.0,
        "cpu_s": 4.0,
        "best_wall_s": 1.0,
        "runs": 3,
    }


def test_ratio_divides_one_figure_by_another_and_refuses_zero():
    a, b = {"cpu_s": 3.0}, {"cpu_s": 2.0}
    assert bench_command.ratio(a, b, "cpu_s") == 1.5
    assert bench_command.ratio(a, {"cpu_s": 0.0}, "cpu_s") is None


def test_timed_counts_the_childs_cpu_not_its_sleep():
    busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    wall, cpu, _ = bench_command.timed([sys.executable, "-c", busy])
    assert cpu >= 0.3 and wall >= 0.3  # it burnt 0.3 s of CPU by its own clock
    wall, cpu, out = bench_command.timed(
        [sys.executable, "-c", "import time; time.sleep(0.4); print('ok')"]
    )
    # one thread: its CPU time fits in its wall time less the 0.4 s it slept
    assert out.strip() == "ok" and wall >= 0.4 and cpu < wall - 0.3


def test_timed_raises_with_the_childs_error():
    with pytest.raises(RuntimeError, match="boom"):
        bench_command.timed([sys.executable, "-c", "raise SystemExit('boom')"])


def test_make_sweep_keeps_the_plan_whatever_the_renderers_speed(tmp_path):
    # The rig runs on simulated time: the camera shoots at the planned 16 fps however slowly
    # frames render here, and the driver paces the table to it, so the dark frames lie step/4
    # apart along the whole path and the session journals no "plan not kept" warning.
    s = bench.make_sweep(tmp_path / "s", size=SIZE, seed=1, electrons=0.4, steps=3)
    session = bench.open_session(s.path)
    assert [w.code for w in session.warnings] == []
    angles = [r.angle for r in session.frames("dark")]
    assert len(angles) == 8
    assert angles[0] == pytest.approx(0.0, abs=0.02)
    assert angles[-1] == pytest.approx(4.0, abs=0.1)  # the path's end, not short of it
    assert np.diff(angles) == pytest.approx(np.full(7, 4.0 / 7), abs=0.1)
    assert [r.angle for r in session.frames("bright")] == pytest.approx([0.0, 2.0, 4.0], abs=0.02)
    # frame times are the simulated clock's: exactly the planned rate, not the machine's
    starts = [r.t_start for r in session.frames("dark")]
    assert np.diff(starts) == pytest.approx(np.full(7, 1 / bench.RIG_FPS), abs=1e-6)
    assert len(s.broken) == 2
