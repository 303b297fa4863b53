"""Prosody tracks and the smile judgement, against signals and scripts with known answers.

Synthetic vowels (pulse train through three formant resonators) give exact F0 and formant shifts;
the demo call en_empathic has agent utterances rendered at a raised espeak pitch ("-p 67" / "-p 63"
against the voice's base 55), which are the ground truth for smiled utterances.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import lfilter

from voicecx.audio import Audio, load
from voicecx.config import Config, FrameConfig
from voicecx.kernels import get_backend
from voicecx.prosody import compute_tracks, speaker_prosody

CALLS = Path(__file__).resolve().parents[1] / "samples" / "calls"
SR = 8000
HOP_S = 0.01
CFG = Config()


@dataclass
class Diar:
    """The part of voicecx.diarize.Diarization that compute_tracks reads."""

    mode: str
    labels: list[str]
    activity: dict[str, np.ndarray] = field(default_factory=dict)
    hop_s: float = HOP_S


@pytest.fixture(scope="module")
def backend():
    return get_backend("cpu")


def vowel(f0: float, formants: tuple[float, ...], seconds: float, sr: int = SR) -> np.ndarray:
    """A steady vowel: glottal pulse train (F0) through second-order resonators (Klatt 1980 style)."""
    n = int(seconds * sr)
    src = np.zeros(n)
    src[(np.arange(0, seconds, 1.0 / f0) * sr).astype(int)] = 1.0
    y = lfilter([1.0], [1.0, -0.95], src)  # -6 dB/octave glottal roll-off
    for f, bw in zip(formants, (80.0, 100.0, 140.0)):
        r = math.exp(-math.pi * bw / sr)
        y = lfilter([1.0 - r], [1.0, -2 * r * math.cos(2 * math.pi * f / sr), r * r], y)
    y *= np.hanning(n) ** 0.25
    return 0.2 * y / np.max(np.abs(y))


def speaker_recording(utterances: list[tuple[float, tuple[float, ...]]], gap_s: float = 0.5, seed: int = 1):
    """Utterances of 1 s separated by gaps, light hiss; returns (samples, activity mask, spans)."""
    rng = np.random.default_rng(seed)
    parts, spans, t = [np.zeros(int(gap_s * SR))], [], gap_s
    for f0, formants in utterances:
        parts += [vowel(f0, formants, 1.0), np.zeros(int(gap_s * SR))]
        spans.append((t, t + 1.0))
        t += 1.0 + gap_s
    x = np.concatenate(parts) + 1e-4 * rng.standard_normal(sum(len(p) for p in parts))
    n_frames = 1 + len(x) // int(HOP_S * SR)
    centres = np.arange(n_frames) * HOP_S
    active = np.zeros(n_frames, dtype=bool)
    for a, b in spans:
        active |= (centres >= a + 0.05) & (centres < b - 0.05)
    return x.astype(np.float32), active, spans


NEUTRAL = (700.0, 1220.0, 2600.0)


def neutral_and_smiled(smiled_idx: set[int], f0_shift_st: float, formant_scale: float, n: int = 10, seed: int = 3):
    """n utterances around 120 Hz (+-0.3 st natural variation); those in ``smiled_idx`` shifted."""
    rng = np.random.default_rng(seed)
    utts = []
    for i in range(n):
        jitter = rng.uniform(-0.3, 0.3)
        fj = rng.uniform(0.98, 1.02)
        if i in smiled_idx:
            utts.append((120.0 * 2 ** ((jitter + f0_shift_st) / 12), tuple(f * fj * formant_scale for f in NEUTRAL)))
        else:
            utts.append((120.0 * 2 ** (jitter / 12), tuple(f * fj for f in NEUTRAL)))
    return utts


def judged(x: np.ndarray, active: np.ndarray, backend, cfg: Config = CFG):
    call = Audio(x[None, :], SR)
    tracks = compute_tracks(call, Diar("mono", ["spk"], {"spk": active}), backend, cfg)["spk"]
    return tracks, speaker_prosody(tracks, active, cfg)


def smiled_indices(sp, spans) -> set[int]:
    return {i for i, (a, b) in enumerate(spans) for s in sp.smiled_spans if s.start < b and s.end > a}


# ----------------------------------------------------------------------------- tracks


def test_tracks_share_one_frame_grid_and_recover_the_vowel_f0(backend) -> None:
    x, active, _ = speaker_recording([(150.0, NEUTRAL)] * 3)
    tracks, sp = judged(x, active, backend)
    n = 1 + len(x) // 80
    for name in ("f0", "periodicity", "energy_db", "centroid", "tilt"):
        assert len(getattr(tracks, name)) == n, name
    assert tracks.bands.shape == (n, CFG.frames.n_bands) and tracks.hop_s == pytest.approx(HOP_S)
    assert sp.pitch_median_hz == pytest.approx(150.0, rel=0.01)
    assert sp.pitch_range_st < 0.5  # a steady vowel has no pitch range
    assert -30 < sp.energy_db < 0


def test_stereo_takes_each_speakers_own_leg_and_mono_the_mix(backend) -> None:
    left, act_l, _ = speaker_recording([(110.0, NEUTRAL)] * 3)
    right, act_r, _ = speaker_recording([(220.0, NEUTRAL)] * 3)
    call = Audio(np.stack([left, right]), SR)
    stereo = compute_tracks(call, Diar("stereo", ["a", "b"], {"a": act_l, "b": act_r}), backend, CFG)
    assert speaker_prosody(stereo["a"], act_l, CFG).pitch_median_hz == pytest.approx(110.0, rel=0.01)
    assert speaker_prosody(stereo["b"], act_r, CFG).pitch_median_hz == pytest.approx(220.0, rel=0.01)
    mono = compute_tracks(Audio(left[None, :], SR), Diar("mono", ["a", "b"], {"a": act_l, "b": act_r}), backend, CFG)
    assert mono["a"] is mono["b"]  # one signal, one set of tracks, masked per speaker later


@pytest.mark.parametrize("cfg,match", [
    (dataclasses.replace(CFG, frames=FrameConfig(hop_ms=5.0)), "one frame grid"),
    (dataclasses.replace(CFG, prosody=dataclasses.replace(CFG.prosody, chunk_s=0.0)), "chunk_s"),
])
def test_bad_track_settings_give_a_clear_error(cfg: Config, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compute_tracks(Audio(np.zeros((1, SR), np.float32), SR), Diar("mono", ["a"]), get_backend("cpu"), cfg)


def test_a_silent_speaker_has_no_pitch_and_no_smile_judgement(backend) -> None:
    x = (1e-4 * np.random.default_rng(0).standard_normal(3 * SR)).astype(np.float32)
    active = np.ones(1 + len(x) // 80, dtype=bool)
    _, sp = judged(x, active, backend)
    assert sp.pitch_median_hz is None and sp.smile_share is None and sp.warmth is None and sp.smiled_spans == []


# ----------------------------------------------------------------------------- smile on synthetic vowels


def test_raised_f0_and_brighter_formants_are_heard_as_a_smile(backend) -> None:
    """Tartter (1980): smiling raises F0 and formants. +2 st and formants x1.1 against the speaker's own voice."""
    smiled = {2, 5, 8}
    x, active, spans = speaker_recording(neutral_and_smiled(smiled, f0_shift_st=2.0, formant_scale=1.10))
    _, sp = judged(x, active, backend)
    assert len(sp.utterances) == 10
    assert smiled_indices(sp, spans) == smiled
    assert sp.smile_share == pytest.approx(0.3, abs=0.02)
    assert all(u.z_f0 > 1.0 and u.z_brightness > 0.5 for u in sp.utterances if u.smiled)
    assert sp.warmth is not None and sp.warmth >= 0.6


