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
from dataclasses import asdict, dataclass, field
from pathlib import Path

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
            raise ValueError(f"expected --threads 1 or more, found {self.threads}")
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


def train(release: str | os.PathLike, cfg: Config, progress=None):
    """Train on ``train``, evaluating on ``val`` 8 to 20 times a run (and at the end), keeping
    the best evaluated state; return ``(model, result, device, rank)``.

    ``progress``, if given, is called with a :class:`TrainProgress` after every step and
    every evaluation (on rank 0 only).
    """
    rank, world = _distributed()
    device = resolve_device(cfg.device)
    if device.type == "cpu" and cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    rel = open_release(release)
    for need in ("train", "val"):
        if need not in rel.splits:
            raise BadRequest(
                f"expected a {need} split in {release}, found {', '.join(rel.splits) or 'none'};"
                " the trainer trains on train and picks on val (publish with more scenes or "
                "other --fractions)"
            )
    _seed(cfg.seed + rank)
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
    model = build_model(cfg.model, tiny=cfg.tiny).to(device)
    amp = device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    vgg = VGG19Features.from_file(cfg.vgg_weights).to(device).eval() if cfg.vgg_weights else None
    result = TrainResult()
    start_epoch = 0
    ckpt = Path(cfg.checkpoint) if cfg.checkpoint else None
    best_state, best = None, -math.inf
    if ckpt and ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        if state.get("config", {}).get("model") == cfg.model and state.get("tiny") == cfg.tiny:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            start_epoch = state["epoch"]
            result = TrainResult(**state["result"])
            best, best_state = state["best"], state["best_state"]
            log.info("resumed from %s at epoch %d", ckpt, start_epoch)
    net = model
    if cfg.compile:
        net = torch.compile(model)
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
    budget = cfg.minutes * 60 if cfg.minutes is not None else math.inf
    epochs = cfg.epochs if cfg.epochs is not None else 10**9
    max_steps = cfg.steps if cfg.steps is not None else 10**12
    t0 = time.perf_counter() - result.seconds
    pending: list[torch.Tensor] = []  # losses not yet copied to the host
    wait = 0.0  # blocked on the loader
    stepping = 0.0  # in the training loop (waits included, evaluations not)
    images = 0
    epoch = start_epoch
    stop = False
    last_eval = time.perf_counter() - t0
    last_eval_step = result.steps
    planned = min(max_steps, epochs * len(loader)) if max_steps < 10**12 or epochs < 10**9 else None
    step0, t_run = result.steps, time.perf_counter()

    def report() -> None:
        if progress is None or rank != 0:
            return
        now = time.perf_counter()
        done = result.steps - step0
        rate = done / (now - t_run) if now > t_run and done else 0.0
        left = None
        if planned is not None and rate:
            left = (planned - result.steps) / rate
        if budget < math.inf:
            over = max(0.0, budget - (now - t0))
            left = over if left is None else min(left, over)
        progress(
            TrainProgress(
                step=result.steps,
                total_steps=int(planned) if planned is not None else None,
                epoch=epoch,
                images_per_s=rate * loader.batch_size * world,
                loss=result.losses[-1] if result.losses else None,
                val_psnr=result.val[-1][1] if result.val else None,
                seconds=now - t0,
                seconds_left=left,
            )
        )

    while epoch < epochs and not stop:
        if sampler is not None:
            sampler.set_epoch(epoch)
        elapsed = time.perf_counter() - t0
        first_half = elapsed < budget / 2 and epoch < epochs / 2 and result.steps < max_steps / 2
        lr = cfg.lr if first_half else cfg.lr / 10
        for g in opt.param_groups:
            g["lr"] = lr
        tw = t_loop = time.perf_counter()
        for batch in loader:
            wait += time.perf_counter() - tw
            batch = [b.to(device, non_blocking=True) for b in batch]
            if device.type == "cuda":
                batch = [b.contiguous(memory_format=torch.channels_last) for b in batch]
            if cfg.model == "sid":
                x, y = batch
                loss = l1(_forward(net, x, device, amp), y)
            else:
                a, b, y = batch
                o = _forward(net, torch.cat([a, b]), device, amp)
                loss = smid_loss(o[: len(a)], o[len(a) :], y, vgg=vgg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # Kept on the device and copied every _SYNC_EVERY steps: a copy per step would make
            # the CPU wait for the GPU every step instead of queueing the next one.
            pending.append(loss.detach())
            if len(pending) >= _SYNC_EVERY:
                result.losses.extend(_host(pending))
            result.steps += 1
            images += len(batch[0])
            report()
            if _should_stop(result.steps, max_steps, time.perf_counter() - t0 > budget, world):
                stop = True
                break
            tw = time.perf_counter()
        result.losses.extend(_host(pending))
        stepping += time.perf_counter() - t_loop
        epoch += 1
        now = time.perf_counter() - t0
        due = (
            stop
            or epoch >= epochs
            or (budget < math.inf and now - last_eval >= budget / 8)
            or (cfg.steps is not None and result.steps - last_eval_step >= max_steps / 8)
            or (budget == math.inf and cfg.steps is None and epoch % max(1, epochs // 20) == 0)
        )
        if rank == 0 and due:
            last_eval, last_eval_step = now, result.steps
            v = evaluate(model, release, "val", cfg, device, naive=False)
            result.val.append((epoch, v["psnr"]))
            if v["psnr"] > best:
                best, result.best_epoch = v["psnr"], epoch
                best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
            result.seconds = time.perf_counter() - t0
            report()
            if ckpt:
                _save(
                    ckpt,
                    {
                        "model": model.state_dict(),
                        "opt": opt.state_dict(),
                        "epoch": epoch,
                        "result": asdict(result),
                        "best": best,
                        "best_state": best_state,
                        "config": asdict(cfg),
                        "tiny": cfg.tiny,
                    },
                )
    result.epochs = epoch
    result.seconds = time.perf_counter() - t0
    result.step_seconds = stepping
    step_time = stepping if stepping > 0 else 1.0
    result.data_wait_fraction = wait / step_time
    # every process trains the same number of batches (DistributedSampler pads its shards)
    result.images_per_s = images * world / step_time
    result.world_size = world
    result.batch = loader.batch_size
    if device.type == "cuda":
        result.peak_gpu_mb = torch.cuda.max_memory_allocated(device) / 2**20
    if best_state is not None:
        model.load_state_dict(best_state)
    if world > 1:
        dist.barrier()
    return model, result, device, rank


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
