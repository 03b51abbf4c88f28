"""Padan runs in Airflow after the loads it reads: the generated ``simpul_ops_padan`` DAG is
asset-triggered by SIAK's and the agency sources' core assets, writes in the warehouse pool,
emits its own asset (which rebuilds the marts), and a real ``dag.test()`` run links the
loaded agency people into ``core.padan``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simpul.synth import WorldConfig, generate_world
from tests.dags.dag_run import DAGS, run_dag

DAG_ID = "simpul_ops_padan"


def test_padan_dag_is_generated_and_triggered_by_its_inputs_loads(airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    from simpul.orchestration.dags import PADAN_ASSET

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    dag = bag.dags[DAG_ID]
    uris = {a.uri for a in dag.timetable.asset_condition.objects}
    # SIAK and OpenSID (penduduk), Dinas Sosial, OSS permits and PATEN applications
    assert uris == {
        "simpul://warehouse/core/penduduk",
        "simpul://warehouse/core/penerima_bantuan",
        "simpul://warehouse/core/izin",
        "simpul://warehouse/core/permohonan_layanan",
    }
    assert {t.task_id for t in dag.tasks} == {"settle", "link_people"}
    task = dag.get_task("link_people")
    assert task.pool == "simpul_warehouse"  # DuckDB: one writer
    assert [o.uri for o in task.outlets] == [PADAN_ASSET.uri]
    assert task.on_failure_callback and task.on_success_callback
    # accepted links feed the reconciliation marts: padan's asset rebuilds them
    marts = bag.dags["simpul_ops_marts"]
    assert PADAN_ASSET.uri in {a.uri for a in marts.timetable.asset_condition.objects}


def test_no_padan_dag_without_siak_or_without_an_agency_source():
    from simpul.config import load_config
    from simpul.orchestration.ops_dags import padan_dag

    cfg = load_config()
    only_siak = cfg.model_copy(
        update={"pipelines": {"siak_penduduk": cfg.pipelines["siak_penduduk"]}}
    )
    no_siak = cfg.model_copy(
        update={"pipelines": {k: v for k, v in cfg.pipelines.items() if k != "siak_penduduk"}}
    )
    assert padan_dag(only_siak) is None
    assert padan_dag(no_siak) is None
    assert padan_dag(cfg) is not None


@pytest.fixture
def loaded(tmp_path: Path, simpul_home: Path, monkeypatch: pytest.MonkeyPatch, airflow_home):
    """SIAK, OpenSID and Dinas Sosial loaded by their pipelines (what the assets announce)."""
    from simpul.pipeline import run
    from simpul.simulators.dinsos import write_dinsos_drop
    from simpul.simulators.opensid import write_opensid_drops
    from simpul.simulators.runner import serve_all

    world = tmp_path / "world"
    generate_world(WorldConfig(seed=5, population=600)).write(world)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "padan-dag-test-pseudonym-key-0123456789")
    write_opensid_drops(world, simpul_home / "drops/opensid", seed=5, village_diff_rate=0.02)
    write_dinsos_drop(world, simpul_home / "drops/dinsos", defect_rate=0.05, seed=5)
    servers = serve_all(world, base_port=0, only=["siak"], seed=5)
    try:
        for k, v in servers["siak"].env().items():
            monkeypatch.setenv(k, v)
        for name in ("siak_penduduk", "opensid_penduduk", "dinsos_penerima_bantuan"):
            assert run(name)["status"] == "loaded", name
    finally:
        for s in servers.values():
            s.stop()
    return simpul_home


def test_the_padan_dag_run_links_the_loaded_agency_people(loaded: Path):
    """A fresh process, as a task is; the model it trains is saved with its report."""
    result = run_dag(DAG_ID)
    assert {"state": result["state"], "tasks": result["tasks"]} == {
        "state": "success",
        "tasks": {"settle": "success", "link_people": "success"},
    }, result["stderr"]

    from simpul.warehouse import open_warehouse

    wh = open_warehouse()
    try:
        rows = wh.query(
            "SELECT sumber, COUNT(*) AS n, SUM(CASE WHEN keputusan = 'tertaut_otomatis' "
            "THEN 1 ELSE 0 END) AS auto FROM core.padan GROUP BY sumber ORDER BY sumber"
        )
    finally:
        wh.dispose()
    by = {r["sumber"]: r for r in rows}
    assert set(by) == {"dinsos", "opensid"}
    assert all(r["auto"] > 0.9 * r["n"] for r in rows), rows
    reports = list((loaded / "padan" / "models").glob("*/training_report.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["records_siak"] > 0
