"""Scene names and illuminance: capture refuses up front (exit 2, nothing written) what a
session cannot record, by the rule `dataset publish` applies (sublux_common.names)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from capture.cli import app
from capture.errors import BadRequest, BadSessionInfo
from capture.session import check_scene_and_lux
from dataset_card.errors import BadRelease
from dataset_card.h5writer import SplitWriter
from sublux_common.names import name_problem

runner = CliRunner()
SIM = ["--camera", "sim", "--sim-size", "64x96"]
BAD_SCENES = ["", "a/b", "/", ".", ".."]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def command(name: str, session: Path, scene: str | None, *extra: str, card: Path | None = None):
    scene_opt = [] if scene is None else ["--scene", scene]
    args = {
        "burst": ["burst", *SIM, "--frames", "2", "--iso", "2000"],
        "reference": ["reference", *SIM, "--frames", "1", "--iso", "2000"],
        "sweep": ["sweep", *SIM, "--turntable", "sim", "--steps", "2", "--iso", "2000"],
        "import": ["import", "--dark", str(card), "--exposure", "1/30", "--iso", "2000"],
    }[name]
    return invoke(*args, "--session", session, *scene_opt, *extra)


@pytest.fixture
def card(tmp_path):
    """A folder holding one raw file (a real DNG), as copied from a card."""
    folder = tmp_path / "card"
    folder.mkdir()
    dng = Path(__file__).parents[1] / "data" / "raw" / "colorchart.dng"
    (folder / "IMG_0001.dng").write_bytes(dng.read_bytes())
    return folder


@pytest.mark.parametrize("name", ["burst", "reference", "sweep", "import"])
@pytest.mark.parametrize("scene", BAD_SCENES)
def test_a_scene_publish_would_refuse_is_refused_up_front(tmp_path, card, name, scene):
    s = tmp_path / "s"
    r = command(name, s, scene, card=card)
    assert r.exit_code == 2, r.output
    assert "error:" in r.output and "Traceback" not in r.output
    assert "expected --scene NAME" in r.output and f"found {scene!r}" in r.output
    assert "try e.g. --scene desk" in r.output
    assert not s.exists()


@pytest.mark.parametrize("name", ["burst", "reference", "sweep", "import"])
@pytest.mark.parametrize("lux", ["-3", "nan", "inf"])
def test_a_lux_that_is_no_illuminance_is_refused_up_front(tmp_path, card, name, lux):
    s = tmp_path / "s"
    r = command(name, s, "desk", "--lux", lux, card=card)
    assert r.exit_code == 2, r.output
    assert "expected --lux as the measured illuminance" in r.output
    assert "leave --lux out" in r.output
    assert not s.exists()


def test_an_empty_scene_on_an_existing_session_is_a_bad_request_not_a_crash(tmp_path):
    s = tmp_path / "s"
    assert command("burst", s, "desk").exit_code == 0
    before = sorted(p.name for p in s.rglob("*"))
    r = command("reference", s, "")
    assert r.exit_code == 2, r.output
    assert "expected --scene NAME" in r.output and "found ''" in r.output
    assert sorted(p.name for p in s.rglob("*")) == before


def test_the_review_s_burst_with_an_empty_scene(tmp_path):
    # capture burst ... --scene "" crashed with AttributeError ('NoneType' has no 'session')
    r = runner.invoke(
        app,
        ["burst", *SIM, "--iso", "2000", "--frames", "2", "--session", str(tmp_path / "b"),
         "--scene", ""],
    )  # fmt: skip
    assert r.exit_code == 2, repr(r.exception)  # was 1: AttributeError, with a traceback
    assert "expected --scene NAME" in r.output


@pytest.mark.parametrize("lux", [None, 0.0, 0.5, 1e5])
def test_good_scenes_and_lux_pass(lux):
    for scene in ["desk", "kitchen-2", "a b", "..x", "0001"]:
        check_scene_and_lux(scene, lux)
    check_scene_and_lux(None, lux)  # not given: the caller decides


def test_the_error_is_a_bad_request_and_a_value_error():
    with pytest.raises(BadSessionInfo) as caught:
        check_scene_and_lux("a/b", None)
    assert isinstance(caught.value, BadRequest) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("", "it is empty"), ("a/b", "it holds '/'"), (".", "it is '.'"), ("..", "it is '..'"),
     (None, "it is not text (NoneType)"), ("desk", None)],
)  # fmt: skip
def test_the_one_name_rule(value, problem):
    assert name_problem(value) == problem


@pytest.mark.parametrize("name", [*BAD_SCENES, "desk", "a b", "..x", "0001"])
def test_capture_refuses_exactly_what_publish_refuses(tmp_path, name):
    """dataset_card's release writer and capture share one rule: a scene capture lets
    through is one publish takes, and one it refuses publish refuses too."""
    root = {"dataset_name": "x", "version": "1.0.0", "tool_version": "0"}
    refused = []
    for session_id, scene in ((name, "desk"), ("desk-1", name)):
        with SplitWriter(tmp_path / name.replace("/", "_"), "train", root_attrs=root) as w:
            try:
                w.add_session(session_id, scene=scene, attrs={}, short_shape=(1, 2, 2))
            except BadRelease as exc:
                refused.append("expected a session id" in str(exc) or "scene name" in str(exc))
            w.abort()
    try:
        check_scene_and_lux(name, None)
        capture_refuses = False
    except BadSessionInfo:
        capture_refuses = True
    assert refused == ([True, True] if capture_refuses else [False, False])
