"""The vertical slice end to end: the real SIAK simulator over HTTP, the real Airflow DAG run
with ``dag.test()``, the real GX suite, and the DuckDB warehouse checked afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.served import siak_served

DAG_ID = "simpul_siak_penduduk"


@pytest.fixture(scope="module")
def siak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with siak_served(
        tmp_path_factory.mktemp("world"), seed=11, population=1500, defect_rate=0.03
    ) as served:
        yield served


@pytest.fixture
def env(siak, simpul_home: Path, monkeypatch: pytest.MonkeyPatch, airflow_home) -> Path:
    for k, v in siak["handle"].env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
    return simpul_home


def run_dag():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).dags[DAG_ID]
    return dag.test()


def test_dag_loads_the_simulated_disdukcapil_into_the_warehouse(env, siak):
    import pyarrow.parquet as pq

    from simpul.warehouse import open_warehouse

    run = run_dag()
    assert run.state == "success", [(t.task_id, t.state) for t in run.get_task_instances()]

    wh = open_warehouse()
    load = wh.query("select * from ops.loads where stream = 'penduduk'")[0]
    assert load["status"] == "loaded"
    assert (
        load["rows_loaded"] + load["rows_quarantined"] + load["rows_duplicate"]
        == load["rows_received"]
    )
    truth = pq.read_table(siak["world"] / "ground_truth" / "siak_penduduk.parquet")
    world = pq.read_table(siak["world"] / "penduduk.parquet").num_rows
    assert load["rows_received"] >= world  # defects may add duplicate rows, never drop rows
    assert truth.num_rows > 0 and load["rows_quarantined"] > 0
    assert wh.scalar("select count(*) from core.penduduk") == load["rows_loaded"]
    assert wh.scalar("select count(*) from raw.siak_penduduk") == load["rows_received"]
    assert wh.scalar("select count(distinct _load_id) from core.penduduk") == 1
    assert wh.scalar("select count(*) from ops.quarantine where reasons_id = ''") == 0
    assert wh.scalar("select count(*) from ref.wilayah where tingkat = 'desa'") > 3000
    cursor = wh.scalar("select cursor_value from ops.cursors where stream = 'penduduk'")
    assert cursor == load["cursor_to"]

    # the agency changes a few records; the next run fetches only those (and the boundary)
    base = siak["handle"].url
    requests.post(f"{base}/admin/advance", params={"days": 7}, timeout=10).raise_for_status()
    run = run_dag()
    assert run.state == "success"
    loads = wh.query("select * from ops.loads where stream = 'penduduk' order by loaded_at")
    assert len(loads) == 2
    assert 0 < loads[1]["rows_received"] < load["rows_received"] / 5
    assert loads[1]["cursor_from"] == cursor and loads[1]["cursor_to"] > cursor
    wh.dispose()


def test_dag_run_fails_clearly_when_the_agency_is_down(env, monkeypatch):
    monkeypatch.setenv("SIMPUL_SIAK_URL", "http://127.0.0.1:9")  # nothing listens there
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).dags[DAG_ID]
    for t in dag.tasks:
        t.retries = 0
    run = dag.test()
    assert run.state == "failed"
    states = {t.task_id: t.state for t in run.get_task_instances()}
    assert states["extract"] == "failed" and states["load"] != "success"
