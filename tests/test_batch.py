"""voicecx batch: inputs, manifest, resume after kill -9, bad files, timeouts, local vs Ray engines.

The pipeline tests run the real analysis (``--no-asr``) on 8-second stereo clips cut from the demo
calls, so every batch run stays short; the report JSON is checked against the published schema.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import soundfile as sf

from voicecx import batch
from voicecx.cli import main

ROOT = Path(__file__).resolve().parent.parent
CALLS = ROOT / "samples" / "calls"
VOICECX = [sys.executable, "-m", "voicecx.cli"]
CLIP_S = 8.0


def cut_clip(src: Path, dst: Path, start_s: float, seconds: float = CLIP_S) -> Path:
    """A short stereo call cut from a demo call (different cuts have different content hashes)."""
    data, sr = sf.read(src, dtype="float32", always_2d=True)
    a = int(start_s * sr)
    sf.write(dst, data[a:a + int(seconds * sr)], sr, subtype="PCM_16")
    return dst


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]


def summary(out: Path) -> dict[str, dict]:
    import csv

    with open(out / "summary.csv", encoding="utf-8") as f:
        return {row["call_id"]: row for row in csv.DictReader(f)}


def assert_valid_report(out: Path, call_id: str) -> dict:
    schema = json.loads(resources.files("voicecx").joinpath("report.schema.json").read_text(encoding="utf-8"))
    data = json.loads((out / f"{call_id}.report.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    assert data["call"]["id"] == call_id
    assert (out / f"{call_id}.report.html").read_text(encoding="utf-8").rstrip().endswith("</html>")
    return data


def temp_files(out: Path) -> list[str]:
    return [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three good short calls (one in a sub-folder) next to a corrupt WAV, an empty file, a
    text file posing as audio, and a readme that is not an input at all."""
    d = tmp_path_factory.mktemp("mixed")
    (d / "team_b").mkdir()
    cut_clip(CALLS / "zh_call.wav", d / "zh_short.wav", 0.0)
    cut_clip(CALLS / "da_call.wav", d / "da_short.wav", 2.0)
    cut_clip(CALLS / "ko_call.wav", d / "team_b" / "ko_short.wav", 4.0)
    (d / "corrupt.wav").write_bytes((CALLS / "ko_call.wav").read_bytes()[:3000])  # header promises far more audio
    (d / "empty.wav").write_bytes(b"")
    (d / "not_audio.mp3").write_text("this is a transcript, not a recording\n" * 20, encoding="utf-8")
    (d / "readme.txt").write_text("notes about the calls\n", encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def mixed_run(mixed_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("mixed_out")
    code = main(["batch", str(mixed_folder), "--out", str(out), "--workers", "1", "--no-asr", "--no-progress"])
    return code, out


# ----------------------------------------------------------------------------- inputs (no analysis)

def test_folders_are_searched_recursively_for_audio_extensions_only(mixed_folder: Path) -> None:
    files, missing = batch.expand_inputs([mixed_folder])
    names = sorted(p.name for p in files)
    assert names == ["corrupt.wav", "da_short.wav", "empty.wav", "ko_short.wav", "not_audio.mp3", "zh_short.wav"]
    assert missing == []


def test_globs_and_list_files_resolve_relative_paths_against_the_list(mixed_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text(f"# tonight's calls\n{mixed_folder / 'zh_short.wav'}\n\n../nowhere.wav\n",
                                       encoding="utf-8")
    rel = os.path.relpath(mixed_folder / "team_b" / "ko_short.wav", tmp_path)
    (tmp_path / "list.csv").write_text(f"agent,Path\nana,{rel}\nbo,{mixed_folder / 'zh_short.wav'}\n", encoding="utf-8")
    files, missing = batch.expand_inputs([tmp_path / "list.txt", tmp_path / "list.csv", str(mixed_folder / "d*.wav")])
    assert [p.name for p in files] == ["zh_short.wav", "ko_short.wav", "da_short.wav"]
    assert missing == [(tmp_path / "../nowhere.wav").absolute()]


def test_same_file_name_in_two_folders_gets_two_report_names(tmp_path: Path) -> None:
    items = batch.assign_call_ids([tmp_path / "a" / "call 1.wav", tmp_path / "b" / "call 1.wav"])
    assert items[0].call_id == "call_1"
    assert items[1].call_id.startswith("call_1-") and items[1].call_id != items[0].call_id


@pytest.mark.parametrize("argv, message", [
    (["nothing_here/*.wav"], "no inputs found"),
    (["{good}", "--workers", "0"], "--workers must be at least 1"),
    (["{good}", "--timeout", "-3"], "--timeout must be a positive"),
    (["{good}", "--ray-address", "auto"], "--ray-address needs --engine ray"),
    (["{bad_csv}"], "needs a 'path' column"),
])
def test_usage_errors_exit_2_with_one_line(argv: list[str], message: str, tmp_path: Path, mixed_folder: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "calls.csv").write_text("file\nx.wav\n", encoding="utf-8")
    argv = [a.format(good=mixed_folder / "zh_short.wav", bad_csv=tmp_path / "calls.csv") for a in argv]
    code = main(["batch", *argv, "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1


def test_second_batch_on_the_same_folder_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    with batch._OutputLock(tmp_path):
        with pytest.raises(batch.BatchError, match="another voicecx batch"):
            with batch._OutputLock(tmp_path):
                pass
    with batch._OutputLock(tmp_path):  # released: usable again
        pass


def test_torn_last_manifest_line_is_cut_and_complete_lines_kept(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    good = {"call_id": "a", "status": "ok"}
    path.write_text(json.dumps(good) + "\n" + '{"call_id": "b", "sta', encoding="utf-8")
    m = batch.Manifest(path)
    assert m.read() == [good]
    m.append({"call_id": "b", "status": "error"})
    assert [e["call_id"] for e in m.read()] == ["a", "b"]
    assert path.read_text(encoding="utf-8").endswith("\n")


def test_summary_page_escapes_everything_and_lists_worst_calls_first() -> None:
    entries = [
        {"call_id": "good", "status": "ok", "score": 81.0, "grade": "A", "outputs": {"html": "good.report.html"},
         "row": {"summary": "Warm & attentive"}},
        {"call_id": "bad", "status": "ok", "score": 22.5, "grade": "E", "outputs": {"html": "bad.report.html"},
         "row": {"summary": "<script>alert(1)</script>"}},
        {"call_id": "x", "input": "/calls/<x>.wav", "status": "error", "message": "not audio <b>"},
        {"call_id": "good", "status": "ok", "score": 85.0, "grade": "A", "outputs": {"html": "good.report.html"},
         "row": {"summary": "newer attempt"}},
    ]
    page = batch.summary_html(entries)
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;x&gt;" in page and "&lt;b&gt;" in page
    assert page.index('href="bad.report.html"') < page.index('href="good.report.html"')
    assert "newer attempt" in page and "Warm" not in page  # latest attempt per call only
    assert page.count("<rect") == 10 and ">1</text>" in page  # ten bins; 22.5 and 85 one each


# ----------------------------------------------------------------------------- real analysis

def test_bad_files_are_recorded_and_the_batch_goes_on(mixed_run: tuple[int, Path]) -> None:
    code, out = mixed_run
    assert code == 1  # some inputs failed
    entries = {e["call_id"]: e for e in manifest(out)}
    assert set(entries) == {"zh_short", "da_short", "ko_short", "corrupt", "empty", "not_audio"}  # readme.txt is no input
    assert "truncated" in entries["corrupt"]["message"]
    assert "empty file" in entries["empty"]["message"]
    assert "not a readable audio file" in entries["not_audio"]["message"]
    rows = summary(out)
    for cid in ("corrupt", "empty", "not_audio"):
        e = entries[cid]
        assert e["status"] == "error" and e["kind"] == "bad_input" and e["outputs"] is None
        assert rows[cid]["status"] == "error" and rows[cid]["message"] == e["message"]
        assert not (out / f"{cid}.report.json").exists()
    for cid in ("zh_short", "da_short", "ko_short"):
        e = entries[cid]
        data = assert_valid_report(out, cid)
        assert e["status"] == "ok" and e["outputs"] == {"json": f"{cid}.report.json", "html": f"{cid}.report.html"}
        assert e["content_sha256"] == batch.file_sha256(Path(e["input"]))
        assert e["duration_s"] == pytest.approx(CLIP_S, abs=0.01)
        assert float(rows[cid]["empathy_score"]) == e["score"] == data["empathy"]["score"]
    assert len({e["config_sha256"] for e in entries.values()}) == 1
    page = (out / "summary.html").read_text(encoding="utf-8")
    assert all(f'href="{cid}.report.html"' in page for cid in ("zh_short", "da_short", "ko_short"))
    assert temp_files(out) == []


def test_kill_9_mid_run_then_resume_leaves_exactly_one_valid_report_per_call(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    for i, (name, start) in enumerate([("zh_call", 0), ("da_call", 0), ("ko_call", 0), ("zh_call", 9), ("da_call", 9)]):
        cut_clip(CALLS / f"{name}.wav", calls / f"call{i}.wav", start)
    out = tmp_path / "out"
    argv = [*VOICECX, "batch", str(calls), "--out", str(out), "--workers", "1", "--no-asr", "--no-progress"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("*.report.json")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL  # it really was killed, not finished
    done_before = [e for e in manifest(out) if e["status"] == "ok"] if (out / "manifest.jsonl").exists() else []
    assert len(done_before) < 5
    (out / ".call3.report.json.999.tmp").write_text("{half a rep", encoding="utf-8")  # what a kill mid-write leaves

    resumed = subprocess.run([*argv, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert temp_files(out) == []
    entries = manifest(out)
    for i in range(5):
        ok = [e for e in entries if e["call_id"] == f"call{i}" and e["status"] == "ok"]
        assert len(ok) == 1, f"call{i}: {len(ok)} ok entries"
        assert_valid_report(out, f"call{i}")
    assert sorted(p.name for p in out.glob("*.report.json")) == [f"call{i}.report.json" for i in range(5)]
    assert set(summary(out)) == {f"call{i}" for i in range(5)}

    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.report.*")}
    again = subprocess.run([*argv, "--resume"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert manifest(out) == entries  # nothing redone, nothing appended
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.report.*")} == stamps


def test_a_file_over_the_timeout_is_recorded_and_its_worker_replaced(mixed_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["batch", str(mixed_folder / "zh_short.wav"), str(mixed_folder / "empty.wav"), "--out", str(out),
                 "--workers", "1", "--timeout", "0.001", "--no-asr", "--no-progress"])
    assert code == 1
    entries = {e["call_id"]: e for e in manifest(out)}
    assert entries["zh_short"]["kind"] == "timeout" and entries["zh_short"]["message"] == "timed out after 0.001 s"
    assert entries["empty"]["kind"] == "bad_input"  # the next file ran on a fresh worker
    assert not (out / "zh_short.report.json").exists()


@pytest.mark.slow
def test_ray_local_cluster_gives_the_same_scores_as_the_local_engine(mixed_run: tuple[int, Path],
                                                                     mixed_folder: Path, tmp_path: Path) -> None:
    _, local_out = mixed_run
    out = tmp_path / "ray"
    inputs = [str(mixed_folder / "zh_short.wav"), str(mixed_folder / "team_b" / "ko_short.wav")]
    code = main(["batch", *inputs, "--out", str(out), "--engine", "ray", "--workers", "1", "--no-asr", "--no-progress"])
    assert code == 0
    local = {e["call_id"]: e for e in manifest(local_out)}
    for e in manifest(out):
        assert e["engine"] == "ray" and e["status"] == "ok"
        assert e["config_sha256"] == local[e["call_id"]]["config_sha256"]
        ray_report = assert_valid_report(out, e["call_id"])
        local_report = json.loads((local_out / f"{e['call_id']}.report.json").read_text(encoding="utf-8"))
        assert ray_report["empathy"] == local_report["empathy"]
        assert ray_report["behaviours"] == local_report["behaviours"]
