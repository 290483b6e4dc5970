"""``python -m curate`` is the ``curate`` command."""

import os

# as ``sublux.cli.CURATE_ENV`` (which this layer may not import): curation's threads, not
# OpenBLAS's, use the cores; set before numpy is imported
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from curate.cli import main

main()
