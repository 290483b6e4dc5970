"""The ``capture`` command: tethered bursts, references and turntable sweeps into sessions.

Only this module chooses between real devices and simulators, builds Rich output, and turns
exceptions into exit codes: 2 for a bad request, 1 for a failure, on stderr, no traceback.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from capture import plan as planmod
from capture import resume as resumemod
from capture.errors import (
    BadRequest,
    CaptureError,
    Interrupted,
    TurntableAlarm,
)
from capture.protocols import Camera, Turntable
from capture.session import (
    PASSES,
    Session,
    SessionWriter,
    check_new_session_dir,
    check_scene_and_lux,
    finish_interrupted_creation,
)
from sublux_common.cliutil import handle_errors, run_app

app = typer.Typer(
    help="Tethered low-light RAW capture: bursts, references and turntable sweeps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
turntable_app = typer.Typer(help="Drive the turntable by hand.", no_args_is_help=True)
app.add_typer(turntable_app, name="turntable")

out = Console()
err = Console(stderr=True)
log = logging.getLogger("capture")

CameraOpt = Annotated[
    str,
    typer.Option(
        "--camera",
        help="auto (the first camera libgphoto2 finds), usb:BUS,DEV, or sim (the simulated "
        "low-light camera).",
    ),
]
TurntableOpt = Annotated[
    str | None,
    typer.Option("--turntable", help="Serial port of the GRBL turntable (/dev/ttyUSB0), or sim."),
]
SimSizeOpt = Annotated[
    str, typer.Option("--sim-size", help="Simulated sensor size HxW (default: the RX100 VI's).")
]
SimSeedOpt = Annotated[
    int | None, typer.Option("--sim-seed", help="Seed of the simulated scene and noise.")
]
SimLuxOpt = Annotated[float, typer.Option("--sim-lux", help="Illuminance of the simulated scene.")]
SimObjectOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--sim-object",
        help="Something that changes in the simulated scene, by frame: 'object:10-15,"
        "brightness=2.5' (a person crossing frames 10-15) or 'light:20,gain=2,at=0.2x0.8,"
        "radius=0.1' (a light on in frame 20); repeatable.",
    ),
]
SessionOpt = Annotated[Path, typer.Option("--session", help="Session directory.")]


_handle = handle_errors(bad=(BadRequest,), fail=(CaptureError,), console=err, os_errors=True)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise BadRequest(f"expected --sim-size as HxW (e.g. 512x768), found {text!r}") from None
    return h, w  # the simulated camera checks the size (even, at least MIN_SIZE) itself


def _sim_seed(scene: str, seed: int | None) -> int:
    return seed if seed is not None else zlib.crc32(scene.encode()) & 0x7FFFFFFF


class _Rig(contextlib.ExitStack):
    """The camera and turntable one command uses, closed (settings restored) on exit."""

    camera: Camera
    turntable: Turntable | None = None
    motion: Any = None


def _open_turntable(rig: _Rig, spec: str | None, *, alarm: str = "leave") -> Turntable | None:
    """Connect to the turntable; ``alarm`` says what to do first: home, unlock or leave."""
    if not spec:
        return None
    from capture.devices.grbl import GrblTurntable

    port = spec
    if spec == "sim":
        from capture.sim.rig import start_grbl_simulator

        sim = start_grbl_simulator(rig)
        port = sim.port
        rig.motion = sim.motion
    tt = GrblTurntable(port)
    rig.callback(tt.close)
    if alarm == "home":
        tt.home()
    elif alarm == "unlock" and tt.status().state.startswith("Alarm"):
        tt.unlock()
    rig.turntable = tt
    return tt


def _open_camera(
    rig: _Rig,
    spec: str,
    *,
    sim: dict | None,
    shutter_count: int = 0,
) -> Camera:
    if spec == "sim":
        from capture.sim.rig import SimSettings

        assert sim is not None
        camera = SimSettings.from_json(sim).camera(shutter_count=shutter_count, motion=rig.motion)
    else:
        from capture.devices.gphoto2_camera import Gphoto2Camera

        camera = Gphoto2Camera(None if spec == "auto" else spec)
    rig.callback(camera.close)
    rig.camera = camera
    return camera


class _FpsColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} fps" if speed else "-- fps", style="cyan")


class _StopEvent(threading.Event):
    """Set by the first Ctrl-C or SIGTERM; ``reason`` names the signal for the stop record."""

    reason: str | None = None


_SIGNAL_REASONS = {
    signal.SIGINT: "stopped by the user (Ctrl-C / SIGINT)",
    signal.SIGTERM: "stopped by SIGTERM (a `kill`, a service manager or a shutdown)",
}


@contextlib.contextmanager
def _stoppable() -> Iterator[threading.Event]:
    """First Ctrl-C (or SIGTERM) stops after the current frame; a second one interrupts."""
    stop = _StopEvent()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        what = _SIGNAL_REASONS.get(signum, f"stopped by signal {signum}")
        if stop.is_set():
            raise Interrupted(f"interrupted mid-frame by a second signal ({what})")
        stop.reason = what
        stop.set()
        err.print("[yellow]stopping after the current frame (Ctrl-C again to interrupt)[/]")

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _run(writer: SessionWriter, rig: _Rig, passes: list[str], command: str) -> None:
    s = writer.session
    todo = [p for p in passes if s.remaining(p)]
    with (
        _stoppable() as stop,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _FpsColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        ) as bar,
    ):
        tasks = {
            p: bar.add_task(
                f"{p} pass", total=s.planned(p), completed=s.planned(p) - len(s.remaining(p))
            )
            for p in todo
        }

        def progress(pass_: str, done: int, planned: int) -> None:
            bar.update(tasks[pass_], completed=done)

        try:
            result = planmod.run_passes(
                writer,
                rig.camera,
                passes=todo,
                command=command,
                turntable=rig.turntable,
                stop=stop,
                progress=progress,
            )
        finally:
            bar.stop()
            _show_warnings(writer.session)
    shot = sum(result.shot.values())
    frames = f"{shot} frame" + ("" if shot == 1 else "s")
    if result.exit_status == "abort":
        err.print(
            f"[yellow]stopped[/] after {frames}; the session is resumable: "
            f"capture resume {writer.path}"
        )
        raise typer.Exit(1)
    out.print(f"[green]done:[/] {frames} in {writer.path}")


def _show_warnings(session: Session) -> None:
    """Print the session's journalled warnings (this run's and earlier ones'), in yellow."""
    for w in session.warnings:
        code = w.code or "warning"
        err.print(f"[yellow]warning ({escape(code)}):[/] {escape(w.message)}", highlight=False)


