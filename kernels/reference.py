"""Plain-numpy reference kernels: the obvious version of each algorithm, one frame at a time.

These are the truth for tests: cpu.py (numba) and cuda.py must return the same numbers on the
same input. They are written for reading, not speed (a Python loop over frames).

Frame convention (see ``_frames``): ``1 + n // hop`` frames, frame ``k`` centred at sample
``k * hop``, zeros outside the signal. Every ``*_batch`` function lays its signals out in one
zero-padded buffer with an offsets table (``_frames.make_layout``) and returns one result per
input, equal to the single-signal call; the single-signal functions are batches of one.

>>> f0, periodicity = pitch_yin(x, sr=16000, hop=160, fmin=50.0, fmax=500.0)
>>> rms_db = energy(x, frame=400, hop=160)
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from . import _frames as fr

# ----------------------------------------------------------------------------- pitch (YIN)


def pitch_yin(
    x: Any,
    sr: float,
    hop: int,
    fmin: float,
    fmax: float,
    threshold: float = 0.15,
    voicing: float = 0.5,
    silence_db: float = -70.0,
) -> tuple[np.ndarray, np.ndarray]:
    """F0 (Hz, 0 where unvoiced) and periodicity (0..1) per frame, by YIN.

    YIN: de Cheveigné & Kawahara (2002), "YIN, a fundamental frequency estimator for speech and
    music", JASA 111(4): difference function, cumulative-mean-normalised difference d',
    absolute threshold (first dip below ``threshold``, walked down to its local minimum),
    parabolic interpolation, and the "best local estimate" refinement. Three additions:

    - the lag search runs on a low-passed copy decimated to ~8*fmax (``_frames.yin_plan``), and the
      lag is then refined on the full-rate difference function within +-1 decimated lag, so the
      cost drops by the decimation factor squared without losing resolution;
    - octave guard: when no dip reaches ``threshold``, the first dip within
      ``_frames.YIN_OCTAVE_MARGIN`` of the global minimum is taken (the global minimum alone is
      often a multiple of the period);
    - octave checks: the chosen lag gives way to twice the lag when that dip is far deeper (a
      strong 2nd harmonic dips at half the period), then to the smallest of lag/3, lag/2 whose dip
      is nearly as deep (a period between two decimated lags dips less than its aligned multiples);
      dips are compared by their parabolically interpolated minima (``_frames.YIN_MULTIPLE_RATIO``,
      ``_frames.YIN_SUBMULTIPLE_MARGIN``).

    ``periodicity`` = 1 - d'(tau*) clipped to 0..1 (of the low band); a frame is voiced when
    periodicity >= ``voicing`` and its low-band power is above ``silence_db`` dBFS.
    """
    return pitch_yin_batch([x], sr, hop, fmin, fmax, threshold=threshold, voicing=voicing, silence_db=silence_db)[0]


def pitch_yin_batch(
    signals: Sequence[Any],
    sr: float,
    hop: int,
    fmin: float,
    fmax: float,
    threshold: float = 0.15,
    voicing: float = 0.5,
    silence_db: float = -70.0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``pitch_yin`` of every signal in one pass; returns one ``(f0, periodicity)`` per input."""
    sigs = fr.as_signals(signals)
    sr = fr.check_sr(sr)
    hop = fr.check_int("hop", hop)
    fmin, fmax = fr.check_pitch_range(sr, fmin, fmax)
    threshold, voicing = fr.check_unit("threshold", threshold), fr.check_unit("voicing", voicing)
    plan = fr.yin_plan(sr, fmin, fmax)
    lay = fr.make_layout(sigs, hop, reach=plan.reach, align=plan.q)
    x = lay.buf.astype(np.float64)
    y = _lowpass_decimate(x, plan.taps.astype(np.float64), plan.q)
    silence_power = 10.0 ** (float(silence_db) / 10.0)
    f0 = np.zeros(len(lay.centres), dtype=np.float32)
    per = np.zeros(len(lay.centres), dtype=np.float32)
    for i, p in enumerate(lay.centres):
        f0[i], per[i] = _yin_frame(x, y, int(p), plan, sr, threshold, voicing, silence_power)
    return list(zip(fr.split(f0, lay), fr.split(per, lay)))


