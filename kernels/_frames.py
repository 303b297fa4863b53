"""Frame convention, input checks and analysis plans shared by every kernel backend.

One convention everywhere (DESIGN §4): a signal of ``n`` samples analysed with hop ``hop`` has
``1 + n // hop`` frames; frame ``k`` is centred at sample ``k * hop`` (time ``k * hop / sr``) and
samples outside the signal count as zeros (centre padding, like librosa's ``center=True`` with
zero padding).

Batches: the signals are laid end to end in one float32 buffer separated by zero gaps wider than
any frame reaches (the "offsets table"), so a batch is a single kernel launch and every signal's
frames come out exactly as in a separate call. Both backends build their work from the same
``Layout`` and the same plans (decimation filter, FFT size, band tables), so that reference.py and
cpu.py compute the same algorithm and tests compare like with like.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

# Lowest frequency of the spectral tilt and band-ratio analysis (Hz): below it a 25 ms frame
# resolves too few FFT bins, and telephone audio has nothing there anyway.
SPECTRAL_FMIN_HZ = 100.0
# Spectral tilt is fitted on half-octave band levels (equal weight per octave, see spectral_plan).
TILT_BANDS_PER_OCTAVE = 2
# A frame whose RMS is below 1e-6 (-120 dBFS, the energy floor) is silent: spectral features 0.
SILENT_RMS = 1e-6
ENERGY_FLOOR_DB = -120.0
# YIN octave guard: when no dip reaches the absolute threshold, take the first dip within this
# margin of the global minimum rather than the global minimum itself (which is often 2x the period).
YIN_OCTAVE_MARGIN = 0.1
# YIN octave checks after the threshold pick (tau), on parabolically interpolated dip values v(.) of
# the nearest local minimum of d' within +-1 decimated lag of the target. On the decimated grid a
# period that falls between two integer lags gives a shallower dip than the exactly aligned one at
# 2 or 3 periods, so the threshold test can skip the true period (octave-down error):
# - sub-multiples: the smallest of tau/3, tau/2 whose dip is within YIN_SUBMULTIPLE_MARGIN of v(tau)
#   is taken instead;
# - multiple: a strong 2nd harmonic (F1 near 2*F0) can give a dip below the threshold at half the
#   period (octave-up error); 2*tau is taken first when its dip is below YIN_MULTIPLE_RATIO * v(tau).
# Tuned on benchmarks/pitch_accuracy.py (real speech vs librosa.pyin and the synthetic set).
YIN_SUBMULTIPLE_MARGIN = 0.08
YIN_MULTIPLE_RATIO = 0.25
# Pre-emphasis coefficient for LPC formant analysis (standard first-order +6 dB/octave).
PREEMPHASIS = 0.97


# --------------------------------------------------------------------------- checks

def frame_count(n: int, hop: int) -> int:
    """Number of frames of an ``n``-sample signal: frames centred at 0, hop, 2*hop, ... <= n."""
    return 1 + n // hop


def as_signal(x: Any, name: str = "x") -> np.ndarray:
    """Any float array-like -> contiguous 1-D float32, or a one-line ValueError."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a 1-D array of samples: {exc}") from None
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one channel), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (0 samples)")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite samples")
    return arr


def as_signals(signals: Sequence[Any]) -> list[np.ndarray]:
    if isinstance(signals, np.ndarray) and signals.ndim == 1:
        raise ValueError("a *_batch function takes a list of 1-D arrays, got a single 1-D array")
    out = [as_signal(s, name=f"signals[{i}]") for i, s in enumerate(signals)]
    if not out:
        raise ValueError("signals is empty (no arrays to analyse)")
    return out


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """A positive whole number (numpy ints and integral floats accepted)."""
    try:
        as_int = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if as_int != value:
        raise ValueError(f"{name} must be a whole number of samples, got {value!r}")
    if as_int < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return as_int


def check_sr(sr: Any) -> float:
    try:
        val = float(sr)
    except (TypeError, ValueError):
        raise ValueError(f"sr must be a number (Hz), got {sr!r}") from None
    if not math.isfinite(val) or val <= 0:
        raise ValueError(f"sr must be a positive sample rate in Hz, got {sr!r}")
    return val


