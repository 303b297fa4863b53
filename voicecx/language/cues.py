"""Find behaviour phrases and customer cues in a text with a language's lexicon.

A *cue* is one lexicon match: which cue id (``apology``, ``dismissal``, ``you_language`` …), how
strong the phrase is (its tier weight), where it is (span in the original text) and three flags that
change what it means:

* ``negated`` — a negator sits just before it in the same clause ("I'm **not** sorry"), or right
  after it for languages that negate after the verb (Korean ``죄송하지 않습니다``, Danish
  ``det beklager jeg ikke``). A negated positive phrase counts against its behaviour; a negated
  negative phrase is dropped.
* ``reported`` — inside quotation marks or right after a reported-speech opener ("the last agent
  told you to 'calm down'"): someone else's words, not the speaker's behaviour.
* ``sarcastic`` — in a sentence with a sarcasm marker ("yeah right", "sorry not sorry", 🙄): the
  sentence's positive phrases do not count.

`CUE_MEANING` says which behaviour (DESIGN §3.3) each agent cue speaks for and in which direction.
The phrases themselves are data (lexicons/*.toml); this module only knows what the cue ids mean.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterable

from .lexicon import Lexicon
from .normalize import Norm, normalize, split_sentences

__all__ = [
    "Cue",
    "Matches",
    "find_cues",
    "CUE_MEANING",
    "AGENT_NEGATIVE_CUES",
    "CUSTOMER_CUES",
    "REGISTER_CUES",
    "PRONOUN_CUES",
]

# agent cue id -> (behaviour id or None, +1 / -1)
CUE_MEANING: dict[str, tuple[str | None, int]] = {
    "greeting": ("warm_opening", +1),
    "warmth": ("warm_opening", +1),
    "thanks": ("thanks", +1),  # warm_opening when early, thanks_close when late
    "farewell": ("thanks_close", +1),
    "apology": ("apology", +1),
    "non_apology": ("apology", -1),
    "validation": ("validation", +1),
    "dismissal": ("validation", -1),
    "restating": ("restating", +1),
    "ownership": ("ownership", +1),
    "buck_passing": ("ownership", -1),
    "blame": ("ownership", -1),
    "action_now": ("action_now", +1),
    "passive_vague": ("action_now", -1),
    "timeframe": ("timeframe", +1),
    "vague_time": ("timeframe", -1),
    "anything_else": ("anything_else", +1),
    "exploration": ("exploration", +1),  # asks about the person (wellbeing, safety, "tell me more"); feeds the empathy score only
    "emotion": (None, +1),  # names the customer's feeling: makes validation/apology specific
    "sarcasm": (None, -1),
}
# agent cues reported as "cue" events (the things a supervisor wants to hear about)
AGENT_NEGATIVE_CUES = ("dismissal", "buck_passing", "blame", "sarcasm", "non_apology")
CUSTOMER_CUES = ("i_language", "you_language", "anger", "complaint", "positive")
REGISTER_CUES = ("filler", "slang", "robotic")
PRONOUN_CUES = ("personal", "you", "corporate")

# A cue that changes what another one means anywhere in its sentence: a deadline next to "must" /
# "必须" / "하셔야" / "skal" is put on the customer, not promised by the agent.
_SENTENCE_SUPPRESSES: dict[str, tuple[str, ...]] = {"obligation": ("timeframe",)}

# A negative phrase wins over an overlapping positive one of the same behaviour ("sorry you feel that
# way" contains "sorry"), and a few positive phrases contain a negative one ("not your fault"). When
# two overlapping phrases suppress each other, the longer one wins.
_SUPPRESSES: dict[str, tuple[str, ...]] = {
    "non_apology": ("apology",),
    "dismissal": ("validation", "apology", "emotion"),
    "buck_passing": ("ownership", "action_now", "restating"),
    "blame": ("validation",),
    "passive_vague": ("action_now", "ownership"),
    "vague_time": ("timeframe",),
    "sarcasm": ("apology", "validation", "thanks", "warmth"),
    "validation": ("blame", "dismissal", "complaint", "anger"),
    "anything_else": ("warmth",),
    "restating": ("complaint", "anger", "you_language", "i_language"),
}

_CLAUSE_BREAK = re.compile(r"[.!?;:,\u2014\u2013]| - ")  # dashes separate clauses too ("Oh no — that's awful")
_QUOTED = re.compile(r"\"[^\"]{1,300}\"|(?<!\w)'[^']{2,300}'(?!\w)")


@dataclass(frozen=True)
class Cue:
    cue: str
    weight: float  # tier weight of the phrase (1.0 strong, 0.7 medium, 0.4 weak)
    start: int  # span in the original text
    end: int
    quote: str
    negated: bool = False
    reported: bool = False
    sarcastic: bool = False
    sentence: int = 0  # index into Matches.sentences

    @property
    def counts(self) -> bool:
        """Does this phrase count as the speaker's own, as written? (not negated/reported/sarcastic)"""
        return not (self.negated or self.reported or self.sarcastic)


@dataclass(frozen=True)
class Matches:
    norm: Norm
    cues: tuple[Cue, ...]
    sentences: tuple[tuple[int, int], ...]  # sentence spans in the original text

    def of(self, *ids: str) -> list[Cue]:
        return [c for c in self.cues if c.cue in ids]


