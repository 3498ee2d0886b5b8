#!/usr/bin/env bash
# Install or upgrade job-runner as a systemd service. Idempotent: re-running upgrades the
# binary and unit, keeps /etc/job-runner/env and all data, and restarts the service.
#
# Usage: sudo scripts/install.sh [--binary PATH] [--no-start] [--root DIR]
#   --binary PATH  install this binary instead of building target/release/job-runner
#   --no-start     install and enable, but do not (re)start now
#   --root DIR     install under DIR instead of / (packaging and tests; skips the system
#                  user and systemctl)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=""
start=1
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --no-start) start=0; shift ;;
    --root) root="${2%/}"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install: run as root (sudo), or pass --root DIR" >&2
  exit 2
fi
if [ -z "$binary" ]; then
  cargo build --release --locked --bin job-runner
  binary="${CARGO_TARGET_DIR:-target}/release/job-runner"
fi
[ -x "$binary" ] || { echo "install: $binary is not an executable" >&2; exit 2; }

etc="$root/etc/job-runner"
state="$root/var/lib/job-runner"
unit_dir="$root/etc/systemd/system"
bin_dir="$root/usr/local/bin"

if [ -z "$root" ] && ! id job-runner >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/job-runner --shell /usr/sbin/nologin --user-group job-runner
  echo "install: created system user job-runner"
fi

mkdir -p "$bin_dir" "$etc" "$unit_dir" "$state/profiles"
# Replace the binary atomically (a running daemon keeps its old inode until restarted).
install -m 0755 "$binary" "$bin_dir/.job-runner.new"
mv -f "$bin_dir/.job-runner.new" "$bin_dir/job-runner"
install -m 0644 config/default.toml "$etc/default.toml"
install -m 0644 systemd/job-runner.service "$unit_dir/job-runner.service"
if [ ! -f "$etc/env" ]; then
  umask 077
  secret="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  cat > "$etc/env" <<ENV
# job-runner settings (see /etc/job-runner/default.toml for every key). Mode 600.
ENVIRONMENT=production
HOST=127.0.0.1
PORT=8000
RUNNER_API_SECRET=$secret
# MONGODB_URI=mongodb://user:password@host:27017
# ALERT_TO=you@example.com
# SMTP_URL=smtps://user:password@smtp.example.com:465
ENV
  echo "install: wrote $etc/env with a new RUNNER_API_SECRET (edit it, then restart)"
else
  echo "install: kept existing $etc/env"
fi
# The settings hold secrets: only root reads them (systemd reads EnvironmentFile as root
# before it drops to the service user). Also tightens an env file from older installs.
chmod 600 "$etc/env"
if [ "$(id -u)" -eq 0 ]; then
  chown root:root "$etc/env"
fi
if [ -z "$root" ]; then
  chown root:job-runner "$etc"
  chmod 750 "$etc"
  chown -R job-runner:job-runner "$state"
  systemctl daemon-reload
  systemctl enable job-runner.service
  if [ "$start" = 1 ]; then
    systemctl restart job-runner.service
    echo "install: job-runner (re)started; check: systemctl status job-runner"
  fi
fi
echo "install: done ($("$bin_dir/job-runner" --version))"