def test_brightness_alone_without_an_f0_rise_is_not_a_smile(backend) -> None:
    x, active, spans = speaker_recording(neutral_and_smiled({1, 4, 7}, f0_shift_st=0.0, formant_scale=1.15))
    _, sp = judged(x, active, backend)
    assert smiled_indices(sp, spans) == set()
    assert sp.smile_share == 0.0


def test_a_steady_neutral_voice_has_no_smiles_and_low_warmth(backend) -> None:
    x, active, _ = speaker_recording(neutral_and_smiled(set(), 0.0, 1.0))
    _, sp = judged(x, active, backend)
    assert sp.smile_share == 0.0
    assert sp.warmth is not None and sp.warmth <= 0.1  # no smile, ~0 st range: flat


# ----------------------------------------------------------------------------- smile on the demo calls


def _truth(name: str) -> dict:
    return json.loads((CALLS / f"{name}.truth.json").read_text(encoding="utf-8"))


def _activity(truth: dict, n_frames: int) -> dict[str, np.ndarray]:
    centres = np.arange(n_frames) * HOP_S
    act = {role: np.zeros(n_frames, dtype=bool) for role in ("agent", "customer")}
    for s in truth["segments"]:
        act[s["speaker"]] |= (centres >= s["start"]) & (centres < s["end"])
    return act


