"""sublux's command layer: the ``capture``, ``curate`` and ``dataset`` commands.

The top of the import chain (``sublux`` → ``baseline`` → ``dataset_card`` → ``curate`` →
``capture``; see ARCHITECTURE.md).  It owns what no stage can: which commands make up
``dataset`` (the packager's, plus the trainer's ``validate`` when the ``train`` extra is
installed).  Nothing imports it but the entry points and the tests.
"""