def _tokens_before(s: str, n: int, boundary: str) -> str:
    if boundary == "none":
        # Chinese: n characters; Korean: n space-separated chunks, whichever is longer. Text with no
        # spaces at all (Chinese) is one "chunk", which would be the whole clause: use characters.
        chars = s.replace(" ", "")[-n:]
        parts = s.split()
        if len(parts) <= 1:
            return chars
        words = " ".join(parts[-n:])
        return words if len(words) > len(chars) else chars
    return " ".join(s.split()[-n:])


def _tokens_after(s: str, n: int, boundary: str) -> str:
    if boundary == "none":
        return s.lstrip()[: 3 * n]
    return " ".join(s.split()[:n])


def find_cues(text: str, lexicon: Lexicon, cues: Iterable[str] | None = None) -> Matches:
    """All lexicon cues (or only `cues`) found in `text`, with negation/reported/sarcasm flags."""
    norm = normalize(text, join_han=True)
    t, m_text = norm.text, norm.match
    wanted = lexicon.cues.keys() if cues is None else [c for c in cues if c in lexicon.cues]
    sent_spans = split_sentences(t)
    if not sent_spans and t.strip():
        sent_spans = [(0, len(t))]

    sent_ends = [b for _, b in sent_spans]

    def sentence_of(pos: int) -> int:
        """Index of the sentence holding ``pos`` (the last one for positions past the end)."""
        return min(bisect.bisect_right(sent_ends, pos), max(0, len(sent_spans) - 1))

    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(t)] if ('"' in t or "'" in t) else []
    raw: list[tuple[str, float, int, int]] = []
    for cue in wanted:
        cp = lexicon.cues[cue]
        for m in cp.regex.finditer(m_text):
            if m.end() == m.start():
                continue
            tier = m.lastgroup or "strong"
            raw.append((cue, cp.weights.get(tier, 1.0), m.start(), m.end()))
    if not raw:
        return Matches(norm, (), tuple(norm.original_span(a, b) for a, b in sent_spans))

    # overlap rules (see _SUPPRESSES)
    present = {r[0] for r in raw}
    if any(k in present for k in _SUPPRESSES):
        drop = set()
        for i, (c1, _, a1, b1) in enumerate(raw):
            for j, (c2, _, a2, b2) in enumerate(raw):
                if i != j and c2 in _SUPPRESSES.get(c1, ()) and a1 < b2 and a2 < b1:
                    # each suppresses the other ("很正常" dismisses, "心慌很正常" validates): the longer
                    # phrase is the reading; equal lengths cancel out
                    if c1 in _SUPPRESSES.get(c2, ()) and (b1 - a1) < (b2 - a2):
                        continue
                    drop.add(j)
        raw = [r for k, r in enumerate(raw) if k not in drop]

    for cue, victims in _SENTENCE_SUPPRESSES.items():
        sentences = {sentence_of(a) for c, _, a, _ in raw if c == cue}
        if sentences:
            raw = [r for r in raw if not (r[0] in victims and sentence_of(r[2]) in sentences)]

    sarcastic_sentences = {sentence_of(a) for c, _, a, _ in raw if c == "sarcasm"}
    win = lexicon.negation_window
    breaks = [(mm.start(), mm.end()) for mm in _CLAUSE_BREAK.finditer(t)]  # found once, looked up by bisection
    break_starts = [x for x, _ in breaks]
    break_ends = [y for _, y in breaks]
    out = []
    last_end: dict[str, int] = {}  # a negator inside an earlier phrase of the same cue is that phrase's own
    for cue, w, a, b in sorted(raw, key=lambda r: (r[2], r[3])):
        k = bisect.bisect_right(break_ends, a)  # clause breaks that end at or before the phrase
        clause_start = break_ends[k - 1] if k else 0
        clause_start = max(clause_start, min(a, last_end.get(cue, 0)))
        last_end[cue] = max(last_end.get(cue, 0), b)
        k = bisect.bisect_left(break_starts, b)  # the first break at or after the phrase's end
        clause_end = break_starts[k] if k < len(breaks) else len(t)
        before = m_text[clause_start:a]
        after = m_text[b:clause_end]
        negated = False
        if lexicon.negation_before is not None and before.strip():
            negated = bool(lexicon.negation_before.search(_tokens_before(before, win, lexicon.boundary)))
        if not negated and lexicon.negation_after is not None and after.strip():
            negated = bool(lexicon.negation_after.match(_tokens_after(after, 2, lexicon.boundary)))
        reported = any(qa < a and b <= qb for qa, qb in quoted)
        if not reported and lexicon.reported is not None and before.strip():
            reported = bool(lexicon.reported.search(_tokens_before(before, win + 2, lexicon.boundary)))
        s = sentence_of(a)
        sarcastic = s in sarcastic_sentences and cue != "sarcasm"
        oa, ob = norm.original_span(a, b)
        out.append(
            Cue(cue, w, oa, ob, text[oa:ob].strip(), negated, reported, sarcastic, s)
        )
    return Matches(norm, tuple(out), tuple(norm.original_span(a, b) for a, b in sent_spans))
