"""Analyse one call: decode → diarise → transcribe → prosody → dynamics + language cues → scoring → report.

Why a class: models (Whisper, pyannote) are loaded once and reused across calls (batch mode, the
server), and every stage's wall time is recorded so the report says where the time went. Each
stage is a plain function of plain data; this module only wires them and times them.
"""
from __future__ import annotations

import argparse
import base64
import io
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicecx import __version__
from voicecx.audio import Audio, AudioError, load
from voicecx.config import Config, load_config
from voicecx.report import CallInfo, Report, SpeakerSummary, Timing, Track
from voicecx.scoring import alerts_from_events, score_call
from voicecx.types import BehaviourScore, Segment

log = logging.getLogger("voicecx")

TEXT_BEHAVIOURS = ("warm_opening", "personal_voice", "apology", "validation", "restating", "ownership",
                   "action_now", "timeframe", "anything_else", "thanks_close", "clean_register", "needs_met")
EMBED_AUDIO_MAX_S = 30 * 60.0  # longer calls are linked, not embedded: Vorbis costs ~1.5 s per 10 min on 2 cores and the page grows by ~1 MB per 10 min
OGG_BLOCK = 16384  # frames per Vorbis write (see _audio_data_uri)
PLOT_POINTS = 2500  # prosody points per speaker in the HTML plots
MIN_PLOT_VOICED_S = 0.05  # shorter voiced runs are not drawn (see _plot_tracks)
PLOT_OCTAVE_SPAN = 1.7  # plotted pitch stays within this factor of the speaker's median (speech spans about an octave)


@dataclass
class StageTimer:
    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - t0


def call_id_for(path: str | Path) -> str:
    """A file-system-safe id from the file name (the report files are named after it)."""
    stem = Path(str(path)).stem or "call"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "call"


@dataclass
class Analyser:
    """Analyses calls with one configuration; models load on first use and stay loaded."""

    config: Config = field(default_factory=Config)

    def analyse(self, source: str | Path | Audio, *, no_asr: bool = False, rttm: str | Path | None = None,
                mono: bool | None = None, call_id: str | None = None, embed_audio: bool = True) -> Report:
        cfg = self.config
        timer = StageTimer()
        t_start = time.perf_counter()
        with timer.stage("decode"):
            call = source if isinstance(source, Audio) else load(source, max_duration_s=cfg.audio.max_duration_s)
        src = call.source or str(source)
        cid = call_id or call_id_for(src)
        notes = list(call.warnings)

        from voicecx import diarize as diarize_mod
        from voicecx.kernels import get_backend

        backend = get_backend(cfg.device)
        with timer.stage("diarize"):
            if rttm is not None:
                diar = _diarization_from_rttm(rttm, cid, call.duration_s)
                diar = diarize_mod.assign_roles(diar, cfg.roles)
            else:
                diar = diarize_mod.diarize(call, mono=mono, roles=cfg.roles, config=cfg)
        notes += list(diar.notes)

        segments: list[Segment] = []
        language = None if cfg.language == "auto" else cfg.language
        model_info: dict[str, Any] = {}
        if not no_asr:
            from voicecx.transcribe import transcribe

            lc = cfg.language_cues
            if lc.use_embeddings:
                from voicecx.language.embed import preload

                preload(lc.embed_threads, lc.embed_floor, lc.embed_span, languages=[language or "en"])

            with timer.stage("transcribe"):
                transcript = transcribe(call, diar, model=cfg.model, language=cfg.language, config=cfg)
            segments = list(transcript.segments)
            language = transcript.language
            notes += list(transcript.warnings)
            model_info["whisper"] = transcript.model
            if cfg.roles == "auto" and rttm is None:
                diar = diarize_mod.assign_roles(diar, "auto", segments)

        from voicecx import dynamics as dynamics_mod
        from voicecx import prosody as prosody_mod

        with timer.stage("prosody"):
            tracks = prosody_mod.compute_tracks(call, diar, backend=backend, config=cfg)
            per_speaker = {lab: prosody_mod.speaker_prosody(tracks[lab], diar.activity[lab], config=cfg)
                           for lab in diar.labels if lab in tracks}
        with timer.stage("dynamics"):
            dyn = dynamics_mod.analyse_dynamics(diar.activity, diar.hop_s, diar.roles, tracks=tracks,
                                                segments=segments or None, config=cfg, prosody=per_speaker)

        with timer.stage("scoring"):
            behaviours: dict[str, BehaviourScore] = dict(dyn.behaviours())
            customer: dict[str, Any] = {"needs": "neutral", "sentiment_start": None, "sentiment_end": None}
            events = list(dyn.events)
            if segments:
                from voicecx.language import analyse_transcript

                cues = analyse_transcript(segments, diar.roles, language=language or "auto", duration_s=call.duration_s)
                behaviours.update(cues.behaviours)
                customer = dict(cues.customer)
                events += list(cues.events)
                notes += list(cues.notes)
                language = language or cues.language
            else:
                for key in TEXT_BEHAVIOURS:
                    behaviours.setdefault(key, BehaviourScore(score=None))
                notes.append("audio-only analysis (--no-asr): text behaviours are null" if no_asr
                             else "no speech was transcribed: text behaviours are null")
            agent = next((lab for lab, role in diar.roles.items() if role == "agent"), None)
            weighted, empathy = score_call(behaviours, events, needs=customer.get("needs", "neutral"), agent=agent)
            alerts = alerts_from_events(events, cid, diar.roles)

        speakers = _speaker_summaries(diar, dyn, per_speaker)
        total = time.perf_counter() - t_start
        report = Report(
            call=CallInfo(cid, src, call.duration_s, call.sample_rate, call.channels, diar.mode, language),
            speakers=speakers,
            segments=segments,
            events=events,
            behaviours=weighted,
            customer=customer,
            empathy=empathy,
            alerts=alerts,
            timing=Timing(dict(timer.stages), total, call.duration_s),
            versions={"voicecx": __version__, "kernels": backend.name, "models": model_info},
            notes=_dedupe(notes),
            roles={"assignment": dict(diar.roles), "confidence": round(float(diar.role_confidence), 3),
                   "evidence": list(diar.role_evidence),
                   "turns": [{"speaker": t.speaker, "start": round(t.start, 3), "end": round(t.end, 3)} for t in diar.turns]},
            tracks=_plot_tracks(tracks, per_speaker, diar.activity, diar.hop_s),
            audio_data_uri=_audio_source(call, src) if embed_audio else None,
        )
        return report


