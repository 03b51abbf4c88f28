"""Airflow's per-task overhead: ``dag.test()`` of a tiny DAG against calling its functions.

Runs in its own process with ``AIRFLOW_HOME`` in a temporary folder (SQLite metadata, migrated
with ``airflow db migrate`` first, which is timed apart). The DAG has ``TASKS`` Python tasks in a
chain that each do trivial work, so whatever ``dag.test()`` spends beyond the direct calls is
Airflow: task instance bookkeeping, XCom, state in the metadata DB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TASKS = 5
DAG = """
from datetime import datetime
from airflow.sdk import dag, task

from bench.airflow_overhead import work

@dag(dag_id="bench_tiny", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def bench_tiny():
    prev = None
    for i in range({n}):
        t = task(task_id=f"t{{i}}")(work)(i)
        if prev is not None:
            prev >> t
        prev = t

bench_tiny()
"""


def work(i: int) -> dict[str, int]:
    """A task body that costs nothing: returns a small dict (as the pipeline stages do)."""
    return {"task": i, "rows": sum(range(1000))}


def run(a: dict[str, Any]) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="simpul-bench-airflow-"))
    dags = home / "dags"
    dags.mkdir()
    (dags / "bench_tiny.py").write_text(DAG.format(n=TASKS))
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
    )
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    t = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=env
    )
    migrate_s = time.monotonic() - t
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, env=env, text=True
    )
    import json

    out = json.loads(probe.stdout.strip().splitlines()[-1])
    import shutil

    shutil.rmtree(home, ignore_errors=True)
    return {
        "rows": TASKS,
        "db_migrate_s": round(migrate_s, 2),
        **out,
        "_seconds": out["dag_test_s"],
    }


_PROBE = """
import json, time
t = time.monotonic()
from bench.airflow_overhead import TASKS, work
from airflow.dag_processing.dagbag import DagBag
import os
dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["bench_tiny"]
parse_s = time.monotonic() - t
t = time.monotonic()
run = dag.test()
first = time.monotonic() - t
assert run.state == "success", run.state
t = time.monotonic()
run = dag.test()
second = time.monotonic() - t
t = time.monotonic()
for i in range(TASKS):
    work(i)
direct = time.monotonic() - t
print(json.dumps({
    "import_parse_s": round(parse_s, 2),
    "dag_test_first_s": round(first, 2),
    "dag_test_s": round(second, 3),
    "direct_s": round(direct, 6),
    "per_task_overhead_s": round((second - direct) / TASKS, 3),
}))
"""
