"""Empathy of a text reply: per-behaviour strengths and one graded 0..1 score (``voicecx score-text``).

The score follows what raters of empathic replies reward (Sharma et al. 2020, "A Computational
Approach to Understanding Empathy Expressed in Text-Based Mental Health Support": emotional
reactions, interpretations, explorations) and the call-centre behaviours of DESIGN §3.3:

    P = Σ_b W_b · strength_b  +  W_specific · specificity  +  W_emotion · emotion
        +  W_elab · length  +  W_reflect · reflection                            (positive evidence)
    N = Σ_c V_c · strength_c                                   (dismissal, blame, buck-passing, …)
    empathy = (base + (1 - base)(1 - e^-P)) · (1 - 0.85 (1 - e^-N))

so a short neutral factual reply sits near ``base`` (0.25), a bare "sorry" around 0.4-0.55, validation that
names the customer's feeling or situation 0.75-0.9, and "calm down" near 0.1. A behaviour's strength
is the noisy-OR of its phrase weights (1 - Π(1 - w)), combined the same way with the optional
embedding similarity (embed.py). Specificity = validation/apology that names a feeling or reuses the
customer's own words (`context`). Emotion = the reply names a feeling at all (a feeling word that is
not negated, reported or inside a dismissal). Length = words / 25 (at most 1), weighted 0.2 when the
reply has positive evidence and 0.1 when it has no cue either way (so a considered reply with no stock
phrase is not tied with a curt one). Reflection = the reply reuses the person's own content words.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence, TextIO

from ..config import LanguageConfig
from .cues import CUE_MEANING, CUSTOMER_CUES, Matches, find_cues
from .embed import SUPPORTED_LANGUAGES, load_matcher
from .lexicon import Lexicon, load_lexicon
from .normalize import detect_language, normalize, word_count

__all__ = [
    "TextScore",
    "TextAnalysis",
    "analyse_text",
    "analyse_texts",
    "score_text",
    "score_texts",
    "score_text_lines",
    "customer_cues",
    "CustomerCues",
    "TEXT_BEHAVIOURS",
    "resolve_language",
]

TEXT_BEHAVIOURS = (
    "warm_opening",
    "personal_voice",
    "apology",
    "validation",
    "restating",
    "ownership",
    "action_now",
    "timeframe",
    "anything_else",
    "thanks_close",
    "clean_register",
    "needs_met",
)
_PHRASE_BEHAVIOURS = (
    "warm_opening", "thanks", "thanks_close", "apology", "validation", "restating", "ownership",
    "action_now", "timeframe", "anything_else",
)
# Positive weights W_b: validation ("interpretation") counts most, then the emotional reaction
# (apology), restating, taking ownership and exploring (asking about the person); courtesy phrases
# count least.
POSITIVE_WEIGHTS = {
    "validation": 1.0, "apology": 0.7, "restating": 0.6, "ownership": 0.6, "exploration": 0.5, "action_now": 0.4,
    "timeframe": 0.3, "warm_opening": 0.3, "thanks": 0.25, "thanks_close": 0.2, "anything_else": 0.2,
}
SPECIFIC_WEIGHT = 0.6  # validation/apology that names the feeling or the customer's situation
ELABORATION_WEIGHT = 0.2  # a reply that says more than one phrase (only when it has positive evidence)
PLAIN_ELABORATION_WEIGHT = 0.1  # the same for a reply with no cue either way: taking time to answer (chosen on the development pairs)
REFLECTION_WEIGHT = 0.15  # the reply reuses the person's own words (Sharma et al.'s "interpretations"; chosen on the development pairs)
EMOTION_WEIGHT = 0.2  # naming a feeling at all ("emotional reactions", Sharma et al. 2020), beyond making validation specific
# Negative weights V_c
NEGATIVE_WEIGHTS = {
    "dismissal": 1.2, "blame": 1.2, "sarcasm": 1.0, "buck_passing": 0.9, "non_apology": 0.7,
    "negated_empathy": 1.0, "passive_vague": 0.25, "vague_time": 0.2, "slang": 0.2, "robotic": 0.2,
}
_NEGATIVE_CLASS_OF = {"dismissal": "validation", "blame": "ownership", "buck_passing": "ownership"}


def _noisy_or(values: Iterable[float]) -> float:
    p = 1.0
    for v in values:
        p *= 1.0 - max(0.0, min(1.0, v))
    return 1.0 - p


def _combine(a: float, b: float) -> float:
    return 1.0 - (1.0 - a) * (1.0 - b)


@dataclass
class TextAnalysis:
    """Everything found in one text by one speaker (agent side)."""

    language: str
    matches: Matches
    pos: dict[str, float] = field(default_factory=dict)  # behaviour (+ "thanks") -> 0..1
    neg: dict[str, float] = field(default_factory=dict)  # behaviour -> 0..1 evidence against it
    neg_cues: dict[str, float] = field(default_factory=dict)  # negative cue id -> 0..1
    counts: dict[str, float] = field(default_factory=dict)  # personal/you/corporate/filler/slang/robotic/words
    emotion: float = 0.0  # names a feeling (0..1)
    embedded: dict[str, float] = field(default_factory=dict)  # embedding class strengths (max over sentences)

    def behaviour(self, b: str) -> float:
        """Net strength of a phrase behaviour: positive evidence discounted by evidence against it."""
        return self.pos.get(b, 0.0) * (1.0 - self.neg.get(b, 0.0))


def resolve_language(text: str, language: str | None) -> str | None:
    if language is None or language == "auto" or language == "":
        return detect_language(text)
    return language.lower()


def _sentence_texts(text: str, m: Matches) -> list[str]:
    return [text[a:b] for a, b in m.sentences] or ([text] if text.strip() else [])


def _analyse(text: str, lex: Lexicon, m: Matches, emb: list[dict[str, float]] | None, alpha: float) -> TextAnalysis:
    a = TextAnalysis(lex.language, m)
    pos_lists: dict[str, list[float]] = {}
    neg_lists: dict[str, list[float]] = {}
    negcue_lists: dict[str, list[float]] = {}
    counts: dict[str, float] = {}
    flagged_sentences = set()
    emotion = []
    for c in m.cues:
        if c.cue in ("personal", "you", "corporate", "filler", "slang", "robotic"):
            if not c.reported:
                counts[c.cue] = counts.get(c.cue, 0) + 1
            continue
        meaning = CUE_MEANING.get(c.cue)
        if meaning is None:
            continue
        behaviour, sign = meaning
        if c.negated or c.reported or c.sarcastic:
            flagged_sentences.add(c.sentence)
        if sign > 0:
            if c.reported and behaviour == "restating":
                pos_lists.setdefault(behaviour, []).append(c.weight)
            elif c.negated and not c.reported:
                if behaviour in ("apology", "validation"):
                    negcue_lists.setdefault("negated_empathy", []).append(c.weight)
                    neg_lists.setdefault(behaviour, []).append(c.weight)
                elif behaviour is not None:
                    neg_lists.setdefault(behaviour, []).append(0.5 * c.weight)
            elif c.counts:
                if behaviour is None:  # emotion words
                    emotion.append(c.weight)
                else:
                    pos_lists.setdefault(behaviour, []).append(c.weight)
        else:
            if c.negated or c.reported:
                continue
            negcue_lists.setdefault(c.cue, []).append(c.weight)
            if behaviour is not None:
                neg_lists.setdefault(behaviour, []).append(c.weight)
    a.pos = {b: _noisy_or(v) for b, v in pos_lists.items()}
    a.neg = {b: _noisy_or(v) for b, v in neg_lists.items()}
    a.neg_cues = {k: _noisy_or(v) for k, v in negcue_lists.items()}
    a.emotion = _noisy_or(emotion)
    if emb:
        best: dict[str, float] = {}
        for i, strengths in enumerate(emb):
            for cls, s in strengths.items():
                positive = cls in POSITIVE_WEIGHTS
                if positive and i in flagged_sentences:
                    continue
                best[cls] = max(best.get(cls, 0.0), s)
        a.embedded = best
        for cls, s in best.items():
            if cls in POSITIVE_WEIGHTS:
                a.pos[cls] = _combine(a.pos.get(cls, 0.0), alpha * s)
            elif cls in NEGATIVE_WEIGHTS:
                a.neg_cues[cls] = _combine(a.neg_cues.get(cls, 0.0), alpha * s)
                b = _NEGATIVE_CLASS_OF.get(cls)
                if b:
                    a.neg[b] = _combine(a.neg.get(b, 0.0), alpha * s)
    counts["words"] = word_count(text, lex.language)
    a.counts = counts
    return a


def analyse_texts(
    texts: Sequence[str], language: str, cfg: LanguageConfig | None = None, *, cues: Sequence[str] | None = None
) -> list[TextAnalysis] | None:
    """Agent-side analysis of several texts in one language (embeddings batched). None: no lexicon."""
    cfg = cfg or LanguageConfig()
    lex = load_lexicon(language)
    if lex is None:
        return None
    wanted = cues if cues is not None else [c for c in lex.cues if c not in CUSTOMER_CUES]
    matches = [find_cues(t, lex, wanted) for t in texts]
    emb_per_text: list[list[dict[str, float]] | None] = [None] * len(texts)
    use = cfg.use_embeddings and language in SUPPORTED_LANGUAGES
    matcher = load_matcher(cfg.embed_threads, cfg.embed_floor, cfg.embed_span) if use else None
    if matcher is not None:
        sentences: list[str] = []
        owners: list[int] = []
        for i, (t, m) in enumerate(zip(texts, matches)):
            for s in _sentence_texts(t, m):
                sentences.append(s)
                owners.append(i)
        strengths = matcher.strengths(sentences, language) if sentences else []
        for i in range(len(texts)):
            emb_per_text[i] = []
        for owner, st in zip(owners, strengths):
            emb_per_text[owner].append(st)  # type: ignore[union-attr]
    return [_analyse(t, lex, m, e, cfg.embed_weight) for t, m, e in zip(texts, matches, emb_per_text)]


def analyse_text(text: str, language: str, cfg: LanguageConfig | None = None) -> TextAnalysis | None:
    res = analyse_texts([text], language, cfg)
    return None if res is None else res[0]


# ----------------------------------------------------------------------------- customer side

@dataclass(frozen=True)
class CustomerCues:
    """What a customer's words ask for (DESIGN §3.3 customer cues)."""

    i_language: float = 0.0  # "I feel…", "I'm so frustrated" -> needs validation
    you_language: float = 0.0  # "you people", "your company" -> needs ownership + apology
    anger: float = 0.0
    complaint: float = 0.0
    positive: float = 0.0
    matches: Matches | None = None

    @property
    def needs(self) -> str:
        if self.you_language <= 0 and self.i_language <= 0:
            return "neutral"
        return "ownership" if self.you_language > self.i_language else "validation"

    @property
    def sentiment(self) -> float | None:
        """-1 (angry, complaining) .. +1 (pleased); None when no sentiment cue at all."""
        neg = _combine(_combine(self.anger, self.complaint), 0.8 * max(self.i_language, self.you_language))
        if neg <= 0 and self.positive <= 0:
            return None
        return max(-1.0, min(1.0, self.positive - neg))

    @property
    def upset(self) -> bool:
        return max(self.anger, self.complaint, self.i_language, self.you_language) > 0


