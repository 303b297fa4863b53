"""Decode any common call recording into float32 legs, with clear errors for bad input.

Why its own module: every entry point (analyse, batch, stream, pitch) must reject the same bad files
with the same one-line message, and long calls must be read in blocks so a 2-hour stereo recording
never exists in memory as float64 (DESIGN §5, §6). Decoding is libsndfile's (via soundfile): WAV
(PCM, float, μ-law, A-law), FLAC, OGG/Vorbis/Opus and MP3. Resampling is soxr's (as in librosa).
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

MIN_SAMPLE_RATE = 8000  # Hz: narrow-band telephone; anything lower cannot carry intelligible speech
MAX_CHANNELS = 2  # agent + customer; multi-track conference exports are out of scope
CLIP_LEVEL = 0.999  # |sample| at or above this counts as clipped
CLIP_WARN_SHARE = 0.001  # warn when more than 0.1 % of samples are clipped
SILENT_LEG_DBFS = -70.0
TRUNCATION_TOLERANCE = 0.99  # compressed formats (VBR MP3) only estimate their length in the header  # a leg whose RMS is below this carries no speech


class AudioError(ValueError):
    """Bad input. The message is one line, fit to show a user as is (the CLI exits with code 2)."""


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


@dataclass(frozen=True)
class Audio:
    """A decoded call: ``samples`` is float32 of shape (channels, n), one row per leg."""

    samples: np.ndarray
    sample_rate: int
    source: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    def leg(self, index: int) -> np.ndarray:
        """One channel as a contiguous 1-D float32 array (stereo calls: 0 = left, 1 = right)."""
        return np.ascontiguousarray(self.samples[index])

    def mono(self) -> np.ndarray:
        """Downmix (mean of the legs), as a mono recorder would have captured the call."""
        if self.channels == 1:
            return self.leg(0)
        return np.ascontiguousarray(self.samples.mean(axis=0, dtype=np.float32))

    def at_rate(self, sample_rate: int) -> "Audio":
        """The same call resampled (soxr HQ); returns self when the rate already matches."""
        if sample_rate == self.sample_rate:
            return self
        rows = [resample(row, self.sample_rate, sample_rate) for row in self.samples]
        return replace(self, samples=np.stack(rows), sample_rate=sample_rate)


def _describe(path: Path) -> str:
    return path.name or str(path)


def info(path: str | Path) -> AudioInfo:
    """Header facts without decoding; raises AudioError for anything that is not usable audio."""
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: empty file (0 bytes)")
    try:
        i = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(f"{p}: not a readable audio file ({_one_line(exc)})") from None
    if i.frames <= 0:
        raise AudioError(f"{p}: contains no audio samples (0-length)")
    if i.samplerate < MIN_SAMPLE_RATE:
        raise AudioError(f"{p}: sample rate {i.samplerate} Hz is below {MIN_SAMPLE_RATE} Hz; speech analysis needs at least telephone band")
    if i.channels > MAX_CHANNELS:
        raise AudioError(f"{p}: {i.channels} channels; expected mono (1) or stereo agent/customer (2)")
    _check_wav_length(p, i.extra_info, i.samplerate, i.channels)
    return AudioInfo(str(p), int(i.samplerate), int(i.channels), int(i.frames), i.format, i.subtype)


_WAV_DATA_SIZE = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_STREAMING_DATA_SIZES = {0, 0xFFFFFFFF, 0x7FFFFFFF}  # recorders that never finished the header


def _check_wav_length(p: Path, log: str, sample_rate: int, channels: int) -> None:
    """libsndfile silently shortens a WAV whose data chunk is cut off; we call that truncated.

    Its header log says ``data : <declared> (should be <present>)``. Headers left at 0 or 0xFFFFFFFF
    by streaming recorders are not truncation and are accepted.
    """
    m = _WAV_DATA_SIZE.search(log or "")
    if not m:
        return
    declared, present = int(m.group(1)), int(m.group(2))
    if declared in _STREAMING_DATA_SIZES or present >= declared:
        return
    ratio = present / declared
    raise AudioError(f"{p}: truncated WAV: header declares {declared} bytes of audio, file holds {present} ({100 * ratio:.0f} %)")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1].strip() if text else type(exc).__name__


def iter_blocks(path: str | Path, block_s: float = 60.0, *, audio_info: AudioInfo | None = None) -> Iterator[np.ndarray]:
    """Yield validated float32 blocks of shape (channels, n) at the file's own rate.

    Memory stays at one block whatever the file length; NaN/inf and truncation are reported with the
    time where they occur.
    """
    i = audio_info or info(path)
    block = max(1, int(block_s * i.sample_rate))
    read = 0
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                data = f.read(block, dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    break
                if not np.isfinite(data).all():
                    bad = int(np.argmax(~np.isfinite(data).all(axis=1)))
                    t = (read + bad) / i.sample_rate
                    raise AudioError(f"{path}: invalid samples (NaN or infinity) at {t:.2f} s")
                read += data.shape[0]
                yield np.ascontiguousarray(data.T)
    except (sf.LibsndfileError, RuntimeError) as exc:
        where = f" after {read / i.sample_rate:.2f} s" if read else ""
        raise AudioError(f"{path}: corrupt audio{where} ({_one_line(exc)})") from None
    if read == 0:
        raise AudioError(f"{path}: contains no audio samples (0-length)")
    if read < i.frames * TRUNCATION_TOLERANCE:
        raise AudioError(f"{path}: truncated: header promises {i.frames / i.sample_rate:.2f} s, file holds {read / i.sample_rate:.2f} s")


def load(path: str | Path, sample_rate: int | None = None, *, block_s: float = 60.0,
         max_duration_s: float | None = None) -> Audio:
    """Decode a call (optionally resampled to ``sample_rate``) and check it is analysable.

    Reads in blocks and resamples block by block (streaming soxr), so peak memory is the float32
    result plus one block. Usable-but-odd input (a silent leg, clipping, very high rates) loads
    with ``warnings``; unusable input raises AudioError.
    """
    i = info(path)
    if max_duration_s is not None and i.duration_s > max_duration_s:
        raise AudioError(f"{path}: {i.duration_s / 3600:.1f} h is longer than the {max_duration_s / 3600:.1f} h limit")
    out_sr = sample_rate or i.sample_rate
    n_out = int(math.ceil(i.frames * out_sr / i.sample_rate)) + 16
    out = np.empty((i.channels, n_out), dtype=np.float32)
    streams = [soxr.ResampleStream(i.sample_rate, out_sr, 1, dtype="float32", quality="HQ")
               for _ in range(i.channels)] if out_sr != i.sample_rate else None
    pos = 0
    clipped = 0
    total = 0
    blocks = iter_blocks(path, block_s, audio_info=i)
    pending = next(blocks, None)
    while pending is not None:
        nxt = next(blocks, None)
        clipped += int(np.count_nonzero(np.abs(pending) >= CLIP_LEVEL))
        total += pending.size
        if streams is None:
            rows = pending
        else:
            last = nxt is None
            rows = np.stack([s.resample_chunk(pending[c], last=last) for c, s in enumerate(streams)])
        n = rows.shape[1]
        out[:, pos:pos + n] = rows
        pos += n
        pending = nxt
    samples = out[:, :pos] if pos < n_out else out
    warnings = list(_quality_warnings(samples, clipped, total, i))
    return Audio(samples=samples, sample_rate=out_sr, source=str(path), warnings=tuple(warnings))


def from_array(samples: np.ndarray, sample_rate: int, source: str = "<array>") -> Audio:
    """Wrap samples already in memory ((n,), (channels, n) float) with the same validation as files."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] > MAX_CHANNELS:
        raise AudioError(f"{source}: expected shape (n,) or (channels<=2, n), got {np.shape(samples)}")
    if x.shape[1] == 0:
        raise AudioError(f"{source}: contains no audio samples (0-length)")
    if sample_rate < MIN_SAMPLE_RATE:
        raise AudioError(f"{source}: sample rate {sample_rate} Hz is below {MIN_SAMPLE_RATE} Hz")
    if not np.isfinite(x).all():
        raise AudioError(f"{source}: invalid samples (NaN or infinity)")
    clipped = int(np.count_nonzero(np.abs(x) >= CLIP_LEVEL))
    warnings = tuple(_quality_warnings(x, clipped, x.size, None))
    return Audio(samples=np.ascontiguousarray(x), sample_rate=int(sample_rate), source=source, warnings=warnings)


