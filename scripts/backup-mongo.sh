#!/usr/bin/env bash
# Back up job-runner's MongoDB data: the dashboard's job collection and the runner's own
# collections, as one gzip'd mongodump archive; keeps the newest N archives.
#
# Usage: scripts/backup-mongo.sh [--env-file FILE] [--out DIR] [--keep N]
#   Connection settings come from the environment (or --env-file, e.g. /etc/job-runner/env):
#   MONGODB_URI (required), MONGODB_DB (default jobs), MONGODB_JOBS_COLLECTION (default
#   level-2), MONGODB_COLLECTION_PREFIX (default runner_).
#   --out DIR   where archives go (default /var/backups/job-runner)
#   --keep N    archives to keep, newest first (default 14)
# Exit status: 0 on success; non-zero when the dump fails (the partial archive is removed).
#
# Restore (into the same or another server):
#   mongorestore --uri "$MONGODB_URI" --gzip --archive=FILE --drop \
#     --nsInclude "$MONGODB_DB.$MONGODB_JOBS_COLLECTION" --nsInclude "$MONGODB_DB.${MONGODB_COLLECTION_PREFIX}*"
# Stop the runners first (systemctl stop job-runner) so no run writes during the restore.
set -euo pipefail

out=/var/backups/job-runner
keep=14
while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) set -a; . "$2"; set +a; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "backup-mongo: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$keep" in ''|*[!0-9]*|0) echo "backup-mongo: --keep must be a whole number ≥ 1, got '$keep'" >&2; exit 2 ;; esac
: "${MONGODB_URI:?backup-mongo: MONGODB_URI is not set}"
db="${MONGODB_DB:-jobs}"
jobs="${MONGODB_JOBS_COLLECTION:-level-2}"
prefix="${MONGODB_COLLECTION_PREFIX:-runner_}"
command -v mongodump >/dev/null 2>&1 || {
  echo "backup-mongo: mongodump not found (install MongoDB Database Tools)" >&2
  exit 3
}

mkdir -p "$out"
archive="$out/job-runner-$db-$(date -u +%Y%m%dT%H%M%SZ).archive.gz"
if ! mongodump --uri="$MONGODB_URI" --db="$db" --gzip --archive="$archive" \
    --nsInclude="$db.$jobs" --nsInclude="$db.${prefix}*" --quiet; then
  rm -f "$archive"
  echo "backup-mongo: mongodump failed; no archive written" >&2
  exit 4
fi
if [ ! -s "$archive" ]; then
  rm -f "$archive"
  echo "backup-mongo: mongodump wrote an empty archive" >&2
  exit 4
fi
echo "backup-mongo: wrote $archive ($(wc -c < "$archive") bytes)"

# Keep the newest $keep archives of this database.
mapfile -t old < <(ls -1t "$out"/job-runner-"$db"-*.archive.gz 2>/dev/null | tail -n +"$((keep + 1))")
for f in "${old[@]}"; do
  rm -f -- "$f"
  echo "backup-mongo: removed old archive $f"
done
