"""``curate review``'s page: a local web server for rejecting and restoring frames.

The server listens on 127.0.0.1 only, on a free port, and answers only under an unguessable
token (``http://127.0.0.1:PORT/TOKEN/``) and only to a ``Host`` of 127.0.0.1 or localhost
(another site's page cannot reach it through DNS rebinding).  The page lists each session's
pairs and dropped frames with the report's previews (:meth:`curate.report._Frames.pair_tiles`),
and records decisions with :func:`curate.review.append`; they take effect at the next
``curate align`` / ``curate run``.  The page is ``curate/templates/review.html.j2``, rendered
with autoescaping (:func:`curate.templating.environment`): every name, status and reason on it
is text.

Keys: ``j``/``↓`` next, ``k``/``↑`` previous, ``x`` reject, ``u`` restore, ``/`` the reason.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from curate import review as reviewmod
from curate.errors import BadInput, CurateError
from curate.result import Alignment, read_alignment
from curate.templating import environment

__all__ = ["ReviewServer", "Target", "items"]

log = logging.getLogger(__name__)

#: The page's template, in ``curate/templates`` (:func:`curate.templating.environment`).
PAGE_TEMPLATE = "review.html.j2"


@dataclass(frozen=True)
class Target:
    """One session (or folder-mode result) under review."""

    label: str
    result: Path  # the folder holding alignment.json and review.jsonl
    session: Path | None = None


def items(al: Alignment) -> list[dict]:
    """What the page lists for one result: kept pairs, rejected pairs, dropped frames.

    Each item is ``{"file": PASS/NAME (what a decision names), "kind", "status", "pair"}``
    where ``pair`` is what the previews need (or None for a frame without one).
    """
    static = bool(al.references)
    out = []
    for rejected, p in [(False, p) for p in al.pairs] + [(True, p) for p in al.rejected]:
        # a static pair is its dark frame; a sweep's pair is its bright frame
        key = f"dark/{p.dark}" if static else f"bright/{p.bright}"
        status = f"rejected: {p.reason}" if rejected else "paired"
        if p.review:
            status += " (restored in review)"
        if p.motion:
            status += " · motion"
        out.append({"file": key, "kind": "pair", "status": status, "pair": p})
    for d in al.dropped:
        pair = al.reference_pair(d.file) if d.pass_ == "dark" else None
        note = (d.review or {}).get("reason")
        status = f"dropped: {d.reason}" + (f" ({note})" if note else "")
        out.append(
            {
                "file": f"{d.pass_}/{d.file}",
                "kind": "frame",
                "status": status,
                "pair": pair,
                "region": d.region,
            }
        )
    return out


class ReviewServer:
    """Serve the review page for ``targets`` on 127.0.0.1.

    Parameters
    ----------
    targets : list of Target
        The results under review; each must hold an ``alignment.json``.
    port : int, optional
        0 (the default) picks a free port.
    token : str, optional
        The URL's secret; by default 128 random bits.
    user : str, optional
        Recorded with each decision (default: the login name).
    """

    def __init__(
        self,
        targets: list[Target],
        *,
        port: int = 0,
        token: str | None = None,
        user: str | None = None,
    ) -> None:
        self.targets = list(targets)
        self.token = token or secrets.token_urlsafe(16)
        self.user = user
        self._previews: dict[tuple[int, str], bytes] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("review page: " + fmt, *args)

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.token}/"

    def start(self) -> ReviewServer:
        """Serve on a background thread (see :meth:`close`)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ReviewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        host = (req.headers.get("Host") or "").rsplit(":", 1)[0]
        parts = urlsplit(req.path)
        segments = parts.path.strip("/").split("/", 1)
        if host not in ("127.0.0.1", "localhost") or not secrets.compare_digest(
            segments[0].encode(), self.token.encode()
        ):
            self._send(req, 404, b"not found", "text/plain")
            return
        route = segments[1] if len(segments) > 1 else ""
        try:
            if method == "GET" and route == "":
                self._send(req, 200, self._page().encode(), "text/html; charset=utf-8")
            elif method == "GET" and route == "preview.png":
                q = parse_qs(parts.query)
                png = self._preview(int(q["target"][0]), q["file"][0])
                self._send(req, 200, png, "image/png")
            elif method == "POST" and route == "decide":
                length = int(req.headers.get("Content-Length") or 0)
                body = json.loads(req.rfile.read(min(length, 1 << 16)) or b"{}")
                d = self._decide(body)
                self._send(req, 200, json.dumps({"ok": True, "line": d.line}).encode(), "json")
            else:
                self._send(req, 404, b"not found", "text/plain")
        except (BadInput, KeyError, ValueError, IndexError) as exc:
            msg = json.dumps({"ok": False, "error": str(exc)}).encode()
            self._send(req, 400, msg, "json")
        except (CurateError, OSError) as exc:
            log.warning("review page: %s", exc)
            self._send(req, 500, json.dumps({"ok": False, "error": str(exc)}).encode(), "json")

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, code: int, body: bytes, ctype: str) -> None:
        req.send_response(code)
        req.send_header("Content-Type", "application/json" if ctype == "json" else ctype)
        req.send_header("Content-Length", str(len(body)))
        req.send_header("Cache-Control", "no-store")
        req.send_header("Referrer-Policy", "no-referrer")
        req.end_headers()
        req.wfile.write(body)

    def _decide(self, body: dict) -> reviewmod.Decision:
        t = self.targets[int(body["target"])]
        al = read_alignment(t.result)
        file = body["file"]
        if file not in reviewmod.frame_names(al):
            reviewmod.resolve_file(al, file)  # raises, naming the nearest
        decision = str(body["decision"])
        with self._lock:
            return reviewmod.append(
                t.result, file, decision, str(body.get("reason") or ""), user=self.user
            )

    def _preview(self, target: int, file: str) -> bytes:
        from curate import report

        key = (target, file)
        if key in self._previews:
            return self._previews[key]
        t = self.targets[target]
        al = read_alignment(t.result)
        item = next((i for i in items(al) if i["file"] == file), None)
        if item is None:
            raise BadInput(f"expected a listed file, found {file!r}")
        dark_base, bright_base, sess_path = report._frame_bases(al, t.session)
        session = None
        if al.source.get("kind") == "session" and sess_path is not None:
            session = report._session_info(sess_path).get("session")
        frames = report._Frames(dark_base, bright_base, session)
        pair = item["pair"]
        try:  # a frame that cannot be shown still removes the verified copy of its video
            if pair is None:  # a bright frame on its own
                lin = frames.load(file.split("/", 1)[0], file.split("/", 1)[1]).rgb
                size = report._tile_size(lin.shape)
                tile = report._to_uint8(report._encode_preview(report._downscale(lin, size), 1.0))
                png = report._png(tile)
            else:
                region = item.get("region") or pair.motion_region
                tiles = frames.pair_tiles(pair, region["box"] if region else None).tiles
                png = report._png(report._pair_strip(tiles, ["dark", "bright", "dark - bright"]))
        finally:
            frames.close()
        self._previews[key] = png
        return png

    def _page(self) -> str:
        """The page (``templates/review.html.j2``, autoescaped) as it stands now: every
        target's items with their latest decision."""
        return (
            environment()
            .get_template(PAGE_TEMPLATE)
            .render(
                token=self.token, targets=[self._target_view(i) for i in range(len(self.targets))]
            )
        )

    def _target_view(self, index: int) -> dict[str, Any]:
        """What the page shows of one target: its label, its damaged review lines and its
        items, each with the latest decision on it and its preview's URL (relative)."""
        t = self.targets[index]
        review = reviewmod.load(t.result)
        shown = []
        for it in items(read_alignment(t.result)):
            d = review.latest.get(it["file"])
            shown.append(
                {
                    "file": it["file"],
                    "kind": it["kind"],
                    "status": it["status"],
                    "decision": d.decision if d else "",
                    "said": f"{d.decision}ed: {d.reason}" if d else "",
                    "preview": f"preview.png?target={index}&file={quote(it['file'])}",
                }
            )
        return {"index": index, "label": t.label, "damaged": list(review.damaged), "rows": shown}
