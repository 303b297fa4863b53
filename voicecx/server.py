"""Live-desk server (DESIGN §3.4): WebSocket audio in, alerts out, dashboard at ``/``.

Routes
- ``/v1/calls/{call_id}`` (WebSocket): one live call. Start message, int16 frames, stop; the server
  answers with alert and state messages (protocol in :class:`voicecx.stream.CallSession`).
- ``/v1/alerts`` (WebSocket): dashboards; a snapshot of live calls and recent alerts, then every
  alert, state and call start/end as it happens.
- ``/healthz``: liveness and load; ``/``: the dashboard page (plain HTML/JS, no CDN).

Reliability rules (DESIGN §6): every socket needs the token (``Authorization: Bearer`` or
``?token=`` for browsers), compared in constant time (``hmac.compare_digest``); every queue is
bounded; a broken, oversized, idle or too-slow call is closed alone with a reason in the close
frame; a second connection for a live call id is refused; a disconnect frees the call's state at
once; no path from a request reaches the file system.

Close codes: 1000 normal (after stop), 1008 bad token (before accept: HTTP 403), 1009 frame too
big, 1013 server full, 4400 protocol error, 4408 idle timeout, 4409 duplicate call id, 4429 client
not reading its messages.
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from voicecx.config import Config
from voicecx.stream import CallSession, LiveAsr, ProtocolError

log = logging.getLogger("voicecx.server")

CALL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
DASHBOARD = Path(__file__).resolve().parent / "templates" / "dashboard.html"


class CloseCall(Exception):
    """Close one call's socket with ``code`` and a one-line ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass
class _Call:
    call_id: str
    session: CallSession
    out: asyncio.Queue
    started_wall: float = field(default_factory=time.time)
    last_state: dict[str, Any] | None = None


class Hub:
    """Live calls, dashboard subscribers and the recent-alert ring of one server."""

    def __init__(self, config: Config, token: str | None, asr: LiveAsr | None = None) -> None:
        self.config, self.live = config, config.live
        self._token = token.encode() if token else None
        self.asr = asr
        self.calls: dict[str, _Call] = {}
        self.subscribers: set[asyncio.Queue] = set()
        self.recent: deque[dict[str, Any]] = deque(maxlen=self.live.recent_alerts)
        self.closed_reasons: deque[tuple[str, int, str]] = deque(maxlen=100)  # for /healthz and tests

    # ------------------------------------------------------------------ auth

    def authorised(self, ws: WebSocket) -> bool:
        if self._token is None:
            return True
        given = ws.query_params.get("token")
        header = ws.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            given = header[7:].strip()
        if not given:
            return False
        return hmac.compare_digest(given.encode(), self._token)

    # ------------------------------------------------------------------ fan-out

    def publish(self, msg: dict[str, Any]) -> None:
        """To every dashboard; one that cannot keep up is dropped, never waited for."""
        if msg.get("type") == "alert":
            self.recent.append(msg)
        for q in list(self.subscribers):
            try:
                q.put_nowait(msg)
            except asyncio.QueueFull:
                self.subscribers.discard(q)
                with contextlib.suppress(asyncio.QueueFull):
                    q.put_nowait(None)  # never fits when full: the sender notices its removal instead
                log.warning("dashboard subscriber too slow: dropped")

    def snapshot(self) -> dict[str, Any]:
        calls = [c.last_state or {"type": "state", "call_id": c.call_id, "t": 0.0} for c in self.calls.values()]
        return {"type": "snapshot", "calls": calls, "alerts": list(self.recent)}


def _send_nowait(call: _Call, msg: dict[str, Any]) -> None:
    """Queue a message for the call's client; state is dropped when full, alerts close the call."""
    try:
        call.out.put_nowait(msg)
    except asyncio.QueueFull:
        if msg.get("type") == "state":
            return
        raise CloseCall(4429, "client not reading its messages (send queue full)") from None


