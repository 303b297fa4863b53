#!/usr/bin/env python3
"""Regenerate the voicecx demo calls from scripted timelines.

Every call is a stereo, 8 kHz, 16-bit PCM WAV recorded like a contact-centre
recorder: left channel = agent leg, right channel = customer leg.  Each utterance
is rendered with espeak-ng, band-limited to the telephone band and resampled to
8 kHz with sox, trimmed to its real speech extent (measured on the rendered
samples) and placed on the timeline.  The legs then get a little echo of each
other (bleed), line hiss and hum, and are band-limited once more with sox.

Outputs, for every call NAME in ``samples/calls/``:

* ``NAME.wav``        the recording
* ``NAME.truth.json`` ground truth: segments (exact speech extents), turn-taking
                      events (interruptions, backchannels, dead air, hold, overtalk),
                      where each scripted text behaviour (DESIGN §3.3 ids) is said,
                      customer cues and needs
* ``NAME.rttm``       the segments as standard RTTM (labels ``agent``/``customer``)

and the generated tables in ``samples/README.md`` (between the GENERATED markers).

Deterministic: fixed seeds, no wall-clock input; the same espeak-ng/sox versions give
byte-identical files.  Needs only numpy + soundfile and the ``espeak-ng`` and ``sox``
commands.  Usage::

    python samples/make_samples.py            # rewrites samples/calls/ and the README tables
    python samples/make_samples.py --out DIR  # somewhere else (README left alone)
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 8000
BAND = "300-3400"
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "calls"
README = HERE / "README.md"

# float32 little-endian raw mono at 8 kHz, as sox format options
RAW8K = ["-t", "raw", "-r", str(SR), "-e", "floating-point", "-b", "32", "-L", "-c", "1"]

AGENT, CUSTOMER = "agent", "customer"
LEGS = {AGENT: 0, CUSTOMER: 1}

TEXT_BEHAVIOURS = [
    "warm_opening", "personal_voice", "apology", "validation", "restating", "ownership",
    "action_now", "timeframe", "anything_else", "thanks_close", "clean_register",
]

# levels (dBFS, RMS over the active frames of an utterance)
AGENT_LEVEL = -20.0
CUSTOMER_LEVEL = -19.0
LEVEL_JITTER_DB = 1.5
HISS_DBFS = -55.0          # white hiss before the band filter (≈ -56 after it)
HUM_DBFS = (-62.0, -68.0)  # 50 Hz and 150 Hz components (RMS)
HOLD_MUSIC_DBFS = -30.0
TRIM_REL_DB = -30.0        # speech extent = frames within 30 dB of the loudest 5 ms frame


# --------------------------------------------------------------------------- script model
@dataclass
class Utt:
    """One utterance of the script.

    ``at`` places it: ("at", t) absolute; ("after", gap) gap seconds after the latest
    end so far; ("overlap", s[, ref]) starting s seconds before ref ends; ("into", s[, ref])
    s seconds after ref starts.  ref defaults to the previous item.
    """
    spk: str
    text: str
    at: tuple = ("after", 0.4)
    id: str | None = None
    bc: bool = False                  # backchannel
    overlap: bool = False             # (backchannels) expected to overlap the other's speech
    interrupts: str | None = None     # id of the utterance this one interrupts
    yielded: bool | None = None       # did the interrupted speaker stop?
    tags: dict = field(default_factory=dict)   # behaviour id -> quote | [quotes]
    cues: dict = field(default_factory=dict)   # customer cue -> quote | [quotes]
    pitch: int = 0                    # added to the voice's pitch
    rate: int = 0                     # added to the voice's rate
    gain_db: float = 0.0              # scripted level difference
    smile: bool = False               # raised pitch on a warm phrase


@dataclass
class Hold:
    """Hold music (sox synth tones) on a leg; not speech."""
    seconds: float
    at: tuple = ("after", 0.5)
    spk: str = AGENT
    id: str = "hold"


@dataclass
class Call:
    id: str
    language: str
    kind: str
    customer_needs: str
    voices: dict                      # role -> (espeak voice, rate, pitch)
    script: list
    seed: int
    description: str
    expected: dict
    bleed: dict = field(default_factory=lambda: {
        # leg that receives the echo -> (gain dB, delay ms) of the other leg
        AGENT: (-24.0, 22.0), CUSTOMER: (-25.0, 17.0)})
    leg_gain_db: dict = field(default_factory=lambda: {AGENT: 0.0, CUSTOMER: 0.0})


A, C = AGENT, CUSTOMER

# --------------------------------------------------------------------------- the calls
EN_EMPATHIC = Call(
    id="en_empathic", language="en", kind="empathic", customer_needs="validation", seed=101,
    description="Double charge on the phone bill. Angry, I-language customer; warm, personal "
                "agent who apologises, validates, restates, acts now, gives a timeframe and "
                "listens with well-placed backchannels. No interruptions, no dead air.",
    voices={A: ("en-us+f3", 178, 55), C: ("en-gb+m3", 185, 35)},
    expected={"good": ["smile", "listening", "no_interrupting", "responsiveness", "pace",
                       *TEXT_BEHAVIOURS],
              "poor": []},
    script=[
        Utt(A, "Thank you for calling Northwind Mobile, my name is Sarah.", ("at", 0.5), "a1",
            smile=True, pitch=12,
            tags={"warm_opening": "Thank you for calling Northwind Mobile",
                  "personal_voice": "my name is Sarah"}),
        Utt(A, "How can I help you today?", ("after", 0.25), "a2", smile=True, pitch=12,
            tags={"warm_opening": "How can I help you today?"}),
        Utt(C, "Hi. I'm so frustrated right now.", ("after", 0.6), "c1", gain_db=2,
            cues={"i_language": "I'm so frustrated"}),
        Utt(A, "Mm-hmm.", ("after", 0.15), "bc1", bc=True, rate=10),
        Utt(C, "I was charged twice for my phone bill this month, and I feel like nobody "
               "listens to me.", ("after", 0.2), "c2", gain_db=2,
            cues={"i_language": "I feel like nobody listens to me"}),
        Utt(A, "Right.", ("overlap", 0.35, "c2"), "bc2", bc=True, overlap=True),
        Utt(C, "I called last week and nothing happened.", ("after", 0.3),
            "c3", gain_db=1),
        Utt(A, "I'm really sorry about that.", ("after", 0.5), "a3", smile=True, pitch=8,
            tags={"apology": "I'm really sorry about that", "personal_voice": "I'm"}),
        Utt(A, "I can see why you'd feel frustrated.",
            ("after", 0.25), "a4",
            tags={"validation": "I can see why you'd feel frustrated"}),
        Utt(A, "So what you're telling me is that you were charged twice for the same bill "
               "this month. Did I get that right?", ("after", 0.3), "a5",
            tags={"restating": ["So what you're telling me is", "Did I get that right?"]}),
        Utt(C, "Yes, exactly. Two payments of forty nine dollars.", ("after", 0.4), "c4"),
        Utt(A, "Okay. I'm checking your account right now.", ("after", 0.4), "a6",
            tags={"action_now": "I'm checking your account right now",
                  "ownership": "I'm checking your account"}),
        Utt(A, "I can see both payments, and I'll take care of this for you personally.",
            ("after", 2.2), "a7",
            tags={"ownership": "I'll take care of this for you personally",
                  "personal_voice": "I'll take care of this for you"}),
        Utt(C, "Good. I just want my money back.", ("after", 0.5), "c5", gain_db=-1),
        Utt(A, "I see.", ("after", 0.15), "bc3", bc=True),
        Utt(C, "I can't afford to lose fifty dollars every month.", ("after", 0.2), "c6",
            gain_db=-5),  # customer turned away from the phone: level dip
        Utt(A, "Of course. I've just issued a refund for the second payment.", ("after", 0.5),
            "a8", tags={"action_now": "I've just issued a refund"}),
        Utt(A, "You'll have the refund within three business days.", ("after", 0.25), "a9",
            tags={"timeframe": "within three business days"}),
        Utt(C, "Thank you, that really helps.", ("after", 0.5), "c7", pitch=5, rate=-10),
        Utt(A, "Is there anything else I can help you with?", ("after", 0.4), "a10", smile=True,
            pitch=8, tags={"anything_else": "Is there anything else I can help you with?"}),
        Utt(C, "No, that's all. Thanks.", ("after", 0.5), "c8", rate=-10),
        Utt(A, "Thank you for your patience, and have a great day!", ("after", 0.4), "a11", smile=True, pitch=12,
            tags={"thanks_close": "Thank you for your patience"}),
    ],
)

EN_COLD = Call(
    id="en_cold", language="en", kind="cold", customer_needs="ownership", seed=202,
    description="The same double charge. You-language customer; cold, corporate agent with "
                "fillers who says 'calm down', deflects to billing, interrupts twice "
                "(once the customer yields, once not), leaves 8 s of dead air and puts the "
                "customer on hold (music on the agent leg). No apology, no timeframe.",
    voices={A: ("en-us+f3", 192, 42), C: ("en-gb+m3", 190, 38)},
    leg_gain_db={A: -2.0, C: 1.0},
    bleed={A: (-23.0, 26.0), C: (-25.0, 19.0)},
    expected={"good": [],
              "poor": ["smile", "listening", "no_interrupting", "responsiveness",
                       *TEXT_BEHAVIOURS]},
    script=[
        Utt(A, "Account number.", ("at", 0.5), "a1"),
        Utt(C, "Yeah, hi. You people charged me twice this month. Why?",
            ("after", 0.7), "c1", gain_db=2, cues={"you_language": "You people"}),
        Utt(A, "Uh-huh.", ("into", 1.5, "c1"), "bc1", bc=True, overlap=True),
        Utt(A, "Uh, account number, please.", ("after", 0.6), "a2",
            tags={"clean_register_negative": "Uh"}),
        Utt(C, "It's four four seven, two nine one.", ("after", 0.5), "c2"),
        # ---- 8 s of dead air: nobody speaks
        Utt(C, "Hello? Are you still there?", ("after", 7.5), "c3", gain_db=2),
        Utt(A, "Yeah, um, the system is like, really slow today.", ("after", 0.9), "a3",
            tags={"clean_register_negative": ["um", "like"]}),
        Utt(C, "Your company always does this. Every single month there is a new charge, "
               "and nobody fixes anything.", ("after", 0.4), "c4",
            gain_db=3, cues={"you_language": "Your company always does this"}),
        # interruption the customer ignores (keeps talking)
        Utt(A, "Calm down, sir, calm down.", ("into", 2.6, "c4"), "a4", interrupts="c4",
            yielded=False, gain_db=1, tags={"dismissal": "Calm down"}),
        Utt(A, "We can see two payments on the account.", ("after", 0.5), "a5",
            tags={"personal_voice_negative": "We can see"}),
        Utt(C, "Okay.", ("after", 0.15), "bc2", bc=True),
        Utt(A, "The company policy is, uh, refunds are handled by billing.",
            ("after", 0.2), "a6",
            tags={"personal_voice_negative": "The company policy",
                  "clean_register_negative": "uh"}),
        # the customer is cut off and stops (yields)
        Utt(C, "Can you refund it or not? Because last time your colleague told me that",
            ("after", 0.5), "c5", gain_db=2,
            cues={"you_language": "your colleague"}),
        Utt(A, "That's not my department. You need to call billing.", ("overlap", 0.8, "c5"),
            "a7", interrupts="c5", yielded=True,
            tags={"ownership_negative": ["That's not my department",
                                         "You need to call billing"]}),
        Utt(C, "Are you serious? Can you at least transfer me?", ("after", 0.5), "c6", gain_db=3),
        Utt(A, "Hold on.", ("after", 0.5), "a8"),
        Hold(6.0, ("after", 0.5)),
        Utt(A, "Uh, yeah, billing is closed. We, like, can't do anything today.", ("after", 0.6), "a9",
            tags={"personal_voice_negative": "We, like, can't do anything",
                  "clean_register_negative": ["Uh", "like"]}),
        Utt(C, "Unbelievable. Your company is a joke.", ("after", 0.5), "c7", gain_db=3,
            cues={"you_language": "Your company is a joke"}),
        Utt(A, "Okay. The company will, um, look into it at some point.", ("after", 0.6),
            "a10", tags={"personal_voice_negative": "The company will",
                         "clean_register_negative": "um",
                         "timeframe_negative": "at some point"}),
    ],
)

SHORT_EXPECTED = {"good": ["no_interrupting", "responsiveness", "warm_opening", "apology",
                           "action_now", "timeframe", "thanks_close"],
                  "poor": []}

DA_CALL = Call(
    id="da_call", language="da", kind="short", customer_needs="neutral", seed=303,
    description="Danish: dobbelt opkrævning. Greeting with thanks, complaint, apology, "
                "action now, timeframe (tre hverdage), thanks at the close.",
    voices={A: ("da+f3", 170, 58), C: ("da+m3", 175, 35)},
    expected=SHORT_EXPECTED,
    script=[
        Utt(A, "Tak fordi du ringede til Nordvind Mobil. Hvad kan jeg hjælpe dig med?", ("at", 0.5), "a1", smile=True, pitch=10,
            tags={"warm_opening": ["Tak fordi du ringede", "Hvad kan jeg hjælpe dig med"]}),
        Utt(C, "Hej. Jeg er blevet trukket to gange for min regning.",
            ("after", 0.5), "c1"),
        Utt(A, "Det er jeg virkelig ked af. Jeg kigger på din konto lige nu.", ("after", 0.4),
            "a2", tags={"apology": "Det er jeg virkelig ked af",
                        "action_now": "Jeg kigger på din konto lige nu"}),
        Utt(C, "Ja.", ("after", 0.15), "bc1", bc=True),
        Utt(A, "Du får pengene tilbage inden for tre hverdage.", ("after", 0.2), "a3",
            tags={"timeframe": "inden for tre hverdage"}),
        Utt(C, "Okay, tak for hjælpen.", ("after", 0.4), "c3"),
        Utt(A, "Selv tak, og tak fordi du ringede.", ("after", 0.4), "a4",
            smile=True, pitch=10, tags={"thanks_close": "tak fordi du ringede"}),
    ],
)

ZH_CALL = Call(
    id="zh_call", language="zh", kind="short", customer_needs="neutral", seed=404,
    description="Mandarin: 账单被重复扣款. Greeting with thanks, complaint, apology, action now, "
                "timeframe (三个工作日内), thanks at the close.",
    # cmn-latn-pinyin is espeak-ng's Mandarin voice that reads Han characters through their
    # pinyin with Mandarin phonemes; plain "cmn" speaks many common characters as English
    # letters + tone digits ("nin two").
    voices={A: ("cmn-latn-pinyin+f3", 200, 58), C: ("cmn-latn-pinyin+m3", 205, 35)},
    expected=SHORT_EXPECTED,
    script=[
        Utt(A, "您好，感谢您致电北风移动。请问有什么可以帮您？", ("at", 0.5), "a1",
            smile=True, pitch=10, tags={"warm_opening": ["感谢您致电", "有什么可以帮您"]}),
        Utt(C, "你好，我的话费被扣了两次。", ("after", 0.5), "c1"),
        Utt(A, "非常抱歉。我现在马上帮您查一下。", ("after", 0.4), "a2",
            tags={"apology": "非常抱歉", "action_now": "我现在马上帮您查一下"}),
        Utt(C, "嗯。", ("after", 0.15), "bc1", bc=True),
        Utt(A, "多扣的钱会在三个工作日内退给您。", ("after", 0.2), "a3",
            tags={"timeframe": "三个工作日内"}),
        Utt(C, "好的，谢谢你。", ("after", 0.4), "c3"),
        Utt(A, "不客气，感谢您的来电，再见。", ("after", 0.4), "a4", smile=True, pitch=10,
            tags={"thanks_close": "感谢您的来电"}),
    ],
)

KO_CALL = Call(
    id="ko_call", language="ko", kind="short", customer_needs="neutral", seed=505,
    description="Korean: 요금 이중 청구. Greeting with thanks, complaint, apology, action now, "
                "timeframe (삼 일 이내), thanks at the close.",
    voices={A: ("ko+f3", 195, 58), C: ("ko+m3", 200, 35)},
    expected=SHORT_EXPECTED,
    script=[
        Utt(A, "노스윈드 모바일에 전화해 주셔서 감사합니다. 무엇을 도와드릴까요?",
            ("at", 0.5), "a1", smile=True, pitch=10,
            tags={"warm_opening": ["전화해 주셔서 감사합니다", "무엇을 도와드릴까요"]}),
        Utt(C, "안녕하세요. 요금이 두 번 청구됐어요.", ("after", 0.5), "c1"),
        Utt(A, "정말 죄송합니다. 지금 바로 확인해 드리겠습니다.",
            ("after", 0.4), "a2",
            tags={"apology": "정말 죄송합니다", "action_now": "지금 바로 확인해 드리겠습니다"}),
        Utt(C, "네.", ("after", 0.15), "bc1", bc=True),
        Utt(A, "환불은 삼 일 이내에 처리됩니다.", ("after", 0.2), "a3",
            tags={"timeframe": "삼 일 이내에"}),
        Utt(C, "알겠습니다, 감사합니다.", ("after", 0.4), "c3"),
        Utt(A, "전화해 주셔서 감사합니다.", ("after", 0.4), "a4", smile=True,
            pitch=10, tags={"thanks_close": "전화해 주셔서 감사합니다"}),
    ],
)

CALLS = [EN_EMPATHIC, EN_COLD, DA_CALL, ZH_CALL, KO_CALL]


# --------------------------------------------------------------------------- audio helpers
def _run(cmd: list[str], data: bytes | None = None) -> bytes:
    proc = subprocess.run(cmd, input=data, capture_output=True)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err[-1] if err else ''}")
    return proc.stdout


def _f32(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


def render_speech(text: str, voice: str, rate: int, pitch: int, word_gap: int = 0) -> np.ndarray:
    """espeak-ng → sox (telephone band, 8 kHz) → float64 samples.

    ``word_gap`` adds that many 10-ms units of pause between words (espeak-ng ``-g``); the demo
    calls use 0 (espeak's default), benchmarks/asr_heldout.py uses it to test intelligibility.
    """
    gap = ["-g", str(word_gap)] if word_gap else []
    wav = _run(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), *gap, "--stdout", text])
    raw = _run(["sox", "-V1", "-t", "wav", "-", *RAW8K, "-", "sinc", BAND, "rate", "-v", str(SR)],
               wav)
    return _f32(raw)


def bandlimit(x: np.ndarray) -> np.ndarray:
    """Telephone band filter of a whole leg (sox sinc; linear phase, no delay)."""
    y = _f32(_run(["sox", "-V1", *RAW8K, "-", *RAW8K, "-", "sinc", BAND],
                  x.astype("<f4").tobytes()))
    assert len(y) == len(x)
    return y


def frame_db(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame
    e = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)
    return 10 * np.log10(e + 1e-12)


def trim_and_level(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    """Cut to the speech extent (frames within TRIM_REL_DB of the loudest 5 ms frame),
    then scale so the active-frame RMS is level_dbfs (peak kept below -1 dBFS)."""
    frame = SR // 200
    db = frame_db(x, frame)
    active = np.nonzero(db > db.max() + TRIM_REL_DB)[0]
    a, b = active[0] * frame, (active[-1] + 1) * frame
    y = x[a:b].copy()
    fade = int(0.005 * SR)
    ramp = np.linspace(0.0, 1.0, fade)
    y[:fade] *= ramp
    y[-fade:] *= ramp[::-1]
    y *= 10 ** ((level_dbfs - active_level(y)) / 20)
    peak = np.max(np.abs(y))
    if peak > 10 ** (-1 / 20):
        y *= 10 ** (-1 / 20) / peak
    return y


def active_level(y: np.ndarray) -> float:
    """RMS (dBFS) over the frames within 30 dB of the loudest 5 ms frame."""
    db = frame_db(y, SR // 200)
    return float(10 * np.log10(np.mean(10 ** (db[db > db.max() - 30] / 10))))


def hold_music(seconds: float, level_dbfs: float) -> np.ndarray:
    """A little plucked melody over a sine bass, from sox synth, quiet."""
    melody = ["C5", "E5", "G5", "E5", "F5", "A5", "G5", "E5", "D5", "F5", "E5", "C5"]
    bass = ["C3", "C3", "C3", "C3", "F3", "F3", "C3", "C3", "G3", "G3", "C3", "C3"]
    dur = seconds / len(melody)
    parts = []
    for m, b in zip(melody, bass):
        raw = _run(["sox", "-V1", "-n", *RAW8K, "-", "synth", f"{dur:.4f}", "pluck", m,
                    "synth", f"{dur:.4f}", "sine", "mix", b, "fade", "q", "0.01", f"{dur:.4f}",
                    "0.05"])
        parts.append(_f32(raw))
    y = np.concatenate(parts)
    rms = np.sqrt(np.mean(y ** 2))
    return y * 10 ** (level_dbfs / 20) / rms


def db_rms(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x ** 2) + 1e-12))


# --------------------------------------------------------------------------- building a call
def _quotes(v) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


def _overlap(a, b) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def build(call: Call) -> tuple[np.ndarray, dict]:
    rng = np.random.default_rng(call.seed)
    placed: dict[str, dict] = {}
    clips: list[tuple[str, int, np.ndarray]] = []   # (leg role, start sample, samples)
    anchor = 0.0
    prev = None
    for item in call.script:
        kind, val, *ref = item.at
        r = placed[ref[0]] if ref else prev
        if kind == "at":
            start = val
        elif kind == "after":
            start = anchor + val
        elif kind == "overlap":
            start = r["end"] - val
        elif kind == "into":
            start = r["start"] + val
        else:
            raise ValueError(kind)
        s0 = int(round(start * SR))
        if isinstance(item, Hold):
            y = hold_music(item.seconds, HOLD_MUSIC_DBFS)
            rec = {"id": item.id, "speaker": item.spk, "start": s0 / SR,
                   "end": (s0 + len(y)) / SR, "hold": True}
        else:
            voice, rate, pitch = call.voices[item.spk]
            rate, pitch = rate + item.rate, pitch + item.pitch
            base = AGENT_LEVEL if item.spk == AGENT else CUSTOMER_LEVEL
            level = (base + call.leg_gain_db[item.spk] + item.gain_db
                     + rng.uniform(-LEVEL_JITTER_DB, LEVEL_JITTER_DB))
            y = trim_and_level(render_speech(item.text, voice, rate, pitch), level)
            level = active_level(y)  # what it really is (the peak limiter may have acted)
            rec = {"id": item.id, "speaker": item.spk, "start": s0 / SR,
                   "end": (s0 + len(y)) / SR, "text": item.text, "backchannel": item.bc,
                   "voice": f"{voice} -s {rate} -p {pitch}", "level_dbfs": round(level, 1),
                   "item": item}
        clips.append((item.spk, s0, y))
        placed[item.id] = rec
        anchor = max(anchor, rec["end"])
        prev = rec

    duration = anchor + 0.8
    n = int(round(duration * SR))
    direct = {AGENT: np.zeros(n), CUSTOMER: np.zeros(n)}
    for role, s0, y in clips:
        direct[role][s0: s0 + len(y)] += y

    # legs: direct + echo of the other leg + hiss → telephone band → + hum
    legs = {}
    t = np.arange(n) / SR
    for role, other in ((AGENT, CUSTOMER), (CUSTOMER, AGENT)):
        gain_db, delay_ms = call.bleed[role]
        d = int(round(delay_ms * SR / 1000))
        echo = np.zeros(n)
        echo[d:] = direct[other][: n - d] * 10 ** (gain_db / 20)
        hiss = rng.standard_normal(n) * 10 ** (HISS_DBFS / 20)
        x = bandlimit(direct[role] + echo + hiss)
        wobble = 1 + 0.2 * np.sin(2 * np.pi * 0.13 * t + rng.uniform(0, 2 * np.pi))
        hum = (np.sqrt(2) * 10 ** (HUM_DBFS[0] / 20) * np.sin(2 * np.pi * 50 * t)
               + np.sqrt(2) * 10 ** (HUM_DBFS[1] / 20) * np.sin(2 * np.pi * 150 * t + 0.7))
        legs[role] = x + hum * wobble
    stereo = np.stack([legs[AGENT], legs[CUSTOMER]], axis=1)
    if np.max(np.abs(stereo)) >= 1.0:
        raise RuntimeError(f"{call.id}: clipping")
    pcm = np.round(stereo * 32767).astype(np.int16)
    truth = make_truth(call, placed, n)
    return pcm, truth


def make_truth(call: Call, placed: dict, n: int) -> dict:
    segs = sorted((r for r in placed.values() if not r.get("hold")),
                  key=lambda r: (r["start"], r["speaker"]))
    holds = [r for r in placed.values() if r.get("hold")]
    by_id = {r["id"]: r for r in segs}
    R = lambda v: round(float(v), 3)  # noqa: E731
    events: list[dict] = []

    # same leg never overlaps itself
    for role in LEGS:
        mine = [r for r in segs if r["speaker"] == role]
        for a, b in zip(mine, mine[1:]):
            if b["start"] < a["end"]:
                raise RuntimeError(f"{call.id}: {a['id']} and {b['id']} overlap on one leg")

    for r in segs:
        it: Utt = r["item"]
        others = [o for o in segs if o["speaker"] != r["speaker"]]
        if it.bc:
            dur = r["end"] - r["start"]
            if dur > 1.0:
                raise RuntimeError(f"{call.id}: backchannel {it.id} lasts {dur:.2f} s")
            ov = any(_overlap((r["start"], r["end"]), (o["start"], o["end"])) > 0 for o in others)
            if ov != it.overlap:
                raise RuntimeError(f"{call.id}: backchannel {it.id} overlap={ov}, scripted "
                                   f"{it.overlap}")
            events.append({"type": "backchannel", "start": R(r["start"]), "end": R(r["end"]),
                           "speaker": r["speaker"], "target": other_role(r["speaker"]),
                           "overlapping": ov})
        if it.interrupts:
            tgt = by_id[it.interrupts]
            if not (tgt["start"] < r["start"] < tgt["end"]):
                raise RuntimeError(f"{call.id}: {it.id} does not start inside {tgt['id']}")
            yielded = tgt["end"] < r["end"]
            if yielded != it.yielded:
                raise RuntimeError(f"{call.id}: {it.id} yielded={yielded}, scripted {it.yielded}")
            events.append({"type": "interruption", "start": R(r["start"]),
                           "end": R(min(r["end"], tgt["end"])), "speaker": r["speaker"],
                           "target": tgt["speaker"], "yielded": yielded,
                           "overlap_s": R(min(r["end"], tgt["end"]) - r["start"])})

    # overtalk: both talk (backchannels excluded); every one must be a scripted interruption
    main = [r for r in segs if not r["backchannel"]]
    for i, a in enumerate(main):
        for b in main[i + 1:]:
            if a["speaker"] == b["speaker"]:
                continue
            ov = _overlap((a["start"], a["end"]), (b["start"], b["end"]))
            if ov <= 0:
                continue
            later, earlier = (b, a) if b["start"] >= a["start"] else (a, b)
            if later["item"].interrupts != earlier["id"]:
                raise RuntimeError(f"{call.id}: unscripted overlap {a['id']} / {b['id']}")
            events.append({"type": "overtalk", "start": R(later["start"]),
                           "end": R(min(a["end"], b["end"])), "speaker": later["speaker"],
                           "target": earlier["speaker"]})

    # dead air: gaps of >= 5 s in all speech, not covered by hold music
    spans = sorted((r["start"], r["end"]) for r in segs)
    cur = spans[0][1]
    for s, e in spans[1:]:
        if s - cur >= 5.0 and not any(_overlap((cur, s), (h["start"], h["end"])) > 0
                                      for h in holds):
            events.append({"type": "dead_air", "start": R(cur), "end": R(s)})
        cur = max(cur, e)
    for h in holds:
        events.append({"type": "hold", "start": R(h["start"]), "end": R(h["end"]),
                       "speaker": h["speaker"]})
    events.sort(key=lambda e: (e["start"], e["type"]))

    behaviours: dict[str, list] = {}
    cues: dict[str, list] = {}
    for r in segs:
        it = r["item"]
        for dest, src in ((behaviours, it.tags), (cues, it.cues)):
            for bid, qs in src.items():
                for q in _quotes(qs):
                    if q not in it.text:
                        raise RuntimeError(f"{call.id}: quote {q!r} not in {it.id}")
                    dest.setdefault(bid, []).append(
                        {"start": R(r["start"]), "end": R(r["end"]), "quote": q,
                         "segment": it.id, "speaker": r["speaker"]})
        if it.smile:
            behaviours.setdefault("smile", []).append(
                {"start": R(r["start"]), "end": R(r["end"]), "quote": it.text,
                 "segment": it.id, "speaker": r["speaker"],
                 "why": f"scripted raised pitch (+{it.pitch} espeak pitch units)"})

    out_segs = [{"id": r["id"], "speaker": r["speaker"], "start": R(r["start"]),
                 "end": R(r["end"]), "text": r["text"], "backchannel": r["backchannel"],
                 "voice": r["voice"], "level_dbfs": r["level_dbfs"]} for r in segs]
    return {
        "id": call.id, "audio": f"{call.id}.wav", "sample_rate": SR, "channels": 2,
        "language": call.language, "legs": dict(LEGS), "duration_s": R(n / SR),
        "kind": call.kind, "description": call.description,
        "segments": out_segs, "events": events, "behaviours": behaviours,
        "customer_cues": cues, "customer_needs": call.customer_needs,
        "expected": call.expected,
        "voices": {role: {"espeak_voice": v, "rate": s, "pitch": p}
                   for role, (v, s, p) in call.voices.items()},
        "channel": {
            "band_hz": [300, 3400],
            "bleed": {role: {"from": other_role(role), "gain_db": g, "delay_ms": d}
                      for role, (g, d) in call.bleed.items()},
            "hiss_dbfs": HISS_DBFS, "hum_dbfs": {"50": HUM_DBFS[0], "150": HUM_DBFS[1]},
            "hold_music_dbfs": HOLD_MUSIC_DBFS,
            "segment_extent": f"frames within {-TRIM_REL_DB:.0f} dB of the utterance's "
                              "loudest 5 ms frame, measured on the rendered 8 kHz samples",
        },
        "generator": {"script": "samples/make_samples.py", "seed": call.seed,
                      "espeak_ng": _version(["espeak-ng", "--version"]),
                      "sox": _version(["sox", "--version"])},
    }


def other_role(role: str) -> str:
    return CUSTOMER if role == AGENT else AGENT


_VERSIONS: dict = {}


def _version(cmd: list[str]) -> str:
    key = cmd[0]
    if key not in _VERSIONS:
        out = _run(cmd).decode("utf-8", "replace").strip().splitlines()[0]
        if key == "espeak-ng":
            out = out.split("Data at")[0].strip()
        _VERSIONS[key] = out.replace("sox:", "").strip()
    return _VERSIONS[key]


def rttm(truth: dict) -> str:
    lines = []
    for s in sorted(truth["segments"], key=lambda s: (s["start"], s["speaker"])):
        lines.append(f"SPEAKER {truth['id']} 1 {s['start']:.3f} {s['end'] - s['start']:.3f} "
                     f"<NA> <NA> {s['speaker']} <NA> <NA>")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- README tables
def readme_tables(truths: list[dict]) -> str:
    out = []
    for t in truths:
        out.append(f"### `{t['id']}` — {t['kind']}, {t['language']}, {t['duration_s']:.1f} s, "
                   f"customer needs: {t['customer_needs']}\n")
        out.append(t["description"] + "\n")
        tags_by_seg: dict[str, list[str]] = {}
        for bid, lst in list(t["behaviours"].items()) + list(t["customer_cues"].items()):
            for b in lst:
                tags_by_seg.setdefault(b["segment"], [])
                if bid not in tags_by_seg[b["segment"]]:
                    tags_by_seg[b["segment"]].append(bid)
        rows = []
        for s in t["segments"]:
            tags = tags_by_seg.get(s["id"], [])
            if s["backchannel"]:
                tags = ["backchannel"] + tags
            rows.append((s["start"], s["end"], s["speaker"], s["text"], ", ".join(tags)))
        for e in t["events"]:
            if e["type"] == "backchannel":
                continue
            what = e["type"]
            if e["type"] == "interruption":
                what += (f" by {e['speaker']} ({'customer yields' if e['yielded'] else 'customer keeps talking'}"
                         f", {e['overlap_s']:.2f} s overlap)")
            elif e["type"] == "overtalk":
                what += f" ({e['end'] - e['start']:.2f} s, started by {e['speaker']})"
            elif e["type"] == "hold":
                what += " music on the agent leg (not speech)"
            elif e["type"] == "dead_air":
                what += f" ({e['end'] - e['start']:.1f} s, both silent)"
            rows.append((e["start"], e["end"], "—", f"*{what}*", ""))
        rows.sort(key=lambda r: (r[0], r[2] == "—"))
        out.append("| start | end | who | text / event | behaviours, cues |")
        out.append("|---:|---:|---|---|---|")
        for s, e, who, text, tags in rows:
            out.append(f"| {s:.2f} | {e:.2f} | {who} | {text.replace('|', '/')} | {tags} |")
        out.append("")
    return "\n".join(out)


BEGIN, END = "<!-- BEGIN GENERATED by make_samples.py -->", "<!-- END GENERATED -->"


def update_readme(truths: list[dict]) -> None:
    if not README.exists():
        return
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + BEGIN + "\n\n" + readme_tables(truths) + "\n" + END + tail,
                      encoding="utf-8")


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    ap.add_argument("--only", nargs="*", help="call ids to build (default: all)")
    args = ap.parse_args(argv)
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found on PATH (apt-get install espeak-ng sox)",
                  file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    truths = []
    for call in CALLS:
        if args.only and call.id not in args.only:
            continue
        t0 = time.perf_counter()
        pcm, truth = build(call)
        base = args.out / call.id
        tmp = base.with_suffix(".wav.tmp")
        sf.write(tmp, pcm, SR, subtype="PCM_16", format="WAV")
        tmp.replace(base.with_suffix(".wav"))
        base.with_suffix(".truth.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        base.with_suffix(".rttm").write_text(rttm(truth), encoding="utf-8")
        truths.append(truth)
        ev = {}
        for e in truth["events"]:
            ev[e["type"]] = ev.get(e["type"], 0) + 1
        print(f"{call.id:12s} {truth['duration_s']:6.2f} s  {len(truth['segments']):2d} segments  "
              f"events {ev}  ({time.perf_counter() - t0:.1f} s)")
    if args.out.resolve() == DEFAULT_OUT.resolve() and not args.only:
        update_readme(truths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