def _diarization_from_rttm(path: str | Path, call_id: str, duration_s: float):
    from voicecx.diarize import diarization_from_rttm, read_rttm

    p = Path(path)
    if not p.is_file():
        raise AudioError(f"{p}: no such RTTM file")
    by_file = read_rttm(p)
    if not by_file:
        raise AudioError(f"{p}: no SPEAKER lines")
    turns = by_file.get(call_id) or next(iter(by_file.values()))
    return diarization_from_rttm(turns, duration_s)


def _speaker_summaries(diar: Any, dyn: Any, per_speaker: dict[str, Any]) -> list[SpeakerSummary]:
    out = []
    for lab in diar.labels:
        sp = dyn.speakers.get(lab) if hasattr(dyn, "speakers") else None
        pr = per_speaker.get(lab)
        out.append(SpeakerSummary(
            label=lab,
            role=diar.roles.get(lab, "unknown"),
            talk_s=float(getattr(sp, "talk_s", 0.0) or 0.0),
            talk_share=float(getattr(sp, "talk_share", 0.0) or 0.0),
            words_per_min=getattr(sp, "words_per_min", None),
            pitch_median_hz=getattr(pr, "pitch_median_hz", None),
            pitch_range_st=getattr(pr, "pitch_range_st", None),
            energy_db=getattr(pr, "energy_db", None),
            smile_share=getattr(pr, "smile_share", None),
            warmth=getattr(pr, "warmth", None),
        ))
    return out


