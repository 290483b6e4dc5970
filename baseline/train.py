"""Train a baseline on a release, pick it on val, score test, and gate the release.

One device, or several through ``torchrun`` (DistributedDataParallel; rank 0 evaluates and
writes).  On a GPU: bf16 autocast, channels_last, optional ``torch.compile``.  Seeded; at
every evaluation on val (8 to 20 a run, and at the end) a checkpoint, and a run resumes
from it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from baseline import metrics as M
from baseline.data import (
    GROUND_TRUTHS,
    SIDPairs,
    SMIDPairs,
    frame_input,
    sequences,
    split_reader,
)
from baseline.errors import BadRequest
from baseline.losses import VGG19Features, l1, smid_loss
from baseline.models import build_model
from curate.raw import render_mosaic
from dataset_card.reader import half_size, open_release, usable_ratio
from sublux_common.fsio import atomic_write

__all__ = [
    "Config",
    "TrainProgress",
    "TrainResult",
    "dump_json",
    "evaluate",
    "loss_fell",
    "resolve_device",
    "train",
]

log = logging.getLogger(__name__)


@dataclass
class Config:
    """Everything a validation run depends on (recorded in ``metrics.json``)."""

    model: str = "sid"
    epochs: int | None = None
    steps: int | None = None
    minutes: float | None = None
    device: str = "auto"
    tiny: bool = False
    crop: int = 512
    batch: int = 1
    lr: float = 1e-4
    seed: int = 0
    workers: int = 2
    compile: bool = False
    vgg_weights: str | None = None
    margin_db: float = 5.0
    eval_frames: int = 30
    checkpoint: str | None = None
    gt: str = "pair"
    #: CPU threads for torch (None: 1 with ``tiny``, else torch's default).  The tiny model's
    #: tensors are too small for intra-op threads to pay: on a 2-core machine other processes
    #: also use, two threads made a 800-step run 20x slower than one (spinning OpenMP threads
    #: waiting for a core), and on a quiet one they gain nothing measurable.
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.model not in ("sid", "smid"):
            raise BadRequest(f"expected --model sid or smid, found {self.model!r}")
        if self.gt not in GROUND_TRUTHS:
            raise BadRequest(
                f"expected --gt {' or '.join(GROUND_TRUTHS)}, found {self.gt!r}: pair is the "
                "rendering of each frame's reference, mean that of the mean of a session's "
                "references"
            )
        if self.threads is not None and self.threads < 1:
            raise BadRequest(f"expected --threads 1 or more, found {self.threads}")
        if self.tiny:
            if self.threads is None:
                self.threads = 1
            self.crop = min(self.crop, 64)
            self.workers = 0  # a CPU check: worker start-up would cost more than it saves
            self.lr = max(self.lr, 1e-3)
            if self.epochs is None and self.minutes is None and self.steps is None:
                # A step count, not a time budget, so the result is the same on any machine.
                self.steps = 2500
        if self.epochs is None and self.minutes is None and self.steps is None:
            self.epochs = 100


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    val: list[tuple[int, float]] = field(default_factory=list)
    epochs: int = 0
    steps: int = 0
    seconds: float = 0.0  # wall clock, evaluations on val included
    step_seconds: float = 0.0  # training steps only (this run; waits for data included)
    data_wait_fraction: float = 0.0  # of step_seconds
    images_per_s: float = 0.0  # over all processes, per second of step_seconds
    peak_gpu_mb: float | None = None
    best_epoch: int = 0
    world_size: int = 1  # processes under torchrun (DistributedDataParallel), else 1
    batch: int = 0  # per process, as trained: the requested batch, or fewer train sequences


@dataclass
class TrainProgress:
    """What :func:`train` tells its ``progress`` callback after each step and evaluation.

    ``total_steps`` is the run's planned steps where it has a step or epoch limit (None for a
    time budget alone); ``seconds_left`` the estimated time to the end (None until known).

    Why not :data:`sublux_common.progress.OnProgress`: that callback carries counts only,
    ``(step, done, total)``, which is all a capture, a curation or a publication has to say.
    A training run has more: the latest loss and val PSNR, the throughput, the epoch and a
    time estimate (for a time budget there is no total at all), and ``dataset validate``
    shows them beside its bar.  So the trainer's callback takes this one record; a caller
    that only wants counts reads ``step`` and ``total_steps`` from it.
    """

    step: int
    total_steps: int | None
    epoch: int
    images_per_s: float
    loss: float | None
    val_psnr: float | None
    seconds: float
    seconds_left: float | None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BadRequest(
            "expected a CUDA device for --device cuda, found none (torch "
            f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); use --device cpu "
            "(with --tiny for a quick check) or run on a machine with a GPU"
        )
    if name not in ("cpu", "cuda"):
        raise BadRequest(f"expected --device cpu, cuda or auto, found {name!r}")
    return torch.device(name)


def _seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _forward(model, x, device, amp):
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        return model(x).float()


def _infer(model, inp: np.ndarray, device, amp, channels_last) -> np.ndarray:
    x = torch.from_numpy(inp)[None].to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out = _forward(model, x, device, amp)
    return np.moveaxis(out[0].clamp(0, 1).cpu().numpy(), 0, -1)


def _gt(sd, i: int, model: str, kind: str = "pair") -> np.ndarray:
    """Short frame ``i``'s ground truth (``kind`` as in ``SessionData.ground_truth``)."""
    gt = np.asarray(sd.ground_truth(i, kind), dtype=np.float32) / 65535.0
    return half_size(gt) if model == "smid" else gt


