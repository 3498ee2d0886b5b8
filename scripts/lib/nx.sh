# Sourced by scripts/test.sh and scripts/bench.sh: installs the pinned test servers and tools
# from PyPI into a venv under the target dir if needed (nx-27017, a MongoDB wire server;
# aiosmtpd, an SMTP server; schemathesis, the API fuzzer), starts nx-27017 on a free loopback port, exports
# JOB_RUNNER_TEST_MONGO_URI, JOB_RUNNER_TEST_NX_BIN and JOB_RUNNER_TEST_PYTHON (tests start
# aiosmtpd themselves with it), and stops the server on exit.
NX_VERSION=0.8.1
AIOSMTPD_VERSION=1.4.6
SCHEMATHESIS_VERSION=4.32.5
NX_VENV="$CARGO_TARGET_DIR/test-venv"
version_of() { "$NX_VENV/bin/pip" show "$1" 2>/dev/null | sed -n 's/^Version: //p' || true; }
if [ "$(version_of nx-27017)" != "$NX_VERSION" ] || [ "$(version_of aiosmtpd)" != "$AIOSMTPD_VERSION" ] \
  || [ "$(version_of schemathesis)" != "$SCHEMATHESIS_VERSION" ]; then
  echo "==> installing nx-27017==$NX_VERSION aiosmtpd==$AIOSMTPD_VERSION schemathesis==$SCHEMATHESIS_VERSION into $NX_VENV"
  python3 -m venv "$NX_VENV"
  "$NX_VENV/bin/pip" install -q "nx-27017==$NX_VERSION" "aiosmtpd==$AIOSMTPD_VERSION" \
    "schemathesis==$SCHEMATHESIS_VERSION"
fi
export JOB_RUNNER_TEST_PYTHON="$NX_VENV/bin/python"
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
