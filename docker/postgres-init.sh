#!/usr/bin/env bash
# The warehouse lives in its own database, beside Airflow's metadata database.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE simpul LOGIN PASSWORD :'pw';
CREATE DATABASE warehouse OWNER simpul;
SQL
