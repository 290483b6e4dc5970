"""``python -m dataset_card`` is the packager's part of the ``dataset`` command (build, publish,
verify, info, export).  ``validate`` belongs to the trainer, which sits above this package in
the import chain: the installed ``dataset`` command and ``python -m sublux dataset`` have it."""

from dataset_card.cli import main

main()
