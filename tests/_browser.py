"""Headless Chromium for the tests of the pages sublux writes (the curation report, the
review page): finding the browser, a screenshot of a page, and a browser driven over the
DevTools protocol on a pipe (keys typed, expressions evaluated in the page)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

#: Flags every headless run takes: no sandbox (containers), no GPU, nothing fetched from the
#: network or written outside the profile given.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    """The Chromium executable, or skip the test (``.ci/install-browser`` installs it)."""
    exe = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if exe is None:
        pytest.skip("headless Chromium is not installed: run .ci/install-browser")
    return exe


def screenshot(
    exe: str,
    url: str,
    shot: Path,
    *,
    profile: Path,
    size: tuple[int, int] = (1280, 2000),
    budget_ms: int = 2000,
) -> subprocess.CompletedProcess:
    """Render ``url`` with Chromium ``exe`` to the PNG ``shot`` at ``size`` (width, height)
    after ``budget_ms`` of virtual time; returns the finished process (its stderr says why
    when no PNG came)."""
    cmd = [
        exe,
        *FLAGS,
        f"--user-data-dir={profile}",
        f"--screenshot={shot}",
        f"--window-size={size[0]},{size[1]}",
        f"--virtual-time-budget={budget_ms}",
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4)."""

    def __init__(self, exe: str, profile: Path):
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()

        def child() -> None:
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        cmd = [exe, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        self.proc = subprocess.Popen(
            cmd,
            preexec_fn=child,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_r)
        os.close(from_w)
        self.w = os.fdopen(to_w, "wb", buffering=0)
        self.r = os.fdopen(from_r, "rb", buffering=0)
        self.buf = b""
        self.n = 0
        self.session: str | None = None

    def send(self, method: str, **params: Any) -> dict:
        """Call a DevTools method (in the attached page once :meth:`open` ran); its result."""
        self.n += 1
        msg: dict[str, Any] = {"id": self.n, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        self.w.write(json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = self.r.read(65536)
                assert chunk, "Chromium closed its DevTools pipe"
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            m = json.loads(raw)
            if m.get("id") == self.n:
                assert "error" not in m, m["error"]
                return m["result"]

    def open(self, url: str) -> None:
        """Open ``url`` in a new page and attach to it."""
        target = self.send("Target.createTarget", url="about:blank")
        self.session = self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )["sessionId"]
        self.send("Page.navigate", url=url)

    def wait_for(self, condition: str) -> Any:
        """Evaluate until ``condition`` is truthy, in the page (no sleeps here); null after
        the page's 3000th try."""
        expr = (
            "new Promise(r => { let n = 0; const c = () => { const v = (" + condition + "); "
            "v || ++n > 3000 ? r(v || null) : setTimeout(c, 20); }; c(); })"
        )
        for _ in range(20):  # the page may still be replacing about:blank
            try:
                got = self.send("Runtime.evaluate", expression=expr, awaitPromise=True)
            except AssertionError as exc:
                if "context was destroyed" not in str(exc):
                    raise
                continue
            return got["result"].get("value")
        raise AssertionError(f"the page never settled to evaluate {condition}")

    def key(self, key: str, code: str, vk: int, text: str | None = None) -> None:
        """Press and release a key (``text``: what it types)."""
        for kind in ("keyDown", "keyUp"):
            params: dict[str, Any] = {
                "type": kind,
                "key": key,
                "code": code,
                "windowsVirtualKeyCode": vk,
            }
            if text and kind == "keyDown":
                params["text"] = text
            self.send("Input.dispatchKeyEvent", **params)

    def close(self) -> None:
        """Stop the browser and close the pipe."""
        self.proc.kill()
        self.proc.wait()
        self.w.close()
        self.r.close()
