#!/usr/bin/env bash
# Where a sign-in's CPU goes: runs gatehouse (release, PostgreSQL) under valgrind's callgrind while
# N browsers sign in through the local OpenID Provider, then splits the instructions executed by
# the stage they were spent in. Instruction counts, unlike seconds, repeat exactly on a busy machine.
#
#   bench/signin-profile.sh [N]     (default 20 sign-ins)
#   PROFILE_OUT=/tmp/s.out bench/signin-profile.sh   keeps callgrind's file
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
PG_ADMIN="${BENCH_POSTGRES_URL:-${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}}"
command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
cargo build --release --locked --bin gatehouse 2>&1 | tail -n 1 >&2
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

WORK=$(mktemp -d /tmp/gatehouse-signin-profile.XXXXXX)
DB="gatehouse_profile_$$"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
DATABASE_URL=$(python3 -c "import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path='/$DB').geturl())" "$PG_ADMIN")
OP_PORT=$(free_port); GH_PORT=$(free_port); GH="http://127.0.0.1:$GH_PORT"
CLIENT="{\"client_id\":\"bench\",\"client_secret\":\"bench-secret-0123456789\",\"redirect_uris\":[\"$GH/callback/op\"],\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"]}"
mkfifo "$WORK/op.stdin"
node tests/oidc-provider/server.mjs --port "$OP_PORT" --client "$CLIENT" <"$WORK/op.stdin" >/dev/null 2>&1 & PIDS+=($!)
exec 9>"$WORK/op.stdin"
env -i PATH="$PATH" DATABASE_URL="$DATABASE_URL" BIND_ADDR="127.0.0.1:$GH_PORT" PUBLIC_URL="$GH" \
  SESSION_KEY="$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')" RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn \
  OAUTH_PROVIDERS=op OAUTH_OP_KIND=oidc OAUTH_OP_ISSUER="http://127.0.0.1:$OP_PORT" \
  OAUTH_OP_CLIENT_ID=bench OAUTH_OP_CLIENT_SECRET=bench-secret-0123456789 \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out" \
  target/release/gatehouse >"$WORK/gatehouse.log" 2>&1 & PIDS+=($!)
GPID=$!
for _ in $(seq 300); do curl -fs -o /dev/null "$GH/healthz" && break; sleep 0.2; done
python3 bench/signin.py "$GH" op warmup 3 >/dev/null   # discovery, JWKS, pool connections
callgrind_control -i on "$GPID" >/dev/null
python3 bench/signin.py "$GH" op user "$N" >/dev/null
callgrind_control -i off "$GPID" >/dev/null
kill "$GPID"; wait "$GPID" 2>/dev/null || true
for _ in $(seq 100); do [ -s "$WORK/callgrind.out" ] && break; sleep 0.2; done
[ -n "${PROFILE_OUT:-}" ] && cp "$WORK/callgrind.out" "$PROFILE_OUT"
callgrind_annotate --inclusive=yes --threshold=100 "$WORK/callgrind.out" >"$WORK/annotate.txt" 2>&1 || { cat "$WORK/annotate.txt" >&2; exit 1; }
python3 - "$N" "$WORK/annotate.txt" <<'PY'
import re, sys
n = int(sys.argv[1])
rows = []
total = None
for line in open(sys.argv[2]):
    m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(.*)$", line)
    if not m:
        continue
    ir = int(m.group(1).replace(",", ""))
    if "PROGRAM TOTALS" in m.group(2):
        total = ir
    else:
        rows.append((ir, m.group(2)))
def most(*patterns):
    hits = [ir for ir, sym in rows if any(re.search(p, sym) for p in patterns)]
    return max(hits, default=0)
verify = most(r"gatehouse::providers::oidc::OidcProvider::verify \[")
# The signature: ring's check (src/providers/oidc/verify.rs), or the rsa crate's through
# openidconnect when ring is not used.
rsa = most(r"rsa::pkcs1v15::Pkcs1v15Sign as rsa::traits::padding::SignatureScheme>::verify",
           r"gatehouse::providers::oidc::verify::rs256_verified_by_ring")
http = most(r"gatehouse::providers::http::HttpClient as oauth2::endpoint::AsyncHttpClient>::call::\{\{closure\}\}")
# The transaction: write_tx, or the closure in accounts::sign_in it is inlined into.
upsert = most(r"gatehouse::db::write_tx \[", r"gatehouse::accounts::sign_in::\{\{closure\}\} \[")
authorize = most(r"OidcProvider as gatehouse::providers::Provider>::authorize_url::\{\{closure\}\}")
rest = total - verify - http - upsert - authorize
stages = [
    ("ID-token check (signature, claims)", verify),
    ("  of which the RS256 signature (ring)", rsa),
    ("token request to the provider (HTTP client, JSON)", http),
    ("user upsert (Diesel transaction, on the blocking pool)", upsert),
    ("authorization URL (state, PKCE, nonce)", authorize),
    ("everything else: HTTP, routing, sessions and cookies, redirects", rest),
]
print("| stage | instructions per sign-in | share |")
print("|---|---:|---:|")
for name, ir in stages:
    print(f"| {name} | {ir // n:,} | {100 * ir / total:.0f} % |")
print(f"| all that gatehouse executed | {total // n:,} | 100 % |")
PY