def _naive(sd, i: int, model: str) -> np.ndarray:
    """DRV's Input+Rawpy: the short frame times the exposure ratio, rendered like the GT."""
    a = sd.attrs
    if "color_matrix" not in a:
        raise BadRequest(
            f"expected a color_matrix attribute on session {sd.session_id}, found none: the "
            "release was published by an older sublux; publish it again to validate it"
        )
    ratio = float(sd.short_frames["exposure_ratio"][i])
    rgb = render_mosaic(
        np.asarray(sd.short[i]),
        black_level=a["black_level"],
        white_level=a["white_level"],
        cfa=a["cfa"],
        white_balance=a["white_balance"],
        color_matrix=a["color_matrix"],
        gain=usable_ratio(ratio),
    )
    img = rgb.astype(np.float32) / 65535.0
    return half_size(img) if model == "smid" else img


def evaluate(
    model,
    release,
    split: str,
    cfg: Config,
    device,
    *,
    full: bool = False,
    samples: int = 0,
    naive: bool = True,
) -> dict:
    """Score a split: DRV's protocol on static sequences, and the Input+Rawpy reference.

    ``full=False`` (validation during training) scores one frame per sequence (the 5th);
    ``full=True`` adds the mean over the first ``eval_frames`` frames and the temporal errors
    between consecutive outputs.  ``samples`` keeps that many (input, output, GT) triptychs.
    """
    reader = split_reader(release, split)
    on_gpu = device.type == "cuda"  # bf16 autocast and channels_last there
    model.eval()
    seqs = [(sid, k, frames, reader.session(sid).kind) for sid, k, frames in sequences(reader)]
    static = [s for s in seqs if s[3] == "static"] or seqs
    fifth, naive5, firsts, temporal, shots = [], [], [], [], []
    for sid, _k, frames, _kind in static:
        sd = reader.session(sid)
        gt = _gt(sd, frames[0], cfg.model, cfg.gt)
        pick = frames[min(4, len(frames) - 1)]
        chosen = frames[: cfg.eval_frames] if full else [pick]
        outs = {}
        for i in chosen:
            inp = frame_input(
                np.asarray(sd.short[i]),
                sd.attrs,
                sd.short_frames["exposure_ratio"][i],
                model=cfg.model,
            )
            outs[i] = _infer(model, inp, device, on_gpu, on_gpu)
        out5 = outs[pick]
        scores = {i: (M.psnr(o, gt), M.ssim(o, gt)) for i, o in outs.items()}  # once a frame
        fifth.append(scores[pick])
        nv = _naive(sd, pick, cfg.model) if naive else None
        if nv is not None:
            naive5.append((M.psnr(nv, gt), M.ssim(nv, gt)))
        if full:
            firsts += list(scores.values())
            seq = [outs[i] for i in chosen]
            if len(seq) > 1:
                temporal.append((M.tpsnr(seq), M.tssim(seq), M.tmae(seq)))
        if nv is not None and len(shots) < samples:
            shots.append((f"{sid}-{pick:04d}", nv, out5, gt))
    model.train()
    reader.close()

    def mean(rows, i):
        vals = [r[i] for r in rows if math.isfinite(r[i])]
        return float(np.mean(vals)) if vals else float("nan")

    result = {
        "split": split,
        "sequences": len(static),
        "psnr": mean(fifth, 0),
        "ssim": mean(fifth, 1),
        "naive_psnr": mean(naive5, 0),
        "naive_ssim": mean(naive5, 1),
    }
    if full:
        result.update(
            {
                "psnr_first_frames": mean(firsts, 0),
                "ssim_first_frames": mean(firsts, 1),
                "tpsnr": mean(temporal, 0),
                "tssim": mean(temporal, 1),
                "tmae_x100": mean(temporal, 2) * 100 if temporal else float("nan"),
            }
        )
    result["_samples"] = shots
    return result


