#!/usr/bin/env bash
# The benchmark: gatehouse (release build, PostgreSQL) against raw actix-web /hello, measured in
# one run on this machine, reported as ratios. Signs users in through the local OpenID Provider
# (npm oidc-provider) for real session cookies, then drives load with wrk, a different user's
# cookie on every request. Also measures CPU per completed sign-in, RSS, start-up time,
# /api/me latency with 1,000 and with 1,000,000 users in the database, and /profile on the
# server-side stores with 1,000 and with 1,001,000 live sessions.
#
#   bench/run.sh            full run (10 s per path, 1,000 signed-in users), writes bench/RESULTS.md
#   bench/run.sh --smoke    1 s per path, 20 users, 10,000 in the scale and growth steps: checks that the
#                           benchmark works, not its figures
#
# Needs PostgreSQL (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test) and Redis
# (BENCH_REDIS_URL, default redis://127.0.0.1:6379); everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=0; [ "${1:-}" = "--smoke" ] && SMOKE=1
DURATION=10s; USERS=1000; SCALE_USERS=1000000
[ "$SMOKE" = 1 ] && { DURATION=1s; USERS=20; SCALE_USERS=10000; }
CONNECTIONS=64
PG_ADMIN="${BENCH_POSTGRES_URL:-${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}}"
REDIS_URL="${BENCH_REDIS_URL:-${TEST_REDIS_URL:-redis://127.0.0.1:6379}}"
# GATEHOUSE_BIN: measure another build (e.g. the previous commit's) against the same ceiling.
BIN="${GATEHOUSE_BIN:-target/release/gatehouse}"
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
CLEANUP_REDIS=0
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ "$CLEANUP_REDIS" = 1 ] && redis_pipe del || true
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
  env -i PATH="$PATH" ${EXTRA_ENV:-} DATABASE_URL="$db" BIND_ADDR="127.0.0.1:$GH_PORT" PUBLIC_URL="$GH" SESSION_KEY="$SESSION_KEY" \
    SESSION_STORE="$store" REDIS_URL="$REDIS_URL" RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn \
    OAUTH_PROVIDERS=op OAUTH_OP_KIND=oidc OAUTH_OP_ISSUER="http://127.0.0.1:$OP_PORT" \
    OAUTH_OP_CLIENT_ID=bench OAUTH_OP_CLIENT_SECRET=bench-secret-0123456789 \
    "$BIN" >"$WORK/gatehouse.log" 2>&1 &
  local pid=$!
  for _ in $(seq 400); do curl -fs -o /dev/null "$GH/healthz" && break; sleep 0.005; done
  t1=$(date +%s%N)
  echo "$pid $(( (t1 - t0) / 1000000 ))"
}
stop() { kill "$1" 2>/dev/null || { echo "bench: gatehouse had exited; its log:" >&2; cat "$WORK/gatehouse.log" >&2; exit 1; }; wait "$1" 2>/dev/null || true; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU seconds (user + system) a process has used so far, and of its reaped children.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13 + $14 + $15) / hz }' "/proc/$1/stat"; }
# PostgreSQL's processes: the postmaster (the checkpointer's parent) and its children.
pg_pids() {
  local aux pm
  aux=$(psql "$DATABASE_URL" -Atqc "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
  pm=$(awk '{ sub(/^.*\) /, ""); print $2 }' "/proc/$aux/stat")
  echo "$pm $(cat /proc/"$pm"/task/*/children 2>/dev/null | tr '\n' ' ')"
}
# PostgreSQL's own CPU over PG_PIDS (reaped backends count through the postmaster).
pg_cpu_s() {
  local total=0 p
  for p in $PG_PIDS; do total=$(python3 -c "print($total + $(cpu_s "$p" 2>/dev/null || echo 0))"); done
  echo "$total"
}
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
# The kernel's part (system time) of a process's CPU seconds so far.
sys_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print $13 / hz }' "/proc/$1/stat"; }

