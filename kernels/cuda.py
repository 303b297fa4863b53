"""CUDA kernels (numba.cuda): the reference algorithms laid out for a GPU.

Same signatures, defaults, input checks, frame convention and algorithms as ``reference.py`` (the
truth for tests). What changes is where the work runs:

- **One upload per call.** Every ``*_batch`` function lays its signals end to end with the zero gaps
  of ``_frames.make_layout`` (same starts, same frame offsets table) and launches each kernel once
  over all frames of all calls. The samples go through a cached page-locked (pinned) staging buffer
  in chunks, each chunk's asynchronous host->device copy queued on one stream while the host fills
  the next, so the host copy and the DMA overlap. Frame centres are not uploaded: a kernel finds
  its signal by binary search in the offsets table (``starts[s] + hop * k``).
- **Device arrays stay on the device** across the kernels of one call (decimation -> YIN; energy ->
  VAD levels); only the per-frame results come back.
- **Decimation FIR** is its own kernel, one thread per output sample; a warp reads ``q``-strided
  samples that share cache lines and the taps are a warp-uniform broadcast, so the signal is read
  from DRAM about once.
- **YIN**: one thread block per frame. The block loads the frame's window of the decimated signal
  into shared memory with coalesced loads, threads split the lags of the difference function
  (the O(window x lags) part, >95 % of the arithmetic), a tree reduction gives the window power,
  one thread does the O(lags) cumulative-mean normalisation and dip search, and the full-rate
  refinement is again spread over the block (all 2q + 3 candidate lags reduced in one tree).
- **Energy**: one block per frame, coalesced loads, tree reduction.
- **Spectral**: one block per frame; a radix-2 FFT in shared memory (float64, so the tilt of bands
  100 dB down matches the float64 reference), then band sums with shared-memory atomics.
- **VAD**: frame levels from the energy kernel; the per-signal percentile floor and the hangover
  smoothing (sequential, ~100 values per second of audio) run vectorised on the host.
- **Formants (LPC)** run on the CPU backend (``kernels.cpu``, or ``reference`` if that is absent):
  root-finding of a degree-10 polynomial per frame is branchy, tiny work that the CPU does well.
- Plans too big for one block's shared memory (e.g. fmin below ~2 Hz, frames > 2048 samples) fall
  back to the CPU backend too, with identical results.

YIN, spectral shape and VAD are described in ``reference.py`` (de Cheveigné & Kawahara 2002 for
YIN). The GPU sums are float32 except the FFT; results agree with the reference to well inside the
test tolerances (f0 1 %, energy 0.05 dB).

``last_timings()`` returns the phase split (host staging, host->device copy, compute, device->host)
of the most recent call, for the benchmark. ``available()`` says whether a GPU can be used and why
not; ``warmup()`` compiles every kernel and returns the seconds spent. Tests run these kernels on any
machine with ``NUMBA_ENABLE_CUDASIM=1`` (numba's CUDA simulator, set before numba is imported).

>>> f0, periodicity = pitch_yin(x, sr=16000, hop=160, fmin=50.0, fmax=500.0)
>>> rms_db = energy(x, frame=400, hop=160)
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import _frames as fr
from .reference import _check_percentile

try:  # numba is a dependency, but keep import errors reportable through available()
    from numba import cuda
    from numba import float32 as nb_float32
    from numba import float64 as nb_float64
    from numba import int64 as nb_int64

    _IMPORT_ERROR = ""
except Exception as exc:  # pragma: no cover - depends on the installation
    cuda = None
    _IMPORT_ERROR = f"numba.cuda cannot be imported ({type(exc).__name__}: {exc})"

name = "cuda"

# Threads per block. Powers of two (the tree reductions rely on it); every loop strides over the
# block, so any power of two is correct. The simulator runs one Python thread per CUDA thread, so
# it gets small blocks (which also exercises the strided paths: lags > threads).
_SMALL = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
_YIN_THREADS = 16 if _SMALL else 128  # 128 >= lags of the default plan (81): one pass over the lags
_ENERGY_THREADS = 8 if _SMALL else 64  # a 25 ms frame at 16 kHz is 400 samples: ~6 loads per thread
_SPECTRAL_THREADS = 16 if _SMALL else 128  # a 512-point FFT has 256 butterflies per stage: 2 per thread
_FIR_THREADS = 32 if _SMALL else 256
# Shared memory one block may use (bytes); the CUDA default limit without opt-in is 48 KiB.
_SHARED_LIMIT = 48 * 1024
# Samples per pinned staging chunk: large enough for full-speed DMA, small enough to overlap.
_CHUNK = 1 << 22
_RING = 4  # staging slots: 4 x 16 MiB of pinned memory, allocated once per process


# ----------------------------------------------------------------------------- availability


def _simulated() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def available() -> tuple[bool, str]:
    """(True, device name) when kernels can run; else (False, one-line reason)."""
    if cuda is None:
        return False, _IMPORT_ERROR
    if _simulated():
        return True, "numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1): correct but slow"
    try:
        n_gpus = len(cuda.list_devices())  # the list is lazy: len() initialises the driver
    except Exception as exc:  # CudaSupportError: no driver library, driver too old, ...
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        why = " ".join(lines[:2]) if lines else type(exc).__name__
        return False, f"no usable CUDA driver: {why}"
    if n_gpus == 0:
        return False, "CUDA driver found but no CUDA GPU device"
    try:
        dev = cuda.get_current_device()
        label = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    except Exception as exc:
        return False, f"CUDA device cannot be opened: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
    return True, label


def _require() -> None:
    ok, why = available()
    if not ok:
        raise RuntimeError(f"CUDA backend unavailable: {why}")


# ----------------------------------------------------------------------------- timings


@dataclass(frozen=True)
class CallTimings:
    """Wall-clock split of one call (seconds); phases are separated by stream synchronisation."""

    kernel: str
    n_signals: int
    n_samples: int  # samples uploaded, gaps included
    n_frames: int
    host_s: float  # input checks, layout, filling the pinned staging buffer not hidden by DMA
    h2d_s: float  # host->device copies (waiting for the DMA after the last chunk is queued)
    compute_s: float  # kernels
    d2h_s: float  # results back to the host (+ host post-processing such as VAD smoothing)

    @property
    def total_s(self) -> float:
        return self.host_s + self.h2d_s + self.compute_s + self.d2h_s


_LAST: list[CallTimings] = []


def last_timings() -> CallTimings | None:
    """Phase split of the most recent kernel call in this process (None before the first)."""
    return _LAST[-1] if _LAST else None


class _Clock:
    """Accumulates phase times; synchronises the stream at each phase boundary."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.t = time.perf_counter()
        self.phases = {"host": 0.0, "h2d": 0.0, "compute": 0.0, "d2h": 0.0}

    def lap(self, phase: str, sync: bool = True) -> None:
        if sync:
            self.stream.synchronize()
        now = time.perf_counter()
        self.phases[phase] += now - self.t
        self.t = now

    def record(self, kernel: str, n_signals: int, n_samples: int, n_frames: int) -> None:
        p = self.phases
        _LAST[:] = [CallTimings(kernel, n_signals, n_samples, n_frames, p["host"], p["h2d"], p["compute"], p["d2h"])]


