"""Turn-taking event accuracy on the demo calls, smile separation on sox-shifted utterances, and cost.

1. Events: precision / recall / F1 per type (interruption, backchannel, dead_air, overtalk) against
   samples/calls/*.truth.json, a match = same type, same speaker role, start within 1 s (one-to-one),
   with activity from the truth RTTM and from the real per-leg VAD (voicecx.diarize).
2. Smile: the cold call's agent utterances (all rendered at one espeak pitch) are replayed as one
   speaker, every third one shifted up with ``sox pitch +CENTS`` (which raises F0 and formants
   together, like a smile's shortened vocal tract); detection precision / recall per shift.
3. Cost: prosody (tracks + per-speaker) and dynamics seconds per call, and on one long stereo call
   made by tiling en_cold (``--long-minutes``), with peak resident memory.

    .venv/bin/python benchmarks/dynamics_accuracy.py [--long-minutes 30] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicecx import diarize  # noqa: E402
from voicecx.audio import Audio, load  # noqa: E402
from voicecx.config import Config  # noqa: E402
from voicecx.dynamics import analyse_dynamics  # noqa: E402
from voicecx.kernels import get_backend  # noqa: E402
from voicecx.prosody import compute_tracks, speaker_prosody  # noqa: E402

CALLS = ROOT / "samples" / "calls"
NAMES = ("en_empathic", "en_cold", "da_call", "ko_call", "zh_call")
KINDS = ("interruption", "backchannel", "dead_air", "overtalk")
TOLERANCE_S = 1.0
CFG = Config()


def truth(name: str) -> dict:
    return json.loads((CALLS / f"{name}.truth.json").read_text(encoding="utf-8"))


def rttm_activity(name: str, n: int, hop: float) -> dict[str, np.ndarray]:
    t = np.arange(n) * hop
    act = {r: np.zeros(n, dtype=bool) for r in ("agent", "customer")}
    for line in (CALLS / f"{name}.rttm").read_text().splitlines():
        f = line.split()
        act[f[7]] |= (t >= float(f[3])) & (t < float(f[3]) + float(f[4]))
    return act


def match(found: list[tuple[float, str | None]], want: list[tuple[float, str | None]]) -> int:
    used: set[int] = set()
    tp = 0
    for ws, wsp in want:
        for i, (fs, fsp) in enumerate(found):
            if i not in used and abs(fs - ws) <= TOLERANCE_S and fsp == wsp:
                used.add(i)
                tp += 1
                break
    return tp


def prf(tp: int, found: int, want: int) -> dict[str, float | int]:
    p = tp / found if found else 1.0
    r = tp / want if want else 1.0
    return {"tp": tp, "found": found, "truth": want, "precision": round(p, 3), "recall": round(r, 3),
            "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0}


def event_accuracy(backend) -> tuple[dict, dict]:
    counts = {(src, k): [0, 0, 0] for src in ("rttm", "vad") for k in KINDS}
    costs = {}
    bc_as_interruption = 0
    for name in NAMES:
        call = load(CALLS / f"{name}.wav")
        diar = diarize.diarize(call, roles="agent,customer", config=CFG)
        t0 = time.perf_counter()
        tracks = compute_tracks(call, diar, backend, CFG)
        pros = {lab: speaker_prosody(tracks[lab], diar.activity[lab], CFG) for lab in diar.labels}
        t1 = time.perf_counter()
        dyn_vad = analyse_dynamics(diar.activity, diar.hop_s, diar.roles, tracks=tracks, config=CFG, prosody=pros)
        dyn_vad.behaviours()
        t2 = time.perf_counter()
        costs[name] = {"duration_s": round(call.duration_s, 2), "prosody_s": round(t1 - t0, 4), "dynamics_s": round(t2 - t1, 4)}
        n = len(diar.activity[diar.labels[0]])
        by_role = {diar.roles[lab]: tracks[lab] for lab in diar.labels}
        dyn_rttm = analyse_dynamics(rttm_activity(name, n, diar.hop_s), diar.hop_s, {"agent": "agent", "customer": "customer"},
                                    tracks=by_role, config=CFG)
        for src, dyn, roles in (("vad", dyn_vad, diar.roles), ("rttm", dyn_rttm, {"agent": "agent", "customer": "customer"})):
            for kind in KINDS:
                found = [(e.start, roles.get(e.speaker) if e.speaker else None) for e in dyn.events if e.type == kind]
                want = [(e["start"], e.get("speaker")) for e in truth(name)["events"] if e["type"] == kind]
                c = counts[src, kind]
                c[0] += match(found, want)
                c[1] += len(found)
                c[2] += len(want)
            ints = [e.start for e in dyn.events if e.type == "interruption"]
            bc_as_interruption += sum(any(abs(i - e["start"]) < TOLERANCE_S for i in ints)
                                      for e in truth(name)["events"] if e["type"] == "backchannel")
    table = {f"{src}/{k}": prf(*counts[src, k]) for src in ("rttm", "vad") for k in KINDS}
    table["backchannels_reported_as_interruptions"] = bc_as_interruption
    return table, costs


def sox_smile(backend, cents: list[int]) -> dict[str, dict]:
    """Replay en_cold's agent utterances; shift every third one up by ``cents`` with sox; detect smiles."""
    call = load(CALLS / "en_cold.wav")
    sr = call.sample_rate
    agent = call.leg(0)
    segs = [s for s in truth("en_cold")["segments"] if s["speaker"] == "agent" and not s["backchannel"]]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for c in cents:
            parts, spans, shifted, t = [np.zeros(sr // 2, np.float32)], [], [], 0.5
            for i, s in enumerate(segs):
                y = agent[int(s["start"] * sr):int(s["end"] * sr)]
                if i % 3 == 1:
                    src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
                    sf.write(src, y, sr, subtype="FLOAT")
                    subprocess.run(["sox", "-V1", str(src), str(dst), "pitch", str(c)], check=True)
                    y = sf.read(dst, dtype="float32")[0][: len(y)]
                parts += [y, np.zeros(sr // 2, np.float32)]
                spans.append((t, t + len(y) / sr))
                shifted.append(i % 3 == 1)
                t += len(y) / sr + 0.5
            x = np.concatenate(parts)
            n = 1 + len(x) // int(0.01 * sr)
            centres = np.arange(n) * 0.01
            act = np.zeros(n, dtype=bool)
            for a, b in spans:
                act |= (centres >= a) & (centres < b)

            class D:  # the part of a Diarization compute_tracks reads
                mode, labels = "mono", ["agent"]

            tracks = compute_tracks(Audio(x[None, :], sr), D(), backend, CFG)["agent"]
            sp = speaker_prosody(tracks, act, CFG)
            # only utterances long enough to be judged (min_utterance_s) take part
            judged = [(next(u for u in sp.utterances if u.start < b and u.end > a), s)
                      for (a, b), s in zip(spans, shifted) if any(u.start < b and u.end > a for u in sp.utterances)]
            tp = sum(u.smiled and s for u, s in judged)
            scores = {True: [u.smile_score for u, s in judged if s], False: [u.smile_score for u, s in judged if not s]}
            auc = float(np.mean([p > q for p in scores[True] for q in scores[False]]))
            out[f"+{c} cents"] = {**prf(tp, sum(u.smiled for u, _ in judged), len(scores[True])), "auc": round(auc, 3),
                                  "utterances": len(judged)}
    return out


def long_call_cost(backend, minutes: float) -> dict[str, float]:
    """Prosody + dynamics on en_cold tiled to ``minutes`` (stereo, 8 kHz), activity tiled from its VAD."""
    call = load(CALLS / "en_cold.wav")
    diar = diarize.diarize(call, roles="agent,customer", config=CFG)
    reps = max(1, int(np.ceil(minutes * 60 / call.duration_s)))
    hop_n = int(round(diar.hop_s * call.sample_rate))
    n0 = (call.n_samples // hop_n) * hop_n  # whole frames, so activity and audio tile in step
    big = Audio(np.ascontiguousarray(np.tile(call.samples[:, :n0], (1, reps))), call.sample_rate)
    frames0 = n0 // hop_n
    act = {lab: np.tile(m[:frames0], reps) for lab, m in diar.activity.items()}
    diar.activity = act
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    tracks = compute_tracks(big, diar, backend, CFG)
    pros = {lab: speaker_prosody(tracks[lab], act[lab], CFG) for lab in diar.labels}
    t1 = time.perf_counter()
    dyn = analyse_dynamics(act, diar.hop_s, diar.roles, tracks=tracks, config=CFG, prosody=pros)
    dyn.behaviours()
    t2 = time.perf_counter()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"call_minutes": round(big.duration_s / 60, 1), "prosody_s": round(t1 - t0, 2), "dynamics_s": round(t2 - t1, 2),
            "events": len(dyn.events), "peak_rss_mb": round(rss1, 0), "rss_before_mb": round(rss0, 0)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--long-minutes", type=float, default=30.0, help="length of the tiled long call (0 = skip)")
    ap.add_argument("--cents", default="100,150,200", help="sox pitch shifts for the smile check")
    ap.add_argument("--json", dest="json_out", help="write the results here")
    args = ap.parse_args()
    backend = get_backend("cpu")
    warm = backend.warmup()
    events, costs = event_accuracy(backend)
    print(f"kernels: {backend.name} (warm-up {warm:.2f} s, excluded)\n")
    print(f"{'source/type':24} {'tp':>3} {'found':>5} {'truth':>5} {'P':>6} {'R':>6} {'F1':>6}")
    for key, row in events.items():
        if isinstance(row, dict):
            print(f"{key:24} {row['tp']:3d} {row['found']:5d} {row['truth']:5d} {row['precision']:6.3f} {row['recall']:6.3f} {row['f1']:6.3f}")
    print(f"backchannels reported as interruptions: {events['backchannels_reported_as_interruptions']}\n")
    smile = sox_smile(backend, [int(c) for c in args.cents.split(",") if c])
    print(f"{'sox smile shift':16} {'P':>6} {'R':>6} {'AUC':>6}  (utterances)")
    for key, row in smile.items():
        print(f"{key:16} {row['precision']:6.3f} {row['recall']:6.3f} {row['auc']:6.3f}  ({row['utterances']})")
    print(f"\n{'call':12} {'dur s':>6} {'prosody s':>10} {'dynamics s':>11}")
    for name, c in costs.items():
        print(f"{name:12} {c['duration_s']:6.1f} {c['prosody_s']:10.4f} {c['dynamics_s']:11.4f}")
    long = long_call_cost(backend, args.long_minutes) if args.long_minutes > 0 else None
    if long:
        print(f"\nlong call {long['call_minutes']} min: prosody {long['prosody_s']} s, dynamics {long['dynamics_s']} s, "
              f"{long['events']} events, peak RSS {long['peak_rss_mb']:.0f} MB (before {long['rss_before_mb']:.0f} MB)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"events": events, "smile_sox": smile, "cost": costs, "long_call": long,
                                                   "kernels": backend.name}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
