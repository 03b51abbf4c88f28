#!/usr/bin/env bash
# Airflow UI on the embedded defaults: SQLite metadata in var/airflow, the DAGs in dags/.
# Start the agency simulators first in another terminal: `make simulate`.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"   # airflow standalone starts its parts from PATH
export AIRFLOW_HOME=${AIRFLOW_HOME:-$PWD/var/airflow}
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__PORT=${AIRFLOW__API__PORT:-8080}
export AIRFLOW__API__BASE_URL=${AIRFLOW__API__BASE_URL:-http://localhost:$AIRFLOW__API__PORT}
# Against `make simulate` (default ports 8710-8713): the simulators' published demo
# credentials, unless real ones are already in the environment (production: Airflow
# connections or a secrets backend exposing these variables).
export SIMPUL_SIAK_CLIENT_ID=${SIMPUL_SIAK_CLIENT_ID:-simpul-demo}
export SIMPUL_SIAK_CLIENT_SECRET=${SIMPUL_SIAK_CLIENT_SECRET:-simpul-demo-secret}
export SIMPUL_OSS_CLIENT_ID=${SIMPUL_OSS_CLIENT_ID:-simpul-oss-demo}
export SIMPUL_OSS_CLIENT_SECRET=${SIMPUL_OSS_CLIENT_SECRET:-simpul-oss-demo-secret}
export SIMPUL_CKAN_URL=${SIMPUL_CKAN_URL:-http://127.0.0.1:8713}
export SIMPUL_CKAN_TOKEN=${SIMPUL_CKAN_TOKEN:-simpul-ckan-demo-token}
# Pseudonym key: never the public demo key here. Unless one is configured, this install gets its
# own random key in an owner-only file ($SIMPUL_HOME/keys/pseudonym.key), created once.
if [ -z "${SIMPUL_PSEUDONYM_KEY:-}" ] && [ -z "${SIMPUL_PSEUDONYM_KEY_FILE:-}" ]; then
  simpul keys init
fi
airflow db migrate >/dev/null
airflow pools set simpul_warehouse 1 "DuckDB allows one writer" >/dev/null
echo "Airflow UI: $AIRFLOW__API__BASE_URL (login: admin, password in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
exec airflow standalone
