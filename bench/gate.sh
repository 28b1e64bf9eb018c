#!/usr/bin/env bash
# The gate benchmark: a signed-in GET through nginx + gatehouse's /verify to a static upstream,
# against nginx → the same upstream with no auth (the ceiling) and against Apache +
# mod_auth_openidc (Debian's, the certified C implementation) guarding it, in one run.
# Both gates sign their users in through the same local OpenID Provider (npm oidc-provider);
# wrk then sends a different signed-in user's cookie on every request.
#
#   bench/gate.sh            full run (10 s per path, 100 users), writes bench/GATE.md
#   bench/gate.sh --smoke    1 s per path, 5 users: checks that the benchmark works
#
# Everything listens on 127.0.0.1. Installs wrk, nginx, apache2 and mod_auth_openidc from
# Debian's packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=0; [ "${1:-}" = "--smoke" ] && SMOKE=1
DURATION=10s; USERS=100; ROUNDS=${ROUNDS:-5}
[ "$SMOKE" = 1 ] && { DURATION=1s; USERS=5; ROUNDS=1; }
CONNECTIONS=64
SESSION_KEY=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')

say() { printf '==> %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
APACHE=$(command -v apache2 || echo /usr/sbin/apache2)
if ! command -v wrk >/dev/null || ! command -v pgrep >/dev/null || [ ! -x "$NGINX" ] || [ ! -x "$APACHE" ] || [ ! -f /usr/lib/apache2/modules/mod_auth_openidc.so ]; then
  say "installing wrk, procps, nginx, apache2 and mod_auth_openidc (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    wrk procps nginx-light apache2 libapache2-mod-auth-openidc >/dev/null
  NGINX=$(command -v nginx || echo /usr/sbin/nginx); APACHE=$(command -v apache2 || echo /usr/sbin/apache2)
fi
[ -d tests/oidc-provider/node_modules/oidc-provider ] || npm ci --prefix tests/oidc-provider --no-audit --no-fund

say "building the release binary"
cargo build --release --locked --bin gatehouse 2>&1 | tail -n 1 >&2

WORK=$(mktemp -d /tmp/gatehouse-gate-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$WORK/apache.pid" ] && kill "$(cat "$WORK/apache.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

OP_PORT=$(free_port); GH_PORT=$(free_port); UP_PORT=$(free_port); CEIL_PORT=$(free_port)
GATE_PORT=$(free_port); AP_PORT=$(free_port); HOP_PORT=$(free_port); GH_WIDE_PORT=$(free_port); GATE_WIDE_PORT=$(free_port)
GH="http://127.0.0.1:$GH_PORT"; AP="http://127.0.0.1:$AP_PORT"
AP_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
client() { echo "{\"client_id\":\"$1\",\"client_secret\":\"$2\",\"redirect_uris\":[\"$3\"],\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"]}"; }

# The provider exits when its stdin closes: hold a FIFO open for the script's lifetime.
mkfifo "$WORK/op.stdin"
node tests/oidc-provider/server.mjs --port "$OP_PORT" \
  --client "$(client bench bench-secret-0123456789 "$GH/callback/op")" \
  --client "$(client apache "$AP_SECRET" "$AP/redirect_uri")" <"$WORK/op.stdin" >/dev/null 2>&1 &
PIDS+=($!)
exec 9>"$WORK/op.stdin"
wait_http() { for _ in $(seq 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; echo "bench: $1 never answered" >&2; exit 1; }
# gatehouse reads the provider's discovery document at start: the provider first.
wait_http "http://127.0.0.1:$OP_PORT/.well-known/openid-configuration"

# gatehouse with WORKERS=1, as the README suggests for a small host shared with the proxy, and
# beside it the same build with actix-web's default, one worker per core; both on one database
# and session key, so each user's cookie works on either.
start_gatehouse() {
  env -i PATH="$PATH" DATABASE_URL="sqlite://$WORK/gatehouse.db" BIND_ADDR="127.0.0.1:$1" PUBLIC_URL="$GH" \
    SESSION_KEY="$SESSION_KEY" RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn TRUSTED_PROXIES=127.0.0.1 ${2:+WORKERS=$2} \
    OAUTH_PROVIDERS=op OAUTH_OP_KIND=oidc OAUTH_OP_ISSUER="http://127.0.0.1:$OP_PORT" OAUTH_OP_TRUST_EMAIL=true \
    OAUTH_OP_CLIENT_ID=bench OAUTH_OP_CLIENT_SECRET=bench-secret-0123456789 \
    target/release/gatehouse >"$WORK/gatehouse-$1.log" 2>&1 &
  PIDS+=($!)
}
start_gatehouse "$GH_PORT" 1; GH_PID=$!
wait_http "$GH/healthz"   # the first one creates the database
start_gatehouse "$GH_WIDE_PORT" ""; GH_WIDE_PID=$!

# nginx: the static upstream, the ceiling (a plain proxy to it) and the gate (the same proxy
# asking gatehouse first, as docs/deploy/nginx.conf does, with keep-alive to both).
cat >"$WORK/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/body; proxy_temp_path $WORK/proxy;
  fastcgi_temp_path $WORK/fastcgi; uwsgi_temp_path $WORK/uwsgi; scgi_temp_path $WORK/scgi;
  upstream app { server 127.0.0.1:$UP_PORT; keepalive 64; }
  upstream gatehouse { server 127.0.0.1:$GH_PORT; keepalive 64; }
  upstream gatehouse_wide { server 127.0.0.1:$GH_WIDE_PORT; keepalive 64; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  server {
    listen 127.0.0.1:$UP_PORT;
    location / { default_type text/plain; return 200 "hello from the app\n"; }
    location = /auth-ok { return 204; }
  }
  server {
    listen 127.0.0.1:$CEIL_PORT;
    location / { proxy_pass http://app; }
  }
  # The auth hop alone: auth_request to an answer that costs nothing (an empty 204 from the static
  # upstream; an answer with a body would cost nginx its keep-alive connection).
  server {
    listen 127.0.0.1:$HOP_PORT;
    location = /auth { internal; proxy_pass http://app/auth-ok; proxy_pass_request_body off; proxy_set_header Content-Length ""; proxy_set_header Connection ""; }
    location / { auth_request /auth; proxy_set_header Connection ""; proxy_pass http://app; }
  }
$(for gate in "$GATE_PORT gatehouse" "$GATE_WIDE_PORT gatehouse_wide"; do set -- $gate; cat <<SERVER
  server {
    listen 127.0.0.1:$1;
    location = /gatehouse/verify {
      internal;
      proxy_pass http://$2/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Connection "";
    }
    location / {
      auth_request /gatehouse/verify;
      include $PWD/docs/deploy/gatehouse-identity.conf;   # keeps the connection alive too
      proxy_pass http://app;
    }
    location @gatehouse_sign_in { return 401; }
  }
SERVER
done)
}
EOF
"$NGINX" -p "$WORK/" -c "$WORK/nginx.conf" 2>>"$WORK/nginx-error.log" &
PIDS+=($!); NGINX_PID=$!

# Apache + mod_auth_openidc, guarding the same upstream (sessions in shared memory, its default).
RUN_AS=""; [ "$(id -u)" = 0 ] && RUN_AS="User www-data
Group www-data"
cat >"$WORK/apache.conf" <<EOF
ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:$AP_PORT
PidFile $WORK/apache.pid
DefaultRuntimeDir $WORK
Mutex file:$WORK default
ErrorLog $WORK/apache-error.log
LogLevel warn
$RUN_AS
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
LoadModule auth_openidc_module /usr/lib/apache2/modules/mod_auth_openidc.so
ThreadsPerChild 64
MaxRequestWorkers 256
ServerLimit 4
# Keep-alive as long as nginx keeps it (its keepalive_requests is 1000; Apache's default 100
# would make it reconnect ten times as often).
MaxKeepAliveRequests 1000
OIDCProviderMetadataURL http://127.0.0.1:$OP_PORT/.well-known/openid-configuration
OIDCClientID apache
OIDCClientSecret $AP_SECRET
OIDCRedirectURI $AP/redirect_uri
OIDCCryptoPassphrase $(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
OIDCScope "openid email profile"
OIDCPKCEMethod S256
OIDCSessionInactivityTimeout 3600
<Location />
  AuthType openid-connect
  Require valid-user
  ProxyPass http://127.0.0.1:$UP_PORT/
</Location>
EOF
"$APACHE" -f "$WORK/apache.conf" -k start

wait_http "http://127.0.0.1:$GH_WIDE_PORT/healthz"
wait_http "http://127.0.0.1:$CEIL_PORT/"
wait_http "$AP/"

say "signing in $USERS users through each gate"
python3 bench/signin.py "$GH" op user "$USERS" >"$WORK/gatehouse-cookies.txt"
python3 bench/signin.py --rp "$AP/" "$AP/redirect_uri" mod_auth_openidc_session user "$USERS" >"$WORK/apache-cookies.txt"
for f in gatehouse apache; do
  [ "$(grep -c . "$WORK/$f-cookies.txt")" -eq "$USERS" ] || { echo "bench: $f sign-ins failed" >&2; exit 1; }
done
# Each gate lets its signed-in users through, and only them.
check() {
  local want=$1 url=$2 cookie=${3:-} accept=${4:-*/*}
  local got; got=$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $accept" ${cookie:+-H "Cookie: $cookie"} "$url")
  [ "$got" = "$want" ] || { echo "bench: $url answered $got, expected $want" >&2; exit 1; }
}
check 200 "http://127.0.0.1:$GATE_PORT/" "$(head -n1 "$WORK/gatehouse-cookies.txt")"
check 200 "http://127.0.0.1:$GATE_WIDE_PORT/" "$(head -n1 "$WORK/gatehouse-cookies.txt")"
check 401 "http://127.0.0.1:$GATE_PORT/"
check 200 "$AP/" "$(head -n1 "$WORK/apache-cookies.txt")"
check 302 "$AP/" "" "text/html"

# wrk with a different user's cookie on every request; prints "REQ_PER_SEC P99_MS". Fails on
# any answer that is not a 200 and on any socket error: a gate that redirected, refused or
# dropped connections must not count as fast.
load() {
  local url=$1 cookies=${2:-}
  local args=(-t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/gate.lua "$url")
  [ -n "$cookies" ] && args+=(-- "$cookies")
  # Inside $(...), where errexit is off: every failure returns by hand.
  if [ "$SMOKE" != 1 ]; then wrk "${args[@]/#-d$DURATION/-d2s}" >/dev/null || { echo "bench: wrk failed on $url" >&2; return 1; }; fi
  ticks >"$WORK/ticks.before"
  wrk "${args[@]}" >"$WORK/wrk.out" || { echo "bench: wrk failed on $url" >&2; return 1; }
  ticks >"$WORK/ticks.after"
  awk -v url="$url" -v requests_file="$WORK/wrk.requests" '
    function ms(v) { if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 } if (v ~ /ms$/) { sub(/ms$/, "", v); return v } sub(/s$/, "", v); return v * 1000 }
    / requests in / { requests = $1 }
    /Requests\/sec/ { rps = $2 }
    /^ +99%/ { p99 = ms($2) }
    /^Not 200:/ { bad = $3 }
    /Socket errors/ { errors = $0 }
    END {
      if (bad > 0) { print "bench: " bad " answers from " url " were not 200" > "/dev/stderr"; exit 1 }
      if (errors != "") { print "bench: " url ": " errors > "/dev/stderr"; exit 1 }
      if (rps == "" || requests == "") { print "bench: no figures from wrk for " url > "/dev/stderr"; exit 1 }
      print requests > requests_file
      printf "%.0f %.2f\n", rps, p99
    }' "$WORK/wrk.out"
}

# Where a path's CPU goes: clock ticks of gatehouse (all, and in the kernel), of nginx's workers,
# and of the whole machine (busy: every process and the kernel; not steal, which is other
# guests'), sampled around its load; "GH GH_KERNEL NGINX ALL".
ticks() {
  local gh nginx all
  gh=$(awk '{printf "%.0f %.0f", $14 + $15, $15}' "/proc/$TICKS_PID/stat")
  nginx=$(for w in $(pgrep -P "$NGINX_PID"); do awk '{printf "%.0f\n", $14 + $15}' "/proc/$w/stat"; done | awk '{s += $1} END {printf "%.0f", s}')
  all=$(awk '/^cpu / {printf "%.0f", $2 + $3 + $4 + $7 + $8}' /proc/stat)
  echo "$gh $nginx $all"
}
TICKS_PER_SECOND=$(getconf CLK_TCK)
# CPU milliseconds per 1,000 requests of one load: "GH GH_KERNEL NGINX OTHER TOTAL" (OTHER: wrk,
# the provider and any other process, and kernel work charged to no process).
per_thousand() {
  python3 -c "
import sys
b, a = [list(map(int, x.split())) for x in sys.argv[1:3]]
ms_per_tick, thousands = 1000 / int(sys.argv[4]), int(sys.argv[3]) / 1000
d = [(y - x) * ms_per_tick / thousands for x, y in zip(b, a)]
print(f'{d[0]:.1f} {d[1]:.1f} {d[2]:.1f} {d[3] - d[0] - d[2]:.1f} {d[3]:.1f}')
" "$1" "$2" "$3" "$TICKS_PER_SECOND"
}
# Loads a path: sets OUT (the load's "REQ_PER_SEC P99_MS") and CPU (its split, per_thousand).
measured() {
  OUT=$(load "$@")
  CPU=$(per_thousand "$(cat "$WORK/ticks.before")" "$(cat "$WORK/ticks.after")" "$(cat "$WORK/wrk.requests")")
}
CEIL_CPU=(); GATE_CPU=(); WIDE_CPU=(); TICKS_PID=$GH_PID

# Interleaved rounds (the machine is shared and noisy); each path's figure is its median. Both
# gates run right beside the ceiling, on either side of it in turn (gate, ceiling, wide gate;
# then wide gate, ceiling, gate), so each round also gives each gate's ratio to a neighbouring
# ceiling (the paired ratios below).
CEIL=(); GATE=(); APACHE_RUNS=(); VERIFY=(); HOP=(); WIDE=()
ceiling() { measured "http://127.0.0.1:$CEIL_PORT/"; CEIL+=("$OUT"); CEIL_CPU+=("$CPU"); }
gate() { TICKS_PID=$GH_PID; measured "http://127.0.0.1:$GATE_PORT/" "$WORK/gatehouse-cookies.txt"; GATE+=("$OUT"); GATE_CPU+=("$CPU"); }
wide() { TICKS_PID=$GH_WIDE_PID; measured "http://127.0.0.1:$GATE_WIDE_PORT/" "$WORK/gatehouse-cookies.txt"; WIDE+=("$OUT"); WIDE_CPU+=("$CPU"); }
for round in $(seq "$ROUNDS"); do
  say "round $round of $ROUNDS"
  if (( round % 2 )); then gate; ceiling; wide; else wide; ceiling; gate; fi
  HOP+=("$(load "http://127.0.0.1:$HOP_PORT/" "$WORK/gatehouse-cookies.txt")")
  APACHE_RUNS+=("$(load "$AP/" "$WORK/apache-cookies.txt")")
  VERIFY+=("$(load "$GH/verify" "$WORK/gatehouse-cookies.txt")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
all() { printf '%s\n' "$@" | awk '{printf "%s%d", sep, $1; sep=", "}'; }
read -r CEIL_RPS CEIL_P99 <<<"$(median "${CEIL[@]}")"
read -r GATE_RPS GATE_P99 <<<"$(median "${GATE[@]}")"
read -r AP_RPS AP_P99 <<<"$(median "${APACHE_RUNS[@]}")"
read -r VERIFY_RPS VERIFY_P99 <<<"$(median "${VERIFY[@]}")"
read -r HOP_RPS HOP_P99 <<<"$(median "${HOP[@]}")"
read -r WIDE_RPS WIDE_P99 <<<"$(median "${WIDE[@]}")"
ratio() { python3 -c "print(f'{$1 / $2:.1%}')"; }
# Each round's gate over the same round's ceiling, and their median.
paired() { python3 -c "
import statistics, sys
g, c = sys.argv[1].split(), sys.argv[2].split()
r = [int(a) / int(b) for a, b in zip(g, c)]
print(', '.join(f'{x:.1%}' for x in r) + f'; median {statistics.median(r):.1%}')
" "$(printf '%s\n' "$@" | awk '{print $1}' | xargs)" "$(printf '%s\n' "${CEIL[@]}" | awk '{print $1}' | xargs)"; }
PAIRED=$(paired "${GATE[@]}"); PAIRED_WIDE=$(paired "${WIDE[@]}")
TABLE=$(
  echo "| path (signed-in GET of a static page) | req/s (median) | runs | ratio to the ceiling | p99 ms |"
  echo "|---|---:|---|---:|---:|"
  echo "| nginx → upstream, no auth (the ceiling) | $CEIL_RPS | $(all "${CEIL[@]}") | 100% | $CEIL_P99 |"
  echo "| nginx + gatehouse /verify → upstream (WORKERS=1, for a small host shared with the proxy) | $GATE_RPS | $(all "${GATE[@]}") | $(ratio "$GATE_RPS" "$CEIL_RPS") | $GATE_P99 |"
  echo "| nginx + gatehouse /verify → upstream (actix-web's default: one worker per core) | $WIDE_RPS | $(all "${WIDE[@]}") | $(ratio "$WIDE_RPS" "$CEIL_RPS") | $WIDE_P99 |"
  echo "| Apache + mod_auth_openidc → upstream | $AP_RPS | $(all "${APACHE_RUNS[@]}") | $(ratio "$AP_RPS" "$CEIL_RPS") | $AP_P99 |"
  echo "| (nginx + auth_request to an empty 204 → upstream: the auth hop alone, the best any gate can do) | $HOP_RPS | $(all "${HOP[@]}") | $(ratio "$HOP_RPS" "$CEIL_RPS") | $HOP_P99 |"
  echo "| (gatehouse /verify alone, WORKERS=1, no proxy: what one gatehouse thread answers) | $VERIFY_RPS | $(all "${VERIFY[@]}") | - | $VERIFY_P99 |"
)
VERDICT="gatehouse behind nginx (WORKERS=1): $(ratio "$GATE_RPS" "$CEIL_RPS") of the no-auth ceiling (target ≥ 50%; round by round: $PAIRED); with one worker per core (the default): $(ratio "$WIDE_RPS" "$CEIL_RPS") (round by round: $PAIRED_WIDE), $(python3 -c "print(f'{$GATE_RPS / $AP_RPS:.2f}')")× mod_auth_openidc (target ≥ 1), $(ratio "$GATE_RPS" "$HOP_RPS") of what the auth hop alone allows"
# Median CPU split per 1,000 requests, ceiling and gate.
cpu_median() { printf '%s\n' "$@" | python3 -c "
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
print(' '.join(f'{statistics.median(c):.1f}' for c in zip(*rows)))"; }
read -r _ _ CEIL_NGINX CEIL_OTHER CEIL_TOTAL <<<"$(cpu_median "${CEIL_CPU[@]}")"
read -r GATE_GH GATE_GH_KERNEL GATE_NGINX GATE_OTHER GATE_TOTAL <<<"$(cpu_median "${GATE_CPU[@]}")"
read -r WIDE_GH WIDE_GH_KERNEL WIDE_NGINX WIDE_OTHER WIDE_TOTAL <<<"$(cpu_median "${WIDE_CPU[@]}")"
CPU_TABLE=$(
  echo "| CPU ms per 1,000 requests (each column's median over the rounds; \`/proc\` ticks around each load) | gatehouse (of it in the kernel) | nginx (workers, the static upstream included) | everything else (wrk, the provider and any other process, kernel work charged to no process) | total |"
  echo "|---|---:|---:|---:|---:|"
  echo "| ceiling | - | $CEIL_NGINX | $CEIL_OTHER | $CEIL_TOTAL |"
  echo "| gate, WORKERS=1 | $GATE_GH ($GATE_GH_KERNEL) | $GATE_NGINX | $GATE_OTHER | $GATE_TOTAL |"
  echo "| gate, one worker per core | $WIDE_GH ($WIDE_GH_KERNEL) | $WIDE_NGINX | $WIDE_OTHER | $WIDE_TOTAL |"
)
echo "$TABLE"
echo
echo "$CPU_TABLE"
echo
echo "$VERDICT"

OUT_FILE=${GATE_OUT:-bench/GATE.md}
KEEP_MARKER="<!-- kept by bench/gate.sh -->"
if [ "$SMOKE" = 1 ]; then
  echo "gate bench smoke: ok"
else
  {
    echo "# Gate benchmark"
    echo
    echo "Command: \`bench/gate.sh\` (wrk -t2 -c$CONNECTIONS -d$DURATION --latency, $ROUNDS interleaved rounds, medians, and each round's gate over its ceiling, measured one beside the other; $USERS users signed in to each gate through the local OpenID Provider, a different user's cookie on every request)."
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); run on $(date -u +%Y-%m-%d)."
    echo "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), $("$APACHE" -v | sed -n 's/Server version: //p'), mod_auth_openidc $(dpkg-query -W -f='${Version}' libapache2-mod-auth-openidc 2>/dev/null || echo '?'); gatehouse release build with WORKERS=1 (and, in one row, actix-web's default of one worker per core), cookie sessions, SQLite (the hot path reads the account cache, not the database)."
    echo "Every path ends at the same nginx static upstream; nginx keeps connections to gatehouse and the upstream alive; mod_auth_openidc keeps its sessions in shared memory (its default) and proxies with mod_proxy."
    echo
    echo "$TABLE"
    echo
    echo "- $VERDICT."
    echo
    echo "$CPU_TABLE"
    # What was written by hand below the marker stays.
    if [ -f "$OUT_FILE" ] && grep -qxF "$KEEP_MARKER" "$OUT_FILE"; then
      echo
      awk -v marker="$KEEP_MARKER" '$0 == marker { keep = 1 } keep' "$OUT_FILE"
    fi
  } > "$WORK/GATE.md"
  mv "$WORK/GATE.md" "$OUT_FILE"

  say "wrote $OUT_FILE"
fi
