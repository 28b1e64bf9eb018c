#!/usr/bin/env bash
# The benchmark: gatehouse (release build, PostgreSQL) against raw actix-web /hello, measured in
# one run on this machine, reported as ratios. Signs in once through the local OpenID Provider
# (npm oidc-provider) to get a real session cookie, then drives load with wrk.
#
#   bench/run.sh            full run (10 s per path), writes bench/RESULTS.md
#   bench/run.sh --smoke    1 s per path: checks that the benchmark works, not its figures
#
# Needs PostgreSQL (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test) and Redis
# (BENCH_REDIS_URL, default redis://127.0.0.1:6379); everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=0; [ "${1:-}" = "--smoke" ] && SMOKE=1
DURATION=10s; [ "$SMOKE" = 1 ] && DURATION=1s
CONNECTIONS=64
PG_ADMIN="${BENCH_POSTGRES_URL:-${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}}"
REDIS_URL="${BENCH_REDIS_URL:-${TEST_REDIS_URL:-redis://127.0.0.1:6379}}"
SESSION_KEY=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')

say() { printf '==> %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
[ -d tests/oidc-provider/node_modules/oidc-provider ] || npm ci --prefix tests/oidc-provider --no-audit --no-fund
psql "$PG_ADMIN" -Atqc 'SELECT 1' >/dev/null || { echo "bench: PostgreSQL does not answer at $PG_ADMIN" >&2; exit 1; }

say "building the release binaries"
cargo build --release --locked --bin gatehouse --example hello 2>&1 | tail -n 1 >&2

DB="gatehouse_bench_$$"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
WORK=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
trap cleanup EXIT
psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
DATABASE_URL=$(python3 -c "import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path='/$DB').geturl())" "$PG_ADMIN")

GH_PORT=$(free_port); OP_PORT=$(free_port); HELLO_PORT=$(free_port)
GH="http://127.0.0.1:$GH_PORT"
CLIENT="{\"client_id\":\"bench\",\"client_secret\":\"bench-secret-0123456789\",\"redirect_uris\":[\"$GH/callback/op\"],\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"]}"
# The provider exits when its stdin closes: hold a FIFO open for the script's lifetime.
mkfifo "$WORK/op.stdin"
node tests/oidc-provider/server.mjs --port "$OP_PORT" --client "$CLIENT" <"$WORK/op.stdin" >/dev/null 2>&1 &
PIDS+=($!)
exec 9>"$WORK/op.stdin"
target/release/examples/hello "127.0.0.1:$HELLO_PORT" >/dev/null 2>&1 & PIDS+=($!)

wait_http() { for _ in $(seq 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done; echo "bench: $1 never answered" >&2; exit 1; }
wait_http "http://127.0.0.1:$OP_PORT/.well-known/openid-configuration"
wait_http "http://127.0.0.1:$HELLO_PORT/hello"

# Starts gatehouse with the given store and database; prints "PID STARTUP_MS".
start_gatehouse() {
  local store=$1 db=$2 t0 t1
  t0=$(date +%s%N)
  env -i PATH="$PATH" DATABASE_URL="$db" BIND_ADDR="127.0.0.1:$GH_PORT" PUBLIC_URL="$GH" SESSION_KEY="$SESSION_KEY" \
    SESSION_STORE="$store" REDIS_URL="$REDIS_URL" RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn \
    OAUTH_PROVIDERS=op OAUTH_OP_KIND=oidc OAUTH_OP_ISSUER="http://127.0.0.1:$OP_PORT" \
    OAUTH_OP_CLIENT_ID=bench OAUTH_OP_CLIENT_SECRET=bench-secret-0123456789 \
    target/release/gatehouse >"$WORK/gatehouse.log" 2>&1 &
  local pid=$!
  for _ in $(seq 400); do curl -fs -o /dev/null "$GH/healthz" && break; sleep 0.005; done
  t1=$(date +%s%N)
  echo "$pid $(( (t1 - t0) / 1000000 ))"
}
stop() { kill "$1" 2>/dev/null || { echo "bench: gatehouse had exited; its log:" >&2; cat "$WORK/gatehouse.log" >&2; exit 1; }; wait "$1" 2>/dev/null || true; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# wrk, printing "REQ_PER_SEC P99_MS".
load() {
  local url=$1; shift
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" | awk '
    /Requests\/sec/ { rps = $2 }
    /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } p99 = v }
    END { printf "%.0f %.2f\n", rps, p99 }'
}

