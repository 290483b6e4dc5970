"""What the benchmark scripts share: the command line, and reporting missed targets."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence


def report_misses(label: str, result: dict, target_text: Callable[[dict], str]) -> None:
    """One ``target missed`` line on stderr per target of ``result`` that was not met."""
    for t in result.get("targets", []):
        if not t["met"]:
            print(
                f"target missed: {label}: {t['name']}: {t['value']} (target {target_text(t)})",
                file=sys.stderr,
                flush=True,
            )


def bench_main(
    doc: str,
    sections: Sequence[str],
    run: Callable,
    quick_help: str,
    argv: Sequence[str] | None = None,
) -> int:
    """``SCRIPT [SECTION ...] [--quick] [--tmp DIR]``: run and print one JSON object per section."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("sections", nargs="*", default=list(sections), help=", ".join(sections))
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--tmp", help="folder for temporary files (default: system temp)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run(
        a.sections,
        quick=a.quick,
        tmp=a.tmp,
        emit=lambda name, res: print(json.dumps({name: res}, indent=2), flush=True),
    )
    return 0