def _sim_settings(
    scene: str, size: str, seed: int | None, lux: float, objects: list[str] | None = None
) -> dict:
    """The ``"sim"`` block of a new simulated session (:class:`capture.sim.rig.SimSettings`)."""
    from capture.sim.objects import parse_spec
    from capture.sim.rig import SimSettings

    return SimSettings(
        size=_parse_size(size),
        seed=_sim_seed(scene, seed),
        lux=lux,
        objects=tuple(parse_spec(o) for o in objects or ()),
    ).to_json()


def _static(
    pass_: str,
    *,
    command: str,
    session: Path,
    scene: str | None,
    iso: int | None,
    shutter: str,
    aperture: str | None,
    frames: int,
    camera: str,
    lighting: str,
    lux: float | None,
    sim_size: str,
    sim_seed: int | None,
    sim_lux: float,
    sim_object: list[str] | None = None,
) -> None:
    check_scene_and_lux(scene, lux)  # before the session, the camera or anything else
    if sim_object and camera != "sim":
        raise BadRequest(f"--sim-object needs --camera sim, found --camera {camera}")
    writer = resumemod.open_static_session(session, scene=scene, pass_=pass_, command=command)
    with contextlib.ExitStack() as held:
        if writer is not None:
            held.callback(writer.close)
        if writer is not None and sim_object:
            raise BadRequest(
                f"expected --sim-object on the command that creates the session, found {session} "
                "already created (its simulation settings are fixed); shoot the burst first"
            )
        if writer is None:
            check_new_session_dir(session)  # before the camera is opened
            if scene is None:
                raise BadRequest(f"{session} is a new session: expected --scene NAME, found none")
        if scene is None:
            assert writer is not None  # a new session without --scene was refused above
            scene = writer.session.scene
        spec = planmod.static_pass(frames, iso, shutter, aperture)
        sim = None
        shutter_count = 0
        if camera == "sim":
            sim = (writer.session.camera.sim if writer else None) or _sim_settings(
                scene, sim_size, sim_seed, sim_lux, sim_object
            )
            if writer:
                shutter_count = resumemod.shots_so_far(writer.session)
        with _Rig() as rig:
            cam = _open_camera(rig, camera, sim=sim, shutter_count=shutter_count)
            planmod.validate_exposures(cam, {pass_: spec})
            planmod.check_disk(session, frames, cam, writer.session if writer else None)
            if writer is None:
                writer = SessionWriter.create(
                    session,
                    scene=scene,
                    kind="static",
                    camera=cam.info,
                    plan={"passes": {pass_: spec}, "order": [pass_]},
                    lighting=lighting,
                    lux=lux,
                    sim=sim,
                    command=command,
                )
                rig.callback(writer.close)
            else:
                writer.update_plan({pass_: spec})
            _run(writer, rig, [pass_], command)


