#!/usr/bin/env bash
# gatehouse side by side with the peers users would otherwise run (Flask + Flask-Login, Express +
# Passport with PostgreSQL or cookie sessions), on the same machine, data size and load, measured
# interleaved by the peers' own harness (common/bench.py). Writes bench/PEERS.md.
#
#   bench/peers.sh        (PEERS_DIR, default ../shared/bench/peers; ROUNDS=3 DUR=10)
#
# Every server gets 1,000 signed-in users and wrk sends a different user's cookie on each request
# (common/rotate_cookies.lua). The peers sign their users in through a test-only /dev-login;
# gatehouse has no such door, so its 1,000 users sign in through the local OpenID Provider.
# Everything runs on 127.0.0.1; the peers' PostgreSQL is a throwaway cluster on port 55433.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PEERS_DIR=$(cd "${PEERS_DIR:-../shared/bench/peers}" && pwd)
WORK=/tmp/gatehouse-peers
OUT="$WORK/out"
USERS=1000
say() { printf '==> %s\n' "$*" >&2; }
wait_http() { for _ in $(seq 300); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "peers: $1 never answered" >&2; exit 1; }

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
mkdir -p "$WORK" && cp -rn "$PEERS_DIR/." "$WORK/" && rm -rf "$OUT" && mkdir -p "$OUT"

say "installing the peers (venv, npm ci) and gatehouse (release build)"
[ -x "$WORK/flask/.venv/bin/gunicorn" ] || { /usr/bin/python3 -m venv "$WORK/flask/.venv" && "$WORK/flask/.venv/bin/pip" install -q -r "$WORK/flask/requirements.txt"; }
[ -d "$WORK/express/node_modules" ] || npm ci --prefix "$WORK/express" --no-audit --no-fund >/dev/null
[ -d tests/oidc-provider/node_modules/oidc-provider ] || npm ci --prefix tests/oidc-provider --no-audit --no-fund >/dev/null
cargo build --release --locked --bin gatehouse 2>&1 | tail -n 1 >&2

"$WORK/common/pg.sh" start >&2 && "$WORK/common/pg.sh" seed >&2
PG_PID=$(head -1 /tmp/peerpg/postmaster.pid)
PSQL=(/usr/lib/postgresql/15/bin/psql -h 127.0.0.1 -p 55433 -U bench -qAt)
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS gatehouse WITH (FORCE)" -c "CREATE DATABASE gatehouse"

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; "$WORK/common/pg.sh" stop >&2 || true; }
trap cleanup EXIT

(cd "$WORK/flask" && exec .venv/bin/gunicorn -w 2 -b 127.0.0.1:8101 app:app >"$OUT/flask.log" 2>&1) & PIDS+=($!)
(cd "$WORK/express" && NODE_ENV=production SESSION_KIND=pg PORT=8201 WORKERS=2 exec node app.js >"$OUT/express-pg.log" 2>&1) & PIDS+=($!)
(cd "$WORK/express" && NODE_ENV=production SESSION_KIND=cookie PORT=8202 WORKERS=2 exec node app.js >"$OUT/express-cookie.log" 2>&1) & PIDS+=($!)
FLASK_PID=${PIDS[0]}; EXPRESS_PG_PID=${PIDS[1]}; EXPRESS_COOKIE_PID=${PIDS[2]}

OP_PORT=8501; GH=http://127.0.0.1:8401
CLIENT="{\"client_id\":\"bench\",\"client_secret\":\"bench-secret-0123456789\",\"redirect_uris\":[\"$GH/callback/op\"],\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"]}"
rm -f "$WORK/op.stdin" && mkfifo "$WORK/op.stdin"
node tests/oidc-provider/server.mjs --port "$OP_PORT" --client "$CLIENT" <"$WORK/op.stdin" >/dev/null 2>&1 & PIDS+=($!)
exec 9>"$WORK/op.stdin"
env -i PATH="$PATH" DATABASE_URL=postgres://bench@127.0.0.1:55433/gatehouse BIND_ADDR=127.0.0.1:8401 PUBLIC_URL="$GH" \
  SESSION_KEY="$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')" RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn \
  OAUTH_PROVIDERS=op OAUTH_OP_KIND=oidc OAUTH_OP_ISSUER="http://127.0.0.1:$OP_PORT" \
  OAUTH_OP_CLIENT_ID=bench OAUTH_OP_CLIENT_SECRET=bench-secret-0123456789 \
  target/release/gatehouse >"$OUT/gatehouse.log" 2>&1 & PIDS+=($!)
