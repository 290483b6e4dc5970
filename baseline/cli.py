"""The trainer's command, ``validate``: the ``dataset`` command shows it (``sublux.cli``).

``dataset_card`` sits below ``baseline`` in the import chain, so it cannot know about the
trainer; this module holds ``validate`` in a Typer app of its own, and the command layer
(:mod:`sublux.cli`) adds that app to ``dataset`` when the ``train`` extra is installed.
torch is imported only when ``validate`` runs.  ``python -m baseline.cli validate`` (what
``torchrun -m baseline.cli`` starts on each rank) runs it alone.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from baseline.errors import BadRequest, BaselineError
from dataset_card.cli import BAD_REQUESTS, FAILURES, err, out
from sublux_common.cliutil import handle_errors, run_app

app = typer.Typer(
    help="Train a known baseline on a release and gate the release on it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: The dataset command's mapping plus the trainer's own errors (sublux_common/cliutil.py).
handle = handle_errors(
    bad=(BadRequest, *BAD_REQUESTS), fail=(BaselineError, *FAILURES), console=err, os_errors=True
)

#: How to get ``validate`` where torch is missing.
INSTALL_HINT = (
    "install the train extra (pip install torch==2.13.0 'sublux[train]', or your CUDA build "
    "of torch)"
)


@app.callback()
def _group() -> None:
    """Train a known baseline on a release and gate the release on it."""
    # A callback keeps ``validate`` a named subcommand in this one-command app.


@app.command()
@handle
def validate(
    release: Annotated[Path, typer.Argument(help="A published release.")],
    model: Annotated[str, typer.Option(help="sid (U-Net) or smid (siamese ResUNet).")] = "sid",
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    minutes: Annotated[float | None, typer.Option(help="Training time budget.")] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps (--tiny: 2500).")] = None,
    device: Annotated[str, typer.Option(help="cuda, cpu or auto.")] = "auto",
    tiny: Annotated[
        bool, typer.Option(help="Tiny model and crops: a CPU check in a minute.")
    ] = False,
    crop: Annotated[int, typer.Option(help="Crop size in packed pixels.")] = 512,
    batch: Annotated[int, typer.Option(help="Batch size.")] = 1,
    workers: Annotated[int, typer.Option(help="DataLoader worker processes.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile the model.")] = False,
    vgg_weights: Annotated[
        Path | None, typer.Option(help="Local VGG19 weights for SMID's perceptual loss.")
    ] = None,
    margin: Annotated[float, typer.Option(help="dB the baseline must beat Input+Rawpy by.")] = 5.0,
    checkpoint: Annotated[Path | None, typer.Option(help="Checkpoint file (resumes).")] = None,
    gt: Annotated[
        str,
        typer.Option(
            help="Ground truth: pair (each frame's reference) or mean (the mean of a static "
            "session's references, where it has several)."
        ),
    ] = "pair",
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for torch (--tiny: 1; else torch's default).")
    ] = None,
) -> None:
    """Train the baseline on train, pick on val, score test, and gate the release."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise BadRequest(
            f"expected torch for `dataset validate`, found none; {INSTALL_HINT}"
        ) from None
    from baseline.train import Config
    from baseline.validate import loss_text, validate_release

    cfg = Config(
        model=model,
        epochs=epochs,
        minutes=minutes,
        steps=steps,
        device=device,
        tiny=tiny,
        crop=crop,
        batch=batch,
        workers=workers,
        seed=seed,
        compile=compile_,
        vgg_weights=str(vgg_weights) if vgg_weights else None,
        margin_db=margin,
        checkpoint=str(checkpoint) if checkpoint else None,
        gt=gt,
        threads=threads,
    )
    if int(os.environ.get("RANK", "0")) == 0:  # once under torchrun
        err.print(f"training {model}{' (tiny)' if tiny else ''} on {release} ...")
    with _train_bar(enabled=int(os.environ.get("RANK", "0")) == 0) as progress:
        report = validate_release(release, cfg, progress=progress)
    if not report:
        return  # not rank 0
    t = Table(title=f"validation of {release.name}")
    for col in ("", "PSNR", "SSIM", "TPSNR", "TSSIM", "TMAE x1e-2"):
        t.add_column(col)
    for split in ("val", "test"):
        r = report[split]
        t.add_row(
            f"Input+Rawpy {split}", f"{r['naive_psnr']:.2f}", f"{r['naive_ssim']:.3f}", "", "", ""
        )
        t.add_row(
            f"{model} {split}",
            f"{r['psnr']:.2f}",
            f"{r['ssim']:.3f}",
            f"{r.get('tpsnr', float('nan')):.2f}",
            f"{r.get('tssim', float('nan')):.3f}",
            f"{r.get('tmae_x100', float('nan')):.2f}",
        )
    out.print(t)
    g = report["gate"]
    out.print(f"metrics: {release / 'validation' / 'metrics.json'}")
    if not g["passed"]:
        err.print(
            f"[bold red]gate failed:[/] val margin {g['margin_db']:.2f} dB (needed "
            f"{g['needed_db']} dB), {loss_text(g['loss_fell'])}"
        )
        raise typer.Exit(1)
    out.print(
        f"[green]gate passed:[/] the baseline beats Input+Rawpy on val by "
        f"{g['margin_db']:.2f} dB and its training loss fell"
    )


