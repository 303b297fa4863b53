"""The per-call report: typed dataclasses, versioned JSON (DESIGN §3.2), a CSV row, self-contained HTML.

Why one module: the JSON is a contract other tools read, the CSV row is what QA teams sort by, and
the HTML is what a person opens to listen along; all three must say the same thing, so they are all
rendered from the same ``Report`` object.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicecx.scoring import Empathy
from voicecx.types import BehaviourScore, Event, Segment

SCHEMA = "voicecx.report/1"

CSV_COLUMNS = (
    "call_id", "source", "duration_s", "mode", "language", "empathy_score", "grade", "summary",
    "customer_needs", "agent_talk_share", "interruptions_by_agent", "dead_air_s", "overtalk_s",
    "backchannels_by_agent", "realtime_factor",
)


@dataclass(frozen=True)
class CallInfo:
    id: str
    source: str
    duration_s: float
    sample_rate: int
    channels: int
    mode: str
    language: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "duration_s": round(self.duration_s, 3),
                "sample_rate": self.sample_rate, "channels": self.channels, "mode": self.mode,
                "language": self.language}


@dataclass(frozen=True)
class SpeakerSummary:
    label: str
    role: str
    talk_s: float
    talk_share: float
    words_per_min: float | None = None
    pitch_median_hz: float | None = None
    pitch_range_st: float | None = None
    energy_db: float | None = None
    smile_share: float | None = None
    warmth: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: _round(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Timing:
    stages_s: Mapping[str, float]
    total_s: float
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        rtf = self.duration_s / self.total_s if self.total_s > 0 else 0.0
        return {"stages_s": {k: round(v, 4) for k, v in self.stages_s.items()},
                "total_s": round(self.total_s, 4), "realtime_factor": round(rtf, 2)}


@dataclass(frozen=True)
class Track:
    """A speaker's prosody for the HTML plots: times (s), f0 (Hz, 0 = unvoiced), energy (dB)."""

    t: Sequence[float]
    f0: Sequence[float]
    energy_db: Sequence[float]
    smiled: Sequence[tuple[float, float]] = ()


@dataclass
class Report:
    call: CallInfo
    speakers: list[SpeakerSummary]
    segments: list[Segment]
    events: list[Event]
    behaviours: dict[str, BehaviourScore]
    customer: dict[str, Any]
    empathy: Empathy
    alerts: list[dict[str, Any]]
    timing: Timing
    versions: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    roles: dict[str, Any] = field(default_factory=dict)
    tracks: dict[str, Track] = field(default_factory=dict)  # for the HTML only; too bulky for the JSON
    audio_data_uri: str | None = None  # embedded player source for the HTML

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "call": self.call.to_dict(),
            "speakers": [s.to_dict() for s in self.speakers],
            "segments": [s.to_dict() for s in self.segments],
            "events": [e.to_dict() for e in sorted(self.events, key=lambda e: (e.start, e.type))],
            "behaviours": {k: b.to_dict() for k, b in self.behaviours.items()},
            "customer": dict(self.customer),
            "empathy": self.empathy.to_dict(),
            "alerts": list(self.alerts),
            "timing": self.timing.to_dict(),
            "versions": dict(self.versions),
            "roles": dict(self.roles),
            "notes": list(self.notes),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent, default=_json_default)

    def csv_row(self) -> dict[str, Any]:
        agent = next((s for s in self.speakers if s.role == "agent"), None)
        agent_label = agent.label if agent else None
        return {
            "call_id": self.call.id,
            "source": self.call.source,
            "duration_s": round(self.call.duration_s, 2),
            "mode": self.call.mode,
            "language": self.call.language or "",
            "empathy_score": round(self.empathy.score, 1),
            "grade": self.empathy.grade,
            "summary": self.empathy.summary,
            "customer_needs": self.customer.get("needs", ""),
            "agent_talk_share": round(agent.talk_share, 3) if agent else "",
            "interruptions_by_agent": sum(1 for e in self.events if e.type == "interruption" and e.speaker == agent_label),
            "dead_air_s": round(sum(e.end - e.start for e in self.events if e.type == "dead_air"), 2),
            "overtalk_s": round(sum(e.end - e.start for e in self.events if e.type == "overtalk"), 2),
            "backchannels_by_agent": sum(1 for e in self.events if e.type == "backchannel" and e.speaker == agent_label),
            "realtime_factor": self.timing.to_dict()["realtime_factor"],
        }

    def to_html(self) -> str:
        from voicecx.html import render_html

        return render_html(self)

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``<id>.report.json`` and ``<id>.report.html`` atomically (temp file + rename)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        json_path = out / f"{self.call.id}.report.json"
        html_path = out / f"{self.call.id}.report.html"
        html = self.to_html()  # render both before writing either: no half-written report pair
        data = self.to_json()
        atomic_write_text(json_path, data)
        atomic_write_text(html_path, html)
        return json_path, html_path


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return None if not math.isfinite(v) else round(v, 3)
    return v


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
