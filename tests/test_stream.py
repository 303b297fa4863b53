"""Live analysis (voicecx.stream) against the demo calls' ground truth and synthetic calls with known answers."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from voicecx.config import Config, LiveConfig
from voicecx.stream import CallSession, LiveAsr, ProtocolError, StreamAnalyser, pcm16_chunks, replay

ROOT = Path(__file__).resolve().parent.parent
SR = 8000


def _truth(calls_dir: Path, name: str) -> dict:
    return json.loads((calls_dir / f"{name}.truth.json").read_text())


def _alerts(path: Path, **kw) -> list[dict]:
    return [m for m in replay(str(path), **kw) if m["type"] == "alert"]


def voice(seconds: float, f0: float = 150.0, level_dbfs: float = -20.0, vary_st: float = 3.0,
          sr: int = SR, seed: int = 0) -> np.ndarray:
    """Speech-like test signal: a harmonic voice whose pitch moves +-vary_st semitones (2 Hz), with
    syllable-rate (4 Hz) amplitude modulation and short pauses every 1.5 s (bridged by the VAD)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    st = vary_st * np.sin(2 * np.pi * 0.7 * t) * np.sin(2 * np.pi * 0.23 * t + 1.0)
    f = f0 * 2 ** (st / 12)
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = sum((0.6 ** k) * np.sin((k + 1) * phase) for k in range(6))
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    env[(t % 1.5) > 1.35] = 0.0  # 150 ms pauses
    x = x * env
    x = x / np.sqrt(np.mean(x[env > 0] ** 2)) * 10 ** (level_dbfs / 20)
    return (x + 10 ** (-55 / 20) * rng.standard_normal(len(x))).astype(np.float32)


