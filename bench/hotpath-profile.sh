#!/usr/bin/env bash
# Where a signed-in request's CPU goes: runs gatehouse (release, SQLite, the cookie store unless
# SESSION_STORE says otherwise) under valgrind's callgrind, signs a few users in through the local
# OpenID Provider, then counts the instructions of N signed-in requests of one path over kept-alive
# connections, and prints the heaviest functions (inclusive, per request). Instruction counts,
# unlike seconds, repeat on a busy machine.
#
#   bench/hotpath-profile.sh [PATH] [N]        (default /profile, 2,000 requests)
#   SESSION_STORE=redis REDIS_URL=redis://127.0.0.1:6379 bench/hotpath-profile.sh /api/me
#   PROFILE_OUT=/tmp/p.out bench/hotpath-profile.sh   keeps callgrind's file (callgrind_annotate --tree=caller)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${1:-/profile}
N=${2:-2000}
command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
[ -d tests/oidc-provider/node_modules/oidc-provider ] || npm ci --prefix tests/oidc-provider --no-audit --no-fund
cargo build --release --locked --bin gatehouse 2>&1 | tail -n 1 >&2
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

WORK=$(mktemp -d /tmp/gatehouse-hotpath.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
OP_PORT=$(free_port); GH_PORT=$(free_port); GH="http://127.0.0.1:$GH_PORT"
CLIENT="{\"client_id\":\"bench\",\"client_secret\":\"bench-secret-0123456789\",\"redirect_uris\":[\"$GH/callback/op\"],\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"]}"
mkfifo "$WORK/op.stdin"
node tests/oidc-provider/server.mjs --port "$OP_PORT" --client "$CLIENT" <"$WORK/op.stdin" >/dev/null 2>&1 & PIDS+=($!)
exec 9>"$WORK/op.stdin"
for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$OP_PORT/.well-known/openid-configuration" && break; sleep 0.05; done
env -i PATH="$PATH" DATABASE_URL="sqlite://$WORK/gatehouse.db" BIND_ADDR="127.0.0.1:$GH_PORT" PUBLIC_URL="$GH" \
  SESSION_KEY="$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')" RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn \
  SESSION_STORE="${SESSION_STORE:-cookie}" REDIS_URL="${REDIS_URL:-}" TRUSTED_PROXIES=127.0.0.1 \
  OAUTH_PROVIDERS=op OAUTH_OP_KIND=oidc OAUTH_OP_ISSUER="http://127.0.0.1:$OP_PORT" \
  OAUTH_OP_CLIENT_ID=bench OAUTH_OP_CLIENT_SECRET=bench-secret-0123456789 \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out" \
  target/release/gatehouse >"$WORK/gatehouse.log" 2>&1 & PIDS+=($!)
GPID=$!
for _ in $(seq 300); do curl -fs -o /dev/null "$GH/healthz" && break; sleep 0.2; done
python3 bench/signin.py "$GH" op user 10 >"$WORK/cookies.txt"
# N requests over two kept-alive connections, a different user's cookie on each.
drive() {
  python3 - "$GH" "$TARGET" "$WORK/cookies.txt" "$1" <<'PY'
import http.client, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1]); cookies = open(sys.argv[3]).read().split()
conns = [http.client.HTTPConnection(u.hostname, u.port) for _ in range(2)]
for i in range(int(sys.argv[4])):
    c = conns[i % 2]; c.request("GET", sys.argv[2], headers={"Cookie": cookies[i % len(cookies)], "Accept": "text/html"})
    r = c.getresponse(); r.read()
    if r.status != 200: raise SystemExit(f"{sys.argv[2]} answered {r.status}")
PY
}
drive 200   # warm-up, not counted
callgrind_control -i on "$GPID" >/dev/null
drive "$N"
callgrind_control -i off "$GPID" >/dev/null
kill "$GPID"; wait "$GPID" 2>/dev/null || true
for _ in $(seq 100); do [ -s "$WORK/callgrind.out" ] && break; sleep 0.2; done
[ -n "${PROFILE_OUT:-}" ] && cp "$WORK/callgrind.out" "$PROFILE_OUT"
callgrind_annotate --inclusive=yes --threshold=99 "$WORK/callgrind.out" >"$WORK/annotate.txt" 2>&1 || { cat "$WORK/annotate.txt" >&2; exit 1; }
python3 - "$N" "$WORK/annotate.txt" "$TARGET" <<'PY'
import re, sys
n = int(sys.argv[1])
rows, total = [], None
for line in open(sys.argv[2]):
    m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(.*)$", line)
    if not m:
        continue
    ir = int(m.group(1).replace(",", ""))
    if "PROGRAM TOTALS" in m.group(2):
        total = ir
    else:
        rows.append((ir, re.sub(r"\s*\[[^\]]*\]$", "", m.group(2))))
print(f"{sys.argv[3]}: {total // n:,} instructions per request ({n} requests)\n")
print("| inclusive instructions per request | share | function |")
print("|---:|---:|---|")
seen = 0
for ir, sym in rows:
    if seen >= 60:
        break
    print(f"| {ir // n:,} | {100 * ir / total:.0f} % | `{sym[:150]}` |")
    seen += 1
PY
