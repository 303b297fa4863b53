"""The committed demo calls (samples/calls/) agree with their ground truth.

No espeak-ng needed: these tests read the committed WAV, truth JSON and RTTM files
(regenerate them with ``python samples/make_samples.py``).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

CALLS_DIR = Path(__file__).resolve().parents[1] / "samples" / "calls"
ENGLISH = ["en_empathic", "en_cold"]
SHORT = ["da_call", "zh_call", "ko_call"]
ALL = ENGLISH + SHORT
LANG = {"en_empathic": "en", "en_cold": "en", "da_call": "da", "zh_call": "zh", "ko_call": "ko"}

TEXT_BEHAVIOURS = {"warm_opening", "personal_voice", "apology", "validation", "restating",
                   "ownership", "action_now", "timeframe", "anything_else", "thanks_close",
                   "clean_register"}
AUDIO_BEHAVIOURS = {"smile", "listening", "no_interrupting", "responsiveness", "pace",
                    "mirroring"}
EVENT_TYPES = {"interruption", "backchannel", "dead_air", "hold", "overtalk"}
FRAME = 0.02  # s


@lru_cache(maxsize=None)
def load(name: str):
    truth = json.loads((CALLS_DIR / f"{name}.truth.json").read_text(encoding="utf-8"))
    audio, sr = sf.read(CALLS_DIR / truth["audio"], dtype="float64", always_2d=True)
    return truth, audio, sr


def frames_db(x: np.ndarray, sr: int, frame: float = FRAME) -> np.ndarray:
    f = int(frame * sr)
    n = len(x) // f
    return 10 * np.log10(np.mean(x[: n * f].reshape(n, f) ** 2, axis=1) + 1e-12)


def spans(truth, speaker=None, backchannel=None):
    return [(s["start"], s["end"]) for s in truth["segments"]
            if (speaker is None or s["speaker"] == speaker)
            and (backchannel is None or s["backchannel"] == backchannel)]


def inside_mask(n: int, intervals, shrink: float = 0.0) -> np.ndarray:
    """Frames lying completely inside one of the intervals (shrunk by `shrink` s)."""
    t0 = np.arange(n) * FRAME
    m = np.zeros(n, bool)
    for s, e in intervals:
        m |= (t0 >= s + shrink) & (t0 + FRAME <= e - shrink)
    return m


def near_mask(n: int, intervals, margin: float) -> np.ndarray:
    """Frames touching one of the intervals widened by `margin` s."""
    t0 = np.arange(n) * FRAME
    m = np.zeros(n, bool)
    for s, e in intervals:
        m |= (t0 + FRAME > s - margin) & (t0 < e + margin)
    return m


def holds(truth):
    return [(e["start"], e["end"]) for e in truth["events"] if e["type"] == "hold"]


# ----------------------------------------------------------------------------- files
def test_all_calls_present():
    for name in ALL:
        for suffix in (".wav", ".truth.json", ".rttm"):
            assert (CALLS_DIR / f"{name}{suffix}").is_file(), f"{name}{suffix} missing"


def test_samples_are_small():
    total = sum(p.stat().st_size for p in CALLS_DIR.iterdir() if p.is_file())
    assert total < 6.5e6, f"samples/calls is {total / 1e6:.2f} MB"


@pytest.mark.parametrize("name", ALL)
def test_truth_matches_wav(name):
    truth, audio, sr = load(name)
    info = sf.info(CALLS_DIR / truth["audio"])
    assert truth["id"] == name and truth["audio"] == f"{name}.wav"
    assert info.format == "WAV" and info.subtype == "PCM_16"
    assert sr == truth["sample_rate"] == 8000
    assert audio.shape[1] == truth["channels"] == info.channels == 2
    assert truth["legs"] == {"agent": 0, "customer": 1}
    assert abs(info.frames / sr - truth["duration_s"]) <= 0.001
    assert truth["language"] == LANG[name]
    assert truth["customer_needs"] in {"validation", "ownership", "neutral"}
    assert np.max(np.abs(audio)) < 0.99, "clipped"
    if name in ENGLISH:
        assert truth["duration_s"] >= 45
    else:
        assert truth["duration_s"] >= 15


@pytest.mark.parametrize("name", ALL)
def test_segments_lie_inside_the_call(name):
    truth, _, _ = load(name)
    segs = truth["segments"]
    assert segs and [s["start"] for s in segs] == sorted(s["start"] for s in segs)
    for s in segs:
        assert s["speaker"] in {"agent", "customer"}
        assert 0 <= s["start"] < s["end"] <= truth["duration_s"]
        assert s["text"].strip() and isinstance(s["backchannel"], bool)
    for who in ("agent", "customer"):
        mine = spans(truth, who)
        assert all(b[0] >= a[1] for a, b in zip(mine, mine[1:])), f"{who} overlaps itself"


@pytest.mark.parametrize("name", ALL)
def test_events_are_well_formed(name):
    truth, _, _ = load(name)
    for e in truth["events"]:
        assert e["type"] in EVENT_TYPES
        assert 0 <= e["start"] < e["end"] <= truth["duration_s"]
        if e["type"] in {"interruption", "backchannel", "overtalk"}:
            assert {e["speaker"], e["target"]} == {"agent", "customer"}


# ----------------------------------------------------------------------------- audio vs truth
@pytest.mark.parametrize("name", ALL)
def test_leg_energy_follows_the_segments(name):
    """A leg is clearly louder while its speaker talks than while they are silent."""
    truth, audio, sr = load(name)
    for who, ch in truth["legs"].items():
        db = frames_db(audio[:, ch], sr)
        own = spans(truth, who)
        inside = inside_mask(len(db), own)
        outside = ~near_mask(len(db), own, 0.1)
        diff = np.median(db[inside]) - np.median(db[outside])
        assert diff >= 15, f"{who} leg: only {diff:.1f} dB between speech and non-speech"


@pytest.mark.parametrize("name", ALL)
def test_segment_edges_are_speech(name):
    """start/end are the real speech extent: each segment's first and last 100 ms hold speech."""
    truth, audio, sr = load(name)
    noise = {}
    everyone = spans(truth) + holds(truth)
    for who, ch in truth["legs"].items():
        db = frames_db(audio[:, ch], sr)
        noise[who] = np.median(db[~near_mask(len(db), everyone, 0.2)])
    for s in truth["segments"]:
        x = audio[:, truth["legs"][s["speaker"]]]
        a, b = int(s["start"] * sr), int(s["end"] * sr)
        win = int(0.1 * sr)
        for part in (x[a: a + win], x[b - win: b]):
            peak = frames_db(part, sr, frame=0.01).max()
            assert peak > noise[s["speaker"]] + 10, f"{s['id']} edge is not speech"