GATEHOUSE_PID=$!

for url in http://127.0.0.1:8101/login http://127.0.0.1:8201/login http://127.0.0.1:8202/login \
  "http://127.0.0.1:$OP_PORT/.well-known/openid-configuration" "$GH/healthz"; do wait_http "$url"; done

say "signing in $USERS users on each server"
for peer in flask:8101 express-pg:8201 express-cookie:8202; do
  python3 "$WORK/common/get_cookies.py" "http://127.0.0.1:${peer#*:}" "$USERS" "$OUT/cookies-${peer%%:*}.txt" >&2
done
python3 bench/signin.py "$GH" op user "$USERS" >"$OUT/cookies-gatehouse.txt"
[ "$(wc -l <"$OUT/cookies-gatehouse.txt")" -eq "$USERS" ] || { echo "peers: gatehouse sign-ins failed" >&2; exit 1; }

say "measuring (interleaved rounds; several minutes)"
ROUNDS="${ROUNDS:-3}" DUR="${DUR:-10}" CONCS=64 PG_PID="$PG_PID" LOAD_WAIT_MAX=120 GATE_MAX=300 \
  python3 "$WORK/common/bench.py" "$OUT" gatehouse=8401:"$GATEHOUSE_PID" flask=8101:"$FLASK_PID" \
  express-pg=8201:"$EXPRESS_PG_PID" express-cookie=8202:"$EXPRESS_COOKIE_PID" >"$OUT/bench.log"

python3 - "$OUT/results.json" "$OUT/results.md" >"$ROOT/bench/PEERS.md" <<'PY'
import json, re, statistics, subprocess, sys
data = json.load(open(sys.argv[1]))
runs, memory = data["runs"], data["memory"]
servers = list(data["meta"]["servers"])
peers = [s for s in servers if s != "gatehouse"]
med = lambda s, p, k="rps": statistics.median(r[k] for r in runs if r["server"] == s and r["path"] == p and r["tag"] != "warmup")
print("# gatehouse beside the peers")
print()
print("Command: `bench/peers.sh` (the peers' own harness, `common/bench.py`: wrk -t2 -c64, "
      f"{data['meta']['rounds']} interleaved rounds of {data['meta']['dur_s']} s, 1,000 signed-in users per server, "
      "a different user's cookie on every request; all servers on one PostgreSQL 15 cluster).")
print(f"Machine: {subprocess.getoutput('nproc')} cores, {subprocess.getoutput('uname -sr')}; "
      f"run {data['meta']['start_utc']} – {data['meta']['end_utc']}. Load before the run: {data['meta']['load_wait']}.")
print()
print("gatehouse: release build, cookie session store, PostgreSQL, defaults otherwise.")
print()
print("## gatehouse ÷ peer, median req/s")
print()
print("| path | gatehouse req/s | " + " | ".join(f"÷ {p}" for p in peers) + " |")
print("|---|---:|" + "---:|" * len(peers))
names = {"profile": "GET /profile, signed in", "anon": "GET /profile, signed out (redirect)", "login": "GET /login"}
for path in ("profile", "anon", "login"):
    g = med("gatehouse", path)
    print(f"| {names[path]} | {g:,.0f} | " + " | ".join(f"{g / med(p, path):.1f}x" for p in peers) + " |")
print()
print("## CPU per signed-in /profile (server + PostgreSQL), µs")
print()
print("| server | server CPU | PostgreSQL CPU | p99 ms | peak RSS MiB (all processes) |")
print("|---|---:|---:|---:|---:|")
for s in servers:
    print(f"| {s} | {med(s, 'profile', 'server_cpu_us_per_req'):.0f} | {med(s, 'profile', 'pg_cpu_us_per_req'):.0f} | "
          f"{med(s, 'profile', 'p99'):.2f} | {memory[s]['peak_rss_mib_sum_vmhwm']} |")
print()
print("## The harness's own summary")
print()
# Its actix-ref ratio table is empty here (no actix-ref server in this run): left out.
summary = re.sub(r"Ratios of median req/s \(actix-ref / peer\):\n\n(\|.*\n)+\n", "", open(sys.argv[2]).read())
print(summary)
PY
say "wrote bench/PEERS.md"
cat bench/PEERS.md
