#!/usr/bin/env bash
# bench/scale.sh — login and userinfo latency with SMALL people and with BIG people in
# one run (same database, same server): seeds SMALL (default 1 000), measures, seeds up
# to BIG (default 1 000 000; `dinhdanh dev seed`, its time is printed), measures again,
# and prints BIG/SMALL latency ratios (target <= 1.2x). Also shows PostgreSQL's plans for
# the lookups these requests make (sign-in by username, userinfo by person id), which
# must be index scans. Server on CPU 1; wrk and the login driver on CPU 0.
#
# Settings: SMALL=1000 BIG=1000000 BATCH=5000 DURATION=10 CONC=16 LOGIN_CONC=2 TOKENS=50
#   PROFILE=release-lto PORT=39403 DB=dd_bench_scale KEEP_DB=0 (1: keep the seeded
#   database for the next run; seeding skips people already there)
#   SMOKE=1: BIG=20000, DURATION=3, TOKENS=10 (proves the script; figures meaningless)
set -euo pipefail
PORT="${PORT:-39403}"; DB="${DB:-dd_bench_scale}"
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
if [ "${SMOKE:-0}" = 1 ]; then BIG="${BIG:-20000}"; DURATION="${DURATION:-3}"; TOKENS="${TOKENS:-10}"; fi
SMALL="${SMALL:-1000}"; BIG="${BIG:-1000000}"; DURATION="${DURATION:-10}"; TOKENS="${TOKENS:-50}"
CONC="${CONC:-16}"; LOGIN_CONC="${LOGIN_CONC:-2}"
OUT="$HERE/results/$STAMP-scale.txt"

build
environment
fresh_db
clients

# measure N: login and userinfo latency over people 1..N; sets LOGIN_N / UI_N lines.
measure() {
  local n="$1"
  login_py tokens --users "$n" --count "$TOKENS" >"$WORK/tokens-$n"
  taskset -c "$LOAD_CPUS" python3 "$HERE/login.py" login --base "$BASE" --client "$CODE_CLIENT" --redirect "$REDIRECT" \
    --password "$SEED_PASSWORD" --users "$n" --conc 1 --duration 2 >/dev/null # warm-up
  local login ui
  login="$(measured taskset -c "$LOAD_CPUS" python3 "$HERE/login.py" login --base "$BASE" --client "$CODE_CLIENT" \
    --redirect "$REDIRECT" --password "$SEED_PASSWORD" --users "$n" --conc "$LOGIN_CONC" --duration "$DURATION")"
  wrk_userinfo "$WORK/tokens-$n" 2 "$CONC" >/dev/null # warm-up
  ui="$(measured wrk_userinfo "$WORK/tokens-$n" "$DURATION" "$CONC")"
  echo "people=$n login conc=$LOGIN_CONC $login" | tee -a "$OUT" >&2
  echo "people=$n userinfo conc=$CONC $ui" | tee -a "$OUT" >&2
  eval "LOGIN_$2=\"\$login\"; UI_$2=\"\$ui\""
}

echo "== seeding $SMALL people: $(seed "$SMALL" | tr -d '\n ')" | tee -a "$OUT" >&2
start_server 1
measure "$SMALL" SMALL
echo "== seeding up to $BIG people (this is the timed seeding run)" >&2
SEEDED="$(seed "$BIG" | tr -d '\n ')"
echo "seed $BIG: $SEEDED" | tee -a "$OUT" >&2
psql "$DINHDANH_DATABASE_URL" -qc "ANALYZE people" >/dev/null
measure "$BIG" BIG

echo "== query plans at $BIG people" >&2
PLANS="$(psql "$DINHDANH_DATABASE_URL" -At \
  -c "EXPLAIN SELECT * FROM people WHERE username = 'seed-$(printf '%06d' "$BIG")'" \
  -c "EXPLAIN SELECT * FROM people WHERE id = 'seed-p-$(printf '%08d' "$BIG")'")"
echo "$PLANS" | tee -a "$OUT"
grep -q "Seq Scan" <<<"$PLANS" && echo "WARNING: a sequential scan: a lookup is not indexed" | tee -a "$OUT"

echo
echo "## latency at $SMALL and at $BIG people, $(date -u +%Y-%m-%d), $(nproc) CPUs, ${DURATION}s per run"
printf '| run | people | ops/s | p50 ms | p99 ms | failed / non-2xx |\n|---|---|---|---|---|---|\n'
for k in SMALL BIG; do
  n="${!k}"; l="LOGIN_$k"; u="UI_$k"
  printf '| login (POST, %s browsers) | %s | %s | %s | %s | %s |\n' "$LOGIN_CONC" "$n" "$(field logins_per_s "${!l}")" \
    "$(field post_p50_ms "${!l}")" "$(field post_p99_ms "${!l}")" "$(field failed "${!l}")"
  printf '| userinfo (%s conns) | %s | %s | %s | %s | %s |\n' "$CONC" "$n" "$(field rps "${!u}")" \
    "$(field p50_ms "${!u}")" "$(field p99_ms "${!u}")" "$(field non2xx "${!u}")"
done
lr50="$(calc "round($(field post_p50_ms "$LOGIN_BIG") / max($(field post_p50_ms "$LOGIN_SMALL"), 0.001), 2)")"
lr99="$(calc "round($(field post_p99_ms "$LOGIN_BIG") / max($(field post_p99_ms "$LOGIN_SMALL"), 0.001), 2)")"
ur50="$(calc "round($(field p50_ms "$UI_BIG") / max($(field p50_ms "$UI_SMALL"), 0.001), 2)")"
ur99="$(calc "round($(field p99_ms "$UI_BIG") / max($(field p99_ms "$UI_SMALL"), 0.001), 2)")"
echo
echo "login latency $BIG/$SMALL: p50 ${lr50}x, p99 ${lr99}x (target <= 1.2x)"
echo "userinfo latency $BIG/$SMALL: p50 ${ur50}x, p99 ${ur99}x (target <= 1.2x)"
echo "seeding: $SEEDED"
echo "raw lines: $OUT"
