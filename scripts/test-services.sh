#!/usr/bin/env bash
# Installs (from Debian's packages, when missing) and starts what the service tests need:
# Chromium for the dashboard's browser test, and a throw-away PostgreSQL server on loopback for
# the store contract and durability tests. Source it: it exports PERSONAE_TEST_PG and
# PERSONAE_CHROMIUM for `npm test`. Tests that need one of them and do not find it are skipped
# locally; CI always has both.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
need=()
command -v chromium >/dev/null || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "test-services: installing ${need[*]} from Debian's packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
export PERSONAE_CHROMIUM="$(command -v chromium)"

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
PG_PORT="${PERSONAE_PG_PORT:-55432}"
PG_DIR="${PERSONAE_PG_DIR:-/tmp/personae-test-pg}"
as_pg() { if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if ! as_pg "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
  rm -rf "$PG_DIR"
  mkdir -p "$PG_DIR"
  [ "$(id -u)" = "0" ] && chown postgres "$PG_DIR"
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U personae --auth=trust -E UTF8 >/dev/null
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=on -c synchronous_commit=on" start >/dev/null
fi
as_pg "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U personae -d postgres -tc \
  "SELECT 1 FROM pg_database WHERE datname='personae_test'" | grep -q 1 ||
  as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U personae personae_test
export PERSONAE_TEST_PG="postgres://personae@127.0.0.1:$PG_PORT/personae_test"
echo "test-services: chromium at $PERSONAE_CHROMIUM, PostgreSQL at $PERSONAE_TEST_PG"
