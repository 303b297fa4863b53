"""Live-desk load test: N concurrent calls streamed at real time over loopback to `voicecx serve`.

For each N it starts a fresh server process, opens N call sockets (starts staggered over one
second), sends 20 ms int16 chunks on the real-time clock (chunk i leaves when its audio has "been
spoken", at t0 + (i+1) * 20 ms) and records every alert's arrival. Reports:

- alert latency p50/p95/max: arrival wall time - (call's t0 + the alert's ``t``, the audio moment
  its condition became true) - what a supervisor experiences, VAD confirmation and network included;
- server CPU: the server process's user+system seconds per wall second (1.0 = one core);
- send lag p95: how late the load generator itself sent chunks (if large, the client, not the
  server, is the bottleneck and the run does not count);
- alerts received vs expected (the replay of the same audio; a shortfall means dropped work).

    .venv/bin/python benchmarks/bench_live.py --calls 10 25 50 --seconds 30 --json bench_live.json

Bounded: at most 200 calls and 120 s of audio per call. Never part of the test run.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voicecx.stream import pcm16_chunks, replay  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
CHUNK_MS = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(port: int, asr: bool) -> subprocess.Popen:
    env = dict(os.environ, VOICECX_TOKEN=TOKEN)
    cmd = [sys.executable, "-m", "voicecx.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if asr:
        cmd.append("--asr")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


async def one_call(port: int, call_id: str, sr: int, ch: int, chunks: list[bytes], delay: float,
                   out: dict) -> None:
    from websockets.asyncio.client import connect

    await asyncio.sleep(delay)
    lags: list[float] = []
    alerts: list[tuple[dict, float]] = []
    async with connect(f"ws://127.0.0.1:{port}/v1/calls/{call_id}",
                       additional_headers={"Authorization": f"Bearer {TOKEN}"}, max_size=1 << 20) as ws:
        await ws.send(json.dumps({"type": "start", "sample_rate": sr, "channels": ch, "roles": ["agent", "customer"]}))

        async def reader() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") == "alert":
                    alerts.append((msg, time.time()))

        task = asyncio.create_task(reader())
        t0 = time.time()
        for i, c in enumerate(chunks):
            due = t0 + (i + 1) * CHUNK_MS / 1000
            wait = due - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            lags.append(max(0.0, time.time() - due))
            await ws.send(c)
        await ws.send(json.dumps({"type": "stop"}))
        try:
            await asyncio.wait_for(task, 30)
        except asyncio.TimeoutError:
            task.cancel()
    out[call_id] = {"t0": t0, "alerts": alerts, "lags": lags}


async def run_load(port: int, n: int, sr: int, ch: int, chunks: list[bytes]) -> dict:
    out: dict = {}
    rng = random.Random(n)
    await asyncio.gather(*(one_call(port, f"bench-{n}-{i}", sr, ch, chunks, rng.random(), out) for i in range(n)))
    return out


def measure(n: int, wav: Path, seconds: float, asr: bool, expected: list[dict]) -> dict:
    sr, ch, gen = pcm16_chunks(str(wav), CHUNK_MS)
    chunks = list(gen)[: int(seconds * 1000 / CHUNK_MS)]
    port = free_port()
    proc = start_server(port, asr)
    try:
        c0, w0 = cpu_seconds(proc.pid), time.time()
        res = asyncio.run(run_load(port, n, sr, ch, chunks))
        cpu = (cpu_seconds(proc.pid) - c0) / (time.time() - w0)
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read())
    finally:
        proc.terminate()
        proc.wait(10)
    lat = [arr - (r["t0"] + a["t"]) for r in res.values() for a, arr in r["alerts"]
           if a["kind"] in ("overtalk", "agent_interrupts", "dead_air")]
    lags = [x for r in res.values() for x in r["lags"]]
    got = sum(len(r["alerts"]) for r in res.values())
    return {
        "calls": n, "audio_s": len(chunks) * CHUNK_MS / 1000, "live_asr": asr,
        "latency_p50_ms": round(1000 * float(np.percentile(lat, 50)), 1) if lat else None,
        "latency_p95_ms": round(1000 * float(np.percentile(lat, 95)), 1) if lat else None,
        "latency_max_ms": round(1000 * float(np.max(lat)), 1) if lat else None,
        "acoustic_alerts": len(lat),
        "alerts_received": got, "alerts_expected": len(expected) * n,
        "server_cpu_cores": round(cpu, 3), "cpu_per_call_pct": round(100 * cpu / n, 2),
        "send_lag_p95_ms": round(1000 * float(np.percentile(lags, 95)), 1),
        "text_alerts": sum(1 for r in res.values() for a, _ in r["alerts"]
                           if a["kind"] in ("no_greeting", "angry_words_no_empathy")),
        "asr": health.get("asr"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, nargs="+", default=[10, 25, 50])
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds of audio per call (max 120)")
    ap.add_argument("--wav", default=str(ROOT / "samples" / "calls" / "en_cold.wav"))
    ap.add_argument("--asr", action="store_true", help="server with live ASR (tiny.en)")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()
    if not 0 < args.seconds <= 120 or not all(0 < n <= 200 for n in args.calls):
        ap.error("--seconds must be in (0, 120] and --calls in 1..200")
    # what one call should produce over the same stretch of audio (same code path, no network)
    expected = [m for m in replay(args.wav) if m["type"] == "alert" and m["t"] <= args.seconds - 0.3]
    rows = []
    for n in args.calls:
        row = measure(n, Path(args.wav), args.seconds, args.asr, expected)
        rows.append(row)
        print(json.dumps(row), flush=True)
    head = f"{'calls':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'alerts':>9} {'cpu cores':>9} {'%/call':>7} {'send lag p95':>12}"
    print("\n" + head)
    for r in rows:
        print(f"{r['calls']:>5} {r['latency_p50_ms']!s:>8} {r['latency_p95_ms']!s:>8} {r['latency_max_ms']!s:>8} "
              f"{r['alerts_received']:>4}/{r['alerts_expected']:<4} {r['server_cpu_cores']:>9} {r['cpu_per_call_pct']:>7} "
              f"{r['send_lag_p95_ms']:>12}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"machine_cpus": os.cpu_count(), "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
