"""The Airflow task callbacks: every task try recorded in ``ops.task_runs``.

The generated DAGs call :func:`on_task_success`, :func:`on_task_retry` and
:func:`on_task_failure`. DuckDB allows one writer: when a load holds the file, the record
waits briefly and otherwise goes to the spool file (:func:`simpul.orchestration.health.spool_file`)
that the next successful write drains and that status reads too. Nothing is lost either way.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from simpul.orchestration.health import LOCK_WAIT_SECONDS, read_spool, spool_file, with_warehouse

log = logging.getLogger(__name__)

TASK_COLUMNS = (
    "dag_id",
    "run_id",
    "task_id",
    "try_number",
    "pipeline",
    "state",
    "max_tries",
    "error_id",
    "error_en",
    "recorded_at",
)


def pipeline_of(dag_id: str | None) -> str | None:
    if (
        dag_id
        and dag_id.startswith("simpul_")
        and not dag_id.startswith(("simpul_ops_", "simpul_exchange_", "simpul_config_error"))
    ):
        return dag_id.removeprefix("simpul_")
    return None


def task_record(context: Any, state: str) -> dict[str, Any]:
    """The row of one task try from an Airflow callback context (no record values)."""
    from simpul.orchestration.causes import describe
    from simpul.redact import redact

    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None) or "?"
    exc = context.get("exception")
    error_id = error_en = None
    if exc is not None and state != "success":
        error_id, error_en = describe(exc)
        error_id, error_en = redact(error_id, 500), redact(error_en, 500)
    return {
        "dag_id": dag_id,
        "run_id": str(context.get("run_id") or getattr(ti, "run_id", None) or "?"),
        "task_id": str(getattr(ti, "task_id", None) or "?"),
        "try_number": int(getattr(ti, "try_number", None) or 1),
        "pipeline": pipeline_of(dag_id),
        "state": state,
        "max_tries": getattr(ti, "max_tries", None),
        "error_id": error_id,
        "error_en": error_en,
        "recorded_at": datetime.now(UTC),
    }


def record_task_run(row: dict[str, Any], wait: float = LOCK_WAIT_SECONDS) -> str:
    """Write ``row`` (and any spooled rows) to ``ops.task_runs``; spool it when the warehouse
    stays busy. Returns ``"warehouse"`` or ``"spool"``. Never raises."""
    try:
        with_warehouse(lambda wh: _write_runs(wh, [*read_spool(), row], drain=True), wait)
        return "warehouse"
    except Exception as exc:  # noqa: BLE001 - a callback must never fail the task
        try:
            path = spool_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, default=str) + "\n")
            log.warning("task run spooled (%s): %s", type(exc).__name__, path)
        except OSError:
            log.warning("task run not recorded: %s", type(exc).__name__)
        return "spool"


def _write_runs(wh: Any, rows: list[dict[str, Any]], drain: bool = False) -> None:
    import sqlalchemy as sa

    cols = ", ".join(TASK_COLUMNS)
    vals = ", ".join(f":{c}" for c in TASK_COLUMNS)
    with wh.begin() as conn:
        for row in rows:
            full = {c: row.get(c) for c in TASK_COLUMNS}
            conn.execute(
                sa.text(
                    "DELETE FROM ops.task_runs WHERE dag_id = :dag_id AND run_id = :run_id "
                    "AND task_id = :task_id AND try_number = :try_number"
                ),
                full,
            )
            conn.execute(sa.text(f"INSERT INTO ops.task_runs ({cols}) VALUES ({vals})"), full)
            if row.get("state") == "success":
                # a task that succeeds again closes the failure alert it raised
                conn.execute(
                    sa.text(
                        "UPDATE ops.alerts SET state = 'resolved', resolved_at = :t "
                        "WHERE state = 'open' AND kind = 'failure' AND dag_id = :d"
                    ),
                    {"t": full["recorded_at"], "d": full["dag_id"]},
                )
    if drain:
        spool_file().unlink(missing_ok=True)


def on_task_success(context: Any) -> None:
    record_task_run(task_record(context, "success"))


def on_task_retry(context: Any) -> None:
    record_task_run(task_record(context, "up_for_retry"))


def on_task_failure(context: Any) -> None:
    record_task_run(task_record(context, "failed"))