# wrk, printing "REQ_PER_SEC P99_MS P50_MS"; with a cookie file, each request is another user's.
load() {
  local url=$1 cookies=${2:-}
  local args=(-t2 -c"$CONNECTIONS" -d"$DURATION" --latency)
  [ -n "$cookies" ] && args+=(-s bench/rotate_cookies.lua)
  args+=("$url")
  [ -n "$cookies" ] && args+=(-- "$cookies")
  # Full runs warm each path up first (connections, caches, allocator) and measure after.
  [ "$SMOKE" = 1 ] || wrk "${args[@]/#-d$DURATION/-d2s}" >/dev/null
  wrk "${args[@]}" | tee -a "$WORK/wrk.log" | awk '
    function ms(v) { if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 } if (v ~ /ms$/) { sub(/ms$/, "", v); return v } sub(/s$/, "", v); return v * 1000 }
    /Requests\/sec/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx/ { bad = $NF }
    END { if (bad > 0) { print "bench: " bad " answers were not 2xx/3xx" > "/dev/stderr"; exit 1 } printf "%.0f %.2f %.2f\n", rps, p99, p50 }'
}

ROWS=()
row() { ROWS+=("$1|$2|$3|$4"); }

say "ceiling: actix-web /hello"
# The ceiling is measured three times, between the blocks (the machine is shared and noisy);
# ratios use the median.
CEILINGS=()
ceiling() { local rps p99; read -r rps p99 _ < <(load "http://127.0.0.1:$HELLO_PORT/hello"); CEILINGS+=("$rps $p99"); }
ceiling

read -r PID SQLITE_START < <(start_gatehouse cookie "sqlite://$WORK/bench.db"); stop "$PID"
read -r PID PG_START < <(start_gatehouse cookie "$DATABASE_URL"); stop "$PID"

for store in cookie redis database; do
  read -r PID _ < <(start_gatehouse "$store" "$DATABASE_URL")
  IDLE_KB=$(rss_kb "$PID")
  say "store=$store: signing in $USERS users"
  COOKIES="$WORK/cookies-$store.txt"
  if [ "$store" = cookie ]; then
    # CPU per completed sign-in: authorize + callback (token request, ID-token check, user upsert).
    # A few sign-ins first, so the pool's PostgreSQL backends exist when counting starts.
    python3 bench/signin.py "$GH" op warmup 5 >/dev/null
    PG_PIDS=$(pg_pids)
    C0=$(cpu_s "$PID"); S0=$(sys_s "$PID"); P0=$(pg_cpu_s); T0=$(date +%s%N)
    python3 bench/signin.py "$GH" op user "$USERS" >"$COOKIES"
    C1=$(cpu_s "$PID"); S1=$(sys_s "$PID"); P1=$(pg_cpu_s); T1=$(date +%s%N)
    SIGNIN_US=$(python3 -c "print(round(($C1 - $C0) * 1e6 / $USERS))")
    SIGNIN_SYS_US=$(python3 -c "print(round(($S1 - $S0) * 1e6 / $USERS))")
    SIGNIN_PG_US=$(python3 -c "print(round(($P1 - $P0) * 1e6 / $USERS))")
    SIGNIN_WALL_MS=$(( (T1 - T0) / 1000000 / USERS ))
    # The authorize half alone, for the split.
    C0=$(cpu_s "$PID")
    AUTH_REQS=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" "$GH/authorize/op" | awk '/requests in/ {print $1}')
    C1=$(cpu_s "$PID")
    AUTHORIZE_US=$(python3 -c "print(round(($C1 - $C0) * 1e6 / $AUTH_REQS))")
  else
    python3 bench/signin.py "$GH" op user "$USERS" >"$COOKIES"
  fi
  [ "$(grep -c . "$COOKIES")" -eq "$USERS" ] || { echo "bench: sign-ins failed" >&2; exit 1; }
  say "store=$store: loading"
  read -r RPS P99 _ < <(load "$GH/profile" "$COOKIES")
  row "GET /profile, signed in ($store store)" "$RPS" "$P99" "$(hwm_kb "$PID")"
  read -r RPS P99 _ < <(load "$GH/api/me" "$COOKIES")
  row "GET /api/me, signed in ($store store)" "$RPS" "$P99" "$(hwm_kb "$PID")"
  if [ "$store" = cookie ]; then
    read -r RPS P99 _ < <(load "$GH/login")
    row "GET /login" "$RPS" "$P99" "$(hwm_kb "$PID")"
    read -r RPS P99 _ < <(load "$GH/profile")
    row "GET /profile, signed out (redirect)" "$RPS" "$P99" "$(hwm_kb "$PID")"
    COOKIE_IDLE_KB=$IDLE_KB; COOKIE_HWM_KB=$(hwm_kb "$PID")
  fi
  stop "$PID"
  if [ "$store" = redis ]; then ceiling; fi