def customer_cues(text: str, language: str) -> CustomerCues:
    lex = load_lexicon(language)
    if lex is None or not text.strip():
        return CustomerCues()
    m = find_cues(text, lex, CUSTOMER_CUES)
    vals: dict[str, list[float]] = {}
    for c in m.cues:
        if c.reported or c.sarcastic:
            continue
        if c.negated and c.cue == "positive":
            vals.setdefault("complaint", []).append(0.5 * c.weight)  # "not happy", "not good"
            continue
        if c.negated:
            continue
        vals.setdefault(c.cue, []).append(c.weight)
    return CustomerCues(**{k: _noisy_or(v) for k, v in vals.items()}, matches=m)


# ----------------------------------------------------------------------------- score-text

@dataclass(frozen=True)
class TextScore:
    """`voicecx score-text` result for one reply. ``empathy`` is None only when the text is empty or
    in a language without a lexicon (``language`` then says what was detected; None = unknown)."""

    empathy: float | None
    behaviours: dict[str, float]
    language: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "empathy": None if self.empathy is None else round(float(self.empathy), 4),
            "behaviours": {k: round(float(v), 4) for k, v in self.behaviours.items()},
        }


_CONTENT = re.compile(r"[^\W\d_]{4,}")
_HAN_BIGRAM = re.compile(r"(?=([\u4e00-\u9fff]{2}))")


