"""Every DAG imports without errors, parses fast, and carries tags and an owner."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from simpul.config import load_config

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag(airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_one_dag_per_configured_pipeline(dagbag):
    expected = {f"simpul_{name}" for name in load_config().pipelines}
    assert expected <= set(dagbag.dags)


def test_tags_owner_and_pools(dagbag):
    for dag in dagbag.dags.values():
        assert "simpul" in dag.tags, dag.dag_id
        assert dag.max_active_runs == 1
        for t in dag.tasks:
            assert t.owner == "simpul"
        by_id = {t.task_id: t for t in dag.tasks}
        if "load" in by_id:
            assert by_id["load"].pool == "simpul_warehouse"  # DuckDB: one writer
            assert by_id["load"].outlets, "load must emit an asset event"


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_parse_time_under_two_seconds(airflow_home, path):
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(path))
    elapsed = time.perf_counter() - started
    assert bag.import_errors == {}
    assert elapsed < 2.0, f"{path.name} took {elapsed:.2f}s to parse"


def test_dag_files_do_not_import_heavy_modules_at_parse_time():
    import subprocess
    import sys

    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]);"
        "heavy = [m for m in ('great_expectations', 'pandas', 'duckdb') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    for path in DAGS.glob("*.py"):
        out = (
            subprocess.run(
                [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
            )
            .stdout.strip()
            .splitlines()[-1:]
        )
        assert out in ([], [""]), f"{path.name} imports {out} at parse time"