def _plot_tracks(tracks: dict[str, Any], per_speaker: dict[str, Any], activity: dict[str, np.ndarray] | None = None,
                 activity_hop_s: float | None = None) -> dict[str, Track]:
    """Plot-sized tracks. Pitch is drawn only where that speaker is talking, within PLOT_OCTAVE_SPAN of
    their median, and voiced for at least MIN_PLOT_VOICED_S: hum, hiss, the other leg's echo and
    octave jumps would otherwise fill the plot with spikes. Display only: the JSON statistics come
    from the full tracks."""
    out: dict[str, Track] = {}
    for lab, tr in tracks.items():
        n = len(tr.f0)
        step = max(1, n // PLOT_POINTS)
        idx = np.arange(0, n, step)
        f0 = np.asarray(tr.f0, dtype=np.float64).copy()
        act = (activity or {}).get(lab)
        if act is not None and activity_hop_s:
            frame_t = np.arange(n) * tr.hop_s
            k = np.minimum((frame_t / activity_hop_s + 0.5).astype(np.int64), len(act) - 1)
            f0[~np.asarray(act, dtype=bool)[k]] = 0.0
        voiced = f0[f0 > 0]
        if voiced.size:  # octave jumps (harmonics of band-limited phone speech, mains hum) off the plot
            centre = float(np.median(voiced))
            f0[(f0 > 0) & ((f0 < centre / PLOT_OCTAVE_SPAN) | (f0 > centre * PLOT_OCTAVE_SPAN))] = 0.0
        f0 = _drop_short_voiced(f0, max(1, int(round(MIN_PLOT_VOICED_S / tr.hop_s))))
        # keep the median voiced f0 inside each bucket so decimation does not drop pitch
        f0_plot = [float(np.median(v[v > 0])) if np.any(v > 0) else 0.0 for v in (f0[i:i + step] for i in idx)]
        energy = np.asarray(tr.energy_db)[idx]
        smiled = [(e.start, e.end) for e in getattr(per_speaker.get(lab), "smiled_spans", None) or []]
        out[lab] = Track(t=(idx * tr.hop_s).tolist(), f0=f0_plot, energy_db=energy.astype(float).tolist(), smiled=smiled)
    return out


def _drop_short_voiced(f0: np.ndarray, min_frames: int) -> np.ndarray:
    """Zero voiced runs shorter than ``min_frames``."""
    voiced = np.concatenate([[False], f0 > 0, [False]])
    edges = np.flatnonzero(voiced[1:] != voiced[:-1])
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a < min_frames:
            f0[a:b] = 0.0
    return f0


def _audio_source(call: Audio, src: str) -> str | None:
    """What the report's player plays: the call embedded when short enough, else a link to the file."""
    if call.duration_s <= EMBED_AUDIO_MAX_S:
        return _audio_data_uri(call)
    path = Path(src)
    return path.resolve().as_uri() if path.is_file() else None


def _audio_data_uri(call: Audio) -> str:
    """The call as an in-page OGG/Vorbis data URI so the report plays with no file beside it
    (``_audio_source`` decides whether the call is short enough to embed)."""
    import soundfile as sf

    buf = io.BytesIO()
    frames = call.samples.T
    # Written in blocks: libsndfile's Vorbis encoder segfaults when handed minutes of audio in one write.
    with sf.SoundFile(buf, "w", call.sample_rate, call.channels, format="OGG", subtype="VORBIS") as f:
        for start in range(0, len(frames), OGG_BLOCK):
            f.write(np.ascontiguousarray(frames[start:start + OGG_BLOCK]))
    return "data:audio/ogg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def analyse(source: str | Path | Audio, *, config: Config | None = None, **options: Any) -> Report:
    """Analyse one call and return its Report (``voicecx.analyse("call.wav", no_asr=True)``)."""
    return Analyser(config or Config()).analyse(source, **options)


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None), device=args.device, language=args.language,
                       roles=args.roles, model=args.model)


def cli_analyse(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    report = Analyser(cfg).analyse(args.call, no_asr=args.no_asr, rttm=args.rttm, mono=True if args.mono else None)
    if args.json_out == "-":
        sys.stdout.write(report.to_json() + "\n")
        return 0
    json_path, html_path = report.write(args.out)
    e = report.empathy
    print(f"{report.call.id}: empathy {e.score:.0f}/100 (grade {e.grade}) — {e.summary}")
    print(f"  {report.call.duration_s:.1f} s call analysed in {report.timing.total_s:.2f} s "
          f"({report.timing.to_dict()['realtime_factor']}× real time)")
    for note in report.notes:
        print(f"  note: {note}")
    print(f"  report: {json_path}")
    print(f"  html:   {html_path}")
    return 0
