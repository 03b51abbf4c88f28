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
airflow db migrate >/dev/null
airflow pools set simpul_warehouse 1 "DuckDB allows one writer" >/dev/null
echo "Airflow UI: $AIRFLOW__API__BASE_URL (login: admin, password in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
exec airflow standalone
