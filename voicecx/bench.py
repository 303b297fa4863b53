"""`voicecx bench`: kernel throughput per backend, as times faster than real time (x RT).

For each backend asked for (cpu, cuda) and each workload (one call of ``--seconds``; a batch of
``--calls`` such calls through the ``*_batch`` kernels, one launch), times pitch (YIN), energy,
spectral shape, VAD, pitch+energy, and the whole prosody set (all four). x RT = seconds of audio /
wall seconds, everything included (input checks, layout, host->device copies, results back). For
CUDA the phase split of each call (host staging, host->device, compute, device->host) is reported
too, and compilation (``warmup()``) is timed apart, never inside a measurement.

Audio: the demo calls (samples/calls/*.wav), both legs, resampled to 16 kHz and tiled; every call
of the batch starts at a different offset and has its own gain, so no two calls are identical.
"""
from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

SR = 16000
HOP = 160  # 10 ms, the pipeline's grid (Config.pitch.hop_ms)
FRAME = 400  # 25 ms (Config.frames.frame_ms)
FMIN, FMAX = 50.0, 500.0
KERNELS = ("pitch", "energy", "spectral", "vad", "pitch+energy", "prosody")
CALLS_DIR = Path(__file__).resolve().parent.parent / "samples" / "calls"


@dataclass
class Row:
    """One measurement: a kernel on a workload with one backend."""

    backend: str
    workload: str  # "1 call" | "batch"
    kernel: str
    audio_s: float
    wall_s: float
    xrt: float
    host_s: float | None = None  # CUDA only: phase split of wall_s
    h2d_s: float | None = None
    compute_s: float | None = None
    d2h_s: float | None = None
    note: str = ""


@dataclass
class BackendInfo:
    name: str
    available: bool
    reason: str = ""
    warmup_s: float | None = None
    device: str = ""


@dataclass
class BenchResult:
    seconds: float
    calls: int
    sample_rate: int = SR
    backends: list[BackendInfo] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "voicecx.bench/1",
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpu_count": os.cpu_count()},
            "workloads": {"1 call": {"calls": 1, "seconds": self.seconds},
                          "batch": {"calls": self.calls, "seconds_each": self.seconds}},
            "params": {"sample_rate": SR, "hop": HOP, "frame": FRAME, "fmin": FMIN, "fmax": FMAX},
            "backends": [asdict(b) for b in self.backends],
            "results": [asdict(r) for r in self.rows],
            "speedup_cuda_over_cpu": self.speedups(),
        }

    def speedups(self) -> dict[str, float]:
        """CUDA x RT / CPU x RT per workload and kernel, where both ran."""
        by = {(r.backend, r.workload, r.kernel): r.xrt for r in self.rows}
        return {f"{w}/{k}": by[("cuda", w, k)] / by[("cpu", w, k)]
                for (b, w, k) in by if b == "cuda" and ("cpu", w, k) in by}


# ----------------------------------------------------------------------------- audio


def demo_pool() -> np.ndarray:
    """All legs of the demo calls at 16 kHz, end to end (float32): ~7 minutes of real speech."""
    from voicecx.audio import load

    legs = []
    for wav in sorted(CALLS_DIR.glob("*.wav")):
        call = load(wav).at_rate(SR)
        legs += [np.asarray(call.leg(i), dtype=np.float32) for i in range(call.channels)]
    if not legs:
        raise FileNotFoundError(f"bench: no demo calls in {CALLS_DIR} (run samples/make_samples.py)")
    return np.concatenate(legs)


def make_calls(pool: np.ndarray, seconds: float, calls: int) -> list[np.ndarray]:
    """``calls`` signals of ``seconds`` each, tiled from ``pool`` with per-call offset and gain."""
    n = max(1, int(round(seconds * SR)))
    rng = np.random.default_rng(2024)
    out = []
    for _ in range(calls):
        start = int(rng.integers(0, len(pool)))
        idx = (start + np.arange(n)) % len(pool)
        out.append((pool[idx] * np.float32(rng.uniform(0.5, 1.5))).astype(np.float32))
    return out


# ----------------------------------------------------------------------------- measuring


def _cuda_split(module: Any) -> dict[str, float]:
    t = getattr(module, "last_timings", lambda: None)()
    if t is None:
        return {}
    return {"host_s": t.host_s, "h2d_s": t.h2d_s, "compute_s": t.compute_s, "d2h_s": t.d2h_s}


def _measure(fn: Callable[[], Any], module: Any, is_cuda: bool, repeats: int) -> tuple[float, dict[str, float]]:
    """Best wall time of ``repeats`` runs, with the CUDA phase split of that best run."""
    best, split = math.inf, {}
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        wall = time.perf_counter() - t
        if wall < best:
            best, split = wall, (_cuda_split(module) if is_cuda else {})
    return best, split


def _add(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: a.get(k, 0.0) + b.get(k, 0.0) for k in set(a) | set(b)}


