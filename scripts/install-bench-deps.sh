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

# shellcheck source=scripts/install-lib.sh
source scripts/install-lib.sh
install_missing_apt
install_missing_pip
log "benchmark peers present"