@pytest.mark.parametrize("name", ALL)
def test_bleed_is_present_but_quiet(name):
    """Each leg carries a delayed echo of the other, well below the direct speech."""
    truth, audio, sr = load(name)
    everyone = spans(truth) + holds(truth)
    for who, ch in truth["legs"].items():
        other = "customer" if who == "agent" else "agent"
        och = truth["legs"][other]
        db = frames_db(audio[:, ch], sr)
        odb = frames_db(audio[:, och], sr)
        floor = np.median(db[~near_mask(len(db), everyone, 0.2)])
        # frames where only the other speaker talks
        m = (inside_mask(len(db), spans(truth, other))
             & ~near_mask(len(db), spans(truth, who) + holds(truth), 0.1))
        assert m.sum() > 50
        below = np.median(odb[m] - db[m])
        assert below >= 15, f"bleed into {who} leg only {below:.1f} dB below direct"
        heard = np.percentile(db[m], 75)
        assert heard >= floor + 6, f"no bleed audible on the {who} leg ({heard:.1f} dB)"

    # and it is an echo: the cross-correlation peaks at the scripted delays (15-30 ms)
    a, c = audio[:, 0], audio[:, 1]
    n = 1 << int(np.ceil(np.log2(2 * len(a))))
    xc = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(c, n)), n)
    max_lag = int(0.05 * sr)
    pos = xc[1: max_lag + 1]            # agent[t] ~ customer[t - k]
    neg = xc[::-1][: max_lag]           # customer[t] ~ agent[t - k], k = 1..max_lag
    lag_agent = (np.argmax(np.abs(pos)) + 1) / sr * 1000
    lag_customer = (np.argmax(np.abs(neg)) + 1) / sr * 1000
    bleed = truth["channel"]["bleed"]
    for lag, who in ((lag_agent, "agent"), (lag_customer, "customer")):
        assert 15 <= lag <= 30
        assert abs(lag - bleed[who]["delay_ms"]) <= 1000 / sr + 1e-9