async def _sender(ws: WebSocket, q: asyncio.Queue) -> None:
    while True:
        msg = await q.get()
        if msg is None:
            return
        await ws.send_text(json.dumps(msg))


async def call_socket(ws: WebSocket) -> None:
    hub: Hub = ws.app.state.hub
    live = hub.live
    call_id = ws.path_params["call_id"]
    if not hub.authorised(ws):
        await ws.close(code=1008)  # before accept: the client gets HTTP 403
        return
    await ws.accept()
    if not CALL_ID.match(call_id):
        await _refuse(ws, 4400, "call id must be 1-64 of A-Z a-z 0-9 _ . : -")
        return
    if call_id in hub.calls:
        await _refuse(ws, 4409, f"call {call_id} is already live")
        return
    if len(hub.calls) >= live.max_calls:
        await _refuse(ws, 1013, f"server full ({live.max_calls} calls)")
        return
    call = _Call(call_id, CallSession(call_id, hub.config, asr=hub.asr), asyncio.Queue(live.out_queue))
    hub.calls[call_id] = call  # no await between the check and this line: ids stay unique
    sender = asyncio.create_task(_sender(ws, call.out))
    code, reason = 1000, "call ended"
    try:
        await _call_loop(ws, hub, call, sender)
    except CloseCall as exc:
        code, reason = exc.code, exc.reason
    except WebSocketDisconnect:
        code, reason = 1001, "client disconnected"
    except Exception as exc:  # noqa: BLE001 - one call's failure never reaches another
        log.exception("call %s failed", call_id)
        code, reason = 1011, f"internal error: {type(exc).__name__}"
    finally:
        hub.calls.pop(call_id, None)
        if hub.asr is not None:
            hub.asr.forget(call_id)
        hub.closed_reasons.append((call_id, code, reason))
        hub.publish({"type": "call_end", "call_id": call_id, "code": code, "reason": reason})
        if code == 1000:  # flush what the client is owed (final alerts and state), within the idle timeout
            with contextlib.suppress(asyncio.QueueFull):
                call.out.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sender, live.idle_timeout_s)
        sender.cancel()
        with contextlib.suppress(BaseException):
            await sender
        with contextlib.suppress(Exception):
            await ws.close(code=code, reason=reason[:120])


