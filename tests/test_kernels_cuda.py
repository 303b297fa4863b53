"""CUDA kernels (kernels/cuda.py) against the numpy reference, on any machine.

The kernels run under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), which must be set before
numba is imported, so one subprocess computes every CUDA result once (module fixture) and the
tests compare them here with ``kernels/reference.py``. The simulator runs one Python thread per
CUDA thread, so the signals are short (0.2-0.3 s at 8 kHz). Host-only parts (layout arithmetic,
vectorised VAD smoothing, the CPU fallbacks, the availability probe) are tested directly.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voicecx.audio import load
from voicecx.kernels import BackendUnavailable, get_backend
from voicecx.kernels import _frames as fr
from voicecx.kernels import cuda as kc
from voicecx.kernels import reference as ref

ROOT = Path(__file__).resolve().parent.parent
SR = 8000
HOP = 160  # 20 ms frames keep the simulator runs short; the frame convention is the same for any hop

# Bad inputs: each expression is evaluated with ``m`` = the cuda module (in the simulator) and
# ``m`` = reference; both must raise ValueError with the same message.
ERROR_CASES = [
    "m.pitch_yin(np.zeros(0, np.float32), 8000, 80, 50.0, 500.0)",
    "m.pitch_yin(np.array([0.0, np.nan, 0.0]), 8000, 80, 50.0, 500.0)",
    "m.pitch_yin(np.zeros(800), 8000, 80, 50.0, 4000.0)",
    "m.pitch_yin(np.zeros(800), 8000, 80, 300.0, 200.0)",
    "m.pitch_yin(np.zeros(800), 8000, 0, 50.0, 500.0)",
    "m.pitch_yin(np.zeros(800), 8000, 80, 50.0, 500.0, threshold=1.5)",
    "m.pitch_yin(np.zeros(800), -8000, 80, 50.0, 500.0)",
    "m.pitch_yin_batch(np.zeros(800), 8000, 80, 50.0, 500.0)",
    "m.pitch_yin_batch([], 8000, 80, 50.0, 500.0)",
    "m.energy(np.zeros((2, 400)), 200, 80)",
    "m.energy(np.zeros(400), 0, 80)",
    "m.energy(np.zeros(400), 200, 2.5)",
    "m.energy(np.array(['a', 'b']), 200, 80)",
    "m.spectral(np.zeros(400), 8000, 3, 80)",
    "m.spectral(np.zeros(400), 8000, 200, 80, n_bands=0)",
    "m.vad(np.zeros(400), 8000, 80, 200, floor_percentile=150.0)",
    "m.vad(np.zeros(400), float('inf'), 80, 200)",
    "m.vad_batch([np.zeros(400), np.zeros(0)], 8000, 80, 200)",
]

# Runs in the subprocess, under the simulator: every CUDA result the tests need, saved to npz.
SIM_SCRIPT = r"""
import json, sys
import numpy as np
from voicecx.kernels import cuda as m

HOP = int(sys.argv[3])

inp = np.load(sys.argv[1])
out = {}
synth, real, tiny = inp["synth"], inp["real"], inp["tiny"]
assert m.available()[0], m.available()
for name, x in (("synth", synth), ("real", real)):
    out[f"{name}_f0"], out[f"{name}_per"] = m.pitch_yin(x, 8000, HOP, 50.0, 500.0)
    out[f"{name}_energy"] = m.energy(x, 200, HOP)
# Batches: each result must equal the single call above.
for i, (f0, per) in enumerate(m.pitch_yin_batch([real, synth], 8000, HOP, 50.0, 500.0)):
    out[f"pb{i}_f0"], out[f"pb{i}_per"] = f0, per
sigs = [real, tiny, synth]
for i, e in enumerate(m.energy_batch(sigs, 200, HOP)):
    out[f"eb{i}"] = e
out["eb_timings"] = np.array([m.last_timings().n_signals, m.last_timings().n_frames])
for i, (c, t, r) in enumerate(m.spectral_batch(sigs, 8000, 200, HOP)):
    out[f"sb{i}_centroid"], out[f"sb{i}_tilt"], out[f"sb{i}_ratios"] = c, t, r
for i, v in enumerate(m.vad_batch(sigs, 8000, HOP, 200)):
    out[f"vb{i}"] = v
out["synth_vad"] = m.vad(synth, 8000, HOP, 200)
for k, v in m.prosody_batch([synth], 8000, HOP, 200)[0].items():
    out[f"fused_{k}"] = v
errors = {}
for expr in json.loads(inp["errors"].item()):
    try:
        eval(expr, {"m": m, "np": np})
        errors[expr] = "no error"
    except ValueError as exc:
        errors[expr] = f"ValueError: {exc}"
    except Exception as exc:
        errors[expr] = f"{type(exc).__name__}: {exc}"