def _progress_text(p) -> str:
    """What the bar shows beside its count: images/s, the latest loss, the last val PSNR and
    the time left, as far as known."""
    parts = [f"{p.images_per_s:.1f} img/s"]
    if p.loss is not None:
        parts.append(f"loss {p.loss:.4f}")
    if p.val_psnr is not None:
        parts.append(f"val {p.val_psnr:.2f} dB")
    if p.seconds_left is not None:
        parts.append(f"{_clock(p.seconds_left)} left")
    return ", ".join(parts)


#: Where stderr is not a terminal (a log file, CI): a line at every tenth of the steps, at each
#: evaluation and at least this often, instead of a bar cut to the console's width.
LOG_EVERY_S = 60.0


@contextlib.contextmanager
def _train_bar(enabled: bool = True, *, console=None):
    """A Rich progress bar on ``console`` (stderr) fed by the trainer's progress callback:
    steps, images/s, the latest training loss, the last val PSNR and the time left.  Where the
    console is not a terminal, whole lines instead (:func:`_train_lines`)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = console or err
    if not enabled:
        yield None
        return
    if not console.is_terminal:
        with _train_lines(console) as progress:
            yield progress
        return
    bar = Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = bar.add_task("steps", total=None, info="")

    def progress(p) -> None:
        bar.update(task, completed=p.step, total=p.total_steps, info=_progress_text(p))

    with bar:
        yield progress


@contextlib.contextmanager
def _train_lines(console):
    """The trainer's progress as whole lines (``training: step 250/2500, 310.2 img/s, loss
    0.0123, val 30.12 dB, 0:00:40 left, 0:00:05 elapsed``): at each tenth of the steps, at each
    new val PSNR, at least every :data:`LOG_EVERY_S` seconds, and the last step once, at the end:
    the trainer reports it after its last step and again after the final evaluation (the final
    val PSNR, the last losses), and only the latter is printed."""
    state = {"last": None, "said": None, "next": 0, "val": None, "at": -LOG_EVERY_S}

    def say(p) -> None:
        said = state["said"]
        if said is not None and _shown(p) == _shown(said):
            return  # the same numbers again (the trainer repeats its last step): not news
        count = f"{p.step}/{p.total_steps}" if p.total_steps else str(p.step)
        console.print(
            f"training: step {count}, {_progress_text(p)}, {_clock(p.seconds)} elapsed",
            highlight=False,
            soft_wrap=True,
        )
        state.update(said=p, at=p.seconds)

    def progress(p) -> None:
        state["last"] = p
        tenth = max(1, (p.total_steps or 0) // 10)
        new_val = p.val_psnr is not None and p.val_psnr != state["val"]
        if p.total_steps and p.step >= p.total_steps:
            pass  # the last step: said once, at the end, with the final evaluation's numbers
        elif (
            (p.total_steps and p.step >= state["next"])
            or new_val
            or (p.seconds - state["at"] >= LOG_EVERY_S)
        ):
            say(p)
            state["next"] = (p.step // tenth + 1) * tenth
        state["val"] = p.val_psnr

    yield progress
    if state["last"] is not None:
        say(state["last"])


def _shown(p) -> tuple:
    """What a progress line says that is news (not the times, which always move on)."""
    return (p.step, p.total_steps, p.loss, p.val_psnr)


def _clock(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}"


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