def _content_keys(text: str, lex: Lexicon) -> set[str]:
    t = normalize(text).text
    if lex.language == "zh":
        return {m.group(1) for m in _HAN_BIGRAM.finditer(t)} - lex.stopwords
    if lex.language == "ko":
        return {w[:2] for w in t.split() if len(w) >= 2 and w[:2] not in lex.stopwords}
    return {w for w in _CONTENT.findall(t) if w not in lex.stopwords}


_CONTEXT_KEYS: dict[tuple[int, str], tuple[Lexicon, frozenset[str]]] = {}


def _context_keys(context: str, lex: Lexicon) -> frozenset[str]:
    """Content keys of a context, cached: many candidate replies answer the same customer words.
    (Keyed by the lexicon's id; the entry holds the lexicon so the id cannot be reused meanwhile.)"""
    key = (id(lex), context)
    hit = _CONTEXT_KEYS.get(key)
    if hit is None:
        if len(_CONTEXT_KEYS) >= 1024:
            _CONTEXT_KEYS.clear()
        hit = _CONTEXT_KEYS[key] = (lex, frozenset(_content_keys(context, lex)))
    return hit[1]


def _reflection(text: str, context: str | None, lex: Lexicon) -> float:
    """0..1: how much of the person's own wording the reply takes up (two shared content words = full)."""
    if not context:
        return 0.0
    return min(1.0, len(_content_keys(text, lex) & _context_keys(context, lex)) / 2.0)


