"""``python -m sublux COMMAND ...`` runs ``capture``, ``curate`` or ``dataset`` (with
``validate``) without the installed scripts: ``python -m sublux dataset validate REL``."""

from __future__ import annotations

import sys

from sublux import cli

COMMANDS = {"capture": cli.capture, "curate": cli.curate, "dataset": cli.dataset}


def main(argv: list[str] | None = None) -> None:
    """Run the command ``argv[0]`` (default: ``sys.argv[1:]``) on the rest of ``argv``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        usage = f"usage: python -m sublux {{{','.join(COMMANDS)}}} [ARGS]..."
        if argv and argv[0] in ("-h", "--help"):
            print(usage)
            sys.exit(0)
        found = repr(argv[0]) if argv else "nothing"
        print(f"{usage}\nerror: expected a command, found {found}", file=sys.stderr)
        sys.exit(2)
    COMMANDS[argv[0]](args=argv[1:], prog_name=f"python -m sublux {argv[0]}")


if __name__ == "__main__":
    main()