@app.command()
@_handle
def burst(
    session: SessionOpt,
    iso: Annotated[int | None, typer.Option(help="ISO (omit to leave the camera's).")] = None,
    shutter: Annotated[str, typer.Option(help="Shutter speed, e.g. 1/30.")] = "1/30",
    frames: Annotated[int, typer.Option(help="Frames in the burst.")] = 110,
    scene: Annotated[str | None, typer.Option(help="Scene name: the split key.")] = None,
    aperture: Annotated[str | None, typer.Option(help="f-number, e.g. 3.5.")] = None,
    camera: CameraOpt = "auto",
    lighting: Annotated[str, typer.Option(help="Lighting, in words.")] = "",
    lux: Annotated[float | None, typer.Option(help="Measured illuminance.")] = None,
    sim_size: SimSizeOpt = "3672x5496",
    sim_seed: SimSeedOpt = None,
    sim_lux: SimLuxOpt = 1.0,
    sim_object: SimObjectOpt = None,
) -> None:
    """Shoot the short-exposure (dark) burst of a static scene."""
    _static(
        "dark",
        command="burst",
        session=session,
        scene=scene,
        iso=iso,
        shutter=shutter,
        aperture=aperture,
        frames=frames,
        camera=camera,
        lighting=lighting,
        lux=lux,
        sim_size=sim_size,
        sim_seed=sim_seed,
        sim_lux=sim_lux,
        sim_object=sim_object,
    )


@app.command()
@_handle
def reference(
    session: SessionOpt,
    iso: Annotated[int | None, typer.Option(help="ISO (omit to leave the camera's).")] = None,
    shutter: Annotated[str, typer.Option(help="Seconds (bulb if needed).")] = "10",
    frames: Annotated[int, typer.Option(help="Long exposures to take.")] = 1,
    scene: Annotated[str | None, typer.Option(help="Scene (for a new session).")] = None,
    aperture: Annotated[str | None, typer.Option(help="f-number, e.g. 3.5.")] = None,
    camera: CameraOpt = "auto",
    lighting: Annotated[str, typer.Option(help="Lighting, in words.")] = "",
    lux: Annotated[float | None, typer.Option(help="Measured illuminance.")] = None,
    sim_size: SimSizeOpt = "3672x5496",
    sim_seed: SimSeedOpt = None,
    sim_lux: SimLuxOpt = 1.0,
) -> None:
    """Add long-exposure references (the bright pass) to a static session."""
    _static(
        "bright",
        command="reference",
        session=session,
        scene=scene,
        iso=iso,
        shutter=shutter,
        aperture=aperture,
        frames=frames,
        camera=camera,
        lighting=lighting,
        lux=lux,
        sim_size=sim_size,
        sim_seed=sim_seed,
        sim_lux=sim_lux,
    )


