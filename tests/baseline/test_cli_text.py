"""What `dataset validate` prints (review finding 10): its progress in a log, the gate in words."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console

from baseline.cli import LOG_EVERY_S, _train_bar
from baseline.train import TrainProgress
from baseline.validate import _table, loss_text


def _record(step: int, total: int | None, *, val: float | None = None) -> TrainProgress:
    return TrainProgress(
        step=step,
        total_steps=total,
        epoch=0,
        images_per_s=310.0,
        loss=0.01,
        val_psnr=val,
        seconds=step / 300,
        seconds_left=None if total is None else (total - step) / 300,
    )


def table_report(*, passed: bool, ground_truth: str, means: int) -> dict:
    """A tiny ``report.json`` as ``dataset validate`` writes it, for :func:`_table`: the gate
    ``passed`` (and the loss fell) or not, with ``ground_truth`` (``pair`` or ``mean``) from
    ``means`` sessions."""
    return {
        "config": {"model": "sid", "tiny": True, "margin_db": 5.0, "eval_frames": 3},
        "train": {"steps": 1, "seconds": 1.0},
        "device": "cpu",
        "gate": {"passed": passed, "margin_db": 6.0, "loss_fell": passed},
        "ground_truth": ground_truth,
        "ground_truth_means": means,
        "val": {"naive_psnr": 1.0, "naive_ssim": 0.1, "psnr": 2.0, "ssim": 0.2},
        "test": {"naive_psnr": 1.0, "naive_ssim": 0.1, "psnr": 2.0, "ssim": 0.2},
    }


def test_the_last_step_reported_again_is_not_printed_twice():
    # the trainer reports its last step once more after the final evaluation (a new record,
    # the same step, loss and val PSNR, later times): one line, not two
    buf = io.StringIO()
    with _train_bar(console=Console(file=buf, width=80)) as progress:
        for step in range(1, 11):
            progress(_record(step, 10))
        again = _record(10, 10)
        # even after a final evaluation longer than the heartbeat's interval
        progress(dataclasses.replace(again, seconds=again.seconds + LOG_EVERY_S + 1.0))
    lines = buf.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines].count("training: step 10/10") == 1
    # the run's end as the trainer reports it: its last step, then the same step again after
    # the final evaluation with a new val PSNR and the last losses: one line, the latter's
    buf = io.StringIO()
    with _train_bar(console=Console(file=buf, width=80)) as progress:
        for step in range(1, 11):
            progress(_record(step, 10, val=30.0 if step >= 5 else None))
        final = _record(10, 10, val=31.5)
        progress(dataclasses.replace(final, loss=0.02))
    lines = buf.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines].count("training: step 10/10") == 1
    assert lines[-1].startswith("training: step 10/10, 310.0 img/s, loss 0.0200, val 31.50 dB")


def test_progress_in_a_log_is_whole_lines_not_a_cut_bar():
    buf = io.StringIO()
    console = Console(file=buf, width=80)  # a log file: not a terminal, 80 columns
    assert not console.is_terminal
    with _train_bar(console=console) as progress:
        for step in range(1, 2501):
            progress(_record(step, 2500, val=30.12 if step >= 1250 else None))
    lines = buf.getvalue().splitlines()
    assert lines[0] == (
        "training: step 1/2500, 310.0 img/s, loss 0.0100, 0:00:08 left, 0:00:00 elapsed"
    )
    assert lines[-1] == (
        "training: step 2500/2500, 310.0 img/s, loss 0.0100, val 30.12 dB, 0:00:00 left, "
        "0:00:08 elapsed"
    )
    assert len(lines) == 11  # steps 1, 250, 500, ... 2500: a tenth each
    assert "training: step 1250/2500, 310.0 img/s, loss 0.0100, val 30.12 dB," in buf.getvalue()
    assert "…" not in buf.getvalue()


def test_the_gate_says_whether_the_loss_fell_in_words():
    assert loss_text(True) == "the training loss fell"
    assert loss_text(False) == "the training loss did not fall"
    table = _table(table_report(passed=False, ground_truth="pair", means=0))
    assert "needed 5.0 dB; the training loss did not fall)." in table
    assert "True" not in table and "False" not in table
