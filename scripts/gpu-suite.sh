#!/usr/bin/env bash
# The GPU suite, for a machine with an NVIDIA GPU: builds lepton with the CUDA
# plugin (sm_80 + sm_90), prints the kernel resource table, checks the cuBLASLt
# / cuDNN descriptors (with heuristics, which need a GPU), then runs every op
# of the CUDA backend against the CPU oracle in f32, f16 and bf16 and prints
# latency, GB/s, TFLOP/s and the fraction of the GPU's peak.
#
# Where there is no toolkit, no driver or no GPU it says why and exits 0
# ("skipped"). Arguments go to the suite: --device cuda:N, --iters N, --quick.
# Build tree: $LP_GPU_BUILD (default build-gpu).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${LP_GPU_BUILD:-build-gpu}
JOBS=${JOBS:-$(nproc)}

if ! command -v nvcc >/dev/null 2>&1; then
  echo "gpu-suite: skipped: nvcc not found (the CUDA toolkit builds the plugin)"
  exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target lepton lepton_cuda lepton_gpu_suite cuda_descriptors

echo "== kernel resources ($BUILD/cuda_resources.md)"
tail -n 1 "$BUILD/cuda_resources.md"

echo "== cuBLASLt / cuDNN descriptors"
"$BUILD/tests/cuda/cuda_descriptors"

echo "== ops vs the CPU oracle"
set +e
"$BUILD/lepton_gpu_suite" "$@"
rc=$?
set -e
if [ "$rc" -eq 77 ]; then
  echo "gpu-suite: skipped (the reason is on the line above)"
  exit 0
fi
exit "$rc"