done

# /api/me latency as the users table grows: 1,000 users, then 1,000,000 (cookie store), with the
# account cache on (the default) and off (every request reads the database by primary key).
say "scale: /api/me with $USERS and then $SCALE_USERS users"
SCALE=()
scale_row() {
  local users=$1 cache
  for cache in on off; do
    local extra=""; [ "$cache" = off ] && extra="ACCOUNT_CACHE_SIZE=0"
    read -r PID _ < <(EXTRA_ENV=$extra start_gatehouse cookie "$DATABASE_URL")
    read -r RPS P99 P50 < <(load "$GH/api/me" "$WORK/cookies-cookie.txt")
    SCALE+=("$users|$cache|$RPS|$P50|$P99")
    stop "$PID"
  done
}
scale_row "$(psql "$DATABASE_URL" -Atqc 'SELECT count(*) FROM users')"
# Seeded rows skip the change-notification triggers (session_replication_role), as a bulk import would.
psql "$DATABASE_URL" -q -c "SET session_replication_role = replica;
  INSERT INTO users (name, email, created_at, updated_at)
    SELECT 'Seeded ' || i, 'seeded' || i || '@example.test', now(), now() FROM generate_series(1, $SCALE_USERS - $USERS) i;
  INSERT INTO identities (user_id, provider, subject, email, email_verified, created_at, updated_at)
    SELECT id, 'op', 'seeded-' || id, email, true, now(), now() FROM users WHERE name LIKE 'Seeded %';" \
  -c "VACUUM ANALYZE users" -c "VACUUM ANALYZE identities" >/dev/null
scale_row "$(psql "$DATABASE_URL" -Atqc 'SELECT count(*) FROM users')"

# /profile as the live sessions grow: each server-side store with the signed-in users' sessions
# only, then with SCALE_USERS more, seeded straight into the store (as a busy deployment would
# have them), read back by the same signed-in users.
say "growth: /profile with $USERS and then $SCALE_USERS more live sessions"
GROWTH=()
growth_row() {
  local store=$1 sessions=$2
  read -r PID _ < <(start_gatehouse "$store" "$DATABASE_URL")
  read -r RPS P99 P50 < <(load "$GH/profile" "$WORK/cookies-$store.txt")
  GROWTH+=("$store|$sessions|$RPS|$P50|$P99")
  stop "$PID"
}
count_db_sessions() { psql "$DATABASE_URL" -Atqc 'SELECT count(*) FROM sessions'; }
growth_row database "$(count_db_sessions)"
growth_row redis "$USERS"
psql "$DATABASE_URL" -q -c "INSERT INTO sessions (id, user_id, state, created_at, last_seen_at, expires_at)
    SELECT md5('growth' || i) || md5('seeded' || i), NULL, '{}', now(), now(), now() + interval '30 days'
    FROM generate_series(1, $SCALE_USERS) i" -c "VACUUM ANALYZE sessions" >/dev/null
# Redis: SCALE_USERS keys shaped like sessions (a 64-character key, a JSON state, 30 days),
# written through redis-cli's pipe and deleted the same way when the run ends.
GROWTH_KEYS="gh-bench-$$"
redis_pipe() {
  python3 - "$1" "$GROWTH_KEYS" "$SCALE_USERS" <<'PY' | redis-cli -u "$REDIS_URL" --pipe >/dev/null
import sys
op, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = sys.stdout.buffer
def cmd(*parts):
    b = [p.encode() for p in parts]
    return b"*%d\r\n" % len(b) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in b)
for i in range(n):
    key = f"{prefix}-{i:040d}"
    out.write(cmd("SET", key, '{"seeded":"1"}', "EX", "2592000") if op == "set" else cmd("DEL", key))
PY
}
redis_pipe set
CLEANUP_REDIS=1
growth_row database "$(count_db_sessions)"
growth_row redis "$((USERS + SCALE_USERS))"
redis_pipe del
CLEANUP_REDIS=0

