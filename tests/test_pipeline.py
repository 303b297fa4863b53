"""`voicecx analyse` end to end on the demo calls: schema, score ordering, evidence times, bad input.

The demo calls (samples/calls) carry scripted ground truth: which behaviours the agent shows and
when. These tests run the real stages (energy VAD with bleed rejection, Whisper tiny.en, prosody
kernels, dynamics, lexicon cues) and compare the report with that truth.
"""
from __future__ import annotations

import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import jsonschema
import pytest

from voicecx.config import Config
from voicecx.pipeline import Analyser
from voicecx.report import Report

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "samples" / "calls"
SCHEMA = json.loads((ROOT / "voicecx" / "report.schema.json").read_text(encoding="utf-8"))
VOICECX = [sys.executable, "-m", "voicecx.cli"]

pytestmark = pytest.mark.model


@lru_cache(maxsize=None)
def analyser() -> Analyser:
    return Analyser(Config())


@lru_cache(maxsize=None)
def report_of(name: str, no_asr: bool = False) -> Report:
    return analyser().analyse(CALLS / f"{name}.wav", no_asr=no_asr)


def truth(name: str) -> dict:
    return json.loads((CALLS / f"{name}.truth.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["en_empathic", "en_cold"])
def test_report_validates_against_the_contract_schema(name: str) -> None:
    doc = json.loads(report_of(name).to_json())
    jsonschema.validate(doc, SCHEMA)
    assert doc["schema"] == "voicecx.report/1"
    assert doc["call"]["mode"] == "stereo"
    assert doc["call"]["language"] == "en"
    assert doc["timing"]["realtime_factor"] == pytest.approx(doc["call"]["duration_s"] / doc["timing"]["total_s"], rel=0.01)


def test_empathic_call_scores_at_least_25_points_above_the_cold_one() -> None:
    warm, cold = report_of("en_empathic").empathy, report_of("en_cold").empathy
    assert warm.score >= cold.score + 25, (warm.score, cold.score)
    assert warm.grade < cold.grade  # "A" < "E": a better letter


def test_roles_follow_the_recording_convention_and_the_greeting() -> None:
    doc = report_of("en_empathic").to_dict()
    roles = {s["label"]: s["role"] for s in doc["speakers"]}
    assert sorted(roles.values()) == ["agent", "customer"]
    agent = next(lab for lab, role in roles.items() if role == "agent")
    first = min(doc["segments"], key=lambda s: s["start"])
    # tiny.en hears the espeak "Thank you" as "And you" on this 8 kHz leg; the rest of the greeting is right
    assert first["speaker"] == agent and "my name is sarah" in first["text"].lower()


def _evidence_near(behaviour: dict, spans: list[dict], slack: float = 2.0) -> bool:
    return any(ev["start"] <= s["end"] + slack and ev["end"] >= s["start"] - slack
               for ev in behaviour["evidence"] for s in spans)


@pytest.mark.parametrize("name", ["en_empathic"])
def test_every_scripted_text_behaviour_is_found_with_the_right_evidence_time(name: str) -> None:
    doc = report_of(name).to_dict()
    scripted = {k: v for k, v in truth(name)["behaviours"].items() if k not in ("smile", "personal_voice")}
    missed = []
    for bid, spans in scripted.items():
        b = doc["behaviours"][bid]
        if b["score"] is None or b["score"] < 0.5 or not _evidence_near(b, spans):
            missed.append((bid, b["score"], [(e["start"], e["end"]) for e in b["evidence"]][:3]))
    # Through tiny.en one scripted phrase may be misheard on these 8 kHz espeak legs (measured:
    # "I'm really sorry" -> "I'm really happy"); the lexicon itself finds all of them in the truth text
    # (tests/test_language.py). More than one miss means the pipeline, not the ASR, lost evidence.
    assert len(missed) <= 1, missed


def test_cold_call_interruptions_and_dead_air_are_reported_at_their_times() -> None:
    doc = report_of("en_cold").to_dict()
    events = doc["events"]
    for t in (e for e in truth("en_cold")["events"] if e["type"] in ("interruption", "dead_air")):
        assert any(e["type"] == t["type"] and abs(e["start"] - t["start"]) < 1.0 for e in events), t
    assert doc["behaviours"]["no_interrupting"]["score"] < report_of("en_empathic").to_dict()["behaviours"]["no_interrupting"]["score"]


def test_audio_only_analysis_leaves_text_behaviours_null_and_keeps_audio_ones() -> None:
    doc = report_of("en_cold", no_asr=True).to_dict()
    jsonschema.validate(doc, SCHEMA)
    assert doc["segments"] == []
    assert doc["behaviours"]["apology"]["score"] is None
    assert doc["behaviours"]["no_interrupting"]["score"] is not None
    assert "transcribe" not in doc["timing"]["stages_s"]


@pytest.mark.parametrize("name,lang", [("zh_call", "zh"), ("da_call", "da")])
def test_other_languages_are_detected_and_scored(name: str, lang: str) -> None:
    doc = report_of(name).to_dict()
    jsonschema.validate(doc, SCHEMA)
    assert doc["call"]["language"] == lang
    # the language's lexicon was applied: text behaviours are scored, not null
    assert doc["behaviours"]["clean_register"]["score"] is not None
    if lang == "da":  # Whisper base keeps enough Danish words here; its Mandarin on espeak audio is near-random (CER ~0.9)
        text_scores = [doc["behaviours"][b]["score"] for b in truth(name)["behaviours"] if b in doc["behaviours"]]
        assert any(s is not None and s >= 0.5 for s in text_scores), doc["behaviours"]


def test_user_rttm_replaces_diarisation(tmp_path: Path) -> None:
    rep = analyser().analyse(CALLS / "zh_call.wav", no_asr=True, rttm=CALLS / "zh_call.rttm")
    turns = rep.roles["turns"]
    want = [line.split() for line in (CALLS / "zh_call.rttm").read_text().splitlines() if line.strip()]
    assert len(turns) == len(want)
    assert turns[0]["start"] == pytest.approx(float(want[0][3]), abs=0.01)


def test_cli_writes_json_and_html_and_prints_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    proc = subprocess.run([*VOICECX, "analyse", str(CALLS / "ko_call.wav"), "--out", str(out), "--no-asr"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "empathy" in proc.stdout and "ko_call.report.html" in proc.stdout
    doc = json.loads((out / "ko_call.report.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, SCHEMA)
    assert (out / "ko_call.report.html").read_text(encoding="utf-8").lower().startswith("<!doctype html>")


@pytest.mark.parametrize("content,needle", [
    (b"", "empty"),
    (b"this is not audio at all\n" * 20, "not"),
    (None, "truncated"),
])
def test_bad_input_gives_one_line_exit_2_and_no_partial_report(tmp_path: Path, content: bytes | None, needle: str) -> None:
    bad = tmp_path / "bad.wav"
    if content is None:  # a real WAV cut in half: header promises more data than there is
        data = (CALLS / "ko_call.wav").read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    else:
        bad.write_bytes(content)
    out = tmp_path / "out"
    proc = subprocess.run([*VOICECX, "analyse", str(bad), "--out", str(out), "--no-asr"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr and needle in lines[0].lower(), proc.stderr
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_html_report_renders_in_chromium_and_clicking_an_event_seeks_the_audio(tmp_path: Path) -> None:
    """Look at the report as a user would: headless Debian chromium, screenshot, plots sized, seek works."""
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.fail("Debian chromium missing: run scripts/setup.sh")
    _, html_path = report_of("en_cold").write(tmp_path)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(html_path.as_uri())
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        for section in ("#timeline-section svg", "#prosody-section svg"):
            box = page.locator(section).first.bounding_box()
            assert box and box["width"] > 600 and box["height"] > 80, (section, box)
        assert page.locator("#timeline-section svg rect").count() > 10
        assert page.locator("#events [data-t]").count() >= 3
        page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=15000)
        target = page.locator("#events [data-t]").nth(2)
        want = float(target.get_attribute("data-t"))
        target.click()
        got = page.evaluate("document.getElementById('player').currentTime")
        browser.close()
    assert got == pytest.approx(want, abs=0.05)
    assert (tmp_path / "report.png").stat().st_size > 20_000


def test_embedded_audio_of_a_long_call_round_trips() -> None:
    """Regression: libsndfile's Vorbis encoder segfaulted on a 10-minute call written in one block."""
    import base64
    import io

    import numpy as np
    import soundfile as sf

    from voicecx.audio import from_array
    from voicecx.pipeline import _audio_data_uri

    rng = np.random.default_rng(0)
    call = from_array((0.1 * rng.standard_normal((2, 8000 * 600))).astype(np.float32), 8000, source="long")
    uri = _audio_data_uri(call)
    assert uri and uri.startswith("data:audio/ogg;base64,")
    back, sr = sf.read(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert sr == 8000 and back.shape == (8000 * 600, 2)


def test_plotted_pitch_keeps_the_speakers_voice_and_drops_hum_echo_and_octave_jumps() -> None:
    from types import SimpleNamespace

    import numpy as np

    from voicecx.pipeline import _plot_tracks

    f0 = np.full(300, 120.0)
    f0[50:52] = 480.0  # two-frame octave jump inside speech
    f0[100:110] = 0.0  # unvoiced
    f0[200:] = 50.0  # mains hum after the speaker stopped
    active = np.zeros(300, dtype=bool)
    active[:200] = True
    track = SimpleNamespace(f0=f0, energy_db=np.zeros(300), hop_s=0.01)
    plotted = np.asarray(_plot_tracks({"agent": track}, {}, {"agent": active}, 0.01)["agent"].f0)
    assert np.all(plotted[200:] == 0) and np.all(plotted[50:52] == 0) and np.all(plotted[100:110] == 0)
    assert np.all(plotted[:50] == 120.0) and np.all(plotted[110:200] == 120.0)
