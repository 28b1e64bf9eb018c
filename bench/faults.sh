#!/usr/bin/env bash
# Load held and faults survived. Two gatehouse instances (release build, Redis sessions,
# PostgreSQL) behind nginx as a round-robin proxy; 1,000 users signed in through the local OpenID
# Provider; wrk drives their signed-in GET /profile and GET /api/me at 64 connections while a
# trickle of new sign-ins goes on, and meanwhile, one at a time:
#
#   1. PostgreSQL is stopped (fast shutdown) and started again;
#   2. Redis is shut down and started again (append-only file on, as sessions need);
#   3. one instance is killed with SIGKILL and started again;
#   4. the provider stops answering its back-channel (token, JWKS, discovery) for 30 s.
#
# Every request is logged by nginx (time, status, duration); bench/faults_report.py turns the log,
# the sign-ins and the fault times into bench/FAULTS.md: requests and errors by status during and
# after each fault, the time from the component's return to the first success and to full
# throughput, sign-ins that failed and how, sessions lost (each of the 1,000 users is asked for at
# the end), and each instance's memory, threads and connections before and after. It exits 1 when
# an invariant breaks: an answer of 500 or a 5xx other than 502/503/504, a request wrk gave up
# on, a session lost, or sign-ins that do not succeed again once everything is back.
#
#   bench/faults.sh           full run (about 5 minutes), writes bench/FAULTS.md
#   bench/faults.sh --smoke   50 users, 2 s outages: checks the script and the invariants, prints
#                             the report instead of writing it
#
# PostgreSQL and Redis are throwaway servers of its own (they are restarted); everything listens on
# 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=0; [ "${1:-}" = "--smoke" ] && SMOKE=1
USERS=1000; BASELINE=20; DOWN=5; SETTLE=30; STALL=30; HTTP_TIMEOUT=10
[ "$SMOKE" = 1 ] && { USERS=50; BASELINE=5; DOWN=2; SETTLE=6; STALL=6; HTTP_TIMEOUT=3; }
TRICKLE_EVERY=0.5
CONNECTIONS=64
SESSION_KEY=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')

