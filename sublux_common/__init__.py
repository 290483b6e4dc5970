"""What every sublux stage shares: durable files, hashing, command helpers, the version.

The bottom layer (ARCHITECTURE.md): it imports no stage, and every stage may import it.

- :mod:`sublux_common.fsio`: atomic writes, fsynced appends, crash points for fault tests.
- :mod:`sublux_common.hashing`: sha256 of bytes and files.
- :mod:`sublux_common.oserrors`: one line for an :class:`OSError` (path, what, what to do).
- :mod:`sublux_common.cliutil`: exceptions to messages and exit codes in every command.
- :mod:`sublux_common.progress`: the one progress-callback type.
"""

__version__ = "0.1.0"