def _specificity(a: TextAnalysis, reflection: float) -> float:
    acknowledging = max(a.pos.get("validation", 0.0), a.pos.get("apology", 0.0), a.embedded.get("validation", 0.0))
    if acknowledging <= 0:
        return 0.0
    return acknowledging * min(1.0, 0.6 * a.emotion + 0.5 * reflection)


def empathy_of(a: TextAnalysis, text: str, context: str | None, lex: Lexicon, cfg: LanguageConfig) -> float:
    """The graded 0..1 empathy of one reply (formula in the module doc)."""
    P = sum(w * a.pos.get(b, 0.0) for b, w in POSITIVE_WEIGHTS.items())
    reflection = _reflection(text, context, lex)
    P += SPECIFIC_WEIGHT * _specificity(a, reflection)
    P += EMOTION_WEIGHT * a.emotion
    length = min(1.0, a.counts.get("words", 0) / 25.0)
    if P > 0:
        P += ELABORATION_WEIGHT * length
    elif not a.neg_cues:
        P += PLAIN_ELABORATION_WEIGHT * length
    P += REFLECTION_WEIGHT * reflection
    neg_cues = dict(a.neg_cues)
    for k in ("slang", "robotic"):
        n = a.counts.get(k, 0)
        if n:
            neg_cues[k] = _noisy_or([0.5] * int(n))
    N = sum(v * neg_cues.get(c, 0.0) for c, v in NEGATIVE_WEIGHTS.items())
    base = cfg.base_empathy
    e = (base + (1.0 - base) * (1.0 - math.exp(-P))) * (1.0 - 0.85 * (1.0 - math.exp(-N)))
    return max(0.0, min(1.0, e))


def personal_voice(counts: dict[str, float]) -> float | None:
    p = counts.get("personal", 0) + 0.5 * counts.get("you", 0)
    c = counts.get("corporate", 0)
    return None if p + c <= 0 else p / (p + c)


def clean_register(counts: dict[str, float]) -> float | None:
    words = counts.get("words", 0)
    if words < 3:
        return None
    rate = counts.get("filler", 0) / words
    pen = min(0.6, 5.0 * rate) + min(0.3, 0.15 * counts.get("slang", 0)) + min(0.3, 0.15 * counts.get("robotic", 0))
    return max(0.0, 1.0 - pen)


def needs_met(need: str, a: TextAnalysis) -> float | None:
    if need == "validation":
        return max(a.behaviour("validation"), 0.6 * a.behaviour("apology"), 0.5 * a.behaviour("restating"))
    if need == "ownership":
        own = max(a.behaviour("ownership"), a.behaviour("action_now"), 0.7 * a.behaviour("timeframe"))
        return 0.6 * own + 0.4 * a.behaviour("apology")
    return None


