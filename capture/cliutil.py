"""What every sublux command shares: turning exceptions into messages and exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable

import typer
from rich.console import Console

from capture.errors import os_error_message

__all__ = ["handle_errors"]


def handle_errors(
    *,
    bad: tuple[type[BaseException], ...],
    fail: tuple[type[BaseException], ...],
    console: Console,
    os_errors: bool = False,
) -> Callable:
    """A decorator: ``bad`` exceptions exit 2 (a bad request), ``fail`` exit 1, on stderr,
    with the message and without a traceback.

    With ``os_errors``, any other :class:`OSError` (a full disk, a read-only file system, no
    permission) also exits 1 with one line naming the path, what happened and what to do.
    """

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except bad as exc:
                console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
                raise typer.Exit(2) from None
            except fail as exc:
                console.print(f"[bold red]failed:[/] {exc}", highlight=False, soft_wrap=True)
                raise typer.Exit(1) from None
            except OSError as exc:
                if not os_errors:
                    raise
                console.print(
                    f"[bold red]failed:[/] {os_error_message(exc)}",
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(1) from None

        return wrapper

    return decorate
