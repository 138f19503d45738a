#!/usr/bin/env bash
# bench/userinfo.sh — userinfo side by side with the reference provider, which the shared
# compare.sh does not cover: dinhdanh on PostgreSQL + Redis against oidc-provider with its
# Redis store, both pinned to CPU 1, wrk on CPU 0, rounds interleaved.
#
# Tokens come from real authorization-code flows on each side (bench/login.py): ours
# through our sign-in pages for seeded people (scope "openid profile"), the reference's
# through its development login/consent pages (scope "openid"; its default account
# store answers `sub` only, so it does strictly less work per request than we do).
#
# CPU per request is given twice: server + its Redis (the shared harness's convention),
# and for us also with every PostgreSQL process, since our userinfo reads the person.
#
# Ours runs twice: as shipped ("ours": each node trusts a person record it read for
# DINHDANH_PERSON_CACHE_TTL = 5 s, so with TOKENS people the database is read about
# TOKENS times per 5 s), and with that cache off ("uncached": a PostgreSQL read per
# request, what a relying party that calls userinfo once per sign-in costs). UNCACHED=0
# skips the second.
#
# Settings: ROUNDS=3 DURATION=8 CONC="16 64" TOKENS=50 PEOPLE=1000 PROFILE=release-lto
#   PORT=39402 DB=dd_bench_extra LOAD_CPUS=0   SMOKE=1: one short round (figures meaningless)
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
if [ "${SMOKE:-0}" = 1 ]; then ROUNDS="${ROUNDS:-1}"; DURATION="${DURATION:-2}"; PEOPLE="${PEOPLE:-100}"; TOKENS="${TOKENS:-5}"; CONC="${CONC:-16}"; fi
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-8}"; CONC="${CONC:-16 64}"; TOKENS="${TOKENS:-50}"; PEOPLE="${PEOPLE:-1000}"
PEER_PORT="${PEER_PORT:-39301}"; PEER="http://127.0.0.1:$PEER_PORT"
OUT="$HERE/results/$STAMP-userinfo.txt"

stop_peer() { "$HARNESS/peer-setup.sh" stop >/dev/null 2>&1 || true; }
trap 'stop_peer; cleanup' EXIT
pid_on() { ss -ltnpH "sport = :$1" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1; }