def _save(path: Path, state: dict) -> None:
    with atomic_write(path, "wb") as fh:
        torch.save(state, fh)


#: Steps between copies of the losses to the host, and between the ranks' votes on stopping.
_SYNC_EVERY = 16


def _host(pending: list[torch.Tensor]) -> list[float]:
    """Copy the pending losses to the host in one transfer and empty the list."""
    if not pending:
        return []
    values = torch.stack(pending).float().cpu().tolist()
    pending.clear()
    return values


def _should_stop(step: int, max_steps: float, over_time: bool, world: int) -> bool:
    """Whether every process stops after this step.

    A step limit is reached by all processes at the same step (they step in lockstep).  The time
    budget is each process's own clock, so under torchrun the processes vote (any one over
    stops all) every _SYNC_EVERY steps, at the same steps on every rank: a process leaving the
    loop alone would leave the others waiting in DistributedDataParallel's all-reduce.
    """
    if step >= max_steps:
        return True
    if world == 1:
        return over_time
    if step % _SYNC_EVERY:
        return False
    flag = torch.tensor(float(over_time), device=_vote_device())
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item() > 0)


def _vote_device() -> torch.device:
    # NCCL reduces only CUDA tensors; gloo only CPU ones.
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def train(
    release: str | os.PathLike,
    cfg: Config,
    progress: Callable[[TrainProgress], None] | None = None,
):
    """Train on ``train``, evaluating on ``val`` 8 to 20 times a run (and at the end), keeping
    the best evaluated state; return ``(model, result, device, rank)``.

    ``progress``, if given, is called with a :class:`TrainProgress` after every step and
    every evaluation (on rank 0 only).

    The phases, in order: the device and the processes (:func:`_setup_device`), the release's
    splits (:func:`_require_splits`), the seed, the data (:func:`_data`), the model and its
    optimizer (:func:`_model_and_optimizer`), a resume from the checkpoint (:func:`_resume`),
    the step loop (:meth:`_Run.train_epoch`) with its evaluations on val and checkpoints
    (:meth:`_Run.evaluate`), and the result (:meth:`_Run.finish`).
    """
    rank, world, device = _setup_device(cfg)
    _require_splits(release)
    _seed(cfg.seed + rank)
    loader, sampler = _data(release, cfg, device, rank, world)
    parts = _model_and_optimizer(cfg, device)
    ckpt = Path(cfg.checkpoint) if cfg.checkpoint else None
    start_epoch, result, best, best_state = _resume(ckpt, cfg, parts, device)
    net = _wrap(parts.model, cfg, device, world)
    run = _Run.begin(
        cfg,
        parts,
        net=net,
        loader=loader,
        sampler=sampler,
        device=device,
        rank=rank,
        world=world,
        result=result,
        epoch=start_epoch,
        best=best,
        best_state=best_state,
        progress=progress,
    )
    while run.epoch < run.epochs and not run.stop:
        run.train_epoch()
        now = time.perf_counter() - run.t0
        if rank == 0 and run.evaluation_due(now):
            run.evaluate(release, ckpt, now)
    return run.finish(), run.result, device, rank