# ----------------------------------------------------------------------------- turn-taking events
@pytest.mark.parametrize("name", ALL)
def test_backchannels_match_segments(name):
    truth, _, _ = load(name)
    bcs = [e for e in truth["events"] if e["type"] == "backchannel"]
    bc_segs = [s for s in truth["segments"] if s["backchannel"]]
    assert len(bcs) == len(bc_segs)
    for e, s in zip(bcs, bc_segs):
        assert (e["start"], e["end"], e["speaker"]) == (s["start"], s["end"], s["speaker"])
        assert e["end"] - e["start"] <= 1.0
        others = spans(truth, e["target"], backchannel=False)
        overlaps = any(min(e["end"], b) > max(e["start"], a) for a, b in others)
        assert overlaps == e["overlapping"]


@pytest.mark.parametrize("name", ENGLISH)
def test_english_calls_have_backchannels(name):
    truth, _, _ = load(name)
    bcs = [e for e in truth["events"] if e["type"] == "backchannel"]
    assert len(bcs) >= 2
    assert any(e["overlapping"] for e in bcs), "needs an overlapping backchannel"


@pytest.mark.parametrize("name", ALL)
def test_interruptions_are_consistent(name):
    truth, _, _ = load(name)
    segs = truth["segments"]
    for e in (e for e in truth["events"] if e["type"] == "interruption"):
        me = next(s for s in segs if s["speaker"] == e["speaker"] and s["start"] == e["start"])
        tgt = next(s for s in segs if s["speaker"] == e["target"] and not s["backchannel"]
                   and s["start"] < e["start"] < s["end"])
        assert not me["backchannel"]
        assert e["end"] == pytest.approx(min(me["end"], tgt["end"]), abs=1e-3)
        assert e["yielded"] == (tgt["end"] < me["end"])
        assert e["end"] - e["start"] >= 0.5


def test_cold_call_events():
    truth, audio, sr = load("en_cold")
    ev = truth["events"]
    ints = [e for e in ev if e["type"] == "interruption"]
    assert len(ints) >= 2
    assert {e["yielded"] for e in ints} == {True, False}
    assert all(e["speaker"] == "agent" for e in ints)
    dead = [e for e in ev if e["type"] == "dead_air"]
    assert dead and max(e["end"] - e["start"] for e in dead) >= 5
    # dead air: both legs at the noise floor
    for e in dead:
        for ch in (0, 1):
            db = frames_db(audio[:, ch], sr)
            m = inside_mask(len(db), [(e["start"], e["end"])], shrink=0.1)
            assert np.max(db[m]) < -45
    # hold: music on the agent leg, not speech
    (hold,) = [e for e in ev if e["type"] == "hold"]
    assert hold["speaker"] == "agent" and 5 <= hold["end"] - hold["start"] <= 8
    assert not any(min(b, hold["end"]) > max(a, hold["start"]) for a, b in spans(truth))
    db = frames_db(audio[:, 0], sr)
    m = inside_mask(len(db), [(hold["start"], hold["end"])], shrink=0.1)
    floor = np.median(db[~near_mask(len(db), spans(truth) + holds(truth), 0.2)])
    assert np.median(db[m]) > floor + 10, "hold music is missing"
    assert {e["type"] for e in ev} >= {"overtalk"}


def test_empathic_call_has_no_interruptions_or_dead_air():
    truth, _, _ = load("en_empathic")
    types = [e["type"] for e in truth["events"]]
    assert "interruption" not in types and "dead_air" not in types and "overtalk" not in types


