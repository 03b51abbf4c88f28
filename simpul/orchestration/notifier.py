"""The Airflow 3 notifier wired as ``on_failure_callback`` on every generated DAG (kept apart
from :mod:`simpul.orchestration.alerts` so the CLI does not import Airflow)."""

from __future__ import annotations

from typing import Any

from simpul.domain.alerts import Alert, Kind
from simpul.orchestration.alerts import send_alert

try:  # Airflow is present wherever DAGs run; the CLI and tests can use alerts without it
    from airflow.sdk import BaseNotifier
except ImportError:  # pragma: no cover
    BaseNotifier = object  # type: ignore[assignment,misc]


class SimpulNotifier(BaseNotifier):  # type: ignore[misc,valid-type]
    """Airflow 3 notifier: ``on_failure_callback=SimpulNotifier()`` sends a redacted alert."""

    template_fields = ()

    def __init__(self, kind: Kind = "failure"):
        super().__init__()
        self.kind = kind

    def notify(self, context: Any) -> None:
        if getattr(context.get("exception"), "simpul_held", False):
            return  # a held delivery: its own "held" alert was sent by the load task
        alert = failure_alert(dict(context))
        if self.kind != "failure":
            alert.kind = self.kind
        send_alert(alert)


def failure_alert(context: dict[str, Any]) -> Alert:
    """An Airflow task-failure context turned into a redacted alert."""
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None)
    task_id = getattr(ti, "task_id", None)
    exc = context.get("exception")
    kind: Kind = "failure"
    if exc is not None:
        from simpul.orchestration.causes import describe

        reason_id, reason_en = describe(exc)
    else:
        reason_id = reason_en = "(no exception)"
    if exc is not None and ("schema" in str(exc).lower() or "skema" in str(exc).lower()):
        kind = "schema_drift"
    pipeline = None
    if dag_id and dag_id.startswith("simpul_") and not dag_id.startswith("simpul_ops_"):
        pipeline = dag_id.removeprefix("simpul_")
    return Alert(
        kind=kind,
        pipeline=pipeline,
        dag_id=dag_id,
        task_id=task_id,
        run_id=context.get("run_id") or getattr(ti, "run_id", None),
        try_number=getattr(ti, "try_number", None),
        log_url=getattr(ti, "log_url", None),
        message_id=(
            f"Tugas {task_id} pada DAG {dag_id} gagal setelah semua percobaan ulang. "
            f"Penyebab: {reason_id}. Periksa log tugas."
        ),
        message_en=(
            f"Task {task_id} of DAG {dag_id} failed after all retries. "
            f"Cause: {reason_en}. Check the task log."
        ),
    )
