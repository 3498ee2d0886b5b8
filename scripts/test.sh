#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
# formatting, lints, then every unit, API, store-contract and process test.
# Needs the Rust toolchain and python3. It installs what the tests need and is not there:
# pandoc (Debian package, to check that CV.docx opens in a real reader) and the MongoDB
# wire server nx-27017 (PyPI, pinned, in a venv under the target dir); it starts that
# server on a free loopback port for the MongoDB tests and stops it on exit. The tests
# start the daemon themselves on loopback ports with temporary directories.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep build artefacts outside the clone so a reused machine rebuilds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/job-runner-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

if ! command -v pandoc >/dev/null 2>&1; then
  echo "==> installing pandoc (apt-get)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends pandoc >/dev/null
fi

# MongoDB wire server for the store contract and multi-runner tests.
NX_VERSION=0.8.1
NX_VENV="$CARGO_TARGET_DIR/mongo-venv"
installed="$("$NX_VENV/bin/pip" show nx-27017 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [ "$installed" != "$NX_VERSION" ]; then
  echo "==> installing nx-27017==$NX_VERSION into $NX_VENV"
  python3 -m venv "$NX_VENV"
  "$NX_VENV/bin/pip" install -q "nx-27017==$NX_VERSION"
fi
NX_DIR="$(mktemp -d)"
NX_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
stop_nx() {
  if [ -f "$NX_DIR/nx.pid" ]; then kill "$(cat "$NX_DIR/nx.pid")" 2>/dev/null || true; fi
  rm -rf "$NX_DIR"
}
trap stop_nx EXIT
"$NX_VENV/bin/nx-27017" -d --host 127.0.0.1 -p "$NX_PORT" --data-dir "$NX_DIR/data" \
  --log-file "$NX_DIR/nx.log" --pid-file "$NX_DIR/nx.pid"
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $NX_PORT), 0.2)" 2>/dev/null && break
  sleep 0.1
done
export JOB_RUNNER_TEST_MONGO_URI="mongodb://127.0.0.1:$NX_PORT/?directConnection=true"
# Tests that stop and restart a server of their own start this binary.
export JOB_RUNNER_TEST_NX_BIN="$NX_VENV/bin/nx-27017"
echo "==> MongoDB wire server on 127.0.0.1:$NX_PORT"

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy -D warnings"
cargo clippy --locked --all-targets -- -D warnings

echo "==> cargo test"
cargo test --locked --all-targets
