"""The panel's web application (FastAPI): the page, a JSON API and a stream of snapshots.

Routes:

* ``GET /``                      the page (``static/index.html``), its script and style;
* ``GET /api/state``             the shift's snapshot (:meth:`~.shift.Shift.snapshot`);
* ``GET /api/events``            server-sent events: a snapshot at once, then one per change
                                 (``id`` = version; a reconnecting page gets the current one);
* ``POST /api/shift``            ``{"operator": ID}`` starts (or hands over) the shift;
* ``POST /api/scan``             ``{"serial": SN, "request_id": R}`` → the slot, or why not;
* ``POST /api/slots/N/abort``    stop the unit on slot N (recorded ``aborted``);
* ``POST /api/slots/N/answer``   ``{"prompt_id": P, "answer": A}`` for the open prompt;
* ``GET /api/slots/N/image``     the open prompt's picture.

Guards: a ``Host`` header naming the address served (no DNS rebinding) unless bound to every
interface; with a token, every request carries it (cookie set by ``/?token=...``, or
``Authorization: Bearer``); every POST carries ``X-Harness-Panel: 1``, which a page of another
site cannot send without a CORS preflight that is never granted. The page writes every text
with ``textContent`` (a serial number or an answer can hold anything) and the
Content-Security-Policy allows scripts from the panel only.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles

from .line import PanelLine, Refused

COOKIE = "harness_panel"
CSRF_HEADER = "x-harness-panel"
KEEPALIVE = 15.0  # s between comments on a quiet event stream (proxies close idle ones)
WAIT = 1.0  # s an event stream waits for a change before it looks whether its page is gone
IMAGES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
          ".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml"}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def static_dir() -> Path:
    return Path(str(resources.files(__package__) / "static"))


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"ok": False, "reason": reason}, status_code=status)


class _Guard:
    """ASGI middleware: the guards of the module's doc, and the security headers."""

    def __init__(self, app, *, token: str | None, hosts: set[str] | None) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        refused = self._check(request)
        if refused is not None:
            return await refused(scope, receive, send)

        async def secured(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode("latin-1").lower() not in _LOWER]
                headers += [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, secured)

    def _check(self, request: Request) -> Response | None:
        host = request.headers.get("host", "")
        if self.hosts is not None and host.rsplit(":", 1)[0].strip("[]") not in self.hosts:
            return _error(421, "this panel does not answer to that host name")
        if self.token is not None:
            given = request.query_params.get("token")
            if request.url.path == "/" and given is not None:
                if not secrets.compare_digest(given.encode(), self.token.encode()):
                    return _error(401, "wrong token")
                resp = RedirectResponse("/", status_code=303)
                resp.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
                return resp
            bearer = request.headers.get("authorization", "")
            carried = request.cookies.get(COOKIE) or (
                bearer[7:] if bearer.lower().startswith("bearer ") else "")
            if not secrets.compare_digest(carried.encode(), self.token.encode()):
                return _error(401, "this panel needs its token: open the URL the station "
                                   "printed (.../?token=...)")
        if request.method not in ("GET", "HEAD") and request.headers.get(CSRF_HEADER) != "1":
            return _error(403, f"a change needs the header {CSRF_HEADER}: 1")
        return None


_LOWER = {k.lower() for k in HEADERS}


async def _body(request: Request) -> dict:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise Refused("the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused("the body is not a JSON object")
    return data


def make_app(line: PanelLine, *, token: str | None = None,
             hosts: set[str] | None = None) -> FastAPI:
    """The application for ``line``. ``hosts``: the host names it answers to (None: any);
    ``token``: required of every request when set."""
    # one thread per open event stream, at most while a change is awaited (WAIT s)
    waiters = ThreadPoolExecutor(max_workers=64, thread_name_prefix="panel-events")
    app = FastAPI(title="harness station panel", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.add_middleware(_Guard, token=token, hosts=hosts)
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")

    @app.exception_handler(Refused)
    async def _refused(_request: Request, exc: Refused):
        return _error(400, str(exc))

    @app.exception_handler(LookupError)
    async def _missing(_request: Request, exc: LookupError):
        return _error(404, str(exc.args[0] if exc.args else exc))

    @app.get("/")
    async def page():
        return FileResponse(static_dir() / "index.html", media_type="text/html")

    @app.get("/api/state")
    async def state():
        return line.shift.snapshot()

    @app.get("/api/events")
    async def events(request: Request):
        async def stream():
            seen, quiet = -1, 0.0
            loop = asyncio.get_running_loop()
            yield "retry: 1000\n\n"  # reconnect within a second after a drop
            while not await request.is_disconnected():
                # the shift's own change signal, waited for in a thread of the panel's pool
                version = await loop.run_in_executor(waiters, line.shift.wait, seen, WAIT)
                if version == seen:
                    quiet += WAIT
                    if quiet >= KEEPALIVE:
                        yield ": keepalive\n\n"
                        quiet = 0.0
                    continue
                snap = line.shift.snapshot()
                seen, quiet = snap["version"], 0.0
                yield f"id: {seen}\nevent: snapshot\ndata: {json.dumps(snap)}\n\n"
                if snap["closed"]:
                    return

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    @app.post("/api/shift")
    async def shift(request: Request):
        data = await _body(request)
        line.begin_shift(str(data.get("operator", "")))
        return {"ok": True, "operator": line.shift.operator}

    @app.post("/api/scan")
    async def scan(request: Request):
        data = await _body(request)
        answer = line.scan(str(data.get("serial", "")), str(data.get("request_id", "")))
        return JSONResponse(answer, status_code=200 if answer["ok"] else 409)

    @app.post("/api/slots/{slot}/abort")
    async def abort(slot: int):
        return {"ok": line.abort(slot)}

    @app.post("/api/slots/{slot}/answer")
    async def answer(slot: int, request: Request):
        data = await _body(request)
        try:
            value = line.answer(slot, str(data.get("prompt_id", "")), data.get("answer"))
        except FileExistsError as exc:
            return _error(409, str(exc))
        return {"ok": True, "answer": value}

    @app.get("/api/slots/{slot}/image")
    async def image(slot: int):
        path = line.prompt_image(slot)
        kind = IMAGES.get(path.suffix.lower()) if path else None
        if path is None or kind is None or not path.is_file():
            return _error(404, f"slot {slot}: no picture with its prompt")
        return FileResponse(path, media_type=kind)

    return app
