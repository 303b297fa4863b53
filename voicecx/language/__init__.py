"""Transcript empathy cues in several languages (DESIGN §3.3) and `voicecx score-text` (§3.1).

Phrases live in ``lexicons/<lang>.toml`` (en, zh, ko, da); adding a language = adding a file.
"""
from .lexicon import LexiconError, available_languages, load_lexicon
from .score import TEXT_BEHAVIOURS, TextScore, score_text, score_text_lines, score_texts
from .transcript import TranscriptCues, analyse_transcript

__all__ = [
    "analyse_transcript", "TranscriptCues", "score_text", "score_texts", "score_text_lines", "TextScore",
    "TEXT_BEHAVIOURS", "available_languages", "load_lexicon", "LexiconError",
]