def _quality_warnings(samples: np.ndarray, clipped: int, total: int, i: AudioInfo | None) -> Iterator[str]:
    if i is not None and i.sample_rate > 48000:
        yield f"sample rate {i.sample_rate} Hz is unusually high for a call; resampled for analysis"
    if total and clipped / total > CLIP_WARN_SHARE:
        yield f"{100 * clipped / total:.1f} % of samples are clipped; pitch and energy may be distorted"
    for c, row in enumerate(samples):
        if leg_dbfs(row) < SILENT_LEG_DBFS:
            name = "the recording" if samples.shape[0] == 1 else f"channel {c + 1}"
            yield f"{name} is silent (below {SILENT_LEG_DBFS:.0f} dBFS): no speech to analyse there"


def leg_dbfs(x: np.ndarray) -> float:
    """RMS level of a leg in dBFS, computed in float64 blocks so long legs do not overflow float32."""
    if x.size == 0:
        return -math.inf
    acc = 0.0
    step = 1 << 20
    for k in range(0, x.size, step):
        chunk = x[k:k + step].astype(np.float64)
        acc += float(np.dot(chunk, chunk))
    rms = math.sqrt(acc / x.size)
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr HQ, as librosa.resample's default) of a 1-D float32 signal."""
    if orig_sr == target_sr:
        return np.ascontiguousarray(x, dtype=np.float32)
    return np.ascontiguousarray(soxr.resample(np.asarray(x, dtype=np.float32), orig_sr, target_sr, quality="HQ"),
                                dtype=np.float32)
