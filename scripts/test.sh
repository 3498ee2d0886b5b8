#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
# formatting, lints, then every unit, API, store-contract and process test.
# Needs only the Rust toolchain: the tests start the daemon themselves on loopback ports
# with temporary directories and an embedded SQLite store.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep build artefacts outside the clone so a reused machine rebuilds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/job-runner-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy -D warnings"
cargo clippy --locked --all-targets -- -D warnings

echo "==> cargo test"
cargo test --locked --all-targets
