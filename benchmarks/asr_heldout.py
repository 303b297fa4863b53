#!/usr/bin/env python3
"""Held-out ASR accuracy: unseen English call-centre lines, in the demo voices, through the product's path.

The demo calls (benchmarks/asr_wer.py) have only 60-110 words per leg, so a few points of WER between
two settings there is noise. This builds one long stereo call from the English development texts in
``benchmarks/data`` (dev3 + dev4 by default: the customer contexts on the right leg, the empathic and
the cold agent replies on the left), renders it with the demo calls' espeak-ng voices through the same
telephone band (samples/make_samples.py), and runs the product's own ``diarize`` + ``transcribe`` on it
once per beam width (``--set`` changes other ``Config.transcribe`` fields for all of them). None of
these texts is in the demo calls.

    .venv/bin/python benchmarks/asr_heldout.py [--model tiny.en] [--beams 5,3,2] [--sets dev3,dev4] [--rounds 1]
        [--agent-voice en-us+f3:178:55] [--customer-voice en-gb+m3:185:35] [--word-gap 0]
        [--set gap_s=0.5 ...] [--json out.json]

``--set`` takes a TOML assignment to a ``[transcribe]`` key, checked like a config file
(``gap_s=1.0``, ``batched_languages=["en"]``).

``--word-gap`` (espeak-ng ``-g``, 10-ms units) and the voice options test how much of the error is the
synthetic material rather than the decoder. The rendered call is cached in
``~/.cache/voicecx/heldout/``. Timings are wall-clock and process CPU of ``transcribe`` only (the model
is loaded before); they are measurements for the notes, never test assertions.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "samples"))

import make_samples as ms  # noqa: E402
from asr_wer import error_rate  # noqa: E402
from voicecx.audio import load  # noqa: E402
from voicecx.config import Config, config_with  # noqa: E402
from voicecx.diarize import diarize  # noqa: E402
from voicecx.transcribe import load_model, normalize_text, transcribe  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
PAUSE_S = 0.8  # between utterances: longer than Config.transcribe.join_s, so each line is its own region
LEVEL_DBFS = -20.0  # the demo calls' agent level


@dataclasses.dataclass(frozen=True)
class Voice:
    name: str
    rate: int
    pitch: int

    @classmethod
    def parse(cls, spec: str) -> Voice:
        name, rate, pitch = spec.split(":")
        return cls(name, int(rate), int(pitch))


def read_lines(sets: list[str]) -> list[tuple[str, str]]:
    """(leg, text) in call order: per pair the customer's context, then the empathic and the cold reply."""
    order: list[tuple[str, str]] = []
    for name in sets:
        for row in (DATA / f"{name}_pairs_en.jsonl").read_text(encoding="utf-8").splitlines():
            pair = json.loads(row)
            order += [("customer", pair["context"]), ("agent", pair["empathic"]), ("agent", pair["cold"])]
    return order


def render_call(order: list[tuple[str, str]], voices: dict[str, Voice], word_gap: int, path: Path) -> None:
    """One line after another, agent on the left leg and customer on the right, hiss, telephone band."""
    pause = np.zeros(int(PAUSE_S * ms.SR))
    legs: dict[str, list[np.ndarray]] = {"agent": [pause], "customer": [pause]}
    for i, (leg, text) in enumerate(order):
        v = voices[leg]
        y = ms.trim_and_level(ms.render_speech(text, v.name, v.rate, v.pitch, word_gap), LEVEL_DBFS)
        other = "customer" if leg == "agent" else "agent"
        legs[leg] += [y, pause]
        legs[other] += [np.zeros(len(y)), pause]
        if (i + 1) % 40 == 0:
            print(f"  rendered {i + 1}/{len(order)} lines", file=sys.stderr, flush=True)
    rng = np.random.default_rng(7)
    out = []
    for leg in ("agent", "customer"):
        x = np.concatenate(legs[leg])
        out.append(ms.bandlimit(x + rng.standard_normal(len(x)) * 10 ** (ms.HISS_DBFS / 20)))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.wav")
    sf.write(tmp, np.stack(out, axis=1), ms.SR, subtype="PCM_16")
    os.replace(tmp, path)