out["errors"] = np.array(json.dumps(errors))
np.savez(sys.argv[2], **out)
"""


def _synthetic() -> np.ndarray:
    """0.25 s: 60 ms of faint noise, then a voiced glide 140 -> 150 Hz with two harmonics."""
    rng = np.random.default_rng(7)
    t = np.arange(int(0.25 * SR)) / SR
    phase = 2 * np.pi * np.cumsum(140.0 + 40.0 * t) / SR
    x = 0.3 * np.sin(phase) + 0.1 * np.sin(2 * phase) + 0.05 * np.sin(3 * phase)
    x += 0.005 * rng.standard_normal(len(t))
    x[: int(0.06 * SR)] = 0.003 * rng.standard_normal(int(0.06 * SR))
    return x.astype(np.float32)


def _real() -> np.ndarray:
    """0.3 s of the agent's leg of the en_empathic demo call (speech from 0.5 s on)."""
    call = load(ROOT / "samples" / "calls" / "en_empathic.wav")
    assert call.sample_rate == SR
    return np.ascontiguousarray(call.leg(0)[int(0.55 * SR) : int(0.85 * SR)], dtype=np.float32)


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> dict[str, np.ndarray]:
    """Run every CUDA case once under the simulator; returns inputs and outputs."""
    d = tmp_path_factory.mktemp("cudasim")
    inputs = {"synth": _synthetic(), "real": _real(), "tiny": np.full(10, 0.1, np.float32)}
    np.savez(d / "in.npz", errors=np.array(json.dumps(ERROR_CASES)), **inputs)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", SIM_SCRIPT, str(d / "in.npz"), str(d / "out.npz"), str(HOP)],
                          env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(d / "out.npz") as res:
        out = {k: res[k] for k in res.files}
    out.update(inputs)
    return out


def _assert_pitch_agrees(f0_c, per_c, f0_r, per_r) -> None:
    assert f0_c.shape == f0_r.shape
    both = (f0_c > 0) & (f0_r > 0)
    assert np.mean((f0_c > 0) == (f0_r > 0)) >= 0.98
    np.testing.assert_allclose(f0_c[both], f0_r[both], rtol=0.01)
    np.testing.assert_allclose(per_c, per_r, atol=1e-3)


@pytest.mark.parametrize("name", ["synth", "real"])
def test_pitch_agrees_with_reference_on_synthetic_and_real_speech(sim, name):
    f0_r, per_r = ref.pitch_yin(sim[name], SR, HOP, 50.0, 500.0)
    _assert_pitch_agrees(sim[f"{name}_f0"], sim[f"{name}_per"], f0_r, per_r)
    assert (f0_r > 0).sum() >= 8  # the excerpts really are voiced: the comparison has substance


def test_pitch_follows_the_known_glide(sim):
    """Ground truth, not only the reference: F0 = 140 + 40 t on the voiced part."""
    f0 = sim["synth_f0"]
    t = np.arange(len(f0)) * HOP / SR
    inside = (t > 0.09) & (t < 0.22)
    assert inside.sum() >= 5
    np.testing.assert_allclose(f0[inside], 140.0 + 40.0 * t[inside], rtol=0.01)
    assert f0[0] == 0  # faint noise lead-in is unvoiced


@pytest.mark.parametrize("name", ["synth", "real"])
def test_energy_within_005_db_of_reference(sim, name):
    np.testing.assert_allclose(sim[f"{name}_energy"], ref.energy(sim[name], 200, HOP), atol=0.05)


def test_pitch_batch_equals_single_calls(sim):
    for i, name in enumerate(("real", "synth")):
        np.testing.assert_array_equal(sim[f"pb{i}_f0"], sim[f"{name}_f0"])
        np.testing.assert_array_equal(sim[f"pb{i}_per"], sim[f"{name}_per"])