say() { printf '==> %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if ! command -v wrk >/dev/null || [ ! -x "$NGINX" ]; then
  say "installing wrk and nginx (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk nginx-light >/dev/null
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  say "installing redis-server (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
if [ -z "$PG_BIN" ]; then
  say "installing the PostgreSQL server (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi
[ -d tests/oidc-provider/node_modules/oidc-provider ] || npm ci --prefix tests/oidc-provider --no-audit --no-fund

say "building the release binary"
cargo build --release --locked --bin gatehouse 2>&1 | tail -n 1 >&2

WORK=$(mktemp -d /tmp/gatehouse-faults.XXXXXX)
chmod 755 "$WORK"
PIDS=()
PG_RUN=()
if [ "$(id -u)" = 0 ]; then   # initdb refuses to run as root
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  PG_RUN=(runuser -u postgres --)
fi
cleanup() {
  exec 9>&- 2>/dev/null || true
  for pid in "${PIDS[@]}" ${A_PID:-} ${B_PID:-} ${REDIS_PID:-}; do kill "$pid" 2>/dev/null || true; done
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PG_PORT=$(free_port); REDIS_PORT=$(free_port); OP_PORT=$(free_port); PROXY_PORT=$(free_port)
A_PORT=$(free_port); B_PORT=$(free_port)
PUBLIC="http://127.0.0.1:$PROXY_PORT"
EVENTS="$WORK/events"; : >"$EVENTS"
event() { echo "$(date +%s.%N) $1" >>"$EVENTS"; say "$1"; }
wait_until() { local what=$1; shift; for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.02; done; echo "faults: $what never came up" >&2; exit 1; }

# --- PostgreSQL and Redis of its own ------------------------------------------------------------
mkdir "$WORK/pg"; [ ${#PG_RUN[@]} -gt 0 ] && chown postgres "$WORK/pg"
"${PG_RUN[@]}" "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres -A trust >/dev/null
pg_start() {
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $WORK/pg -c max_connections=200" start >/dev/null
}
pg_stop() { "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null; }
pg_start
psql "postgres://postgres@127.0.0.1:$PG_PORT/postgres" -qc 'CREATE DATABASE gatehouse' >/dev/null
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/gatehouse"

mkdir "$WORK/redis"
redis_start() {
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK/redis" --save "" \
    --appendonly yes --appendfsync everysec --logfile "$WORK/redis/log" 8>&- 9>&- &
  REDIS_PID=$!
  wait_until Redis redis-cli -p "$REDIS_PORT" ping
}
redis_start

# --- the provider, nginx, two instances ---------------------------------------------------------
CLIENT="{\"client_id\":\"bench\",\"client_secret\":\"bench-secret-0123456789\",\"redirect_uris\":[\"$PUBLIC/callback/op\"],\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"]}"
# The provider exits when its stdin closes; "stall N" written there stops its back-channel.
mkfifo "$WORK/op.stdin"
node tests/oidc-provider/server.mjs --port "$OP_PORT" --client "$CLIENT" <"$WORK/op.stdin" >"$WORK/op.log" 2>&1 &
PIDS+=($!)
exec 9>"$WORK/op.stdin"
wait_until "the provider" curl -fs -o /dev/null "http://127.0.0.1:$OP_PORT/.well-known/openid-configuration"

cat >"$WORK/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 1024; }
http {
  log_format timed '\$msec \$status \$request_time \$uri';
  access_log $WORK/access.log timed buffer=256k flush=1s;
  client_body_temp_path $WORK/body; proxy_temp_path $WORK/proxy;
  fastcgi_temp_path $WORK/fastcgi; uwsgi_temp_path $WORK/uwsgi; scgi_temp_path $WORK/scgi;
  # Round robin; a GET that meets a refused or reset connection is tried on the other instance
  # (nginx's default proxy_next_upstream). Timeouts far above gatehouse's own, so a request
  # gatehouse leaves hanging shows up in the log as a long one rather than as nginx's 504.
  upstream gatehouse { server 127.0.0.1:$A_PORT; server 127.0.0.1:$B_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$PROXY_PORT;
    location / {
      proxy_pass http://gatehouse;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
    }
  }
}
EOF
"$NGINX" -p "$WORK/" -c "$WORK/nginx.conf" 2>>"$WORK/nginx-error.log" 9>&- &
PIDS+=($!)

start_instance() {
  local port=$1
  env -i PATH="$PATH" DATABASE_URL="$DATABASE_URL" BIND_ADDR="127.0.0.1:$port" PUBLIC_URL="$PUBLIC" \
    SESSION_KEY="$SESSION_KEY" SESSION_STORE=redis REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
    RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn HTTP_TIMEOUT_SECS="$HTTP_TIMEOUT" \
    OAUTH_PROVIDERS=op OAUTH_OP_KIND=oidc OAUTH_OP_ISSUER="http://127.0.0.1:$OP_PORT" \
    OAUTH_OP_CLIENT_ID=bench OAUTH_OP_CLIENT_SECRET=bench-secret-0123456789 \
    target/release/gatehouse >>"$WORK/gatehouse-$port.log" 2>&1 8>&- 9>&- &
  echo $!
}
A_PID=$(start_instance "$A_PORT")
wait_until "instance A" curl -fs -o /dev/null "http://127.0.0.1:$A_PORT/readyz"
B_PID=$(start_instance "$B_PORT")
wait_until "instance B" curl -fs -o /dev/null "http://127.0.0.1:$B_PORT/readyz"
wait_until nginx curl -fs -o /dev/null "$PUBLIC/healthz"

# One JSON line of a process's memory, threads and connections (by peer) into $WORK/stats.
stats() {
  local when=$1 name=$2 pid=$3 port=$4
  local est; est=$(ss -Htnp state established 2>/dev/null | grep "pid=$pid," || true)
  count() { printf '%s\n' "$est" | awk -v p=":$1\$" '$4 ~ p' | grep -c . || true; }
  local inbound; inbound=$(printf '%s\n' "$est" | awk -v p=":$port\$" '$3 ~ p' | grep -c . || true)
  printf '{"when":"%s","instance":"%s","pid":%s,"rss_kb":%s,"threads":%s,"fds":%s,"postgres":%s,"redis":%s,"provider":%s,"inbound":%s}\n' \
    "$when" "$name" "$pid" "$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")" \
    "$(awk '/^Threads/ {print $2}' "/proc/$pid/status")" "$(ls "/proc/$pid/fd" | wc -l)" \
    "$(count "$PG_PORT")" "$(count "$REDIS_PORT")" "$(count "$OP_PORT")" "$inbound" >>"$WORK/stats"
}

# --- signed-in users, then the run --------------------------------------------------------------
say "signing in $USERS users"
python3 bench/signin.py "$PUBLIC" op user "$USERS" >"$WORK/cookies.txt"
wrk -t2 -c"$CONNECTIONS" -d3s -s bench/rotate_cookies.lua "$PUBLIC" -- "$WORK/cookies.txt" /profile,/api/me >/dev/null
sleep 2
stats start A "$A_PID" "$A_PORT"; stats start B "$B_PID" "$B_PORT"

TOTAL=$(( BASELINE + 3 * (DOWN + SETTLE) + STALL + SETTLE ))
python3 bench/signin.py --trickle "$PUBLIC" op newcomer "$TRICKLE_EVERY" >"$WORK/signins.jsonl" 9>&- &
TRICKLE_PID=$!
event load_start
wrk -t2 -c"$CONNECTIONS" -d"${TOTAL}s" --timeout 30s --latency -s bench/rotate_cookies.lua "$PUBLIC" -- "$WORK/cookies.txt" /profile,/api/me >"$WORK/wrk.txt" 9>&- &
WRK_PID=$!
sleep "$BASELINE"

event postgres_down; pg_stop; sleep "$DOWN"; pg_start; event postgres_up
sleep "$SETTLE"

event redis_down; redis-cli -p "$REDIS_PORT" shutdown >/dev/null; wait "$REDIS_PID" || true
sleep "$DOWN"; redis_start; event redis_up
sleep "$SETTLE"

event instance_down; kill -KILL "$A_PID"; wait "$A_PID" 2>/dev/null || true
sleep "$DOWN"; A_PID=$(start_instance "$A_PORT")
wait_until "instance A (again)" curl -fs -o /dev/null "http://127.0.0.1:$A_PORT/readyz"; event instance_up
sleep "$SETTLE"

event provider_down; echo "stall $STALL" >&9; sleep "$STALL"; event provider_up
wait "$WRK_PID"
event load_end
kill -TERM "$TRICKLE_PID"; wait "$TRICKLE_PID"
sleep 2
stats end A "$A_PID" "$A_PORT"; stats end B "$B_PID" "$B_PORT"

# Every one of the users signed in at the start must still be signed in.
python3 - "$PUBLIC" "$WORK/cookies.txt" >"$WORK/sessions" <<'EOF'
import http.client, sys, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
statuses = {}
for cookie in open(sys.argv[2]).read().split():
    conn.request("GET", "/api/me", headers={"Cookie": cookie})
    res = conn.getresponse(); res.read()
    statuses[res.status] = statuses.get(res.status, 0) + 1
print(" ".join(f"{k}:{v}" for k, v in sorted(statuses.items())))
EOF
"$NGINX" -p "$WORK/" -c "$WORK/nginx.conf" -s reopen 2>/dev/null || true
sleep 1.5   # the access log's buffer is flushed every second

python3 bench/faults_report.py --work "$WORK" --users "$USERS" --settle "$SETTLE" --down "$DOWN" \
  --connections "$CONNECTIONS" --http-timeout "$HTTP_TIMEOUT" --trickle-every "$TRICKLE_EVERY" \
  >"$WORK/report.md" && status=0 || status=$?
if [ "$SMOKE" = 1 ]; then cat "$WORK/report.md"; else cp "$WORK/report.md" bench/FAULTS.md; say "wrote bench/FAULTS.md"; fi
exit "$status"
