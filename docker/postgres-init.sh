#!/usr/bin/env bash
# The warehouse lives in its own database with its own role, beside Airflow's metadata database
# (role airflow). Runs once, when the PostgreSQL volume is first initialised.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="${SIMPUL_WAREHOUSE_PASSWORD:?set SIMPUL_WAREHOUSE_PASSWORD}" <<'SQL'
CREATE ROLE simpul LOGIN PASSWORD :'pw';
CREATE DATABASE warehouse OWNER simpul;
REVOKE ALL ON DATABASE warehouse FROM PUBLIC;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
SQL