def hiss(seconds: float, sr: int = SR, seed: int = 1) -> np.ndarray:
    return (10 ** (-55 / 20) * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def stereo(agent: np.ndarray, customer: np.ndarray, bleed_db: float = -24.0, delay_ms: float = 20.0) -> np.ndarray:
    """(n, 2) call with each leg leaking into the other at ``bleed_db`` (like the demo calls)."""
    n = max(len(agent), len(customer))
    a, c = np.zeros(n, np.float32), np.zeros(n, np.float32)
    a[: len(agent)], c[: len(customer)] = agent, customer
    d, g = int(delay_ms * SR / 1000), 10 ** (bleed_db / 20)
    a2, c2 = a.copy(), c.copy()
    a2[d:] += g * c[:-d]
    c2[d:] += g * a[:-d]
    return np.stack([a2, c2], axis=1)


def run(x: np.ndarray, chunk: int = 160, config: Config | None = None, channels: int = 2) -> list:
    an = StreamAnalyser("t", SR, channels, config=config)
    out = []
    for i in range(0, len(x), chunk):
        out += an.feed(x[i : i + chunk])
    return out + an.finish()


# ----------------------------------------------------------------------------- demo calls vs truth

def test_cold_call_alerts_fire_near_each_truth_event(calls_dir: Path) -> None:
    cfg = LiveConfig()
    truth = _truth(calls_dir, "en_cold")["events"]
    alerts = _alerts(calls_dir / "en_cold.wav")
    by = {k: [a for a in alerts if a["kind"] == k] for k in ("agent_interrupts", "overtalk", "dead_air")}
    interruptions = [e for e in truth if e["type"] == "interruption"]
    assert len(by["agent_interrupts"]) == len(interruptions) == 2
    for e, a in zip(interruptions, by["agent_interrupts"]):
        assert abs(a["detail"]["start"] - e["start"]) < 0.15
        assert a["t"] == pytest.approx(a["detail"]["start"] + cfg.interrupt_min_overlap_s, abs=0.011)
    overtalk = [e for e in truth if e["type"] == "overtalk"]
    assert len(by["overtalk"]) == len(overtalk)
    for e, a in zip(overtalk, by["overtalk"]):
        assert abs(a["detail"]["start"] - e["start"]) < 0.15
        assert e["start"] < a["t"] < e["end"]  # raised while the overtalk was still going on
    (dead,) = [e for e in truth if e["type"] == "dead_air"]
    (a,) = by["dead_air"]
    assert abs(a["detail"]["start"] - dead["start"]) < 0.15
    assert a["t"] == pytest.approx(a["detail"]["start"] + cfg.dead_air_s, abs=0.011)
    for a in alerts:  # the analyser's own latency: alerts are raised within one hop of their condition
        assert 0 <= a["emitted_t"] - a["t"] <= 0.2


def test_empathic_call_has_no_negative_turn_taking_alerts(calls_dir: Path) -> None:
    alerts = _alerts(calls_dir / "en_empathic.wav")
    assert [a["kind"] for a in alerts if a["kind"] in ("overtalk", "agent_interrupts", "dead_air")] == []
    assert len(alerts) < len(_alerts(calls_dir / "en_cold.wav"))


def test_backchannel_overlapping_the_customer_is_not_an_interruption(calls_dir: Path) -> None:
    # en_cold bc1 (agent "Uh-huh" at 3.51-3.87 inside the customer's turn) must not raise anything
    alerts = _alerts(calls_dir / "en_cold.wav")
    assert not [a for a in alerts if 3.0 < a["t"] < 5.5]


def test_chunk_size_does_not_change_the_alerts(calls_dir: Path) -> None:
    sr, ch, chunks = pcm16_chunks(str(calls_dir / "en_cold.wav"), chunk_ms=20)
    pcm = b"".join(chunks)
    results = []
    for size in (37 * 4, 8000 * 4):  # odd small chunks vs 1 s chunks (bytes, stereo int16)
        an = StreamAnalyser("c", sr, ch)
        got = []
        for i in range(0, len(pcm), size):
            got += an.feed(pcm[i : i + size])
        got += an.finish()
        results.append([(a.kind, a.t) for a in got])
    assert results[0] == results[1] and results[0]


def test_talk_share_in_state_matches_truth(calls_dir: Path) -> None:
    truth = _truth(calls_dir, "en_empathic")
    talk = {"agent": 0.0, "customer": 0.0}
    for s in truth["segments"]:
        talk[s["speaker"]] += s["end"] - s["start"]
    msgs = list(replay(str(calls_dir / "en_empathic.wav"), states=True))
    final = [m for m in msgs if m["type"] == "state"][-1]
    assert final["final"] and final["t"] == pytest.approx(truth["duration_s"], abs=0.05)
    for role in talk:
        assert final["talk_s"][role] == pytest.approx(talk[role], rel=0.2)


# ----------------------------------------------------------------------------- synthetic calls

def test_bleed_of_the_customer_is_not_agent_speech() -> None:
    x = stereo(hiss(12), voice(12, f0=120, level_dbfs=-17))
    an = StreamAnalyser("t", SR, 2)
    alerts = an.feed(x) + an.finish()
    assert an.state()["talk_s"]["agent"] == 0.0
    assert an.state()["talk_s"]["customer"] > 9.0
    assert alerts == []


def test_long_agent_turn_raises_monologue_once() -> None:
    cfg = LiveConfig()
    x = stereo(np.concatenate([hiss(1), voice(cfg.monologue_s + 5, f0=210)]), hiss(cfg.monologue_s + 6))
    alerts = run(x)
    mono = [a for a in alerts if a.kind == "agent_monologue"]
    assert len(mono) == 1 and mono[0].t == pytest.approx(1 + cfg.monologue_s, abs=0.2)


def test_customer_talking_without_backchannel_raises_no_backchannel() -> None:
    cfg = LiveConfig()
    n = cfg.no_backchannel_s + 5
    cust = np.concatenate([hiss(1), voice(n, f0=120)])
    alerts = run(stereo(hiss(n + 1), cust))
    nobc = [a for a in alerts if a.kind == "no_backchannel"]
    assert len(nobc) == 1 and nobc[0].t == pytest.approx(1 + cfg.no_backchannel_s, abs=0.2)


def test_agent_backchannels_every_few_seconds_prevent_no_backchannel() -> None:
    cfg = LiveConfig()
    n = cfg.no_backchannel_s + 5
    agent = hiss(n + 1)
    for k in range(1, int(n) - 2, 5):  # "mm-hmm" (0.4 s) every 5 s
        i = int((k + 0.5) * SR)
        agent[i : i + int(0.4 * SR)] += voice(0.4, f0=220, seed=k)
    alerts = run(stereo(agent, np.concatenate([hiss(1), voice(n, f0=120)])))
    assert [a.kind for a in alerts if a.kind == "no_backchannel"] == []
    assert [a.kind for a in alerts if a.kind == "agent_interrupts"] == []


def test_customer_pitch_and_level_rising_raise_distress() -> None:
    calm = voice(10, f0=120, level_dbfs=-24, seed=3)
    upset = voice(6, f0=120 * 2 ** (4 / 12), level_dbfs=-16, seed=4)  # +4 semitones, +8 dB
    alerts = run(stereo(hiss(16), np.concatenate([calm, upset])))
    distress = [a for a in alerts if a.kind == "customer_distress"]
    assert len(distress) == 1
    assert 10.0 < distress[0].t < 13.0
    assert distress[0].detail["pitch_rise_st"] > 2.0 and distress[0].detail["level_rise_db"] > 3.0
    assert distress[0].severity == "critical"


def test_calm_customer_raises_no_distress() -> None:
    alerts = run(stereo(hiss(16), voice(16, f0=120, level_dbfs=-20, seed=5)))
    assert [a for a in alerts if a.kind == "customer_distress"] == []


def test_monotone_agent_raises_flat_voice_and_lively_agent_does_not() -> None:
    flat = run(stereo(voice(12, f0=200, vary_st=0.2), hiss(12)))
    lively = run(stereo(voice(12, f0=200, vary_st=4.0), hiss(12)))
    assert [a.kind for a in flat].count("flat_voice") == 1
    assert "flat_voice" not in [a.kind for a in lively]


def test_mono_call_gets_dead_air_but_no_cross_leg_alerts() -> None:
    x = np.concatenate([voice(3), hiss(7), voice(2)])
    alerts = run(x, channels=1)
    assert [a.kind for a in alerts] == ["dead_air"]
    assert alerts[0].detail["start"] == pytest.approx(3.0, abs=0.3)


def test_memory_stays_bounded_over_a_long_call() -> None:
    an = StreamAnalyser("long", SR, 2)
    block = stereo(voice(5, seed=7), hiss(5))
    sizes = []
    for _ in range(24):  # 2 minutes
        an.feed(block)
        sizes.append(an.buf.shape[1])
    assert max(sizes) <= an.block * an.hop + 2 * an.pad + len(block)
    assert len(an._fired) < 100 and len(an.alerts) <= an.cfg.recent_alerts


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs, message", [
    ({"channels": 3}, "channels"),
    ({"roles": ["agent", "agent"]}, "roles"),
    ({"roles": ["boss", "customer"]}, "roles"),
    ({"sample_rate": 1000}, "sample_rate"),
])
def test_bad_analyser_settings_are_refused(kwargs: dict, message: str) -> None:
    args = {"sample_rate": SR, "channels": 2} | kwargs
    with pytest.raises(ProtocolError, match=message):
        StreamAnalyser("x", **args)


