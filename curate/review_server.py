"""``curate review``'s page: a local web server for rejecting and restoring frames.

The server listens on 127.0.0.1 only, on a free port, and answers only under an unguessable
token (``http://127.0.0.1:PORT/TOKEN/``) and only to a ``Host`` of 127.0.0.1 or localhost
(another site's page cannot reach it through DNS rebinding).  The page lists each session's
pairs and dropped frames with the report's previews (:meth:`curate.report._Frames.pair_tiles`),
and records decisions with :func:`curate.review.append`; they take effect at the next
``curate align`` / ``curate run``.

Keys: ``j``/``↓`` next, ``k``/``↑`` previous, ``x`` reject, ``u`` restore, ``/`` the reason.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from curate import review as reviewmod
from curate.errors import BadInput, CurateError
from curate.result import Alignment, Pair, read_alignment

__all__ = ["ReviewServer", "Target", "items"]

log = logging.getLogger(__name__)


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
    first = al.references[0] if static else None
    ratio = next((p.exposure_ratio for p in al.pairs if p.exposure_ratio), None)
    for d in al.dropped:
        pair = None
        if d.pass_ == "dark" and first is not None:
            pair = Pair(
                dark=d.file, bright=first.file, dy=first.dy, dx=first.dx, exposure_ratio=ratio
            )
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


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f4f4;color:#222}
header{position:sticky;top:0;background:#222;color:#eee;padding:8px 16px;z-index:2}
header input{width:40em} main{padding:8px 16px}
.item{display:flex;gap:12px;align-items:center;background:#fff;margin:6px 0;padding:6px;
border:2px solid transparent}
.item.sel{border-color:#1a73e8} .item img{height:120px;background:#333}
.status{min-width:18em} .decision{font-weight:bold} .reject .decision{color:#b00}
.restore .decision{color:#070} button{margin-right:4px}
"""

_JS = r"""
const token = document.body.dataset.token;
let items = Array.from(document.querySelectorAll('.item'));
let sel = 0;
function select(i) {
  if (!items.length) return;
  sel = Math.max(0, Math.min(items.length - 1, i));
  items.forEach((el, k) => el.classList.toggle('sel', k === sel));
  items[sel].scrollIntoView({block: 'nearest'});
}
async function decide(el, decision) {
  const reason = document.getElementById('reason').value;
  const body = JSON.stringify({target: +el.dataset.target, file: el.dataset.file,
                               decision: decision, reason: reason});
  const r = await fetch('/' + token + '/decide', {method: 'POST', body: body,
                        headers: {'Content-Type': 'application/json'}});
  const answer = await r.json();
  const out = el.querySelector('.decision');
  if (r.ok) {
    el.classList.remove('reject', 'restore'); el.classList.add(decision);
    out.textContent = decision + 'ed: ' + reason + ' (applied at the next curate align)';
  } else { out.textContent = 'not recorded: ' + answer.error; }
}
document.addEventListener('keydown', (e) => {
  if (e.target.tagName === 'INPUT') { if (e.key === 'Escape') e.target.blur(); return; }
  if (e.key === 'j' || e.key === 'ArrowDown') { select(sel + 1); e.preventDefault(); }
  else if (e.key === 'k' || e.key === 'ArrowUp') { select(sel - 1); e.preventDefault(); }
  else if (e.key === 'x') decide(items[sel], 'reject');
  else if (e.key === 'u') decide(items[sel], 'restore');
  else if (e.key === '/') { document.getElementById('reason').focus(); e.preventDefault(); }
});
items.forEach((el, k) => {
  el.addEventListener('click', () => select(k));
  el.querySelector('.rej').addEventListener('click', () => decide(el, 'reject'));
  el.querySelector('.res').addEventListener('click', () => decide(el, 'restore'));
});
select(0);
document.body.dataset.ready = '1';
"""


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
        if pair is None:  # a bright frame on its own
            lin, _ = frames.load(file.split("/", 1)[0], file.split("/", 1)[1])
            size = report._tile_size(lin.shape)
            tile = report._to_uint8(report._encode_preview(report._downscale(lin, size), 1.0))
            png = report._png(tile)
        else:
            region = item.get("region") or pair.motion_region
            tiles, _ = frames.pair_tiles(pair, region["box"] if region else None)
            png = report._png(report._pair_strip(tiles, ["dark", "bright", "dark - bright"]))
        frames.close()
        self._previews[key] = png
        return png

    def _page(self) -> str:
        e = html.escape
        rows = []
        for ti, t in enumerate(self.targets):
            al = read_alignment(t.result)
            review = reviewmod.load(t.result)
            rows.append(f"<h2>{e(t.label)}</h2>")
            for w in review.damaged:
                rows.append(f'<p class="warn">{e(w)}</p>')
            for it in items(al):
                d = review.latest.get(it["file"])
                cls = f"item {d.decision}" if d else "item"
                said = f"{d.decision}ed: {d.reason}" if d else ""
                src = e(f"preview.png?target={ti}&file={quote(it['file'])}")
                rows.append(
                    f'<div class="{cls}" data-target="{ti}" data-file="{e(it["file"])}">'
                    f'<img loading="lazy" alt="{e(it["file"])}" src="{src}">'
                    f'<div class="status"><b>{e(it["file"])}</b> ({it["kind"]})<br>'
                    f"{e(it['status'])}<br><span class=decision>{e(said)}</span></div>"
                    '<div><button class="rej">Reject (x)</button>'
                    '<button class="res">Restore (u)</button></div></div>'
                )
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>sublux review</title><style>{_CSS}</style></head>"
            f'<body data-token="{e(self.token)}"><header>Reason: <input id="reason" '
            'value="" placeholder="why (recorded with the decision)"> · keys: j/k move, '
            "x reject, u restore, / reason · decisions apply at the next curate align</header>"
            f"<main>{''.join(rows)}</main><script>{_JS}</script></body></html>"
        )
