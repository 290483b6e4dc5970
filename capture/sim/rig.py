"""The simulated rig: a simulated camera (and turntable), a session, the passes run.

One place builds what ``capture --camera sim``, the warm-up, the benchmarks and the tests
shoot with.  :class:`SimSettings` is the ``"sim"`` block of a simulated session's
``session.json`` (what a resume needs to build the same camera again); :class:`SimRig` holds a
simulated camera and, for sweeps, the GRBL simulator behind the real serial driver;
:func:`simulated_session` creates a session with :class:`~capture.session.SessionWriter` and
shoots it through :func:`capture.plan.run_passes`, the code path the capture commands use:
``burst`` then ``reference`` for a static session, ``sweep`` for a turntable sweep.

Nothing here is imported by a runtime module (an import-linter ``forbidden`` contract): only
``capture/cli.py`` builds it, inside the functions that serve ``--camera sim``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capture import plan as planmod
from capture.errors import BadRequest, CaptureError, SessionError
from capture.protocols import Exposure, Shot
from capture.session import PASSES, SessionWriter
from capture.sim.camera import SimCamera
from capture.sim.objects import SceneObject, from_dict

__all__ = [
    "ScriptedCamera",
    "SimRig",
    "SimSettings",
    "shoot_files",
    "simulated_session",
    "start_grbl_simulator",
    "static_plan",
]

#: The exposure of every simulated pass unless told otherwise: ISO and the two shutters.
ISO = 2000
DARK_SHUTTER = "1/30"
BRIGHT_SHUTTER = "10"


@dataclass(frozen=True)
class SimSettings:
    """What builds a simulated camera again: the ``"sim"`` block of ``session.json``.

    Parameters
    ----------
    size : tuple of int
        ``(H, W)`` of the sensor in photosites.
    seed : int
        Seeds the room's layout and every frame's noise.
    lux : float, optional
        Illuminance on the scene.
    objects : tuple of MovingObject or Light, optional
        What changes in the scene, by shutter number (:mod:`capture.sim.objects`).
    """

    size: tuple[int, int]
    seed: int
    lux: float = 1.0
    objects: tuple[SceneObject, ...] = field(default=())

    def to_json(self) -> dict:
        """The ``"sim"`` block as written to ``session.json`` (``objects`` only when any)."""
        out: dict[str, Any] = {"size": list(self.size), "seed": self.seed, "lux": self.lux}
        if self.objects:
            out["objects"] = [o.to_dict() for o in self.objects]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SimSettings:
        """Read a ``"sim"`` block back (as :meth:`to_json` wrote it)."""
        try:
            h, w = (int(v) for v in data["size"])
            return cls(
                size=(h, w),
                seed=int(data["seed"]),
                lux=float(data.get("lux", 1.0)),
                objects=tuple(from_dict(d) for d in data.get("objects") or ()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionError(
                "expected the session's simulation settings as {'size': [H, W], 'seed': N, "
                f"'lux': X}}, found {dict(data)!r} ({exc}); the session.json's \"sim\" block "
                "was edited or is not a simulated session's"
            ) from None

    def camera(self, *, camera_class: type[SimCamera] = SimCamera, **options: Any) -> SimCamera:
        """A :class:`SimCamera` (or ``camera_class``, e.g. :class:`ScriptedCamera`) with these
        settings; ``options`` go to its constructor (``fps``, ``max_wait``, ``shutter_count``,
        ``motion``, ``clock``, ...)."""
        return camera_class(
            size=self.size, seed=self.seed, lux=self.lux, objects=self.objects, **options
        )


class ScriptedCamera(SimCamera):
    """A :class:`SimCamera` whose light and position change at chosen frames.

    Parameters
    ----------
    lux_at : mapping of int to float, optional
        Shutter number (frame ``n`` of the camera, counting every frame of every pass) to the
        illuminance of that one frame (lights out, a flash).
    offset_from : mapping of int to (float, float), optional
        Shutter number to the tripod's ``(dy, dx)`` offset from that frame on (a bump).
    **options
        As for :class:`SimCamera`.
    """

    def __init__(
        self,
        *,
        lux_at: Mapping[int, float] | None = None,
        offset_from: Mapping[int, tuple[float, float]] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.lux_at = dict(lux_at or {})
        self.offset_from = dict(offset_from or {})

    def shoot(self, count: int) -> Iterator[Shot]:
        """As :meth:`SimCamera.shoot`, each frame rendered with its scripted light and offset."""
        frames = super().shoot(count)
        base = self.lux

        def scripted() -> Iterator[Shot]:
            try:
                while True:
                    # the inner generator renders a frame when asked for it, with the lux and
                    # offset of that moment
                    n = self.shutter_count
                    self.lux = self.lux_at.get(n, base)
                    if n in self.offset_from:
                        self.offset = tuple(float(v) for v in self.offset_from[n])
                    try:
                        shot = next(frames)
                    except StopIteration:
                        return
                    yield shot
            finally:
                self.lux = base
                frames.close()

        return scripted()


def start_grbl_simulator(
    stack: contextlib.ExitStack,
    *,
    homing: bool = True,
    clock: Any = time,
    time_scale: float = 1.0,
) -> Any:
    """Start a GRBL simulator on a pseudo-terminal, stopped when ``stack`` closes.

    Returns the :class:`~capture.sim.grbl_server.GrblSimulator`: its ``port`` is where the real
    driver connects, its ``motion`` is the table's physics for the camera.
    """
    from capture.sim.grbl_server import GrblSimulator

    return stack.enter_context(GrblSimulator(homing=homing, clock=clock, time_scale=time_scale))


class SimRig(contextlib.ExitStack):
    """A simulated camera and, with ``turntable=True``, a simulated GRBL turntable.

    A context manager: leaving it closes the driver, the simulator and the camera.

    Parameters
    ----------
    settings : SimSettings
        The camera's size, seed, lux and objects.
    fps : float or callable, optional
        The camera's burst rate (default: as fast as it renders).
    max_wait : float, optional
        Longest wait per exposure on the clock (default: none).
    shutter_count : int, optional
        Where the camera's shutter counter starts.
    clock : object, optional
        Time for the camera, the simulator and the driver (a
        :class:`~capture.sim.clock.SimClock` makes frame times independent of the machine).
    turntable : bool, optional
        Also start a GRBL simulator and connect the real driver to it.
    homing : bool, optional
        Whether the simulated controller powers up in alarm until homed (``$H``, then
        ``rig.turntable.home()`` first).  Off by default: ready to move, as a
        :class:`~capture.sim.clock.SimClock` needs (its homing cycle would wait on it).
    time_scale : float, optional
        Runs the simulated table this many times slower than planned, for a camera that renders
        slower than the rig shoots; the camera still sees the planned speed (its blur).
    move_timeout : float, optional
        The driver's longest wait for one move.
    lux_at, offset_from : mapping, optional
        Scripted light and offsets by shutter number (:class:`ScriptedCamera`).
    **camera
        More of :class:`SimCamera`'s options (``make``, ``serial``, ``scene``, ...).

    Attributes
    ----------
    camera : SimCamera
        The camera (a :class:`ScriptedCamera` when light or offsets are scripted).
    turntable : GrblTurntable or None
        The real GRBL driver, connected to :attr:`simulator`.
    simulator : GrblSimulator or None
        The simulated controller (its ``port``, its ``motion``).
    """

    def __init__(
        self,
        settings: SimSettings,
        *,
        fps: Any = 1e6,
        max_wait: float = 0.0,
        shutter_count: int = 0,
        clock: Any = time,
        turntable: bool = False,
        homing: bool = False,
        time_scale: float = 1.0,
        move_timeout: float = 120.0,
        lux_at: Mapping[int, float] | None = None,
        offset_from: Mapping[int, tuple[float, float]] | None = None,
        **camera: Any,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.clock = clock
        self.turntable = None
        self.simulator = None
        try:
            motion = None
            if turntable:
                motion = self._start_turntable(homing, time_scale, move_timeout)
            options = dict(
                fps=fps,
                max_wait=max_wait,
                shutter_count=shutter_count,
                clock=clock,
                motion=motion,
                **camera,
            )
            if lux_at or offset_from:
                options.update(camera_class=ScriptedCamera, lux_at=lux_at, offset_from=offset_from)
            self.camera: SimCamera = settings.camera(**options)
            self.callback(self.camera.close)
        except BaseException:
            self.close()
            raise

    def _start_turntable(self, homing: bool, time_scale: float, move_timeout: float):
        from capture.devices.grbl import GrblTurntable

        sim = start_grbl_simulator(self, homing=homing, clock=self.clock, time_scale=time_scale)
        self.simulator = sim
        self.turntable = GrblTurntable(sim.port, clock=self.clock, move_timeout=move_timeout)
        self.callback(self.turntable.close)
        if time_scale == 1.0:
            return sim.motion

        def motion(t: float) -> tuple[float, float]:
            # the angle is the slowed table's; the speed is the planned rig's, so the blur over
            # an exposure is the real one
            angle, velocity = sim.motion(t)
            return angle, velocity / time_scale

        return motion

    def create(
        self,
        path: str | Path,
        *,
        scene: str,
        kind: str,
        plan: dict,
        record_settings: bool = False,
        **meta: Any,
    ) -> SessionWriter:
        """Create a session shot with this rig's camera; ``meta`` as for
        :meth:`SessionWriter.create` (``turntable``, ``lighting``, ``lux``, ``command``).

        With ``record_settings`` the session's ``"sim"`` block records :attr:`settings`, as
        ``capture --camera sim`` does (so that ``capture resume`` can build the camera again).
        """
        return SessionWriter.create(
            path,
            scene=scene,
            kind=kind,
            camera=self.camera.info,
            plan=plan,
            sim=self.settings.to_json() if record_settings else None,
            **meta,
        )

    def run(
        self,
        writer: SessionWriter,
        passes: Sequence[str] | None = None,
        *,
        command: str,
        **options: Any,
    ) -> planmod.RunResult:
        """Shoot what is left of ``passes`` (default: the plan's order) with
        :func:`capture.plan.run_passes`; raise :class:`CaptureError` unless it succeeded."""
        todo = list(passes if passes is not None else writer.session.plan["order"])
        result = planmod.run_passes(
            writer,
            self.camera,
            passes=todo,
            command=command,
            turntable=self.turntable,
            **options,
        )
        if result.exit_status != "success":
            raise CaptureError(
                f"expected the simulated {'/'.join(todo)} pass(es) of {writer.path} to finish, "
                f"found the run stopped ({result.exit_status}: {result.reason})"
            )
        return result


def static_plan(
    *,
    frames: int,
    refs: int = 1,
    iso: int | None = ISO,
    dark_shutter: str = DARK_SHUTTER,
    bright_shutter: str = BRIGHT_SHUTTER,
    aperture: str | None = None,
) -> dict:
    """The plan of a static session: ``frames`` dark frames, then ``refs`` references (none:
    a burst without references, which a release files under its dynamic split)."""
    passes = {"dark": planmod.static_pass(frames, iso, dark_shutter, aperture)}
    if refs:
        passes["bright"] = planmod.static_pass(refs, iso, bright_shutter, aperture)
    return {"passes": passes, "order": list(passes)}


def simulated_session(
    path: str | Path,
    *,
    kind: str = "static",
    scene: str | None = None,
    size: tuple[int, int] = (128, 192),
    seed: int = 5,
    lux: float = 1.0,
    objects: Sequence[SceneObject] = (),
    frames: int = 8,
    refs: int = 1,
    iso: int | None = ISO,
    dark_shutter: str = DARK_SHUTTER,
    bright_shutter: str = BRIGHT_SHUTTER,
    aperture: str | None = None,
    offset: tuple[float, float] = (0.0, 0.0),
    lux_at: Mapping[tuple[str, int], float] | None = None,
    ref_offsets: Mapping[int, tuple[float, float]] | None = None,
    steps: int = 4,
    step_deg: float = 1.0,
    dark_mode: str = "continuous",
    fps: float | None = None,
    clock: Any = None,
    warnings: Sequence[tuple[str, str]] = (),
    record_settings: bool = False,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Create a simulated session at ``path`` and shoot it as the capture commands do.

    Parameters
    ----------
    path : path
        The new session's folder.
    kind : {"static", "sweep"}, optional
        ``static``: ``frames`` dark frames then ``refs`` references (``refs=0``: a burst
        without references), each pass run as its command runs it (``burst``, then
        ``reference``).  ``sweep``: a turntable sweep of ``steps`` references ``step_deg``
        apart and ``frames`` dark frames, on a simulated GRBL turntable, run as ``sweep``.
    scene : str, optional
        The scene's name (default ``"desk"``, or ``"shelf"`` for a sweep).
    size, seed, lux, objects
        The simulated camera (:class:`SimSettings`).
    frames, refs, iso, dark_shutter, bright_shutter, aperture
        The plan.
    offset : (float, float), optional
        A static session's tripod bump between the burst and the references.
    lux_at : mapping, optional
        ``(pass, index)`` to the lux of that one frame (lights out, a flash).
    ref_offsets : mapping, optional
        Reference index to the tripod's offset for that reference and the ones after it.
    steps, step_deg, dark_mode
        A sweep's path and dark-pass mode.
    fps : float, optional
        The camera's rate (default: as fast as it renders for a static session; the planned
        20 frames/s for a sweep).
    clock : object, optional
        The rig's clock (default: a fresh :class:`~capture.sim.clock.SimClock` for a sweep,
        so that the frames' angles do not depend on machine load; wall time for a static one).
    warnings : sequence of (str, str), optional
        ``(code, message)`` warnings journalled after the passes.
    record_settings : bool, optional
        Record the simulation settings in ``session.json`` (as ``--camera sim`` does).
    meta : mapping, optional
        More of :meth:`SessionWriter.create`'s keywords (``lighting``, ``lux``).

    Returns
    -------
    Path
        ``path``.
    """
    settings = SimSettings(size=tuple(size), seed=int(seed), lux=float(lux), objects=tuple(objects))
    if kind == "static":
        return _static_session(
            Path(path),
            settings,
            scene=scene or "desk",
            plan=static_plan(
                frames=frames,
                refs=refs,
                iso=iso,
                dark_shutter=dark_shutter,
                bright_shutter=bright_shutter,
                aperture=aperture,
            ),
            offset=offset,
            lux_at=lux_at or {},
            ref_offsets=ref_offsets or {},
            fps=1e6 if fps is None else fps,
            clock=time if clock is None else clock,
            warnings=warnings,
            record_settings=record_settings,
            meta=dict(meta or {}),
        )
    if kind == "sweep":
        from capture.sim.clock import SimClock

        static_only = {"offset": offset != (0.0, 0.0), "lux_at": lux_at, "ref_offsets": ref_offsets}
        if any(static_only.values()):
            given = ", ".join(k for k, v in static_only.items() if v)
            raise BadRequest(f"expected a static session for {given}, found kind='sweep'")
        passes, table = planmod.sweep_plan(
            steps=steps,
            step_deg=step_deg,
            iso=iso,
            dark_shutter=dark_shutter,
            bright_shutter=bright_shutter,
            aperture=aperture,
            dark_frames=frames,
            fps=20.0 if fps is None else fps,
            settle_s=0.0,
            dark_mode=dark_mode,
            port="sim",
        )
        with SimRig(
            settings,
            fps=20.0 if fps is None else fps,
            max_wait=0.05,
            clock=SimClock() if clock is None else clock,
            turntable=True,
        ) as rig:
            writer = rig.create(
                path,
                scene=scene or "shelf",
                kind="sweep",
                plan={"passes": passes, "order": list(PASSES)},
                turntable=table,
                record_settings=record_settings,
                **dict(meta or {}),
            )
            rig.callback(writer.close)
            rig.run(writer, command="sweep")
            _journal_warnings(writer, warnings)
        return Path(path)
    raise BadRequest(f"expected a session kind 'static' or 'sweep', found {kind!r}")


def _static_session(path: Path, settings: SimSettings, *, plan: dict, **how: Any) -> Path:
    frames = plan["passes"]["dark"]["frames"]
    # shutter number n is dark frame n, then reference i is shutter number frames + i
    shutter = {"dark": 0, "bright": frames}
    lux_at = {shutter[p] + i: v for (p, i), v in how["lux_at"].items()}
    offset_from = {frames: tuple(how["offset"])}
    offset_from.update({frames + i: tuple(o) for i, o in how["ref_offsets"].items()})
    with SimRig(
        settings,
        fps=how["fps"],
        clock=how["clock"],
        lux_at=lux_at,
        offset_from=offset_from if any(any(o) for o in offset_from.values()) else None,
    ) as rig:
        writer = rig.create(
            path,
            scene=how["scene"],
            kind="static",
            plan=plan,
            record_settings=how["record_settings"],
            **how["meta"],
        )
        rig.callback(writer.close)
        for pass_ in plan["order"]:
            rig.run(writer, [pass_], command="burst" if pass_ == "dark" else "reference")
        _journal_warnings(writer, how["warnings"])
    return path


def _journal_warnings(writer: SessionWriter, warnings: Sequence[tuple[str, str]]) -> None:
    for code, message in warnings:
        writer.warn(code, message)


def shoot_files(
    folder: str | Path,
    camera: SimCamera,
    count: int,
    *,
    shutter: str = DARK_SHUTTER,
    iso: int = ISO,
    names: Sequence[str] | Callable[[int], str] = "DSC{:05d}.DNG".format,
) -> list[tuple[Path, Shot]]:
    """Shoot ``count`` frames and write each DNG into ``folder``, as a card holds them.

    No session: footage for ``capture import`` and raw files for the benchmarks.  ``names``
    is a list of file names, or a function of the frame's index in this call; the camera's
    shutter counter goes on from call to call.  Returns ``(path, shot)`` per frame.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    camera.apply(Exposure(iso=iso, shutter=shutter))
    out = []
    for i, shot in enumerate(camera.shoot(count)):
        path = folder / (names(i) if callable(names) else names[i])
        path.write_bytes(shot.data)
        out.append((path, shot))
    return out
