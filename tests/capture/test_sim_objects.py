"""Simulated moving objects and lights: where they are, what they change, what is journalled."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from capture.cli import app
from capture.errors import SettingError
from capture.session import open_session
from capture.sim.camera import SimCamera
from capture.sim.objects import Light, MovingObject, from_dict, parse_spec

runner = CliRunner()


def test_an_object_crosses_the_frame_left_to_right_over_its_frames():
    obj = MovingObject(frames=(4, 5, 6, 7), brightness=2.5)
    boxes = [obj.box(n, (100, 200)) for n in range(3, 9)]
    assert boxes[0] is None and boxes[-1] is None
    xs = [b[1] for b in boxes[1:-1]]
    assert xs == sorted(xs) and xs[0] < 50 and xs[-1] > 100
    y0, x0, y1, x1 = boxes[1]
    assert (y1 - y0) * (x1 - x0) == pytest.approx(0.125 * 100 * 200, rel=0.05)


def test_objects_change_only_their_frames_and_only_where_they_are():
    cam = SimCamera(size=(64, 96), seed=1, fps=1e6, max_wait=0.0, objects=[])
    plain = cam.render_electrons(frame=0)
    cam.objects = (MovingObject(frames=[0], brightness=3.0), Light(frames=[1], gain=2.0))
    touched: list = []
    with_obj = cam.render_electrons(frame=0, touched=touched)
    (hit,) = touched
    y0, x0, y1, x1 = hit["box"]
    assert hit["kind"] == "object"
    inside = with_obj[y0:y1, x0:x1].mean() / plain[y0:y1, x0:x1].mean()
    assert 2.0 < inside < 4.0
    outside = np.ones(plain.shape, bool)
    outside[y0:y1, x0:x1] = False
    np.testing.assert_array_equal(with_obj[outside], plain[outside])
    lit_touched: list = []
    lit = cam.render_electrons(frame=1, touched=lit_touched)
    ly0, lx0, ly1, lx1 = lit_touched[0]["box"]
    cy, cx = (ly0 + ly1) // 2, (lx0 + lx1) // 2
    assert lit[cy, cx] == pytest.approx(2.0 * plain[cy, cx], rel=1e-5)
    np.testing.assert_array_equal(cam.render_electrons(frame=2), plain)


def test_parse_spec_and_round_trip():
    o = parse_spec("object:3-5+9,brightness=0.3,seed=2")
    assert o.frames == (3, 4, 5, 9) and o.brightness == 0.3
    light = parse_spec("light:20,gain=3,at=0.2x0.7,radius=0.05")
    assert light.at == (0.2, 0.7) and light.gain == 3.0
    assert from_dict(json.loads(json.dumps(light.to_dict()))) == light
    assert from_dict(o.to_dict()) == o
    for bad in ("person:1", "object:", "object:x", "light:2,colour=red", "object:-3"):
        with pytest.raises(SettingError, match="expected"):
            parse_spec(bad)


def test_burst_journals_the_frames_objects_touched(tmp_path):
    s = tmp_path / "s"
    args = ["burst", "--camera", "sim", "--sim-size", "64x96", "--iso", "2000"]
    r = runner.invoke(
        app,
        [
            *args,
            "--frames",
            "6",
            "--session",
            str(s),
            "--scene",
            "desk",
            "--sim-object",
            "object:1-2,brightness=2.5",
            "--sim-object",
            "light:4,gain=2",
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    sess = open_session(s)
    sim = sess.meta["camera"]["sim"]
    assert [o["kind"] for o in sim["objects"]] == ["object", "light"]
    touched = {
        rec["path"]: [o["kind"] for o in rec["extra"]["sim_objects"]]
        for rec in sess.records
        if "sim_objects" in rec.get("extra", {})
    }
    assert touched == {"dark/0001.dng": ["object"], "dark/0002.dng": ["object"],
                       "dark/0004.dng": ["light"]}  # fmt: skip
    # a bad spec, or objects for a real camera: a bad request, nothing created
    r = runner.invoke(
        app, [*args, "--session", str(tmp_path / "t"), "--scene", "d", "--sim-object", "ghost:1"]
    )
    assert r.exit_code == 2 and "object or light" in r.output
    assert not (tmp_path / "t").exists()
    r = runner.invoke(
        app, ["burst", "--session", str(tmp_path / "u"), "--scene", "d", "--sim-object", "light:1"]
    )
    assert r.exit_code == 2 and "--camera sim" in r.output
