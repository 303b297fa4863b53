#!/usr/bin/env python3
"""End-to-end speed of `voicecx analyse` (DESIGN §5 budgets), on a long stereo call built from the demo calls.

Measures, for a call of ``--minutes`` (default 10) made by laying the English demo calls end to end:

* wall-clock of a fresh ``voicecx analyse`` process (model load and imports included) with ASR (tiny.en)
  and audio-only (``--no-asr``), and optionally ``--mono`` (pyannote diarisation);
* the report's own per-stage timings, and the share of everything except ASR and diarisation.

    .venv/bin/python benchmarks/bench_pipeline.py [--minutes 10] [--mono] [--json out.json]

Timings are measurements for the notes, never test assertions.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "samples" / "calls"


def long_call(minutes: float, path: Path) -> float:
    """Tile the English demo calls (stereo 8 kHz) to the requested length; returns seconds."""
    parts = [sf.read(CALLS / f"{n}.wav", dtype="float32")[0] for n in ("en_empathic", "en_cold")]
    sr = sf.info(CALLS / "en_empathic.wav").samplerate
    need, out, i = int(minutes * 60 * sr), [], 0
    while sum(len(p) for p in out) < need:
        out.append(parts[i % len(parts)])
        i += 1
    audio = np.concatenate(out)[:need]
    sf.write(path, audio, sr, subtype="PCM_16")
    return len(audio) / sr


def run(call: Path, out: Path, *extra: str) -> dict:
    cmd = [str(ROOT / ".venv" / "bin" / "voicecx"), "analyse", str(call), "--out", str(out), *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    report = json.loads((out / f"{call.stem}.report.json").read_text(encoding="utf-8"))
    stages = report["timing"]["stages_s"]
    heavy = stages.get("transcribe", 0.0) + stages.get("diarize", 0.0)
    return {
        "options": " ".join(extra) or "(default: tiny.en)",
        "duration_s": report["call"]["duration_s"],
        "process_wall_s": round(wall, 2),
        "process_x_realtime": round(report["call"]["duration_s"] / wall, 1),
        "report_total_s": report["timing"]["total_s"],
        "report_x_realtime": report["timing"]["realtime_factor"],
        "stages_s": stages,
        "non_asr_diarize_share": round(1 - heavy / report["timing"]["total_s"], 4),
        "empathy": report["empathy"]["score"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--mono", action="store_true", help="also time --mono (pyannote) diarisation")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        call = Path(tmp) / f"long_{args.minutes:g}min.wav"
        secs = long_call(args.minutes, call)
        print(f"call: {secs:.0f} s stereo 8 kHz (demo calls tiled)")
        variants = [("--no-asr",), ()]
        if args.mono:
            variants.append(("--mono", "--no-asr"))
        for extra in variants:
            rows.append(run(call, Path(tmp) / "out", *extra))
            r = rows[-1]
            stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stages_s"].items())
            print(f"{r['options']:<22} wall {r['process_wall_s']:7.2f} s = {r['process_x_realtime']:7.1f}x real time "
                  f"| in-process {r['report_total_s']:.2f} s ({r['report_x_realtime']}x) "
                  f"| non-ASR/diarisation share {100 * r['non_asr_diarize_share']:.1f} % | {stages}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"call_s": secs, "runs": rows}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
