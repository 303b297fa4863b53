"""Merge audio and text behaviour scores into the 0-100 empathy score, a grade and one plain sentence.

Why weights and not a model: QA leads must be able to see and argue with every point of the score.
Each behaviour's weight is data (``WEIGHTS`` below, documented in docs/scoring.md); behaviours with
``score: None`` (not applicable, or no evidence) drop out of the weighted mean instead of counting as
zero, so an audio-only run is scored on what was measured. The customer's need (validation or
ownership, read from their I-/you-language) raises the weight of the behaviours that answer it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from voicecx.types import BehaviourScore, Event

# Behaviour weights (relative; the score is a weighted mean). Higher = matters more to a caller's
# sense of being heard, following call-centre QA rubrics: not interrupting, validating and owning
# the problem weigh most; pace and register least.
WEIGHTS: Mapping[str, float] = {
    # audio (DESIGN §3.3)
    "smile": 1.0,
    "listening": 1.0,
    "no_interrupting": 1.5,
    "responsiveness": 1.0,
    "pace": 0.5,
    "mirroring": 0.5,
    # text
    "warm_opening": 1.0,
    "personal_voice": 0.75,
    "apology": 1.25,
    "validation": 1.5,
    "restating": 1.0,
    "ownership": 1.5,
    "action_now": 0.75,
    "timeframe": 1.0,
    "anything_else": 0.5,
    "thanks_close": 0.75,
    "clean_register": 0.5,
    "needs_met": 1.5,
}

# A customer's need multiplies the weight of the behaviours that answer it.
NEED_BOOST: Mapping[str, Mapping[str, float]] = {
    "validation": {"validation": 1.5, "restating": 1.25, "needs_met": 1.5},
    "ownership": {"ownership": 1.5, "apology": 1.5, "timeframe": 1.25, "needs_met": 1.5},
    "neutral": {},
}

# Lower bound of each grade on the 0-100 score.
GRADES: Sequence[tuple[str, float]] = (("A", 80.0), ("B", 65.0), ("C", 50.0), ("D", 35.0), ("E", 0.0))

GOOD, POOR = 0.7, 0.4  # behaviour scores at or above GOOD are praised, at or below POOR are flagged

POSITIVE_PHRASES: Mapping[str, str] = {
    "warm_opening": "warm opening",
    "apology": "early apology",
    "validation": "validated the customer's feelings",
    "restating": "checked understanding",
    "ownership": "took ownership",
    "action_now": "said what they were doing",
    "timeframe": "gave a concrete timeframe",
    "thanks_close": "thanked the customer at the close",
    "anything_else": "offered further help",
    "smile": "smile in the voice",
    "listening": "well-placed listening sounds",
    "no_interrupting": "let the customer finish",
    "responsiveness": "answered promptly",
    "personal_voice": "spoke personally",
    "needs_met": "answered what the customer needed",
    "mirroring": "matched the customer's energy",
    "pace": "good pace",
    "clean_register": "clear, natural register",
}

NEGATIVE_PHRASES: Mapping[str, str] = {
    "warm_opening": "no warm opening",
    "apology": "no apology",
    "validation": "no validation of feelings",
    "restating": "never checked understanding",
    "ownership": "passed the problem on",
    "action_now": "no visible action",
    "timeframe": "no timeframe",
    "thanks_close": "no thanks at the close",
    "anything_else": "did not offer further help",
    "smile": "flat voice",
    "listening": "few listening sounds",
    "responsiveness": "slow to respond",
    "personal_voice": "corporate voice",
    "needs_met": "missed what the customer needed",
    "mirroring": "did not follow the customer's mood",
    "pace": "rushed or dragging pace",
    "clean_register": "many fillers",
}


@dataclass(frozen=True)
class Empathy:
    score: float
    grade: str
    summary: str

    def to_dict(self) -> dict[str, object]:
        return {"score": round(self.score, 1), "grade": self.grade, "summary": self.summary}


def effective_weights(needs: str = "neutral") -> dict[str, float]:
    boost = NEED_BOOST.get(needs, {})
    return {k: w * boost.get(k, 1.0) for k, w in WEIGHTS.items()}


def apply_weights(behaviours: Mapping[str, BehaviourScore], needs: str = "neutral") -> dict[str, BehaviourScore]:
    """Every behaviour id present, with its effective weight; missing ones become null (not measured)."""
    weights = effective_weights(needs)
    out: dict[str, BehaviourScore] = {}
    for key, weight in weights.items():
        b = behaviours.get(key) or BehaviourScore(score=None)
        out[key] = BehaviourScore(score=_clip01(b.score), weight=round(weight, 3), evidence=list(b.evidence))
    for key, b in behaviours.items():  # extra behaviours from newer stages keep their own weight
        out.setdefault(key, b)
    return out


def empathy_score(behaviours: Mapping[str, BehaviourScore]) -> float | None:
    """Weighted mean of the non-null scores, on 0-100; None when nothing at all was measurable."""
    num = den = 0.0
    for b in behaviours.values():
        if b.score is None or b.weight <= 0:
            continue
        num += b.weight * b.score
        den += b.weight
    return None if den == 0 else 100.0 * num / den


def grade(score: float) -> str:
    for letter, lower in GRADES:
        if score >= lower:
            return letter
    return GRADES[-1][0]


def summarise(behaviours: Mapping[str, BehaviourScore], events: Sequence[Event], agent: str | None) -> str:
    """One plain sentence: what went well, then what went wrong, with counts a QA lead can check."""
    ranked = sorted(((b.weight * (b.score or 0), k) for k, b in behaviours.items()
                     if b.score is not None and b.score >= GOOD and k in POSITIVE_PHRASES), reverse=True)
    good = [POSITIVE_PHRASES[k] for _, k in ranked[:3]]
    bad = _event_facts(events, agent)
    flagged = sorted(((b.weight * (1 - b.score), k) for k, b in behaviours.items()
                      if b.score is not None and b.score <= POOR and k in NEGATIVE_PHRASES), reverse=True)
    for _, key in flagged:
        if len(bad) >= 4:
            break
        if key in ("no_interrupting", "responsiveness") and bad:
            continue  # already said with numbers
        bad.append(NEGATIVE_PHRASES[key])
    parts = []
    if good:
        parts.append(_join(good))
    if bad:
        parts.append(_join(bad))
    if not parts:
        return "Not enough evidence to judge the agent's empathy."
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def _event_facts(events: Sequence[Event], agent: str | None) -> list[str]:
    facts: list[str] = []
    interruptions = [e for e in events if e.type == "interruption" and agent is not None and e.speaker == agent]
    if interruptions:
        n = len(interruptions)
        facts.append("interrupted the customer " + ("once" if n == 1 else "twice" if n == 2 else f"{n} times"))
    dead = sum(e.end - e.start for e in events if e.type == "dead_air")
    if dead >= 1.0:
        facts.append(f"{dead:.0f} s of dead air")
    return facts


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _clip01(x: float | None) -> float | None:
    return None if x is None else min(1.0, max(0.0, float(x)))


def score_call(behaviours: Mapping[str, BehaviourScore], events: Sequence[Event], *, needs: str = "neutral",
               agent: str | None = None) -> tuple[dict[str, BehaviourScore], Empathy]:
    """Weighted behaviours and the empathy verdict for one call."""
    weighted = apply_weights(behaviours, needs)
    score = empathy_score(weighted)
    if score is None:
        return weighted, Empathy(0.0, "E", "Not enough speech to judge the agent's empathy.")
    return weighted, Empathy(score, grade(score), summarise(weighted, events, agent))


def alerts_from_events(events: Sequence[Event], call_id: str, roles: Mapping[str, str],
                       *, overtalk_alert_s: float = 2.0) -> list[dict[str, object]]:
    """The alerts a live desk would have raised during this call (same shape as stream alerts, DESIGN §3.4)."""
    alerts: list[dict[str, object]] = []

    def add(t: float, kind: str, severity: str, detail: str) -> None:
        alerts.append({"type": "alert", "call_id": call_id, "t": round(t, 2), "kind": kind,
                       "severity": severity, "detail": detail})

    for e in events:
        role = roles.get(e.speaker or "", "unknown")
        if e.type == "interruption" and role == "agent":
            add(e.start, "agent_interrupts", "warning", f"agent started talking over the customer at {e.start:.1f} s")
        elif e.type == "overtalk" and e.end - e.start >= overtalk_alert_s:
            add(e.start, "overtalk", "warning", f"{e.end - e.start:.1f} s of simultaneous speech")
        elif e.type == "dead_air":
            add(e.start, "dead_air", "warning", f"{e.end - e.start:.1f} s with nobody speaking")
        elif e.type == "monologue" and role == "agent":
            add(e.start, "agent_monologue", "info", f"agent spoke for {e.end - e.start:.0f} s without a break")
    return sorted(alerts, key=lambda a: float(a["t"]))  # type: ignore[arg-type]
