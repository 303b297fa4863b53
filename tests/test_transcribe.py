"""Transcription against the demo calls' ground truth (real bundled Whisper models, no mocks).

The demo calls are espeak-ng voices band-limited to 8 kHz: hard material for Whisper tiny.en. The WER
bounds below are what the product achieves on them (benchmarks/asr_wer.py) plus a margin, so a
regression fails; they are far from the issue's 15 % target, which this does not reach yet.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jiwer
import numpy as np
import pytest

from voicecx.audio import Audio, load
from voicecx.config import Config
from voicecx.diarize import diarization_from_rttm, diarize, read_rttm
from voicecx.transcribe import (BASE_MODEL_BYTES, Joined, _subset, ModelNotFound, Transcript, base_model_dir, choose_languages,
                                LegLanguage, TranscribeConfig, compression_ratio, join_regions, normalize_text,
                                pack_windows, remove_loops, resolve_model, transcribe)

ROOT = Path(__file__).resolve().parent.parent
CALLS = ROOT / "samples" / "calls"
model = pytest.mark.model


def truth(name: str) -> dict:
    return json.loads((CALLS / f"{name}.truth.json").read_text(encoding="utf-8"))


def role_label(diar, role: str) -> str:
    return next(lab for lab, r in diar.roles.items() if r == role)


def leg_wer(tr: Transcript, t: dict, label: str, role: str) -> float:
    ref = normalize_text(" ".join(s["text"] for s in t["segments"] if s["speaker"] == role))
    hyp = normalize_text(" ".join(s.text for s in tr.segments if s.speaker == label))
    return jiwer.wer(ref, hyp or "-")


@pytest.fixture(scope="module")
def empathic():
    call = load(CALLS / "en_empathic.wav")
    diar = diarize(call, config=Config())
    return call, diar, transcribe(call, diar, model="tiny.en", language="en")


@pytest.fixture(scope="module")
def cold_auto():
    call = load(CALLS / "en_cold.wav")
    diar = diarize(call, config=Config())
    return call, diar, transcribe(call, diar, model="tiny.en", language="auto")


# ----------------------------------------------------------------------------- accuracy on the demo calls

@model
def test_stereo_wer_per_leg_on_the_empathic_call(empathic):
    _, diar, tr = empathic
    t = truth("en_empathic")
    # measured: agent 0.23, customer 0.31 (tiny.en, beam 5, batched windows; sequential decoding 0.30, 0.34)
    assert leg_wer(tr, t, role_label(diar, "agent"), "agent") <= 0.40
    assert leg_wer(tr, t, role_label(diar, "customer"), "customer") <= 0.42
    assert tr.language == "en" and tr.model["name"] == "tiny.en"


@model
def test_auto_language_keeps_an_english_call_on_tiny_en(cold_auto):
    _, diar, tr = cold_auto
    t = truth("en_cold")
    assert tr.language == "en"
    assert set(tr.model["used"].values()) == {"tiny.en"} and not tr.warnings
    # measured: agent 0.52, customer 0.51 (batched windows; sequential decoding 0.44, 0.46)
    assert leg_wer(tr, t, role_label(diar, "agent"), "agent") <= 0.60
    assert leg_wer(tr, t, role_label(diar, "customer"), "customer") <= 0.55


@model
def test_words_lie_inside_the_true_turns_of_their_speaker(empathic):
    _, diar, tr = empathic
    segs = truth("en_empathic")["segments"]
    words = [(diar.roles[s.speaker], w) for s in tr.segments for w in s.words]
    assert len(words) > 150
    inside = [any(t["speaker"] == role and t["start"] - 0.3 <= w.start and w.end <= t["end"] + 0.3 for t in segs)
              for role, w in words]
    assert np.mean(inside) >= 0.95
    assert all(0.0 <= w.probability <= 1.0 and w.start <= w.end for _, w in words)


@model
def test_backchannels_survive_in_the_transcript(empathic):
    _, diar, tr = empathic
    agent = role_label(diar, "agent")
    bcs = [s for s in truth("en_empathic")["segments"] if s["backchannel"] and s["speaker"] == "agent"]
    found = [any(s.speaker == agent and s.start < b["end"] + 0.3 and s.end > b["start"] - 0.3 for s in tr.segments)
             for b in bcs]
    assert len(bcs) >= 2 and np.mean(found) >= 0.5


@model
def test_mono_words_go_to_the_speaker_who_was_talking():
    """Mono: the downmixed call decoded once, words assigned by overlap with the (true) diarisation."""
    stereo = load(CALLS / "en_empathic.wav")
    call = Audio(stereo.mono()[None, :], stereo.sample_rate, "mono")
    diar = diarization_from_rttm(next(iter(read_rttm(CALLS / "en_empathic.rttm").values())), call.duration_s)
    tr = transcribe(call, diar, model="tiny.en", language="en")
    segs = truth("en_empathic")["segments"]

    def true_speaker(t: float) -> set[str]:
        return {s["speaker"] for s in segs if s["start"] - 0.1 <= t <= s["end"] + 0.1}

    words = [(s.speaker, w) for s in tr.segments for w in s.words]
    right = [spk in true_speaker(0.5 * (w.start + w.end)) for spk, w in words]
    assert len(words) > 150 and np.mean(right) >= 0.95
    # segments never mix speakers and are ordered
    assert all(s.start <= s.end for s in tr.segments)
    assert [s.start for s in tr.segments] == sorted(s.start for s in tr.segments)


@model
def test_danish_call_with_auto_language_is_transcribed_as_danish():
    call = load(CALLS / "da_call.wav")
    diar = diarize(call, config=Config())
    tr = transcribe(call, diar, model="tiny.en", language="auto")
    assert tr.language == "da"
    assert set(tr.model["languages"].values()) == {"da"}
    assert set(tr.model["used"].values()) == {"base"}
    assert any("--model base" in w for w in tr.warnings)
    t = truth("da_call")
    # measured: agent 0.90 (1.02 before repetition loops were dropped), customer 0.73 — base on espeak
    # Danish is poor; this bound only catches collapse
    cfg = Config().transcribe
    for role in ("agent", "customer"):
        label = role_label(diar, role)
        assert leg_wer(tr, t, label, role) <= 1.3
        # base loops on this leg ("hvor mener" 8 times in a row); no such run may reach the transcript
        words = [list(s.words) for s in tr.segments if s.speaker == label]
        assert remove_loops(words, cfg.loop_min_repeats, cfg.loop_max_words)[1] == []


@model
def test_same_call_gives_the_same_transcript_in_every_fresh_process():
    """The temperature fallback samples; the fixed CTranslate2 seed makes reruns reproducible (the
    Mandarin call differed between unseeded runs)."""
    outs = [subprocess.run([sys.executable, "-m", "voicecx.cli", "transcribe", str(CALLS / "zh_call.wav"),
                            "--model", "base", "--language", "zh", "--json", "-"],
                           capture_output=True, text=True, timeout=180, cwd=ROOT) for _ in range(2)]
    assert all(o.returncode == 0 for o in outs), outs[0].stderr
    assert json.loads(outs[0].stdout)["segments"] and outs[0].stdout == outs[1].stdout


def test_pooled_detection_picks_the_language_both_legs_support():
    """Measured on ko_call: agent leg says zh > ko, customer leg ko >> zh; pooled, Korean wins."""
    cfg = TranscribeConfig()
    logs = lambda **p: {c: float(np.log(p.get(c, 1e-4))) for c in cfg.languages}  # noqa: E731
    detected = {"L": LegLanguage("ja", 0.0245, logs(en=0.0245, zh=0.0457, ko=0.0249, da=0.0002)),
                "R": LegLanguage("th", 0.0082, logs(en=0.0082, zh=0.002, ko=0.0153, da=0.0008))}
    assert choose_languages(detected, {"L": 16.0, "R": 7.6}, cfg) == {"L": "ko", "R": "ko"}
    detected["R"] = LegLanguage("en", 0.92, logs(en=0.92))
    assert choose_languages(detected, {"L": 16.0, "R": 7.6}, cfg) == {"L": "zh", "R": "en"}


# ----------------------------------------------------------------------------- models and bad input

def test_unknown_model_is_a_one_line_model_not_found():
    with pytest.raises(ModelNotFound, match="unknown Whisper model 'large-v9'.*tiny.en or base") as e:
        resolve_model("large-v9")
    assert "\n" not in str(e.value)


def test_directory_without_a_model_is_model_not_found(tmp_path: Path):
    with pytest.raises(ModelNotFound, match="not a CTranslate2 Whisper model directory"):
        resolve_model(str(tmp_path))


@model
def test_base_model_is_joined_once_into_the_cache(tmp_path: Path):
    d = base_model_dir(tmp_path)
    assert (d / "model.bin").stat().st_size == BASE_MODEL_BYTES
    assert {p.name for p in d.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    mtime = (d / "model.bin").stat().st_mtime_ns
    assert base_model_dir(tmp_path) == d and (d / "model.bin").stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == ["whisper-base"]  # no temp leftovers
    assert resolve_model(str(d)).multilingual and not resolve_model("tiny.en").multilingual


@model
def test_silent_call_gives_no_segments():
    call = Audio(np.zeros((2, 8000 * 3), np.float32), 8000, "silence")
    diar = diarize(call, config=Config())
    tr = transcribe(call, diar, model="tiny.en", language="auto")
    assert tr.segments == [] and tr.warnings == ["no speech to transcribe"]


def test_normalize_text_spells_numbers_and_drops_punctuation():
    assert normalize_text("Yes, exactly. Two payments of $49!") == "yes exactly two payments of forty nine dollars"
    assert normalize_text("I've got it — OK?") == "i've got it ok"


# ----------------------------------------------------------------------------- CLI

@model
def test_cli_prints_the_design_json_shape():
    out = subprocess.run([sys.executable, "-m", "voicecx.cli", "transcribe", str(CALLS / "da_call.wav"),
                          "--model", "base", "--language", "da", "--json", "-"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"language", "segments"} and data["language"] == "da"
    assert {s["speaker"] for s in data["segments"]} == {"agent", "customer"}
    for s in data["segments"]:
        assert set(s) == {"speaker", "start", "end", "text", "words"} and s["start"] <= s["end"]
        for w in s["words"]:
            assert set(w) == {"word", "start", "end", "probability"}


def test_cli_unknown_model_exits_2_with_one_line():
    out = subprocess.run([sys.executable, "-m", "voicecx.cli", "transcribe", str(CALLS / "da_call.wav"),
                          "--model", "nope", "--json", "-"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "nope" in out.stderr


def test_english_confidence_is_the_median_word_probability_and_needs_five_words() -> None:
    from voicecx.transcribe import english_confidence
    from voicecx.types import Word

    words = [Word("w", 0.0, 0.1, p) for p in (0.9, 0.8, 0.2, 0.7, 0.95)]
    assert english_confidence([words[:2], words[2:]]) == pytest.approx(0.8)
    assert english_confidence([words[:4]]) == 0.0  # too few words to judge: ask the detector


# ----------------------------------------------------------------------------- packed windows (batched decoding)

def _joined(durations: list[float], gap_s: float = 0.5) -> Joined:
    """Regions of noise of the given lengths, 1 s apart in the call, joined with ``gap_s`` silences."""
    rng = np.random.default_rng(1)
    regions, t = [], 0.0
    for d in durations:
        regions.append((t, t + d))
        t += d + 1.0
    x = (0.1 * rng.standard_normal(int((t + 1) * 16000))).astype(np.float32)
    return join_regions(x, 16000, regions, gap_s)


def test_windows_hold_whole_regions_and_never_exceed_the_limit():
    durations = [3.0, 7.5, 1.2, 12.0, 4.0, 9.0, 2.5, 6.0, 0.8]
    j = _joined(durations)
    windows = pack_windows(j, 28.0)
    assert all(b - a <= 28.0 + 1e-9 for a, b in windows)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(windows, windows[1:]))
    for s, d in zip(j.starts, durations):  # every region inside exactly one window
        assert sum(a - 1e-9 <= s and s + d <= b + 1e-9 for a, b in windows) == 1
    assert len(windows) == 2  # 46.5 s of speech + gaps packs into two windows, not one per region


def test_a_region_longer_than_a_window_is_cut_at_its_quietest_point():
    sr = 16000
    t = np.arange(int(40 * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    x[int(25.0 * sr):int(25.1 * sr)] = 0.0  # a pause inside a 40 s region
    j = join_regions(x, sr, [(0.0, 40.0)], 0.5)
    windows = pack_windows(j, 28.0)
    assert len(windows) == 2 and abs(windows[0][1] - 25.05) < 0.06 and windows[1][0] == windows[0][1]


def _words(text: str, t0: float = 0.0) -> list:
    from voicecx.types import Word

    return [Word(f" {w}", t0 + 0.3 * i, t0 + 0.3 * i + 0.25, 0.5) for i, w in enumerate(text.split())]


def test_a_phrase_repeated_four_times_in_a_row_is_a_loop_and_keeps_one_copy_across_segments():
    groups = [_words("taft sabi hvor mener hvor mener, hvor"), _words("Mener hvor mener hvor mener. Taft sabi", 3.0)]
    out, loops = remove_loops(groups, min_repeats=4, max_words=8)
    assert [" ".join(w.word.strip() for w in g) for g in out] == ["taft sabi hvor mener", "Taft sabi"]
    assert [(lp.phrase, lp.repeats, lp.start) for lp in loops] == [("hvor mener", 5, pytest.approx(0.6))]
    assert out[1][0].start == pytest.approx(3.0 + 0.3 * 5)  # the kept words keep their own timestamps


def test_real_repetition_is_not_a_loop():
    for text in ("no no no I said no", "it's four four seven two nine one", "thank you thank you thank you so much",
                 "bye . . . . bye"):
        groups = [_words(text)]
        assert remove_loops(groups, min_repeats=4, max_words=8) == (groups, [])


def test_the_longest_repeated_span_is_removed_and_single_characters_count():
    out, loops = remove_loops([_words("鋼 林 鋼 林 鋼 林 鋼 林 鋪路")], min_repeats=4, max_words=8)
    assert [w.word.strip() for w in out[0]] == ["鋼", "林", "鋪路"]
    assert [(lp.repeats, len(lp.phrase.split())) for lp in loops] == [(4, 2)]
    out, loops = remove_loops([_words("a b a b a b a b a b c")], min_repeats=4, max_words=1)  # phrases of 1 word only
    assert loops == [] and len(out[0]) == 11


def test_compression_ratio_flags_a_repetition_loop_not_normal_speech():
    assert compression_ratio("ma'am, " * 40) > 2.4
    assert compression_ratio("Thank you for calling Northwind Mobile, my name is Sarah, how can I help?") < 2.4
    assert compression_ratio("") == 0.0


@model
def test_sequential_decoding_is_still_available_and_accurate(empathic):
    import dataclasses

    call, diar, _ = empathic
    cfg = Config()
    cfg = dataclasses.replace(cfg, transcribe=dataclasses.replace(cfg.transcribe, batch_size=1))
    tr = transcribe(call, diar, model="tiny.en", language="en", config=cfg)
    t = truth("en_empathic")
    # measured: agent 0.30, customer 0.34
    assert leg_wer(tr, t, role_label(diar, "agent"), "agent") <= 0.40
    assert leg_wer(tr, t, role_label(diar, "customer"), "customer") <= 0.42


# ----------------------------------------------------------------------------- clean read speech

@model
def test_clean_read_speech_through_the_cli_has_low_wer(tmp_path: Path):
    """The JFK clip Whisper runtimes test with (fetched and hash-checked by benchmarks/clean_speech.py)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import clean_speech

    clip = clean_speech.fetch()
    phone = clean_speech.telephone_copy(clip, tmp_path / "jfk8k.wav")
    ref = normalize_text(clean_speech.REFERENCE)
    wers = {}
    for name, path in (("16k", clip), ("8k", phone)):
        text, _, lang = clean_speech.transcribe_cli(path, "tiny.en")
        assert lang == "en"
        wers[name] = jiwer.wer(ref, normalize_text(text) or "-")
    # measured: 0.0 as recorded, 0.045 over the telephone channel (one word of 22)
    assert wers["16k"] <= 0.10, wers
    assert wers["8k"] <= 0.14, wers


def test_a_window_cut_out_of_a_long_region_keeps_its_call_times():
    sr = 16000
    t = np.arange(int(40 * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    x[int(25.0 * sr):int(25.1 * sr)] = 0.0
    j = join_regions(np.concatenate([np.zeros(5 * sr, np.float32), x]), sr, [(5.0, 45.0)], 0.5)
    (a1, b1), (a2, b2) = pack_windows(j, 28.0)
    tail = _subset(j, a2, b2)  # the second half of the one 40 s turn
    assert len(tail.regions) == 1 and abs(tail.regions[0][0] - (5.0 + a2)) < 1e-6 and abs(tail.regions[0][1] - 45.0) < 1e-6
    assert abs(tail.to_call(0.0) - (5.0 + a2)) < 1e-6 and abs(len(tail.samples) / sr - (b2 - a2)) < 1e-3
    head = _subset(j, a1, b1)
    assert abs(head.regions[0][1] - (5.0 + b1)) < 1e-6  # clipped at the window edge