# ----------------------------------------------------------------------------- upload


@dataclass(frozen=True)
class _Meta:
    """Layout numbers of ``_frames.make_layout`` without building its host buffer."""

    starts: np.ndarray  # int64 buffer index of every signal's sample 0
    frame_offsets: np.ndarray  # int64[n + 1]
    size: int  # buffer length


def _layout_meta(lengths: Sequence[int], hop: int, reach: int, align: int = 1) -> _Meta:
    """Same arithmetic as ``_frames.make_layout`` (tests check they agree)."""
    gap = int(math.ceil((reach + 1) / align) * align)
    starts, counts, pos = [], [], gap
    for n in lengths:
        starts.append(pos)
        counts.append(fr.frame_count(n, hop))
        pos += int(math.ceil((n + gap) / align) * align)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)
    return _Meta(starts=np.asarray(starts, dtype=np.int64), frame_offsets=offsets, size=pos + gap)


class _Staging:
    """One cached pinned host buffer (grown on demand): pinned memory lets copies run async."""

    buf: np.ndarray | None = None

    @classmethod
    def get(cls, n: int) -> np.ndarray:
        if cls.buf is None or cls.buf.size < n:
            cls.buf = None
            cls.buf = cuda.pinned_array(max(n, 1 << 16), dtype=np.float32)
        return cls.buf