def check_pitch_range(sr: float, fmin: Any, fmax: Any) -> tuple[float, float]:
    fmin, fmax = float(fmin), float(fmax)
    if not (math.isfinite(fmin) and math.isfinite(fmax)) or fmin <= 0:
        raise ValueError(f"fmin must be a positive frequency, got fmin={fmin}, fmax={fmax}")
    if fmin >= fmax:
        raise ValueError(f"fmin must be below fmax, got fmin={fmin} >= fmax={fmax}")
    if fmax >= sr / 2:
        raise ValueError(f"fmax must be below the Nyquist frequency {sr / 2:g} Hz, got fmax={fmax}")
    return fmin, fmax


def check_unit(name: str, value: Any) -> float:
    val = float(value)
    if not 0.0 <= val <= 1.0:
        raise ValueError(f"{name} must be within 0..1, got {value!r}")
    return val


# --------------------------------------------------------------------------- batch layout

@dataclass(frozen=True)
class Layout:
    """Signals laid end to end in one zero-padded buffer, with the frame table."""

    buf: np.ndarray  # float32; every signal preceded and followed by >= `gap` zeros
    starts: np.ndarray  # int64 buffer index of each signal's sample 0 (a multiple of `align`)
    lengths: np.ndarray  # int64 samples per signal
    frame_offsets: np.ndarray  # int64[n_signals + 1]: frames of signal i are [off[i], off[i+1])
    centres: np.ndarray  # int64 buffer index of every frame centre, all signals in order


def make_layout(signals: Sequence[np.ndarray], hop: int, reach: int, align: int = 1) -> Layout:
    """Lay ``signals`` out for a kernel whose frames read at most ``reach`` samples either side.

    Gaps of at least ``reach`` zeros implement centre padding and keep signals from seeing each
    other; starts are multiples of ``align`` so a decimating kernel samples every signal on the same
    phase as a separate call would.
    """
    gap = int(math.ceil((reach + 1) / align) * align)
    starts, counts, pos = [], [], gap
    for s in signals:
        starts.append(pos)
        counts.append(frame_count(len(s), hop))
        pos += int(math.ceil((len(s) + gap) / align) * align)
    buf = np.zeros(pos + gap, dtype=np.float32)
    for st, s in zip(starts, signals):
        buf[st : st + len(s)] = s
    offsets = np.zeros(len(signals) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)
    centres = np.concatenate(
        [st + hop * np.arange(c, dtype=np.int64) for st, c in zip(starts, counts)]
    )
    return Layout(
        buf=buf,
        starts=np.asarray(starts, dtype=np.int64),
        lengths=np.asarray([len(s) for s in signals], dtype=np.int64),
        frame_offsets=offsets,
        centres=centres.astype(np.int64),
    )


def split(values: np.ndarray, layout: Layout) -> list[np.ndarray]:
    """Per-signal views of a frame-wise result computed over the whole layout."""
    off = layout.frame_offsets
    return [values[off[i] : off[i + 1]] for i in range(len(off) - 1)]


# --------------------------------------------------------------------------- YIN plan

@dataclass(frozen=True)
class YinPlan:
    """Everything a YIN kernel needs besides the samples (identical for every backend).

    The lag search runs on a low-passed copy decimated by ``q`` to about 8*fmax (4 kHz for the
    default 500 Hz): F0 <= fmax needs no wider band, and the O(window x lags) difference function
    shrinks by q**2. The chosen lag is then refined on the full-rate signal within +-q samples.
    """

    q: int  # decimation factor
    taps: np.ndarray  # float32 linear-phase low-pass FIR (odd length; [1.0] when q == 1)
    tau_min: int  # smallest decimated lag searched (~ sr_d / fmax)
    tau_max: int  # largest decimated lag searched (~ sr_d / fmin)
    win: int  # decimated integration window W (one longest period)
    span: int  # decimated samples a frame reads: W + tau_max + 2
    reach: int  # full-rate samples a frame may read on either side of its centre


def lowpass_taps(q: int) -> np.ndarray:
    """Hamming-windowed sinc low-pass for decimation by ``q`` (cut-off 0.4 of the new rate)."""
    if q == 1:
        return np.ones(1, dtype=np.float32)
    half = 6 * q
    n = np.arange(-half, half + 1, dtype=np.float64)
    fc = 0.4 / q  # cycles per input sample
    h = 2 * fc * np.sinc(2 * fc * n) * np.hamming(2 * half + 1)
    return (h / h.sum()).astype(np.float32)


