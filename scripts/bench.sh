#!/usr/bin/env bash
# Benchmarks on this machine (never timed assertions in tests; see docs/benchmarks.md).
# Installs and starts the MongoDB wire server (as scripts/test.sh does) for the store parts.
#
# Usage: scripts/bench.sh              the comparisons (examples/compare: ceiling ratio, SSE
#                                      fan-out, LLM-bound runs, store scale, soak, cancel across
#                                      runners), then the
#                                      single-daemon figures (examples/bench.rs); prints a
#                                      table of figure / goal / measured and writes it to
#                                      $CARGO_TARGET_DIR/bench-report.md
#        scripts/bench.sh compare [part ...]   only the comparisons (parts: ceiling fanout llm store soak cancel)
#        scripts/bench.sh single [runs]        only the single-daemon figures (default 100 runs)
#        scripts/bench.sh cluster              claims and log lines/s with 1-3 runners on MongoDB
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/job-runner-target}"
cargo build --release --bin job-runner --example bench --example compare
# The MongoDB parts run against the wire server (see docs/benchmarks.md).
. scripts/lib/nx.sh
# 1,000 SSE clients and their server ends need more than the default 1,024 descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
bin="$CARGO_TARGET_DIR/release/examples"
report="$CARGO_TARGET_DIR/bench-report.md"
case "${1:-all}" in
  compare) shift; "$bin/compare" "$@" | tee "$report" ;;
  single) shift; "$bin/bench" "${1:-100}" ;;
  cluster) "$bin/bench" cluster ;;
  all)
    started=$(date +%s)
    "$bin/compare" | tee "$report"
    "$bin/bench" 100
    echo "bench.sh: everything in $(( $(date +%s) - started )) s; the comparison table is in $report"
    ;;
  *) echo "usage: scripts/bench.sh [compare [part ...] | single [runs] | cluster]" >&2; exit 2 ;;
esac
