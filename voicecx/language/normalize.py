"""Text normalisation and language detection for transcript cues.

Lexicon patterns are matched against a *normalised* view of the text: Unicode NFKC (full-width
Latin letters, digits and punctuation become ASCII), case-folded, typographic quotes and dashes made
plain, CJK sentence marks mapped to ASCII, spaces between two Chinese characters removed (Chinese has
no word spaces; ASR output sometimes inserts some). Every character of the view remembers the index of
the original character it came from, so a match maps back to the original quote and to word timings.

>>> n = normalize("ＩＴ’S  Ｆｉｎｅ。")
>>> n.text, n.original_span(0, 4)
("it's  fine.", (0, 4))
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Norm", "normalize", "detect_language", "split_sentences", "word_count"]

# One character in, one character out (keeps offsets): quotes, dashes, CJK punctuation, odd spaces.
_ONE_TO_ONE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2039": '"', "\u203a": '"', "\u300c": '"', "\u300d": '"', "\u300e": '"', "\u300f": '"',
        "\u3002": ".", "\uff61": ".", "\u3001": ",", "\uff64": ",", "\u2010": "-", "\u2011": "-",
        "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-", "\u301c": "~",
        "\u00a0": " ", "\u3000": " ", "\t": " ", "\n": " ", "\r": " ", "\u200b": " ",
    }
)
# Punctuation that never separates phrases for matching purposes; replaced by a space in `match`
# (commas stay: a lexicon space also matches a comma, and "like," is a filler while "like" is not).
_SOFT = str.maketrans({c: " " for c in "-()[]{}/*_~\"<>|#+=^"})

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_IN_HAN = re.compile(rf"(?<=[{_HAN}]) +(?=[{_HAN}])")


@dataclass(frozen=True)
class Norm:
    """A normalised view of a text. ``origin[i]`` is the index in the original text of ``text[i]``."""

    source: str
    text: str  # normalised (case-folded, NFKC, plain quotes); punctuation kept
    match: str  # same length as `text`; soft punctuation turned into spaces, for phrase matching
    origin: tuple[int, ...] | None  # None: identity mapping

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Span in the original text covered by the normalised span [start, end)."""
        if self.origin is None:
            return start, end
        if start >= len(self.origin):
            return len(self.source), len(self.source)
        a = self.origin[start]
        b = self.origin[end - 1] + 1 if end > start else a
        return a, b

    def quote(self, start: int, end: int) -> str:
        a, b = self.original_span(start, end)
        return self.source[a:b].strip()


def _per_char(text: str) -> tuple[str, list[int]]:
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFKC", ch).casefold()
        out.append(n)
        origin.extend([i] * len(n))
    return "".join(out), origin


def normalize(text: str, *, join_han: bool = True) -> Norm:
    """Normalise `text` (see module doc). `join_han` removes spaces between two Han characters."""
    t = unicodedata.normalize("NFKC", text)
    origin: list[int] | None = None
    if len(t) == len(text):
        t = t.casefold()
        if len(t) != len(text):
            t, origin = _per_char(text)
    else:
        t, origin = _per_char(text)
    t = t.translate(_ONE_TO_ONE)
    if join_han and " " in t and _SPACE_IN_HAN.search(t):
        keep = [True] * len(t)
        for m in _SPACE_IN_HAN.finditer(t):
            for k in range(m.start(), m.end()):
                keep[k] = False
        base = origin if origin is not None else range(len(t))
        origin = [o for o, k in zip(base, keep) if k]
        t = "".join(c for c, k in zip(t, keep) if k)
    return Norm(text, t, t.translate(_SOFT), tuple(origin) if origin is not None else None)


_SENTENCE = re.compile(r"[^.!?;。！？；\n]+[.!?;。！？；]*")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text` (split after . ! ? ; and their CJK forms)."""
    spans = []
    for m in _SENTENCE.finditer(text):
        a, b = m.start(), m.end()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b - a >= 2:
            spans.append((a, b))
    return spans


_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_HAN_RE = re.compile(rf"[{_HAN}]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_LATIN = re.compile(r"[a-zA-Z\u00c0-\u024f]")
_OTHER_LETTER = re.compile(r"[\u0370-\u03ff\u0400-\u052f\u0590-\u05ff\u0600-\u06ff\u0900-\u0dff\u0e00-\u0e7f\u10a0-\u10ff]")
_WORD = re.compile(r"[a-zæøåäöüéèàç']+")

# Function words that are frequent in Danish and (nearly) absent from English. Used only to tell
# Danish from English in Latin script; æ/ø/å count double.
_DANISH_WORDS = frozenset(
    "jeg ikke det og er du har til af på en et at vi med som kan den for fra skal vil hvad hvordan "
    "hvorfor tak undskyld mig dig din dit min mit meget også godt men når så lige bare jo nu her der "
    "været være blev bliver kunne skulle ville hej farvel goddag nej ja selvfølgelig rigtig forstår "
    "beklager sørger kigger gerne venlig hilsen hos ikk".split()
)
_ENGLISH_WORDS = frozenset(
    "i you the and is are to of it that this have my your we for on with be was not can will what how "
    "why thank thanks sorry please me so just do don't i'm it's hello hi yes no a an at".split()
)


def detect_language(text: str) -> str | None:
    """Guess the language of `text` from its script and a few function words.

    Hangul → ``ko``; Han without kana → ``zh``; Latin → ``da`` when Danish markers (æ/ø/å, Danish
    function words) outweigh English ones, else ``en``; anything else (Japanese kana, Cyrillic,
    Arabic, …) or no letters → ``None``.
    """
    if not text or not text.strip():
        return None
    sample = text[:2000]
    hangul = len(_HANGUL.findall(sample))
    han = len(_HAN_RE.findall(sample))
    kana = len(_KANA.findall(sample))
    latin = len(_LATIN.findall(sample))
    other = len(_OTHER_LETTER.findall(sample))
    counts = {"ko": hangul, "cjk": han + kana, "latin": latin, "other": other}
    best = max(counts, key=lambda k: counts[k])
    if counts[best] == 0:
        return None
    if best == "ko":
        return "ko"
    if best == "cjk":
        # Japanese mixes kana into Han text; a few kana characters are enough to tell.
        return None if kana > 0.1 * (han + kana) else "zh"
    if best == "other":
        return None
    words = _WORD.findall(sample.casefold())
    da = sum(1 for w in words if w in _DANISH_WORDS) + 2 * sum(1 for c in sample.casefold() if c in "æøå")
    en = sum(1 for w in words if w in _ENGLISH_WORDS)
    return "da" if da > en else "en"


_LATIN_WORD = re.compile(r"\w+(?:'\w+)?")


def word_count(text: str, language: str | None) -> int:
    """Rough number of words: Latin tokens; Korean eojeol; Chinese characters / 1.5 (mean word length)."""
    if language == "zh":
        return max(1, round(len(_HAN_RE.findall(text)) / 1.5)) if text.strip() else 0
    if language == "ko":
        return len(text.split())
    return len(_LATIN_WORD.findall(text))