def test_bad_chunks_are_refused_with_a_reason() -> None:
    an = StreamAnalyser("x", SR, 2)
    with pytest.raises(ProtocolError, match="whole int16"):
        an.feed(b"\x00\x01\x02")
    with pytest.raises(ProtocolError, match="NaN"):
        an.feed(np.full((10, 2), np.nan, np.float32))
    with pytest.raises(ProtocolError, match="int16 or float"):
        an.feed(np.array(["a", "b"]))


@pytest.mark.parametrize("text, message", [
    ("not json", "not JSON"),
    ('{"type": "hello"}', "start"),
    ('{"type": "start", "sample_rate": 44100, "channels": 2}', "sample_rate"),
    ('{"type": "start", "sample_rate": 8000, "channels": 5}', "channels"),
    ('{"type": "stop"}', "before the start"),
])
def test_protocol_errors_have_a_reason(text: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        CallSession("x").on_text(text)


def test_audio_before_start_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="before the start"):
        CallSession("x").on_binary(b"\x00\x00\x00\x00")


# ----------------------------------------------------------------------------- live ASR queue

def test_live_asr_sheds_load_instead_of_lagging() -> None:
    gate = threading.Event()

    def slow(x: np.ndarray) -> str:  # a transcriber stuck on its first clip
        gate.wait(5)
        return "hello"

    asr = LiveAsr(slow, max_queue=2)
    clip = np.zeros(1600, np.float32)
    accepted = [asr.submit("c", "agent", i, i + 1, clip, 16000, False) for i in range(6)]
    gate.set()
    asr.drain(5)
    assert accepted[:2] == [True, True] and asr.shed >= 3
    assert len(asr.results("c")) == sum(accepted)
    asr.close()


