"""A real DAG run in a fresh process, as a task runs (nothing a test module imported or
configured can stand in for Airflow), and Airflow connections added with the Airflow CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DAGS = Path(__file__).resolve().parents[2] / "dags"

_RUN_DAG = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from simpul.config import secret_resolver
dag = DagBag(dag_folder=sys.argv[1]).dags[sys.argv[2]]
run = dag.test()
states = {t.task_id: str(t.state) for t in run.get_task_instances()}
print(json.dumps({"state": str(run.state), "tasks": states, "resolver": secret_resolver() is None}))
"""


def run_dag(dag_id: str, *, timeout: float = 600, log: Path | None = None) -> dict[str, Any]:
    """``dag.test()`` of ``dag_id`` in a fresh process with this environment: the run's state,
    its tasks' states and whether the task put the CLI's secret lookup back (``resolver``).
    The process's output is kept in ``log`` when given (Airflow logs to stdout)."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN_DAG, str(DAGS), dag_id],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=timeout,
    )
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["stderr"] = done.stderr[-3000:]
    return result


def airflow_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The Airflow CLI in its own process (``env``: this environment by default)."""
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ) if env is None else env,
    )


@contextmanager
def airflow_connection(
    conn_id: str, conn: dict[str, Any], env: dict[str, str] | None = None
) -> Iterator[None]:
    """Connection ``conn_id`` in the metadata database for the block, deleted after it."""
    airflow_cli("connections", "delete", conn_id, env=env)
    done = airflow_cli("connections", "add", conn_id, "--conn-json", json.dumps(conn), env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    try:
        yield
    finally:
        airflow_cli("connections", "delete", conn_id, env=env)
