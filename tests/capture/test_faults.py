"""A seeded fault test: SIGKILL `capture burst` and `capture sweep` at many instants, then finish.

Each episode starts a capture and kills it; then it runs `capture resume` (or the same command
again, when the kill came before the session existed), killing that too, until the session is
complete.  The instants come from a seeded RNG in two kinds:

- crash points (``SUBLUX_TEST_CRASH_AT=LABEL:N``): the process SIGKILLs itself the N-th time it
  passes LABEL, so the creation window (after the temporary folder is made, after the skeleton,
  after ``session.json``, after the rename), the gap between a frame's rename and its journal
  record, and the middle of a journal append are each hit exactly, on a machine of any speed;
- polled kills: the test SIGKILLs the process once the journal holds a random number of lines
  (wherever it then is: shooting, downloading, moving the turntable).

Then: 0 frames lost (every planned index journalled with its file, and every frame journalled
before a kill still there, unchanged), 0 doubled (one record per index), 0 corrupt (every file
matches its record; no stray or temporary file left in the pass folders).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capture.session import open_session
from sublux_common.fsio import CRASH_ENV

pytestmark = pytest.mark.slow

SIM = ["--camera", "sim", "--sim-size", "48x64"]
CREATION = ["create:mkdir", "create:skeleton", "create:meta", "create:renamed"]
LATER = ["frame:written", "journal:torn", "journal:appended", "poll"]


def _burst(session: Path) -> list[str]:
    return [
        "burst",
        *SIM,
        "--iso",
        "2000",
        "--frames",
        "10",
        "--session",
        str(session),
        "--scene",
        "desk",
    ]


def _sweep(session: Path) -> list[str]:
    return [
        "sweep",
        *SIM,
        "--turntable",
        "sim",
        "--steps",
        "3",
        "--step-deg",
        "2",
        "--dark-frames",
        "7",
        "--iso",
        "2000",
        "--settle",
        "0",
        "--fps",
        "20",
        "--session",
        str(session),
        "--scene",
        "shelf",
    ]


def _journal_lines(session: Path) -> int:
    try:
        return (session / "journal.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _journalled(session: Path) -> set[tuple[str, int, str]]:
    """(pass, index, sha256) of every valid frame record now in the journal."""
    out = set()
    try:
        lines = (session / "journal.jsonl").read_bytes().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("type") == "frame":
            out.add((rec["pass"], rec["index"], rec["sha256"]))
    return out


def _run(args: list[str], crash: str | None, poll_lines: int | None) -> int:
    """Run ``capture ARGS``; return its exit status (-9 when killed)."""
    env = dict(os.environ)
    env.pop(CRASH_ENV, None)
    if crash:
        env[CRASH_ENV] = crash
    proc = subprocess.Popen(
        [sys.executable, "-m", "capture", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    if poll_lines is not None:
        session = Path(args[args.index("--session") + 1]) if "--session" in args else Path(args[1])
        deadline = time.monotonic() + 120  # a hang guard, not a timing assumption
        while proc.poll() is None and _journal_lines(session) < poll_lines:
            assert time.monotonic() < deadline, "the capture neither progressed nor ended"
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode in (0, -signal.SIGKILL), stderr.decode()
    return proc.returncode


def _episode(rng: random.Random, first: list[str], session: Path, creation: str) -> tuple[int, int]:
    """One session: a creation-window kill, 3 to 5 random ones, then runs until complete.

    Returns (kills at crash points, polled kills, frames the session plans)."""
    kills = polled = 0
    seen: set[tuple[str, int, str]] = set()
    plan = [creation] + [rng.choice(LATER) for _ in range(rng.randint(3, 5))]
    for label in plan + [None] * 4:
        exists = (session / "session.json").exists()
        args = ["resume", str(session)] if exists else first
        lines = _journal_lines(session)
        if label is None:
            crash, poll = None, None
        elif label == "poll":
            crash, poll = None, lines + rng.randint(1, 12)
        elif label.startswith("create:"):
            crash, poll = f"{label}:1", None
        else:
            crash, poll = f"{label}:{rng.randint(1, 4)}", None
        rc = _run(args, crash, poll)
        if rc == -signal.SIGKILL:
            if poll is None:
                kills += 1
            else:
                polled += 1
        now = _journalled(session)
        assert seen <= now, "a frame journalled before a kill was lost"
        seen = now
        if label is None and rc == 0:
            break
    s = open_session(session)
    assert s.is_complete, s.last_stop
    assert s.damaged == []
    assert s.verify() == []
    planned = 0
    for pass_ in s.plan["passes"]:
        records = [r for r in s.records if r.get("type") == "frame" and r["pass"] == pass_]
        indices = sorted(r["index"] for r in records)
        assert indices == list(range(s.planned(pass_))), f"{pass_}: lost or doubled frames"
        planned += s.planned(pass_)
        on_disk = sorted(p.name for p in (session / pass_).iterdir())
        assert on_disk == sorted(Path(r["path"]).name for r in records), "stray or temp files"
        for f in s.frames(pass_):
            s.read_frame(f)  # size and sha256 against the record
    shas = [f.sha256 for p in s.plan["passes"] for f in s.frames(p)]
    assert len(set(shas)) == len(shas)
    assert not [p for p in session.parent.iterdir() if ".creating-" in p.name]
    return kills, polled, planned


@pytest.mark.parametrize("seed", [20261202])
def test_seeded_kills_lose_double_and_corrupt_nothing(tmp_path, seed):
    rng = random.Random(seed)
    kills = polled = frames = 0
    for kind, make in (("burst", _burst), ("sweep", _sweep)):
        for creation in CREATION:
            session = tmp_path / kind / creation.replace(":", "-") / "s"
            session.parent.mkdir(parents=True)
            k, p, n = _episode(rng, make(session), session, creation)
            kills += k
            polled += p
            frames += n
    print(f"{kills} kills at crash points and {polled} polled kills, {frames} planned frames")
    # Crash points fire whatever the machine's speed, so their count alone meets the target;
    # how many polled kills land before a run ends may vary.
    assert kills >= 20, f"only {kills} kills at crash points happened"
