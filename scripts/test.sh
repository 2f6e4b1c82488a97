#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs the whole suite, then
# runs it again under AddressSanitizer + UBSan, runs the CUDA kernels emulated on the
# CPU under ThreadSanitizer, then the fuzz targets briefly.
# .ci/run calls exactly this. Build trees: build/, build-asan/, build-cuda-tsan/, build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${LP_FUZZ_SECONDS:-15}
step() { printf '\n==== %s ====\n' "$*"; }

step "dependencies"
bash scripts/install-deps.sh

step "release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"

step "tests (release)"
ctest --test-dir build --output-on-failure -j "$JOBS"

step "asan+ubsan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Asan >/dev/null
cmake --build build-asan -j "$JOBS"

step "tests (asan+ubsan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$JOBS"

step "cuda kernels under ThreadSanitizer (emulated on the CPU)"
# One schedule suffices: TSan finds races from happens-before, not from the order.
cmake -S . -B build-cuda-tsan -DCMAKE_BUILD_TYPE=Release -DLP_CUDA_EMU_SANITIZE=thread >/dev/null
cmake --build build-cuda-tsan -j "$JOBS" --target lp_cuda_emu_tests
ctest --test-dir build-cuda-tsan -R '^cuda\.(emu|runtime)$' --output-on-failure

step "fuzz targets (${FUZZ_SECONDS}s each)"
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DLP_FUZZ=ON \
  -DLP_FUZZ_SECONDS="$FUZZ_SECONDS" >/dev/null
cmake --build build-fuzz -j "$JOBS" --target lp_fuzz_targets
ctest --test-dir build-fuzz --output-on-failure -L fuzz

step "all tests passed"
