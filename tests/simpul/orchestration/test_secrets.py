"""Secrets through Airflow: under a task, source and channel credentials come from Airflow
connections (asked through ``BaseHook``, so any secrets backend works); the CLI reads the
environment only. The connections here are real Airflow connections, defined the way Airflow's
own environment-variables secrets backend reads them (``AIRFLOW_CONN_<ID>``)."""

from __future__ import annotations

import json

import pytest

from simpul.config import ConfigError, load_config, secret_resolver, set_secret_resolver
from simpul.orchestration import secrets

SIAK_ENV = ("SIMPUL_SIAK_URL", "SIMPUL_SIAK_CLIENT_ID", "SIMPUL_SIAK_CLIENT_SECRET")


@pytest.fixture(autouse=True)
def _no_resolver(monkeypatch: pytest.MonkeyPatch):
    for name in SIAK_ENV:
        monkeypatch.delenv(name, raising=False)
    previous = set_secret_resolver(None)
    secrets._cache.clear()
    yield
    set_secret_resolver(previous)
    secrets._cache.clear()


@pytest.fixture
def basehook_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every connection id the resolver asks Airflow's BaseHook for."""
    from airflow.sdk import BaseHook

    calls: list[str] = []
    real = BaseHook.get_connection.__func__

    def spy(cls, conn_id: str):
        calls.append(conn_id)
        return real(cls, conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(spy))
    return calls


def conn_env(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: object) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def test_task_side_credentials_come_from_the_airflow_connection(monkeypatch, basehook_calls):
    conn_env(
        monkeypatch,
        "simpul_siak",
        conn_type="https",
        host="siak.okutimur.example",
        port=8443,
        login="kecamatan-martapura",
        password="s3cret-from-airflow",
    )
    monkeypatch.setenv("SIMPUL_SIAK_CLIENT_SECRET", "stale-env-value")
    siak = load_config().sources["siak"]
    assert siak.conn_id == "simpul_siak"

    previous = secrets.use_airflow_connections()
    try:
        assert siak.resolved_base_url() == "https://siak.okutimur.example:8443"
        assert siak.secret("client_id") == "kecamatan-martapura"
        assert siak.secret("client_secret") == "s3cret-from-airflow"
        # the connector gets plain values (connectors import no Airflow)
        from simpul.pipeline import build_connector

        connector = build_connector(load_config(), "siak")
        assert connector.http.base_url.startswith("https://siak.okutimur.example:8443")
    finally:
        set_secret_resolver(previous)
    assert basehook_calls and set(basehook_calls) == {"simpul_siak"}


def test_the_cli_reads_the_environment_only(monkeypatch, basehook_calls):
    conn_env(monkeypatch, "simpul_siak", conn_type="https", host="x.example", password="conn")
    monkeypatch.setenv("SIMPUL_SIAK_CLIENT_SECRET", "from-env")
    assert secret_resolver() is None
    assert load_config().sources["siak"].secret("client_secret") == "from-env"
    assert basehook_calls == []


def test_a_missing_connection_falls_back_to_the_environment(monkeypatch, basehook_calls):
    monkeypatch.delenv("AIRFLOW_CONN_SIMPUL_OSS", raising=False)
    monkeypatch.setenv("SIMPUL_OSS_CLIENT_SECRET", "env-secret")
    monkeypatch.delenv("SIMPUL_OSS_CLIENT_ID", raising=False)
    oss = load_config().sources["oss"]
    previous = secrets.use_airflow_connections()
    try:
        assert oss.secret("client_secret") == "env-secret"
        with pytest.raises(ConfigError) as exc:
            oss.secret("client_id")
        message = str(exc.value)
        assert "Airflow connection simpul_oss" in message and "koneksi Airflow" in message
    finally:
        set_secret_resolver(previous)
    assert "simpul_oss" in basehook_calls


def test_the_decorator_restores_the_previous_resolver(monkeypatch):
    seen = []

    @secrets.with_airflow_connections
    def body(x: int) -> int:
        seen.append(secret_resolver())
        return x + 1

    assert body(1) == 2
    assert seen == [secrets.airflow_resolver]
    assert secret_resolver() is None


def test_channel_url_and_token_and_keys_from_connections(monkeypatch, basehook_calls):
    from simpul.exchange.agreements import load_agreements
    from simpul.exchange.signing import generate_key_file, load_signing_key, public_key_b64
    from simpul.warehouse.pseudonym import pseudonym_key

    for name in (
        "SIMPUL_EXCHANGE_DISDUKCAPIL_URL",
        "SIMPUL_EXCHANGE_DISDUKCAPIL_TOKEN",
        "SIMPUL_EXCHANGE_SIGNING_KEY",
        "SIMPUL_EXCHANGE_SIGNING_KEY_FILE",
        "SIMPUL_PSEUDONYM_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    conn_env(
        monkeypatch,
        "simpul_exchange_disdukcapil",
        conn_type="generic",
        extra={"url": "https://disdukcapil.okutimur.example/simpul/deliveries"},
        password="bearer-from-airflow",
    )
    import tempfile
    from pathlib import Path

    key_file = generate_key_file(Path(tempfile.mkdtemp()) / "hub.key")
    raw_key = key_file.read_text().strip()
    conn_env(monkeypatch, "simpul_exchange_signing", conn_type="generic", password=raw_key)
    conn_env(monkeypatch, "simpul_pseudonym", conn_type="generic", password="p" * 40)

    channel = load_agreements().get("disdukcapil_selisih_penduduk").channel
    assert channel.conn_id == "simpul_exchange_disdukcapil"
    previous = secrets.use_airflow_connections()
    try:
        assert channel.resolved_url() == "https://disdukcapil.okutimur.example/simpul/deliveries"
        assert channel.token() == "bearer-from-airflow"
        assert public_key_b64(load_signing_key().public_key()) == (
            key_file.with_suffix(".pub").read_text().strip()
        )
        assert pseudonym_key() == b"p" * 40
    finally:
        set_secret_resolver(previous)
    assert {"simpul_exchange_disdukcapil", "simpul_exchange_signing", "simpul_pseudonym"} <= set(
        basehook_calls
    )


def test_a_postgres_connection_becomes_a_psycopg_url(monkeypatch):
    monkeypatch.delenv("SIMPUL_PATEN_DB_URL", raising=False)
    conn_env(
        monkeypatch,
        "simpul_paten",
        conn_type="postgres",
        host="paten-db.kecamatan.example",
        port=5432,
        login="simpul_ro",
        password="p@ss/word",
        schema="paten",
    )
    paten = load_config().sources["paten"]
    previous = secrets.use_airflow_connections()
    try:
        url = paten.resolved_sql_url()
    finally:
        set_secret_resolver(previous)
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.username, parsed.password, parsed.host, parsed.database) == (
        "simpul_ro",
        "p@ss/word",
        "paten-db.kecamatan.example",
        "paten",
    )