@app.command()
@_handle
def sweep(
    session: SessionOpt,
    scene: Annotated[str, typer.Option(help="Scene name: the split key.")],
    steps: Annotated[int, typer.Option(help="Bright exposures along the path.")] = 24,
    step_deg: Annotated[float, typer.Option(help="Degrees between bright exposures.")] = 2.0,
    iso: Annotated[int | None, typer.Option(help="ISO of both passes.")] = None,
    dark_shutter: Annotated[str, typer.Option(help="Dark-pass shutter.")] = "1/30",
    bright_shutter: Annotated[str, typer.Option(help="Bright-pass shutter.")] = "10",
    aperture: Annotated[str | None, typer.Option(help="f-number, e.g. 3.5.")] = None,
    dark_frames: Annotated[int | None, typer.Option(help="Default: 4 per step.")] = None,
    dark_mode: Annotated[str, typer.Option(help="continuous or step.")] = "continuous",
    fps: Annotated[float, typer.Option(help="Dark-pass frame rate.")] = 16.0,
    settle: Annotated[float, typer.Option(help="Seconds to settle after each step.")] = 0.5,
    start_angle: Annotated[float, typer.Option(help="Angle of the first frame.")] = 0.0,
    home: Annotated[bool, typer.Option(help="Home ($H) first; else unlock.")] = True,
    turntable: TurntableOpt = "/dev/ttyUSB0",
    camera: CameraOpt = "auto",
    lighting: Annotated[str, typer.Option(help="Lighting, in words.")] = "",
    lux: Annotated[float | None, typer.Option(help="Measured illuminance.")] = None,
    sim_size: SimSizeOpt = "3672x5496",
    sim_seed: SimSeedOpt = None,
    sim_lux: SimLuxOpt = 1.0,
) -> None:
    """Shoot a turntable sweep: the dark pass, back to the start, the bright pass."""
    check_scene_and_lux(scene, lux)
    check_new_session_dir(session)  # before the camera and turntable are opened
    if not turntable:
        raise BadRequest("a sweep needs a turntable: pass --turntable /dev/ttyUSB0 (or sim)")
    passes, tt_spec = planmod.sweep_plan(
        steps=steps,
        step_deg=step_deg,
        iso=iso,
        dark_shutter=dark_shutter,
        bright_shutter=bright_shutter,
        aperture=aperture,
        dark_frames=dark_frames,
        dark_mode=dark_mode,
        start_angle=start_angle,
        fps=fps,
        settle_s=settle,
        port=turntable,
    )
    sim = _sim_settings(scene, sim_size, sim_seed, sim_lux) if camera == "sim" else None
    with _Rig() as rig:
        cam = _open_camera(rig, camera, sim=sim)
        planmod.validate_exposures(cam, passes)
        frames = sum(p["frames"] for p in passes.values())
        planmod.check_disk(session, frames, cam)
        _open_turntable(rig, turntable, alarm="home" if home else "unlock")
        if camera == "sim" and rig.motion is not None:
            cam.motion = rig.motion
        writer = SessionWriter.create(
            session,
            scene=scene,
            kind="sweep",
            camera=cam.info,
            plan={"passes": passes, "order": list(PASSES)},
            lighting=lighting,
            lux=lux,
            turntable=tt_spec,
            sim=sim,
            command="sweep",
        )
        rig.callback(writer.close)
        _run(writer, rig, list(PASSES), "sweep")


@app.command()
@_handle
def resume(
    session: Annotated[Path, typer.Argument(help="The interrupted session.")],
    camera: Annotated[
        str | None, typer.Option("--camera", help="auto, usb:BUS,DEV or sim (default: as shot).")
    ] = None,
    turntable: TurntableOpt = None,
) -> None:
    """Finish an interrupted session: keep and verify what is journalled, shoot the rest."""
    if finish_interrupted_creation(session, "resume"):
        err.print(f"[yellow]finished creating {session}[/] (its creation had been interrupted)")
    with SessionWriter(session, command="resume") as writer:
        _resume(writer, session, camera, turntable)


