"""ASR accuracy and speed on the demo calls: WER (or CER for zh/ko) per leg and × real time, per model.

    .venv/bin/python benchmarks/asr_wer.py [--models tiny.en,base] [--calls en_empathic,...] [--language auto]
        [--beam 5] [--batch-size 8] [--mono] [--json out.json]

Diarisation is the product's own (stereo legs); its time is not counted. Speed = call duration /
transcription wall time (language detection included, model loading excluded: models load once
per process). The references are the demo calls' truth segments; text is normalised with
``voicecx.transcribe.normalize_text`` (lower case, no punctuation, numbers spelled out).

``--mono`` downmixes each call first, as a mono recorder would, and uses the product's mono path:
pyannote-based diarisation (told there are 2 speakers) and one decoding pass whose words go to the
speaker whose activity covers them. Per-role WER then includes attribution errors; the ``all``
column is the speaker-blind WER of every word in time order.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jiwer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voicecx.audio import load  # noqa: E402
from voicecx.config import Config  # noqa: E402
from voicecx.diarize import diarize  # noqa: E402
from voicecx.transcribe import load_model, normalize_text, transcribe  # noqa: E402

CALLS = ROOT / "samples" / "calls"
CHAR_LANGS = {"zh", "ko", "ja"}  # scored by characters (no spaces between words in zh; ko eojeol are long)


def error_rate(ref: str, hyp: str, language: str) -> float:
    ref, hyp = normalize_text(ref), normalize_text(hyp)
    if language in CHAR_LANGS:
        return float(jiwer.cer(ref.replace(" ", ""), hyp.replace(" ", "") or "∅"))
    return float(jiwer.wer(ref, hyp or "∅"))


def run(models: list[str], calls: list[str], language: str, beam: int | None,
        batch_size: int | None = None, mono: bool = False) -> list[dict]:
    rows = []
    for model in models:
        cfg = Config(model=model)
        changes = {k: v for k, v in (("beam_size", beam), ("batch_size", batch_size)) if v is not None}
        cfg = dataclasses.replace(cfg, transcribe=dataclasses.replace(cfg.transcribe, **changes))
        load_model(model, cfg.transcribe.cpu_threads)
        if language == "auto":
            load_model("base", cfg.transcribe.cpu_threads)  # the detector
        for name in calls:
            truth = json.loads((CALLS / f"{name}.truth.json").read_text(encoding="utf-8"))
            call = load(CALLS / f"{name}.wav")
            if mono:
                call = dataclasses.replace(call, samples=call.mono()[None, :])
            diar = diarize(call, mono=mono or None, config=cfg, num_speakers=2 if mono else None)
            t0 = time.perf_counter()
            tr = transcribe(call, diar, model=model, language=language, config=cfg)
            dt = time.perf_counter() - t0
            true_lang = truth["language"]
            row = {"model": model, "call": name, "duration_s": round(call.duration_s, 2), "language": tr.language,
                   "true_language": true_lang, "beam_size": cfg.transcribe.beam_size,
                   "batch_size": cfg.transcribe.batch_size, "seconds": round(dt, 2), "x_realtime": round(call.duration_s / dt, 1),
                   "metric": "CER" if true_lang in CHAR_LANGS else "WER", "used": tr.model.get("used"),
                   "mode": diar.mode}
            for role in ("agent", "customer"):
                label = next((lab for lab, r in diar.roles.items() if r == role), None)
                ref = " ".join(s["text"] for s in truth["segments"] if s["speaker"] == role)
                hyp = " ".join(s.text for s in tr.segments if s.speaker == label)
                row[role] = round(error_rate(ref, hyp, true_lang), 3)
            ref_all = " ".join(s["text"] for s in sorted(truth["segments"], key=lambda s: s["start"]))
            row["all"] = round(error_rate(ref_all, " ".join(s.text for s in tr.segments), true_lang), 3)
            rows.append(row)
            print(f"{model:8s} {name:12s} lang {tr.language:3s} (truth {true_lang}) {row['metric']} agent "
                  f"{100 * row['agent']:5.1f} %  customer {100 * row['customer']:5.1f} %  all {100 * row['all']:5.1f} %  "
                  f"({diar.mode})  {dt:6.2f} s  {row['x_realtime']:5.1f}× real time", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="tiny.en,base")
    ap.add_argument("--calls", default="en_empathic,en_cold,da_call,zh_call,ko_call")
    ap.add_argument("--language", default="auto")
    ap.add_argument("--beam", type=int, default=None, help="beam size (default: Config)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="packed windows decoded together (default: Config; 1 = sequential decoding)")
    ap.add_argument("--mono", action="store_true", help="downmix each call and use the mono diarisation path")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()
    rows = run(args.models.split(","), args.calls.split(","), args.language, args.beam, args.batch_size, args.mono)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
