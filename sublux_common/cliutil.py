"""What every sublux command shares: turning exceptions into messages and exit codes.

The policy (ARCHITECTURE.md, "Exceptions"): a command maps *sublux's* exceptions to a message
and an exit code (2: a bad request, 1: a failure) and an :class:`OSError` to one line naming
its path (exit 1).  Anything else (a bare ``ValueError``, ``KeyError``, ``TypeError`` ...) is a
bug: it is not caught here, so it reaches the user with its traceback and exit code 1.
"""

from __future__ import annotations

import builtins
import functools
import logging
from collections.abc import Callable

import typer
from rich.console import Console
from rich.markup import escape

from sublux_common.memory import collect_once_at_exit, tune_allocator
from sublux_common.oserrors import os_error_message

__all__ = ["exit_code", "handle_errors", "run_app"]


def run_app(app: typer.Typer, args: list[str] | None = None, prog_name: str | None = None) -> None:
    """Run a command's Typer ``app``: warnings logged as one line each, the allocator set for
    frames of tens of megabytes (:func:`~sublux_common.memory.tune_allocator`), one garbage
    collection at exit (:func:`~sublux_common.memory.collect_once_at_exit`); ``args``:
    ``sys.argv[1:]`` unless given, ``prog_name``: the name in its usage lines."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    tune_allocator()
    collect_once_at_exit()
    app(args=args, prog_name=prog_name)


def _no_builtins(name: str, classes: tuple[type[BaseException], ...]) -> None:
    for cls in classes:
        if getattr(builtins, cls.__name__, None) is cls:
            raise TypeError(
                f"expected sublux exception classes in {name}=, found the builtin "
                f"{cls.__name__}: a builtin exception is a bug and must keep its traceback "
                "(map OSError with os_errors=True)"
            )


def exit_code(
    exc: BaseException,
    *,
    bad: tuple[type[BaseException], ...],
    fail: tuple[type[BaseException], ...],
) -> int:
    """2 (a bad request) or 1 (a failure) for ``exc``: the first class of ``bad`` or ``fail``
    in its method resolution order decides, so the most specific listed class wins."""
    for cls in type(exc).__mro__:
        if cls in fail:
            return 1
        if cls in bad:
            return 2
    raise TypeError(f"{type(exc).__name__} is in neither bad= nor fail=")


def handle_errors(
    *,
    bad: tuple[type[BaseException], ...],
    fail: tuple[type[BaseException], ...],
    console: Console,
    os_errors: bool = False,
) -> Callable:
    """A decorator: ``bad`` exceptions exit 2 (a bad request), ``fail`` exit 1, on stderr,
    with the message and without a traceback.

    Parameters
    ----------
    bad, fail : tuple of exception classes
        sublux's own exception classes (a package base such as ``CaptureError`` or one of
        its subclasses).  The most specific listed class wins: the first of ``bad`` and
        ``fail`` in the exception's method resolution order, so a ``fail`` subclass of a
        ``bad`` class (a damaged release among bad releases) exits 1, and a class that is
        both a bad request and a stage's error (``SessionExists(SessionError, BadRequest)``)
        exits 2 when its bad-request base comes first.  A builtin class (``ValueError``,
        ``OSError`` ...) is refused with :class:`TypeError`: catching one would report a bug
        as the user's mistake.
    console : rich.console.Console
        Where the message goes (stderr).
    os_errors : bool
        Any other :class:`OSError` (a full disk, a read-only file system, no permission, a
        missing file) also exits 1, with one line naming the path, what happened and what to
        do.

    Any other exception passes through untouched: Python prints its traceback and exits 1.
    """
    _no_builtins("bad", bad)
    _no_builtins("fail", fail)

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (*bad, *fail) as exc:
                code = exit_code(exc, bad=bad, fail=fail)
                label = "error:" if code == 2 else "failed:"
                console.print(
                    f"[bold red]{label}[/] {escape(str(exc))}", highlight=False, soft_wrap=True
                )
                raise typer.Exit(code) from None
            except OSError as exc:
                if not os_errors:
                    raise
                console.print(
                    f"[bold red]failed:[/] {escape(os_error_message(exc))}",
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(1) from None

        return wrapper

    return decorate
