"""The dataset stage: turn curated sessions into a versioned, checksummed release.

A release holds HDF5 split files (``data/<split>.h5``, laid out as :mod:`dataset_card.schema`
says and written by :mod:`dataset_card.h5writer`; only the ``h5*`` modules import h5py),
Parquet row tables that Hugging Face ``datasets`` and Croissant read
(:mod:`dataset_card.parquet`), a Hugging Face dataset card, Croissant metadata, a pairs manifest
and ``SHA256SUMS``.  Users read it with :mod:`dataset_card.reader`, which returns NumPy arrays
and is safe in DataLoader worker processes.
"""
