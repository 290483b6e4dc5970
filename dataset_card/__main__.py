"""``python -m dataset_card`` is the ``dataset`` command."""

from dataset_card.cli import main

main()
