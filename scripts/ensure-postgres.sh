#!/usr/bin/env bash
# Make sure the PostgreSQL the warehouse tests use is up (127.0.0.1:5432, trust auth).
# Starts the local cluster if it is down; in CI a PostgreSQL that cannot be started is an error.
set -u
host=${SIMPUL_TEST_PG_HOST:-127.0.0.1}
port=${SIMPUL_TEST_PG_PORT:-5432}
up() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }
up && exit 0
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "PostgreSQL is down; starting it" >&2
  for v in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  done
  for _ in $(seq 1 30); do up && exit 0; sleep 1; done
fi
if [ -n "${CI:-}" ]; then
  echo "error: PostgreSQL at $host:$port is not running and could not be started" >&2
  exit 1
fi
echo "warning: no PostgreSQL at $host:$port; the PostgreSQL warehouse tests will be skipped" >&2
exit 0