def _behaviours(a: TextAnalysis, cust: CustomerCues | None) -> dict[str, float]:
    out: dict[str, float] = {}
    thanks = a.pos.get("thanks", 0.0)
    closing = a.pos.get("thanks_close", 0.0) > 0
    applies = set()
    if cust is not None and cust.upset:
        applies.add("apology")
        if cust.i_language > 0 or cust.anger > 0:
            applies.add("validation")
        if cust.you_language > 0:
            applies.add("ownership")
    for b in ("warm_opening", "apology", "validation", "restating", "ownership", "action_now", "timeframe",
              "anything_else", "thanks_close"):
        pos = a.pos.get(b, 0.0)
        if b == "warm_opening" and not closing:
            pos = _combine(pos, thanks)
        if b == "thanks_close" and closing:
            pos = _combine(pos, thanks)
        neg = a.neg.get(b, 0.0)
        if pos > 0 or neg > 0 or b in applies:
            out[b] = pos * (1.0 - neg)
    pv = personal_voice(a.counts)
    if pv is not None:
        out["personal_voice"] = pv
    cr = clean_register(a.counts)
    if cr is not None:
        out["clean_register"] = cr
    if cust is not None:
        nm = needs_met(cust.needs, a)
        if nm is not None:
            out["needs_met"] = nm
    return {b: max(0.0, min(1.0, out[b])) for b in TEXT_BEHAVIOURS if b in out}


def score_texts(
    items: Sequence[tuple[str, str | None]],
    *,
    language: str = "auto",
    config: LanguageConfig | None = None,
) -> list[TextScore]:
    """Score many (text, context) replies; embeddings are computed in one batch per language."""
    cfg = config or LanguageConfig()
    langs = [resolve_language(f"{t} {c or ''}", language) for t, c in items]
    results: list[TextScore | None] = [None] * len(items)
    by_lang: dict[str | None, list[int]] = {}
    for i, lang in enumerate(langs):
        by_lang.setdefault(lang, []).append(i)
    for lang, idx in by_lang.items():
        lex = load_lexicon(lang) if lang else None
        if lex is None:
            for i in idx:
                results[i] = TextScore(None, {}, lang)
            continue
        texts = [items[i][0] for i in idx]
        analyses = analyse_texts(texts, lex.language, cfg)
        assert analyses is not None
        for i, a in zip(idx, analyses):
            text, context = items[i]
            if not text.strip():
                results[i] = TextScore(None, {}, lang)
                continue
            cust = customer_cues(context, lex.language) if context else None
            results[i] = TextScore(empathy_of(a, text, context, lex, cfg), _behaviours(a, cust), lang)
    return [r for r in results if r is not None]


def score_text(
    text: str, *, language: str = "auto", context: str | None = None, config: LanguageConfig | None = None
) -> TextScore:
    """Empathy (0..1) and per-behaviour scores of one agent reply.

    `context` is the customer's words the reply answers: it decides which behaviours apply (an upset
    customer makes `apology` applicable; I-language makes `validation` applicable) and lets the
    score reward replies that pick up the customer's own situation.

    >>> score_text("I can see why you'd be upset after waiting three weeks.").empathy > score_text("Calm down.").empathy
    True
    """
    return score_texts([(text, context)], language=language, config=config)[0]


def _parse_line(n: int, line: str) -> tuple[str, str | None]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise ValueError(f'line {n}: expected a JSON object like {{"text": "..."}}, got {type(obj).__name__}')
    text = obj.get("text")
    if not isinstance(text, str):
        raise ValueError(f'line {n}: "text" must be a string' if "text" in obj else f'line {n}: missing "text"')
    context = obj.get("context")
    if context is not None and not isinstance(context, str):
        raise ValueError(f'line {n}: "context" must be a string or null')
    return text, context


def score_text_lines(
    lines: Iterable[str], out: TextIO, *, language: str = "auto", config: LanguageConfig | None = None,
    batch: int = 512,
) -> int:
    """The `voicecx score-text` contract (DESIGN §3.1).

    Reads JSON lines ``{"text": …, "context"?: …}``; writes one line ``{"empathy": 0..1, "behaviours":
    {id: 0..1}}`` per input line, in order. Blank lines are skipped. Every line is validated before
    anything is written: a malformed line raises ``ValueError("line N: …")`` and nothing is written.
    Returns the number of lines scored.
    """
    items: list[tuple[str, str | None]] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        items.append(_parse_line(n, line.lstrip("\ufeff") if n == 1 else line))
    for k in range(0, len(items), batch):
        for s in score_texts(items[k:k + batch], language=language, config=config):
            out.write(json.dumps(s.to_dict(), ensure_ascii=False) + "\n")
    out.flush()
    return len(items)
