"""Shared fixtures: paths to the bundled demo calls and small synthetic recordings."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
CALLS = ROOT / "samples" / "calls"


def pyannote_sample() -> Path:
    """pyannote.audio's bundled real telephone-band speech (16 kHz mono) with its reference RTTM."""
    spec = importlib.util.find_spec("pyannote.audio")
    assert spec and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "sample" / "sample.wav"


@pytest.fixture
def calls_dir() -> Path:
    if not (CALLS / "en_empathic.wav").exists():
        pytest.fail("demo calls missing: run samples/make_samples.py")
    return CALLS


@pytest.fixture
def tone_call(tmp_path: Path):
    """Write a stereo test recording: 200 Hz on the left, 300 Hz on the right, 3 s at the given rate."""

    def make(sr: int = 8000, seconds: float = 3.0, subtype: str = "PCM_16", name: str = "call.wav") -> Path:
        t = np.arange(int(sr * seconds)) / sr
        left = 0.3 * np.sin(2 * np.pi * 200 * t)
        right = 0.2 * np.sin(2 * np.pi * 300 * t)
        path = tmp_path / name
        sf.write(path, np.stack([left, right], axis=1).astype(np.float32), sr, subtype=subtype)
        return path

    return make