def _resume(writer: SessionWriter, session: Path, camera: str | None, turntable: str | None):
    s = writer.session
    plan = resumemod.plan_resume(s, camera=camera, turntable=turntable)
    if plan.done:
        resumemod.finish_if_complete(writer)
        out.print(f"[green]nothing to do:[/] every planned frame of {session} is on disk")
        _show_warnings(s)
        return
    with _Rig() as rig:
        _open_turntable(rig, plan.turntable, alarm="home")
        cam = _open_camera(rig, plan.camera, sim=plan.sim, shutter_count=plan.shutter_count)
        planmod.check_disk(session, plan.frames, cam, s)
        writer.record("event", what="resume", remaining=dict(plan.remaining))
        _run(writer, rig, plan.passes, "resume")


@app.command("import")
@_handle
def import_(
    session: SessionOpt,
    scene: Annotated[str, typer.Option(help="Scene name: the split key.")],
    dark: Annotated[
        Path | None, typer.Option(help="Dark pass: a folder of raw files, or a video.")
    ] = None,
    bright: Annotated[
        Path | None, typer.Option(help="Bright pass (references): a raw folder or a video.")
    ] = None,
    kind: Annotated[str, typer.Option(help="static or sweep.")] = "static",
    link: Annotated[
        bool, typer.Option(help="Hard-link instead of copying (one file system only).")
    ] = False,
    exposure: Annotated[
        str | None,
        typer.Option(help="Exposure time (e.g. 1/30) where the metadata has none (videos)."),
    ] = None,
    bright_exposure: Annotated[
        str | None, typer.Option(help="The bright pass's, if it differs from --exposure.")
    ] = None,
    iso: Annotated[int | None, typer.Option(help="ISO where the metadata has none.")] = None,
    aperture: Annotated[str | None, typer.Option(help="f-number where none is recorded.")] = None,
    lighting: Annotated[str, typer.Option(help="Lighting, in words.")] = "",
    lux: Annotated[float | None, typer.Option(help="Measured illuminance.")] = None,
    simulated: Annotated[
        bool, typer.Option(help="The footage is the simulated camera's (videos carry no mark).")
    ] = False,
) -> None:
    """Make a session from footage shot by other means: raw folders or videos, copied (never
    moved), verified and journalled. Run it again to finish an interrupted import."""
    from capture.importer import import_footage

    with (
        _stoppable() as stop,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
        ) as bar,
    ):
        tasks: dict[str, Any] = {}

        def progress(pass_: str, done: int, total: int) -> None:
            if pass_ not in tasks:
                tasks[pass_] = bar.add_task(f"import {pass_}", total=total)
            bar.update(tasks[pass_], completed=done)

        result = import_footage(
            session,
            dark=dark,
            bright=bright,
            scene=scene,
            kind=kind,
            lighting=lighting,
            lux=lux,
            link=link,
            exposure=exposure,
            bright_exposure=bright_exposure,
            iso=iso,
            aperture=aperture,
            progress=progress,
            stop=stop,
            simulated=simulated,
        )
    for pass_, name, reason in result.skipped:
        err.print(f"[yellow]skipped {pass_}/{escape(name)}:[/] {escape(reason)}", highlight=False)
    for w in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    parts = ", ".join(
        f"{result.imported[p]} {p}"
        + (f" (+{result.already[p]} already)" if result.already[p] else "")
        for p in result.imported
    )
    if stop.is_set():
        err.print(f"[yellow]stopped[/] after {parts}; run the same command again to finish it")
        raise typer.Exit(1)
    out.print(f"[green]imported:[/] {parts} into {session}", highlight=False)


@app.command()
@_handle
def repair(
    session: Annotated[Path, typer.Argument(help="The session to repair.")],
) -> None:
    """Salvage a damaged session: keep every valid journal record (the original journal is
    kept beside the new one), re-check every frame against its record, and set aside files
    no record vouches for. Then `capture resume` shoots what is missing."""
    from capture.repair import repair_session, summary

    report = repair_session(session)
    if not report.changed:
        out.print(f"[green]nothing to repair:[/] {summary(report)}", highlight=False)
        return
    out.print(f"[green]repaired[/] {session}: {summary(report)}", highlight=False, soft_wrap=True)


