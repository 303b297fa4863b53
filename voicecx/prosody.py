"""Per-speaker prosody tracks and the smile in the voice.

Tracks: F0, periodicity, level, spectral centroid, tilt and band shares on one frame grid (frame k
centred at ``k * hop_s``), computed by the kernels' ``*_batch`` functions so both legs of a stereo
call go through one launch. Stereo: each speaker's own leg; mono: the mixed signal (the speaker's
frames are picked later with their diarised activity).

Smile: smiling spreads the lips and shortens the vocal tract, which raises F0 and the formants and
brightens the spectrum, and listeners hear it without seeing the face (Tartter 1980, "Happy talk:
perceptual and acoustic effects of smiling on speech", Perception & Psychophysics 27(1); Drahota,
Costall & Reddy 2008, "The vocal communication of different kinds of smile", Speech Communication
50(4): F0, F2 and F3 rise with smiles). Voices differ far more between people than a smile moves
them, so every utterance is compared with the *speaker's own* baseline: robust z-scores (median,
MAD) of the utterance's median F0 (semitones) and brightness (spectral centroid, upper-band power
share, optionally LPC F2/F3) against the medians over all the speaker's utterances.

>>> tracks = compute_tracks(call, diar, backend=get_backend("cpu"), config=Config())
>>> sp = speaker_prosody(tracks["agent"], diar.activity["agent"], config=Config())
>>> sp.smile_share, [(s.start, s.end) for s in sp.smiled_spans]
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from voicecx.audio import Audio
from voicecx.config import Config, ProsodyConfig
from voicecx.kernels import _frames

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this = its standard deviation


@dataclass(frozen=True)
class Tracks:
    """One speaker's frame-wise prosody (all arrays the same length; frame k at ``k * hop_s``)."""

    f0: np.ndarray  # Hz, 0 where unvoiced
    periodicity: np.ndarray  # 0..1
    energy_db: np.ndarray  # dBFS
    centroid: np.ndarray  # Hz
    tilt: np.ndarray  # dB/octave
    bands: np.ndarray  # (n, n_bands) power shares, rows sum to 1 (0 when silent)
    hop_s: float
    formants: np.ndarray | None = None  # (n, 3) Hz from LPC, 0 where not found; None when not computed

    def __len__(self) -> int:
        return len(self.f0)


@dataclass(frozen=True)
class Span:
    start: float
    end: float


@dataclass(frozen=True)
class UtteranceProsody:
    """One utterance's medians and its robust z-scores against the speaker's baseline."""

    start: float
    end: float
    voiced_s: float
    f0_hz: float  # median voiced F0
    energy_db: float  # median level of its frames
    centroid_hz: float  # median spectral centroid of its voiced frames
    upper_share: float  # median power share of the upper bands of its voiced frames
    f2_f3_hz: float | None = None  # median (F2 + F3) / 2 when formants were tracked
    z_f0: float = 0.0
    z_brightness: float = 0.0
    smile_score: float = 0.0  # weighted z: f0_weight * z_f0 + brightness_weight * z_brightness
    smiled: bool = False


@dataclass
class SpeakerProsody:
    pitch_median_hz: float | None
    pitch_range_st: float | None  # 10-90 percentile spread of voiced F0, in semitones
    pitch_sd_st: float | None  # standard deviation of voiced F0 in semitones (variability)
    energy_db: float | None  # median level while speaking
    smile_share: float | None  # share of the judged (voiced) speech time that sounds smiled
    warmth: float | None  # 0..1: smile share and pitch liveliness together
    smiled_spans: list[Span] = field(default_factory=list)
    utterances: list[UtteranceProsody] = field(default_factory=list)
    voiced_s: float = 0.0


# ----------------------------------------------------------------------------- tracks