# -- the phases of a run ----------------------------------------------------------------------


def _setup_device(cfg: Config) -> tuple[int, int, torch.device]:
    """This process's rank, the number of processes and the device it trains on (its CPU
    threads set, its GPU chosen by ``LOCAL_RANK`` under torchrun)."""
    rank, world = _distributed()
    device = resolve_device(cfg.device)
    if device.type == "cpu" and cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return rank, world, device


def _require_splits(release: str | os.PathLike) -> None:
    """Refuse a release without the train and val splits the trainer needs."""
    rel = open_release(release)
    for need in ("train", "val"):
        if need not in rel.splits:
            raise BadRequest(
                f"expected a {need} split in {release}, found {', '.join(rel.splits) or 'none'};"
                " the trainer trains on train and picks on val (publish with more scenes or "
                "other --fractions)"
            )


def _data(
    release: str | os.PathLike, cfg: Config, device: torch.device, rank: int, world: int
) -> tuple[DataLoader, DistributedSampler | None]:
    """The train split's loader (and its sampler under torchrun): each rank its own crops
    and flips."""
    cls = SIDPairs if cfg.model == "sid" else SMIDPairs
    data = cls(release, "train", crop=cfg.crop, gt=cfg.gt)
    sampler = DistributedSampler(data, seed=cfg.seed) if world > 1 else None
    gen = torch.Generator().manual_seed(cfg.seed + rank)  # each rank its own crops and flips
    loader = DataLoader(
        data,
        batch_size=min(cfg.batch, len(data)),
        shuffle=sampler is None,
        sampler=sampler,
        generator=gen,
        num_workers=cfg.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=cfg.workers > 0,
        drop_last=False,
        prefetch_factor=4 if cfg.workers > 0 else None,
        multiprocessing_context="spawn" if cfg.workers > 0 else None,
    )
    return loader, sampler


@dataclass
class _Parts:
    """The model, its optimizer, the perceptual loss's features (SMID with VGG weights) and
    whether the forward pass runs in bf16 autocast (on a GPU)."""

    model: torch.nn.Module
    opt: torch.optim.Optimizer
    vgg: VGG19Features | None
    amp: bool


def _model_and_optimizer(cfg: Config, device: torch.device) -> _Parts:
    model = build_model(cfg.model, tiny=cfg.tiny).to(device)
    amp = device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    vgg = VGG19Features.from_file(cfg.vgg_weights).to(device).eval() if cfg.vgg_weights else None
    return _Parts(model=model, opt=opt, vgg=vgg, amp=amp)


def _resume(
    ckpt: Path | None, cfg: Config, parts: _Parts, device: torch.device
) -> tuple[int, TrainResult, float, dict | None]:
    """``(start epoch, result so far, best val PSNR, best state)``: from the checkpoint when
    it holds a run of the same model, else a fresh start."""
    if ckpt and ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        if state.get("config", {}).get("model") == cfg.model and state.get("tiny") == cfg.tiny:
            parts.model.load_state_dict(state["model"])
            parts.opt.load_state_dict(state["opt"])
            log.info("resumed from %s at epoch %d", ckpt, state["epoch"])
            return (
                state["epoch"],
                TrainResult(**state["result"]),
                state["best"],
                state["best_state"],
            )
    return 0, TrainResult(), -math.inf, None


def _wrap(model: torch.nn.Module, cfg: Config, device: torch.device, world: int):
    """What the steps call: the model, compiled if asked, in DistributedDataParallel under
    torchrun."""
    net = model
    if cfg.compile:
        net = torch.compile(model)
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
    return net