def yin_plan(sr: float, fmin: float, fmax: float) -> YinPlan:
    q = max(1, int(sr // (8.0 * fmax)))
    sr_d = sr / q
    tau_min = max(2, int(math.floor(sr_d / fmax)))
    tau_max = max(tau_min + 1, int(math.ceil(sr_d / fmin)))
    win = tau_max
    span = win + tau_max + 2
    taps = lowpass_taps(q)
    reach = (span + 2) * q + len(taps) + 4 * q + 8
    return YinPlan(q=q, taps=taps, tau_min=tau_min, tau_max=tau_max, win=win, span=span, reach=reach)


# --------------------------------------------------------------------------- spectral plan

@dataclass(frozen=True)
class SpectralPlan:
    n_fft: int  # power of two >= frame (frames are zero-padded at the end)
    window: np.ndarray  # float64 periodic Hann of length `frame`
    freqs: np.ndarray  # float64 bin frequencies, n_fft // 2 + 1
    tilt_band: np.ndarray  # int64 per bin: half-octave band index, -1 = not used for tilt
    tilt_x: np.ndarray  # float64 per tilt band: log2 of its centre frequency
    tilt_count: np.ndarray  # int64 bins per tilt band (all >= 1)
    ratio_band: np.ndarray  # int64 per bin: band-ratio index 0..n_bands-1
    n_bands: int


def next_pow2(n: int) -> int:
    return 1 << max(1, (int(n) - 1).bit_length())


def band_edges(sr: float, n_bands: int) -> np.ndarray:
    """Band-ratio edges: log-spaced from SPECTRAL_FMIN_HZ to Nyquist (band 0 also takes 0..fmin)."""
    return np.geomspace(SPECTRAL_FMIN_HZ, sr / 2, n_bands + 1)


def spectral_plan(sr: float, frame: int, n_bands: int) -> SpectralPlan:
    n_fft = next_pow2(frame)
    freqs = np.arange(n_fft // 2 + 1, dtype=np.float64) * sr / n_fft
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)
    nyq = sr / 2
    # Half-octave bands from SPECTRAL_FMIN_HZ up to Nyquist; empty bands (coarse FFTs) are dropped.
    n_tilt = max(1, int(math.ceil(TILT_BANDS_PER_OCTAVE * math.log2(nyq / SPECTRAL_FMIN_HZ))))
    lo = SPECTRAL_FMIN_HZ * 2.0 ** (np.arange(n_tilt) / TILT_BANDS_PER_OCTAVE)
    hi = np.minimum(lo * 2.0 ** (1 / TILT_BANDS_PER_OCTAVE), nyq)
    raw = np.full(len(freqs), -1, dtype=np.int64)
    for b in range(n_tilt):
        upper = (freqs <= hi[b]) if b == n_tilt - 1 else (freqs < hi[b])
        raw[(freqs >= lo[b]) & upper] = b
    used = [b for b in range(n_tilt) if (raw == b).any()]
    remap = {b: i for i, b in enumerate(used)}
    tilt_band = np.array([remap.get(int(b), -1) for b in raw], dtype=np.int64)
    tilt_x = np.array([0.5 * (math.log2(lo[b]) + math.log2(hi[b])) for b in used], dtype=np.float64)
    tilt_count = np.array([(raw == b).sum() for b in used], dtype=np.int64)
    edges = band_edges(sr, n_bands)
    ratio_band = np.clip(np.searchsorted(edges[1:-1], freqs, side="right"), 0, n_bands - 1)
    return SpectralPlan(
        n_fft=n_fft,
        window=window,
        freqs=freqs,
        tilt_band=tilt_band,
        tilt_x=tilt_x if len(used) else np.zeros(0),
        tilt_count=tilt_count,
        ratio_band=ratio_band.astype(np.int64),
        n_bands=n_bands,
    )


def frames_reach(frame: int) -> int:
    """Samples a centred frame of length ``frame`` reads either side of its centre (+1 for pre-emphasis)."""
    return frame + 2


def ms_to_frames(ms: float, sr: float, hop: int) -> int:
    return int(round(ms / 1000.0 * sr / hop))
