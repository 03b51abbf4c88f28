"""A broken config becomes one explanatory DAG; a failing task alerts a real webhook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
NIK = "1608014507900001"
NAME = "Siti Aminah"
TOKEN = "tok_live_5f2b9c7e8d1a4b3c"


@pytest.fixture
def broken_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bad = tmp_path / "simpul.yaml"
    bad.write_text("sources: {}\npipelines:\n  siak_penduduk: {source: siak, stream: penduduk}\n")
    monkeypatch.setenv("SIMPUL_CONFIG", str(bad))
    return bad


def test_broken_config_registers_one_explanatory_dag(airflow_home, broken_config):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    # agreements live in their own file: the exchange DAGs do not depend on simpul.yaml
    assert {d for d in bag.dags if not d.startswith("simpul_exchange_")} == {"simpul_config_error"}
    dag = bag.dags["simpul_config_error"]
    assert "Konfigurasi tidak valid / invalid config" in dag.description
    assert str(broken_config) in dag.description
    assert "Konfigurasi Simpul tidak valid" not in dag.description  # short: first line only
    assert "pipelines.siak_penduduk" in dag.doc_md  # the offending key
    assert dag.doc_md.index("Perbaiki") < dag.doc_md.index("Fix")
    assert [t.task_id for t in dag.tasks] == ["report_config_error"]
    assert dag.tasks[0].owner == "simpul"


def test_valid_config_registers_pipelines_and_ops_dags(airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert {"simpul_siak_penduduk", "simpul_ops_marts", "simpul_ops_freshness"} <= set(bag.dags)
    assert "simpul_config_error" not in bag.dags
    marts = bag.dags["simpul_ops_marts"]
    assert marts.timetable.asset_condition is not None  # data-aware schedule
    uris = {a.uri for a in marts.timetable.asset_condition.objects}
    assert "simpul://warehouse/core/penduduk" in uris
    for dag in bag.dags.values():
        for t in dag.tasks:
            assert t.on_failure_callback, f"{dag.dag_id}.{t.task_id} has no failure alert"


FAILING_DAG = textwrap.dedent(
    f'''
    """Test DAGs: one task fails with personal data in its error; the config-error DAG."""
    from simpul.config import ConfigError, load_config
    from simpul.orchestration.dags import DEFAULT_ARGS, config_error_dag
    from airflow.sdk import DAG, task

    with DAG("simpul_test_failing", schedule=None,
             default_args={{**DEFAULT_ARGS, "retries": 0}}) as failing:
        @task
        def load():
            raise ValueError("row 7: NIK {NIK} nama '{NAME}' rejected; token={TOKEN}")
        load()

    try:
        load_config()
    except ConfigError as exc:
        globals().update(config_error_dag(exc))

    if __name__ == "__main__":
        import sys
        for dag_id in sys.argv[1:]:
            dag = next(d for d in globals().values() if getattr(d, "dag_id", None) == dag_id)
            run = dag.test()
            print("STATE", dag_id, run.state)
    '''
)


@pytest.mark.airflow
def test_failed_task_alerts_the_webhook_through_dag_test(
    airflow_home, webhook, broken_config, tmp_path
):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "failing.py").write_text(FAILING_DAG)
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "SIMPUL_HOME": str(tmp_path / "home"),
    }
    out = subprocess.run(
        [sys.executable, str(dags / "failing.py"), "simpul_test_failing", "simpul_config_error"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    states = [line.split() for line in out.stdout.splitlines() if line.startswith("STATE")]
    assert states == [
        ["STATE", "simpul_test_failing", "failed"],
        ["STATE", "simpul_config_error", "failed"],
    ], out.stdout[-2000:] + out.stderr[-4000:]
    assert len(webhook.received) == 2, webhook.received
    failing, config = webhook.received
    assert failing["kind"] == "failure"
    assert failing["dag_id"] == "simpul_test_failing" and failing["task_id"] == "load"
    assert failing["title"] == "[Simpul] Tugas gagal / Task failed: simpul_test_failing.load"
    assert "ValueError: row 7" in failing["message_en"]
    assert failing["log_url"] and failing["run_id"].startswith("manual__")
    raw = b"".join(webhook.raw).decode()
    for secret in (NIK, NAME, "Siti", TOKEN):
        assert secret not in raw
    assert config["dag_id"] == "simpul_config_error"
    assert "Konfigurasi Simpul tidak valid" in config["message_id"]
    json.dumps(config)  # plain JSON
