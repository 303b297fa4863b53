"""Live-desk server over real sockets: a uvicorn server on a free loopback port, websockets clients."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from voicecx.config import Config, LiveConfig
from voicecx.server import create_app
from voicecx.stream import pcm16_chunks

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Server:
    """uvicorn in a thread (the same server `voicecx serve` runs), stopped by the fixture."""

    def __init__(self, config: Config | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.app = create_app(TOKEN, config or Config())
        self.hub = self.app.state.hub
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    ws_max_size=1 << 20, ws="websockets-sansio", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.http = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def wait_calls(self, n: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.hub.calls) != n:
            assert time.monotonic() < deadline, f"{len(self.hub.calls)} calls live, expected {n}"
            time.sleep(0.02)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def make_server() -> Iterator:
    made: list[Server] = []

    def make(**live: object) -> Server:
        s = Server(Config().replace(live=LiveConfig(**live)))
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def start_msg(sr: int = 8000, channels: int = 2) -> str:
    return json.dumps({"type": "start", "sample_rate": sr, "channels": channels, "roles": ["agent", "customer"]})


def read_all(ws) -> tuple[list[dict], int, str]:
    """Messages until the server closes: (messages, close code, reason)."""
    msgs = []
    try:
        while True:
            msgs.append(json.loads(ws.recv(timeout=30)))
    except ConnectionClosed as exc:
        return msgs, exc.rcvd.code if exc.rcvd else -1, exc.rcvd.reason if exc.rcvd else ""


def stream_call(srv: Server, call_id: str, wav: Path, chunk_ms: float = 100.0) -> tuple[list[dict], int, str]:
    sr, ch, chunks = pcm16_chunks(str(wav), chunk_ms)
    with connect(f"{srv.ws}/v1/calls/{call_id}", additional_headers=AUTH) as ws:
        ws.send(start_msg(sr, ch))
        for c in chunks:
            ws.send(c)
        ws.send(json.dumps({"type": "stop"}))
        return read_all(ws)


def kinds(msgs: list[dict]) -> list[str]:
    return [m["kind"] for m in msgs if m["type"] == "alert"]


# ----------------------------------------------------------------------------- basics

def test_health_and_dashboard_page_need_no_cdn(server: Server) -> None:
    health = json.loads(urllib.request.urlopen(f"{server.http}/healthz", timeout=5).read())
    assert health["status"] == "ok" and health["calls"] == 0
    page = urllib.request.urlopen(f"{server.http}/", timeout=5).read().decode()
    assert "voicecx live desk" in page and "/v1/alerts" in page
    assert "http://" not in page and "https://" not in page  # no CDN, no external assets


def test_full_call_gets_alerts_state_and_a_normal_close(server: Server, calls_dir: Path) -> None:
    msgs, code, reason = stream_call(server, "cold-1", calls_dir / "en_cold.wav")
    assert code == 1000, reason
    assert msgs[0]["type"] == "started"
    assert kinds(msgs).count("agent_interrupts") == 2 and "dead_air" in kinds(msgs)
    assert all(m["call_id"] == "cold-1" for m in msgs if m["type"] in ("alert", "state"))
    assert msgs[-1]["type"] == "state" and msgs[-1]["final"]
    server.wait_calls(0)


# ----------------------------------------------------------------------------- auth

@pytest.mark.parametrize("headers, query", [({}, ""), ({"Authorization": "Bearer wrong-token-0123456789ab"}, ""),
                                            ({}, "?token=wrong"), ({"Authorization": "Basic " + TOKEN}, "")])
def test_missing_or_wrong_token_is_rejected(server: Server, headers: dict, query: str) -> None:
    for path in ("/v1/calls/x", "/v1/alerts"):
        with pytest.raises(InvalidStatus) as exc:
            connect(f"{server.ws}{path}{query}", additional_headers=headers, open_timeout=5)
        assert exc.value.response.status_code == 403
    assert len(server.hub.calls) == 0


def test_token_in_query_is_accepted_for_browsers(server: Server) -> None:
    with connect(f"{server.ws}/v1/alerts?token={TOKEN}") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"


def test_serve_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "VOICECX_TOKEN"}
    out = subprocess.run([sys.executable, "-m", "voicecx.cli", "serve", "--port", "1"], capture_output=True,
                         text=True, timeout=60, env=env, cwd=ROOT)
    assert out.returncode == 2 and "no token" in out.stderr
    empty = tmp_path / "token"
    empty.write_text("\n")
    out = subprocess.run([sys.executable, "-m", "voicecx.cli", "serve", "--token-file", str(empty)],
                         capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert out.returncode == 2 and "empty" in out.stderr


# ----------------------------------------------------------------------------- faults close only that call

def _bad_call(srv: Server, call_id: str, *messages: str | bytes) -> tuple[int, str]:
    with connect(f"{srv.ws}/v1/calls/{call_id}", additional_headers=AUTH) as ws:
        for m in messages:
            try:
                ws.send(m)
            except ConnectionClosed:
                break
        _, code, reason = read_all(ws)
    return code, reason


@pytest.mark.parametrize("messages, code, reason", [
    ([start_msg(), b"\x01\x02\x03"], 4400, "whole int16"),
    (["garbage{{"], 4400, "not JSON"),
    ([b"\x00\x00\x00\x00"], 4400, "before the start"),
    ([start_msg(sr=44100)], 4400, "sample_rate"),
    ([start_msg(channels=6)], 4400, "channels"),
    ([start_msg(), b"\x00" * 200_000], 1009, "exceeds"),
])
def test_bad_input_closes_only_that_call_with_a_reason(server: Server, calls_dir: Path, messages: list,
                                                       code: int, reason: str) -> None:
    results: dict = {}
    good = threading.Thread(target=lambda: results.update(good=stream_call(server, "good-call", calls_dir / "en_cold.wav", 20)))
    good.start()
    got_code, got_reason = _bad_call(server, "bad-call", *messages)
    good.join(60)
    assert got_code == code and reason in got_reason
    msgs, good_code, _ = results["good"]
    assert good_code == 1000 and kinds(msgs).count("agent_interrupts") == 2
    server.wait_calls(0)


def test_bad_call_id_is_refused(server: Server) -> None:
    code, reason = _bad_call(server, "a%20b%3Cscript%3E")
    assert code == 4400 and "call id" in reason


def test_second_connection_for_a_live_call_id_is_refused(server: Server, calls_dir: Path) -> None:
    sr, ch, chunks = pcm16_chunks(str(calls_dir / "en_cold.wav"), 100)
    with connect(f"{server.ws}/v1/calls/dup", additional_headers=AUTH) as first:
        first.send(start_msg(sr, ch))
        assert json.loads(first.recv(timeout=5))["type"] == "started"
        code, reason = _bad_call(server, "dup", start_msg())
        assert code == 4409 and "already live" in reason
        for c in chunks:  # the first connection is unaffected
            first.send(c)
        first.send(json.dumps({"type": "stop"}))
        msgs, code1, _ = read_all(first)
    assert code1 == 1000 and "dead_air" in kinds(msgs)


def test_disconnect_mid_call_frees_its_state(server: Server, calls_dir: Path) -> None:
    sr, ch, chunks = pcm16_chunks(str(calls_dir / "en_cold.wav"), 100)
    ws = connect(f"{server.ws}/v1/calls/drop", additional_headers=AUTH)
    ws.send(start_msg(sr, ch))
    for _, c in zip(range(100), chunks):
        ws.send(c)
    server.wait_calls(1)
    ws.socket.close()  # vanish without a close handshake
    server.wait_calls(0)
    assert server.hub.closed_reasons[-1][0] == "drop"
    msgs, code, _ = stream_call(server, "drop", calls_dir / "en_empathic.wav")  # the id is free again
    assert code == 1000


def test_slow_client_that_never_reads_does_not_hold_up_others(server: Server, calls_dir: Path) -> None:
    sr, ch, chunks = pcm16_chunks(str(calls_dir / "en_cold.wav"), 20)
    slow = connect(f"{server.ws}/v1/calls/slow", additional_headers=AUTH, max_queue=1, close_timeout=1)
    slow.send(start_msg(sr, ch))
    for c in chunks:  # never reads a message
        slow.send(c)
    msgs, code, _ = stream_call(server, "fast", calls_dir / "en_cold.wav")
    assert code == 1000 and kinds(msgs).count("agent_interrupts") == 2
    slow.close()
    server.wait_calls(0)


def test_idle_call_times_out(make_server) -> None:
    srv = make_server(idle_timeout_s=0.5)
    code, reason = _bad_call(srv, "idle", start_msg())
    assert code == 4408 and "idle" in reason
    srv.wait_calls(0)


def test_call_limit_refuses_extra_calls(make_server) -> None:
    srv = make_server(max_calls=1)
    with connect(f"{srv.ws}/v1/calls/one", additional_headers=AUTH) as ws:
        ws.send(start_msg())
        ws.recv(timeout=5)
        code, reason = _bad_call(srv, "two", start_msg())
        assert code == 1013 and "full" in reason


# ----------------------------------------------------------------------------- dashboards

def test_dashboard_socket_receives_call_start_alerts_and_end(server: Server, calls_dir: Path) -> None:
    with connect(f"{server.ws}/v1/alerts", additional_headers=AUTH) as dash:
        assert json.loads(dash.recv(timeout=5))["type"] == "snapshot"
        _, code, _ = stream_call(server, "watched", calls_dir / "en_cold.wav")
        assert code == 1000
        seen = []
        while not seen or seen[-1]["type"] != "call_end":
            seen.append(json.loads(dash.recv(timeout=10)))
    types = [m["type"] for m in seen]
    assert types[0] == "call_start" and "state" in types
    assert kinds(seen).count("agent_interrupts") == 2 and seen[-1]["code"] == 1000
    with connect(f"{server.ws}/v1/alerts", additional_headers=AUTH) as late:  # a late dashboard gets recent alerts
        snap = json.loads(late.recv(timeout=5))
    assert "agent_interrupts" in kinds(snap["alerts"])


def test_shutdown_closes_live_calls_and_stops(make_server) -> None:
    srv = make_server()
    ws = connect(f"{srv.ws}/v1/calls/live", additional_headers=AUTH)
    ws.send(start_msg())
    ws.recv(timeout=5)
    srv.server.should_exit = True
    _, code, _ = read_all(ws)
    srv.thread.join(10)
    assert not srv.thread.is_alive()
    assert code in (1001, 1012)  # going away / service restart
    assert srv.hub.calls == {}


def test_voicecx_serve_command_starts_with_a_token_and_serves_health(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "voicecx.cli", "serve", "--port", str(port), "--token-file",
                             str(token_file)], cwd=ROOT, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read())
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        assert health["status"] == "ok"
        with connect(f"ws://127.0.0.1:{port}/v1/alerts?token={TOKEN}") as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"
    finally:
        proc.terminate()
        code = proc.wait(10)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert code in (0, -15) and "Traceback" not in err  # uvicorn shuts down, then re-raises SIGTERM
