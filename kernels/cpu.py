"""CPU kernels: numba ``@njit(parallel=True, cache=True)`` versions of ``reference.py``.

Same signatures, defaults, input checks, frame convention and algorithms as the reference (which
stays the truth for tests); only the loops move into compiled code. Every ``*_batch`` function lays
its signals out in one zero-padded buffer (``_frames.make_layout``) and runs one parallel loop over
all frames of all signals, so a batch costs one launch whatever the number of calls.

Compilation: every plan-dependent number (decimation taps, lags, FFT tables, band tables) is passed
as an argument, never closed over, and scalar arguments are cast to fixed types (int64, float64),
so each kernel compiles once per process (and is cached on disk by ``cache=True``). Call
``warmup()`` to pay that cost up front; it returns the seconds spent.

>>> f0, periodicity = pitch_yin(x, sr=16000, hop=160, fmin=50.0, fmax=500.0)
>>> rms_db = energy(x, frame=400, hop=160)
"""
from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
from numba import njit, prange

from . import _frames as fr
from .reference import _check_percentile

# Frames per parallel work item: big enough that per-item scratch allocation is negligible,
# small enough that 2..64 threads stay balanced on a short signal.
_BLOCK = 64

# ----------------------------------------------------------------------------- shared helpers


@njit(cache=True, inline="always")
def _parabola(a: float, b: float, c: float) -> float:
    """Offset (-0.5..0.5) of the vertex of the parabola through (-1, a), (0, b), (1, c)."""
    den = a - 2.0 * b + c
    if den <= 0.0:
        return 0.0
    return min(0.5, max(-0.5, 0.5 * (a - c) / den))


@njit(cache=True, inline="always")
def _local_min_near(dn: np.ndarray, t: int, tau_min: int, tau_max: int) -> int:
    """The deepest local minimum of d' among lags t, t-1, t+1 within tau_min..tau_max, or -1."""
    found = -1
    for k in range(3):
        u = t if k == 0 else (t - 1 if k == 1 else t + 1)
        if tau_min <= u <= tau_max and dn[u] <= dn[u - 1] and dn[u] <= dn[u + 1]:
            if found < 0 or dn[u] < dn[found]:
                found = u
    return found


@njit(cache=True, inline="always")
def _dip_value(dn: np.ndarray, t: int) -> float:
    """Minimum of the parabola through d'(t-1), d'(t), d'(t+1) (d'(t) when it has no minimum)."""
    a = dn[t - 1]
    b = dn[t]
    c = dn[t + 1]
    return b - 0.25 * (a - c) * _parabola(a, b, c)


# ----------------------------------------------------------------------------- pitch (YIN)


@njit(parallel=True, cache=True, fastmath={"contract", "reassoc", "nsz", "arcp"})
def _lowpass_decimate(x: np.ndarray, rtaps: np.ndarray, q: int) -> np.ndarray:
    """y[m] = sum_k taps[k] * x[half + m*q - k]: np.convolve(x, taps)[half::q] as in the reference.

    ``rtaps`` is ``taps`` reversed, so each output is a dot product of a contiguous view of x.
    """
    n = x.shape[0]
    nt = rtaps.shape[0]
    half = (nt - 1) // 2
    m_out = (n + q - 1) // q
    y = np.empty(m_out, dtype=np.float64)
    for m in prange(m_out):
        base = half + m * q  # x index multiplied by taps[0]
        lo = base - (nt - 1)
        acc = 0.0
        if lo >= 0 and base < n:
            xs = x[lo : base + 1]
            for k in range(nt):
                acc += rtaps[k] * np.float64(xs[k])
        else:  # the buffer's ends: samples outside it are zeros
            for k in range(nt):
                if 0 <= lo + k < n:
                    acc += rtaps[k] * np.float64(x[lo + k])
        y[m] = acc
    return y


