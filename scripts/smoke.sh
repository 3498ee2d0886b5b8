#!/usr/bin/env bash
# Smoke test of a running job-runner: health, one run of a posting, its log streamed to
# the end, its artifacts downloaded. Exits non-zero on the first failure.
#
# Usage: scripts/smoke.sh URL SECRET [JOB_ID]
#   URL      e.g. http://127.0.0.1:8000
#   SECRET   RUNNER_API_SECRET
#   JOB_ID   a job document that exists (default: the example posting 65a1b2c3d4e5f60718293a4b,
#            loaded with `job-runner import examples/postings/all.json`)
# SMOKE_TIMEOUT (seconds, default 900) bounds the wait for the run.
set -euo pipefail
url="${1:?usage: smoke.sh URL SECRET [JOB_ID]}"
secret="${2:?usage: smoke.sh URL SECRET [JOB_ID]}"
job="${3:-65a1b2c3d4e5f60718293a4b}"
timeout="${SMOKE_TIMEOUT:-900}"
auth=(-H "Authorization: Bearer $secret")
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

health="$(curl -sS --max-time 5 "$url/health")" || fail "GET /health did not answer"
echo "$health" | grep -q '"status":"unhealthy"' && fail "health is unhealthy: $health"
echo "smoke: health ok"

answer="$(curl -sS --max-time 30 -X POST "${auth[@]}" -H 'Content-Type: application/json' \
  -d "{\"job_id\": \"$job\", \"source\": \"smoke\"}" -w '\n%{http_code}' "$url/jobs/run")" || fail "POST /jobs/run did not answer"
code="${answer##*$'\n'}"
[ "$code" = 200 ] || fail "POST /jobs/run answered $code: ${answer%$'\n'*}"
run="$(echo "$answer" | grep -o '"run_id":"[0-9a-f]\{32\}"' | cut -d'"' -f4)"
[ -n "$run" ] || fail "no run_id in: $answer"
echo "smoke: run $run started"

log="$(curl -sS -N --max-time "$timeout" "${auth[@]}" "$url/jobs/$run/logs")" || fail "log stream of $run broke off"
lines="$(echo "$log" | grep -c '^data: ' || true)"
final="$(echo "$log" | grep -A1 '^event: end' | sed -n 's/^data: //p' | tail -n1)"
[ "$final" = completed ] || fail "run $run ended '${final:-without an end event}'"
echo "smoke: log streamed to the end ($lines lines), run completed"

status="$(curl -sS --max-time 10 "${auth[@]}" "$url/jobs/$run/status")" || fail "GET status failed"
artifacts="$(echo "$status" | grep -o '"/artifacts/[^"]*"' | tr -d '"')"
[ "$(echo "$artifacts" | grep -c .)" -eq 7 ] || fail "expected 7 artifacts, status was: $status"
for path in $artifacts; do
  size="$(curl -sS --max-time 30 -o /dev/null -w '%{size_download}' -f "${auth[@]}" "$url$path")" || fail "download of $path failed"
  [ "$size" -gt 0 ] || fail "$path is empty"
  echo "smoke: downloaded $path ($size bytes)"
done
echo "smoke: OK"
