"""`voicecx pitch` as a user runs it (DESIGN §3.1): CSV `time_s,f0_hz`, frame-centre times, exit codes."""
from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
VOICECX = ROOT / ".venv" / "bin" / "voicecx"


def run(*args: str) -> subprocess.CompletedProcess:
    if not VOICECX.exists():
        pytest.fail(f"{VOICECX} missing: create the virtual environment as the README says")
    return subprocess.run([str(VOICECX), "pitch", *args], capture_output=True, text=True, timeout=120)


def read_csv(text: str) -> tuple[list[str], np.ndarray]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], np.array(rows[1:], dtype=np.float64)


def tone(path: Path, f0: float, sr: int = 16000, seconds: float = 1.0) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    x = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in (1, 2, 3))
    sf.write(path, x.astype(np.float32), sr, subtype="PCM_16")
    return path


def assert_one_line_error(proc: subprocess.CompletedProcess) -> None:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and lines[0].startswith("voicecx pitch")


def test_tone_gives_200_hz_at_frame_centres(tmp_path):
    proc = run(str(tone(tmp_path / "t200.wav", 200.0)), "--csv")
    assert proc.returncode == 0, proc.stderr
    header, rows = read_csv(proc.stdout)
    assert header == ["time_s", "f0_hz"]
    assert len(rows) == 1 + 16000 // 160  # frames centred at 0, hop, ..., <= n samples
    np.testing.assert_allclose(rows[:, 0], np.arange(len(rows)) * 0.010, atol=1e-9)
    assert np.abs(rows[3:-3, 1] / 200.0 - 1).max() <= 0.01


def test_csv_values_are_the_cpu_kernel_output(tmp_path):
    from voicecx import audio
    from voicecx.kernels import get_backend

    path = ROOT / "samples" / "calls" / "da_call.wav"
    proc = run(str(path), "--csv", "--hop-ms", "5", "--fmin", "60", "--fmax", "400")
    assert proc.returncode == 0, proc.stderr
    _, rows = read_csv(proc.stdout)
    call = audio.load(path)
    f0, _ = get_backend("cpu").pitch_yin(call.leg(0), call.sample_rate, 40, 60.0, 400.0)
    np.testing.assert_allclose(rows[:, 0], np.arange(len(f0)) * 0.005, atol=1e-9)
    np.testing.assert_allclose(rows[:, 1], f0, atol=0.006)
    assert (rows[:, 1] > 0).mean() > 0.2, "a speech leg has voiced frames"


def test_stereo_file_uses_the_first_channel(tone_call):
    proc = run(str(tone_call(sr=8000)), "--csv")  # left 200 Hz, right 300 Hz
    assert proc.returncode == 0, proc.stderr
    _, rows = read_csv(proc.stdout)
    assert np.median(rows[:, 1]) == pytest.approx(200.0, rel=0.01)


def test_several_files_write_one_csv_per_stem(tmp_path):
    a, b = tone(tmp_path / "low.wav", 120.0), tone(tmp_path / "high.wav", 300.0, sr=8000)
    out = tmp_path / "out"
    proc = run(str(a), str(b), "--csv", "--out-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert sorted(p.name for p in out.iterdir()) == ["high.csv", "low.csv"]
    for name, f0 in (("low.csv", 120.0), ("high.csv", 300.0)):
        header, rows = read_csv((out / name).read_text())
        assert header == ["time_s", "f0_hz"]
        assert np.median(rows[:, 1]) == pytest.approx(f0, rel=0.01)


def test_missing_file_exits_2_with_one_line(tmp_path):
    proc = run(str(tmp_path / "nope.wav"), "--csv")
    assert proc.returncode == 2 and proc.stdout == ""
    assert_one_line_error(proc)
    assert "nope.wav" in proc.stderr


def test_not_audio_file_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio\n")
    proc = run(str(bad), "--csv")
    assert proc.returncode == 2 and proc.stdout == ""
    assert_one_line_error(proc)


def test_one_bad_file_among_several_exits_1_and_keeps_the_good_ones(tmp_path):
    good = tone(tmp_path / "good.wav", 150.0)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00")
    out = tmp_path / "out"
    proc = run(str(bad), str(good), "--csv", "--out-dir", str(out))
    assert proc.returncode == 1
    assert_one_line_error(proc)
    assert [p.name for p in out.iterdir()] == ["good.csv"]


@pytest.mark.parametrize(
    "args",
    [
        ["--fmax", "4500"],  # above the 4 kHz Nyquist of an 8 kHz file
        ["--fmin", "300", "--fmax", "200"],
        ["--hop-ms", "0"],
    ],
)
def test_bad_options_exit_2_with_one_line(tone_call, args):
    proc = run(str(tone_call(sr=8000)), "--csv", *args)
    assert proc.returncode == 2
    assert_one_line_error(proc)
