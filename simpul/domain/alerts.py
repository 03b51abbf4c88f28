"""The operator alert record, and the socket every layer raises alerts through.

An alert is a small, fixed set of fields (kind, pipeline, DAG/task/run ids, load id, counts and
a short bilingual message, Bahasa Indonesia first). It never carries record values: its free
text passes through :func:`simpul.redact.redact`.

The record lives here, at the bottom, so the exchange service and the load ledger can build
one without importing the orchestration layer. *Sending* (alert log, ``ops.alerts``, webhook,
e-mail) and de-duplication are orchestration's: :mod:`simpul.orchestration.alerts` plugs its
sender in with :func:`plug` when it is imported (the CLI and every DAG import it), and
:func:`send` / :func:`due` hand alerts to whatever is plugged in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from simpul.domain.clock import WIB, aware
from simpul.redact import redact

log = logging.getLogger(__name__)

Kind = Literal["failure", "freshness", "held", "schema_drift", "files_rejected", "test"]

TITLES: dict[str, tuple[str, str]] = {
    "failure": ("Tugas gagal", "Task failed"),
    "freshness": ("Data tidak mutakhir", "Data is stale"),
    "held": ("Kiriman ditahan gerbang kualitas", "Delivery held by the quality gate"),
    "schema_drift": ("Skema sumber berubah", "Source schema changed"),
    "files_rejected": ("Berkas kiriman ditolak", "Delivered files rejected"),
    "test": ("Uji peringatan", "Alert test"),
}


def wib(at: str) -> str:
    """An ISO UTC time as ``YYYY-MM-DD HH:MM`` in Western Indonesia Time (UTC+7)."""
    try:
        when = aware(at)
    except (TypeError, ValueError):
        return "?"
    return when.astimezone(WIB).strftime("%Y-%m-%d %H:%M") if when else "?"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Alert:
    """One alert. Only ids, counts and redacted text: safe to post to a chat or send by mail."""

    kind: Kind
    message_id: str
    message_en: str
    pipeline: str | None = None
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    load_id: str | None = None
    try_number: int | None = None
    log_url: str | None = None
    counts: dict[str, int | float] = field(default_factory=dict)
    at: str = field(default_factory=_now_iso)
    key: str = ""  # the de-duplication / open-alert key; default: kind, pipeline/DAG, task

    def __post_init__(self) -> None:
        self.message_id = redact(self.message_id, 600)
        self.message_en = redact(self.message_en, 600)
        self.counts = {
            k: v for k, v in self.counts.items() if isinstance(v, int | float) and k.isidentifier()
        }
        if not self.key:
            subject = self.pipeline or self.dag_id or "simpul"
            self.key = f"{self.kind}:{subject}" + (f":{self.task_id}" if self.task_id else "")

    @property
    def title(self) -> str:
        t_id, t_en = TITLES[self.kind]
        subject = self.dag_id or self.pipeline or "simpul"
        if self.task_id:
            subject += f".{self.task_id}"
        return f"[Simpul] {t_id} / {t_en}: {subject}"

    @property
    def text(self) -> str:
        """Plain-text body: Bahasa Indonesia first, English second."""
        lines = [self.title, "", self.message_id, "", self.message_en, ""]
        for label, value in (
            ("pipeline", self.pipeline),
            ("dag", self.dag_id),
            ("tugas / task", self.task_id),
            ("run", self.run_id),
            ("muatan / load", self.load_id),
            ("percobaan / try", self.try_number),
            ("log", self.log_url),
        ):
            if value not in (None, ""):
                lines.append(f"{label}: {value}")
        for k, v in self.counts.items():
            lines.append(f"{k}: {v}")
        lines.append(f"waktu / time (UTC): {self.at} ({wib(self.at)} WIB)")
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """The webhook JSON: fixed keys plus ``text`` (Slack/Mattermost/Rocket.Chat read it)."""
        body = asdict(self)
        body["title"] = self.title
        body["text"] = self.text
        body["source"] = "simpul"
        return body


def delivery_alert(
    kind: Kind,
    pipeline: str,
    load_id: str | None,
    task_id: str,
    counts: dict[str, int | float],
    message: tuple[str, str],
    dag_id: str | None = None,
    run_id: str | None = None,
) -> Alert:
    """An alert about one delivery (``load_id``) of ``pipeline``: held, drifted, files rejected.
    ``message`` is (Bahasa Indonesia, English)."""
    return Alert(kind, *message, pipeline, dag_id, task_id, run_id, load_id, counts=counts)


# --------------------------------------------------------------------------- the socket

Sender = Callable[[Alert], dict[str, str]]
Dedup = Callable[[str, timedelta], bool]


@dataclass
class _Plugged:
    send: Sender | None = None
    due: Dedup | None = None


_plugged = _Plugged()


def plug(sender: Sender, dedup: Dedup) -> None:
    """Install the sender and the de-duplication check (the orchestration layer does this)."""
    _plugged.send = sender
    _plugged.due = dedup


def send(alert: Alert) -> dict[str, str]:
    """Hand ``alert`` to the plugged-in sender; ``{channel: outcome}``. Never raises."""
    if _plugged.send is None:
        log.warning("alert %s not sent: no alert sender is plugged in", alert.kind)
        return {}
    return _plugged.send(alert)


def due(key: str, every: timedelta) -> bool:
    """True if no alert with ``key`` was sent within ``every`` (always True when unplugged)."""
    return True if _plugged.due is None else _plugged.due(key, every)