def _lowpass_decimate(x: np.ndarray, taps: np.ndarray, q: int) -> np.ndarray:
    """y[m] = sum_i taps[i] * x[m*q + i - L]: zero-phase FIR low-pass, keep every q-th sample."""
    if q == 1:
        return x.copy()
    half = (len(taps) - 1) // 2
    return np.convolve(x, taps)[half : half + len(x)][::q]


def _cmnd(d: np.ndarray) -> np.ndarray:
    """Cumulative-mean-normalised difference d'(tau) = d(tau) / mean(d(1..tau)), d'(0) = 1 (YIN eq. 8)."""
    out = np.ones_like(d)
    cum = np.cumsum(d[1:])
    lags = np.arange(1, len(d))
    ok = cum > 0
    out[1:][ok] = d[1:][ok] * lags[ok] / cum[ok]
    return out


def _pick_lag(dn: np.ndarray, tau_min: int, tau_max: int, threshold: float) -> int:
    """First dip below the threshold (or within a margin of the global minimum), walked to its
    minimum, then the octave checks on the interpolated dip values (``_frames.YIN_MULTIPLE_RATIO``,
    ``_frames.YIN_SUBMULTIPLE_MARGIN``)."""
    best = dn[tau_min : tau_max + 1].min()
    limit = threshold if best < threshold else best + fr.YIN_OCTAVE_MARGIN
    tau = tau_min
    while dn[tau] >= limit:
        tau += 1
    while tau < tau_max and dn[tau + 1] < dn[tau]:
        tau += 1
    v0 = _dip_value(dn, tau)
    # Octave-up check: a much deeper dip at twice the lag (half-period dip of a strong 2nd harmonic).
    if 2 * tau < tau_max:
        u = _local_min_near(dn, 2 * tau, tau_min, tau_max)
        if u > 0 and _dip_value(dn, u) < fr.YIN_MULTIPLE_RATIO * v0:
            tau, v0 = u, _dip_value(dn, u)
    # Octave-down check: the smallest sub-multiple whose dip is nearly as deep.
    for m in (3, 2):
        t = (2 * tau + m) // (2 * m)  # round(tau / m)
        if t < tau_min:
            continue
        u = _local_min_near(dn, t, tau_min, tau_max)
        if u > 0 and _dip_value(dn, u) <= v0 + fr.YIN_SUBMULTIPLE_MARGIN:
            return u
    return tau


def _local_min_near(dn: np.ndarray, t: int, tau_min: int, tau_max: int) -> int:
    """The deepest local minimum of d' among lags t, t-1, t+1 within tau_min..tau_max, or -1."""
    found = -1
    for u in (t, t - 1, t + 1):
        if tau_min <= u <= tau_max and dn[u] <= dn[u - 1] and dn[u] <= dn[u + 1]:
            if found < 0 or dn[u] < dn[found]:
                found = u
    return found


def _dip_value(dn: np.ndarray, t: int) -> float:
    """Minimum value of the parabola through d'(t-1), d'(t), d'(t+1) (d'(t) when it has no minimum)."""
    a, b, c = dn[t - 1], dn[t], dn[t + 1]
    return b - 0.25 * (a - c) * _parabola(a, b, c)


def _parabola(a: float, b: float, c: float) -> float:
    """Offset (-0.5..0.5) of the vertex of the parabola through (-1, a), (0, b), (1, c)."""
    den = a - 2.0 * b + c
    if den <= 0.0:
        return 0.0
    return min(0.5, max(-0.5, 0.5 * (a - c) / den))


