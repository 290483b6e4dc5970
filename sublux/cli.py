"""The entry points of ``capture``, ``curate`` and ``dataset`` (``[project.scripts]``).

Each stage's ``cli.py`` holds its own commands; this module chooses what each installed
command is.  ``dataset`` is the packager's commands (:mod:`dataset_card.cli`) plus the
trainer's ``validate`` (:mod:`baseline.cli`), which sits above the packager in the import chain
and so cannot be registered by it.  Stages are imported only when their command runs, so
``capture --help`` does not import h5py or torch.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated

import typer

from sublux_common.cliutil import run_app

__all__ = ["capture", "curate", "dataset", "dataset_app", "train_available"]


def capture(args: list[str] | None = None, prog_name: str | None = None) -> None:
    """The ``capture`` command (:mod:`capture.cli`); ``args``: sys.argv[1:] unless given,
    ``prog_name``: the name in its usage lines."""
    from capture.cli import app

    run_app(app, args, prog_name)


def curate(args: list[str] | None = None, prog_name: str | None = None) -> None:
    """The ``curate`` command (:mod:`curate.cli`); ``args``: sys.argv[1:] unless given,
    ``prog_name``: the name in its usage lines."""
    from curate.env import set_curate_env

    set_curate_env()  # before curate.cli imports numpy
    from curate.cli import app

    run_app(app, args, prog_name)


def train_available() -> bool:
    """Whether the ``train`` extra (torch) is installed, found without importing it (an
    import costs seconds that every ``dataset`` command would pay)."""
    return importlib.util.find_spec("torch") is not None


def _validate_needs_train(
    args: Annotated[list[str] | None, typer.Argument(help="The options `validate` takes.")] = None,
) -> None:
    """Train a baseline and gate the release on it (needs the train extra, torch)."""
    from rich.markup import escape

    from baseline.cli import INSTALL_HINT  # no torch import: that happens in validate()
    from dataset_card.cli import err

    message = f"expected torch for `dataset validate`, found none; {INSTALL_HINT}"
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def dataset_app() -> typer.Typer:
    """The ``dataset`` command as a Typer app: a new app each call.

    Returns
    -------
    typer.Typer
        :mod:`dataset_card.cli`'s commands (build, publish, verify, info, export) and
        ``validate``: :func:`baseline.cli.validate` when :func:`train_available`, otherwise a
        stand-in that says how to install the extra (exit code 2).
    """
    from dataset_card.cli import app as packager

    app = typer.Typer(
        help=packager.info.help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.add_typer(packager)  # no name: its commands become this app's
    if train_available():
        from baseline.cli import validate

        app.command()(validate)
    else:
        app.command(
            "validate",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )(_validate_needs_train)
    return app


def dataset(args: list[str] | None = None, prog_name: str | None = None) -> None:
    """The ``dataset`` command (:func:`dataset_app`); ``args``: sys.argv[1:] unless given,
    ``prog_name``: the name in its usage lines."""
    run_app(dataset_app(), args, prog_name)
