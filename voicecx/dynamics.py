"""Turn-taking dynamics from per-speaker speech activity: who holds the floor, who talks over whom.

Input: one boolean mask per speaker on the frame grid (frame k centred at ``k * hop_s``; a run of
frames [a, b) covers ``(a - 0.5) * hop_s .. (b - 0.5) * hop_s``, as in voicecx.diarize), overlap
allowed. Output: report events (DESIGN §3.2) and the audio behaviours of DESIGN §3.3.

Definitions (thresholds in ``DynamicsConfig``):

- **backchannel**: a short utterance (<= ``backchannel_max_s``) while the other holds the floor, i.e.
  the other speaks within ``backchannel_context_s`` before *and* after it (or through it), and the
  speaker's own speech is not right next to it (then it is the start of a turn). Continuers such as
  "mm-hmm", "right", "yeah" (Yngve 1970; Ward & Tsukahara 2000, "Prosodic features which cue
  back-channel responses in English and Japanese", J. Pragmatics 32) are found acoustically by
  duration and position alone; a transcript confirms them or vetoes long wordy ones. A backchannel is
  never an interruption.
- **interruption**: a non-backchannel utterance that starts while the other has been talking for at
  least ``interrupt_min_prior_s`` and overlaps them for at least ``interrupt_min_overlap_s``
  (a "successful" interruption when the other then stops first, ``yielded``; Schegloff 2000,
  "Overlapping talk and the organization of turn-taking for conversation", Language in Society 29).
- **overtalk**: both speak (backchannels excluded) for at least ``overtalk_min_s``; its speaker is the
  one who started last.
- **dead air**: nobody speaks for more than ``dead_air_s`` between the first and last speech of the
  call; stretches where a leg carries steady non-speech sound (hold music) are holds, not dead air.
- **monologue**: one speaker's floor turn (their utterances with no non-backchannel speech of the
  other in between, pauses < ``turn_gap_s``) lasting at least ``monologue_s``.

>>> dyn = analyse_dynamics(diar.activity, diar.hop_s, diar.roles, tracks=tracks, config=cfg)
>>> [e.type for e in dyn.events], dyn.speakers["agent"].talk_share, dyn.behaviours()["listening"].score
"""
from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from voicecx.config import Config, DynamicsConfig
from voicecx.types import BehaviourScore, Event, Evidence, Segment

try:  # the documented weights, when scoring is present
    from voicecx.scoring import WEIGHTS as _WEIGHTS
except ImportError:  # pragma: no cover - scoring always ships with the package
    _WEIGHTS = {}


@dataclass(frozen=True)
class Utterance:
    """One run of a speaker's active frames ([a, b) on the frame grid) and what it was taken to be."""

    speaker: str
    a: int
    b: int
    start: float
    end: float
    backchannel: bool = False
    target: str | None = None  # whose floor a backchannel supported
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class FloorTurn:
    """A speaker holding the floor: their utterances with no non-backchannel speech of another between."""

    speaker: str
    start: float
    end: float
    a: int
    b: int


@dataclass
class SpeakerDynamics:
    talk_s: float = 0.0
    talk_share: float = 0.0
    words_per_min: float | None = None  # from the transcript; None without one
    syllables_per_s: float | None = None  # energy-peak syllable nuclei (de Jong & Wempe 2009); None without tracks
    latencies_s: list[tuple[float, float]] = field(default_factory=list)  # (time taken the floor, gap before it)
    latency_median_s: float | None = None
    latency_max_s: float | None = None
    interruptions: int = 0  # made by this speaker
    interrupted: int = 0  # suffered by this speaker
    overtalk_started_s: float = 0.0
    overtalk_longest_s: float = 0.0
    backchannels: int = 0
    longest_turn_s: float = 0.0