ROWS=()
row() { ROWS+=("$1|$2|$3|$4"); }

say "ceiling: actix-web /hello"
read -r HELLO_RPS HELLO_P99 < <(load "http://127.0.0.1:$HELLO_PORT/hello")
row "actix-web /hello (ceiling)" "$HELLO_RPS" "$HELLO_P99" "-"

read -r PID SQLITE_START < <(start_gatehouse cookie "sqlite://$WORK/bench.db"); stop "$PID"
read -r PID PG_START < <(start_gatehouse cookie "$DATABASE_URL"); stop "$PID"

for store in cookie redis database; do
  read -r PID _ < <(start_gatehouse "$store" "$DATABASE_URL")
  IDLE_KB=$(rss_kb "$PID")
  COOKIE=$(python3 bench/signin.py "$GH" op "bench-user")
  say "store=$store: signed in; loading"
  read -r RPS P99 < <(load "$GH/profile" -H "Cookie: $COOKIE")
  row "GET /profile, signed in ($store store)" "$RPS" "$P99" "$(hwm_kb "$PID")"
  read -r RPS P99 < <(load "$GH/api/me" -H "Cookie: $COOKIE")
  row "GET /api/me, signed in ($store store)" "$RPS" "$P99" "$(hwm_kb "$PID")"
  if [ "$store" = cookie ]; then
    read -r RPS P99 < <(load "$GH/login")
    row "GET /login" "$RPS" "$P99" "$(hwm_kb "$PID")"
    read -r RPS P99 < <(load "$GH/profile")
    row "GET /profile, signed out (redirect)" "$RPS" "$P99" "$(hwm_kb "$PID")"
    COOKIE_IDLE_KB=$IDLE_KB; COOKIE_HWM_KB=$(hwm_kb "$PID")
  fi
  stop "$PID"
done

TABLE=$(
  echo "| path | req/s | ratio to /hello | p99 ms | p99 / ceiling p99 | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r name rps p99 kb <<<"$r"
    python3 - "$name" "$rps" "$p99" "$kb" "$HELLO_RPS" "$HELLO_P99" <<'PY'
import sys
name, rps, p99, kb, hello, hello_p99 = sys.argv[1:]
mib = "-" if kb == "-" else f"{int(kb) / 1024:.1f}"
print(f"| {name} | {float(rps):,.0f} | {float(rps) / float(hello):.0%} | {float(p99):.2f} | {float(p99) / float(hello_p99):.1f}x | {mib} |")
PY
  done
)
SUMMARY="start-up to ready: SQLite ${SQLITE_START} ms, PostgreSQL ${PG_START} ms; RSS idle $((COOKIE_IDLE_KB / 1024)) MiB, peak under load $((COOKIE_HWM_KB / 1024)) MiB (cookie store)"
echo "$TABLE"
echo
echo "$SUMMARY"

if [ "$SMOKE" = 1 ]; then
  [ "${#ROWS[@]}" -eq 9 ] || { echo "bench smoke: expected 9 measurements, got ${#ROWS[@]}" >&2; exit 1; }
  echo "bench smoke: ok"
else
  {
    echo "# Benchmark results"
    echo
    echo "Command: \`bench/run.sh\` (wrk -t2 -c$CONNECTIONS -d$DURATION --latency; gatehouse release build, 2 workers, PostgreSQL; one sign-in through the local OpenID Provider for a real cookie)."
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); run on $(date -u +%Y-%m-%d). Ratios are against raw actix-web /hello measured in the same run."
    echo
    echo "$TABLE"
    echo
    echo "$SUMMARY."
  } > bench/RESULTS.md
  say "wrote bench/RESULTS.md"
fi
