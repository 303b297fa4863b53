"""Plain data shared by the stages (transcripts, turns, events, evidence).

Kept in one small module so that stages can exchange data without importing each other
(diarize, transcribe, dynamics and language all speak these types). All times are seconds
from the call start.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["agent", "customer", "unknown"]


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    probability: float | None = None


@dataclass(frozen=True)
class Segment:
    """One speaker's stretch of transcript (a turn or part of one)."""

    speaker: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["words"] = [asdict(w) for w in self.words]
        return d


@dataclass(frozen=True)
class Turn:
    """A stretch of speech by one speaker: one RTTM line. Turns of different speakers may overlap."""

    speaker: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Evidence:
    start: float
    end: float
    why: str
    quote: str | None = None


@dataclass(frozen=True)
class Event:
    """A conversational event of the report (DESIGN §3.2 `events`)."""

    type: Literal["interruption", "overtalk", "backchannel", "dead_air", "monologue", "cue"]
    start: float
    end: float
    speaker: str | None = None
    target: str | None = None
    detail: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"type": self.type, "start": round(self.start, 3), "end": round(self.end, 3), "speaker": self.speaker}
        if self.target is not None:
            d["target"] = self.target
        if self.detail is not None:
            d["detail"] = self.detail
        return d


@dataclass
class BehaviourScore:
    """A behaviour's 0..1 score (None = not applicable / no evidence, never 0) and its evidence."""

    score: float | None
    weight: float = 1.0
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": None if self.score is None else round(float(self.score), 4),
            "weight": self.weight,
            "evidence": [
                {k: v for k, v in asdict(e).items() if not (k == "quote" and v is None)} for e in self.evidence
            ],
        }
