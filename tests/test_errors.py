"""The exception policy of every command (ARCHITECTURE.md, "Exceptions"): sublux's bad
requests exit 2 and its failures 1, with one line and no traceback; anything else is a bug,
reported as one: exit 1 with its traceback, never as the user's mistake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from capture.errors import BadRequest, CaptureError
from sublux_common.cliutil import handle_errors

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

#: Runs ``python -m sublux ARGS...`` with MODULE.ATTR replaced by a function raising the
#: builtin exception NAME(MESSAGE): an internal error where the command calls the library.
_INJECT = """
import builtins, importlib, sys
module, attr, name, message, *args = sys.argv[1:]
def boom(*a, **k):
    raise getattr(builtins, name)(message)
setattr(importlib.import_module(module), attr, boom)
from sublux.__main__ import main
main(args)
"""
BROADCAST = "operands could not be broadcast together with shapes (4,6) (3,6)"


def _run_with_bug(
    module: str, attr: str, exc: str, message: str, *args
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-c", _INJECT, module, attr, exc, message, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("command", "module", "attr", "exc"),
    [
        (["capture", "repair", "{tmp}/s"], "capture.repair", "repair_session", "KeyError"),
        (["curate", "run", "{tmp}/s"], "curate.batch", "run_many", "ValueError"),
        (
            ["dataset", "export", "{tmp}/rel", "{tmp}/out"],
            "dataset_card.export_smid",
            "export_smid",
            "ValueError",
        ),
    ],
    ids=["capture", "curate", "dataset"],
)
def test_an_internal_error_is_reported_as_a_bug(tmp_path, command, module, attr, exc):
    """A builtin exception from inside a command (a numpy broadcasting bug, a missing key)
    exits 1 with its traceback on stderr; it is not "error: ..." with exit 2."""
    args = [a.format(tmp=tmp_path) for a in command]
    run = _run_with_bug(module, attr, exc, BROADCAST, *args)
    assert run.returncode == 1, run.stderr
    assert "Traceback (most recent call last)" in run.stderr
    assert f"{exc}: " in run.stderr and "could not be broadcast" in run.stderr
    assert "error:" not in run.stderr and "failed:" not in run.stderr


def test_the_shared_decorator_refuses_builtins_as_bad_requests():
    console = Console(stderr=True)
    with pytest.raises(TypeError, match="builtin ValueError"):
        handle_errors(bad=(ValueError,), fail=(CaptureError,), console=console)
    with pytest.raises(TypeError, match="builtin OSError"):
        handle_errors(bad=(BadRequest,), fail=(CaptureError, OSError), console=console)
    handle_errors(bad=(BadRequest,), fail=(CaptureError,), console=console, os_errors=True)


def _fail_with(exc: BaseException):
    def boom(*args, **kwargs):
        raise exc

    return boom


def test_curate_run_reports_a_session_that_hit_a_bug_with_its_traceback(monkeypatch, tmp_path):
    """`curate run` catches each session's error so the others go on; a builtin one is a bug
    (exit 1, its traceback shown), a sublux bad request the user's (exit 2, one line)."""
    import curate.batch
    from curate.cli import app

    monkeypatch.setattr(curate.batch, "align_session", _fail_with(ValueError(BROADCAST)))
    r = runner.invoke(app, ["run", str(tmp_path / "s"), "--workers", "1", "--no-report"])
    assert r.exit_code == 1, r.output
    assert "ValueError: operands could not be broadcast" in r.output
    assert "Traceback (most recent call last)" in r.output
    res = curate.batch.curate_one(str(tmp_path / "s"), report=False)
    assert not res["ok"] and res["bug"] and not res["bad_request"]

    monkeypatch.setattr(
        curate.batch, "align_session", _fail_with(BadRequest("expected a session, found none"))
    )
    r = runner.invoke(app, ["run", str(tmp_path / "s"), "--workers", "1", "--no-report"])
    assert r.exit_code == 2, r.output
    assert "expected a session" in r.output and "Traceback" not in r.output


