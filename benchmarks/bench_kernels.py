#!/usr/bin/env python3
"""CPU kernel throughput (DESIGN §5): times real time of pitch/energy/spectral/vad vs librosa.

Audio: the agent leg of ``samples/calls/en_empathic.wav`` resampled to ``--sr`` (16 kHz) and tiled
to ``--seconds`` (600). Frames: hop 10 ms, frame 25 ms, pitch range 50-500 Hz. Each kernel is timed
``--repeats`` times after the warm-up (compilation or on-disk cache load, reported on its own line)
and the best run is kept. librosa.yin runs on the same audio; librosa.pyin is far slower, so it
runs on the first ``--pyin-seconds`` and its time is scaled to the full length (said in the table).

    .venv/bin/python benchmarks/bench_kernels.py [--seconds 600] [--threads N] [--json out.json]

Timings are measurements for the notes, never test assertions. The machine's other load matters:
run it on an idle machine for figures you quote.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CALL = ROOT / "samples" / "calls" / "en_empathic.wav"
FMIN, FMAX = 50.0, 500.0


def demo_audio(seconds: float, sr: int) -> np.ndarray:
    from voicecx import audio

    leg = audio.load(CALL).at_rate(sr).leg(0)
    reps = int(np.ceil(seconds * sr / len(leg)))
    return np.ascontiguousarray(np.tile(leg, reps)[: int(seconds * sr)], dtype=np.float32)


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="audio length (default 600)")
    ap.add_argument("--sr", type=int, default=16000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pyin-seconds", type=float, default=10.0, help="slice given to librosa.pyin (scaled up)")
    ap.add_argument("--no-librosa", action="store_true", help="skip the librosa comparison")
    ap.add_argument("--threads", type=int, help="numba threads (default: all cores)")
    ap.add_argument("--json", dest="json_out", help="also write the results here")
    args = ap.parse_args(argv)

    import numba

    from voicecx.kernels import get_backend

    if args.threads:
        numba.set_num_threads(args.threads)
    sr, hop, frame = args.sr, args.sr // 100, int(round(0.025 * args.sr))
    x = demo_audio(args.seconds, sr)
    dur = len(x) / sr
    cpu = get_backend("cpu")
    warm = cpu.warmup()

    kernels = {
        "pitch_yin": lambda: cpu.pitch_yin(x, sr, hop, FMIN, FMAX),
        "energy": lambda: cpu.energy(x, frame, hop),
        "spectral": lambda: cpu.spectral(x, sr, frame, hop),
        "vad": lambda: cpu.vad(x, sr, hop, frame),
    }
    rows: list[dict] = []
    times = {}
    for name, fn in kernels.items():
        times[name] = best_of(fn, args.repeats)
        rows.append({"what": f"cpu {name}", "seconds": times[name], "x_realtime": dur / times[name], "note": ""})
    pes = times["pitch_yin"] + times["energy"] + times["spectral"]
    rows.append({"what": "cpu pitch+energy+spectral", "seconds": pes, "x_realtime": dur / pes,
                 "note": "budget >= 2000x on 2 cores"})

    comparisons = {}
    if not args.no_librosa:
        import librosa

        lib_kw = {"sr": sr, "fmin": FMIN, "fmax": FMAX, "frame_length": 1024, "hop_length": hop}
        librosa.yin(x[: sr], **lib_kw)  # librosa's own first-call overheads out of the timing
        t_yin = best_of(lambda: librosa.yin(x, **lib_kw), 1)
        rows.append({"what": "librosa.yin", "seconds": t_yin, "x_realtime": dur / t_yin, "note": "same audio"})
        n_p = int(min(args.pyin_seconds, dur) * sr)
        librosa.pyin(x[: sr], **lib_kw)
        t_slice = best_of(lambda: librosa.pyin(x[:n_p], **lib_kw), 1)
        t_pyin = t_slice * len(x) / n_p
        rows.append({"what": "librosa.pyin", "seconds": t_pyin, "x_realtime": dur / t_pyin,
                     "note": f"timed on the first {n_p / sr:g} s, scaled x{len(x) / n_p:g}"})
        comparisons = {
            "cpu_pitch_vs_librosa_yin": t_yin / times["pitch_yin"],
            "cpu_pitch_vs_librosa_pyin": t_pyin / times["pitch_yin"],
            "cpu_pitch_energy_spectral_vs_librosa_yin": t_yin / pes,
            "cpu_pitch_energy_spectral_vs_librosa_pyin": t_pyin / pes,
        }

    info = {
        "audio": f"{CALL.name} agent leg, {sr} Hz, tiled to {dur:g} s",
        "frames": {"hop": hop, "frame": frame, "fmin": FMIN, "fmax": FMAX},
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": _threading_layer(numba),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "machine": platform.processor() or platform.machine(),
        "numba": numba.__version__,
        "warmup_s": warm,
        "repeats": args.repeats,
    }
    print(f"CPU kernels on {info['audio']}; hop {hop}, frame {frame}; numba threads {info['numba_threads']} "
          f"({info['numba_threading_layer']}); load average {info['load_average'][0]:.2f}")
    print(f"warm-up (compile / cache load, not in the timings): {warm:.2f} s")
    print(f"{'kernel':34s} {'seconds':>9s} {'x real time':>12s}  note")
    for r in rows:
        print(f"{r['what']:34s} {r['seconds']:9.4f} {r['x_realtime']:12,.0f}  {r['note']}")
    for k, v in comparisons.items():
        print(f"{k:44s} {v:10.1f}x")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"info": info, "rows": rows, "speedups": comparisons}, indent=2))
    return 0


def _threading_layer(numba) -> str:
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
