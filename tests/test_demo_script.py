"""scripts/demo: an output folder given relative to where the user ran it lands there (not
in the repository, where scripts/_venv.sh changes to), and every path it prints is absolute.

The demo runs in a copy of the repository's scripts whose .venv holds stand-ins for the
commands (they log their arguments and make the folders the next step reads), so the test
checks the script's paths in a second, without a camera, a curation or a training.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]

# Each stand-in logs "name args..."; `capture` makes the session folder with a frame per
# pass (the demo copies the hall burst's raw files); `python -c` prints a frame count.
STUB = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$DEMO_LOG"
if [ "$(basename "$0")" = capture ]; then
  while [ $# -gt 0 ]; do
    if [ "$1" = --session ]; then
      mkdir -p "$2/dark" "$2/bright"
      touch "$2/session.json" "$2/dark/0000.dng" "$2/bright/0000.dng"
    fi
    shift
  done
fi
if [ "$(basename "$0")" = python ] && [ "${1:-}" = -c ]; then echo "1 dark, 1 bright frames"; fi
exit 0
"""


@pytest.fixture
def fake_repo(tmp_path) -> Path:
    """A repository with the real scripts/demo and scripts/_venv.sh and a stand-in .venv."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    for name in ("demo", "_venv.sh"):
        shutil.copy2(REPO / "scripts" / name, root / "scripts" / name)
    (root / "pyproject.toml").write_text("[project]\nname = 'stand-in'\n")
    bin_ = root / ".venv" / "bin"
    bin_.mkdir(parents=True)
    for name in ("python", "capture", "curate", "dataset"):
        (bin_ / name).write_text(STUB)
        (bin_ / name).chmod(0o755)
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()[:16]
    (root / ".venv" / ".sublux-installed").write_text(f"{digest} [train]\n")  # installed
    return root


def run_demo(repo: Path, cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess, str]:
    log = cwd / "commands.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "SUBLUX_EXTRAS")}
    env["DEMO_LOG"] = str(log)
    run = subprocess.run(
        ["bash", str(repo / "scripts" / "demo"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return run, log.read_text()


def test_a_relative_output_folder_is_where_the_user_ran_the_demo(fake_repo, tmp_path):
    here = tmp_path / "elsewhere"
    here.mkdir()
    run, commands = run_demo(fake_repo, here, "out")
    out = here / "out"
    assert (out / "desk-1lux" / "session.json").exists()
    assert not (fake_repo / "out").exists()  # was <repo>/out: _venv.sh changes to the repo
    assert f"--session {out}/desk-1lux " in commands
    assert f"curate run {out}/desk-1lux {out}/kitchen-0.5lux" in commands
    assert f"--out {out}/release-1.0.0 " in commands
    assert f"== output: {out}\n" in run.stdout
    assert f"  {out}/hall/  (1 dark, 1 bright frames)" in run.stdout
    assert f"release: {out}/release-1.0.0 " in run.stdout
    assert f"patches: {out}/patches-512/" in run.stdout


def test_printed_paths_are_absolute(fake_repo, tmp_path):
    here = tmp_path / "elsewhere"
    (here / "sub").mkdir(parents=True)
    run, _ = run_demo(fake_repo, here / "sub", "../demo/")
    summary = run.stdout.split("sessions written:\n", 1)[1].splitlines()
    # "  /abs/session/  (counts)", "      report:    /abs/...", "release: /abs/... (...)"
    paths = [line.split()[0 if line.split()[0].endswith("/") else 1] for line in summary]
    assert len(paths) == 7 * 3 + 3 and all(p.startswith(f"{here}/demo/") for p in paths), paths
    assert f"== output: {here / 'demo'}\n" in run.stdout  # ../ and the trailing / resolved


def test_an_existing_folder_gets_a_numbered_sibling_beside_it(fake_repo, tmp_path):
    here = tmp_path / "elsewhere"
    (here / "out").mkdir(parents=True)
    run, _ = run_demo(fake_repo, here, "out/")
    assert f"== output: {here / 'out-1'}\n" in run.stdout
    assert list((here / "out").iterdir()) == []


def test_the_default_output_is_the_repositorys_demo_output(fake_repo, tmp_path):
    here = tmp_path / "elsewhere"
    here.mkdir()
    run, _ = run_demo(fake_repo, here)
    assert f"== output: {fake_repo / 'demo-output'}\n" in run.stdout
    assert (fake_repo / "demo-output" / "desk-1lux").is_dir()