@pytest.mark.slow
@pytest.mark.model
def test_live_asr_flags_cold_call_and_not_empathic_call(calls_dir: Path) -> None:
    from voicecx.stream import whisper_transcriber

    try:
        tr = whisper_transcriber()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    cfg = Config().replace(live=LiveConfig(asr=True, asr_queue=64))
    asr = LiveAsr(tr, cfg.live.asr_queue)
    cold = _alerts(calls_dir / "en_cold.wav", config=cfg, asr=asr)
    warm = _alerts(calls_dir / "en_empathic.wav", config=cfg, asr=asr)
    kinds_cold = [a["kind"] for a in cold]
    assert "no_greeting" in kinds_cold and "angry_words_no_empathy" in kinds_cold
    (ng,) = [a for a in cold if a["kind"] == "no_greeting"]
    assert ng["t"] == pytest.approx(1.31, abs=0.4)  # end of "Account number."
    assert not [a for a in warm if a["kind"] in ("no_greeting", "angry_words_no_empathy")]
    asr.close()


# ----------------------------------------------------------------------------- CLI

def test_cli_stream_prints_alert_json_lines(calls_dir: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "voicecx.cli", "stream", str(calls_dir / "en_cold.wav"), "--speed", "200"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines and all(m["type"] == "alert" for m in lines)
    assert {"agent_interrupts", "overtalk", "dead_air"} <= {m["kind"] for m in lines}


def test_cli_stream_bad_file_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"not audio")
    out = subprocess.run([sys.executable, "-m", "voicecx.cli", "stream", str(bad)],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


class _RegionWords:
    """A stand-in 'recogniser' that names each sounding region of its input by its length in ms:
    lets the packing test check that words are split back to the right utterance."""

    def __init__(self) -> None:
        self.calls = 0

    def words(self, x: np.ndarray) -> list[tuple[str, float, float]]:
        self.calls += 1
        loud = np.abs(x) > 0.01
        edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
        return [(f" w{round((b - a) / 16):d}", a / 16000, b / 16000) for a, b in zip(edges[::2], edges[1::2])]

    def __call__(self, x: np.ndarray) -> str:
        return "".join(w for w, _, _ in self.words(x)).strip()


def test_live_asr_packs_waiting_utterances_into_one_pass_and_splits_them_back() -> None:
    rec = _RegionWords()
    asr = LiveAsr(rec, max_queue=8, start=False)
    for i, ms in enumerate((300, 500, 700, 900)):
        asr.submit("c", "customer", i, i + 1, np.full(16 * ms, 0.5, np.float32), 16000, False)
    asr.start()
    asr.drain(5)
    texts = [r[3] for r in asr.results("c")]
    assert texts == ["w300", "w500", "w700", "w900"]
    assert rec.calls == 1  # four waiting utterances, one recogniser pass
    asr.close()


def test_per_leg_feeding_equals_interleaved_feeding() -> None:
    x = stereo(np.concatenate([voice(3), hiss(6), voice(2)]), hiss(11))
    a, b = StreamAnalyser("a", SR, 2), StreamAnalyser("b", SR, 2)
    got_a = a.feed(x) + a.finish()
    got_b = b.feed_legs(x[:, 0], x[:, 1]) + b.finish()
    assert [(q.kind, q.t) for q in got_a] == [(q.kind, q.t) for q in got_b] == [("dead_air", got_a[0].t)]
    with pytest.raises(ProtocolError, match="equal length"):
        b.feed_legs(x[:10, 0], x[:5, 1])
