#!/usr/bin/env bash
# Installs the peers the benchmarks compare lepton with (benchmarks/README.md),
# by package name only, on top of scripts/install-deps.sh. Not needed to build
# or test: CI never runs it. Safe to run any number of times.
#
# PyTorch from PyPI by name is its CUDA build (a few GB); it runs on the CPU
# too. torchvision goes in with --no-deps so that it cannot pull a different
# torch.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

APT_PACKAGES=(wrk)                       # the load generator `lepton bench` is checked against
PIP_PACKAGES=(torch transformers sentence-transformers tokenizers sentencepiece
              onnx onnxruntime ctranslate2 matplotlib)
PIP_NODEPS_PACKAGES=(torchvision)

log() { printf 'install-bench-deps: %s\n' "$*"; }

for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    log "apt-get install $p"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null
  fi
done

PY=${PYTHON:-python3}
for p in "${PIP_PACKAGES[@]}" "${PIP_NODEPS_PACKAGES[@]}"; do
  "$PY" -m pip show -q "$p" >/dev/null 2>&1 && continue
  if [[ " ${PIP_NODEPS_PACKAGES[*]} " == *" $p "* ]]; then
    log "pip install --no-deps $p"
    "$PY" -m pip install -q --disable-pip-version-check --no-deps "$p"
  else
    log "pip install $p"
    "$PY" -m pip install -q --disable-pip-version-check "$p"
  fi
done
log "benchmark peers present"
