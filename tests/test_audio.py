"""Audio input: every common format decodes to the same float32 legs; bad input gets one clear line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicecx import audio
from voicecx.audio import AudioError


def _dominant_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spec)])


@pytest.mark.parametrize(
    ("name", "fmt", "subtype"),
    [
        ("pcm.wav", "WAV", "PCM_16"),
        ("ulaw.wav", "WAV", "ULAW"),
        ("alaw.wav", "WAV", "ALAW"),
        ("float.wav", "WAV", "FLOAT"),
        ("call.flac", "FLAC", "PCM_16"),
        ("call.ogg", "OGG", "VORBIS"),
        ("call.mp3", "MP3", "MPEG_LAYER_III"),
    ],
)
def test_common_formats_decode_to_the_same_two_legs(tmp_path: Path, name: str, fmt: str, subtype: str) -> None:
    sr = 8000
    t = np.arange(sr * 2) / sr
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 200 * t), 0.2 * np.sin(2 * np.pi * 300 * t)], axis=1)
    path = tmp_path / name
    sf.write(path, stereo.astype(np.float32), sr, format=fmt, subtype=subtype)

    call = audio.load(path)

    assert call.channels == 2 and call.sample_rate == sr
    assert call.samples.dtype == np.float32
    assert abs(call.duration_s - 2.0) < 0.08  # mp3/ogg add a few ms of codec padding at most
    assert _dominant_hz(call.leg(0), sr) == pytest.approx(200, abs=2)
    assert _dominant_hz(call.leg(1), sr) == pytest.approx(300, abs=2)


@pytest.mark.parametrize("sr", [8000, 11025, 16000, 22050, 44100, 48000])
def test_any_rate_from_8_to_48_khz_resamples_to_the_analysis_rate(tone_call, sr: int) -> None:
    call = audio.load(tone_call(sr=sr), 16000)
    assert call.sample_rate == 16000
    assert call.n_samples == pytest.approx(3 * 16000, abs=2)
    assert _dominant_hz(call.leg(0), 16000) == pytest.approx(200, abs=1)
    assert _dominant_hz(call.leg(1), 16000) == pytest.approx(300, abs=1)
    assert call.warnings == ()


def test_block_wise_resampling_matches_one_shot_resampling(tone_call) -> None:
    path = tone_call(sr=8000, seconds=5.0)
    blocks = audio.load(path, 16000, block_s=0.37)  # odd block size: stream boundaries must not click
    whole = audio.load(path, 16000, block_s=60.0)
    assert blocks.samples.shape == whole.samples.shape
    assert np.max(np.abs(blocks.samples - whole.samples)) < 1e-4


def test_long_files_are_read_in_blocks_of_the_requested_size(tmp_path: Path) -> None:
    sr = 8000
    path = tmp_path / "long.wav"
    sf.write(path, np.random.default_rng(0).uniform(-0.1, 0.1, (sr * 30, 2)).astype(np.float32), sr, subtype="PCM_16")
    blocks = list(audio.iter_blocks(path, block_s=7.0))
    assert [b.shape[1] for b in blocks] == [7 * sr] * 4 + [2 * sr]
    assert all(b.dtype == np.float32 and b.shape[0] == 2 for b in blocks)


def test_stereo_legs_split_and_downmix(tone_call) -> None:
    call = audio.load(tone_call())
    assert np.allclose(call.mono(), (call.leg(0) + call.leg(1)) / 2, atol=1e-6)
    assert call.leg(0).flags["C_CONTIGUOUS"]


def test_silent_leg_loads_with_a_warning(tmp_path: Path) -> None:
    sr = 8000
    t = np.arange(sr * 2) / sr
    path = tmp_path / "one_leg.wav"
    sf.write(path, np.stack([0.3 * np.sin(2 * np.pi * 150 * t), np.zeros_like(t)], axis=1), sr)
    call = audio.load(path)
    assert any("channel 2 is silent" in w for w in call.warnings)


def test_clipping_loads_with_a_warning(tmp_path: Path) -> None:
    sr = 8000
    t = np.arange(sr * 2) / sr
    path = tmp_path / "clipped.wav"
    sf.write(path, np.clip(3 * np.sin(2 * np.pi * 150 * t), -1, 1), sr)
    assert any("clipped" in w for w in audio.load(path).warnings)


# ----------------------------------------------------------------------------- bad input


def _error_for(path: Path) -> str:
    with pytest.raises(AudioError) as err:
        audio.load(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    assert "no such file" in _error_for(tmp_path / "nope.wav")


def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert "empty file" in _error_for(path)


def test_directory_is_a_clear_error(tmp_path: Path) -> None:
    assert "directory" in _error_for(tmp_path)


def test_text_file_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("Customer called about a refund. " * 20)
    assert "not a readable audio file" in _error_for(path)


def test_random_bytes_are_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _error_for(path)


def test_truncated_wav_is_reported_with_how_much_is_there(tone_call) -> None:
    path = tone_call()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in _error_for(path)


def test_truncated_flac_is_corrupt(tone_call, tmp_path: Path) -> None:
    path = tone_call(name="call.flac")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    message = _error_for(path)
    assert "corrupt" in message or "truncated" in message


def test_wav_with_zero_frames_is_0_length(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros((0, 2), dtype=np.float32), 8000)
    assert "0-length" in _error_for(path)


def test_nan_samples_are_reported_with_their_time(tmp_path: Path) -> None:
    sr = 8000
    x = np.zeros((sr * 2, 2), dtype=np.float32)
    x[sr + 800, 1] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    assert "NaN" in _error_for(path) and "1.10 s" in _error_for(path)


def test_infinite_samples_are_rejected(tmp_path: Path) -> None:
    x = np.zeros((8000, 1), dtype=np.float32)
    x[10] = np.inf
    path = tmp_path / "inf.wav"
    sf.write(path, x, 8000, subtype="FLOAT")
    assert "infinity" in _error_for(path)


def test_rate_below_telephone_band_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "4k.wav"
    sf.write(path, np.zeros((4000, 1), dtype=np.float32), 4000)
    assert "below 8000 Hz" in _error_for(path)


def test_more_than_two_channels_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "quad.wav"
    sf.write(path, np.zeros((8000, 4), dtype=np.float32), 8000)
    assert "4 channels" in _error_for(path)


def test_huge_files_are_refused_before_decoding(tone_call) -> None:
    with pytest.raises(AudioError, match="limit"):
        audio.load(tone_call(seconds=3.0), max_duration_s=1.0)


def test_arrays_get_the_same_validation_as_files() -> None:
    with pytest.raises(AudioError, match="NaN"):
        audio.from_array(np.array([0.0, np.nan]), 8000)
    with pytest.raises(AudioError, match="0-length"):
        audio.from_array(np.zeros((2, 0)), 8000)
    assert audio.from_array(np.zeros(800), 8000).channels == 1
