"""voicecx: how empathic did the agent sound? Diarise, transcribe and score customer-service calls.

    >>> import voicecx
    >>> report = voicecx.analyse("samples/calls/en_empathic.wav")
    >>> report.empathy.score, report.empathy.grade
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "analyse", "Analyser", "Report", "Config", "load_config", "AudioError"]

if TYPE_CHECKING:
    from voicecx.audio import AudioError
    from voicecx.config import Config, load_config
    from voicecx.pipeline import Analyser, analyse
    from voicecx.report import Report

_LAZY = {
    "analyse": "voicecx.pipeline",
    "Analyser": "voicecx.pipeline",
    "Report": "voicecx.report",
    "Config": "voicecx.config",
    "load_config": "voicecx.config",
    "AudioError": "voicecx.audio",
}


def __getattr__(name: str) -> Any:
    """Import lazily so ``import voicecx`` stays instant (numba, torch and Whisper load on first use)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'voicecx' has no attribute {name!r}")