def cached_call(order: list[tuple[str, str]], voices: dict[str, Voice], word_gap: int) -> Path:
    espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()
    key = json.dumps([order, [dataclasses.astuple(voices[k]) for k in ("agent", "customer")], word_gap, espeak])
    path = Path.home() / ".cache" / "voicecx" / "heldout" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.wav"
    if not path.exists():
        print(f"rendering {len(order)} lines with espeak-ng → {path}", file=sys.stderr, flush=True)
        render_call(order, voices, word_gap, path)
    return path


def transcribe_config(changes: list[str]) -> Config:
    """``Config`` with ``--set FIELD=VALUE`` changes to its transcribe section (one TOML line each)."""
    values: dict = {}
    for change in changes:
        try:
            values.update(tomllib.loads(change))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"--set {change!r} is not a TOML assignment ({exc})") from None
    try:
        return config_with(Config(), {"transcribe": values})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"--set: {exc}") from None


def run(beams: list[int], sets: list[str], voices: dict[str, Voice], word_gap: int, rounds: int,
        base: Config | None = None, model: str = "tiny.en") -> list[dict]:
    order = read_lines(sets)
    path = cached_call(order, voices, word_gap)
    call = load(path)
    base = base or Config()
    diar = diarize(call, config=base)
    load_model(model, base.transcribe.cpu_threads)
    refs = {leg: " ".join(t for who, t in order if who == leg) for leg in ("agent", "customer")}
    rows = []
    for rnd in range(rounds):
        for beam in beams:
            cfg = dataclasses.replace(base, transcribe=dataclasses.replace(base.transcribe, beam_size=beam))
            wall0, cpu0 = time.perf_counter(), time.process_time()
            tr = transcribe(call, diar, model=model, language="en", config=cfg)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            row = {"model": model, "beam_size": beam, "round": rnd, "call_s": round(call.duration_s, 1), "words": {},
                   "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "x_realtime": round(call.duration_s / wall, 1)}
            for label, leg in zip(diar.labels[:2], ("agent", "customer")):  # left leg = agent, as rendered
                hyp = " ".join(s.text for s in tr.segments if s.speaker == label)
                row[leg] = round(error_rate(refs[leg], hyp, "en"), 4)
                row["words"][leg] = len(normalize_text(refs[leg]).split())
            rows.append(row)
            print(f"{model}  beam {beam}  round {rnd}  WER agent {100 * row['agent']:5.1f} %  customer "
                  f"{100 * row['customer']:5.1f} %   {wall:6.1f} s wall  {cpu:6.1f} s CPU  "
                  f"{row['x_realtime']:5.1f}× real time  ({call.duration_s / 60:.1f} min call)", flush=True)
    return rows


def main() -> None:
    voices = {role: ms.EN_EMPATHIC.voices[role] for role in (ms.AGENT, ms.CUSTOMER)}
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny.en", help="tiny.en, base or a CTranslate2 Whisper directory")
    ap.add_argument("--beams", default="5,3,2")
    ap.add_argument("--sets", default="dev3,dev4", help="benchmarks/data/{SET}_pairs_en.jsonl files")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the beams, interleaved (speed varies on shared VMs)")
    ap.add_argument("--agent-voice", default=":".join(map(str, voices[ms.AGENT])), help="espeak voice:rate:pitch")
    ap.add_argument("--customer-voice", default=":".join(map(str, voices[ms.CUSTOMER])))
    ap.add_argument("--word-gap", type=int, default=0, help="espeak-ng -g, 10-ms units between words")
    ap.add_argument("--set", dest="changes", action="append", default=[], metavar="FIELD=VALUE",
                    help="a Config.transcribe field for every run, as TOML, e.g. gap_s=1.0 (repeatable)")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()
    try:
        chosen = {"agent": Voice.parse(args.agent_voice), "customer": Voice.parse(args.customer_voice)}
    except ValueError as exc:
        ap.error(f"a voice is VOICE:RATE:PITCH, e.g. en-us+f3:178:55 ({exc})")
    try:
        base = transcribe_config(args.changes)
    except ValueError as exc:
        ap.error(str(exc))
    rows = run([int(b) for b in args.beams.split(",")], args.sets.split(","), chosen, args.word_gap, args.rounds,
               base, args.model)
    if args.json_out:
        meta = {"sets": args.sets, "voices": {k: dataclasses.asdict(v) for k, v in chosen.items()},
                "word_gap": args.word_gap, "transcribe": args.changes}
        Path(args.json_out).write_text(json.dumps({"setup": meta, "rows": rows}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