@pytest.fixture(scope="module")
def demo_agents(backend):
    out = {}
    for name in ("en_empathic", "en_cold"):
        call, truth = load(CALLS / f"{name}.wav"), _truth(name)
        n = 1 + call.n_samples // int(HOP_S * call.sample_rate)
        act = _activity(truth, n)
        tracks = compute_tracks(call, Diar("stereo", ["agent", "customer"], act), backend, CFG)
        out[name] = (truth, speaker_prosody(tracks["agent"], act["agent"], CFG))
    return out


def _raised(truth: dict, u) -> bool:
    """Whether the agent segment under utterance ``u`` was rendered above the voice's base pitch."""
    base = truth["voices"]["agent"]["pitch"]
    seg = max((s for s in truth["segments"] if s["speaker"] == "agent"),
              key=lambda s: min(s["end"], u.end) - max(s["start"], u.start))
    return int(seg["voice"].split("-p ")[1].split()[0]) > base


def test_raised_pitch_agent_utterances_score_higher_on_smile_in_the_empathic_call(demo_agents) -> None:
    truth, sp = demo_agents["en_empathic"]
    raised = [u.smile_score for u in sp.utterances if _raised(truth, u)]
    plain = [u.smile_score for u in sp.utterances if not _raised(truth, u)]
    assert len(raised) == 5 and len(plain) >= 5
    auc = np.mean([r > p for r in raised for p in plain])
    assert auc >= 0.95, (raised, plain)
    found = [u for u in sp.utterances if u.smiled]
    assert all(_raised(truth, u) for u in found)  # precision 1.0
    assert len(found) >= 4  # recall >= 0.8


def test_empathic_agent_smiles_more_than_the_cold_one(demo_agents) -> None:
    warm, cold = demo_agents["en_empathic"][1], demo_agents["en_cold"][1]
    assert warm.smile_share >= 0.3 and cold.smile_share <= 0.1
    assert warm.warmth > cold.warmth
    assert 150 < warm.pitch_median_hz < 300 and 150 < cold.pitch_median_hz < 300  # female espeak voices


def test_chunked_tracks_equal_the_whole_call_tracks(backend) -> None:
    """Long calls run in chunks; every frame must match the one-pass result (chunk edges included)."""
    call = load(CALLS / "ko_call.wav")
    diar = Diar("stereo", ["agent", "customer"])
    whole = compute_tracks(call, diar, backend, CFG)
    small = dataclasses.replace(CFG, prosody=dataclasses.replace(CFG.prosody, chunk_s=3.7))
    chunked = compute_tracks(call, diar, backend, small)
    for lab in diar.labels:
        a, b = whole[lab], chunked[lab]
        assert len(a) == len(b) == 1 + call.n_samples // 80
        for name in ("f0", "periodicity", "energy_db", "centroid", "tilt", "bands"):
            np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-4, atol=1e-3, err_msg=name)


def test_lpc_formants_join_the_brightness_cue_when_enabled(backend) -> None:
    cfg = dataclasses.replace(CFG, prosody=dataclasses.replace(CFG.prosody, use_formants=True))
    smiled = {2, 5, 8}
    x, active, spans = speaker_recording(neutral_and_smiled(smiled, f0_shift_st=2.0, formant_scale=1.10))
    tracks, sp = judged(x, active, backend, cfg)
    assert tracks.formants is not None and tracks.formants.shape == (len(tracks), 3)
    assert all(u.f2_f3_hz is not None for u in sp.utterances)
    raised = np.mean([u.f2_f3_hz for i, u in enumerate(sp.utterances) if i in smiled])
    plain = np.mean([u.f2_f3_hz for i, u in enumerate(sp.utterances) if i not in smiled])
    assert raised / plain == pytest.approx(1.10, abs=0.04)  # the scripted 10 % formant rise
    assert smiled_indices(sp, spans) == smiled
