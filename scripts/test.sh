#!/usr/bin/env bash
# The whole test suite: unit tests, and black-box tests that drive the app against a real
# OpenID Provider (npm oidc-provider), provider stand-ins, SQLite and a real PostgreSQL.
#
# PostgreSQL: uses $TEST_POSTGRES_URL if set, else the server on 127.0.0.1:5432 (user postgres
# or root, database test), else starts a throwaway cluster with initdb/pg_ctl. Never skips.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# --- the test OpenID Provider (Node 20+) -------------------------------------------------------
command -v node >/dev/null || { echo "node (20+) is required for the test OpenID Provider" >&2; exit 1; }
if [ ! -d tests/oidc-provider/node_modules/oidc-provider ]; then
  say "installing the test OpenID Provider (npm ci)"
  npm ci --prefix tests/oidc-provider --no-audit --no-fund
fi

# --- the real-browser test: Debian's Chromium + ChromeDriver, and axe-core ------------------------
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  say "installing chromium and chromium-driver (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if [ ! -d tests/browser/node_modules/axe-core ]; then
  say "installing axe-core for the accessibility check (npm ci)"
  npm ci --prefix tests/browser --no-audit --no-fund
fi

# --- the reverse proxies the gate is tested behind: Debian's nginx and Caddy ----------------------
if { ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; } || ! command -v caddy >/dev/null; then
  say "installing nginx and caddy (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light caddy >/dev/null
fi
# Debian's packages may start them on :80 where an init system runs; the tests start their own.

# --- PostgreSQL -------------------------------------------------------------------------------
pg_answers() { psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1; }

ensure_pg_client() {
  command -v psql >/dev/null && return
  say "installing the PostgreSQL client and server (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# Globals, so the EXIT trap can still see them.
PG_BIN="" PG_DIR="" PG_RUN=()
stop_throwaway_pg() {
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}

start_throwaway_pg() {
  local port=55439
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  if [ -z "$PG_BIN" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  fi
  PG_DIR=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then   # initdb refuses to run as root
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_DIR"
    PG_RUN=(runuser -u postgres --)
  fi
  say "starting a throwaway PostgreSQL on 127.0.0.1:$port ($PG_DIR)"
  "${PG_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust >/dev/null
  trap stop_throwaway_pg EXIT
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR" \
    -l "$PG_DIR/log" -w start >/dev/null
  psql "postgres://postgres@127.0.0.1:$port/postgres" -qc 'CREATE DATABASE test' >/dev/null
  TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/test"
}

ensure_pg_client
if [ -z "${TEST_POSTGRES_URL:-}" ]; then
  for candidate in postgres://postgres@127.0.0.1:5432/test postgres://root@127.0.0.1:5432/test; do
    if pg_answers "$candidate"; then TEST_POSTGRES_URL=$candidate; break; fi
  done
fi
if [ -z "${TEST_POSTGRES_URL:-}" ] || ! pg_answers "$TEST_POSTGRES_URL"; then
  start_throwaway_pg
fi
export TEST_POSTGRES_URL
# The tests create and drop one database per test.
psql "$TEST_POSTGRES_URL" -Atqc "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user" | grep -q t \
  || { echo "the PostgreSQL role in TEST_POSTGRES_URL must be allowed to create databases" >&2; exit 1; }
say "PostgreSQL: ${TEST_POSTGRES_URL}"

# --- Redis (for the Redis session store) --------------------------------------------------------
redis_answers() { command -v redis-cli >/dev/null && redis-cli -u "$1" ping 2>/dev/null | grep -q PONG; }
TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
if ! redis_answers "$TEST_REDIS_URL"; then
  if ! command -v redis-server >/dev/null; then
    say "installing Redis (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  REDIS_PORT=56390
  say "starting a throwaway Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --pidfile "/tmp/gatehouse-redis-$REDIS_PORT.pid" --logfile "/tmp/gatehouse-redis-$REDIS_PORT.log"
  TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  for _ in $(seq 50); do redis_answers "$TEST_REDIS_URL" && break; sleep 0.1; done
  redis_answers "$TEST_REDIS_URL" || { echo "Redis did not start" >&2; exit 1; }
fi
export TEST_REDIS_URL
say "Redis: $TEST_REDIS_URL"

# --- throwaway servers for the outage tests (tests/api/outages.rs) ------------------------------
# They start, stop and restart a Redis and a PostgreSQL cluster of their own on loopback ports.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  say "installing redis-server for the outage tests (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  say "installing the PostgreSQL server binaries for the outage tests (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home postgres   # initdb refuses to run as root
fi

# --- the tests ---------------------------------------------------------------------------------
say "cargo test"
cargo test --locked --all-targets "$@"
# --all-targets leaves out the examples in doc comments: they must compile too.
say "cargo test --doc"
cargo test --locked --doc "$@"