prepare "$PEOPLE"
start_server 1
stop_peer
PEER_STORE=redis PEER_PORT="$PEER_PORT" PEER_MAX_SECONDS=1800 "$HARNESS/peer-setup.sh" >/dev/null
PEER_PID="$(pid_on "$PEER_PORT")"
PEER_REDIS_PID="$(pid_on "${PEER_REDIS_PORT:-39379}")"
OUR_REDIS_PID="$(pid_on "${REDIS##*:}")"

login_py tokens --users "$PEOPLE" --count "$TOKENS" >"$WORK/ours.tokens"
python3 "$HERE/login.py" peer-tokens --base "$PEER" --client bench-client --secret "$CLIENT_SECRET" \
  --redirect http://127.0.0.1:8099/callback --users "$TOKENS" --password any --count "$TOKENS" >"$WORK/peer.tokens"
for side in ours peer; do
  [ "$(wc -l <"$WORK/$side.tokens")" -ge 1 ] || { echo "bench: no $side access tokens" >&2; exit 5; }
done
OURS_URL="$BASE/userinfo"
PEER_URL="$(curl -fsS "$PEER/.well-known/openid-configuration" | python3 -c 'import json,sys; print(json.load(sys.stdin)["userinfo_endpoint"])')"
for pair in "ours $OURS_URL" "peer $PEER_URL"; do
  set -- $pair
  code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(head -1 "$WORK/$1.tokens")" "$2")"
  [ "$code" = 200 ] || { echo "bench: $1 userinfo pre-check answered $code" >&2; exit 5; }
  wrk_bearer "$2" "$WORK/$1.tokens" 2 64 >/dev/null # warm-up
done

# One measured run: label, url, tokens, conc, server pid, its redis pid, and whether
# PostgreSQL's processes (all of them, taken just before the run) count as well.
run_one() {
  local label="$1" url="$2" tokens="$3" conc="$4" srv="$5" redis="$6" more="" s0 res
  [ "$7" = pg ] && more="$(pgrep -x postgres | tr '\n' ' ')"
  s0="$(ticks_snapshot "$more")"
  res="$(measured_pids "$srv $redis" wrk_bearer "$url" "$tokens" "$DURATION" "$conc")"
  local extra_ms; extra_ms="$(calc "round($(ticks_delta "$s0" "$(ticks_snapshot "$more")")*1000/$CLK_TCK, 1)")"
  echo "$label conc=$conc $res more_cpu_ms=$extra_ms" | tee -a "$OUT" >&2
}

rounds() { # rounds LABEL: interleaved rounds of the peer and ours, as started now
  for r in $(seq 1 "$ROUNDS"); do
    for c in $CONC; do
      run_one peer "$PEER_URL" "$WORK/peer.tokens" "$c" "$PEER_PID" "$PEER_REDIS_PID" -
      run_one "$1" "$OURS_URL" "$WORK/ours.tokens" "$c" "$OURS_PID" "$OUR_REDIS_PID" pg
    done
  done
}
rounds ours
if [ "${UNCACHED:-1}" = 1 ]; then
  DINHDANH_PERSON_CACHE_TTL=0 start_server 1 # the same database, Redis prefix and tokens
  wrk_bearer "$OURS_URL" "$WORK/ours.tokens" 2 64 >/dev/null
  rounds uncached
fi

# summary: medians over rounds, per side and concurrency -------------------------------
python3 - "$OUT" "$(date -u +%Y-%m-%d)" "$(nproc)" "$ROUNDS" "$DURATION" <<'EOF'
import statistics as st, sys
path, day, cpus, rounds, secs = sys.argv[1:]
rows = {}
for line in open(path):
    parts = line.split()
    kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    req = max(float(kv["requests"]), 1)
    rows.setdefault((parts[0], kv["conc"]), []).append({
        "rps": float(kv["rps"]), "p99": float(kv["p99_ms"]), "bad": int(kv["non2xx"]) + int(kv["sock_err"]),
        "cpu": float(kv["cpu_ms"]) / req, "cpu_all": (float(kv["cpu_ms"]) + float(kv["more_cpu_ms"])) / req})
med = lambda rs, k: st.median(r[k] for r in rs)
print(f"\n## userinfo, dinhdanh vs oidc-provider (Redis store), {day}, {cpus} CPUs, "
      f"servers on CPU 1, median of {rounds} rounds x {secs}s")
print("| conns | side | rps | p99 ms | CPU ms/req (server+Redis) | CPU ms/req (+PostgreSQL) | failed |")
print("|---|---|---|---|---|---|---|")
for conc in sorted({c for _, c in rows}, key=int):
    for side in ("peer", "ours", "uncached"):
        rs = rows.get((side, conc), [])
        if rs:
            print(f"| {conc} | {side} | {med(rs, 'rps'):.0f} | {med(rs, 'p99'):.2f} | {med(rs, 'cpu'):.4f} | "
                  f"{med(rs, 'cpu_all'):.4f} | {sum(r['bad'] for r in rs)} |")
print()
for side in ("ours", "uncached"):
    for conc in sorted({c for _, c in rows}, key=int):
        p, o = rows.get(("peer", conc)), rows.get((side, conc))
        if p and o:
            print(f"{side} conc {conc}: CPU/request ours/peer {med(o, 'cpu') / med(p, 'cpu'):.2f} "
                  f"(with PostgreSQL {med(o, 'cpu_all') / med(p, 'cpu'):.2f}; target <= 0.33), "
                  f"throughput ours/peer {med(o, 'rps') / med(p, 'rps'):.2f}x (target >= 2.5)")
EOF
echo "raw lines: $OUT"