# ----------------------------------------------------------------------------- text behaviours
def known_id(bid: str) -> bool:
    return (bid in TEXT_BEHAVIOURS or bid in AUDIO_BEHAVIOURS or bid == "dismissal"
            or (bid.endswith("_negative") and bid[: -len("_negative")] in TEXT_BEHAVIOURS))


@pytest.mark.parametrize("name", ALL)
def test_behaviour_quotes_point_at_segments(name):
    truth, _, _ = load(name)
    by_id = {s["id"]: s for s in truth["segments"]}
    for group in ("behaviours", "customer_cues"):
        for bid, items in truth[group].items():
            if group == "behaviours":
                assert known_id(bid), bid
            for b in items:
                s = by_id[b["segment"]]
                assert b["quote"] in s["text"]
                assert (b["start"], b["end"]) == (s["start"], s["end"])
                assert s["speaker"] == ("customer" if group == "customer_cues" else "agent")
    for key in ("good", "poor"):
        assert all(known_id(b) for b in truth["expected"][key])


def test_empathic_script_has_every_text_behaviour():
    truth, _, _ = load("en_empathic")
    beh = truth["behaviours"]
    assert TEXT_BEHAVIOURS - {"clean_register"} <= set(beh)
    assert not any(b.endswith("_negative") or b == "dismissal" for b in beh)
    assert beh["warm_opening"][0]["start"] < 30
    first_complaint = next(s for s in truth["segments"]
                           if s["speaker"] == "customer" and not s["backchannel"])
    apology = beh["apology"][0]
    assert first_complaint["end"] <= apology["start"] <= first_complaint["end"] + 20
    assert "i_language" in truth["customer_cues"] and truth["customer_needs"] == "validation"


def test_cold_script_has_the_negatives():
    truth, _, _ = load("en_cold")
    beh = truth["behaviours"]
    assert {"ownership_negative", "dismissal", "personal_voice_negative",
            "clean_register_negative", "timeframe_negative"} <= set(beh)
    assert not set(beh) & {"warm_opening", "apology", "validation", "restating", "timeframe",
                           "anything_else", "thanks_close", "ownership", "action_now"}
    assert "you_language" in truth["customer_cues"] and truth["customer_needs"] == "ownership"


@pytest.mark.parametrize("name", SHORT)
def test_short_calls(name):
    truth, _, _ = load(name)
    assert {"warm_opening", "apology", "timeframe", "thanks_close"} <= set(truth["behaviours"])
    turns = []
    for s in truth["segments"]:
        if not s["backchannel"] and (not turns or turns[-1] != s["speaker"]):
            turns.append(s["speaker"])
    assert 4 <= len(turns) <= 8 and turns[0] == "agent"
    text = "".join(s["text"] for s in truth["segments"])
    if name in ("zh_call", "ko_call"):
        assert sum(ord(ch) > 0x2E80 for ch in text) > 20, "expected Han/Hangul text"


# ----------------------------------------------------------------------------- RTTM
@pytest.mark.parametrize("name", ALL)
def test_rttm_matches_segments(name):
    truth, _, _ = load(name)
    rows = []
    for line in (CALLS_DIR / f"{name}.rttm").read_text().splitlines():
        f = line.split()
        assert len(f) == 10 and f[0] == "SPEAKER" and f[1] == name and f[2] == "1"
        assert f[5] == f[6] == f[8] == f[9] == "<NA>"
        assert f[7] in {"agent", "customer"}
        assert len(f[3].split(".")[1]) == 3 and len(f[4].split(".")[1]) == 3
        rows.append((float(f[3]), float(f[4]), f[7]))
    segs = sorted(truth["segments"], key=lambda s: (s["start"], s["speaker"]))
    assert len(rows) == len(segs)
    for (start, dur, label), s in zip(rows, segs):
        assert label == s["speaker"]
        assert start == pytest.approx(s["start"], abs=1.5e-3)
        assert start + dur == pytest.approx(s["end"], abs=1.5e-3)
