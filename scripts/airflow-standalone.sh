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
# Time: naive dates and the schedules of the DAGs are Western Indonesia Time (the DAGs carry
# an Asia/Jakarta start_date as well); the UI shows times in the zone chosen in the user menu.
export AIRFLOW__CORE__DEFAULT_TIMEZONE=${AIRFLOW__CORE__DEFAULT_TIMEZONE:-Asia/Jakarta}
# Size to the machine instead of Airflow's server defaults (32 LocalExecutor workers, 4 API
# workers: ~2 GiB on a 2-core PC). Any value already in the environment wins.
CPUS=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
PAR=$((CPUS * 2)); [ "$PAR" -lt 4 ] && PAR=4; [ "$PAR" -gt 16 ] && PAR=16
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-$PAR}
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-$PAR}
API_WORKERS=1; [ "$CPUS" -ge 4 ] && API_WORKERS=2
export AIRFLOW__API__WORKERS=${AIRFLOW__API__WORKERS:-$API_WORKERS}
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=${AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES:-1}
export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=${AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL:-60}
# Against `make simulate` (default ports 8710-8713): the simulators' published demo
# credentials, unless real ones are already in the environment (production: Airflow
# connections or a secrets backend exposing these variables).
export SIMPUL_SIAK_CLIENT_ID=${SIMPUL_SIAK_CLIENT_ID:-simpul-demo}
export SIMPUL_SIAK_CLIENT_SECRET=${SIMPUL_SIAK_CLIENT_SECRET:-simpul-demo-secret}
export SIMPUL_OSS_CLIENT_ID=${SIMPUL_OSS_CLIENT_ID:-simpul-oss-demo}
export SIMPUL_OSS_CLIENT_SECRET=${SIMPUL_OSS_CLIENT_SECRET:-simpul-oss-demo-secret}
export SIMPUL_CKAN_URL=${SIMPUL_CKAN_URL:-http://127.0.0.1:8713}
export SIMPUL_CKAN_TOKEN=${SIMPUL_CKAN_TOKEN:-simpul-ckan-demo-token}
export SIMPUL_HOME=${SIMPUL_HOME:-$PWD/var}
# Pseudonym key: never the public demo key here. Unless one is configured, this install gets its
# own random key in an owner-only file ($SIMPUL_HOME/keys/pseudonym.key), created once.
if [ -z "${SIMPUL_PSEUDONYM_KEY:-}" ] && [ -z "${SIMPUL_PSEUDONYM_KEY_FILE:-}" ]; then
  simpul keys init
fi
# Exchange DAGs sign what they send: a demo signing key is made once in SIMPUL_HOME/keys
# (production: SIMPUL_EXCHANGE_SIGNING_KEY from a secret store).
if [ -z "${SIMPUL_EXCHANGE_SIGNING_KEY:-}" ] && [ -z "${SIMPUL_EXCHANGE_SIGNING_KEY_FILE:-}" ]; then
  export SIMPUL_EXCHANGE_SIGNING_KEY_FILE="$SIMPUL_HOME/keys/exchange_ed25519.key"
  if [ ! -f "$SIMPUL_EXCHANGE_SIGNING_KEY_FILE" ]; then
    python -c 'import sys; from pathlib import Path; from simpul.exchange.signing import generate_key_file; generate_key_file(Path(sys.argv[1]))' "$SIMPUL_EXCHANGE_SIGNING_KEY_FILE"
    echo "Demo exchange signing key: $SIMPUL_EXCHANGE_SIGNING_KEY_FILE (not for production)"
  fi
fi
# Exchanges against `make simulate` (it serves Disdukcapil's endpoint on port 8714 and receipts
# the Dinas Sosial and village drop folders under $SIMPUL_HOME/exchange/). Receipts are signed
# by each agency's key: the demo agency key pairs live owner-only in $SIMPUL_HOME/keys
# (agency_<agency>_ed25519.key, made once by whichever side starts first); the simulators hold
# the private keys, the hub gets only the public ones here (production: the agency's .pub).
export SIMPUL_EXCHANGE_DISDUKCAPIL_URL=${SIMPUL_EXCHANGE_DISDUKCAPIL_URL:-http://127.0.0.1:8714/deliveries}
export SIMPUL_EXCHANGE_DISDUKCAPIL_TOKEN=${SIMPUL_EXCHANGE_DISDUKCAPIL_TOKEN:-simpul-demo-disdukcapil-token}
while read -r line; do
  name=${line#export }; name=${name%%=*}
  [ -n "${!name:-}" ] || export "${line#export }"
done < <(python -c 'from simpul.exchange.demo_agencies import print_hub_env; print_hub_env()')
airflow db migrate >/dev/null
airflow pools set simpul_warehouse 1 "DuckDB allows one writer" >/dev/null
echo "Parallelism $AIRFLOW__CORE__PARALLELISM on $CPUS CPU(s), $AIRFLOW__API__WORKERS API worker(s); schedules in $AIRFLOW__CORE__DEFAULT_TIMEZONE (WIB)"
if [ -z "${SIMPUL_ALERT_WEBHOOK_URL:-}${AIRFLOW_CONN_SIMPUL_ALERT_WEBHOOK:-}${SIMPUL_ALERT_EMAIL_TO:-}${SIMPUL_ALERT_SMTP_HOST:-}" ]; then
  echo "################################################################################"
  echo "# PERINGATAN: belum ada saluran peringatan eksternal; peringatan hanya ditulis ke"
  echo "#   $SIMPUL_HOME/alerts/alerts.log (dan tampil di dasbor, simpul status --check)."
  echo "# WARNING: no external alert channel; alerts only go to the alert log above."
  echo "#   Set SIMPUL_ALERT_WEBHOOK_URL, or the Airflow connection simpul_alert_smtp plus"
  echo "#   SIMPUL_ALERT_EMAIL_TO (see docs/operations.md)."
  echo "################################################################################"
fi
echo "Airflow UI: $AIRFLOW__API__BASE_URL (login: admin, password in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
exec airflow standalone
