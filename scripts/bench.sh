#!/usr/bin/env bash
# Speed and memory benchmark on this machine; results go into docs/benchmarks.md by hand.
# Installs and starts the MongoDB wire server (as scripts/test.sh does) for the store part.
# Usage: scripts/bench.sh [runs-for-latency]   (default 100)
#        scripts/bench.sh cluster               (claims and log lines/s with 1-3 runners on MongoDB)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/job-runner-target}"
cargo build --release --bin job-runner --example bench
# The MongoDB part runs against the wire server (see docs/benchmarks.md).
. scripts/lib/nx.sh
"$CARGO_TARGET_DIR/release/examples/bench" "${1:-100}"