async def _refuse(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await ws.send_text(json.dumps({"type": "error", "reason": reason}))
        await ws.close(code=code, reason=reason[:120])


async def _call_loop(ws: WebSocket, hub: Hub, call: _Call, sender: asyncio.Task) -> None:
    live = hub.live
    session = call.session
    while True:
        try:
            msg = await asyncio.wait_for(ws.receive(), live.idle_timeout_s)
        except asyncio.TimeoutError:
            raise CloseCall(4408, f"idle for {live.idle_timeout_s:g} s") from None
        if sender.done():
            raise CloseCall(1001, "client gone")
        if msg["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(msg.get("code", 1000))
        try:
            if msg.get("bytes") is not None:
                data = msg["bytes"]
                if len(data) > live.max_frame_bytes:
                    raise CloseCall(1009, f"frame of {len(data)} bytes exceeds {live.max_frame_bytes}")
                replies = session.on_binary(data)
            elif msg.get("text") is not None:
                text = msg["text"]
                if len(text) > 4096:
                    raise CloseCall(1009, "text message too long")
                was_started = session.analyser is not None
                replies = session.on_text(text)
                if not was_started and session.analyser is not None:
                    hub.publish({"type": "call_start", "call_id": call.call_id,
                                 "roles": list(session.analyser.roles)})
            else:
                raise ProtocolError("empty message")
        except ProtocolError as exc:
            raise CloseCall(4400, str(exc)) from None
        for reply in replies:
            _send_nowait(call, reply)
            if reply["type"] == "alert":
                hub.publish(reply)
            elif reply["type"] == "state":
                call.last_state = reply
                hub.publish(reply)
        if session.stopped:
            return


async def alerts_socket(ws: WebSocket) -> None:
    hub: Hub = ws.app.state.hub
    if not hub.authorised(ws):
        await ws.close(code=1008)
        return
    await ws.accept()
    if len(hub.subscribers) >= hub.live.max_subscribers:
        await _refuse(ws, 1013, f"too many dashboards ({hub.live.max_subscribers})")
        return
    q: asyncio.Queue = asyncio.Queue(hub.live.subscriber_queue)
    q.put_nowait(hub.snapshot())
    hub.subscribers.add(q)

    async def reader() -> None:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return

    async def writer() -> None:
        while q in hub.subscribers or not q.empty():
            try:
                msg = await asyncio.wait_for(q.get(), 1.0)
            except asyncio.TimeoutError:
                continue
            if msg is None:
                return
            await ws.send_text(json.dumps(msg))

    tasks = [asyncio.create_task(reader()), asyncio.create_task(writer())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.subscribers.discard(q)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        with contextlib.suppress(Exception):
            await ws.close(code=1000)


async def healthz(request: Request) -> JSONResponse:
    hub: Hub = request.app.state.hub
    body: dict[str, Any] = {"status": "ok", "calls": len(hub.calls), "dashboards": len(hub.subscribers)}
    if hub.asr is not None:
        body["asr"] = {"transcribed": hub.asr.done, "shed": hub.asr.shed, "queued": hub.asr.q.qsize()}
    return JSONResponse(body)


def create_app(token: str | None, config: Config | None = None, asr: LiveAsr | None = None) -> Starlette:
    """The ASGI app. ``token=None`` disables auth (only for ``--insecure-dev``)."""
    cfg = config or Config()
    page = DASHBOARD.read_text(encoding="utf-8")  # read once: requests never touch the file system

    async def dashboard(request: Request) -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store",
                                           "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; "
                                                                      "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        if asr is not None:
            asr.close()

    app = Starlette(routes=[
        Route("/", dashboard),
        Route("/healthz", healthz),
        WebSocketRoute("/v1/calls/{call_id}", call_socket),
        WebSocketRoute("/v1/alerts", alerts_socket),
    ], lifespan=lifespan)
    app.state.hub = Hub(cfg, token, asr)
    return app


def read_token(token_file: str | None) -> str | None:
    """Token from the file (first line), else env VOICECX_TOKEN; None when neither is set."""
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"serve: cannot read token file {token_file}: {exc.strerror}") from None
        if not token:
            raise ValueError(f"serve: token file {token_file} is empty")
        return token
    return os.environ.get("VOICECX_TOKEN") or None


def cli_serve(args: Any) -> int:
    """``voicecx serve``: refuses to start without a token unless --insecure-dev on a loopback host."""
    import uvicorn

    from voicecx.config import load_config
    from voicecx.stream import whisper_transcriber

    token = read_token(getattr(args, "token_file", None))
    if token is None:
        if not getattr(args, "insecure_dev", False):
            raise ValueError("serve: no token: pass --token-file F or set VOICECX_TOKEN "
                             "(--insecure-dev runs without one on 127.0.0.1 only)")
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("serve: --insecure-dev only binds a loopback host")
        log.warning("insecure-dev: no token, anyone on this machine can connect")
    if len(token or "x" * 16) < 16:
        raise ValueError("serve: token too short (use at least 16 characters)")
    cfg = load_config(getattr(args, "config", None))
    asr = LiveAsr(whisper_transcriber(), cfg.live.asr_queue) if getattr(args, "asr", False) else None
    app = create_app(token, cfg, asr)
    uvicorn.run(app, host=args.host, port=args.port, ws="websockets-sansio", ws_max_size=max(cfg.live.max_frame_bytes * 2, 65536),
                ws_max_queue=8, timeout_graceful_shutdown=5, log_level="warning")
    return 0
