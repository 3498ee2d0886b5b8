#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
# formatting, lints, then every unit, API, store-contract and process test.
# Needs the Rust toolchain and python3. It installs what the tests need and is not there:
# Debian's pandoc, systemd (systemd-analyze), prometheus (promtool), docker-compose,
# chromium, poppler-utils, nodejs and npm packages, test servers and tools from PyPI
# (nx-27017, a MongoDB wire server; aiosmtpd; schemathesis, which fuzzes the live API
# against its OpenAPI document) in a venv under the target dir, and playwright-core from
# npm (it drives chromium in the console's browser test) under the target dir too; it starts nx-27017 on a free loopback port for the MongoDB
# tests and stops it on exit. The tests start the daemon (and aiosmtpd) themselves on
# loopback ports with temporary directories.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep build artefacts outside the clone so a reused machine rebuilds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/job-runner-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Debian packages the tests run: pandoc (CV.docx opens in a real reader), systemd-analyze
# (the unit file verifies), promtool (the /metrics output is valid), docker-compose (the
# compose file validates; no engine needed), chromium (headless: the /docs page renders),
# poppler-utils (pdftotext, pdffonts, pdfinfo read the PDFs back).
missing=()
command -v pandoc >/dev/null 2>&1 || missing+=(pandoc)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (apt-get)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# MongoDB wire server for the store contract and multi-runner tests.
. scripts/lib/nx.sh

# playwright-core (npm, no browser download) drives Debian's chromium in the console's
# browser test (tests/browser/console.cjs).
PLAYWRIGHT_VERSION="1.65.1"
PW_DIR="$CARGO_TARGET_DIR/browser-test"
if ! grep -qs "\"version\": \"$PLAYWRIGHT_VERSION\"" "$PW_DIR/node_modules/playwright-core/package.json"; then
  echo "==> installing playwright-core $PLAYWRIGHT_VERSION (npm)"
  mkdir -p "$PW_DIR"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$PW_DIR" --no-audit --no-fund --silent \
    "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null
fi
export JOB_RUNNER_TEST_PLAYWRIGHT="$PW_DIR/node_modules/playwright-core"

echo "==> layer check (imports go one way: docs/architecture.md)"
python3 scripts/check_layers.py

echo "==> secrets check (the tree and the git history hold no key)"
python3 scripts/check_secrets.py

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy -D warnings"
cargo clippy --locked --all-targets -- -D warnings

echo "==> cargo test"
# The bench example is compiled by clippy above; it has no tests of its own.
log="$(mktemp)"
cargo test --locked --lib --bins --tests 2>&1 | tee "$log"
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