@app.command()
@_handle
def doctor(
    camera: CameraOpt = "auto",
    turntable: TurntableOpt = None,
    session: Annotated[Path | None, typer.Option(help="Where a session would go.")] = None,
    frames: Annotated[int, typer.Option(help="Frames the planned session takes.")] = 110,
    sim_size: SimSizeOpt = "3672x5496",
) -> None:
    """What is connected, what the camera offers, and whether the planned session fits."""
    ok = True
    if camera == "sim":
        cameras = [("simulated low-light camera", "sim")]
    else:
        from capture.devices import gphoto2_camera as g

        cameras = g.detect()
        holders = g.holders()
        if holders:
            err.print("[yellow]processes holding a camera:[/] " + ", ".join(holders))
    t = Table(title="cameras")
    t.add_column("model")
    t.add_column("port")
    for model, port in cameras:
        t.add_row(model, port)
    out.print(t)
    if not cameras:
        ok = False
        out.print(
            "[red]no camera found[/]: check the USB cable, that the camera is on and in "
            "PC/tether mode, and that no other program (gvfs) holds it"
        )
    with _Rig() as rig:
        cam = None
        if cameras:
            sim = _sim_settings("doctor", sim_size, 0, 1.0) if camera == "sim" else None
            cam = _open_camera(rig, camera, sim=sim)
            out.print(f"[bold]{cam.info.make} {cam.info.model}: valid settings[/]")
            for name, values in cam.choices().items():
                shown = ", ".join(values) if values else "(no such setting)"
                out.print(f"  {name}: {shown}", highlight=False, soft_wrap=True)
        if session is not None and cam is not None:
            try:
                need = planmod.check_disk(session, frames, cam)
                out.print(f"disk: room for {frames} frames ({need / 1e9:.2f} GB needed)")
            except CaptureError as exc:
                ok = False
                out.print(f"[red]disk:[/] {exc}")
        if turntable:
            try:
                tt = _open_turntable(rig, turntable)
                st = tt.status()
                out.print(f"turntable on {turntable}: {st.state} at {st.angle:.3f} deg")
            except CaptureError as exc:
                ok = False
                out.print(f"[red]turntable:[/] {exc}")
    from capture.devices.grbl import list_serial_ports

    out.print("serial ports: " + (", ".join(list_serial_ports()) or "none"))
    if not ok:
        raise typer.Exit(1)


TtArg = Annotated[str, typer.Option("--turntable", help="Serial port, or sim.")]


@turntable_app.command("status")
@_handle
def tt_status(turntable: TtArg = "/dev/ttyUSB0") -> None:
    """Print the controller's state and position."""
    with _Rig() as rig:
        tt = _open_turntable(rig, turntable)
        st = tt.status()
        out.print(f"{st.state} at {st.angle:.3f} deg")


@turntable_app.command("home")
@_handle
def tt_home(turntable: TtArg = "/dev/ttyUSB0") -> None:
    """Home the turntable ($H), which also clears a power-up alarm."""
    with _Rig() as rig:
        tt = _open_turntable(rig, turntable, alarm="home")
        out.print(f"homed: {tt.status().angle:.3f} deg")


@turntable_app.command("move")
@_handle
def tt_move(
    degrees: Annotated[float, typer.Argument(help="Relative move in degrees.")],
    turntable: TtArg = "/dev/ttyUSB0",
    unlock: Annotated[bool, typer.Option(help="Unlock ($X) an alarm before moving.")] = False,
) -> None:
    """Turn by DEGREES and report the position read back."""
    with _Rig() as rig:
        tt = _open_turntable(rig, turntable, alarm="unlock" if unlock else "leave")
        st = tt.status()
        if st.state.startswith("Alarm"):
            raise TurntableAlarm(
                f"the controller on {turntable} is in {st.state}; home it first "
                "(`capture turntable home`) or pass --unlock"
            )
        angle = tt.move_by(degrees)
        out.print(f"at {angle:.3f} deg")


def main() -> None:
    run_app(app)


__all__ = ["app", "main"]