def test_dataset_bad_requests_exit_2_with_what_to_do(tmp_path):
    from dataset_card.cli import app

    r = runner.invoke(app, ["build", str(tmp_path / "s"), "--out", str(tmp_path)])
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(app, ["publish", str(tmp_path / "s")])
    assert r.exit_code == 2 and "expected --name, --version and --out" in r.output
    r = runner.invoke(app, ["export", str(tmp_path), str(tmp_path / "x"), "--format", "tar"])
    assert r.exit_code == 2 and "smid or patches" in r.output
    # a staging folder whose staging.json is damaged, or lacks what `build` writes
    args = ["publish", "--name", "n", "--version", "1.0.0", "--out", str(tmp_path / "rel")]
    (tmp_path / "staging.json").write_text("{not json")
    r = runner.invoke(app, [*args, "--from", str(tmp_path)])
    assert r.exit_code == 2 and "invalid JSON" in r.output, r.output
    (tmp_path / "staging.json").write_text('{"sessions": []}')
    r = runner.invoke(app, [*args, "--from", str(tmp_path)])
    assert r.exit_code == 2 and "seed, fractions" in r.output, r.output
    assert not (tmp_path / "rel").exists()


# -- an OS error of no file, and a scheduler that does not answer -------------------------


def test_an_os_error_without_a_path_is_said_without_one():
    """A timeout or a refused connection names no file: the line says what happened, not
    "(no path given)", and for a known errno what to do."""
    import errno

    from sublux_common.oserrors import os_error_message

    msg = os_error_message(TimeoutError("Timed out trying to connect to tcp://h:1 after 30 s"))
    assert msg == "Timed out trying to connect to tcp://h:1 after 30 s"
    refused = OSError(errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED))
    msg = os_error_message(refused, doing="connecting to tcp://h:1")
    assert msg.startswith("the connection was refused (")
    assert "while connecting to tcp://h:1" in msg and "check the address and port" in msg
    assert "no path" not in msg


def test_curate_run_names_the_scheduler_that_does_not_answer_and_what_to_try(monkeypatch, tmp_path):
    import curate.batch
    from curate.cli import app

    monkeypatch.setattr(curate.batch, "SCHEDULER_TIMEOUT_S", 1)  # port 1: nothing listens
    r = runner.invoke(app, ["run", "--scheduler", "tcp://127.0.0.1:1", str(tmp_path / "s")])
    assert r.exit_code == 1, r.output
    text = " ".join(r.output.split())
    assert "failed: expected a Dask scheduler answering at tcp://127.0.0.1:1" in text
    assert "`dask scheduler`" in text and "leave out --scheduler" in text
    assert "(no path given)" not in text and "Traceback" not in text
    r = runner.invoke(app, ["run", "--scheduler", "127.0.0.1", str(tmp_path / "s")])
    assert r.exit_code == 2, r.output
    assert "expected --scheduler tcp://HOST:PORT" in " ".join(r.output.split())


@pytest.mark.parametrize("module", ["sublux_common.oserrors", "sublux_common.names"])
def test_the_shared_layers_examples_hold(module):
    """The docstrings' examples (a full disk's line, a name with '/') are what the code says;
    pytest does not collect doctests, so they are run here."""
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result


def test_the_most_specific_listed_class_decides_the_exit_code():
    """A failure subclass of a bad-request class (a damaged release is a BadRelease) exits 1;
    a class whose bad-request base comes first in its MRO exits 2."""
    from sublux_common.cliutil import exit_code

    class Bad(CaptureError):
        pass

    class Damaged(Bad):
        pass

    class Stage(CaptureError):
        pass

    class Both(Bad, Stage):
        pass

    bad, fail = (Bad,), (Damaged, Stage)
    assert exit_code(Bad("x"), bad=bad, fail=fail) == 2
    assert exit_code(Damaged("x"), bad=bad, fail=fail) == 1
    assert exit_code(Stage("x"), bad=bad, fail=fail) == 1
    assert exit_code(Both("x"), bad=bad, fail=fail) == 2  # Both, Bad, Stage, ...

    app = typer.Typer()

    @app.command()
    @handle_errors(bad=bad, fail=fail, console=Console(stderr=True))
    def main(kind: str) -> None:
        raise {"bad": Bad, "damaged": Damaged}[kind](f"{kind} input")

    bad_run = runner.invoke(app, ["bad"])
    damaged_run = runner.invoke(app, ["damaged"])
    assert bad_run.exit_code == 2 and "error: bad input" in bad_run.output
    assert damaged_run.exit_code == 1 and "failed: damaged input" in damaged_run.output