def _upload(sigs: list[np.ndarray], meta: _Meta, stream: Any, clock: _Clock) -> Any:
    """Device copy of the laid-out buffer through a ring of pinned chunks.

    The host fills chunk k+1 while the DMA engine copies chunk k; an event per ring slot says when
    a slot may be refilled. Gaps are zero-filled in the staging buffer, so the device buffer is
    written exactly once.
    """
    d_x = cuda.device_array(meta.size, dtype=np.float32, stream=stream)
    n_slots = max(1, min(_RING, -(-meta.size // _CHUNK)))
    ring = _Staging.get(n_slots * _CHUNK)
    events: list[Any] = [None] * n_slots
    # Pieces of the buffer in order: (lo, hi, signal index or -1 for zeros).
    pieces: list[tuple[int, int, int]] = []
    pos = 0
    for i, (st, s) in enumerate(zip(meta.starts, sigs)):
        pieces += [(pos, int(st), -1), (int(st), int(st) + len(s), i)]
        pos = int(st) + len(s)
    pieces.append((pos, meta.size, -1))
    k = 0
    for lo, hi, idx in pieces:
        for a in range(lo, hi, _CHUNK):
            b = min(hi, a + _CHUNK)
            slot = k % n_slots
            if events[slot] is not None:
                events[slot].synchronize()  # that slot's previous copy has finished
            view = ring[slot * _CHUNK : slot * _CHUNK + (b - a)]
            if idx < 0:
                view[:] = 0.0
            else:
                view[:] = sigs[idx][a - lo : b - lo]
            d_x[a:b].copy_to_device(view, stream=stream)
            events[slot] = cuda.event()
            events[slot].record(stream)
            k += 1
    clock.lap("host", sync=False)
    clock.lap("h2d")
    return d_x


def _to_host(d_arr: Any, stream: Any) -> np.ndarray:
    return d_arr.copy_to_host(stream=stream)


def _split(values: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def _fallback() -> Any:
    """CPU backend for what does not suit the GPU (formants, oversized plans)."""
    try:
        from . import cpu

        return cpu
    except Exception:  # numba CPU backend missing or broken: the reference is always there
        from . import reference

        return reference


# ----------------------------------------------------------------------------- kernels

if cuda is not None:

    @cuda.jit(device=True)
    def _signal_of(frame, offsets):
        """Index s with offsets[s] <= frame < offsets[s + 1] (binary search)."""
        lo = 0
        hi = offsets.shape[0] - 2
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if offsets[mid] <= frame:
                lo = mid
            else:
                hi = mid - 1
        return lo

    @cuda.jit(device=True)
    def _parabola_d(a, b, c):
        den = a - 2.0 * b + c
        if den <= 0.0:
            return 0.0
        v = 0.5 * (a - c) / den
        return min(0.5, max(-0.5, v))

    @cuda.jit(device=True)
    def _local_min_near_d(sm, d0, t, tau_min, tau_max):
        """The deepest local minimum of d' (sm[d0 + lag]) among lags t, t-1, t+1 in range, or -1."""
        found = -1
        for k in range(3):
            u = t if k == 0 else (t - 1 if k == 1 else t + 1)
            if tau_min <= u and u <= tau_max and sm[d0 + u] <= sm[d0 + u - 1] and sm[d0 + u] <= sm[d0 + u + 1]:
                if found < 0 or sm[d0 + u] < sm[d0 + found]:
                    found = u
        return found

    @cuda.jit(device=True)
    def _dip_value_d(sm, d0, t):
        """Minimum of the parabola through d'(t-1), d'(t), d'(t+1) (d'(t) when it has no minimum)."""
        a = sm[d0 + t - 1]
        b = sm[d0 + t]
        c = sm[d0 + t + 1]
        return b - 0.25 * (a - c) * _parabola_d(a, b, c)

    @cuda.jit(device=True)
    def _block_sum(red, base, tid, nthreads):
        """Tree reduction of red[base : base + nthreads] into red[base] (each thread wrote its slot)."""
        cuda.syncthreads()
        s = nthreads // 2
        while s > 0:
            if tid < s:
                red[base + tid] += red[base + tid + s]
            cuda.syncthreads()
            s //= 2

    @cuda.jit(cache=True)
    def _decimate_kernel(x, taps, q, half, y):
        """y[m] = sum_i taps[i] * x[m*q + half - i] (zero-phase FIR, every q-th output)."""
        m = cuda.grid(1)
        if m >= y.shape[0]:
            return
        n = x.shape[0]
        base = m * q + half
        acc = nb_float32(0.0)
        for i in range(taps.shape[0]):
            j = base - i
            if j >= 0 and j < n:
                acc += taps[i] * x[j]
        y[m] = acc

    @cuda.jit(cache=True)
    def _yin_kernel(x, y, starts, offsets, hop, q, tau_min, tau_max, win, span,
                    sr, threshold, voicing, silence_power, sub_margin, mult_ratio, f0, per):
        """One block per frame: YIN on the decimated window in shared memory, then full-rate refinement."""
        frame = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nthreads = cuda.blockDim.x
        if frame >= f0.shape[0]:
            return
        # Dynamic shared memory: [window: span][d: tau_max + 2][reductions: (2q + 3) x nthreads]
        sm = cuda.shared.array(0, dtype=nb_float32)
        flags = cuda.shared.array(3, dtype=nb_int64)  # voiced, first refinement lag, lag count
        d0 = span
        r0 = span + tau_max + 2
        s = _signal_of(frame, offsets)
        p = starts[s] + hop * (frame - offsets[s])
        c = (p + q // 2) // q
        lo = c - span // 2
        ny = y.shape[0]
        power = nb_float32(0.0)
        for i in range(tid, span, nthreads):
            j = lo + i
            v = y[j] if (j >= 0 and j < ny) else nb_float32(0.0)
            sm[i] = v
            power += v * v
        sm[r0 + tid] = power
        _block_sum(sm, r0, tid, nthreads)  # ends with syncthreads: window loaded too
        # Difference function d(t), t = 1 .. tau_max + 1, one lag per thread.
        for t in range(tid + 1, tau_max + 2, nthreads):
            a = c - (win + t) // 2 - lo
            acc = nb_float32(0.0)
            for j in range(win):
                dv = sm[a + j] - sm[a + t + j]
                acc += dv * dv
            sm[d0 + t] = acc
        cuda.syncthreads()
        if tid == 0:
            # Cumulative-mean-normalised difference (YIN eq. 8), in place.
            sm[d0] = 1.0
            cum = nb_float32(0.0)
            for t in range(1, tau_max + 2):
                dt = sm[d0 + t]
                cum += dt
                sm[d0 + t] = dt * t / cum if cum > 0.0 else nb_float32(1.0)
            best = sm[d0 + tau_min]
            for t in range(tau_min + 1, tau_max + 1):
                best = min(best, sm[d0 + t])
            limit = threshold if best < threshold else best + 0.1  # _frames.YIN_OCTAVE_MARGIN
            tau = tau_min
            while sm[d0 + tau] >= limit:
                tau += 1
            while tau < tau_max and sm[d0 + tau + 1] < sm[d0 + tau]:
                tau += 1
            # Octave checks (see reference._pick_lag): a far deeper dip at 2*tau, then the
            # smallest sub-multiple (tau/3, tau/2) whose dip is nearly as deep.
            v0 = _dip_value_d(sm, d0, tau)
            if 2 * tau < tau_max:
                u = _local_min_near_d(sm, d0, 2 * tau, tau_min, tau_max)
                if u > 0 and _dip_value_d(sm, d0, u) < mult_ratio * v0:
                    tau = u
                    v0 = _dip_value_d(sm, d0, u)
            for m in range(3, 1, -1):
                t = (2 * tau + m) // (2 * m)  # round(tau / m)
                if t >= tau_min:
                    u = _local_min_near_d(sm, d0, t, tau_min, tau_max)
                    if u > 0 and _dip_value_d(sm, d0, u) <= v0 + sub_margin:
                        tau = u
                        break
            periodicity = 1.0 - min(1.0, max(0.0, sm[d0 + tau]))
            per[frame] = periodicity
            f0[frame] = 0.0
            voiced = periodicity >= voicing and sm[r0] / span >= silence_power
            flags[0] = 1 if voiced else 0
            if voiced:
                coarse = (tau + _parabola_d(sm[d0 + tau - 1], sm[d0 + tau], sm[d0 + tau + 1])) * q
                centre = int(math.floor(coarse + 0.5))
                lo_lag = max(2, centre - q)
                flags[1] = lo_lag - 1
                flags[2] = centre + q - lo_lag + 3
        cuda.syncthreads()
        if flags[0] == 0:
            return  # uniform across the block
        # Full-rate difference function at lags flags[1] .. flags[1] + flags[2] - 1 (2q + 3 lags):
        # every thread takes a strided share of the window for every lag (coalesced reads of x),
        # then one tree reduction over a (lag, thread) table: log2(threads) barriers for all lags.
        win_f = win * q
        nx = x.shape[0]
        first = flags[1]
        n_lags = flags[2]
        for k in range(n_lags):
            t = first + k
            a = p - (win_f + t) // 2
            acc = nb_float32(0.0)
            for i in range(tid, win_f, nthreads):
                j = a + i
                if j >= 0 and j + t < nx:
                    dv = x[j] - x[j + t]
                    acc += dv * dv
            sm[r0 + k * nthreads + tid] = acc
        cuda.syncthreads()
        st = nthreads // 2
        while st > 0:
            if tid < st:
                for k in range(n_lags):
                    sm[r0 + k * nthreads + tid] += sm[r0 + k * nthreads + tid + st]
            cuda.syncthreads()
            st //= 2
        if tid == 0:
            best_i = 1
            for k in range(2, n_lags - 1):
                if sm[r0 + k * nthreads] < sm[r0 + best_i * nthreads]:
                    best_i = k
            lag = (first + best_i) + _parabola_d(sm[r0 + (best_i - 1) * nthreads], sm[r0 + best_i * nthreads],
                                                 sm[r0 + (best_i + 1) * nthreads])
            f0[frame] = sr / lag

    @cuda.jit(cache=True)
    def _energy_kernel(x, starts, offsets, hop, frame_len, floor_rms, out):
        """One block per frame: RMS in dBFS of the rectangular centred frame."""
        frame = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nthreads = cuda.blockDim.x
        if frame >= out.shape[0]:
            return
        red = cuda.shared.array(0, dtype=nb_float32)
        s = _signal_of(frame, offsets)
        p = starts[s] + hop * (frame - offsets[s])
        a = p - frame_len // 2
        n = x.shape[0]
        acc = nb_float32(0.0)
        for i in range(tid, frame_len, nthreads):
            j = a + i
            if j >= 0 and j < n:
                acc += x[j] * x[j]
        red[tid] = acc
        _block_sum(red, 0, tid, nthreads)
        if tid == 0:
            rms = math.sqrt(red[0] / frame_len)
            out[frame] = 20.0 * math.log10(max(rms, floor_rms))

    @cuda.jit(device=True)
    def _bit_reverse(i, bits):
        r = 0
        for _ in range(bits):
            r = (r << 1) | (i & 1)
            i >>= 1
        return r

    @cuda.jit(cache=True)
    def _spectral_kernel(x, starts, offsets, hop, frame_len, n_fft, bits, window, tw_re, tw_im,
                         freqs, tilt_band, tilt_x, tilt_count, n_tilt, ratio_band, n_bands,
                         silent_power, centroid, tilt, ratios):
        """One block per frame: Hann window, radix-2 FFT in shared memory, centroid/tilt/band shares."""
        frame = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nthreads = cuda.blockDim.x
        if frame >= centroid.shape[0]:
            return
        # Dynamic shared (float64): [re: n_fft][im: n_fft][3 reductions: 3*nthreads][tilt bands][ratio bands]
        sm = cuda.shared.array(0, dtype=nb_float64)
        im0 = n_fft
        r0 = 2 * n_fft
        r1 = r0 + nthreads
        r2 = r1 + nthreads
        tb0 = r2 + nthreads
        rb0 = tb0 + n_tilt
        s = _signal_of(frame, offsets)
        p = starts[s] + hop * (frame - offsets[s])
        a = p - frame_len // 2
        n = x.shape[0]
        power = 0.0
        for i in range(tid, n_fft, nthreads):
            v = 0.0
            if i < frame_len:
                j = a + i
                if j >= 0 and j < n:
                    v = nb_float64(x[j])
                power += v * v
                v *= window[i]
            k = _bit_reverse(i, bits)
            sm[k] = v
            sm[im0 + k] = 0.0
        for b in range(tid, n_tilt + n_bands, nthreads):
            sm[tb0 + b] = 0.0
        sm[r0 + tid] = power
        _block_sum(sm, r0, tid, nthreads)
        if sm[r0] / frame_len < silent_power:
            if tid == 0:
                centroid[frame] = 0.0
                tilt[frame] = 0.0
            for b in range(tid, n_bands, nthreads):
                ratios[frame, b] = 0.0
            return  # uniform across the block
        # Iterative radix-2 decimation-in-time FFT (input already bit-reversed).
        m = 2
        while m <= n_fft:
            half = m // 2
            step = n_fft // m
            for k in range(tid, n_fft // 2, nthreads):
                pos = k % half
                i = (k // half) * m + pos
                j = i + half
                wr = tw_re[pos * step]
                wi = tw_im[pos * step]
                tr = wr * sm[j] - wi * sm[im0 + j]
                ti = wr * sm[im0 + j] + wi * sm[j]
                sm[j] = sm[i] - tr
                sm[im0 + j] = sm[im0 + i] - ti
                sm[i] += tr
                sm[im0 + i] += ti
            cuda.syncthreads()
            m *= 2
        total = 0.0
        fmag = 0.0
        mag_sum = 0.0
        for b in range(tid, n_fft // 2 + 1, nthreads):
            pw = sm[b] * sm[b] + sm[im0 + b] * sm[im0 + b]
            mg = math.sqrt(pw)
            total += pw
            fmag += freqs[b] * mg
            mag_sum += mg
            tb = tilt_band[b]
            if tb >= 0:
                cuda.atomic.add(sm, tb0 + tb, pw)
            cuda.atomic.add(sm, rb0 + ratio_band[b], pw)
        sm[r0 + tid] = total
        sm[r1 + tid] = fmag
        sm[r2 + tid] = mag_sum
        cuda.syncthreads()
        st = nthreads // 2
        while st > 0:
            if tid < st:
                sm[r0 + tid] += sm[r0 + tid + st]
                sm[r1 + tid] += sm[r1 + tid + st]
                sm[r2 + tid] += sm[r2 + tid + st]
            cuda.syncthreads()
            st //= 2
        if tid == 0:
            total = sm[r0]
            centroid[frame] = sm[r1] / sm[r2]
            if n_tilt >= 2:
                floor = 1e-12 * total / (n_fft // 2 + 1)
                xm = 0.0
                lm = 0.0
                for b in range(n_tilt):
                    xm += tilt_x[b]
                    lm += 10.0 * math.log10(sm[tb0 + b] / tilt_count[b] + floor)
                xm /= n_tilt
                lm /= n_tilt
                num = 0.0
                den = 0.0
                for b in range(n_tilt):
                    dx = tilt_x[b] - xm
                    num += dx * (10.0 * math.log10(sm[tb0 + b] / tilt_count[b] + floor) - lm)
                    den += dx * dx
                tilt[frame] = num / den
            else:
                tilt[frame] = 0.0
        for b in range(tid, n_bands, nthreads):
            ratios[frame, b] = sm[rb0 + b] / sm[r0]


# ----------------------------------------------------------------------------- launch helpers


def _yin_shared_bytes(plan: fr.YinPlan) -> int:
    return 4 * (plan.span + plan.tau_max + 2 + (2 * plan.q + 3) * _YIN_THREADS)


def _spectral_shared_bytes(plan: fr.SpectralPlan) -> int:
    return 8 * (2 * plan.n_fft + 3 * _SPECTRAL_THREADS + len(plan.tilt_x) + plan.n_bands)


def _run_yin(d_x: Any, meta: _Meta, n_frames: int, sr: float, hop: int, plan: fr.YinPlan,
             threshold: float, voicing: float, silence_db: float, stream: Any) -> tuple[Any, Any]:
    if plan.q > 1:
        n_y = -(-meta.size // plan.q)
        d_y = cuda.device_array(n_y, dtype=np.float32, stream=stream)
        d_taps = cuda.to_device(plan.taps.astype(np.float32), stream=stream)
        half = (len(plan.taps) - 1) // 2
        blocks = -(-n_y // _FIR_THREADS)
        _decimate_kernel[blocks, _FIR_THREADS, stream](d_x, d_taps, int(plan.q), int(half), d_y)
    else:
        d_y = d_x
    d_f0 = cuda.device_array(n_frames, dtype=np.float32, stream=stream)
    d_per = cuda.device_array(n_frames, dtype=np.float32, stream=stream)
    d_starts = cuda.to_device(meta.starts, stream=stream)
    d_off = cuda.to_device(meta.frame_offsets, stream=stream)
    _yin_kernel[n_frames, _YIN_THREADS, stream, _yin_shared_bytes(plan)](
        d_x, d_y, d_starts, d_off, int(hop), int(plan.q), int(plan.tau_min), int(plan.tau_max),
        int(plan.win), int(plan.span), float(sr), float(threshold), float(voicing),
        float(10.0 ** (float(silence_db) / 10.0)), float(fr.YIN_SUBMULTIPLE_MARGIN),
        float(fr.YIN_MULTIPLE_RATIO), d_f0, d_per,
    )
    return d_f0, d_per


def _run_energy(d_x: Any, meta: _Meta, n_frames: int, frame: int, hop: int, stream: Any) -> Any:
    d_out = cuda.device_array(n_frames, dtype=np.float32, stream=stream)
    d_starts = cuda.to_device(meta.starts, stream=stream)
    d_off = cuda.to_device(meta.frame_offsets, stream=stream)
    _energy_kernel[n_frames, _ENERGY_THREADS, stream, 4 * _ENERGY_THREADS](
        d_x, d_starts, d_off, int(hop), int(frame), float(fr.SILENT_RMS), d_out
    )
    return d_out


def _nonempty(a: np.ndarray) -> np.ndarray:
    """float64 copy with at least one element (zero-size device arrays are best avoided)."""
    a = np.asarray(a, dtype=np.float64)
    return a if a.size else np.zeros(1)


def _run_spectral(d_x: Any, meta: _Meta, n_frames: int, sr: float, frame: int, hop: int,
                  plan: fr.SpectralPlan, stream: Any) -> tuple[Any, Any, Any]:
    n_fft = plan.n_fft
    k = np.arange(n_fft // 2)
    tw = np.exp(-2j * np.pi * k / n_fft)
    args = [cuda.to_device(np.ascontiguousarray(a), stream=stream) for a in (
        plan.window.astype(np.float64), tw.real.copy(), tw.imag.copy(), plan.freqs,
        plan.tilt_band, _nonempty(plan.tilt_x), _nonempty(plan.tilt_count),
    )]
    d_ratio_band = cuda.to_device(plan.ratio_band, stream=stream)
    d_centroid = cuda.device_array(n_frames, dtype=np.float32, stream=stream)
    d_tilt = cuda.device_array(n_frames, dtype=np.float32, stream=stream)
    d_ratios = cuda.device_array((n_frames, plan.n_bands), dtype=np.float32, stream=stream)
    d_starts = cuda.to_device(meta.starts, stream=stream)
    d_off = cuda.to_device(meta.frame_offsets, stream=stream)
    _spectral_kernel[n_frames, _SPECTRAL_THREADS, stream, _spectral_shared_bytes(plan)](
        d_x, d_starts, d_off, int(hop), int(frame), int(n_fft), int(n_fft.bit_length() - 1),
        args[0], args[1], args[2], args[3], args[4], args[5], args[6], int(len(plan.tilt_x)),
        d_ratio_band, int(plan.n_bands), float(fr.SILENT_RMS**2), d_centroid, d_tilt, d_ratios,
    )
    return d_centroid, d_tilt, d_ratios


# ----------------------------------------------------------------------------- public API


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
    """F0 (Hz, 0 where unvoiced) and periodicity (0..1) per frame, by YIN (see reference.pitch_yin)."""
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
    """``pitch_yin`` of every signal: one upload, one decimation launch, one YIN launch."""
    t0 = time.perf_counter()
    sigs = fr.as_signals(signals)
    sr = fr.check_sr(sr)
    hop = fr.check_int("hop", hop)
    fmin, fmax = fr.check_pitch_range(sr, fmin, fmax)
    threshold, voicing = fr.check_unit("threshold", threshold), fr.check_unit("voicing", voicing)
    plan = fr.yin_plan(sr, fmin, fmax)
    if _yin_shared_bytes(plan) > _SHARED_LIMIT:
        return _fallback().pitch_yin_batch(sigs, sr, hop, fmin, fmax, threshold=threshold,
                                           voicing=voicing, silence_db=silence_db)
    _require()
    meta = _layout_meta([len(s) for s in sigs], hop, reach=plan.reach, align=plan.q)
    stream = cuda.stream()
    clock = _Clock(stream)
    clock.t = t0
    d_x = _upload(sigs, meta, stream, clock)
    n_frames = int(meta.frame_offsets[-1])
    d_f0, d_per = _run_yin(d_x, meta, n_frames, sr, hop, plan, threshold, voicing, silence_db, stream)
    clock.lap("compute")
    f0, per = _to_host(d_f0, stream), _to_host(d_per, stream)
    clock.lap("d2h")
    clock.record("pitch_yin", len(sigs), meta.size, n_frames)
    return list(zip(_split(f0, meta.frame_offsets), _split(per, meta.frame_offsets)))


def energy(x: Any, frame: int, hop: int) -> np.ndarray:
    """Frame RMS level in dBFS: 20*log10(rms), floored at -120 dB (rectangular, centred frames)."""
    return energy_batch([x], frame, hop)[0]


def energy_batch(signals: Sequence[Any], frame: int, hop: int) -> list[np.ndarray]:
    t0 = time.perf_counter()
    sigs = fr.as_signals(signals)
    frame, hop = fr.check_int("frame", frame), fr.check_int("hop", hop)
    _require()
    meta = _layout_meta([len(s) for s in sigs], hop, reach=fr.frames_reach(frame))
    stream = cuda.stream()
    clock = _Clock(stream)
    clock.t = t0
    d_x = _upload(sigs, meta, stream, clock)
    n_frames = int(meta.frame_offsets[-1])
    d_out = _run_energy(d_x, meta, n_frames, frame, hop, stream)
    clock.lap("compute")
    out = _to_host(d_out, stream)
    clock.lap("d2h")
    clock.record("energy", len(sigs), meta.size, n_frames)
    return _split(out, meta.frame_offsets)


def spectral(
    x: Any, sr: float, frame: int, hop: int, n_bands: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectral centroid (Hz), tilt (dB/octave) and band energy ratios per frame (see reference.spectral)."""
    return spectral_batch([x], sr, frame, hop, n_bands=n_bands)[0]


def spectral_batch(
    signals: Sequence[Any], sr: float, frame: int, hop: int, n_bands: int = 4
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    t0 = time.perf_counter()
    sigs = fr.as_signals(signals)
    sr = fr.check_sr(sr)
    frame, hop = fr.check_int("frame", frame, minimum=4), fr.check_int("hop", hop)
    n_bands = fr.check_int("n_bands", n_bands)
    plan = fr.spectral_plan(sr, frame, n_bands)
    if _spectral_shared_bytes(plan) > _SHARED_LIMIT:
        return _fallback().spectral_batch(sigs, sr, frame, hop, n_bands=n_bands)
    _require()
    meta = _layout_meta([len(s) for s in sigs], hop, reach=fr.frames_reach(frame))
    stream = cuda.stream()
    clock = _Clock(stream)
    clock.t = t0
    d_x = _upload(sigs, meta, stream, clock)
    n_frames = int(meta.frame_offsets[-1])
    d_c, d_t, d_r = _run_spectral(d_x, meta, n_frames, sr, frame, hop, plan, stream)
    clock.lap("compute")
    c, t, r = _to_host(d_c, stream), _to_host(d_t, stream), _to_host(d_r, stream)
    clock.lap("d2h")
    clock.record("spectral", len(sigs), meta.size, n_frames)
    off = meta.frame_offsets
    return list(zip(_split(c, off), _split(t, off), _split(r, off)))


def formants_lpc(x: Any, sr: float, frame: int, hop: int, order: int = 10, n_formants: int = 3) -> np.ndarray:
    """Formant frequencies (Hz) per frame from LPC roots; runs on the CPU backend (see module doc)."""
    return formants_lpc_batch([x], sr, frame, hop, order=order, n_formants=n_formants)[0]


def formants_lpc_batch(
    signals: Sequence[Any], sr: float, frame: int, hop: int, order: int = 10, n_formants: int = 3
) -> list[np.ndarray]:
    """CPU fallback: per-frame polynomial root finding is small branchy work, not GPU work."""
    return _fallback().formants_lpc_batch(signals, sr, frame, hop, order=order, n_formants=n_formants)


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
    """Speech activity per frame: level above an adaptive noise floor, then hangover smoothing."""
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
    """Frame levels on the GPU (energy kernel), floor percentile and smoothing on the host."""
    sr = fr.check_sr(sr)
    hop = fr.check_int("hop", hop)
    pct = _check_percentile(floor_percentile)
    min_speech, min_gap = fr.ms_to_frames(min_speech_ms, sr, hop), fr.ms_to_frames(min_silence_ms, sr, hop)
    levels = energy_batch(signals, frame, hop)
    t = time.perf_counter()
    out = [_vad_from_level(level, threshold_db, pct, min_gap, min_speech) for level in levels]
    _add_host_time("vad", time.perf_counter() - t)
    return out


def _add_host_time(kernel: str, seconds: float) -> None:
    last = last_timings()
    if last is not None:
        _LAST[:] = [CallTimings(kernel, last.n_signals, last.n_samples, last.n_frames, last.host_s,
                                last.h2d_s, last.compute_s, last.d2h_s + seconds)]


def _vad_from_level(level: np.ndarray, threshold_db: float, pct: float, min_gap: int, min_speech: int) -> np.ndarray:
    floor = np.percentile(level.astype(np.float64), pct)
    speech = level > floor + float(threshold_db)
    return _drop_short(_bridge_gaps(speech, min_gap), min_speech)


def _run_bounds(mask: np.ndarray, value: bool) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of every run of ``value`` in ``mask`` (vectorised reference._runs)."""
    m = (mask == value).astype(np.int8)
    edges = np.diff(np.concatenate(([0], m, [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _fill(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    marks = np.zeros(n + 1, dtype=np.int64)
    np.add.at(marks, starts, 1)
    np.add.at(marks, ends, -1)
    return np.cumsum(marks[:n]) > 0


def _bridge_gaps(speech: np.ndarray, min_gap: int) -> np.ndarray:
    a, b = _run_bounds(speech, False)
    keep = (a > 0) & (b < len(speech)) & (b - a < min_gap)
    return speech | _fill(len(speech), a[keep], b[keep])


def _drop_short(speech: np.ndarray, min_len: int) -> np.ndarray:
    a, b = _run_bounds(speech, True)
    short = b - a < min_len
    return speech & ~_fill(len(speech), a[short], b[short])


# ----------------------------------------------------------------------------- fused prosody set


def prosody_batch(
    signals: Sequence[Any],
    sr: float,
    hop: int,
    frame: int,
    fmin: float = 50.0,
    fmax: float = 500.0,
    n_bands: int = 4,
) -> list[dict[str, np.ndarray]]:
    """Pitch, energy, spectral shape and VAD of every signal from ONE upload (GPU-only extra).

    The kernels read the same device buffer, laid out with the larger of the pitch and frame gaps
    (a wider zero gap does not change any frame's value), so the audio crosses the bus once. Each
    result dict holds f0, periodicity, energy_db, centroid, tilt, ratios and speech (VAD defaults).
    """
    t0 = time.perf_counter()
    sigs = fr.as_signals(signals)
    sr = fr.check_sr(sr)
    hop = fr.check_int("hop", hop)
    frame = fr.check_int("frame", frame, minimum=4)
    fmin, fmax = fr.check_pitch_range(sr, fmin, fmax)
    n_bands = fr.check_int("n_bands", n_bands)
    yplan = fr.yin_plan(sr, fmin, fmax)
    splan = fr.spectral_plan(sr, frame, n_bands)
    if _yin_shared_bytes(yplan) > _SHARED_LIMIT or _spectral_shared_bytes(splan) > _SHARED_LIMIT:
        raise ValueError("prosody_batch: analysis plan too large for one GPU block; use the single kernels")
    _require()
    reach = max(yplan.reach, fr.frames_reach(frame))
    meta = _layout_meta([len(s) for s in sigs], hop, reach=reach, align=yplan.q)
    stream = cuda.stream()
    clock = _Clock(stream)
    clock.t = t0
    d_x = _upload(sigs, meta, stream, clock)
    n_frames = int(meta.frame_offsets[-1])
    d_f0, d_per = _run_yin(d_x, meta, n_frames, sr, hop, yplan, 0.15, 0.5, -70.0, stream)
    d_en = _run_energy(d_x, meta, n_frames, frame, hop, stream)
    d_c, d_t, d_r = _run_spectral(d_x, meta, n_frames, sr, frame, hop, splan, stream)
    clock.lap("compute")
    host = {k: _to_host(v, stream) for k, v in (("f0", d_f0), ("periodicity", d_per), ("energy_db", d_en),
                                                 ("centroid", d_c), ("tilt", d_t), ("ratios", d_r))}
    off = meta.frame_offsets
    min_speech, min_gap = fr.ms_to_frames(120.0, sr, hop), fr.ms_to_frames(250.0, sr, hop)
    out = []
    for i in range(len(sigs)):
        item = {k: v[off[i] : off[i + 1]] for k, v in host.items()}
        item["speech"] = _vad_from_level(item["energy_db"], 12.0, 10.0, min_gap, min_speech)
        out.append(item)
    clock.lap("d2h")
    clock.record("prosody", len(sigs), meta.size, n_frames)
    return out


# ----------------------------------------------------------------------------- warm-up


def warmup() -> float:
    """Compile every kernel once (tiny inputs); returns the seconds spent. Needs a device."""
    _require()
    t = time.perf_counter()
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(1600)).astype(np.float32)
    pitch_yin(x, 16000, 160, 50.0, 500.0)
    energy(x, 400, 160)
    spectral(x, 16000, 400, 160)
    vad(x, 16000, 160, 400)
    return time.perf_counter() - t