@dataclass
class Dynamics:
    events: list[Event]
    speakers: dict[str, SpeakerDynamics]
    utterances: list[Utterance]
    turns: list[FloorTurn]
    holds: list[tuple[float, float, str]]  # (start, end, leg label) of steady non-speech sound (hold music)
    roles: dict[str, str]
    hop_s: float
    duration_s: float
    config: Config
    turn_levels: dict[int, tuple[float | None, float | None]] = field(default_factory=dict)  # turn index -> (energy dB, F0 st)
    prosody: Mapping[str, Any] | None = None

    def behaviours(self) -> dict[str, BehaviourScore]:
        """The audio behaviours of DESIGN §3.3 for the agent (score None when not applicable)."""
        agent = _role_label(self.roles, "agent")
        customer = _role_label(self.roles, "customer")
        return {
            "smile": _smile(self, agent),
            "listening": _listening(self, agent, customer),
            "no_interrupting": _no_interrupting(self, agent, customer),
            "responsiveness": _responsiveness(self, agent, customer),
            "pace": _pace(self, agent, customer),
            "mirroring": _mirroring(self, agent, customer),
        }


# ----------------------------------------------------------------------------- main entry


def analyse_dynamics(
    activity: Mapping[str, Any],
    hop_s: float,
    roles: Mapping[str, str] | None = None,
    tracks: Mapping[str, Any] | None = None,
    segments: Sequence[Segment] | None = None,
    config: Config | None = None,
    prosody: Mapping[str, Any] | None = None,
) -> Dynamics:
    """Events and per-speaker turn-taking figures from frame-level activity (see the module docstring)."""
    cfg = config or Config()
    dc = cfg.dynamics
    if not (isinstance(hop_s, (int, float)) and math.isfinite(hop_s) and hop_s > 0):
        raise ValueError(f"hop_s must be a positive number of seconds, got {hop_s!r}")
    masks = _masks(activity)
    labels = list(masks)
    roles = {lab: (roles or {}).get(lab, "unknown") for lab in labels}
    n = len(next(iter(masks.values()))) if masks else 0
    sec = lambda f: f * hop_s  # noqa: E731
    frames = lambda s: int(round(s / hop_s))  # noqa: E731

    words = _words_by_speaker(segments)
    utts = _classify(masks, hop_s, dc, words)
    events: list[Event] = []
    speakers = {lab: SpeakerDynamics() for lab in labels}

    # talk time and rates
    total_talk = sum(float(m.sum()) for m in masks.values()) * hop_s
    for lab, m in masks.items():
        sp = speakers[lab]
        sp.talk_s = float(m.sum()) * hop_s
        sp.talk_share = sp.talk_s / total_talk if total_talk > 0 else 0.0
        if segments is not None and lab in words and sp.talk_s > 0:
            sp.words_per_min = 60.0 * sum(len(w) for _, _, w in words[lab]) / sp.talk_s
        if tracks is not None and lab in tracks and sp.talk_s > 0:
            sp.syllables_per_s = syllable_count(tracks[lab], m, dc) / sp.talk_s

    for u in utts:
        if u.backchannel:
            speakers[u.speaker].backchannels += 1
            overlapping = bool(u.target in masks and masks[u.target][u.a:u.b].any())
            detail: dict[str, Any] = {"overlapping": overlapping}
            if u.words:
                detail["words"] = " ".join(u.words)
            events.append(Event("backchannel", u.start, u.end, u.speaker, u.target, detail))

    # interruptions: a turn-taking start inside the other's ongoing, non-backchannel speech
    min_prior, min_overlap = frames(dc.interrupt_min_prior_s), max(1, frames(dc.interrupt_min_overlap_s))
    main_utts = {lab: [u for u in utts if u.speaker == lab and not u.backchannel] for lab in labels}
    main_starts = {lab: [u.a for u in us] for lab, us in main_utts.items()}

    def holding(lab: str, frame: int) -> Utterance | None:
        """The non-backchannel utterance of ``lab`` running at ``frame`` (runs of one speaker never overlap)."""
        i = bisect.bisect_right(main_starts[lab], frame) - 1
        return main_utts[lab][i] if i >= 0 and main_utts[lab][i].b > frame else None

    for u in utts:
        if u.backchannel:
            continue
        for other in labels:
            v = holding(other, u.a) if other != u.speaker else None
            if v is None or v.a > u.a - min_prior:
                continue
            overlap = min(u.b, v.b) - u.a
            if overlap < min_overlap:
                continue
            yielded = v.b < u.b
            events.append(Event("interruption", u.start, sec(min(u.b, v.b) - 0.5), u.speaker, v.speaker,
                                {"yielded": yielded, "overlap_s": round(sec(overlap), 3)}))
            speakers[u.speaker].interruptions += 1
            speakers[v.speaker].interrupted += 1

    # overtalk: both talking, backchannels left out
    main = {lab: np.zeros(n, dtype=bool) for lab in labels}
    for u in utts:
        if not u.backchannel:
            main[u.speaker][u.a:u.b] = True
    if len(labels) >= 2:
        both = np.sum([main[lab] for lab in labels], axis=0) >= 2
        for a, b in _runs(both):
            if b - a < frames(dc.overtalk_min_s):
                continue
            starts = {lab: v.a for lab in labels if (v := holding(lab, a)) is not None}
            later = max(starts, key=lambda lab: starts[lab])
            other = next((lab for lab in starts if lab != later), None)
            dur = sec(b - a)
            events.append(Event("overtalk", sec(a - 0.5), sec(b - 0.5), later, other, {"duration_s": round(dur, 3)}))
            speakers[later].overtalk_started_s += dur
            speakers[later].overtalk_longest_s = max(speakers[later].overtalk_longest_s, dur)

    # dead air and holds
    anyone = np.any([masks[lab] for lab in labels], axis=0) if labels else np.zeros(0, dtype=bool)
    hold_mask, holds = _holds(anyone, tracks, labels, hop_s, dc)
    if anyone.any():
        first, last = int(np.argmax(anyone)), n - int(np.argmax(anyone[::-1]))
        quiet = ~anyone & ~hold_mask
        quiet[:first] = False
        quiet[last:] = False
        for a, b in _runs(quiet):
            if sec(b - a) > dc.dead_air_s:
                events.append(Event("dead_air", sec(a - 0.5), sec(b - 0.5), None, None, {"duration_s": round(sec(b - a), 3)}))

    # floor turns, monologues, response latencies
    turns = _floor_turns(utts, frames(dc.turn_gap_s), hop_s)
    for t in turns:
        speakers[t.speaker].longest_turn_s = max(speakers[t.speaker].longest_turn_s, t.end - t.start)
        if t.end - t.start >= dc.monologue_s:
            events.append(Event("monologue", t.start, t.end, t.speaker, None, {"duration_s": round(t.end - t.start, 3)}))
    for prev, cur in zip(turns, turns[1:]):
        if cur.speaker != prev.speaker:
            speakers[cur.speaker].latencies_s.append((cur.start, cur.start - prev.end))
    for sp in speakers.values():
        gaps = [g for _, g in sp.latencies_s]
        if gaps:
            sp.latency_median_s = float(np.median(gaps))
            sp.latency_max_s = float(np.max(gaps))

    levels = _turn_levels(turns, tracks, masks) if tracks is not None else {}
    events.sort(key=lambda e: (e.start, e.type))
    return Dynamics(events=events, speakers=speakers, utterances=utts, turns=turns, holds=holds, roles=roles,
                    hop_s=hop_s, duration_s=n * hop_s, config=cfg, turn_levels=levels, prosody=prosody)