ceiling
read -r HELLO_RPS HELLO_P99 < <(printf '%s\n' "${CEILINGS[@]}" | sort -n | sed -n 2p)
ROWS=("actix-web /hello (ceiling, median of 3: $(printf '%s\n' "${CEILINGS[@]}" | awk '{printf "%s%d", sep, $1; sep=", "}') req/s)|$HELLO_RPS|$HELLO_P99|-" "${ROWS[@]}")
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
SCALE_TABLE=$(
  echo "| users in the database | account cache | /api/me req/s | p50 ms | p99 ms |"
  echo "|---:|---|---:|---:|---:|"
  for r in "${SCALE[@]}"; do
    IFS='|' read -r users cache rps p50 p99 <<<"$r"
    printf '| %s | %s | %s | %s | %s |\n' "$users" "$cache" "$rps" "$p50" "$p99"
  done
)
GROWTH_TABLE=$(
  echo "| store | live sessions | /profile req/s | p50 ms | p99 ms |"
  echo "|---|---:|---:|---:|---:|"
  for r in "${GROWTH[@]}"; do
    IFS='|' read -r store sessions rps p50 p99 <<<"$r"
    printf '| %s | %s | %s | %s | %s |\n' "$store" "$sessions" "$rps" "$p50" "$p99"
  done
)
SUMMARY="start-up to ready: SQLite ${SQLITE_START} ms, PostgreSQL ${PG_START} ms; RSS idle $((COOKIE_IDLE_KB / 1024)) MiB, peak under load $((COOKIE_HWM_KB / 1024)) MiB (cookie store)"
SIGNIN="CPU per completed sign-in ($USERS sign-ins through the local OpenID Provider): gatehouse ${SIGNIN_US} µs (${SIGNIN_SYS_US} µs of it in the kernel: sockets, wake-ups, thread hand-offs), of which /authorize ${AUTHORIZE_US} µs and /callback (token request, ID-token check, user upsert, session renewal) $((SIGNIN_US - AUTHORIZE_US)) µs; PostgreSQL ${SIGNIN_PG_US} µs; ${SIGNIN_WALL_MS} ms wall per sign-in with eight browsers signing in at a time, provider and browser included"
echo "$TABLE"
echo
echo "$SCALE_TABLE"
echo
echo "$GROWTH_TABLE"
echo
echo "$SUMMARY"
echo "$SIGNIN"

if [ "$SMOKE" = 1 ]; then
  [ "${#ROWS[@]}" -eq 9 ] || { echo "bench smoke: expected 9 rows, got ${#ROWS[@]}" >&2; exit 1; }
  [ "${#SCALE[@]}" -eq 4 ] || { echo "bench smoke: expected 4 scale measurements, got ${#SCALE[@]}" >&2; exit 1; }
  [ "${#GROWTH[@]}" -eq 4 ] || { echo "bench smoke: expected 4 growth measurements, got ${#GROWTH[@]}" >&2; exit 1; }
  echo "bench smoke: ok"
else
  say "sign-in breakdown under callgrind"
  BREAKDOWN=$(BENCH_POSTGRES_URL="$PG_ADMIN" bench/signin-profile.sh 20)
  {
    echo "# Benchmark results"
    echo
    echo "Command: \`bench/run.sh\` (wrk -t2 -c$CONNECTIONS -d$DURATION --latency; gatehouse release build, 2 workers, PostgreSQL; $USERS users signed in through the local OpenID Provider, a different user's cookie on every signed-in request)."
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); run on $(date -u +%Y-%m-%d). Ratios are against raw actix-web /hello measured in the same run."
    echo
    echo "$TABLE"
    echo
    echo "## /api/me as the users table grows"
    echo
    echo "$SCALE_TABLE"
    echo
    echo "## /profile as the live sessions grow (server-side stores)"
    echo
    echo "The signed-in users' own sessions, then $SCALE_USERS more seeded straight into the store; the same users read their pages."
    echo
    echo "$GROWTH_TABLE"
    echo
    echo "## Start-up, memory, sign-in"
    echo
    echo "- $SUMMARY."
    echo "- $SIGNIN."
    echo
    echo "Where a sign-in's CPU goes (\`bench/signin-profile.sh 20\`: callgrind instruction counts over 20 sign-ins, which repeat exactly on a busy machine):"
    echo
    echo "$BREAKDOWN"
    echo
    echo "Beside the Flask and Express peers: [PEERS.md](PEERS.md) (\`bench/peers.sh\`). The gate behind nginx, beside mod_auth_openidc: [GATE.md](GATE.md) (\`bench/gate.sh\`)."
  } > bench/RESULTS.md
  say "wrote bench/RESULTS.md"
fi
