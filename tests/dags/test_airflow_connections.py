"""A real DAG run whose SIAK credentials exist only as an Airflow connection in the metadata
database (added with ``airflow connections add``): no ``SIMPUL_SIAK_*`` variable and no
``AIRFLOW_CONN_*`` variable anywhere. The run succeeds only if the task asks Airflow for the
connection (Airflow does not export connections to tasks as environment variables)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dags.dag_run import airflow_connection, run_dag
from tests.served import siak_served

DAG_ID = "simpul_siak_penduduk"
CONN_ID = "simpul_siak"


@pytest.fixture(scope="module")
def siak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with siak_served(tmp_path_factory.mktemp("world"), seed=5, population=400) as served:
        yield served["handle"].env()


@pytest.fixture
def metastore_connection(siak: dict, airflow_home: Path) -> Iterator[None]:
    conn = {
        "conn_type": "http",
        "extra": {"url": siak["SIMPUL_SIAK_URL"]},
        "login": siak["SIMPUL_SIAK_CLIENT_ID"],
        "password": siak["SIMPUL_SIAK_CLIENT_SECRET"],
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_SIAK_")}
    with airflow_connection(CONN_ID, conn, env):
        yield


def test_the_dag_gets_its_credentials_from_an_airflow_connection(
    metastore_connection, simpul_home: Path, monkeypatch: pytest.MonkeyPatch
):
    """The run is a fresh process, as a task is: nothing another test module imported or
    configured in this one (Airflow settings, secrets backends) can stand in for Airflow."""
    for name in list(os.environ):
        if name.startswith(("SIMPUL_SIAK_", "AIRFLOW_CONN_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")

    result = run_dag(DAG_ID)
    assert result["state"] == "success", result["tasks"]
    assert result["resolver"]  # the task put the CLI's environment-only lookup back

    from simpul.warehouse import open_warehouse

    wh = open_warehouse()
    try:
        assert wh.scalar("select count(*) from core.penduduk") > 0
    finally:
        wh.dispose()
