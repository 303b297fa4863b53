"""Text behaviours of a whole call (DESIGN §3.3) from its diarised transcript.

Per agent segment the lexicon (and optional embeddings) give phrase strengths (score.py); this module
adds *when* things were said: a warm opening counts in the agent's first ``opening_window_s``,
thanks at the close in the call's last ``closing_window_s``, an apology fully only within
``apology_window_s`` after the customer's first complaint. Behaviours that the call gives no reason
for (no apology needed when the customer never complained) are ``None`` unless the agent did them
anyway. A language without a lexicon gives ``None`` for every text behaviour, with a note.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..config import LanguageConfig
from ..types import BehaviourScore, Event, Evidence, Segment
from .cues import AGENT_NEGATIVE_CUES, CUE_MEANING, Cue
from .lexicon import load_lexicon
from .normalize import detect_language
from .score import TEXT_BEHAVIOURS, TextAnalysis, analyse_texts, clean_register, customer_cues, personal_voice

__all__ = ["TranscriptCues", "analyse_transcript"]

# Behaviours a call always gives a reason for (every call opens, closes and has a register).
_ALWAYS = ("warm_opening", "anything_else", "thanks_close")
_WHEN_UPSET = ("apology", "validation", "restating")
_WHEN_ISSUE = ("ownership", "action_now", "timeframe")
_PHRASE = ("apology", "validation", "restating", "ownership", "action_now", "timeframe", "anything_else")


@dataclass
class TranscriptCues:
    language: str | None
    behaviours: dict[str, BehaviourScore]
    customer: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _span_time(seg: Segment, a: int, b: int) -> tuple[float, float]:
    """Time of characters [a, b) of seg.text: from word timings when present, else the segment's."""
    if not seg.words:
        return seg.start, seg.end
    pos, t0, t1 = 0, None, None
    for w in seg.words:
        k = seg.text.find(w.word.strip(), pos)
        if k < 0:
            continue
        e = k + len(w.word.strip())
        if e > a and k < b:
            t0 = w.start if t0 is None else t0
            t1 = w.end
        pos = e
    return (t0, t1) if t0 is not None and t1 is not None else (seg.start, seg.end)


def _evidence(seg: Segment, c: Cue, why: str) -> Evidence:
    t0, t1 = _span_time(seg, c.start, c.end)
    return Evidence(round(t0, 3), round(t1, 3), why, c.quote)


def _null_all(language: str | None, note: str) -> TranscriptCues:
    return TranscriptCues(language, {b: BehaviourScore(None) for b in TEXT_BEHAVIOURS},
                          {"needs": "neutral", "sentiment_start": None, "sentiment_end": None}, [], [note])