def bench_backend(backend: Any, sigs: list[np.ndarray], workload: str, repeats: int) -> list[Row]:
    """Every kernel of ``backend`` on ``sigs`` (one batch call each)."""
    is_cuda = backend.name == "cuda"
    mod = backend.module
    audio_s = sum(len(s) for s in sigs) / SR
    runs = {
        "pitch": lambda: backend.pitch_yin_batch(sigs, SR, HOP, FMIN, FMAX),
        "energy": lambda: backend.energy_batch(sigs, FRAME, HOP),
        "spectral": lambda: backend.spectral_batch(sigs, SR, FRAME, HOP),
        "vad": lambda: backend.vad_batch(sigs, SR, HOP, FRAME),
    }
    rows, walls, splits = [], {}, {}
    for kernel, fn in runs.items():
        walls[kernel], splits[kernel] = _measure(fn, mod, is_cuda, repeats)
    combos = {"pitch+energy": ("pitch", "energy"), "prosody": ("pitch", "energy", "spectral", "vad")}
    for kernel, parts in combos.items():
        walls[kernel] = sum(walls[p] for p in parts)
        splits[kernel] = {}
        for p in parts:
            splits[kernel] = _add(splits[kernel], splits[p])
    notes = {k: "sum of the separate calls" for k in combos}
    fused = getattr(mod, "prosody_batch", None)
    if is_cuda and fused is not None:  # one upload for all four kernels
        walls["prosody"], splits["prosody"] = _measure(lambda: fused(sigs, SR, HOP, FRAME, FMIN, FMAX), mod,
                                                       is_cuda, repeats)
        notes["prosody"] = "fused: one upload, all kernels (cuda.prosody_batch)"
    for kernel in KERNELS:
        wall = walls[kernel]
        rows.append(Row(backend.name, workload, kernel, audio_s, wall, audio_s / wall if wall > 0 else math.inf,
                        note=notes.get(kernel, ""), **splits[kernel]))
    return rows


def run_bench(devices: list[str], seconds: float, calls: int,
              log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> BenchResult:
    from voicecx.kernels import BackendUnavailable, get_backend

    result = BenchResult(seconds=seconds, calls=calls)
    pool = demo_pool()
    one = make_calls(pool, seconds, 1)
    batch = make_calls(pool, seconds, calls)
    for name in devices:
        try:
            backend = get_backend(name)
        except BackendUnavailable as exc:
            result.backends.append(BackendInfo(name, False, reason=str(exc)))
            continue
        info = BackendInfo(name, True)
        if name == "cuda":
            info.device = backend.module.available()[1]
        log(f"bench: {name}: compiling kernels ...")
        info.warmup_s = backend.warmup()
        result.backends.append(info)
        for workload, sigs in (("1 call", one), ("batch", batch)):
            audio = sum(len(s) for s in sigs) / SR
            repeats = 3 if audio <= 600 else 1
            log(f"bench: {name}: {workload} ({len(sigs)} x {seconds:g} s) ...")
            result.rows += bench_backend(backend, sigs, workload, repeats)
    return result


# ----------------------------------------------------------------------------- output


def _fmt(v: float | None, digits: int = 3) -> str:
    return "" if v is None else f"{v * 1000:.{digits}g} ms" if v < 1 else f"{v:.2f} s"


def print_table(result: BenchResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)
    for b in result.backends:
        if b.available:
            console.print(f"[bold]{b.name}[/]: warm-up (JIT compile) {b.warmup_s:.2f} s {b.device}")
        else:
            console.print(f"[bold]{b.name}[/]: unavailable: {b.reason}")
    table = Table(title=f"kernel throughput (x real time; 1 call = {result.seconds:g} s, "
                        f"batch = {result.calls} x {result.seconds:g} s, 16 kHz)")
    for col in ("backend", "workload", "kernel", "audio", "wall", "x RT", "host", "h->d", "compute", "d->h"):
        table.add_column(col, justify="left" if col in ("backend", "workload", "kernel") else "right")
    for r in result.rows:
        table.add_row(r.backend, r.workload, r.kernel, f"{r.audio_s:g} s", _fmt(r.wall_s), f"{r.xrt:,.0f}",
                      _fmt(r.host_s), _fmt(r.h2d_s), _fmt(r.compute_s), _fmt(r.d2h_s))
    if result.rows:
        console.print(table)
    for key, ratio in result.speedups().items():
        console.print(f"cuda / cpu {key}: {ratio:,.1f}x")


def cli_bench(args: Any) -> int:
    """Entry point of `voicecx bench` (args: device, seconds, calls, json_out)."""
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if not (args.seconds > 0 and math.isfinite(args.seconds)):
        print(f"voicecx: bench: --seconds must be a positive number, got {args.seconds}", file=sys.stderr)
        return 2
    if args.calls < 1:
        print(f"voicecx: bench: --calls must be >= 1, got {args.calls}", file=sys.stderr)
        return 2
    result = run_bench(devices, float(args.seconds), int(args.calls))
    print_table(result)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return 0 if any(b.available for b in result.backends) else 1