@njit(parallel=True, cache=True, fastmath={"contract", "reassoc", "nsz", "arcp"})
def _yin_frames(
    x: np.ndarray,
    y: np.ndarray,
    centres: np.ndarray,
    q: int,
    tau_min: int,
    tau_max: int,
    win: int,
    span: int,
    sr: float,
    threshold: float,
    voicing: float,
    silence_power: float,
    margin: float,
    sub_margin: float,
    mult_ratio: float,
    f0: np.ndarray,
    per: np.ndarray,
) -> None:
    """YIN on every frame centre (see reference._yin_frame, which this mirrors line by line)."""
    n = centres.shape[0]
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    win_f = win * q
    for blk in prange(n_blocks):
        d = np.empty(tau_max + 2, dtype=np.float64)
        dn = np.empty(tau_max + 2, dtype=np.float64)
        df = np.empty(2 * q + 3, dtype=np.float64)
        for i in range(blk * _BLOCK, min(n, (blk + 1) * _BLOCK)):
            p = centres[i]
            c = (p + q // 2) // q
            # Difference function on the decimated signal, window straddling the centre.
            d[0] = 0.0
            for t in range(1, tau_max + 2):
                a = c - (win + t) // 2
                # Views (not y[a + j]) let LLVM drop the negative-index wraparound and vectorise.
                u = y[a : a + win]
                v = y[a + t : a + t + win]
                acc = 0.0
                for j in range(win):
                    diff = u[j] - v[j]
                    acc += diff * diff
                d[t] = acc
            # Cumulative-mean-normalised difference (YIN eq. 8).
            dn[0] = 1.0
            cum = 0.0
            for t in range(1, tau_max + 2):
                cum += d[t]
                dn[t] = d[t] * t / cum if cum > 0.0 else 1.0
            # Absolute threshold with the octave guard, walked down to the dip's minimum.
            best = dn[tau_min]
            for t in range(tau_min + 1, tau_max + 1):
                if dn[t] < best:
                    best = dn[t]
            limit = threshold if best < threshold else best + margin
            tau = tau_min
            while dn[tau] >= limit:
                tau += 1
            while tau < tau_max and dn[tau + 1] < dn[tau]:
                tau += 1
            # Octave checks on interpolated dip values: a far deeper dip at 2*tau, then the
            # smallest sub-multiple (tau/3, tau/2) whose dip is nearly as deep.
            v0 = _dip_value(dn, tau)
            if 2 * tau < tau_max:
                u = _local_min_near(dn, 2 * tau, tau_min, tau_max)
                if u > 0 and _dip_value(dn, u) < mult_ratio * v0:
                    tau = u
                    v0 = _dip_value(dn, u)
            for m in range(3, 1, -1):
                t = (2 * tau + m) // (2 * m)  # round(tau / m)
                if t < tau_min:
                    continue
                u = _local_min_near(dn, t, tau_min, tau_max)
                if u > 0 and _dip_value(dn, u) <= v0 + sub_margin:
                    tau = u
                    break
            periodicity = 1.0 - min(1.0, max(0.0, dn[tau]))
            per[i] = periodicity
            s0 = c - span // 2
            ys = y[s0 : s0 + span]
            pw = 0.0
            for j in range(span):
                pw += ys[j] * ys[j]
            if periodicity < voicing or pw / span < silence_power:
                f0[i] = 0.0
                continue
            # Best local estimate: refine on the full-rate difference function around the coarse lag.
            coarse = (tau + _parabola(dn[tau - 1], dn[tau], dn[tau + 1])) * q
            centre = int(math.floor(coarse + 0.5))
            lo = max(2, centre - q)
            hi = centre + q
            n_l = hi - lo + 3
            for jl in range(n_l):
                t = lo - 1 + jl
                a = p - (win_f + t) // 2
                u32 = x[a : a + win_f]
                v32 = x[a + t : a + t + win_f]
                acc = 0.0
                for j in range(win_f):
                    diff = np.float64(u32[j]) - np.float64(v32[j])
                    acc += diff * diff
                df[jl] = acc
            k = 1
            for jl in range(2, n_l - 1):
                if df[jl] < df[k]:
                    k = jl
            lag = (lo - 1 + k) + _parabola(df[k - 1], df[k], df[k + 1])
            f0[i] = sr / lag


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
    """F0 (Hz, 0 where unvoiced) and periodicity (0..1) per frame, by YIN (see reference.pitch_yin).

    de Cheveigné & Kawahara (2002), JASA 111(4), with a decimated lag search refined at full rate.
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
    """``pitch_yin`` of every signal in one parallel pass; returns one ``(f0, periodicity)`` per input."""
    sigs = fr.as_signals(signals)
    sr = fr.check_sr(sr)
    hop = fr.check_int("hop", hop)
    fmin, fmax = fr.check_pitch_range(sr, fmin, fmax)
    threshold, voicing = fr.check_unit("threshold", threshold), fr.check_unit("voicing", voicing)
    plan = fr.yin_plan(sr, fmin, fmax)
    lay = fr.make_layout(sigs, hop, reach=plan.reach, align=plan.q)
    y = _lowpass_decimate(lay.buf, plan.taps[::-1].astype(np.float64), np.int64(plan.q))
    n = len(lay.centres)
    f0 = np.zeros(n, dtype=np.float32)
    per = np.zeros(n, dtype=np.float32)
    _yin_frames(
        lay.buf, y, lay.centres, np.int64(plan.q), np.int64(plan.tau_min), np.int64(plan.tau_max),
        np.int64(plan.win), np.int64(plan.span), float(sr), float(threshold), float(voicing),
        float(10.0 ** (float(silence_db) / 10.0)), float(fr.YIN_OCTAVE_MARGIN),
        float(fr.YIN_SUBMULTIPLE_MARGIN), float(fr.YIN_MULTIPLE_RATIO), f0, per,
    )
    return list(zip(fr.split(f0, lay), fr.split(per, lay)))


# ----------------------------------------------------------------------------- energy


@njit(parallel=True, cache=True, fastmath={"contract", "reassoc", "nsz", "arcp"})
def _energy_frames(x: np.ndarray, centres: np.ndarray, frame: int, floor_rms: float, out: np.ndarray) -> None:
    half = frame // 2
    for i in prange(centres.shape[0]):
        xs = x[centres[i] - half : centres[i] - half + frame]
        acc = 0.0
        for j in range(frame):
            v = np.float64(xs[j])
            acc += v * v
        rms = math.sqrt(acc / frame)
        out[i] = 20.0 * math.log10(max(rms, floor_rms))


def energy(x: Any, frame: int, hop: int) -> np.ndarray:
    """Frame RMS level in dBFS: 20*log10(rms), floored at -120 dB (rectangular, centred frames)."""
    return energy_batch([x], frame, hop)[0]


def energy_batch(signals: Sequence[Any], frame: int, hop: int) -> list[np.ndarray]:
    sigs = fr.as_signals(signals)
    frame, hop = fr.check_int("frame", frame), fr.check_int("hop", hop)
    lay = fr.make_layout(sigs, hop, reach=fr.frames_reach(frame))
    out = np.empty(len(lay.centres), dtype=np.float32)
    _energy_frames(lay.buf, lay.centres, np.int64(frame), float(fr.SILENT_RMS), out)
    return fr.split(out, lay)


# ----------------------------------------------------------------------------- spectral shape


def _fft_tables(n_fft: int) -> tuple[np.ndarray, ...]:
    """Tables for a real FFT of size n_fft done as a complex FFT of size m = n_fft/2.

    Returns the bit-reversal permutation of m; the twiddles exp(-2 pi i k / 2h) of every radix-2
    stage h = 1, 2, 4, ..., m/2 laid end to end (stage h starts at index h - 1), as real and
    imaginary parts; and the split twiddles exp(-2 pi i k / n_fft), k = 0..m, likewise.
    """
    m = n_fft // 2
    bits = max(0, m.bit_length() - 1)
    idx = np.arange(m)
    rev = np.zeros(m, dtype=np.int64)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    stages = [np.exp(-2j * np.pi * np.arange(h) / (2 * h)) for h in (2**i for i in range(bits))]
    tw = np.concatenate(stages) if stages else np.ones(1, dtype=np.complex128)
    sp = np.exp(-2j * np.pi * np.arange(m + 1) / n_fft)
    return rev, tw.real.copy(), tw.imag.copy(), sp.real.copy(), sp.imag.copy()


@njit(cache=True, fastmath={"contract", "reassoc", "nsz", "arcp"})
def _rfft_power(seg: np.ndarray, rev: np.ndarray, twr: np.ndarray, twi: np.ndarray, spr: np.ndarray,
                spi: np.ndarray, zr: np.ndarray, zi: np.ndarray, power: np.ndarray) -> None:
    """|rfft(seg)|^2 of a real, power-of-two-length ``seg`` into ``power`` (n/2 + 1 bins).

    Iterative radix-2 decimation-in-time FFT (Cooley & Tukey 1965) of the even/odd samples packed
    as one complex sequence of m = n/2, split into the spectrum of the real signal afterwards
    (the standard "real FFT via half-length complex FFT", e.g. Numerical Recipes 12.3). The first
    two stages run as one radix-4 pass straight from the bit-reversed input; later stages work on
    contiguous views so LLVM vectorises them.
    """
    m = zr.shape[0]
    if m >= 4:
        for start in range(0, m, 4):
            r0, r1, r2, r3 = rev[start], rev[start + 1], rev[start + 2], rev[start + 3]
            a0r, a0i, a1r, a1i = seg[2 * r0], seg[2 * r0 + 1], seg[2 * r1], seg[2 * r1 + 1]
            a2r, a2i, a3r, a3i = seg[2 * r2], seg[2 * r2 + 1], seg[2 * r3], seg[2 * r3 + 1]
            b0r, b0i, b1r, b1i = a0r + a1r, a0i + a1i, a0r - a1r, a0i - a1i
            b2r, b2i, b3r, b3i = a2r + a3r, a2i + a3i, a2r - a3r, a2i - a3i
            zr[start], zi[start] = b0r + b2r, b0i + b2i
            zr[start + 2], zi[start + 2] = b0r - b2r, b0i - b2i
            zr[start + 1], zi[start + 1] = b1r + b3i, b1i - b3r  # b3 * (-i)
            zr[start + 3], zi[start + 3] = b1r - b3i, b1i + b3r
        h = 4
    else:
        for k in range(m):
            zr[k] = seg[2 * rev[k]]
            zi[k] = seg[2 * rev[k] + 1]
        h = 1
    while h < m:
        s = 2 * h
        wr = twr[h - 1 : s - 1]
        wi = twi[h - 1 : s - 1]
        for start in range(0, m, s):
            ur, ui = zr[start : start + h], zi[start : start + h]
            vr, vi = zr[start + h : start + s], zi[start + h : start + s]
            for k in range(h):
                tr = vr[k] * wr[k] - vi[k] * wi[k]
                ti = vr[k] * wi[k] + vi[k] * wr[k]
                vr[k] = ur[k] - tr
                vi[k] = ui[k] - ti
                ur[k] = ur[k] + tr
                ui[k] = ui[k] + ti
        h = s
    power[0] = (zr[0] + zi[0]) ** 2
    power[m] = (zr[0] - zi[0]) ** 2
    for k in range(1, m):
        ar, ai, br, bi = zr[k], zi[k], zr[m - k], -zi[m - k]
        er, ei = 0.5 * (ar + br), 0.5 * (ai + bi)  # spectrum of the even samples
        odr, odi = 0.5 * (ai - bi), -0.5 * (ar - br)  # spectrum of the odd samples
        xr = er + spr[k] * odr - spi[k] * odi
        xi = ei + spr[k] * odi + spi[k] * odr
        power[k] = xr * xr + xi * xi


def _band_ranges(band_of_bin: np.ndarray, n_bands: int) -> np.ndarray:
    """[first, last + 1) bin of every band, from a per-bin band index (-1 = no band).

    The plan's bands are runs of adjacent bins (frequency ranges), so a band sum is a contiguous
    slice sum; an empty band gets an empty range.
    """
    ranges = np.zeros((n_bands, 2), dtype=np.int64)
    for b in range(n_bands):
        bins = np.flatnonzero(band_of_bin == b)
        if len(bins):
            if bins[-1] - bins[0] + 1 != len(bins):
                raise RuntimeError(f"spectral plan band {b} is not a contiguous run of FFT bins")
            ranges[b] = bins[0], bins[-1] + 1
    return ranges


@njit(parallel=True, cache=True, fastmath={"contract", "reassoc", "nsz", "arcp"})
def _spectral_frames(
    x: np.ndarray,
    centres: np.ndarray,
    frame: int,
    window: np.ndarray,
    freqs: np.ndarray,
    tilt_ranges: np.ndarray,
    tilt_x: np.ndarray,
    tilt_count: np.ndarray,
    ratio_ranges: np.ndarray,
    rev: np.ndarray,
    twr: np.ndarray,
    twi: np.ndarray,
    spr: np.ndarray,
    spi: np.ndarray,
    silent_power: float,
    centroid: np.ndarray,
    tilt: np.ndarray,
    ratios: np.ndarray,
) -> None:
    """Centroid, tilt and band ratios per frame (mirrors reference.spectral_batch)."""
    n = centres.shape[0]
    n_fft = rev.shape[0] * 2
    n_bins = n_fft // 2 + 1
    n_tilt = tilt_x.shape[0]
    n_bands = ratios.shape[1]
    half = frame // 2
    xm = 0.0
    for b in range(n_tilt):
        xm += tilt_x[b]
    xm = xm / max(n_tilt, 1)
    sxx = 0.0
    for b in range(n_tilt):
        sxx += (tilt_x[b] - xm) * (tilt_x[b] - xm)
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for blk in prange(n_blocks):
        seg = np.zeros(n_fft, dtype=np.float64)  # the tail beyond `frame` stays zero (padding)
        zr = np.empty(n_fft // 2, dtype=np.float64)
        zi = np.empty(n_fft // 2, dtype=np.float64)
        power = np.empty(n_bins, dtype=np.float64)
        level = np.empty(max(n_tilt, 1), dtype=np.float64)
        for i in range(blk * _BLOCK, min(n, (blk + 1) * _BLOCK)):
            s0 = centres[i] - half
            xs = x[s0 : s0 + frame]
            ms = 0.0
            for j in range(frame):
                v = np.float64(xs[j])
                ms += v * v
            if ms / frame < silent_power:
                centroid[i] = 0.0
                tilt[i] = 0.0
                for b in range(n_bands):
                    ratios[i, b] = 0.0
                continue
            for j in range(frame):
                seg[j] = np.float64(xs[j]) * window[j]
            _rfft_power(seg, rev, twr, twi, spr, spi, zr, zi, power)
            total = 0.0
            smag = 0.0
            sfm = 0.0
            for k in range(n_bins):
                mag = math.sqrt(power[k])
                smag += mag
                sfm += freqs[k] * mag
                total += power[k]
            centroid[i] = sfm / smag
            if n_tilt >= 2:
                eps = 1e-12 * total / n_bins
                lm = 0.0
                for b in range(n_tilt):
                    pb = power[tilt_ranges[b, 0] : tilt_ranges[b, 1]]
                    acc = 0.0
                    for k in range(pb.shape[0]):
                        acc += pb[k]
                    level[b] = 10.0 * math.log10(acc / tilt_count[b] + eps)
                    lm += level[b]
                lm /= n_tilt
                sxy = 0.0
                for b in range(n_tilt):
                    sxy += (tilt_x[b] - xm) * (level[b] - lm)
                tilt[i] = sxy / sxx
            else:
                tilt[i] = 0.0
            for b in range(n_bands):
                pb = power[ratio_ranges[b, 0] : ratio_ranges[b, 1]]
                acc = 0.0
                for k in range(pb.shape[0]):
                    acc += pb[k]
                ratios[i, b] = acc / total


def spectral(
    x: Any, sr: float, frame: int, hop: int, n_bands: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectral centroid (Hz), tilt (dB/octave) and band energy ratios per frame (see reference.spectral)."""
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
    tables = _fft_tables(plan.n_fft)
    n = len(lay.centres)
    centroid = np.zeros(n, dtype=np.float32)
    tilt = np.zeros(n, dtype=np.float32)
    ratios = np.zeros((n, n_bands), dtype=np.float32)
    tilt_x = np.ascontiguousarray(plan.tilt_x, dtype=np.float64)
    _spectral_frames(
        lay.buf, lay.centres, np.int64(frame), plan.window.astype(np.float64), plan.freqs.astype(np.float64),
        _band_ranges(plan.tilt_band, len(tilt_x)), tilt_x, plan.tilt_count.astype(np.int64),
        _band_ranges(plan.ratio_band, n_bands), *tables, float(fr.SILENT_RMS**2), centroid, tilt, ratios,
    )
    return [
        (c, t, r)
        for c, t, r in zip(fr.split(centroid, lay), fr.split(tilt, lay), fr.split(ratios, lay))
    ]


# ----------------------------------------------------------------------------- formants (LPC)


@njit(parallel=True, cache=True, fastmath={"contract", "reassoc", "nsz", "arcp"})
def _lpc_frames(
    x: np.ndarray, centres: np.ndarray, frame: int, window: np.ndarray, order: int,
    preemphasis: float, silent_r0: float, coefs: np.ndarray, voiced: np.ndarray,
) -> None:
    """Pre-emphasis, Hamming window, autocorrelation and Levinson-Durbin per frame (Makhoul 1975)."""
    n = centres.shape[0]
    half = frame // 2
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for blk in prange(n_blocks):
        seg = np.empty(frame, dtype=np.float64)
        r = np.empty(order + 1, dtype=np.float64)
        prev = np.empty(order + 1, dtype=np.float64)
        for i in range(blk * _BLOCK, min(n, (blk + 1) * _BLOCK)):
            s0 = centres[i] - half
            for j in range(frame):
                cur = np.float64(x[s0 + j])
                before = np.float64(x[s0 + j - 1]) if s0 + j >= 1 else 0.0
                seg[j] = (cur - preemphasis * before) * window[j]
            for k in range(order + 1):
                acc = 0.0
                for j in range(frame - k):
                    acc += seg[j] * seg[j + k]
                r[k] = acc
            for k in range(order + 1):
                coefs[i, k] = 0.0
            if r[0] < silent_r0:
                voiced[i] = False
                continue
            voiced[i] = True
            coefs[i, 0] = 1.0
            err = r[0] * (1.0 + 1e-9)
            for m in range(1, order + 1):
                acc = r[m]
                for j in range(1, m):
                    acc += coefs[i, j] * r[m - j]
                kk = -acc / err
                for j in range(1, m):
                    prev[j] = coefs[i, j]
                for j in range(1, m):
                    coefs[i, j] = prev[j] + kk * prev[m - j]
                coefs[i, m] = kk
                err *= 1.0 - kk * kk
                if err <= 0.0:
                    break


def formants_lpc(x: Any, sr: float, frame: int, hop: int, order: int = 10, n_formants: int = 3) -> np.ndarray:
    """Formant frequencies (Hz) per frame from LPC roots; 0 where fewer than ``n_formants`` are found.

    See reference.formants_lpc. The LPC fit runs in numba; the roots of all frames' predictors come
    from one batched eigenvalue call on their companion matrices (what np.roots does per frame).
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
    n = len(lay.centres)
    coefs = np.zeros((n, order + 1), dtype=np.float64)
    voiced = np.zeros(n, dtype=np.bool_)
    _lpc_frames(
        lay.buf, lay.centres, np.int64(frame), np.hamming(frame).astype(np.float64), np.int64(order),
        float(fr.PREEMPHASIS), float(frame * fr.SILENT_RMS**2), coefs, voiced,
    )
    out = np.zeros((n, n_formants), dtype=np.float32)
    rows = np.flatnonzero(voiced)
    if len(rows):
        out[rows] = _formants_from_predictors(coefs[rows], sr, n_formants)
    return fr.split(out, lay)


def _formants_from_predictors(a: np.ndarray, sr: float, n_formants: int) -> np.ndarray:
    """Sharp resonances of each predictor row, lowest first (as reference: > 90 Hz, bandwidth < 400 Hz)."""
    n, p1 = a.shape
    order = p1 - 1
    roots = np.zeros((n, order), dtype=np.complex128)
    full = a[:, -1] != 0.0  # a Levinson break leaves trailing zeros: np.roots drops those, so do the same
    if full.any():
        comp = np.zeros((int(full.sum()), order, order))
        comp[:, 0, :] = -a[full, 1:]
        idx = np.arange(order - 1)
        comp[:, idx + 1, idx] = 1.0
        roots[full] = np.linalg.eigvals(comp)
    for i in np.flatnonzero(~full):
        r = np.roots(a[i])
        roots[i, : len(r)] = r
    freqs = np.arctan2(roots.imag, roots.real) * sr / (2 * np.pi)
    with np.errstate(divide="ignore"):
        bws = -sr / np.pi * np.log(np.abs(roots))
    keep = (roots.imag > 0) & (freqs > 90.0) & (bws < 400.0)
    ranked = np.sort(np.where(keep, freqs, np.inf), axis=1)[:, :n_formants]
    if ranked.shape[1] < n_formants:
        ranked = np.pad(ranked, ((0, 0), (0, n_formants - ranked.shape[1])), constant_values=np.inf)
    return np.where(np.isfinite(ranked), ranked, 0.0)


# ----------------------------------------------------------------------------- voice activity


@njit(cache=True)
def _smooth_speech(speech: np.ndarray, min_gap: int, min_len: int) -> np.ndarray:
    """reference._bridge_gaps then reference._drop_short, as two linear scans."""
    n = speech.shape[0]
    bridged = speech.copy()
    i = 0
    while i < n:
        if speech[i]:
            i += 1
            continue
        j = i
        while j < n and not speech[j]:
            j += 1
        if i > 0 and j < n and j - i < min_gap:
            bridged[i:j] = True
        i = j
    out = bridged.copy()
    i = 0
    while i < n:
        if not bridged[i]:
            i += 1
            continue
        j = i
        while j < n and bridged[j]:
            j += 1
        if j - i < min_len:
            out[i:j] = False
        i = j
    return out


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
    """Speech activity per frame: level above an adaptive noise floor, then hangover smoothing (see reference.vad)."""
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
        out.append(_smooth_speech(speech, np.int64(min_gap), np.int64(min_speech)))
    return out


# ----------------------------------------------------------------------------- warm-up


def warmup() -> float:
    """Compile (or load from the on-disk cache) every kernel on a tiny signal; returns seconds spent."""
    t0 = time.perf_counter()
    sr = 8000.0
    x = (0.1 * np.sin(2 * np.pi * 150.0 * np.arange(2000) / sr)).astype(np.float32)
    pitch_yin_batch([x, x[:1000]], sr, 80, 50.0, 500.0)
    energy_batch([x], 200, 80)
    spectral_batch([x], sr, 200, 80)
    formants_lpc_batch([x], sr, 200, 80)
    vad_batch([x], sr, 80, 200)
    return time.perf_counter() - t0
