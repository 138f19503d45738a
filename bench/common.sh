# bench/common.sh — sourced by bench/extra.sh and bench/scale.sh: build, a fresh
# PostgreSQL database, our server started/stopped on chosen CPUs, clients, seeding,
# and the measuring helpers (server CPU from procfs, wrk runs). Loopback only.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
HARNESS="${HARNESS:-$ROOT/../shared/bench}"
PROFILE="${PROFILE:-release-lto}"
PORT="${PORT:-39402}"
DB="${DB:-dd_bench_extra}"
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS="${REDIS:-redis://127.0.0.1:6379}"
LOAD_CPUS="${LOAD_CPUS:-0}"
BASE="http://127.0.0.1:$PORT"
CC_CLIENT=bench-client
CODE_CLIENT=bench-rp
CLIENT_SECRET=bench-secret-0123456789abcdef0123456789abcdef
REDIRECT=https://rp.bench.invalid/cb
SEED_PASSWORD="${SEED_PASSWORD:-mat-khau-bench-2026}"
WORK="$(mktemp -d)"
OURS_PID=""
CLK_TCK="$(getconf CLK_TCK)"
mkdir -p "$HERE/results"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"

stop_server() {
  if [ -n "$OURS_PID" ]; then
    kill "$OURS_PID" 2>/dev/null || true
    wait "$OURS_PID" 2>/dev/null || true
    OURS_PID=""
  fi
}

cleanup() {
  stop_server
  [ "${KEEP_DB:-0}" = 1 ] || psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null || { echo "bench: $1 missing ($2)" >&2; exit 3; }; }
need wrk "apt-get install -y wrk"
need psql "postgresql-client"
need python3 "python3"

build() {
  if [ -n "${BIN:-}" ]; then echo "== using BIN=$BIN (no build)" >&2; return; fi
  echo "== building ($PROFILE)" >&2
  (cd "$ROOT" && cargo build --quiet --profile "$PROFILE" --bin dinhdanh)
  local dir="$PROFILE"; [ "$PROFILE" = dev ] && dir=debug
  BIN="$ROOT/target/$dir/dinhdanh"
}

# The environment every dinhdanh command of the run shares.
environment() {
  export DINHDANH_DATABASE_URL="${PG_ADMIN%/*}/$DB"
  export DINHDANH_REDIS_URL="$REDIS" DINHDANH_REDIS_PREFIX="ddbx$$"
  export DINHDANH_LISTEN="127.0.0.1:$PORT" DINHDANH_ISSUER="$BASE" DINHDANH_KEYS_DIR="$WORK/keys" DINHDANH_DEV_KEYS=true
  export DINHDANH_LOG_FORMAT=json RUST_LOG=warn DINHDANH_SHUTDOWN_DRAIN_MS=0 DINHDANH_ACCESS_TOKEN_TTL=3600
}

fresh_db() {
  if [ "${KEEP_DB:-0}" = 1 ] && psql "${PG_ADMIN%/*}/$DB" -qc "SELECT 1" >/dev/null 2>&1; then
    echo "== reusing database $DB (KEEP_DB=1)" >&2
  else
    echo "== fresh database $DB" >&2
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
  fi
  "$BIN" migrate
}

clients() {
  for md in \
    "{\"client_id\":\"$CC_CLIENT\",\"client_secret\":\"$CLIENT_SECRET\",\"grant_types\":[\"client_credentials\"],\"scope\":\"api:read\"}" \
    "{\"client_id\":\"$CODE_CLIENT\",\"client_secret\":\"$CLIENT_SECRET\",\"redirect_uris\":[\"$REDIRECT\"],\"scope\":\"openid profile\"}"; do
    echo "$md" | "$BIN" client create --metadata - >/dev/null 2>&1 || true
  done
}

# seed N: people seed-000001..N (skips those already there); prints the command's JSON.
seed() {
  DINHDANH_SEED_PASSWORD="$SEED_PASSWORD" "$BIN" dev seed --people "$1" --batch "${BATCH:-5000}" 2>"$WORK/seed.log"
}

