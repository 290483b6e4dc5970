"""``python -m curate`` is the ``curate`` command."""

from curate.env import set_curate_env

set_curate_env()  # before curate.cli imports numpy

from curate.cli import main  # noqa: E402

main()