def analyse_transcript(
    segments: Iterable[Segment], roles: Mapping[str, str], language: str = "auto", duration_s: float | None = None,
    config: LanguageConfig | None = None,
) -> TranscriptCues:
    """Text behaviours, customer needs/sentiment and cue events of one call (see module doc)."""
    cfg = config or LanguageConfig()
    segs = sorted((s for s in segments if s.text.strip()), key=lambda s: s.start)
    lang = language.lower() if language and language != "auto" else detect_language(" ".join(s.text for s in segs))
    if not segs:
        return _null_all(lang, "no transcript: text behaviours are null")
    if lang is None or load_lexicon(lang) is None:
        return _null_all(lang, f"no lexicon for language {lang or 'unknown'}: text behaviours are null")
    agent = [s for s in segs if roles.get(s.speaker) == "agent"]
    cust = [s for s in segs if roles.get(s.speaker) == "customer"]
    end_t = duration_s if duration_s is not None else max(s.end for s in segs)
    notes: list[str] = []
    events: list[Event] = []

    # customer side
    cc = [customer_cues(s.text, lang) for s in cust]
    i_lang = sum(c.i_language for c in cc)
    you_lang = sum(c.you_language for c in cc)
    need = "neutral" if i_lang <= 0 and you_lang <= 0 else ("ownership" if you_lang > i_lang else "validation")
    upset = any(c.anger > 0 or c.i_language > 0 or c.you_language > 0 for c in cc)
    issue = upset or any(c.complaint > 0 for c in cc)
    first_complaint = next((s.start for s, c in zip(cust, cc) if c.upset), None)
    sents = [c.sentiment for c in cc]
    known = [(s, v) for s, v in zip(cust, sents) if v is not None]
    half = end_t / 2.0
    start_vals = [v for s, v in known if s.start < half] or [v for _, v in known[:1]]
    end_vals = [v for s, v in known if s.start >= half] or [v for _, v in known[-1:]]
    customer = {
        "needs": need,
        "sentiment_start": None if not start_vals else round(sum(start_vals) / len(start_vals), 3),
        "sentiment_end": None if not end_vals else round(sum(end_vals) / len(end_vals), 3),
    }
    for s, c in zip(cust, cc):
        for m in (c.matches.cues if c.matches else ()):
            if m.cue in ("i_language", "you_language") and m.counts:
                t0, t1 = _span_time(s, m.start, m.end)
                events.append(Event("cue", t0, t1, s.speaker, None, {"cue": m.cue, "quote": m.quote}))

    # agent side
    analyses: list[TextAnalysis] = analyse_texts([s.text for s in agent], lang, cfg) or []
    first_agent = agent[0].start if agent else 0.0
    best: dict[str, float] = {}
    worst: dict[str, float] = {}
    ev: dict[str, list[Evidence]] = {b: [] for b in TEXT_BEHAVIOURS}
    counts: dict[str, float] = {}
    for seg, a in zip(agent, analyses):
        for k, v in a.counts.items():
            counts[k] = counts.get(k, 0) + v
        # in a short call the two windows overlap: the first half opens, the second half closes
        opening = seg.start <= min(first_agent + cfg.opening_window_s, end_t / 2.0)
        closing = not opening and seg.end >= max(end_t - cfg.closing_window_s, end_t / 2.0)
        pos = dict(a.pos)
        if closing:  # "thank you for calling" at the end is a closing thank-you
            pos["thanks"] = 1 - (1 - pos.get("thanks", 0.0)) * (1 - pos.get("warm_opening", 0.0))
        if opening:
            pos["warm_opening"] = 1 - (1 - pos.get("warm_opening", 0.0)) * (1 - pos.get("thanks", 0.0))
        else:
            pos.pop("warm_opening", None)
        pos["thanks_close"] = (1 - (1 - pos.get("thanks_close", 0.0)) * (1 - pos.get("thanks", 0.0))) if closing else 0.0
        if "apology" in pos and first_complaint is not None:
            late = seg.start > first_complaint + cfg.apology_window_s
            early_ok = seg.start >= first_complaint - 1.0
            if late or not early_ok:
                pos["apology"] *= 0.5
        for b, v in pos.items():
            if b in TEXT_BEHAVIOURS and v > 0:
                best[b] = max(best.get(b, 0.0), v)
        for b, v in a.neg.items():
            worst[b] = max(worst.get(b, 0.0), v)
        for c in a.matches.cues:
            meaning = CUE_MEANING.get(c.cue)
            if meaning is None or meaning[0] is None:
                continue
            b, sign = meaning
            if c.cue == "greeting" and closing:
                b = "thanks"
            if b == "thanks":
                b = "warm_opening" if opening else ("thanks_close" if closing else None)
                if b is None:
                    continue
            if (b == "warm_opening" and not opening) or b not in ev:  # e.g. exploration: score-text only
                continue
            if sign > 0 and c.counts:
                ev[b].append(_evidence(seg, c, f"{c.cue} phrase"))
                events.append(Event("cue", *_span_time(seg, c.start, c.end), seg.speaker, None, {"cue": c.cue, "quote": c.quote}))
            elif sign < 0 and not (c.negated or c.reported):
                ev[b].append(_evidence(seg, c, f"against: {c.cue}"))
                if c.cue in AGENT_NEGATIVE_CUES:
                    events.append(Event("cue", *_span_time(seg, c.start, c.end), seg.speaker, None, {"cue": c.cue, "quote": c.quote}))
            elif sign > 0 and c.negated and not c.reported:
                ev[b].append(_evidence(seg, c, f"against: negated {c.cue}"))
        for cls, s in a.embedded.items():
            if cls in _PHRASE and s > 0 and not any(e.start >= seg.start and e.end <= seg.end for e in ev[cls]):
                ev[cls].append(Evidence(seg.start, seg.end, f"paraphrase of {cls} exemplars (similarity {s:.2f})", seg.text.strip()))

    applies = set(_ALWAYS) if agent else set()
    if upset:
        applies.update(_WHEN_UPSET)
    if issue:
        applies.update(_WHEN_ISSUE)
    behaviours: dict[str, BehaviourScore] = {}
    for b in ("warm_opening", *_PHRASE, "thanks_close"):
        p, n = best.get(b, 0.0), worst.get(b, 0.0)
        if p <= 0 and n <= 0 and b not in applies:
            behaviours[b] = BehaviourScore(None)
            continue
        uniq = list({(e.start, e.end, e.quote): e for e in ev[b]}.values())
        behaviours[b] = BehaviourScore(round(max(0.0, min(1.0, p * (1.0 - n))), 4), evidence=uniq[:6])
    pv, cr = personal_voice(counts), clean_register(counts)
    behaviours["personal_voice"] = BehaviourScore(None if pv is None else round(pv, 4), evidence=[
        Evidence(agent[0].start, agent[-1].end, f"agent said I/you {int(counts.get('personal', 0) + counts.get('you', 0))}x, "
                 f"we/the company {int(counts.get('corporate', 0))}x")] if pv is not None else [])
    behaviours["clean_register"] = BehaviourScore(None if cr is None else round(cr, 4), evidence=[
        Evidence(agent[0].start, agent[-1].end, f"{int(counts.get('filler', 0))} fillers, {int(counts.get('slang', 0))} slang, "
                 f"{int(counts.get('robotic', 0))} robotic phrases in {int(counts.get('words', 0))} words")] if cr is not None else [])
    score = {b: (behaviours[b].score or 0.0) for b in behaviours}
    if need == "validation":
        nm: float | None = max(score["validation"], 0.6 * score["apology"], 0.5 * score["restating"])
    elif need == "ownership":
        nm = 0.6 * max(score["ownership"], score["action_now"], 0.7 * score["timeframe"]) + 0.4 * score["apology"]
    else:
        nm = None
    behaviours["needs_met"] = BehaviourScore(None if nm is None else round(nm, 4), evidence=[
        Evidence(cust[0].start if cust else 0.0, end_t, f"customer needed {need}")] if nm is not None else [])
    if cfg.use_embeddings and not any(a.embedded for a in analyses):
        from .embed import embedding_status

        st = embedding_status()
        if st.get("available") is False:
            notes.append(f"{st.get('reason')}: text cues from the lexicon only")
    events.sort(key=lambda e: e.start)
    return TranscriptCues(lang, {b: behaviours[b] for b in TEXT_BEHAVIOURS}, customer, events, notes)
