"""A real DAG run whose SIAK credentials exist only as an Airflow connection in the metadata
database (added with ``airflow connections add``): no ``SIMPUL_SIAK_*`` variable and no
``AIRFLOW_CONN_*`` variable anywhere. The run succeeds only if the task asks Airflow for the
connection (Airflow does not export connections to tasks as environment variables)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import siak_served

DAG_ID = "simpul_siak_penduduk"
CONN_ID = "simpul_siak"


@pytest.fixture(scope="module")
def siak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with siak_served(tmp_path_factory.mktemp("world"), seed=5, population=400) as served:
        yield served["handle"].env()


def airflow_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_SIAK_")}
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args], capture_output=True, text=True, env=env
    )


@pytest.fixture
def metastore_connection(siak: dict, airflow_home: Path) -> Iterator[None]:
    airflow_cli("connections", "delete", CONN_ID)
    done = airflow_cli(
        "connections",
        "add",
        CONN_ID,
        "--conn-json",
        json.dumps(
            {
                "conn_type": "http",
                "extra": {"url": siak["SIMPUL_SIAK_URL"]},
                "login": siak["SIMPUL_SIAK_CLIENT_ID"],
                "password": siak["SIMPUL_SIAK_CLIENT_SECRET"],
            }
        ),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    try:
        yield
    finally:
        airflow_cli("connections", "delete", CONN_ID)


_RUN_DAG = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from simpul.config import secret_resolver
dag = DagBag(dag_folder=sys.argv[1]).dags[sys.argv[2]]
run = dag.test()
states = {t.task_id: str(t.state) for t in run.get_task_instances()}
print(json.dumps({"state": str(run.state), "tasks": states, "resolver": secret_resolver() is None}))
"""


def test_the_dag_gets_its_credentials_from_an_airflow_connection(
    metastore_connection, simpul_home: Path, monkeypatch: pytest.MonkeyPatch
):
    """The run is a fresh process, as a task is: nothing another test module imported or
    configured in this one (Airflow settings, secrets backends) can stand in for Airflow."""
    for name in list(os.environ):
        if name.startswith(("SIMPUL_SIAK_", "AIRFLOW_CONN_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")

    done = subprocess.run(
        [sys.executable, "-c", _RUN_DAG, str(Path(__file__).resolve().parents[2] / "dags"), DAG_ID],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["state"] == "success", result["tasks"]
    assert result["resolver"]  # the task put the CLI's environment-only lookup back

    from simpul.warehouse import open_warehouse

    wh = open_warehouse()
    try:
        assert wh.scalar("select count(*) from core.penduduk") > 0
    finally:
        wh.dispose()
