"""DER (pyannote.metrics, collar 0 and 0.25, overlap included) and speed of voicecx diarisation.

Runs: stereo diarisation of the demo calls, mono diarisation of their downmix (--num-speakers 2),
mono diarisation of pyannote.audio's bundled sample, and — for comparison on that sample —
pyannote's own ``SpeakerDiarization`` pipeline with the same segmentation weights and the same CAM++
embedding (set up through private attributes; benchmark only). Import and model-load times are
reported apart from the per-call times. Prints a table and writes JSON.

    .venv/bin/python benchmarks/diarize_der.py [--json benchmarks/diarize_der.json] [--calls en_empathic zh_call]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from voicecx.audio import Audio, load  # noqa: E402
from voicecx.config import Config  # noqa: E402
from voicecx.diarize import diarize, mono_models, read_rttm  # noqa: E402

CALLS = ["en_empathic", "en_cold", "da_call", "zh_call", "ko_call"]


def der(ref_turns, hyp_turns) -> tuple[float, float]:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = Annotation(), Annotation()
    for t in ref_turns:
        ref[Segment(t.start, t.end)] = t.speaker
    for t in hyp_turns:
        hyp[Segment(t.start, t.end)] = t.speaker
    uem = ref.get_timeline().extent() | hyp.get_timeline().extent() if len(hyp) else ref.get_timeline().extent()
    return tuple(float(DiarizationErrorRate(collar=c, skip_overlap=False)(ref, hyp, uem=uem)) for c in (0.0, 0.25))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def pyannote_own(wav_path: Path, cfg: Config):
    """pyannote.audio's SpeakerDiarization with our weights (RECIPE.md's verified set-up)."""
    import torch
    from pyannote.audio import Model
    from pyannote.audio.core.io import Audio as PAudio
    from pyannote.audio.core.plda import PLDA
    from pyannote.audio.pipelines import SpeakerDiarization
    from pyannote.audio.pipelines.clustering import Clustering

    from voicecx._campplus import CamPlusPlus, PyannoteEmbedding, segmentation_weights
    from voicecx.types import Turn

    model = Model.from_pretrained(str(segmentation_weights()))
    pipe = SpeakerDiarization(segmentation=model, embedding=None, plda=PLDA.__new__(PLDA),
                              clustering="OracleClustering", segmentation_step=cfg.diarize.segmentation_step)
    pipe._embedding = PyannoteEmbedding(CamPlusPlus.load())
    pipe._audio = PAudio(sample_rate=16000, mono="downmix")
    pipe.klustering = "AgglomerativeClustering"
    pipe.clustering = Clustering["AgglomerativeClustering"].value(metric="cosine")
    pipe._expects_num_speakers = False
    pipe.instantiate({"segmentation": {"min_duration_off": 0.0},
                      "clustering": {"method": "centroid", "min_cluster_size": cfg.diarize.min_cluster_size,
                                     "threshold": cfg.diarize.cluster_threshold}})
    call = load(wav_path).at_rate(16000)
    file = {"waveform": torch.from_numpy(call.mono())[None], "sample_rate": 16000, "uri": "sample"}
    out, secs = timed(lambda: pipe(file))
    ann = out.speaker_diarization
    turns = [Turn(str(lab), s.start, s.end) for s, _, lab in ann.itertracks(yield_label=True)]
    return turns, secs, len(ann.labels())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "diarize_der.json"))
    ap.add_argument("--calls", nargs="*", default=CALLS)
    ap.add_argument("--no-pyannote-own", action="store_true")
    args = ap.parse_args()
    cfg = Config()
    calls_dir = ROOT / "samples" / "calls"
    rows = []

    def add(kind, name, dur, secs, ref, turns, n_spk):
        d0, d25 = der(ref, turns)
        rows.append({"mode": kind, "call": name, "duration_s": round(dur, 2), "seconds": round(secs, 3),
                     "x_realtime": round(dur / secs, 1), "der_collar0": round(d0, 4), "der_collar025": round(d25, 4),
                     "speakers": n_spk})

    for name in args.calls:
        call = load(calls_dir / f"{name}.wav")
        ref = read_rttm(calls_dir / f"{name}.rttm")[name]
        diarize(call)  # warm-up (kernel compilation) excluded
        d, secs = timed(lambda: diarize(call))
        add("stereo", name, call.duration_s, secs, ref, d.turns, len(d.labels))

    _, t_import = timed(lambda: (__import__("torch"), __import__("pyannote.audio")))
    _, t_load = timed(lambda: mono_models(cfg.device, cfg.diarize.segmentation_step))
    spec = importlib.util.find_spec("pyannote.audio")
    sample = Path(list(spec.submodule_search_locations)[0]) / "sample" / "sample.wav"
    scall = load(sample)
    sref = next(iter(read_rttm(sample.with_suffix(".rttm")).values()))
    diarize(Audio(scall.samples[:, :16000 * 12], scall.sample_rate), mono=True)  # warm-up
    d, secs = timed(lambda: diarize(scall, mono=True))
    add("mono", "pyannote sample", scall.duration_s, secs, sref, d.turns, len(d.labels))
    if not args.no_pyannote_own:
        turns, secs, n = pyannote_own(sample, cfg)
        add("pyannote own pipeline", "pyannote sample", scall.duration_s, secs, sref, turns, n)
    for name in args.calls:
        call = load(calls_dir / f"{name}.wav")
        ref = read_rttm(calls_dir / f"{name}.rttm")[name]
        mixed = Audio(call.mono()[None], call.sample_rate)
        d, secs = timed(lambda: diarize(mixed, num_speakers=2))
        add("mono downmix", name, call.duration_s, secs, ref, d.turns, len(d.labels))

    print(f"import torch+pyannote: {t_import:.2f} s   model load (segmentation + CAM++): {t_load:.2f} s")
    print(f"{'mode':<22} {'call':<16} {'dur s':>6} {'×RT':>8} {'DER c0':>7} {'DER c.25':>8} {'spk':>4}")
    for r in rows:
        print(f"{r['mode']:<22} {r['call']:<16} {r['duration_s']:>6.1f} {r['x_realtime']:>8.1f} "
              f"{100 * r['der_collar0']:>6.2f}% {100 * r['der_collar025']:>7.2f}% {r['speakers']:>4}")
    Path(args.json).write_text(json.dumps({"import_s": t_import, "model_load_s": t_load, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
