"""Lexicons: phrase patterns per cue, one TOML data file per language (``lexicons/<lang>.toml``).

Adding a language = adding a file. A lexicon file holds:

``[meta]``
    ``language``; ``boundary`` — ``"word"`` (a phrase must start and end at word edges: English,
    Danish) or ``"none"`` (match anywhere: Chinese, which has no spaces, and Korean, whose particles
    and endings attach to the stem); ``negation_window`` — how many tokens (characters for Chinese)
    before a cue are searched for a negator; ``stopwords`` — words ignored when comparing a reply
    with the customer's words.
``[macros]``
    ``NAME = "regex"``; ``{NAME}`` in a pattern expands to ``(?:regex)``.
``[negation]``
    ``before`` / ``after`` — negators searched before a cue (same clause) or right after it (Korean
    ``-지 않``, Danish ``… jeg ikke``).
``[reported]``
    ``patterns`` — reported-speech openers ("he told you to"); a cue right after one, or inside
    quotation marks, is someone else's words.
``[cues.<id>]``
    ``strong`` / ``medium`` / ``weak`` pattern lists (weights 1.0 / 0.7 / 0.4, or ``weights = {…}``).
``[exemplars]``
    ``<class> = [sentences]`` for the optional sentence-embedding matcher (see embed.py).

Pattern syntax (regular-expression fragments over the normalised text, see normalize.py): a space
matches one or more spaces (optional for Chinese and Korean; a comma may precede it); ``'`` is optional
(``i'm`` also matches ``im``); ``word*`` lets a word continue (Danish compounds: ``undskyld*``) and
``*word`` lets it begin earlier (``*afdeling`` matches ``kundeserviceafdeling``).
"""
from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["Lexicon", "CuePattern", "load_lexicon", "available_languages", "LexiconError", "TIER_WEIGHTS"]

TIER_WEIGHTS = {"strong": 1.0, "medium": 0.7, "weak": 0.4}


class LexiconError(ValueError):
    """A lexicon file is missing or malformed."""


@dataclass(frozen=True)
class CuePattern:
    """All the patterns of one cue, compiled into one regex with a named group per tier."""

    cue: str
    regex: re.Pattern[str]
    weights: dict[str, float]  # tier group name -> weight


@dataclass(frozen=True)
class Lexicon:
    language: str
    boundary: str
    negation_window: int
    cues: dict[str, CuePattern]
    negation_before: re.Pattern[str] | None
    negation_after: re.Pattern[str] | None
    reported: re.Pattern[str] | None
    stopwords: frozenset[str]
    exemplars: dict[str, tuple[str, ...]] = field(default_factory=dict)
    path: str = ""

    def has(self, cue: str) -> bool:
        return cue in self.cues


_MACRO = re.compile(r"\{([A-Z_][A-Z0-9_]*)\}")


def _expand(p: str, macros: dict[str, str], where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in macros:
            raise LexiconError(f"{where}: unknown macro {{{name}}}")
        return f"(?:{macros[name]})"

    for _ in range(4):  # macros may use macros
        p2 = _MACRO.sub(sub, p)
        if p2 == p:
            break
        p = p2
    return p


def _body(p: str, boundary: str) -> str:
    """Translate the lexicon's pattern conventions into a regex body."""
    # word* / *word: a word that continues (compounds)
    p = re.sub(r"(?<=\w)(?<!\\\w)\*", r"\\w*", p)  # not the regex "\w*" itself
    p = re.sub(r"(?<!\S)\*(?=\w)", r"\\w*", p)  # only at a word start, not a quantifier ")*word"
    p = re.sub(r"'(?![?*+])", "'?", p)
    if boundary == "none":
        # Chinese/Korean: spaces in a pattern are optional (spacing is inconsistent in both).
        p = re.sub(r" +(?![?*+{])", " ?", p)
    else:
        p = re.sub(r" +(?![?*+{])", ",? +", p)  # commas are kept in the match view
    return p


def _compile_list(patterns: list[str], boundary: str, macros: dict[str, str], where: str) -> str:
    bodies = []
    for p in patterns:
        if not isinstance(p, str) or not p.strip():
            raise LexiconError(f"{where}: patterns must be non-empty strings")
        bodies.append(_body(_expand(p.strip(), macros, where), boundary))
    # Longest first so that the leftmost-first alternation prefers the fuller phrase.
    bodies.sort(key=len, reverse=True)
    return "|".join(f"(?:{b})" for b in bodies)


def _wrap(alt: str, boundary: str) -> str:
    if boundary == "word":
        return rf"(?<!\w)(?:{alt})(?!\w)" if alt else alt
    return alt


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise LexiconError(f"{where}: bad pattern: {exc}") from exc


def parse_lexicon(data: dict[str, Any], path: str = "<memory>") -> Lexicon:
    meta = data.get("meta", {})
    lang = meta.get("language")
    if not lang:
        raise LexiconError(f"{path}: [meta] language is required")
    boundary = meta.get("boundary", "word")
    if boundary not in ("word", "none"):
        raise LexiconError(f"{path}: [meta] boundary must be 'word' or 'none'")
    macros = {k: str(v) for k, v in data.get("macros", {}).items()}
    cues: dict[str, CuePattern] = {}
    for cue, spec in data.get("cues", {}).items():
        where = f"{path}: cues.{cue}"
        weights = dict(TIER_WEIGHTS)
        weights.update({k: float(v) for k, v in spec.get("weights", {}).items()})
        groups = []
        group_weights = {}
        for tier in ("strong", "medium", "weak"):
            pats = spec.get(tier, [])
            if not pats:
                continue
            alt = _compile_list(pats, boundary, macros, where)
            groups.append(f"(?P<{tier}>{_wrap(alt, boundary)})")
            group_weights[tier] = weights[tier]
        if not groups:
            continue
        cues[cue] = CuePattern(cue, _compile("|".join(groups), where), group_weights)

    def opt(section: str, key: str) -> re.Pattern[str] | None:
        pats = data.get(section, {}).get(key, [])
        if not pats:
            return None
        alt = _compile_list(pats, boundary, macros, f"{path}: {section}.{key}")
        return _compile(_wrap(alt, boundary), f"{path}: {section}.{key}")

    exemplars = {k: tuple(str(s) for s in v) for k, v in data.get("exemplars", {}).items()}
    return Lexicon(
        language=lang,
        boundary=boundary,
        negation_window=int(meta.get("negation_window", 3)),
        cues=cues,
        negation_before=opt("negation", "before"),
        negation_after=opt("negation", "after"),
        reported=opt("reported", "patterns"),
        stopwords=frozenset(meta.get("stopwords", [])),
        exemplars=exemplars,
        path=path,
    )


def _lexicon_dir() -> Path:
    return Path(str(resources.files("voicecx.language") / "lexicons"))


def available_languages() -> tuple[str, ...]:
    """Languages with a lexicon file, e.g. ``('da', 'en', 'ko', 'zh')``."""
    return tuple(sorted(p.stem for p in _lexicon_dir().glob("*.toml")))


@functools.lru_cache(maxsize=None)
def load_lexicon(language: str) -> Lexicon | None:
    """The compiled lexicon for `language`, or None when there is no file for it (cached)."""
    if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]+)?", language or ""):
        return None
    path = _lexicon_dir() / f"{language}.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(f"{path}: {exc}") from exc
    return parse_lexicon(data, str(path))
