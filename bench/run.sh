#!/usr/bin/env bash
# bench/run.sh — dinhdanh on PostgreSQL + Redis against the reference provider
# (oidc-provider with its Redis store), side by side in one run, with the shared harness
# (../shared/bench: peer-setup.sh, compare.sh, load.sh). Prints the harness's table and
# writes the raw rows to bench/results/<time>.tsv. Loopback only; everything it starts
# stops by itself or at the end.
#
# Settings (environment): HARNESS=../shared/bench  ROUNDS=3  DURATION=8  CONC="16 64"
#   PROFILE=release-lto  PORT=39401  DB=dd_bench  PG_ADMIN=postgres://postgres@127.0.0.1:5432/postgres
#   REDIS=redis://127.0.0.1:6379
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
HARNESS="${HARNESS:-$ROOT/../shared/bench}"
PROFILE="${PROFILE:-release-lto}"
PORT="${PORT:-39401}"
DB="${DB:-dd_bench}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS="${REDIS:-redis://127.0.0.1:6379}"
CLIENT_ID=bench-client
CLIENT_SECRET=bench-secret-0123456789abcdef0123456789abcdef
WORK="$(mktemp -d)"
OURS_PID=""

cleanup() {
  [ -n "$OURS_PID" ] && kill "$OURS_PID" 2>/dev/null || true
  "$HARNESS/peer-setup.sh" stop >/dev/null 2>&1 || true
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "bench/run.sh: wrk missing (apt-get install -y wrk)" >&2; exit 3; }

echo "== building ($PROFILE)" >&2
(cd "$ROOT" && cargo build --quiet --profile "$PROFILE" --bin dinhdanh)
BIN="$ROOT/target/$PROFILE/dinhdanh"

echo "== fresh database $DB" >&2
psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
export DINHDANH_DATABASE_URL="${PG_ADMIN%/*}/$DB"
export DINHDANH_REDIS_URL="$REDIS" DINHDANH_REDIS_PREFIX="ddbench$$"
export DINHDANH_LISTEN="127.0.0.1:$PORT" DINHDANH_KEYS_DIR="$WORK/keys" DINHDANH_DEV_KEYS=true
export DINHDANH_LOG_FORMAT=json RUST_LOG=warn DINHDANH_SHUTDOWN_DRAIN_MS=0
"$BIN" migrate
printf '{"client_id":"%s","client_secret":"%s","grant_types":["client_credentials"],"scope":"api:read"}' \
  "$CLIENT_ID" "$CLIENT_SECRET" | "$BIN" client create --metadata - >/dev/null
# The same client with opaque access tokens: the like-for-like comparison with the
# peer's opaque client-credentials tokens.
printf '{"client_id":"%s-opaque","client_secret":"%s","grant_types":["client_credentials"],"scope":"api:read","access_token_strategy":"opaque"}' \
  "$CLIENT_ID" "$CLIENT_SECRET" | "$BIN" client create --metadata - >/dev/null

echo "== starting dinhdanh on CPU 1" >&2
taskset -c 1 "$BIN" serve 2>"$WORK/ours.log" &
OURS_PID=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null
IDLE_RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$OURS_PID/status")

echo "== starting the peer (oidc-provider, Redis store) on CPU 1" >&2
PEER_STORE=redis "$HARNESS/peer-setup.sh" >/dev/null
PEER_PID=$(ss -ltnpH "sport = :39301" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)
PEER_IDLE_RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$PEER_PID/status")
PEER_REDIS_PID=$(ss -ltnpH "sport = :39379" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)
OUR_REDIS_PID=$(ss -ltnpH "sport = :${REDIS##*:}" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)

mkdir -p "$HERE/results"
OUT="$HERE/results/$(date -u +%Y%m%dT%H%M%SZ).tsv"
echo "idle RSS: ours $((IDLE_RSS_KB / 1024)) MiB, peer $((PEER_IDLE_RSS_KB / 1024)) MiB" >&2
A_RESOURCE=urn:bench:api B_RESOURCE=urn:bench:api \
A_EXTRA_PIDS="$PEER_REDIS_PID" B_EXTRA_PIDS="$OUR_REDIS_PID" OUT="$OUT" \
  "$HARNESS/compare.sh" \
    http://127.0.0.1:39301 "$CLIENT_ID" "$CLIENT_SECRET" \
    "http://127.0.0.1:$PORT" "$CLIENT_ID" "$CLIENT_SECRET"
echo "== opaque access tokens on both sides (token_cc, introspect)" >&2
ENDPOINTS="token_cc introspect" A_EXTRA_PIDS="$PEER_REDIS_PID" B_EXTRA_PIDS="$OUR_REDIS_PID" \
  OUT="${OUT%.tsv}-opaque.tsv" A_LABEL=peer B_LABEL=ours-opaque \
  "$HARNESS/compare.sh" \
    http://127.0.0.1:39301 "$CLIENT_ID" "$CLIENT_SECRET" \
    "http://127.0.0.1:$PORT" "$CLIENT_ID-opaque" "$CLIENT_SECRET"
PEAK_KB=$(awk '/VmHWM/ {print $2}' "/proc/$OURS_PID/status")
PEER_PEAK_KB=$(awk '/VmHWM/ {print $2}' "/proc/$PEER_PID/status" 2>/dev/null || echo 0)
echo "memory: ours idle $((IDLE_RSS_KB / 1024)) MiB peak $((PEAK_KB / 1024)) MiB; peer idle $((PEER_IDLE_RSS_KB / 1024)) MiB peak $((PEER_PEAK_KB / 1024)) MiB"
echo "raw rows: $OUT"