def test_energy_batch_equals_single_calls_and_reference(sim):
    sigs = [sim["real"], sim["tiny"], sim["synth"]]
    for i, e in enumerate(ref.energy_batch(sigs, 200, HOP)):
        assert sim[f"eb{i}"].shape == e.shape == (1 + len(sigs[i]) // HOP,)
        np.testing.assert_allclose(sim[f"eb{i}"], e, atol=0.05)
    np.testing.assert_array_equal(sim["eb0"], sim["real_energy"])
    np.testing.assert_array_equal(sim["eb2"], sim["synth_energy"])


def test_spectral_shape_matches_reference_on_a_batch(sim):
    sigs = [sim["real"], sim["tiny"], sim["synth"]]
    for i, (c, t, r) in enumerate(ref.spectral_batch(sigs, SR, 200, HOP)):
        assert (c > 0).any() and r.shape == (len(c), 4)
        np.testing.assert_allclose(sim[f"sb{i}_centroid"], c, rtol=1e-4, atol=1e-2)
        np.testing.assert_allclose(sim[f"sb{i}_tilt"], t, atol=1e-3)
        np.testing.assert_allclose(sim[f"sb{i}_ratios"], r, atol=1e-5)


def test_vad_matches_reference_singly_and_in_a_batch(sim):
    sigs = [sim["real"], sim["tiny"], sim["synth"]]
    for i, v in enumerate(ref.vad_batch(sigs, SR, HOP, 200)):
        np.testing.assert_array_equal(sim[f"vb{i}"], v)
    np.testing.assert_array_equal(sim["synth_vad"], ref.vad(sim["synth"], SR, HOP, 200))
    np.testing.assert_array_equal(sim["vb2"], sim["synth_vad"])


def test_batch_timings_describe_the_whole_batch(sim):
    n_signals, n_frames = sim["eb_timings"]
    assert n_signals == 3
    assert n_frames == sum(1 + len(sim[k]) // HOP for k in ("real", "tiny", "synth"))


def test_fused_prosody_set_equals_the_single_kernels(sim):
    np.testing.assert_array_equal(sim["fused_f0"], sim["synth_f0"])
    np.testing.assert_array_equal(sim["fused_periodicity"], sim["synth_per"])
    np.testing.assert_array_equal(sim["fused_energy_db"], sim["synth_energy"])
    np.testing.assert_array_equal(sim["fused_centroid"], sim["sb2_centroid"])
    np.testing.assert_array_equal(sim["fused_ratios"], sim["sb2_ratios"])
    np.testing.assert_array_equal(sim["fused_speech"], sim["synth_vad"])


@pytest.mark.parametrize("expr", ERROR_CASES)
def test_bad_input_raises_the_reference_valueerror(sim, expr):
    got = json.loads(sim["errors"].item())[expr]
    with pytest.raises(ValueError) as info:
        eval(expr, {"m": ref, "np": np})
    assert got == f"ValueError: {info.value}"


# ----------------------------------------------------------------------------- host-only parts


@pytest.mark.parametrize("hop,reach,align", [(80, 202, 1), (160, 729, 4), (1, 5, 3)])
def test_layout_meta_is_make_layout(hop, reach, align):
    sigs = [np.ones(n, np.float32) for n in (1, 799, 1600, 33)]
    lay = fr.make_layout(sigs, hop, reach=reach, align=align)
    meta = kc._layout_meta([len(s) for s in sigs], hop, reach=reach, align=align)
    np.testing.assert_array_equal(meta.starts, lay.starts)
    np.testing.assert_array_equal(meta.frame_offsets, lay.frame_offsets)
    assert meta.size == len(lay.buf)


def test_vectorised_vad_smoothing_equals_reference_loops():
    rng = np.random.default_rng(3)
    for _ in range(50):
        mask = rng.random(int(rng.integers(1, 80))) < rng.random()
        gap, short = int(rng.integers(0, 6)), int(rng.integers(0, 6))
        np.testing.assert_array_equal(kc._bridge_gaps(mask, gap), ref._bridge_gaps(mask, gap))
        np.testing.assert_array_equal(kc._drop_short(mask, short), ref._drop_short(mask, short))


def test_formants_fall_back_to_the_cpu_and_match_the_reference():
    x = _synthetic()
    np.testing.assert_allclose(kc.formants_lpc(x, SR, 200, 80), ref.formants_lpc(x, SR, 200, 80), atol=1.0)


def test_unavailable_cuda_names_its_reason():
    ok, why = kc.available()
    assert isinstance(why, str) and why and "\n" not in why
    if not ok:
        with pytest.raises(BackendUnavailable, match="cuda backend unavailable"):
            get_backend("cuda")
        with pytest.raises(RuntimeError, match="CUDA backend unavailable"):
            kc.energy(np.zeros(400, np.float32), 200, 80)


def test_bench_cli_runs_without_a_gpu_and_writes_json(tmp_path, capsys):
    """`voicecx bench --device all --json FILE` on any machine: CPU rows, CUDA row says why it is absent."""
    from voicecx.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench", "--device", "all", "--seconds", "2", "--calls", "2", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    rows = [r for r in doc["results"] if r["backend"] == "cpu"]
    assert {(r["workload"], r["kernel"]) for r in rows} == {
        (w, k) for w in ("1 call", "batch") for k in ("pitch", "energy", "spectral", "vad", "pitch+energy", "prosody")
    }
    batch_pitch = next(r for r in rows if r["workload"] == "batch" and r["kernel"] == "pitch")
    assert batch_pitch["audio_s"] == pytest.approx(4.0)
    assert batch_pitch["xrt"] == pytest.approx(batch_pitch["audio_s"] / batch_pitch["wall_s"])
    cuda_info = next(b for b in doc["backends"] if b["name"] == "cuda")
    if not kc.available()[0]:
        assert not cuda_info["available"] and "unavailable" in cuda_info["reason"]
        assert "cuda: unavailable" in capsys.readouterr().out
    assert main(["bench", "--seconds", "-1"]) == 2
