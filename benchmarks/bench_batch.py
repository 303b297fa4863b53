"""Batch throughput: calls/hour and × real time for the local engine, by workers, with and without ASR.

Each configuration runs ``voicecx.batch.run_batch`` on a fresh output folder over the demo calls
(repeated ``--repeat`` times under different names, so the batch is long enough to amortise worker
start-up). Wall time includes starting the workers and loading their models, because a nightly run
pays that too; the per-call analysis seconds are reported beside it so the overhead is visible.

    .venv/bin/python benchmarks/bench_batch.py --workers 1,2 --repeat 2 --json bench_batch.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voicecx.batch import AnalyseOptions, BatchOptions, iter_manifest, run_batch  # noqa: E402
from voicecx.config import Config  # noqa: E402


def stage_inputs(calls_dir: Path, repeat: int, dest: Path) -> list[Path]:
    """Copies of the demo calls named ``<stem>_r<k>.wav`` (hard links where possible)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(repeat):
        for wav in sorted(calls_dir.glob("*.wav")):
            target = dest / f"{wav.stem}_r{k}.wav"
            try:
                os.link(wav, target)
            except OSError:
                shutil.copyfile(wav, target)
            out.append(target)
    return out


def run_one(inputs: list[Path], workers: int, asr: bool, model: str, work: Path) -> dict:
    out = work / f"out_w{workers}_{'asr' if asr else 'noasr'}"
    options = BatchOptions(out_dir=out, workers=workers, engine="local", progress=False,
                           analyse=AnalyseOptions(no_asr=not asr))
    t0 = time.perf_counter()
    result = run_batch([str(p) for p in inputs], options, Config(model=model))
    wall = time.perf_counter() - t0
    entries = list(iter_manifest(out))
    busy = sum(e.get("seconds") or 0.0 for e in entries)
    first = [e["seconds"] for e in entries[:workers] if e.get("seconds")]
    return {
        "workers": workers, "asr": asr, "calls": result.total, "ok": result.ok, "failed": result.failed,
        "audio_s": round(result.audio_s, 1), "wall_s": round(wall, 2),
        "calls_per_hour": round(result.ok / wall * 3600, 0) if wall else None,
        "x_real_time": round(result.audio_s / wall, 2) if wall else None,
        "analysis_s_sum": round(busy, 2),
        "first_call_s": round(max(first), 2) if first else None,  # includes each worker's model load
        "errors": sorted({e.get("message", "") for e in entries if e["status"] != "ok"}),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", default=str(ROOT / "samples" / "calls"), help="folder of calls (default: the demo calls)")
    ap.add_argument("--repeat", type=int, default=2, help="copies of each call in the batch (default 2)")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    ap.add_argument("--asr", default="both", choices=["both", "on", "off"])
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--json", dest="json_out", help="write the results as JSON here")
    args = ap.parse_args()

    worker_counts = [int(w) for w in args.workers.split(",")]
    asr_modes = {"both": [False, True], "on": [True], "off": [False]}[args.asr]
    rows = []
    with tempfile.TemporaryDirectory(prefix="voicecx-bench-batch-") as tmp:
        work = Path(tmp)
        inputs = stage_inputs(Path(args.calls), args.repeat, work / "in")
        for asr in asr_modes:
            for w in worker_counts:
                row = run_one(inputs, w, asr, args.model, work)
                rows.append(row)
                print(f"  done: workers={w} asr={asr}: {row['x_real_time']}× real time", file=sys.stderr)

    header = f"{'workers':>7} {'ASR':>4} {'calls':>5} {'failed':>6} {'audio s':>8} {'wall s':>7} {'calls/h':>8} {'× RT':>6} {'sum call s':>10} {'1st call s':>10}"
    print(f"batch throughput, local engine, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    print(header)
    for r in rows:
        print(f"{r['workers']:>7} {'on' if r['asr'] else 'off':>4} {r['calls']:>5} {r['failed']:>6} {r['audio_s']:>8} "
              f"{r['wall_s']:>7} {r['calls_per_hour']:>8.0f} {r['x_real_time']:>6} {r['analysis_s_sum']:>10} {r['first_call_s']!s:>10}")
    for r in rows:
        for message in r["errors"]:
            print(f"  workers={r['workers']} asr={r['asr']} error: {message}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"benchmark": "batch", "cpus": os.cpu_count(),
                                                   "model": args.model, "results": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
