"""Scoring and report rendering on hand-built inputs (the end-to-end tests run the real stages)."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from voicecx.report import CallInfo, Report, SpeakerSummary, Timing, Track, csv_text
from voicecx.scoring import WEIGHTS, alerts_from_events, empathy_score, grade, score_call
from voicecx.types import BehaviourScore, Event, Evidence, Segment, Word

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_SHARED = ROOT.parent / "shared" / "report.schema.json"
SCHEMA_PACKAGED = ROOT / "voicecx" / "report.schema.json"


def report_schema() -> dict:
    return json.loads(SCHEMA_PACKAGED.read_text())


def test_packaged_schema_is_the_shared_contract() -> None:
    if not SCHEMA_SHARED.exists():
        pytest.skip("../shared not beside this checkout")
    assert json.loads(SCHEMA_SHARED.read_text()) == report_schema()


def test_null_behaviours_drop_out_instead_of_counting_as_zero() -> None:
    weighted, _ = score_call({"apology": BehaviourScore(1.0), "validation": BehaviourScore(None)}, [])
    assert empathy_score(weighted) == pytest.approx(100.0)
    weighted, _ = score_call({"apology": BehaviourScore(1.0), "validation": BehaviourScore(0.0)}, [])
    expected = 100 * WEIGHTS["apology"] / (WEIGHTS["apology"] + WEIGHTS["validation"])
    assert empathy_score(weighted) == pytest.approx(expected)


def test_every_behaviour_id_is_present_with_its_weight() -> None:
    weighted, _ = score_call({}, [])
    assert set(WEIGHTS) <= set(weighted)
    assert all(b.score is None for b in weighted.values())


def test_customer_need_for_validation_weighs_validation_more() -> None:
    behaviours = {"validation": BehaviourScore(1.0), "pace": BehaviourScore(0.0)}
    neutral = empathy_score(score_call(behaviours, [], needs="neutral")[0])
    needy = empathy_score(score_call(behaviours, [], needs="validation")[0])
    assert needy > neutral


@pytest.mark.parametrize(("score", "letter"), [(95, "A"), (80, "A"), (70, "B"), (55, "C"), (40, "D"), (10, "E")])
def test_grades_follow_the_documented_bounds(score: float, letter: str) -> None:
    assert grade(score) == letter


def test_summary_names_strengths_and_counted_problems() -> None:
    behaviours = {"warm_opening": BehaviourScore(0.95), "apology": BehaviourScore(0.9),
                  "no_interrupting": BehaviourScore(0.2), "validation": BehaviourScore(0.0)}
    events = [Event("interruption", 10, 11, "spk0", "spk1"), Event("interruption", 20, 21, "spk0", "spk1"),
              Event("dead_air", 30, 37)]
    _, empathy = score_call(behaviours, events, agent="spk0")
    s = empathy.summary
    assert "warm opening" in s.lower() and "apology" in s
    assert "interrupted the customer twice" in s and "7 s of dead air" in s
    assert s.endswith(".") and "\n" not in s


def test_alerts_mirror_the_live_protocol_shape() -> None:
    events = [Event("interruption", 5, 6, "spk0", "spk1"), Event("dead_air", 9, 16), Event("overtalk", 5, 8, "spk0")]
    alerts = alerts_from_events(events, "c1", {"spk0": "agent", "spk1": "customer"})
    assert [a["kind"] for a in alerts] == ["agent_interrupts", "overtalk", "dead_air"]
    assert all(a["type"] == "alert" and a["call_id"] == "c1" for a in alerts)


def _report(text: str = "Hello, thanks for calling.") -> Report:
    seg = Segment("spk0", 0.5, 2.0, text, (Word("Hello,", 0.5, 0.9, 0.9),))
    behaviours = {"warm_opening": BehaviourScore(0.9, evidence=[Evidence(0.5, 2.0, "thanks in the first 30 s", text)])}
    events = [Event("backchannel", 3.0, 3.4, "spk0", "spk1"), Event("dead_air", 5.0, 11.0)]
    weighted, empathy = score_call(behaviours, events, agent="spk0")
    return Report(
        call=CallInfo("demo", "demo.wav", 12.0, 8000, 2, "stereo", "en"),
        speakers=[SpeakerSummary("spk0", "agent", 3.0, 0.6, 120.0, 210.0, 5.1, -20.0, 0.3, 0.6),
                  SpeakerSummary("spk1", "customer", 2.0, 0.4)],
        segments=[seg], events=events, behaviours=weighted,
        customer={"needs": "neutral", "sentiment_start": None, "sentiment_end": None},
        empathy=empathy, alerts=alerts_from_events(events, "demo", {"spk0": "agent"}),
        timing=Timing({"decode": 0.01, "scoring": 0.001}, 0.5, 12.0),
        versions={"voicecx": "test"},
        tracks={"spk0": Track([0.0, 0.01, 0.02], [0.0, 200.0, 210.0], [-60.0, -20.0, -21.0], [(0.5, 1.0)])},
    )


def test_report_json_validates_against_the_contract_schema(tmp_path: Path) -> None:
    report = _report()
    data = json.loads(report.to_json())
    jsonschema.validate(data, report_schema())
    assert data["schema"] == "voicecx.report/1"
    assert data["timing"]["realtime_factor"] == pytest.approx(24.0)


def test_report_files_are_written_atomically_in_pairs(tmp_path: Path) -> None:
    json_path, html_path = _report().write(tmp_path)
    assert json_path.name == "demo.report.json" and html_path.name == "demo.report.html"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.report.html", "demo.report.json"]


def test_html_escapes_every_transcript_string() -> None:
    html = _report('<script>alert("x")</script> & <b>bold</b>').to_html()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html
    assert "<b>bold</b>" not in html


def test_html_has_the_plots_and_seekable_events() -> None:
    html = _report().to_html()
    for marker in ('class="gauge"', 'class="timeline"', 'class="prosody"', 'id="player"', 'data-t="5.00"', "<polyline"):
        assert marker in html
    assert "http://" not in html and "https://" not in html  # self-contained: no network fetches


def test_csv_row_has_one_line_per_call_with_the_score() -> None:
    text = csv_text([_report().csv_row()])
    header, row = text.strip().splitlines()
    assert header.startswith("call_id,source,duration_s")
    assert row.startswith("demo,demo.wav,12.0,stereo,en,")
