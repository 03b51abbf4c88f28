"""The real SIAK DAG (``dag.test()`` in a fresh process, as a task runs) with landing, staging
and reports in S3-compatible object storage (moto's HTTP server), whose endpoint and keys exist
only as the Airflow connection ``simpul_storage`` in the metadata database. The rerun loads
nothing new and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dags.dag_run import airflow_connection, run_dag
from tests.served import siak_served
from tests.storage.conftest import s3_env, s3_server  # noqa: F401 - fixtures

DAG_ID = "simpul_siak_penduduk"
CONN_ID = "simpul_storage"


@pytest.fixture(scope="module")
def siak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with siak_served(tmp_path_factory.mktemp("world"), seed=9, population=300) as served:
        yield served["handle"].env()


@pytest.fixture
def storage_connection(s3_server: str, airflow_home: Path) -> Iterator[None]:  # noqa: F811
    conn = {
        "conn_type": "generic",
        "extra": {"url": s3_server},
        "login": "testing-key-id",
        "password": "testing-secret-key",
    }
    with airflow_connection(CONN_ID, conn):
        yield


def test_dag_runs_with_storage_credentials_from_an_airflow_connection(
    siak: dict,
    storage_connection,
    s3_env: str,  # noqa: F811
    s3_server: str,  # noqa: F811
    simpul_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    import s3fs

    for k, v in siak.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
    for area in ("landing", "staging", "reports"):
        monkeypatch.setenv(f"SIMPUL_{area.upper()}_URL", f"{s3_env}/{area}")
    for name in ("SIMPUL_STORAGE_KEY_ID", "SIMPUL_STORAGE_SECRET", "SIMPUL_STORAGE_ENDPOINT_URL"):
        monkeypatch.delenv(name)  # only the Airflow connection knows where and how

    result = run_dag(DAG_ID, timeout=400, log=tmp_path / "run1.log")
    assert result["state"] == "success", result["tasks"]

    bucket = s3_env.removeprefix("s3://")
    fs = s3fs.S3FileSystem(
        key="testing-key-id",
        secret="testing-secret-key",
        endpoint_url=s3_server,
        use_listings_cache=False,
    )
    manifests = [p for p in fs.find(f"{bucket}/landing") if p.endswith("_manifest.json")]
    assert any("/siak/penduduk/" in p for p in manifests)
    assert any(p.endswith("summary.json") for p in fs.find(f"{bucket}/staging"))
    assert any(p.endswith("laporan_mutu_data.html") for p in fs.find(f"{bucket}/reports"))

    from simpul.warehouse import open_warehouse

    def core_and_loads() -> tuple[list, list]:
        wh = open_warehouse()  # closed again: the DAG's tasks need the DuckDB file
        try:
            return (
                wh.query("select * from core.penduduk order by 1"),
                wh.query("select * from ops.loads where stream = 'penduduk' order by loaded_at"),
            )
        finally:
            wh.dispose()

    before, _ = core_and_loads()
    assert before
    assert run_dag(DAG_ID, timeout=400, log=tmp_path / "run2.log")["state"] == "success"
    after, loads = core_and_loads()
    assert after == before
    assert len(loads) == 2 and loads[1]["rows_loaded"] == 0
