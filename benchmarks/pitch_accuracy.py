#!/usr/bin/env python3
"""Pitch accuracy on synthetic signals with known F0: voicecx cpu YIN vs librosa.pyin vs librosa.yin.

Each test signal alternates voiced stretches with a known F0 track and unvoiced stretches (silence
or noise), at 16 kHz, hop 10 ms, search range 50-500 Hz. Metrics, over frames more than 30 ms
from a voiced/unvoiced boundary:

* GPE (gross pitch error): share of frames voiced in the truth *and* the estimate whose F0 is off
  by more than 20 % (Rabiner et al. 1976; the usual definition in pitch-tracking papers);
* FPE: median absolute error in cents on the frames without a gross error;
* methods: voicecx cpu YIN with its default absolute threshold (0.15) and with 0.1 (the YIN
  paper's and librosa's value), librosa.yin, librosa.pyin (frame_length 1024 for both);
* voicing accuracy: share of frames whose voiced/unvoiced decision matches the truth.
  librosa.yin makes no voicing decision (every frame gets an F0), so its voicing accuracy is the
  voiced share of the truth and is shown for completeness only.

    .venv/bin/python benchmarks/pitch_accuracy.py [--json out.json] [--no-pyin]

Signals are generated here (seeded); nothing is downloaded.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR, HOP, FMIN, FMAX = 16000, 160, 50.0, 500.0
GROSS = 0.2  # relative error that counts as a gross pitch error
EDGE_S = 0.03  # frames this close to a voicing boundary are not scored


@dataclass
class Signal:
    name: str
    x: np.ndarray  # float32 samples
    f0: np.ndarray  # per-sample truth, 0 = unvoiced


def voiced(track: np.ndarray, rng: np.random.Generator, n_harm: int = 8, tilt: float = 1.0,
           amps: tuple[float, ...] | None = None) -> np.ndarray:
    """Harmonics of a per-sample F0 track (amplitudes ``amps`` or 1/k**tilt) with random phases."""
    phase = 2 * np.pi * np.cumsum(track) / SR
    gains = amps or tuple(1 / k**tilt for k in range(1, n_harm + 1))
    x = np.zeros(len(track))
    for k, g in enumerate(gains, start=1):
        x += np.where(k * track < 0.45 * SR, g * np.sin(k * phase + rng.uniform(0, 2 * np.pi)), 0.0)
    return x / np.abs(x).max()


def assemble(name: str, parts: list[tuple[np.ndarray, np.ndarray]], noise_db: float | None, seed: int) -> Signal:
    """Concatenate (samples, f0) parts; optionally add white noise at ``noise_db`` SNR to the voiced level."""
    x = np.concatenate([p[0] for p in parts])
    f0 = np.concatenate([p[1] for p in parts])
    if noise_db is not None:
        rng = np.random.default_rng(seed + 1000)
        level = np.sqrt(np.mean(x[f0 > 0] ** 2))
        x = x + level * 10 ** (-noise_db / 20) * rng.standard_normal(len(x))
    return Signal(name, (0.3 * x / np.abs(x).max()).astype(np.float32), f0)


def gap(seconds: float, rng: np.random.Generator, kind: str = "silence") -> tuple[np.ndarray, np.ndarray]:
    n = int(seconds * SR)
    x = np.zeros(n) if kind == "silence" else 0.05 * rng.standard_normal(n)
    return x, np.zeros(n)


def signals(seed: int = 0) -> list[Signal]:
    rng = np.random.default_rng(seed)
    out = []

    def steady(f: float, seconds: float, **kw) -> tuple[np.ndarray, np.ndarray]:
        track = np.full(int(seconds * SR), f)
        return voiced(track, rng, **kw), track

    def vibrato(f: float, seconds: float, depth: float = 0.04, rate: float = 5.5) -> tuple[np.ndarray, np.ndarray]:
        t = np.arange(int(seconds * SR)) / SR
        track = f * (1 + depth * np.sin(2 * np.pi * rate * t))
        return voiced(track, rng), track

    def glide(f_a: float, f_b: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
        track = np.geomspace(f_a, f_b, int(seconds * SR))
        return voiced(track, rng), track

    out.append(assemble("steady harmonics 80-350 Hz", [
        gap(0.3, rng), steady(80, 0.8), gap(0.3, rng), steady(120, 0.8, tilt=0.5), gap(0.3, rng),
        steady(220, 0.8, tilt=2.0), gap(0.3, rng), steady(350, 0.8, n_harm=3), gap(0.3, rng)], None, seed))
    out.append(assemble("vibrato 110/210 Hz, 4 %, 5.5 Hz", [
        gap(0.3, rng), vibrato(110, 1.5), gap(0.4, rng), vibrato(210, 1.5), gap(0.3, rng)], None, seed))
    out.append(assemble("glides 90<->400 Hz", [
        gap(0.3, rng), glide(90, 400, 1.5), gap(0.4, rng), glide(380, 100, 1.0), gap(0.3, rng)], None, seed))
    # Harmonics 2..8 of 150 Hz with no energy at 150 Hz itself: the perceived pitch is still 150.
    ph = 2 * np.pi * 150.0 * np.arange(SR) / SR
    x_mf = sum(np.sin(k * ph + rng.uniform(0, 2 * np.pi)) / k for k in range(2, 9))
    out.append(assemble("missing fundamental 150 Hz", [
        gap(0.3, rng), (x_mf / np.abs(x_mf).max(), np.full(SR, 150.0)), gap(0.3, rng)], None, seed))
    out.append(assemble("noisy speech-like, SNR 20 dB, noise gaps", [
        gap(0.3, rng, "noise"), vibrato(130, 1.0, depth=0.08, rate=3.0), gap(0.3, rng, "noise"),
        glide(180, 260, 1.0), gap(0.3, rng, "noise")], 20.0, seed))
    out.append(assemble("noisy, SNR 5 dB", [
        gap(0.3, rng), steady(140, 1.0), gap(0.3, rng), glide(200, 120, 1.0), gap(0.3, rng)], 5.0, seed))
    out.append(assemble("strong 2nd harmonic 100/160 Hz", [
        gap(0.3, rng), steady(100, 1.0, amps=(0.15, 1.0, 0.4, 0.3)), gap(0.3, rng),
        steady(160, 1.0, amps=(0.1, 1.0, 0.2, 0.5, 0.1)), gap(0.3, rng)], None, seed))
    out.append(assemble("noisy, SNR 0 dB", [
        gap(0.3, rng), vibrato(120, 1.0), gap(0.3, rng), glide(150, 250, 1.0), gap(0.3, rng)], 0.0, seed))
    # Unvoiced stretches as loud as the voiced ones (fricative-like noise): a voicing test.
    loud = [(0.3 * rng.standard_normal(int(0.4 * SR)), np.zeros(int(0.4 * SR))) for _ in range(3)]
    out.append(assemble("loud noise between voiced parts", [
        loud[0], steady(130, 0.8), loud[1], vibrato(190, 0.8), loud[2]], None, seed))
    return out


def truth_frames(sig: Signal) -> tuple[np.ndarray, np.ndarray]:
    """Truth F0 at frame centres k*HOP, and a mask of frames far enough from voicing boundaries."""
    n_frames = 1 + len(sig.x) // HOP
    idx = np.minimum(np.arange(n_frames) * HOP, len(sig.x) - 1)
    f0 = sig.f0[idx]
    v = (sig.f0 > 0).astype(np.int8)
    edges = np.flatnonzero(np.diff(v)) + 1
    score = np.ones(n_frames, dtype=bool)
    for e in edges:
        score[np.abs(idx - e) < EDGE_S * SR] = False
    return f0, score


def metrics(est: np.ndarray, truth: np.ndarray, score: np.ndarray) -> dict[str, float]:
    est, truth = est[: len(truth)][score], truth[score]
    tv, ev = truth > 0, est > 0
    both = tv & ev
    rel = np.abs(est[both] / truth[both] - 1)
    fine = rel <= GROSS
    cents = np.abs(1200 * np.log2(est[both][fine] / truth[both][fine])) if fine.any() else np.array([np.nan])
    return {
        "gpe": float(np.mean(~fine)) if both.any() else float("nan"),
        "fpe_cents": float(np.median(cents)),
        "voicing_acc": float(np.mean(tv == ev)),
        "frames": int(score.sum()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", dest="json_out")
    ap.add_argument("--no-pyin", action="store_true", help="skip librosa.pyin (slow)")
    args = ap.parse_args(argv)

    import librosa

    from voicecx.kernels import get_backend

    cpu = get_backend("cpu")
    cpu.warmup()
    lib_kw = {"sr": SR, "fmin": FMIN, "fmax": FMAX, "frame_length": 1024, "hop_length": HOP}

    def run_cpu(x: np.ndarray) -> np.ndarray:
        return cpu.pitch_yin(x, SR, HOP, FMIN, FMAX)[0]

    def run_cpu_10(x: np.ndarray) -> np.ndarray:
        return cpu.pitch_yin(x, SR, HOP, FMIN, FMAX, threshold=0.1)[0]

    def run_pyin(x: np.ndarray) -> np.ndarray:
        f0, flag, _ = librosa.pyin(x, **lib_kw)
        return np.where(flag, np.nan_to_num(f0), 0.0)

    def run_yin(x: np.ndarray) -> np.ndarray:
        return librosa.yin(x, **lib_kw)

    methods = {"voicecx cpu yin": run_cpu, "cpu yin thr 0.1": run_cpu_10, "librosa.yin": run_yin}
    if not args.no_pyin:
        methods["librosa.pyin"] = run_pyin
    results: list[dict] = []
    for sig in signals():
        truth, score = truth_frames(sig)
        for mname, fn in methods.items():
            t0 = time.perf_counter()
            est = np.asarray(fn(sig.x), dtype=np.float64)
            secs = time.perf_counter() - t0
            results.append({"signal": sig.name, "method": mname, "seconds": secs, **metrics(est, truth, score)})

    print(f"{'signal':42s} {'method':16s} {'GPE %':>7s} {'FPE ct':>7s} {'voicing %':>9s} {'frames':>6s}")
    for r in results:
        print(f"{r['signal']:42s} {r['method']:16s} {100 * r['gpe']:7.2f} {r['fpe_cents']:7.1f} "
              f"{100 * r['voicing_acc']:9.1f} {r['frames']:6d}")
    print("\nmean over signals:")
    for mname in methods:
        rs = [r for r in results if r["method"] == mname]
        print(f"  {mname:16s} GPE {100 * np.nanmean([r['gpe'] for r in rs]):6.2f} %   "
              f"FPE {np.nanmean([r['fpe_cents'] for r in rs]):5.1f} cents   "
              f"voicing {100 * np.mean([r['voicing_acc'] for r in rs]):5.1f} %"
              + ("   (librosa.yin has no voicing decision)" if mname == "librosa.yin" else ""))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