# ----------------------------------------------------------------------------- pieces


def _masks(activity: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Boolean masks padded to one length; a clear error for anything that is not one."""
    if not isinstance(activity, Mapping):
        raise ValueError(f"activity must map speaker labels to boolean frame arrays, got {type(activity).__name__}")
    out: dict[str, np.ndarray] = {}
    for lab, m in activity.items():
        arr = np.asarray(m)
        if arr.ndim != 1:
            raise ValueError(f"activity[{lab!r}] must be a 1-D frame array, got shape {arr.shape}")
        if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
            raise ValueError(f"activity[{lab!r}] must hold booleans (or 0/1)")
        out[str(lab)] = arr.astype(bool)
    n = max((len(m) for m in out.values()), default=0)
    return {lab: np.pad(m, (0, n - len(m))) for lab, m in out.items()}


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    return [(int(a), int(b)) for a, b in np.flatnonzero(m[1:] != m[:-1]).reshape(-1, 2)]


_TOKEN = re.compile(r"[^\w\-']+")


def _words_by_speaker(segments: Sequence[Segment] | None) -> dict[str, list[tuple[float, float, tuple[str, ...]]]]:
    """(start, end, words) per segment and speaker; word timings when present, else the segment's."""
    out: dict[str, list[tuple[float, float, tuple[str, ...]]]] = {}
    for s in segments or ():
        if s.words:
            for w in s.words:
                toks = tuple(t for t in _TOKEN.split(w.word.lower()) if t)
                if toks:
                    out.setdefault(s.speaker, []).append((w.start, w.end, toks))
        else:
            toks = tuple(t for t in _TOKEN.split(s.text.lower()) if t)
            if toks:
                out.setdefault(s.speaker, []).append((s.start, s.end, toks))
    return out


def _classify(masks: dict[str, np.ndarray], hop_s: float, dc: DynamicsConfig,
              words: dict[str, list[tuple[float, float, tuple[str, ...]]]]) -> list[Utterance]:
    """Every run of every speaker, with backchannels marked (module docstring)."""
    ctx = int(round(dc.backchannel_context_s / hop_s))
    own_gap = int(round(dc.backchannel_own_gap_s / hop_s))
    bc_words = {w.lower() for w in dc.backchannel_words}
    out = []
    for lab, m in masks.items():
        runs = _runs(m)
        others = [o for o in masks if o != lab]
        mine = sorted(words.get(lab, ()))
        starts = [w[0] for w in mine]
        longest = max((we - ws for ws, we, _ in mine), default=0.0)
        for i, (a, b) in enumerate(runs):
            start, end = max(0.0, (a - 0.5) * hop_s), (b - 0.5) * hop_s
            near = mine[bisect.bisect_left(starts, start - longest):bisect.bisect_left(starts, end)]
            said = tuple(t for ws, we, toks in near if ws < end and we > start for t in toks)
            is_bc, target = False, None
            if (b - a) * hop_s <= dc.backchannel_max_s and others:
                alone = (i == 0 or a - runs[i - 1][1] >= own_gap) and (i + 1 == len(runs) or runs[i + 1][0] - b >= own_gap)
                holding = [o for o in others
                           if masks[o][max(0, a - ctx):b].any() and masks[o][max(0, b - 1):b + ctx].any()]
                wordy = len(said) > dc.backchannel_max_words and not all(t in bc_words for t in said)
                if alone and holding and not wordy:
                    is_bc = True
                    target = max(holding, key=lambda o: int(masks[o][max(0, a - ctx):b + ctx].sum()))
            out.append(Utterance(lab, a, b, start, end, is_bc, target, said))
    return sorted(out, key=lambda u: (u.a, u.speaker))


def _floor_turns(utts: list[Utterance], max_gap: int, hop_s: float) -> list[FloorTurn]:
    turns: list[FloorTurn] = []
    for u in (u for u in utts if not u.backchannel):
        if turns and turns[-1].speaker == u.speaker and u.a - turns[-1].b < max_gap:
            t = turns[-1]
            turns[-1] = FloorTurn(t.speaker, t.start, max(t.end, u.end), t.a, max(t.b, u.b))
        elif turns and turns[-1].speaker != u.speaker and u.b <= turns[-1].b:
            continue  # wholly inside the other's turn (an interjection that took no floor)
        else:
            turns.append(FloorTurn(u.speaker, u.start, u.end, u.a, u.b))
    return turns


def _holds(anyone: np.ndarray, tracks: Mapping[str, Any] | None, labels: list[str], hop_s: float,
           dc: DynamicsConfig) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """Frames where a leg carries steady sound while nobody speaks (hold music), and their spans."""
    n = len(anyone)
    mask = np.zeros(n, dtype=bool)
    spans: list[tuple[float, float, str]] = []
    if tracks is None:
        return mask, spans
    seen: set[int] = set()
    for lab in labels:
        tr = tracks.get(lab)
        if tr is None or id(tr.energy_db) in seen:
            continue
        seen.add(id(tr.energy_db))
        level = np.full(n, -np.inf)
        e = np.asarray(tr.energy_db, dtype=np.float64)[:n]
        level[: len(e)] = e
        floor = np.percentile(e, 10) if len(e) else 0.0
        # smoothed over hold_smooth_s so the dips between notes do not cut the music into pieces
        width = max(1, int(round(dc.hold_smooth_s / hop_s)))
        smooth = np.convolve(np.maximum(level, floor), np.ones(width) / width, mode="same")
        sound = (smooth > floor + dc.hold_margin_db) & ~anyone
        for a, b in _runs(sound):
            if (b - a) * hop_s >= dc.hold_min_s:
                mask[a:b] = True
                spans.append((max(0.0, (a - 0.5) * hop_s), (b - 0.5) * hop_s, lab))
    return mask, sorted(spans)


def syllable_count(tracks: Any, active: np.ndarray, dc: DynamicsConfig) -> int:
    """Syllable nuclei: voiced energy peaks separated by dips of >= ``syllable_prominence_db``.

    After de Jong & Wempe (2009), "Praat script to detect syllable nuclei and measure speech rate
    automatically", Behavior Research Methods 41(2), on the 10 ms level track (smoothed over 50 ms).
    """
    e = np.asarray(tracks.energy_db, dtype=np.float64)
    n = min(len(e), len(active))
    e = np.convolve(e[:n], np.ones(5) / 5, mode="same")
    ok = np.asarray(active[:n], dtype=bool) & (np.asarray(tracks.f0[:n]) > 0)
    min_gap = max(1, int(round(dc.syllable_min_gap_s / tracks.hop_s)))
    count = 0
    for a, b in _runs(ok):
        seg = e[a:b]
        if len(seg) < 3:
            continue
        peaks = (1 + np.flatnonzero((seg[1:-1] >= seg[:-2]) & (seg[1:-1] > seg[2:]))).tolist()
        kept: list[int] = []
        for p in peaks:
            if kept:
                q = kept[-1]
                dip = seg[q:p + 1].min()
                if p - q < min_gap or dip > min(seg[q], seg[p]) - dc.syllable_prominence_db:
                    if seg[p] > seg[q]:
                        kept[-1] = p
                    continue
            kept.append(p)
        count += len(kept)
    return count


def _turn_levels(turns: list[FloorTurn], tracks: Mapping[str, Any], masks: dict[str, np.ndarray]
                 ) -> dict[int, tuple[float | None, float | None]]:
    """Median level (dB) and median voiced F0 (semitones) of each floor turn, for mirroring."""
    out: dict[int, tuple[float | None, float | None]] = {}
    for i, t in enumerate(turns):
        tr = tracks.get(t.speaker)
        if tr is None:
            continue
        m = masks[t.speaker][t.a:t.b]
        e = np.asarray(tr.energy_db[t.a:t.b])[: len(m)]
        f = np.asarray(tr.f0[t.a:t.b])[: len(m)]
        m = m[: len(e)]
        voiced = f[m[: len(f)] & (f > 0)]
        out[i] = (float(np.median(e[m])) if m.any() else None,
                  float(np.median(12 * np.log2(voiced))) if voiced.size else None)
    return out


# ----------------------------------------------------------------------------- behaviours


def _role_label(roles: Mapping[str, str], role: str) -> str | None:
    return next((lab for lab, r in roles.items() if r == role), None)


def _weight(key: str) -> float:
    return float(_WEIGHTS.get(key, 1.0))


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _smile(d: Dynamics, agent: str | None) -> BehaviourScore:
    sp = (d.prosody or {}).get(agent) if agent else None
    if sp is None or getattr(sp, "smile_share", None) is None:
        return BehaviourScore(None, _weight("smile"))
    full = d.config.prosody.smile_share_full
    score = _clip01(sp.smile_share / full) if full > 0 else 0.0
    ev = [Evidence(u.start, u.end, f"F0 {u.z_f0:+.1f} and brightness {u.z_brightness:+.1f} spreads above the "
                                   "agent's own baseline: sounds smiled") for u in sp.utterances if u.smiled]
    if not ev:
        ev = [Evidence(0.0, d.duration_s, f"no agent utterance clearly above the agent's own pitch/brightness "
                                          f"baseline ({len(sp.utterances)} judged)")]
    return BehaviourScore(score, _weight("smile"), ev)


def _agent_events(d: Dynamics, kind: str, agent: str, customer: str) -> list[Event]:
    return [e for e in d.events if e.type == kind and e.speaker == agent and e.target in (customer, None)]


def _listening(d: Dynamics, agent: str | None, customer: str | None) -> BehaviourScore:
    dc = d.config.dynamics
    if not agent or not customer or d.speakers[customer].talk_s < dc.listening_min_customer_s:
        return BehaviourScore(None, _weight("listening"))
    bcs = _agent_events(d, "backchannel", agent, customer)
    ints = _agent_events(d, "interruption", agent, customer)
    rate = len(bcs) / (d.speakers[customer].talk_s / 60.0)
    score = _clip01(min(1.0, rate / dc.listening_target_per_min) - dc.listening_interrupt_penalty * len(ints))
    ev = [Evidence(e.start, e.end, "backchannel while the customer spoke" if (e.detail or {}).get("overlapping")
                   else "backchannel in the customer's pause") for e in bcs]
    ev += [Evidence(e.start, e.end, "talked over the customer instead of listening") for e in ints]
    if not bcs:
        ev.append(Evidence(0.0, d.duration_s, f"no agent backchannel in {d.speakers[customer].talk_s:.0f} s of customer speech"))
    return BehaviourScore(score, _weight("listening"), ev)


def _no_interrupting(d: Dynamics, agent: str | None, customer: str | None) -> BehaviourScore:
    dc = d.config.dynamics
    if not agent or not customer:
        return BehaviourScore(None, _weight("no_interrupting"))
    ints = _agent_events(d, "interruption", agent, customer)
    over = _agent_events(d, "overtalk", agent, customer)
    over_s = sum(e.end - e.start for e in over)
    score = _clip01(1.0 - dc.interrupt_penalty * len(ints) - dc.overtalk_penalty_per_s * over_s)
    ev = [Evidence(e.start, e.end, "agent started talking over the customer"
                   + (", who stopped" if (e.detail or {}).get("yielded") else ", who kept talking")) for e in ints]
    ev += [Evidence(e.start, e.end, f"{e.end - e.start:.1f} s of overtalk started by the agent") for e in over]
    if not ev:
        ev = [Evidence(0.0, d.duration_s, "the agent never started talking over the customer")]
    return BehaviourScore(score, _weight("no_interrupting"), ev)


def _responsiveness(d: Dynamics, agent: str | None, customer: str | None) -> BehaviourScore:
    dc = d.config.dynamics
    if not agent or not customer:
        return BehaviourScore(None, _weight("responsiveness"))
    lat = d.speakers[agent].latencies_s
    dead = [e for e in d.events if e.type == "dead_air"]
    if not lat and not dead:
        return BehaviourScore(None, _weight("responsiveness"))
    slow = [(t, g) for t, g in lat if g >= dc.latency_slow_s]
    dead_s = sum(e.end - e.start for e in dead)
    slow_share = len(slow) / len(lat) if lat else 0.0
    score = _clip01(1.0 - dead_s / dc.dead_air_poor_s - 0.5 * slow_share)
    ev = [Evidence(e.start, e.end, f"{e.end - e.start:.1f} s of dead air") for e in dead]
    ev += [Evidence(t - g, t, f"agent answered after {g:.1f} s") for t, g in slow]
    ev += [Evidence(s, e, "customer on hold (music, not dead air)") for s, e, _ in d.holds]
    if not ev and lat:
        med = float(np.median([g for _, g in lat]))
        ev = [Evidence(lat[0][0], lat[-1][0], f"agent answered within {max(g for _, g in lat):.1f} s every time "
                                              f"(median {med:.1f} s)")]
    return BehaviourScore(score, _weight("responsiveness"), ev)


def _pace(d: Dynamics, agent: str | None, customer: str | None) -> BehaviourScore:
    dc = d.config.dynamics
    if not agent or not customer:
        return BehaviourScore(None, _weight("pace"))
    a, c = d.speakers[agent], d.speakers[customer]
    if a.words_per_min and c.words_per_min:
        ra, rc, unit = a.words_per_min, c.words_per_min, "words/min"
    elif a.syllables_per_s and c.syllables_per_s:
        ra, rc, unit = a.syllables_per_s, c.syllables_per_s, "syllables/s"
    else:
        ra = rc = None
        unit = ""
    monologues = [e for e in d.events if e.type == "monologue" and e.speaker == agent]
    if ra is None and not monologues:
        return BehaviourScore(None, _weight("pace"))
    ev = []
    score = 1.0
    if ra is not None and rc:
        ratio = ra / rc
        score = _clip01(1.0 - abs(math.log(ratio)) / math.log(dc.pace_poor_ratio))
        ev.append(Evidence(0.0, d.duration_s, f"agent {ra:.1f} vs customer {rc:.1f} {unit} (ratio {ratio:.2f})"))
    for e in monologues:
        score = min(score, 0.3)
        ev.append(Evidence(e.start, e.end, f"agent monologue of {e.end - e.start:.0f} s"))
    return BehaviourScore(score, _weight("pace"), ev)


def _mirroring(d: Dynamics, agent: str | None, customer: str | None) -> BehaviourScore:
    """Correlation of the customer's turn arousal (level + pitch, z within speaker) with the agent's next turn."""
    dc = d.config.dynamics
    if not agent or not customer or not d.turn_levels:
        return BehaviourScore(None, _weight("mirroring"))
    pairs = []
    for i in range(len(d.turns) - 1):
        t, u = d.turns[i], d.turns[i + 1]
        if t.speaker == customer and u.speaker == agent:
            lt, lu = d.turn_levels.get(i), d.turn_levels.get(i + 1)
            if lt and lu and None not in lt and None not in lu:
                pairs.append((t, u, lt, lu))
    if len(pairs) < dc.mirroring_min_pairs:
        return BehaviourScore(None, _weight("mirroring"))

    def arousal(levels: list[tuple[float, float]]) -> np.ndarray:
        arr = np.array(levels, dtype=np.float64)
        sd = arr.std(axis=0)
        sd[sd == 0] = 1.0
        return ((arr - arr.mean(axis=0)) / sd).mean(axis=1)

    cust = arousal([p[2] for p in pairs])
    agen = arousal([p[3] for p in pairs])
    if cust.std() == 0 or agen.std() == 0:
        return BehaviourScore(None, _weight("mirroring"))
    r = float(np.corrcoef(cust, agen)[0, 1])
    ev = [Evidence(pairs[int(np.argmax(cust))][0].start, pairs[int(np.argmax(cust))][1].end,
                   f"customer's most aroused turn; agent's answer {agen[int(np.argmax(cust))]:+.1f} vs its mean"),
          Evidence(pairs[0][0].start, pairs[-1][1].end, f"agent arousal follows the customer's with r = {r:+.2f} "
                                                        f"over {len(pairs)} turn pairs")]
    return BehaviourScore(_clip01((1.0 + r) / 2.0), _weight("mirroring"), ev)


# ----------------------------------------------------------------------------- helpers for callers


def events_of(dyn: Dynamics, kind: str) -> list[Event]:
    return [e for e in dyn.events if e.type == kind]
