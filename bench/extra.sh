#!/usr/bin/env bash
# bench/extra.sh — what the shared compare.sh does not cover, dinhdanh alone on
# PostgreSQL + Redis (the reference provider is not driven here: its sign-in needs its
# own interaction pages, and compare.sh has no userinfo):
#   (a) userinfo: GET with bearer access tokens from real code flows (LOGIN tokens of
#       different people), server on CPU 1, wrk on CPU 0: rps, p99, server CPU/request;
#   (b) password login: full interactions (bench/login.py counts only 303s to the
#       client carrying a code), server on both CPUs: logins/s and server CPU per login
#       against the machine's argon2id limit (LIMITS_FILE, output of
#       ../shared/bench/limits/run.sh; without it the ratios are left out);
#   (c) client-credentials throughput while logins saturate, against the same alone.
# Prints a summary and writes the raw lines to bench/results/<time>-extra.txt.
#
# Settings: PEOPLE=1000 DURATION=10 CONC=64 LOGIN_CONC=8 TOKENS=50 PROFILE=release-lto
#   PORT=39402 DB=dd_bench_extra LIMITS_FILE= LOAD_CPUS=0 (wrk's CPU)  KEEP_DB=0
#   SMOKE=1: DURATION=3, PEOPLE=200, TOKENS=10 (proves the scripts, figures meaningless)
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
if [ "${SMOKE:-0}" = 1 ]; then DURATION="${DURATION:-3}"; PEOPLE="${PEOPLE:-200}"; TOKENS="${TOKENS:-10}"; fi
DURATION="${DURATION:-10}"; PEOPLE="${PEOPLE:-1000}"; TOKENS="${TOKENS:-50}"
CONC="${CONC:-64}"; LOGIN_CONC="${LOGIN_CONC:-8}"
OUT="$HERE/results/$STAMP-extra.txt"

prepare "$PEOPLE"

# (a) userinfo -----------------------------------------------------------------------
start_server 1
login_py tokens --users "$PEOPLE" --count "$TOKENS" >"$WORK/tokens"
[ "$(wc -l <"$WORK/tokens")" -ge 1 ] || { echo "bench: no access tokens" >&2; exit 5; }
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(head -1 "$WORK/tokens")" "$BASE/userinfo")"
[ "$code" = 200 ] || { echo "bench: userinfo pre-check answered $code" >&2; exit 5; }
wrk_userinfo "$WORK/tokens" 2 "$CONC" >/dev/null # warm-up
UI="$(measured wrk_userinfo "$WORK/tokens" "$DURATION" "$CONC")"
echo "userinfo conc=$CONC $UI" | tee -a "$OUT"

# (b) password login, (c) client credentials alone and during logins -----------------
start_server 0,1
login_py login --users "$PEOPLE" --conc 2 --duration 2 >/dev/null # warm-up
LOGIN="$(measured login_py login --users "$PEOPLE" --conc "$LOGIN_CONC" --duration "$DURATION")"
echo "login conc=$LOGIN_CONC $LOGIN" | tee -a "$OUT"

CC_BODY="grant_type=client_credentials&scope=api%3Aread"
AUTH="Basic $(basic_cc)"
CC_SOLO="$(measured wrk_fixed "$BASE/token" "$DURATION" "$CONC" POST "$CC_BODY" "$AUTH")"
echo "token_cc alone conc=$CONC $CC_SOLO" | tee -a "$OUT"
login_py login --users "$PEOPLE" --conc "$LOGIN_CONC" --duration "$((DURATION + 2))" >"$WORK/login-bg" &
BG=$!
sleep 1
CC_LOAD="$(measured wrk_fixed "$BASE/token" "$DURATION" "$CONC" POST "$CC_BODY" "$AUTH")"
wait "$BG"
echo "token_cc during-logins conc=$CONC $CC_LOAD" | tee -a "$OUT"
echo "logins during token_cc: $(cat "$WORK/login-bg")" | tee -a "$OUT"

# summary ----------------------------------------------------------------------------
logins="$(field logins "$LOGIN")"; login_cpu="$(field cpu_ms "$LOGIN")"; lps="$(field logins_per_s "$LOGIN")"
cpu_per_login="$(calc "round($login_cpu / max($logins, 1), 2)")"
echo
echo "## dinhdanh alone, $(date -u +%Y-%m-%d), $(nproc) CPUs, $PEOPLE people, ${DURATION}s per run"
printf '| run | rps or logins/s | p50 ms | p99 ms | server CPU ms per op | non-2xx / failed |\n|---|---|---|---|---|---|\n'
ui_req="$(field requests "$UI")"
printf '| userinfo (%s conns, CPU 1) | %s | %s | %s | %s | %s |\n' "$CONC" "$(field rps "$UI")" "$(field p50_ms "$UI")" \
  "$(field p99_ms "$UI")" "$(calc "round($(field cpu_ms "$UI") / max($ui_req, 1), 4)")" "$(field non2xx "$UI")"
printf '| password login (%s browsers, CPUs 0-1) | %s | %s | %s | %s | %s |\n' "$LOGIN_CONC" "$lps" "$(field p50_ms "$LOGIN")" \
  "$(field p99_ms "$LOGIN")" "$cpu_per_login" "$(field failed "$LOGIN")"
for row in "alone:$CC_SOLO" "during logins:$CC_LOAD"; do
  r="${row#*:}"
  printf '| token_cc %s (%s conns) | %s | %s | %s | %s | %s |\n' "${row%%:*}" "$CONC" "$(field rps "$r")" "$(field p50_ms "$r")" \
    "$(field p99_ms "$r")" "$(calc "round($(field cpu_ms "$r") / max($(field requests "$r"), 1), 4)")" "$(field non2xx "$r")"
done
echo
cc_ratio="$(calc "round($(field rps "$CC_LOAD") / max($(field rps "$CC_SOLO"), 0.001), 2)")"
echo "client credentials during logins / alone: ${cc_ratio}x (target >= 0.50)"
if [ -n "${LIMITS_FILE:-}" ] && [ -r "$LIMITS_FILE" ]; then
  line="$(grep 'OWASP-min' "$LIMITS_FILE" | head -1)"
  hash_ms="$(sed -n 's/.*1thr median *\([0-9.]*\) ms.*/\1/p' <<<"$line")"
  limit2="$(sed -n 's/.*2thr aggregate *\([0-9.]*\) hashes.*/\1/p' <<<"$line")"
  echo "one argon2id hash (19 MiB, t=2): $hash_ms ms; 2-core limit $limit2 hashes/s"
  echo "CPU per login / one hash: $(calc "round($cpu_per_login / $hash_ms, 2)")x (target <= 1.25)"
  # Two hashes at once share the memory bus: a hash then costs 2/limit2 seconds of CPU.
  echo "CPU per login / one hash while both cores hash ($(calc "round(2000 / $limit2, 1)") ms): $(calc "round($cpu_per_login * $limit2 / 2000, 2)")x"
  echo "logins/s / 2-core hash limit: $(calc "round($lps / $limit2, 2)") (target >= 0.80)"
else
  echo "(set LIMITS_FILE to the output of ../shared/bench/limits/run.sh for the per-hash ratios)"
fi
echo "raw lines: $OUT"
