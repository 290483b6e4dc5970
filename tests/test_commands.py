"""The command layer (sublux/): the installed commands, `dataset validate` where the train
extra is installed (and a way to install it where not), and the import contracts."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from typer.testing import CliRunner

import capture
import sublux.cli
from sublux.cli import dataset_app

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
runner = CliRunner()


def _sublux(*args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "sublux", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_the_installed_commands_are_the_command_layers():
    scripts = PYPROJECT["project"]["scripts"]
    assert set(scripts) == {"capture", "curate", "dataset"}
    for name, target in scripts.items():
        module, _, attr = target.partition(":")
        assert module == "sublux.cli", f"{name} is {target}"
        assert callable(getattr(importlib.import_module(module), attr))
    # `pip install .` ships the command layer
    assert "sublux*" in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]


def test_dataset_has_the_packagers_commands_and_validate():
    app = dataset_app()
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0, r.output
    for command in ("build", "publish", "verify", "info", "export", "validate"):
        assert command in r.output
    # each call builds a new app: dataset_card's own app is left as it was
    from dataset_card.cli import app as packager

    assert "validate" not in {c.name or c.callback.__name__ for c in packager.registered_commands}
    assert len(dataset_app().registered_commands) == len(app.registered_commands)


def test_validate_without_the_train_extra_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(sublux.cli, "train_available", lambda: False)
    r = runner.invoke(dataset_app(), ["validate", str(tmp_path), "--tiny", "--device", "cpu"])
    assert r.exit_code == 2, r.output
    assert "expected torch" in r.output and "sublux[train]" in r.output


def test_validate_maps_the_trainers_errors_and_shows_bugs(monkeypatch, tmp_path):
    """`dataset validate` through the command layer: the trainer's bad request exits 2 with
    one line, an internal error exits 1 with the exception left to show its traceback."""
    pytest.importorskip("torch")  # the train extra; the test run installs it
    import baseline.validate

    app = dataset_app()
    r = runner.invoke(app, ["validate", str(tmp_path), "--gt", "median"])
    assert r.exit_code == 2, r.output
    assert "expected --gt pair or mean" in r.output

    def boom(*args, **kwargs):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(baseline.validate, "validate_release", boom)
    r = runner.invoke(app, ["validate", str(tmp_path), "--device", "cpu"])
    assert r.exit_code == 1
    assert isinstance(r.exception, ValueError) and "error:" not in r.output


def test_python_m_sublux_runs_each_command():
    r = _sublux("dataset", "--help")
    assert r.returncode == 0, r.stderr
    assert "python -m sublux dataset" in r.stdout and "validate" in r.stdout
    r = _sublux("curate", "--help")
    assert r.returncode == 0 and "python -m sublux curate" in r.stdout, r.stderr
    r = _sublux("train")
    assert r.returncode == 2 and "expected a command, found 'train'" in r.stderr


def _contract(name_start: str) -> dict:
    for c in PYPROJECT["tool"]["importlinter"]["contracts"]:
        if c["name"].startswith(name_start):
            return c
    raise AssertionError(f"no import-linter contract named {name_start!r}...")


def test_the_layers_contract_has_the_command_layer_on_top_and_the_shared_layer_below():
    layers = _contract("One way down")["layers"]
    assert layers == ["sublux", "baseline", "dataset_card", "curate", "capture", "sublux_common"]


def test_the_simulator_contract_names_every_capture_module_but_the_simulators():
    """import-linter does not check imports inside a package named as a whole, so capture's
    modules are listed one by one: a new one must join the list."""
    contract = _contract("No runtime module imports the simulators")
    modules = {f"capture.{m.name}" for m in pkgutil.iter_modules(capture.__path__)}
    assert modules - {"capture.sim"} == {
        m for m in contract["source_modules"] if m.startswith("capture")
    }
    assert {"curate", "dataset_card", "baseline", "sublux_common"} <= set(
        contract["source_modules"]
    )
    assert contract["forbidden_modules"] == ["capture.sim"]


def test_the_project_has_one_version_in_the_shared_layer():
    import sublux_common

    assert sublux_common.__version__ == PYPROJECT["project"]["version"]
    assert capture.__version__ is sublux_common.__version__


def test_every_file_a_package_reads_ships_in_the_wheel():
    """Every file in a package that is not Python (the card's and the curation pages'
    templates) matches a [tool.setuptools.package-data] glob, or the wheel would lack it."""
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    found = set()
    for package in ("sublux", "capture", "curate", "dataset_card", "baseline", "sublux_common"):
        root = ROOT / package
        files = {
            p
            for p in root.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
        }
        shipped = {p for g in data.get(package, []) for p in root.glob(g)}
        assert files <= shipped, sorted(str(p.relative_to(ROOT)) for p in files - shipped)
        found |= files
    assert any(p.parent.name == "templates" for p in found)  # curate's pages, at least