def _yin_frame(
    x: np.ndarray,
    y: np.ndarray,
    p: int,
    plan: fr.YinPlan,
    sr: float,
    threshold: float,
    voicing: float,
    silence_power: float,
) -> tuple[float, float]:
    q, win = plan.q, plan.win
    # Frame centre on the decimated grid. For every lag t the two compared stretches
    # y[a : a+win] and y[a+t : a+t+win] straddle the centre symmetrically (a = c - (win+t)//2),
    # so the estimate belongs to time p whatever the lag (a fixed window start would date
    # high-F0 estimates up to tau_max/2 early and bias every glide).
    c = (p + q // 2) // q
    d = np.zeros(plan.tau_max + 2)
    for t in range(1, plan.tau_max + 2):
        a = c - (win + t) // 2
        d[t] = np.sum((y[a : a + win] - y[a + t : a + t + win]) ** 2)
    dn = _cmnd(d)
    tau = _pick_lag(dn, plan.tau_min, plan.tau_max, threshold)
    periodicity = 1.0 - min(1.0, max(0.0, dn[tau]))
    span = y[c - plan.span // 2 : c - plan.span // 2 + plan.span]
    if periodicity < voicing or np.mean(span**2) < silence_power:
        return 0.0, periodicity
    # Refine on the full-rate difference function around the coarse lag ("best local estimate").
    coarse = (tau + _parabola(dn[tau - 1], dn[tau], dn[tau + 1])) * q
    centre = int(math.floor(coarse + 0.5))
    lo, hi = max(2, centre - q), centre + q
    win_f = win * q
    lags = np.arange(lo - 1, hi + 2)
    df = np.zeros(len(lags))
    for j, t in enumerate(lags):
        a = p - (win_f + t) // 2
        df[j] = np.sum((x[a : a + win_f] - x[a + t : a + t + win_f]) ** 2)
    i = 1 + int(np.argmin(df[1:-1]))
    lag = lags[i] + _parabola(df[i - 1], df[i], df[i + 1])
    return sr / lag, periodicity


# ----------------------------------------------------------------------------- energy


def energy(x: Any, frame: int, hop: int) -> np.ndarray:
    """Frame RMS level in dBFS: 20*log10(rms), floored at -120 dB (rectangular, centred frames)."""
    return energy_batch([x], frame, hop)[0]


def energy_batch(signals: Sequence[Any], frame: int, hop: int) -> list[np.ndarray]:
    sigs = fr.as_signals(signals)
    frame, hop = fr.check_int("frame", frame), fr.check_int("hop", hop)
    lay = fr.make_layout(sigs, hop, reach=fr.frames_reach(frame))
    x = lay.buf.astype(np.float64)
    out = np.empty(len(lay.centres), dtype=np.float32)
    for i, p in enumerate(lay.centres):
        seg = x[p - frame // 2 : p - frame // 2 + frame]
        rms = math.sqrt(np.mean(seg**2))
        out[i] = 20.0 * math.log10(max(rms, fr.SILENT_RMS))
    return fr.split(out, lay)


# ----------------------------------------------------------------------------- spectral shape


def spectral(
    x: Any, sr: float, frame: int, hop: int, n_bands: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectral centroid (Hz), tilt (dB/octave) and band energy ratios per frame.

    Hann-windowed frames, zero-padded to a power of two. Centroid: magnitude-weighted mean
    frequency (as librosa.feature.spectral_centroid). Tilt: least-squares slope of the level (dB)
    of half-octave bands from 100 Hz to Nyquist against log2 of the band centre, i.e. dB per
    octave with every octave weighted equally (a per-bin fit would be dominated by the top
    octave, which holds half the bins). Band ratios: power share of ``n_bands`` bands with
    log-spaced edges from 100 Hz to Nyquist (the first band also takes 0-100 Hz); rows sum to 1,
    or are all 0 for silent frames (RMS < -120 dBFS), whose centroid and tilt are 0 too.
    """
    return spectral_batch([x], sr, frame, hop, n_bands=n_bands)[0]


def spectral_batch(
    signals: Sequence[Any], sr: float, frame: int, hop: int, n_bands: int = 4
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    sigs = fr.as_signals(signals)
    sr = fr.check_sr(sr)
    frame, hop = fr.check_int("frame", frame, minimum=4), fr.check_int("hop", hop)
    n_bands = fr.check_int("n_bands", n_bands)
    plan = fr.spectral_plan(sr, frame, n_bands)
    lay = fr.make_layout(sigs, hop, reach=fr.frames_reach(frame))
    x = lay.buf.astype(np.float64)
    n = len(lay.centres)
    centroid = np.zeros(n, dtype=np.float32)
    tilt = np.zeros(n, dtype=np.float32)
    ratios = np.zeros((n, n_bands), dtype=np.float32)
    used = plan.tilt_band >= 0
    for i, p in enumerate(lay.centres):
        seg = x[p - frame // 2 : p - frame // 2 + frame]
        if np.mean(seg**2) < fr.SILENT_RMS**2:
            continue
        power = np.abs(np.fft.rfft(seg * plan.window, n=plan.n_fft)) ** 2
        mag = np.sqrt(power)
        centroid[i] = np.sum(plan.freqs * mag) / np.sum(mag)
        if len(plan.tilt_x) >= 2:
            band_power = np.bincount(plan.tilt_band[used], power[used], len(plan.tilt_x)) / plan.tilt_count
            level = 10.0 * np.log10(band_power + 1e-12 * power.mean())
            dx = plan.tilt_x - plan.tilt_x.mean()
            tilt[i] = np.sum(dx * (level - level.mean())) / np.sum(dx * dx)
        ratios[i] = np.bincount(plan.ratio_band, power, n_bands) / power.sum()
    return [
        (c, t, r)
        for c, t, r in zip(fr.split(centroid, lay), fr.split(tilt, lay), fr.split(ratios, lay))
    ]


# ----------------------------------------------------------------------------- formants (LPC)


def formants_lpc(x: Any, sr: float, frame: int, hop: int, order: int = 10, n_formants: int = 3) -> np.ndarray:
    """Formant frequencies (Hz) per frame from LPC roots; 0 where fewer than ``n_formants`` are found.

    Classic autocorrelation LPC (Makhoul 1975, "Linear prediction: a tutorial review", Proc. IEEE
    63(4)): pre-emphasis 0.97, Hamming window, autocorrelation, Levinson-Durbin; the angles of the
    complex roots of A(z) are resonance frequencies, and only sharp ones count as formants
    (frequency > 90 Hz, bandwidth -sr/pi*ln|z| < 400 Hz). ``order`` ~ 2 + sr/1000 is the usual rule.
    """
    return formants_lpc_batch([x], sr, frame, hop, order=order, n_formants=n_formants)[0]


def formants_lpc_batch(
    signals: Sequence[Any], sr: float, frame: int, hop: int, order: int = 10, n_formants: int = 3
) -> list[np.ndarray]:
    sigs = fr.as_signals(signals)
    sr = fr.check_sr(sr)
    frame, hop = fr.check_int("frame", frame, minimum=4), fr.check_int("hop", hop)
    order, n_formants = fr.check_int("order", order, minimum=2), fr.check_int("n_formants", n_formants)
    if order >= frame:
        raise ValueError(f"order must be below frame, got order={order}, frame={frame}")
    lay = fr.make_layout(sigs, hop, reach=fr.frames_reach(frame))
    x = lay.buf.astype(np.float64)
    pre = x.copy()
    pre[1:] -= fr.PREEMPHASIS * x[:-1]
    window = np.hamming(frame)
    out = np.zeros((len(lay.centres), n_formants), dtype=np.float32)
    for i, p in enumerate(lay.centres):
        seg = pre[p - frame // 2 : p - frame // 2 + frame] * window
        r = np.array([np.dot(seg[: frame - k], seg[k:]) for k in range(order + 1)])
        if r[0] < frame * fr.SILENT_RMS**2:
            continue
        a = _levinson(r, order)
        roots = np.roots(a)
        roots = roots[roots.imag > 0]
        freqs = np.arctan2(roots.imag, roots.real) * sr / (2 * np.pi)
        bws = -sr / np.pi * np.log(np.abs(roots))
        found = np.sort(freqs[(freqs > 90.0) & (bws < 400.0)])[:n_formants]
        out[i, : len(found)] = found
    return fr.split(out, lay)


def _levinson(r: np.ndarray, order: int) -> np.ndarray:
    """Levinson-Durbin recursion: predictor A(z) = 1 + a1 z^-1 + ... from autocorrelation r[0..order]."""
    a = np.zeros(order + 1)
    a[0] = 1.0
    err = r[0] * (1.0 + 1e-9)  # white-noise correction keeps the recursion stable on pure tones
    for i in range(1, order + 1):
        k = -(r[i] + np.dot(a[1:i], r[i - 1 : 0 : -1])) / err
        a[1:i] = a[1:i] + k * a[i - 1 : 0 : -1]
        a[i] = k
        err *= 1.0 - k * k
        if err <= 0.0:
            break
    return a


# ----------------------------------------------------------------------------- voice activity


def vad(
    x: Any,
    sr: float,
    hop: int,
    frame: int,
    threshold_db: float = 12.0,
    floor_percentile: float = 10.0,
    min_speech_ms: float = 120.0,
    min_silence_ms: float = 250.0,
) -> np.ndarray:
    """Speech activity per frame: level above an adaptive noise floor, then hangover smoothing.

    The floor is the ``floor_percentile`` percentile of the signal's own frame levels, so
    stationary line noise or a constant hum (whose level hardly varies) never clears
    ``threshold_db`` above it, while speech in the same noise does. Gaps shorter than
    ``min_silence_ms`` inside speech are bridged, then bursts shorter than ``min_speech_ms`` are
    dropped (clicks). Same idea as the energy VADs of classic telephony (e.g. ITU-T G.729 Annex B
    tracks a noise floor), without the codec specifics.
    """
    return vad_batch(
        [x], sr, hop, frame, threshold_db=threshold_db, floor_percentile=floor_percentile,
        min_speech_ms=min_speech_ms, min_silence_ms=min_silence_ms,
    )[0]


def vad_batch(
    signals: Sequence[Any],
    sr: float,
    hop: int,
    frame: int,
    threshold_db: float = 12.0,
    floor_percentile: float = 10.0,
    min_speech_ms: float = 120.0,
    min_silence_ms: float = 250.0,
) -> list[np.ndarray]:
    sr = fr.check_sr(sr)
    hop = fr.check_int("hop", hop)
    pct = _check_percentile(floor_percentile)
    min_speech, min_gap = fr.ms_to_frames(min_speech_ms, sr, hop), fr.ms_to_frames(min_silence_ms, sr, hop)
    out = []
    for level in energy_batch(signals, frame, hop):
        floor = np.percentile(level.astype(np.float64), pct)
        speech = level > floor + float(threshold_db)
        out.append(_drop_short(_bridge_gaps(speech, min_gap), min_speech))
    return out


def _check_percentile(value: Any) -> float:
    val = float(value)
    if not 0.0 <= val <= 100.0:
        raise ValueError(f"floor_percentile must be within 0..100, got {value!r}")
    return val


def _runs(mask: np.ndarray, value: bool) -> list[tuple[int, int]]:
    """[start, end) of every run of ``value`` in ``mask``."""
    runs, start = [], None
    for i, m in enumerate(mask):
        if m == value and start is None:
            start = i
        elif m != value and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(mask)))
    return runs


def _bridge_gaps(speech: np.ndarray, min_gap: int) -> np.ndarray:
    out = speech.copy()
    for a, b in _runs(speech, False):
        if a > 0 and b < len(speech) and b - a < min_gap:
            out[a:b] = True
    return out


def _drop_short(speech: np.ndarray, min_len: int) -> np.ndarray:
    out = speech.copy()
    for a, b in _runs(speech, True):
        if b - a < min_len:
            out[a:b] = False
    return out