@dataclass
class _Run:
    """One training run's state: what it trains, its limits, its clocks and counters."""

    cfg: Config
    parts: _Parts
    net: Any
    loader: DataLoader
    sampler: DistributedSampler | None
    device: torch.device
    rank: int
    world: int
    result: TrainResult
    epoch: int
    best: float
    best_state: dict | None
    progress: Callable[[TrainProgress], None] | None
    budget: float  # seconds (inf without a time budget)
    epochs: int
    max_steps: int
    planned: int | None  # steps, for the progress (None for a time budget alone)
    t0: float  # perf_counter at the start of the run, less the seconds resumed
    step0: int  # steps done before this run
    t_run: float  # perf_counter at the start of this run
    last_eval: float
    last_eval_step: int
    pending: list[torch.Tensor] = field(default_factory=list)  # losses not yet on the host
    wait: float = 0.0  # blocked on the loader
    stepping: float = 0.0  # in the training loop (waits included, evaluations not)
    images: int = 0
    stop: bool = False

    @classmethod
    def begin(cls, cfg: Config, parts: _Parts, *, result: TrainResult, **kw: Any) -> _Run:
        """The limits and clocks of a run starting (or resuming) now."""
        budget = cfg.minutes * 60 if cfg.minutes is not None else math.inf
        epochs = cfg.epochs if cfg.epochs is not None else 10**9
        max_steps = cfg.steps if cfg.steps is not None else 10**12
        t0 = time.perf_counter() - result.seconds
        last_eval = time.perf_counter() - t0
        limited = max_steps < 10**12 or epochs < 10**9
        planned = min(max_steps, epochs * len(kw["loader"])) if limited else None
        return cls(
            cfg,
            parts,
            result=result,
            budget=budget,
            epochs=epochs,
            max_steps=max_steps,
            planned=planned,
            t0=t0,
            step0=result.steps,
            t_run=time.perf_counter(),
            last_eval=last_eval,
            last_eval_step=result.steps,
            **kw,
        )

    def report(self) -> None:
        """Tell the progress callback (rank 0 only) where the run is."""
        if self.progress is None or self.rank != 0:
            return
        result = self.result
        now = time.perf_counter()
        done = result.steps - self.step0
        rate = done / (now - self.t_run) if now > self.t_run and done else 0.0
        left = None
        if self.planned is not None and rate:
            left = (self.planned - result.steps) / rate
        if self.budget < math.inf:
            over = max(0.0, self.budget - (now - self.t0))
            left = over if left is None else min(left, over)
        self.progress(
            TrainProgress(
                step=result.steps,
                total_steps=int(self.planned) if self.planned is not None else None,
                epoch=self.epoch,
                images_per_s=rate * self.loader.batch_size * self.world,
                loss=result.losses[-1] if result.losses else None,
                val_psnr=result.val[-1][1] if result.val else None,
                seconds=now - self.t0,
                seconds_left=left,
            )
        )

    def _learning_rate(self) -> float:
        """The configured rate for the first half of the run, a tenth of it after."""
        elapsed = time.perf_counter() - self.t0
        first_half = (
            elapsed < self.budget / 2
            and self.epoch < self.epochs / 2
            and self.result.steps < self.max_steps / 2
        )
        return self.cfg.lr if first_half else self.cfg.lr / 10

    def _loss(self, batch: list[torch.Tensor]) -> torch.Tensor:
        """The forward pass and the model's loss on one batch (on the device)."""
        net, device, amp = self.net, self.device, self.parts.amp
        if self.cfg.model == "sid":
            x, y = batch
            return l1(_forward(net, x, device, amp), y)
        a, b, y = batch
        o = _forward(net, torch.cat([a, b]), device, amp)
        return smid_loss(o[: len(a)], o[len(a) :], y, vgg=self.parts.vgg)

    def _step(self, batch: list[torch.Tensor]) -> None:
        batch = [b.to(self.device, non_blocking=True) for b in batch]
        if self.device.type == "cuda":
            batch = [b.contiguous(memory_format=torch.channels_last) for b in batch]
        loss = self._loss(batch)
        opt = self.parts.opt
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        # Kept on the device and copied every _SYNC_EVERY steps: a copy per step would make
        # the CPU wait for the GPU every step instead of queueing the next one.
        self.pending.append(loss.detach())
        if len(self.pending) >= _SYNC_EVERY:
            self.result.losses.extend(_host(self.pending))
        self.result.steps += 1
        self.images += len(batch[0])

    def train_epoch(self) -> None:
        """One pass over the loader (or up to a limit), then the epoch counts as done."""
        if self.sampler is not None:
            self.sampler.set_epoch(self.epoch)
        lr = self._learning_rate()
        for g in self.parts.opt.param_groups:
            g["lr"] = lr
        tw = t_loop = time.perf_counter()
        for batch in self.loader:
            self.wait += time.perf_counter() - tw
            self._step(batch)
            self.report()
            over_time = time.perf_counter() - self.t0 > self.budget
            if _should_stop(self.result.steps, self.max_steps, over_time, self.world):
                self.stop = True
                break
            tw = time.perf_counter()
        self.result.losses.extend(_host(self.pending))
        self.stepping += time.perf_counter() - t_loop
        self.epoch += 1

    def evaluation_due(self, now: float) -> bool:
        """Evaluate at ``now`` (seconds into the run): at the end, every eighth of a time or
        step budget, or every twentieth of the epochs."""
        cfg = self.cfg
        return (
            self.stop
            or self.epoch >= self.epochs
            or (self.budget < math.inf and now - self.last_eval >= self.budget / 8)
            or (
                cfg.steps is not None
                and self.result.steps - self.last_eval_step >= self.max_steps / 8
            )
            or (
                self.budget == math.inf
                and cfg.steps is None
                and self.epoch % max(1, self.epochs // 20) == 0
            )
        )

    def evaluate(self, release: str | os.PathLike, ckpt: Path | None, now: float) -> None:
        """Score val, keep the best state so far, report, and write the checkpoint."""
        result, model = self.result, self.parts.model
        self.last_eval, self.last_eval_step = now, result.steps
        v = evaluate(model, release, "val", self.cfg, self.device, naive=False)
        result.val.append((self.epoch, v["psnr"]))
        if v["psnr"] > self.best:
            self.best, result.best_epoch = v["psnr"], self.epoch
            self.best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
        result.seconds = time.perf_counter() - self.t0
        self.report()
        if ckpt:
            self._checkpoint(ckpt)

    def _checkpoint(self, ckpt: Path) -> None:
        _save(
            ckpt,
            {
                "model": self.parts.model.state_dict(),
                "opt": self.parts.opt.state_dict(),
                "epoch": self.epoch,
                "result": asdict(self.result),
                "best": self.best,
                "best_state": self.best_state,
                "config": asdict(self.cfg),
                "tiny": self.cfg.tiny,
            },
        )

    def finish(self) -> torch.nn.Module:
        """Fill in the result's totals and rates; return the model with its best state."""
        result, device = self.result, self.device
        result.epochs = self.epoch
        result.seconds = time.perf_counter() - self.t0
        result.step_seconds = self.stepping
        step_time = self.stepping if self.stepping > 0 else 1.0
        result.data_wait_fraction = self.wait / step_time
        # every process trains the same number of batches (DistributedSampler pads its shards)
        result.images_per_s = self.images * self.world / step_time
        result.world_size = self.world
        result.batch = self.loader.batch_size
        if device.type == "cuda":
            result.peak_gpu_mb = torch.cuda.max_memory_allocated(device) / 2**20
        model = self.parts.model
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
        if self.world > 1:
            dist.barrier()
        return model


def dump_json(path: Path, obj) -> None:
    with atomic_write(path, "w") as fh:
        json.dump(obj, fh, indent=2, default=lambda o: None)
        fh.write("\n")


def loss_fell(losses: list[float]) -> bool:
    """The mean of the last tenth of the steps is below that of the first tenth."""
    if len(losses) < 4:
        return False
    n = max(1, len(losses) // 10)
    return float(np.mean(losses[-n:])) < float(np.mean(losses[:n]))