# prepare N: the binary, the environment, a fresh database with the bench clients and
# N seeded people.
prepare() {
  build
  environment
  fresh_db
  clients
  echo "== seeding $1 people: $(seed "$1" | tr -d '\n ')" >&2
}

# start_server CPUS: dinhdanh pinned to CPUS (e.g. 1 or 0,1), waits until ready.
start_server() {
  stop_server
  taskset -c "$1" "$BIN" serve 2>>"$WORK/ours.log" &
  OURS_PID=$!
  for _ in $(seq 1 100); do curl -fsS "$BASE/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench: dinhdanh did not become ready; log:" >&2
  tail -20 "$WORK/ours.log" >&2
  exit 4
}

ticks() { # CPU ticks (user+system) of pid $1
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

field() { grep -o "$1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2; }

calc() { python3 -c "print($1)"; }

# wrk_fixed URL SECS CONNS [METHOD BODY AUTH]: the shared harness's one-request script.
wrk_fixed() {
  BENCH_METHOD="${4:-GET}" BENCH_BODY="${5:-}" BENCH_AUTH="${6:-}" \
    timeout -k 2 $(($2 + 20)) taskset -c "$LOAD_CPUS" wrk -t 1 -c "$3" -d "${2}s" --timeout 5s \
    -s "$HARNESS/wrk-request.lua" "$1" 2>&1 | grep '^RESULT' || echo "RESULT requests=0 secs=1 rps=0 p50_ms=0 p99_ms=0 non2xx=0 sock_err=1"
}

# wrk_bearer URL TOKENS_FILE SECS CONNS: GET URL rotating through the bearer tokens.
wrk_bearer() {
  BENCH_TOKENS="$2" timeout -k 2 $(($3 + 20)) taskset -c "$LOAD_CPUS" wrk -t 1 -c "$4" -d "${3}s" --timeout 5s \
    -s "$HERE/userinfo.lua" "$1" 2>&1 | grep '^RESULT' || echo "RESULT requests=0 secs=1 rps=0 p50_ms=0 p99_ms=0 non2xx=0 sock_err=1"
}

# wrk_userinfo TOKENS_FILE SECS CONNS: GET our userinfo rotating through the tokens.
wrk_userinfo() { wrk_bearer "$BASE/userinfo" "$@"; }

# measured CMD...: runs CMD, prints its RESULT line plus the server's cpu_ms and cores.
measured() { measured_pids "$OURS_PID" "$@"; }

# ticks_snapshot "PID...": "pid:ticks" for each listed process alive now.
ticks_snapshot() {
  local p t
  for p in $1; do t="$(ticks "$p" 2>/dev/null)" && echo "$p:$t"; done
}

# ticks_delta BEFORE AFTER: CPU ticks used between two snapshots by the processes alive
# at both (a process that exits meanwhile is left out rather than counted negative).
ticks_delta() {
  python3 -c '
import sys
a = dict(x.split(":") for x in sys.argv[1].split())
b = dict(x.split(":") for x in sys.argv[2].split())
print(sum(int(b[p]) - int(a[p]) for p in a if p in b))' "$1" "$2"
}

# measured_pids "PID..." CMD...: like measured, with the CPU of all the listed processes.
measured_pids() {
  local pids="$1" s0 s1 d start end res
  shift
  s0="$(ticks_snapshot "$pids")"; start="$(date +%s.%N)"
  res="$("$@")"
  s1="$(ticks_snapshot "$pids")"; end="$(date +%s.%N)"
  d="$(ticks_delta "$s0" "$s1")"
  echo "$res cpu_ms=$(calc "round($d*1000/$CLK_TCK, 1)") cores=$(calc "round($d/$CLK_TCK/($end-$start), 2)")"
}

login_py() { python3 "$HERE/login.py" "$@" --base "$BASE" --client "$CODE_CLIENT" --secret "$CLIENT_SECRET" \
  --redirect "$REDIRECT" --password "$SEED_PASSWORD"; }

basic_cc() { printf '%s:%s' "$CC_CLIENT" "$CLIENT_SECRET" | base64 -w0; }
