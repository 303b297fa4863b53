"""CPU numba kernels against the numpy reference and against signals with known answers (DESIGN §4)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicecx import audio
from voicecx import kernels
from voicecx.kernels import BackendUnavailable, get_backend

CALLS = Path(__file__).resolve().parent.parent / "samples" / "calls"
CPU = get_backend("cpu")
REF = get_backend("reference")


# ----------------------------------------------------------------------------- signals


def harmonic(f0: float | np.ndarray, sr: int, seconds: float, n_harm: int = 6, amp: float = 0.3) -> np.ndarray:
    """Voice-like tone: harmonics of f0 with 1/k amplitudes, below Nyquist. f0 may be a per-sample track."""
    n = int(sr * seconds)
    track = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(track) / sr
    x = np.zeros(n)
    for k in range(1, n_harm + 1):
        x += np.where(k * track < 0.45 * sr, np.sin(k * phase) / k, 0.0)
    return (amp * x / np.abs(x).max()).astype(np.float32)


def noise(sr: int, seconds: float, level: float = 0.1, seed: int = 0) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(sr * seconds))).astype(np.float32)


def call_leg(seconds: float = 10.0) -> tuple[np.ndarray, int]:
    """The agent (left) channel of a bundled demo call: real speech with pauses."""
    path = CALLS / "en_empathic.wav"
    if not path.exists():
        pytest.fail("demo calls missing: run samples/make_samples.py")
    call = audio.load(path)
    return call.leg(0)[: int(seconds * call.sample_rate)], call.sample_rate


def params(sr: int) -> dict[str, int]:
    """The project's frame convention: hop 10 ms, frame 25 ms."""
    return {"hop": sr // 100, "frame": int(round(0.025 * sr))}


def cases() -> list[tuple[str, np.ndarray, int]]:
    out = [("noise_8k", noise(8000, 2.0), 8000), ("noise_16k", noise(16000, 2.0, seed=1), 16000)]
    for sr in (8000, 16000):
        for f0 in (80.0, 120.0, 220.0, 350.0):
            out.append((f"tone_{int(f0)}_{sr // 1000}k", harmonic(f0, sr, 1.0), sr))
        out.append((f"glide_{sr // 1000}k", harmonic(np.geomspace(90.0, 400.0, int(1.5 * sr)), sr, 1.5), sr))
        out.append((f"silence_{sr // 1000}k", np.zeros(sr // 2, dtype=np.float32), sr))
    return out


CASES = cases()


@pytest.fixture(scope="module")
def leg() -> tuple[np.ndarray, int]:
    return call_leg()


def all_cases(leg_signal: tuple[np.ndarray, int]) -> list[tuple[str, np.ndarray, int]]:
    return CASES + [("en_empathic_agent_10s", *leg_signal)]


# ----------------------------------------------------------------------------- cpu == reference


def assert_pitch_matches(name: str, x: np.ndarray, sr: int) -> None:
    hop = params(sr)["hop"]
    f_c, p_c = CPU.pitch_yin(x, sr, hop, 50.0, 500.0)
    f_r, p_r = REF.pitch_yin(x, sr, hop, 50.0, 500.0)
    assert f_c.dtype == np.float32 and len(f_c) == len(f_r) == 1 + len(x) // hop
    agree = np.mean((f_c > 0) == (f_r > 0))
    assert agree >= 0.98, f"{name}: voicing agreement {agree:.3f}"
    both = (f_c > 0) & (f_r > 0)
    if both.any():
        rel = np.abs(f_c[both] - f_r[both]) / f_r[both]
        assert rel.max() <= 0.01, f"{name}: f0 differs by {rel.max():.4f}"
    assert np.mean(np.abs(p_c - p_r) <= 0.01) >= 0.98, f"{name}: periodicity differs"


def test_pitch_matches_reference_on_noise_tones_glides_silence_and_a_real_call(leg):
    for name, x, sr in all_cases(leg):
        assert_pitch_matches(name, x, sr)


def test_energy_matches_reference_within_0_05_db(leg):
    for name, x, sr in all_cases(leg):
        p = params(sr)
        e_c, e_r = CPU.energy(x, p["frame"], p["hop"]), REF.energy(x, p["frame"], p["hop"])
        assert np.abs(e_c - e_r).max() <= 0.05, name


def test_spectral_shape_matches_reference(leg):
    for name, x, sr in all_cases(leg):
        p = params(sr)
        c_c, t_c, r_c = CPU.spectral(x, sr, p["frame"], p["hop"])
        c_r, t_r, r_r = REF.spectral(x, sr, p["frame"], p["hop"])
        assert r_c.shape == r_r.shape == (1 + len(x) // p["hop"], 4)
        np.testing.assert_allclose(c_c, c_r, rtol=1e-4, atol=0.5, err_msg=name)
        np.testing.assert_allclose(t_c, t_r, atol=0.05, err_msg=name)
        np.testing.assert_allclose(r_c, r_r, atol=1e-4, err_msg=name)


def test_formants_match_reference(leg):
    for name, x, sr in [CASES[2], CASES[9], ("en_empathic_agent_10s", *leg)]:
        p = params(sr)
        order = 2 + sr // 1000
        f_c = CPU.formants_lpc(x, sr, p["frame"], p["hop"], order=order)
        f_r = REF.formants_lpc(x, sr, p["frame"], p["hop"], order=order)
        close = np.all(np.abs(f_c - f_r) <= 1.0, axis=1)
        assert close.mean() >= 0.98, f"{name}: {close.mean():.3f} of frames agree"


def test_vad_matches_reference(leg):
    for name, x, sr in all_cases(leg):
        p = params(sr)
        v_c, v_r = CPU.vad(x, sr, p["hop"], p["frame"]), REF.vad(x, sr, p["hop"], p["frame"])
        assert v_c.dtype == np.bool_ and np.mean(v_c == v_r) >= 0.99, name


# ----------------------------------------------------------------------------- known answers


@pytest.mark.parametrize("sr", [8000, 16000])
@pytest.mark.parametrize("f0", [80.0, 120.0, 220.0, 350.0])
def test_tone_f0_is_within_one_percent_of_truth(f0, sr):
    f, periodicity = CPU.pitch_yin(harmonic(f0, sr, 1.0), sr, sr // 100, 50.0, 500.0)
    inner = f[5:-5]  # frames whose window lies inside the tone
    assert np.all(inner > 0), "every frame inside a steady tone is voiced"
    assert np.abs(inner / f0 - 1).max() <= 0.01
    assert periodicity[5:-5].min() >= 0.9


def vowel(f0: float, sr: int, seconds: float, amps: tuple[float, ...] | None = None) -> np.ndarray:
    """Harmonics of f0 shaped by an /a/-like formant envelope (F1 730, F2 1090, F3 2440 Hz; Peterson
    & Barney 1952) on a 1/k glottal roll-off, or with the given harmonic amplitudes ``amps``."""
    n = int(sr * seconds)
    t = np.arange(n) / sr
    x = np.zeros(n)
    for k in range(1, int(0.45 * sr / f0) + 1):
        f = k * f0
        if amps is not None:
            g = amps[k - 1] if k <= len(amps) else 0.0
        else:
            g = 1.0 / k
            for fc, bw in ((730.0, 90.0), (1090.0, 110.0), (2440.0, 170.0)):
                g /= abs(complex(1.0 - (f / fc) ** 2, f * bw / fc**2))  # 2nd-order resonance gain
        x += g * np.sin(2 * np.pi * f * t + 0.3 * k)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


@pytest.mark.parametrize("threshold", [0.10, 0.15])
@pytest.mark.parametrize("f0,sr", [(150.0, 8000), (133.0, 16000)])
def test_vowel_with_a_non_integer_decimated_period_gets_its_f0(f0, sr, threshold):
    """150 Hz at 8 kHz (q=2) is 26.67 decimated lags, 133 Hz at 16 kHz (q=4) 30.08: the period
    falls between lags, so only the octave checks keep the aligned multiples from winning."""
    for backend in (REF, CPU):
        f, _ = backend.pitch_yin(vowel(f0, sr, 1.0), sr, sr // 100, 50.0, 500.0, threshold=threshold)
        inner = f[5:-5]
        assert np.all(inner > 0), f"{backend.name}: every frame inside the vowel is voiced"
        assert np.abs(inner / f0 - 1).max() <= 0.01, f"{backend.name}: median {np.median(inner):.1f} Hz"


@pytest.mark.parametrize("f0,amps", [(100.0, (0.15, 1.0, 0.4, 0.3)), (160.0, (0.1, 1.0, 0.2, 0.5, 0.1))])
def test_strong_second_harmonic_is_not_an_octave_up(f0, amps):
    """A 2nd harmonic far above the fundamental dips d' below 0.15 at half the period; the
    multiple check (``_frames.YIN_MULTIPLE_RATIO``) must still find the period itself."""
    sr = 16000
    for backend in (REF, CPU):
        f, _ = backend.pitch_yin(vowel(f0, sr, 1.0, amps=amps), sr, 160, 50.0, 500.0, threshold=0.15)
        inner = f[5:-5]
        assert np.all(inner > 0) and np.abs(inner / f0 - 1).max() <= 0.01, f"{backend.name}: {np.median(inner):.1f} Hz"


def test_glide_is_tracked_at_frame_centres():
    sr, seconds = 16000, 1.5
    track = np.geomspace(90.0, 400.0, int(sr * seconds))
    f, _ = CPU.pitch_yin(harmonic(track, sr, seconds), sr, 160, 50.0, 500.0)
    k = np.arange(5, len(f) - 5)
    truth = track[np.minimum(k * 160, len(track) - 1)]
    assert np.median(np.abs(f[k] / truth - 1)) <= 0.01
    assert np.mean(np.abs(f[k] / truth - 1) <= 0.02) >= 0.95


def test_silence_and_noise_are_unvoiced():
    f_sil, p_sil = CPU.pitch_yin(np.zeros(8000, dtype=np.float32), 8000, 80, 50.0, 500.0)
    assert not f_sil.any() and len(f_sil) == 101
    f_noise, _ = CPU.pitch_yin(noise(16000, 2.0), 16000, 160, 50.0, 500.0)
    assert np.mean(f_noise > 0) <= 0.05


def test_full_scale_sine_is_minus_3_01_dbfs():
    sr = 16000
    x = np.sin(2 * np.pi * 1000.0 * np.arange(sr) / sr).astype(np.float32)
    level = CPU.energy(x, 400, 160)
    np.testing.assert_allclose(level[3:-3], 20 * np.log10(np.sqrt(0.5)), atol=0.01)
    assert CPU.energy(np.zeros(1600, dtype=np.float32), 400, 160).max() == pytest.approx(-120.0)


@pytest.mark.parametrize("sr,freq", [(8000, 1000.0), (16000, 500.0), (16000, 2000.0)])
def test_centroid_of_a_pure_tone_is_its_frequency(sr, freq):
    x = (0.5 * np.sin(2 * np.pi * freq * np.arange(sr) / sr)).astype(np.float32)
    centroid, tilt, ratios = CPU.spectral(x, sr, int(0.025 * sr), sr // 100)
    assert np.abs(centroid[3:-3] / freq - 1).max() <= 0.01
    np.testing.assert_allclose(ratios[3:-3].sum(axis=1), 1.0, atol=1e-5)


def test_tilt_of_white_noise_is_flat_and_of_a_low_tone_is_steep():
    sr = 16000
    _, tilt_noise, _ = CPU.spectral(noise(sr, 2.0), sr, 400, 160)
    assert abs(np.median(tilt_noise)) <= 1.0  # white noise: equal power density, 0 dB/octave
    _, tilt_tone, _ = CPU.spectral(harmonic(120.0, sr, 1.0), sr, 400, 160)
    assert np.median(tilt_tone) <= -5.0  # 1/k harmonics fall with frequency


def test_vad_finds_a_tone_burst_in_noise():
    sr = 8000
    x = noise(sr, 4.0, level=0.003)
    burst = slice(int(1.5 * sr), int(2.5 * sr))
    x[burst] += harmonic(200.0, sr, 1.0)
    speech = CPU.vad(x, sr, 80, 200)
    t = np.arange(len(speech)) * 80 / sr
    on = t[speech]
    assert on.min() == pytest.approx(1.5, abs=0.05) and on.max() == pytest.approx(2.5, abs=0.05)
    assert speech[(t > 1.6) & (t < 2.4)].all()


def test_formants_of_a_two_resonance_signal():
    """Noise through two sharp resonators (500 and 1500 Hz): LPC finds both, lowest first."""
    from scipy.signal import lfilter

    sr = 8000
    y = noise(sr, 1.0, level=1.0, seed=3).astype(np.float64)
    for freq in (500.0, 1500.0):
        r, th = 0.98, 2 * np.pi * freq / sr
        y = lfilter([1.0], [1.0, -2 * r * np.cos(th), r * r], y)
    f = CPU.formants_lpc((0.1 * y / np.abs(y).max()).astype(np.float32), sr, 256, 80, order=10, n_formants=2)
    mid = f[5:-5]
    assert np.median(np.abs(mid[:, 0] - 500.0)) <= 25 and np.median(np.abs(mid[:, 1] - 1500.0)) <= 50


# ----------------------------------------------------------------------------- batch == single


def test_batch_equals_single_calls():
    sr = 8000
    sigs = [harmonic(150.0, sr, 1.2), noise(sr, 0.7), harmonic(300.0, sr, 0.05), np.zeros(3, np.float32)]
    for sig, (f, p) in zip(sigs, CPU.pitch_yin_batch(sigs, sr, 80, 50.0, 500.0)):
        f1, p1 = CPU.pitch_yin(sig, sr, 80, 50.0, 500.0)
        assert np.array_equal(f, f1) and np.array_equal(p, p1)
    for sig, e in zip(sigs, CPU.energy_batch(sigs, 200, 80)):
        assert np.array_equal(e, CPU.energy(sig, 200, 80))
    for sig, got in zip(sigs, CPU.spectral_batch(sigs, sr, 200, 80)):
        for a, b in zip(got, CPU.spectral(sig, sr, 200, 80)):
            assert np.array_equal(a, b)
    for sig, got in zip(sigs, CPU.formants_lpc_batch(sigs, sr, 200, 80)):
        assert np.array_equal(got, CPU.formants_lpc(sig, sr, 200, 80))
    for sig, got in zip(sigs, CPU.vad_batch(sigs, sr, 80, 200)):
        assert np.array_equal(got, CPU.vad(sig, sr, 80, 200))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=3000),
    hop=st.integers(min_value=1, max_value=400),
    frame=st.integers(min_value=4, max_value=512),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_energy_and_spectral_match_reference_for_any_length_hop_and_frame(n, hop, frame, seed):
    x = (0.2 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)
    e_c, e_r = CPU.energy(x, frame, hop), REF.energy(x, frame, hop)
    assert len(e_c) == 1 + n // hop
    assert np.abs(e_c - e_r).max() <= 0.05
    for a, b in zip(CPU.spectral(x, 8000, frame, hop), REF.spectral(x, 8000, frame, hop)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


@settings(max_examples=20, deadline=None)
@given(f0=st.floats(min_value=70.0, max_value=450.0), sr=st.sampled_from([8000, 16000, 22050]))
def test_any_steady_tone_f0_within_one_percent(f0, sr):
    f, _ = CPU.pitch_yin(harmonic(f0, sr, 0.4), sr, sr // 100, 50.0, 500.0)
    assert np.abs(f[5:-5] / f0 - 1).max() <= 0.01


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: CPU.pitch_yin(np.zeros(0, np.float32), 8000, 80, 50, 500), "empty"),
        (lambda: CPU.pitch_yin(np.array([0.0, np.nan, 0.0], np.float32), 8000, 80, 50, 500), "NaN"),
        (lambda: CPU.energy(np.array([0.0, np.inf]), 4, 2), "NaN or infinite"),
        (lambda: CPU.spectral(np.zeros((2, 100), np.float32), 8000, 40, 10), "1-D"),
        (lambda: CPU.pitch_yin(np.zeros(800, np.float32), 8000, 80, 300, 300), "fmin must be below fmax"),
        (lambda: CPU.pitch_yin(np.zeros(800, np.float32), 8000, 80, 50, 4000), "Nyquist"),
        (lambda: CPU.pitch_yin(np.zeros(800, np.float32), 8000, 0, 50, 500), "hop must be >= 1"),
        (lambda: CPU.energy(np.zeros(800, np.float32), 200, 0), "hop must be >= 1"),
        (lambda: CPU.vad(np.zeros(800, np.float32), 8000, 0, 200), "hop must be >= 1"),
        (lambda: CPU.formants_lpc(np.zeros(800, np.float32), 8000, 10, 80, order=12), "order must be below frame"),
        (lambda: CPU.vad(np.zeros(800, np.float32), 8000, 80, 200, floor_percentile=120), "floor_percentile"),
        (lambda: CPU.pitch_yin(np.zeros(800, np.float32), 0, 80, 50, 500), "sr must be"),
        (lambda: CPU.energy_batch([], 200, 80), "no arrays"),
        (lambda: CPU.energy_batch(np.zeros(800, np.float32), 200, 80), "list of 1-D arrays"),
        (lambda: CPU.pitch_yin(["a", "b"], 8000, 80, 50, 500), "real numbers"),
    ],
)
def test_bad_input_raises_one_line_value_error(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- backend selection


def _cuda_usable() -> bool:
    try:
        from voicecx.kernels import cuda
    except Exception:
        return False
    try:
        return bool(cuda.available()[0])
    except Exception:
        return False


def test_cuda_backend_without_a_gpu_raises_backend_unavailable_with_a_reason():
    if _cuda_usable():
        pytest.skip("a CUDA device (or the CUDA simulator) is usable in this environment")
    with pytest.raises(BackendUnavailable) as info:
        get_backend("cuda")
    text = str(info.value)
    assert "\n" not in text and text.startswith("cuda backend unavailable: ") and len(text) > 30


def test_auto_falls_back_to_cpu_and_logs_why(monkeypatch, caplog):
    if _cuda_usable():
        pytest.skip("a CUDA device (or the CUDA simulator) is usable in this environment")
    monkeypatch.setattr(kernels, "_cache", {})
    with caplog.at_level(logging.INFO, logger="voicecx"):
        backend = get_backend("auto")
    assert backend.name == "cpu" and backend.pitch_yin is CPU.pitch_yin
    assert any("using cpu" in r.getMessage() and "cuda" in r.getMessage() for r in caplog.records)


def test_backends_are_cached_and_named():
    assert get_backend("cpu") is get_backend("CPU") is CPU
    assert CPU.name == "cpu" and REF.name == "reference"
    assert CPU.warmup() >= 0.0


@pytest.mark.parametrize("name", ["gpu", "", "numpy"])
def test_unknown_backend_name_is_a_value_error(name):
    with pytest.raises(ValueError, match="unknown kernel backend"):
        get_backend(name)
