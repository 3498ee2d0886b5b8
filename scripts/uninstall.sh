#!/usr/bin/env bash
# Remove the job-runner service. Keeps /etc/job-runner and /var/lib/job-runner (settings,
# runs, application packages) unless --purge is given.
#
# Usage: sudo scripts/uninstall.sh [--purge] [--root DIR]
set -euo pipefail
purge=0
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) purge=1; shift ;;
    --root) root="${2%/}"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "uninstall: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$root" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "uninstall: run as root (sudo), or pass --root DIR" >&2; exit 2; }
  systemctl disable --now job-runner.service 2>/dev/null || true
fi
rm -f "$root/etc/systemd/system/job-runner.service" "$root/usr/local/bin/job-runner"
[ -z "$root" ] && systemctl daemon-reload
if [ "$purge" = 1 ]; then
  rm -rf "$root/etc/job-runner" "$root/var/lib/job-runner" "$root/var/log/job-runner"
  [ -z "$root" ] && { userdel job-runner 2>/dev/null || true; }
  echo "uninstall: removed the service, its settings and all data"
else
  echo "uninstall: removed the service; kept $root/etc/job-runner and $root/var/lib/job-runner"
fi
