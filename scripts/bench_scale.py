"""Scale benchmark: how the chain's time and memory grow with the work.

``scripts/bench scale [--quick] [--big]``: capture (the simulated rig, through the ``capture``
command), curate (``curate run``) and publish (``dataset publish``, then ``dataset verify``) N
sessions of DRV's shape for N = 2, 4, 8, 16 at a reduced frame size.  Half the sessions are
static scenes (a dark burst and two long references), half turntable sweeps (a continuous dark
pass and a stepped bright pass).  Every stage is a fresh process, as a user runs it; for each
stage and N it reports seconds per frame and the peak resident memory of its processes (the
largest ``ru_maxrss`` of the stage's processes, read through ``RUSAGE_CHILDREN`` in a small
wrapper process per command), then the growth exponent k of a least-squares fit of
time ∝ N^k over the Ns (k = 1: linear) and how much the peak memory changed from the smallest
N to the largest.

Capture is per session (one session's commands do not depend on the others), so the sessions
are shot once and the capture time for N is that of the first N sessions.  ``load_drift`` is
the first session's capture repeated at the end over its first time: far from 1, other
processes' load changed during the run and the exponents carry that change.  ``--big`` adds a
run at 20 MP (3672 x 5496) of two sessions, for the per-frame figures at full size.

Import this file by path (``scripts/`` is not a package); ``scripts/bench.py scale`` does.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: DRV's size: 202 sequences of about 110 frames at 20 MP
DRV = {"sequences": 202, "frames": 110, "pixels": 3672 * 5496}
NS = (2, 4, 8, 16)
QUICK_NS = (2, 4, 8)
SIZE = (512, 768)  # the demo's frames
QUICK_SIZE = (128, 192)
BIG_SIZE = (3672, 5496)
STATIC_DARK, STATIC_REFS = 20, 2
SWEEP_STEPS = 6  # a dark pass of 4 * (steps - 1) + 1 = 21 frames, 6 bright frames

_WRAP = (
    "import resource, subprocess, sys\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "sys.stderr.buffer.write(r.stderr[-4000:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(r.returncode)\n"
)


def _bin(name: str) -> str:
    """The console script beside this interpreter (the venv's), else on PATH."""
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else name


def run_measured(cmd: Sequence[str]) -> tuple[float, float]:
    """Run ``cmd`` in a wrapper process; return (seconds, peak RSS in MB of its processes)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _WRAP, *cmd], capture_output=True, text=True, env=env)
    spent = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... exited {r.returncode}: {r.stderr[-3000:]}")
    return spent, int(r.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB


def _capture_cmds(session: Path, i: int, size: tuple[int, int]) -> list[list[str]]:
    cap = _bin("capture")
    sim = ["--camera", "sim", "--sim-size", f"{size[0]}x{size[1]}", "--iso", "2000"]
    scene = ["--scene", f"scene{i}", "--lighting", "one lamp (simulated)", "--lux", "1.0"]
    if i % 2 == 0:
        return [
            [
                *(cap, "burst", *sim, "--sim-lux", "1.0", "--shutter", "1/30"),
                *("--frames", str(STATIC_DARK), "--session", str(session), *scene),
            ],
            [
                *(cap, "reference", "--camera", "sim", "--iso", "2000", "--shutter", "10"),
                *("--frames", str(STATIC_REFS), "--session", str(session)),
            ],
        ]
    return [
        [
            *(cap, "sweep", *sim, "--turntable", "sim", "--sim-lux", "1.0"),
            *("--dark-shutter", "1/30", "--bright-shutter", "10", "--steps", str(SWEEP_STEPS)),
            *("--step-deg", "2", "--settle", "0", "--session", str(session), *scene),
        ]
    ]


def frames_of(session: Path) -> int:
    return sum(1 for p in ("dark", "bright") for _ in (session / p).glob("*.dng"))


def fit_exponent(ns: Sequence[int], seconds: Sequence[float]) -> float:
    """k of the least-squares fit log t = k log N + c."""
    xs = [math.log(n) for n in ns]
    ys = [math.log(max(t, 1e-9)) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


def fit_line(ns: Sequence[int], seconds: Sequence[float]) -> tuple[float, float]:
    """(fixed seconds, seconds per session) of the least-squares line t = a + b N."""
    mx, my = sum(ns) / len(ns), sum(seconds) / len(seconds)
    b = sum((x - mx) * (y - my) for x, y in zip(ns, seconds, strict=True)) / sum(
        (x - mx) ** 2 for x in ns
    )
    return my - b * mx, b


def scale(
    work: Path,
    *,
    ns: Sequence[int] = NS,
    size: tuple[int, int] = SIZE,
    say: Callable[[str], None] = lambda _: None,
) -> dict:
    """Capture max(ns) sessions, then curate and publish the first N of them for each N.

    With one N there is nothing to fit: the result has the rows and the per-frame figures,
    without ``growth_exponent``, the line fit, ``peak_rss_growth`` or ``targets``.
    """
    sessions, capture_s, capture_mb = [], [], []
    for i in range(max(ns)):
        s = work / f"s{i:02d}"
        say(f"capture {i + 1}/{max(ns)} ({'static' if i % 2 == 0 else 'sweep'})")
        t, mb = 0.0, 0.0
        for cmd in _capture_cmds(s, i, size):
            dt, m = run_measured(cmd)
            t, mb = t + dt, max(mb, m)
        sessions.append(s)
        capture_s.append(t)
        capture_mb.append(mb)
    frames = [frames_of(s) for s in sessions]
    # A control for a machine whose load changes during the run: session 0 shot again at the
    # end; its time over the first one's is the drift the other figures carry.
    say("capture: session 1 again (load drift control)")
    again = 0.0
    for cmd in _capture_cmds(work / "again", 0, size):
        again += run_measured(cmd)[0]
    shutil.rmtree(work / "again")
    rows = []
    for n in ns:
        chosen = [str(s) for s in sessions[:n]]
        nframes = sum(frames[:n])
        say(f"N={n}: curate ({nframes} frames)")
        cur_s, cur_mb = run_measured([_bin("curate"), "run", *chosen, "--force", "--no-report"])
        rel = work / f"rel-{n}"
        say(f"N={n}: publish")
        pub_s, pub_mb = run_measured(
            [
                *(_bin("dataset"), "publish", *chosen, "--name", "scale", "--version", "1.0.0"),
                *("--out", str(rel), "--url", "https://example.org/scale"),
                *("--creator", "bench <bench@example.org>", "--description", "Scale benchmark."),
                # two splits: N=2 has two scenes, and the split layout stays the same for all N
                *("--fractions", "50/50/0"),
            ]
        )
        say(f"N={n}: verify")
        ver_s, ver_mb = run_measured([_bin("dataset"), "verify", str(rel)])
        release_mb = sum(p.stat().st_size for p in rel.rglob("*") if p.is_file()) / 1e6
        raw_mb = sum(p.stat().st_size for s in sessions[:n] for p in s.rglob("*.dng")) / 1e6
        shutil.rmtree(rel)
        rows.append(
            {
                "n": n,
                "frames": nframes,
                "raw_mb": round(raw_mb, 1),
                "release_mb": round(release_mb, 1),
                "seconds": {
                    "capture": round(sum(capture_s[:n]), 2),
                    "curate": round(cur_s, 2),
                    "publish": round(pub_s, 2),
                    "verify": round(ver_s, 2),
                },
                "peak_rss_mb": {
                    "capture": round(max(capture_mb[:n]), 1),
                    "curate": round(cur_mb, 1),
                    "publish": round(pub_mb, 1),
                    "verify": round(ver_mb, 1),
                },
            }
        )
    stages = ("capture", "curate", "publish", "verify")
    out = {
        "size": f"{size[0]}x{size[1]}",
        "sessions": "half static (20 dark, 2 references), half sweeps (21 dark, 6 bright)",
        "rows": rows,
        "load_drift": round(again / capture_s[0], 3),
        "ms_per_frame": {
            st: [round(1000 * r["seconds"][st] / r["frames"], 1) for r in rows] for st in stages
        },
    }
    if len(ns) < 2:  # one N: the per-frame figures and memory only, nothing to fit
        return out
    out |= {
        "growth_exponent": {
            st: round(fit_exponent(ns, [r["seconds"][st] for r in rows]), 3) for st in stages
        },
        # k < 1 where a stage's fixed cost (a process start, imports) is still a large part
        # of its time; the line's two terms say how large
        "fixed_s_and_s_per_session": {
            st: [round(v, 3) for v in fit_line(ns, [r["seconds"][st] for r in rows])]
            for st in stages
        },
        "peak_rss_growth": {
            st: round(rows[-1]["peak_rss_mb"][st] / rows[0]["peak_rss_mb"][st], 3) for st in stages
        },
    }
    out["targets"] = [
        {
            "name": f"{st}: time exponent k (time ∝ N^k)",
            "value": out["growth_exponent"][st],
            "target": "<= 1.1",
            "met": out["growth_exponent"][st] <= 1.1,
        }
        for st in stages
    ] + [
        {
            "name": f"{st}: peak RSS at N={ns[-1]} / N={ns[0]}",
            "value": out["peak_rss_growth"][st],
            "target": "<= 1.15 (flat)",
            "met": out["peak_rss_growth"][st] <= 1.15,
        }
        for st in stages
    ]
    return out


def run(*, quick: bool = False, big: bool = False, tmp: str | None = None) -> dict:
    """The scale benchmark; ``quick`` uses 128 x 192 frames and N up to 8."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _benchlib import report_misses

    def say(msg: str) -> None:
        print(f"[bench scale] {msg}", file=sys.stderr, flush=True)

    res: dict = {}
    with tempfile.TemporaryDirectory(prefix="sublux-scale-", dir=tmp) as d:
        t0 = time.perf_counter()
        res["reduced"] = scale(
            Path(d) / "reduced",
            ns=QUICK_NS if quick else NS,
            size=QUICK_SIZE if quick else SIZE,
            say=say,
        )
        res["reduced"]["section_s"] = round(time.perf_counter() - t0, 1)
        report_misses("scale", res["reduced"], lambda t: t["target"])
        if big:
            t0 = time.perf_counter()
            # one N of two sessions (two scenes: a release's splits need two): per-frame time
            # and peak memory at full size, no growth fit
            res["20mp"] = scale(Path(d) / "big", ns=(2,), size=BIG_SIZE, say=say)
            res["20mp"]["section_s"] = round(time.perf_counter() - t0, 1)
    return res


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="128x192 frames, N up to 8")
    ap.add_argument("--big", action="store_true", help="also two sessions at 20 MP")
    ap.add_argument("--tmp", help="folder for temporary files (default: system temp)")
    a = ap.parse_args(argv)
    print(json.dumps(run(quick=a.quick, big=a.big, tmp=a.tmp), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