def compute_tracks(call: Audio, diar: Any, backend: Any, config: Config | None = None) -> dict[str, Tracks]:
    """Tracks per diarised speaker: stereo = the speaker's leg (label index = channel), mono = the mix.

    Long calls are analysed in chunks of ``prosody.chunk_s`` (all legs of a chunk in one batch launch),
    each read with enough real samples either side that every frame equals the whole-signal result,
    so memory stays bounded (a 2-hour call never needs whole-call kernel buffers).
    """
    cfg = config or Config()
    sr = int(call.sample_rate)
    hop = int(round(cfg.pitch.hop_ms / 1000.0 * sr))
    frame = int(round(cfg.frames.frame_ms / 1000.0 * sr))
    if hop < 1 or frame < 4:
        raise ValueError(f"hop ({cfg.pitch.hop_ms} ms) and frame ({cfg.frames.frame_ms} ms) are too short at {sr} Hz")
    if abs(cfg.frames.hop_ms - cfg.pitch.hop_ms) > 1e-9:
        raise ValueError(f"frames.hop_ms ({cfg.frames.hop_ms}) must equal pitch.hop_ms ({cfg.pitch.hop_ms}): one frame grid")
    if not cfg.prosody.chunk_s > 0:
        raise ValueError(f"prosody.chunk_s must be positive, got {cfg.prosody.chunk_s}")
    labels = list(diar.labels)
    if not labels:
        return {}
    stereo = getattr(diar, "mode", "mono") == "stereo" and call.channels >= len(labels)
    signals = [np.ascontiguousarray(call.leg(i), dtype=np.float32) for i in range(len(labels))] if stereo \
        else [np.ascontiguousarray(call.mono(), dtype=np.float32)]
    pc = cfg.pitch
    fmax = min(pc.fmax, 0.45 * sr)
    plan = _frames.yin_plan(sr, pc.fmin, fmax)
    unit = int(np.lcm(hop, plan.q))  # chunk starts on the frame grid and on the YIN decimation phase
    pad = -(-max(plan.reach, _frames.frames_reach(frame)) // unit) * unit
    per_chunk = max(1, int(round(cfg.prosody.chunk_s * sr / unit)) * unit // hop)
    n = len(signals[0])
    total = 1 + n // hop
    pieces: list[list[dict[str, np.ndarray]]] = [[] for _ in signals]
    for k0 in range(0, total, per_chunk):
        k1 = min(total, k0 + per_chunk)
        lo, hi = max(0, k0 * hop - pad), min(n, (k1 - 1) * hop + pad)
        j0 = (k0 * hop - lo) // hop
        for i, part in enumerate(_kernel_tracks([x[lo:hi] for x in signals], sr, hop, frame, fmax, backend, cfg)):
            pieces[i].append({key: v[j0:j0 + k1 - k0] for key, v in part.items()})
    hop_s = hop / sr
    per_signal = []
    for chunks in pieces:
        cat = {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}
        per_signal.append(Tracks(f0=cat["f0"], periodicity=cat["periodicity"], energy_db=cat["energy_db"],
                                 centroid=cat["centroid"], tilt=cat["tilt"], bands=cat["bands"], hop_s=hop_s,
                                 formants=cat.get("formants")))
    return {lab: per_signal[i if stereo else 0] for i, lab in enumerate(labels)}


def _kernel_tracks(signals: list[np.ndarray], sr: int, hop: int, frame: int, fmax: float, backend: Any,
                   cfg: Config) -> list[dict[str, np.ndarray]]:
    """Every kernel over all the signals at once (one batch launch each); one dict of arrays per signal."""
    pc, fc = cfg.pitch, cfg.frames
    pitch = backend.pitch_yin_batch(signals, sr, hop, pc.fmin, fmax, threshold=pc.yin_threshold, voicing=pc.voicing_threshold)
    level = backend.energy_batch(signals, frame, hop)
    spec = backend.spectral_batch(signals, sr, frame, hop, n_bands=fc.n_bands)
    forms = backend.formants_lpc_batch(signals, sr, frame, hop, order=fc.lpc_order, n_formants=3) \
        if cfg.prosody.use_formants else [None] * len(signals)
    out = []
    for (f0, per), lv, (c, t, r), fm in zip(pitch, level, spec, forms):
        d = {"f0": np.asarray(f0), "periodicity": np.asarray(per), "energy_db": np.asarray(lv), "centroid": np.asarray(c),
             "tilt": np.asarray(t), "bands": np.asarray(r)}
        if fm is not None:
            d["formants"] = np.asarray(fm)
        out.append(d)
    return out


# ----------------------------------------------------------------------------- per speaker


def utterance_runs(active: np.ndarray, hop_s: float, gap_s: float) -> list[tuple[int, int]]:
    """[start, end) frame runs of ``active`` with pauses shorter than ``gap_s`` bridged."""
    mask = np.asarray(active, dtype=bool)
    m = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(m[1:] != m[:-1]).reshape(-1, 2)
    runs: list[tuple[int, int]] = []
    max_gap = int(round(gap_s / hop_s))
    for a, b in edges:
        if runs and a - runs[-1][1] < max_gap:
            runs[-1] = (runs[-1][0], int(b))
        else:
            runs.append((int(a), int(b)))
    return runs


def _robust_z(values: np.ndarray, floor: float) -> np.ndarray:
    """(x - baseline) / spread, with baseline and spread taken from the lower half of the values.

    A smile only raises F0 and brightness, so smiled utterances sit in the upper half and would drag
    a plain median and inflate a two-sided MAD (one utterance in three smiled doubles the MAD). The
    lower half is the speaker's neutral voice as long as fewer than half the utterances are smiled:
    baseline = its median, spread = 1.4826 * its MAD, floored so a monotone voice does not turn
    measurement noise into large z-scores.
    """
    low = values[values <= np.median(values)]
    base = float(np.median(low))
    scale = max(MAD_TO_SIGMA * float(np.median(np.abs(low - base))), floor)
    return (values - base) / scale


def _fit(mask: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    m = np.asarray(mask, dtype=bool)[:n]
    out[: len(m)] = m
    return out


def speaker_prosody(tracks: Tracks, activity: np.ndarray, config: Config | None = None) -> SpeakerProsody:
    """Pitch level/range, level, and the smile judgement of every utterance against the speaker's baseline."""
    cfg = config or Config()
    pc: ProsodyConfig = cfg.prosody
    n = len(tracks)
    active = _fit(activity, n)
    voiced = active & (tracks.f0 > 0)
    f0v = tracks.f0[voiced].astype(np.float64)
    if len(f0v) == 0:
        speech_db = tracks.energy_db[active]
        return SpeakerProsody(None, None, None, float(np.median(speech_db)) if speech_db.size else None, None, None)
    st = 12.0 * np.log2(f0v)
    # YIN's octave slips (x2, /2) sit 12 st off the speaker's median: drop frames beyond the guard
    sane = np.abs(st - np.median(st)) <= pc.octave_guard_st
    st = st[sane]
    pitch_ok = voiced.copy()
    pitch_ok[voiced] = sane
    lo, hi = np.percentile(st, [pc.range_low_pct, pc.range_high_pct])
    k_up = max(1, min(pc.upper_bands, tracks.bands.shape[1] - 1)) if tracks.bands.ndim == 2 else 0
    upper = tracks.bands[:, -k_up:].sum(axis=1) if k_up else np.zeros(n)

    utts: list[UtteranceProsody] = []
    for a, b in utterance_runs(active, tracks.hop_s, pc.utterance_gap_s):
        if (b - a) * tracks.hop_s < pc.min_utterance_s:
            continue
        v = pitch_ok[a:b]
        if v.sum() * tracks.hop_s < pc.min_voiced_s:
            continue
        fm = None
        if tracks.formants is not None:
            f23 = tracks.formants[a:b][v][:, 1:3]
            ok = (f23 > 0).all(axis=1)
            fm = float(np.median(f23[ok].mean(axis=1))) if ok.any() else None
        utts.append(UtteranceProsody(
            start=max(0.0, (a - 0.5) * tracks.hop_s), end=(b - 0.5) * tracks.hop_s, voiced_s=float(v.sum() * tracks.hop_s),
            f0_hz=float(np.median(tracks.f0[a:b][v])), energy_db=float(np.median(tracks.energy_db[a:b])),
            centroid_hz=float(np.median(tracks.centroid[a:b][v])), upper_share=float(np.median(upper[a:b][v])),
            f2_f3_hz=fm))

    smile_share = warmth = None
    spans: list[Span] = []
    range_st = float(hi - lo)
    if len(utts) >= pc.min_utterances:
        utts = _judge_smiles(utts, pc)
        judged = sum(u.voiced_s for u in utts)
        smile_share = float(sum(u.voiced_s for u in utts if u.smiled) / judged) if judged > 0 else 0.0
        spans = [Span(u.start, u.end) for u in utts if u.smiled]
        lively = float(np.clip((range_st - pc.flat_range_st) / (pc.lively_range_st - pc.flat_range_st), 0.0, 1.0))
        smile_part = min(1.0, smile_share / pc.smile_share_full) if pc.smile_share_full > 0 else 0.0
        warmth = float(pc.warmth_smile_weight * smile_part + (1.0 - pc.warmth_smile_weight) * lively)
    return SpeakerProsody(
        pitch_median_hz=float(2.0 ** (np.median(st) / 12.0)),
        pitch_range_st=range_st,
        pitch_sd_st=float(np.std(st)),
        energy_db=float(np.median(tracks.energy_db[active])),
        smile_share=smile_share,
        warmth=warmth,
        smiled_spans=spans,
        utterances=utts,
        voiced_s=float(voiced.sum() * tracks.hop_s),
    )


def _judge_smiles(utts: list[UtteranceProsody], pc: ProsodyConfig) -> list[UtteranceProsody]:
    """Smile score per utterance: raised F0 *and* a brighter spectrum than the speaker's own median.

    A smile needs the F0 rise (z_f0 >= min_f0_z): a brighter spectrum alone is more often a
    fricative-rich sentence than a smile.
    """
    z_f0 = _robust_z(12.0 * np.log2(np.array([u.f0_hz for u in utts])), pc.min_scale_st)
    parts = [_robust_z(np.array([u.centroid_hz for u in utts]), pc.min_scale_hz),
             _robust_z(np.array([u.upper_share for u in utts]), pc.min_scale_ratio)]
    if all(u.f2_f3_hz is not None for u in utts):
        parts.append(_robust_z(np.array([u.f2_f3_hz for u in utts]), pc.min_scale_hz))
    z_b = np.mean(parts, axis=0)
    score = pc.f0_weight * z_f0 + pc.brightness_weight * z_b
    out = []
    for u, zf, zb, s in zip(utts, z_f0, z_b, score):
        out.append(replace(u, z_f0=float(zf), z_brightness=float(zb), smile_score=float(s),
                           smiled=bool(s >= pc.smile_z and zf >= pc.min_f0_z)))
    return out
