"""Prosody kernels behind one API, on CPU (numba) or CUDA (DESIGN §4).

>>> b = get_backend("auto")          # CUDA when a GPU is usable, else CPU (logged)
>>> f0, periodicity = b.pitch_yin(x, sr=16000, hop=160, fmin=50.0, fmax=500.0)

Backends: ``"cpu"`` (kernels/cpu.py), ``"cuda"`` (kernels/cuda.py, imported only when asked for),
``"auto"``, and ``"reference"`` (plain numpy, slow: the truth the others are tested against).
Every backend has the same functions with the same signatures: pitch_yin, energy, spectral,
formants_lpc, vad, their ``*_batch`` variants, and ``warmup()`` (compile now; returns seconds).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

__all__ = ["Backend", "BackendUnavailable", "get_backend", "BACKEND_NAMES"]

log = logging.getLogger("voicecx")

BACKEND_NAMES = ("cpu", "cuda", "auto", "reference")
_KERNELS = (
    "pitch_yin", "pitch_yin_batch", "energy", "energy_batch", "spectral", "spectral_batch",
    "formants_lpc", "formants_lpc_batch", "vad", "vad_batch",
)


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here (no GPU, no driver, numba.cuda missing); says why."""


@dataclass(frozen=True)
class Backend:
    """One set of kernels. ``module`` gives access to backend-specific extras (e.g. cuda timings)."""

    name: str  # "cpu" | "cuda" | "reference"
    module: ModuleType
    pitch_yin: Callable
    pitch_yin_batch: Callable
    energy: Callable
    energy_batch: Callable
    spectral: Callable
    spectral_batch: Callable
    formants_lpc: Callable
    formants_lpc_batch: Callable
    vad: Callable
    vad_batch: Callable
    warmup: Callable[[], float]

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"


_cache: dict[str, Backend] = {}
_lock = threading.Lock()


def _wrap(name: str, module: ModuleType) -> Backend:
    warmup = getattr(module, "warmup", None) or _no_warmup
    return Backend(name=name, module=module, warmup=warmup, **{k: getattr(module, k) for k in _KERNELS})


def _no_warmup() -> float:
    """Nothing to compile (the numpy reference)."""
    return 0.0


def _load_cpu() -> Backend:
    from . import cpu

    return _wrap("cpu", cpu)


def _load_reference() -> Backend:
    from . import reference

    return _wrap("reference", reference)


def _load_cuda() -> Backend:
    try:
        from . import cuda
    except Exception as exc:  # ImportError, or numba.cuda failing while it initialises
        raise BackendUnavailable(
            f"cuda backend unavailable: kernels.cuda cannot be imported ({type(exc).__name__}: {_one_line(exc)})"
        ) from None
    try:
        ok, why = cuda.available()
    except Exception as exc:  # a broken driver may raise from the probe itself
        ok, why = False, f"{type(exc).__name__}: {_one_line(exc)}"
    if not ok:
        raise BackendUnavailable(f"cuda backend unavailable: {_one_line(why)}")
    return _wrap("cuda", cuda)


def _one_line(value: object) -> str:
    text = " ".join(str(value).split())
    return text or "unknown reason"


_LOADERS: dict[str, Callable[[], Backend]] = {"cpu": _load_cpu, "cuda": _load_cuda, "reference": _load_reference}


def get_backend(name: str = "cpu") -> Backend:
    """The kernels for ``name`` ("cpu" | "cuda" | "auto" | "reference"), created once per name.

    "cuda" raises BackendUnavailable (one line naming the cause) when it cannot run; "auto" takes
    CUDA when it can run and otherwise falls back to CPU, logging why at INFO level.
    """
    if not isinstance(name, str) or name.lower() not in BACKEND_NAMES:
        raise ValueError(f"unknown kernel backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    name = name.lower()
    with _lock:
        if name in _cache:
            return _cache[name]
        if name == "auto":
            try:
                backend = _cache.get("cuda") or _load_cuda()
                _cache["cuda"] = backend
            except BackendUnavailable as exc:
                log.info("kernels: using cpu (%s)", exc)
                backend = _cache.get("cpu") or _load_cpu()
                _cache["cpu"] = backend
        else:
            backend = _LOADERS[name]()
        _cache[name] = backend
        return backend
