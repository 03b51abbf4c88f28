"""The Airflow 3 notifier wired as ``on_failure_callback`` on every generated DAG (kept apart
from :mod:`simpul.orchestration.alerts` so the CLI does not import Airflow)."""

from __future__ import annotations

from typing import Any

from simpul.domain.alerts import Kind
from simpul.orchestration.alerts import failure_alert, send_alert

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
