"""Continuing a session: what ``capture resume`` shoots, and which session a static pass joins.

Policy only, no device and no output: :func:`plan_resume` reads an interrupted session and
says what is left to shoot, with which camera and turntable; :func:`finish_if_complete` ends a
session that has nothing left; :func:`open_static_session` opens the static session a
``capture burst`` or ``capture reference`` adds its pass to, after
:func:`check_static_session` has said the pass may join it.  The ``capture`` command calls
them, opens the devices and prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from capture.errors import BadRequest, SessionError, SessionExists
from capture.session import PASSES, SESSION_FILE, Session, SessionWriter

__all__ = [
    "ResumePlan",
    "check_static_session",
    "finish_if_complete",
    "open_static_session",
    "plan_resume",
    "shots_so_far",
]


def shots_so_far(session: Session) -> int:
    """Frames the session's camera has shot, pre-roll frames included.

    Where a simulated camera's shutter counter resumes, so that it never repeats a frame's
    noise.

    Parameters
    ----------
    session : Session
        The session, as read.

    Returns
    -------
    int
        Journalled frames of every pass plus journalled pre-roll frames.
    """
    preroll = sum(1 for r in session.records if r.get("what") == "preroll")
    return sum(len(session.frames(p)) for p in PASSES) + preroll


@dataclass(frozen=True)
class ResumePlan:
    """What a resume shoots: the passes with frames left, and the devices to shoot them with."""

    remaining: dict[str, int]
    """Pass -> frames left to shoot, for each pass with frames left, in the plan's order."""
    camera: str
    """The camera to open: as asked, else ``sim`` for a simulated session, else ``auto``."""
    sim: dict | None
    """The simulated camera's settings as the session recorded them (None for a real one)."""
    turntable: str | None
    """The turntable's port (as asked, else as recorded), or None when no pass left turns."""
    shutter_count: int
    """Frames the camera has shot so far (:func:`shots_so_far`)."""

    @property
    def passes(self) -> list[str]:
        """The passes with frames left, in the plan's order."""
        return list(self.remaining)

    @property
    def frames(self) -> int:
        """Frames left to shoot, over every pass."""
        return sum(self.remaining.values())

    @property
    def done(self) -> bool:
        """Every planned frame is journalled: nothing to shoot."""
        return not self.remaining


def plan_resume(
    session: Session, *, camera: str | None = None, turntable: str | None = None
) -> ResumePlan:
    """Plan the resume of an interrupted session.

    Parameters
    ----------
    session : Session
        The session, as read (a writer's ``session``, so it cannot change meanwhile).
    camera : str or None, keyword-only
        The camera asked for (``auto``, ``usb:BUS,DEV``, ``sim``); None: as shot.
    turntable : str or None, keyword-only
        The turntable's port asked for; None: the one the session recorded.

    Returns
    -------
    ResumePlan
        What is left and what to shoot it with (``done`` when nothing is left).

    Raises
    ------
    capture.errors.BadRequest
        The session is an interrupted ``capture import``: there is no camera to resume.
    capture.errors.SessionError
        A journalled frame is missing or changed; nothing may be shot until it is restored or
        ``capture repair`` has un-journalled it.
    """
    s = session
    if s.imported is not None and any(s.remaining(p) for p in s.plan["passes"]):
        raise BadRequest(
            f"{s.path} is an interrupted `capture import`: there is no camera to resume; run "
            "the same `capture import` again to finish it (journalled files are kept)"
        )
    problems = s.verify()
    if problems:
        raise SessionError(
            f"expected every journalled frame of {s.path} intact, found "
            f"{len(problems)} problem(s): "
            + "; ".join(problems[:5])
            + ". Nothing was shot; restore the files from a backup, or run `capture repair "
            f"{s.path}` (it sets them aside and un-journals them, so resume shoots them again)."
        )
    order = [p for p in s.plan.get("order", PASSES) if p in s.plan["passes"]]
    left = {p: len(s.remaining(p)) for p in order}
    remaining = {p: n for p, n in left.items() if n}
    cam = s.camera
    needs_tt = any(s.plan["passes"][p].get("angles") for p in remaining)
    tt_port = turntable or (s.meta.get("turntable") or {}).get("port") if needs_tt else None
    return ResumePlan(
        remaining=remaining,
        camera=camera or ("sim" if cam.driver == "sim" else "auto"),
        sim=cam.sim,
        turntable=tt_port,
        shutter_count=shots_so_far(s),
    )


def finish_if_complete(writer: SessionWriter) -> bool:
    """End a session whose every planned frame is journalled with a ``success`` stop record,
    unless its last run already ended so.

    Parameters
    ----------
    writer : SessionWriter
        The session, open for writing.

    Returns
    -------
    bool
        Whether a stop record was written.
    """
    if writer.session.is_complete:
        return False
    writer.stop("success", "resume found every planned frame on disk")
    return True


def check_static_session(session: Session, *, scene: str | None, pass_: str) -> None:
    """Check that a ``capture burst`` or ``capture reference`` may add ``pass_`` to a session.

    Parameters
    ----------
    session : Session
        The existing session.
    scene : str or None, keyword-only
        The scene the command names (None: the session's).
    pass_ : str, keyword-only
        The pass to add, ``dark`` or ``bright``.

    Raises
    ------
    capture.errors.SessionExists
        The session is a sweep, belongs to another scene, or already plans ``pass_``; nothing
        was changed.
    """
    path = session.path  # as the user named it
    if session.kind != "static":
        raise SessionExists(
            f"expected a static session at {path}, found a {session.kind} session; nothing was "
            "changed. Choose another --session."
        )
    if scene is not None and scene != session.scene:
        raise SessionExists(
            f"{path} belongs to scene {session.scene!r}, not {scene!r}; nothing was changed. "
            "Sessions of one scene share its name; choose another --session."
        )
    if pass_ in session.plan["passes"]:
        raise SessionExists(
            f"{path} already has a {pass_} pass; nothing was changed. Run `capture resume "
            f"{path}` to finish it, or choose another --session."
        )


def open_static_session(
    path: str | os.PathLike, *, scene: str | None, pass_: str, command: str
) -> SessionWriter | None:
    """The existing static session a command adds ``pass_`` to, open for writing, or None.

    Parameters
    ----------
    path : path-like
        The session's folder.
    scene : str or None, keyword-only
        The scene the command names (None: the session's).
    pass_ : str, keyword-only
        The pass to add, ``dark`` or ``bright``.
    command : str, keyword-only
        The command (``burst``, ``reference``), for the session's lock.

    Returns
    -------
    SessionWriter or None
        The session's writer, holding its lock (close it), or None when ``path`` holds no
        session yet (a new one is to be created).

    Raises
    ------
    capture.errors.SessionExists
        See :func:`check_static_session`; the lock is released first.
    capture.errors.SessionLocked
        Another process writes to the session.
    """
    path = Path(path)
    if not (path / SESSION_FILE).exists():
        return None
    writer = SessionWriter(path, command=command)
    try:
        check_static_session(writer.session, scene=scene, pass_=pass_)
    except BaseException:
        writer.close()
        raise
    return writer
