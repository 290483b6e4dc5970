"""The trainer's named phases (:mod:`baseline.train`), each on its own, without a release."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import DataLoader

from baseline import train as T


def _run(cfg: T.Config, *, items: int = 8, **kw) -> T._Run:
    parts = T._model_and_optimizer(cfg, torch.device("cpu"))
    loader = DataLoader(list(range(items)), batch_size=cfg.batch)
    return T._Run.begin(
        cfg,
        parts,
        net=parts.model,
        loader=loader,
        sampler=None,
        device=torch.device("cpu"),
        rank=0,
        world=1,
        result=kw.pop("result", T.TrainResult()),
        epoch=kw.pop("epoch", 0),
        best=-math.inf,
        best_state=None,
        progress=None,
        **kw,
    )


def test_the_run_plans_its_steps_from_its_limits():
    assert _run(T.Config(tiny=True, steps=40)).planned == 40
    assert _run(T.Config(tiny=True, epochs=3, steps=None, batch=2)).planned == 12  # 3 x 4
    timed = _run(T.Config(tiny=True, minutes=1.0, steps=None))
    assert timed.planned is None and timed.budget == 60.0


def test_learning_rate_drops_to_a_tenth_for_the_second_half():
    run = _run(T.Config(tiny=True, steps=40, lr=1e-3))
    assert run._learning_rate() == pytest.approx(1e-3)
    run.result.steps = 20
    assert run._learning_rate() == pytest.approx(1e-4)


def test_evaluations_come_every_eighth_of_a_step_budget_and_at_the_end():
    run = _run(T.Config(tiny=True, steps=80))
    run.result.steps = 9
    assert not run.evaluation_due(0.0)
    run.result.steps = 10
    assert run.evaluation_due(0.0)
    run.last_eval_step = 10
    run.result.steps = 11
    assert not run.evaluation_due(0.0)
    run.stop = True
    assert run.evaluation_due(0.0)


def test_evaluations_every_twentieth_of_the_epochs():
    run = _run(T.Config(tiny=True, epochs=40, steps=None))
    run.epoch = 3
    assert not run.evaluation_due(0.0)
    run.epoch = 4
    assert run.evaluation_due(0.0)


def test_resume_takes_a_checkpoint_of_the_same_model_only(tmp_path):
    cfg = T.Config(tiny=True, steps=4, checkpoint=str(tmp_path / "ck.pt"))
    run = _run(cfg, result=T.TrainResult(steps=3, losses=[1.0, 0.5, 0.25]), epoch=2)
    run.best = 12.5
    run._checkpoint(tmp_path / "ck.pt")
    cpu = torch.device("cpu")
    parts = T._model_and_optimizer(cfg, cpu)
    epoch, result, best, best_state = T._resume(tmp_path / "ck.pt", cfg, parts, cpu)
    assert (epoch, result.steps, result.losses, best) == (2, 3, [1.0, 0.5, 0.25], 12.5)
    assert best_state is None
    for k, t in parts.model.state_dict().items():
        assert torch.equal(t, run.parts.model.state_dict()[k])
    other = T.Config(model="smid", tiny=True, steps=4)
    fresh = T._resume(tmp_path / "ck.pt", other, T._model_and_optimizer(other, cpu), cpu)
    assert fresh[0] == 0 and fresh[1] == T.TrainResult() and fresh[2] == -math.inf
    assert fresh[3] is None
    assert T._resume(None, cfg, parts, cpu)[0] == 0


def test_finish_fills_the_totals_and_restores_the_best_state():
    run = _run(T.Config(tiny=True, steps=4))
    best = {k: torch.zeros_like(t) for k, t in run.parts.model.state_dict().items()}
    run.best_state, run.images, run.stepping, run.wait, run.epoch = best, 8, 2.0, 0.5, 3
    model = run.finish()
    assert run.result.epochs == 3 and run.result.images_per_s == 4.0
    assert run.result.data_wait_fraction == 0.25 and run.result.batch == 1
    assert all(float(t.abs().sum()) == 0 for t in model.state_dict().values())


def test_threads_are_a_bad_request():
    from baseline.errors import BadRequest

    with pytest.raises(BadRequest, match="--threads 1 or more"):
        T.Config(threads=0)
