"""The production compose stack and image: parse, services, secrets, separate databases."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}


def env(service: str) -> dict:
    return SERVICES[service].get("environment") or {}


def test_every_required_service_is_there():
    assert {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES} <= set(SERVICES)
    for name, command in AIRFLOW_SERVICES.items():
        assert SERVICES[name]["command"] == command, name
        assert SERVICES[name]["image"] == "${SIMPUL_IMAGE:-simpul:latest}"
        assert "healthcheck" in SERVICES[name], name
        deps = SERVICES[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"


def test_celery_executor_on_redis_and_postgres_metadata():
    e = env("airflow-worker")
    assert e["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert e["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert e["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert e["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith("postgresql+psycopg://")
    assert e["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg://")
    assert e["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://airflow-apiserver:8080/execution/"
    )


def test_metadata_and_warehouse_are_separate_databases_and_roles():
    e = env("airflow-scheduler")
    meta = e["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    wh = e["SIMPUL_WAREHOUSE_URL"]
    assert meta.rsplit("/", 1)[1] == "airflow" and wh.rsplit("/", 1)[1] == "warehouse"
    assert "//airflow:" in meta and "//simpul:" in wh
    init = (ROOT / "docker" / "postgres-init.sh").read_text()
    assert "CREATE DATABASE warehouse OWNER simpul" in init


def test_shared_secrets_are_explicit_and_required_from_env():
    e = env("airflow-apiserver")
    for key, var in [
        ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW_FERNET_KEY"),
        ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW_JWT_SECRET"),
        ("AIRFLOW__API__SECRET_KEY", "AIRFLOW_API_SECRET_KEY"),
    ]:
        assert e[key].startswith("${" + var + ":?"), key
    # the same values in every Airflow container
    for name in AIRFLOW_SERVICES:
        assert env(name)["AIRFLOW__API_AUTH__JWT_SECRET"] == e["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_env_example_names_every_variable_the_compose_file_uses():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text)) - {"SIMPUL_IMAGE"}
    example = (ROOT / ".env.example").read_text()
    declared = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", example, re.M))
    assert used <= declared, sorted(used - declared)
    for line in example.splitlines():
        if re.match(r"^[A-Z_]*(SECRET|PASSWORD|FERNET_KEY|_KEY)=", line):
            assert line.split("=", 1)[1].strip() == "", f"no real secret in .env.example: {line}"


def test_shared_volumes_for_data_and_logs():
    vols = SERVICES["airflow-worker"]["volumes"]
    assert "simpul-data:/opt/simpul/var" in vols and "airflow-logs:/opt/airflow/logs" in vols
    assert {"postgres-db", "simpul-data", "airflow-logs"} <= set(COMPOSE["volumes"])


def test_dockerfile_installs_from_the_lock_and_runs_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in text
    assert "USER airflow" in text
    for folder in ("simpul", "connectors", "mappings", "expectations", "dags"):
        assert f"COPY {folder} {folder}" in text


def test_the_image_has_the_celery_provider_pinned():
    lock = (ROOT / "uv.lock").read_text()
    assert 'name = "apache-airflow-providers-celery"' in lock
    assert re.search(r'name = "apache-airflow"\nversion = "3\.3\.2"', lock)
