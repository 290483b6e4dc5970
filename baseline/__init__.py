"""sublux's last stage: train a known baseline on a release and gate the release on it.

SID's U-Net and SMID's residual U-Net (:mod:`baseline.models`), their losses
(:mod:`baseline.losses`) and DRV's metrics (:mod:`baseline.metrics`, numpy only) are trained
and scored on a release's splits read through :mod:`dataset_card.reader`.  PyTorch comes with
the ``train`` extra; importing this package alone does not import it.
"""
