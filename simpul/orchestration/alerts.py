"""Operator alerts: task failure, freshness breach, quality gate held, schema drift.

An alert is a small, fixed set of fields (kind, pipeline, DAG/task/run ids, load id, counts and
a short bilingual message, Bahasa Indonesia first). It never carries record values: free text
that comes from an exception passes through :func:`redact`, which removes NIK/KK-like digit runs,
quoted values, e-mail addresses, URL credentials and anything that looks like a token or secret.

The alert log ``SIMPUL_HOME/alerts/alerts.log`` (one JSON object per line) is always written:
it is the channel that works without any setup, and the dashboard shows it. Every alert is also
kept in ``ops.alerts`` (open until resolved) together with its de-duplication state, so two
Celery workers never send the same freshness breach twice.

External channels, each optional (an unconfigured channel is skipped, a failing one is logged
and never breaks the task that raised the alert); with none set Simpul warns loudly at start-up:

* webhook: ``SIMPUL_ALERT_WEBHOOK_URL`` or the Airflow connection ``simpul_alert_webhook``
  (JSON POST of :meth:`Alert.payload`);
* e-mail through Airflow's SMTP provider: the Airflow connection ``simpul_alert_smtp`` plus
  ``SIMPUL_ALERT_EMAIL_TO`` (comma-separated; ``SIMPUL_ALERT_EMAIL_FROM`` optional);
* e-mail without Airflow (the CLI): ``SIMPUL_ALERT_SMTP_HOST``, ``_PORT`` (25), ``_FROM``,
  ``_TO`` (comma-separated), optional ``_USER`` / ``_PASSWORD`` and ``_STARTTLS=1``
  (stdlib :mod:`smtplib`).

:class:`~simpul.orchestration.notifier.SimpulNotifier` is the Airflow 3 notifier
(``BaseNotifier``) wired as ``on_failure_callback`` on every generated DAG; it builds the
failure alert from the task context (:func:`~simpul.orchestration.notifier.failure_alert`).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simpul.domain.alerts import Alert, delivery_alert, plug
from simpul.orchestration.alert_channels import (
    SmtpSettings,
    airflow_email_settings,
    external_channels,
    send_airflow_email,
    send_email,
    send_webhook,
    webhook_url,
)

log = logging.getLogger(__name__)


def send_alert(alert: Alert) -> dict[str, str]:
    """Send to every configured channel; returns ``{channel: "sent" | "error: ..."}``.

    Never raises: an alert channel being down must not fail (or re-fail) a pipeline task.
    """
    outcome: dict[str, str] = {}
    outcome["log"] = "written" if write_alert_log(alert) else "error"
    record_open(alert)
    url = webhook_url()
    if url:
        try:
            send_webhook(alert, url)
            outcome["webhook"] = "sent"
        except Exception as exc:  # noqa: BLE001 - reported, never raised
            outcome["webhook"] = f"error: {type(exc).__name__}"
    via_airflow = airflow_email_settings()
    if via_airflow:
        try:
            send_airflow_email(alert, *via_airflow)
            outcome["email"] = "sent"
        except Exception as exc:  # noqa: BLE001
            outcome["email"] = f"error: {type(exc).__name__}"
    smtp = None if via_airflow else SmtpSettings.from_env()
    if smtp:
        try:
            send_email(alert, smtp)
            outcome["email"] = "sent"
        except Exception as exc:  # noqa: BLE001
            outcome["email"] = f"error: {type(exc).__name__}"
    if len(outcome) == 1:
        log.warning(
            "alert %s (%s): only the alert log %s, no external channel configured",
            alert.kind,
            alert.dag_id or "",
            alert_log_file(),
        )
    for channel, result in outcome.items():
        level = logging.INFO if result in ("sent", "written") else logging.WARNING
        log.log(level, "alert %s via %s: %s", alert.kind, channel, result)
    return outcome


# --------------------------------------------------------------------------- de-duplication


def _state_file() -> Path:
    from simpul.config import home

    return home() / "alerts" / "sent.json"


def alert_log_file() -> Path:
    from simpul.config import home

    return home() / "alerts" / "alerts.log"


def write_alert_log(alert: Alert) -> bool:
    """Append ``alert`` to the alert log (the channel that always works)."""
    try:
        path = alert_log_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({**asdict(alert), "title": alert.title}, ensure_ascii=False))
            fh.write("\n")
        return True
    except OSError as exc:
        log.warning("alert log not written: %s", exc.strerror or type(exc).__name__)
        return False


def read_alert_log(limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` alerts of the log, newest first."""
    path = alert_log_file()
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines()[-limit:]:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out[::-1]


NO_CHANNEL_WARNING = (
    "PERINGATAN: belum ada saluran peringatan eksternal (webhook/surel); peringatan hanya "
    "ditulis ke {log}. / WARNING: no external alert channel (webhook/e-mail) is configured; "
    "alerts only go to {log}. Set SIMPUL_ALERT_WEBHOOK_URL or the Airflow connection "
    "simpul_alert_smtp with SIMPUL_ALERT_EMAIL_TO (docs/operations.md)."
)


def warn_if_no_channel() -> bool:
    """Log the loud start-up warning when only the alert log is available; True if warned."""
    if external_channels():
        return False
    log.warning(NO_CHANNEL_WARNING.format(log=alert_log_file()))
    return True


def record_open(alert: Alert, wait: float = 5.0) -> None:
    """Keep ``alert`` in ``ops.alerts`` as open (best effort: the log has it anyway)."""
    import sqlalchemy as sa

    from simpul.orchestration.health import with_warehouse

    now = datetime.now(UTC)
    row = {
        "k": alert.key,
        "kind": alert.kind,
        "p": alert.pipeline,
        "d": alert.dag_id,
        "title": alert.title,
        "mid": alert.message_id,
        "men": alert.message_en,
        "now": now,
    }

    def write(wh: Any) -> None:
        with wh.begin() as conn:
            done = conn.execute(
                sa.text(
                    "UPDATE ops.alerts SET kind = :kind, pipeline = :p, dag_id = :d, "
                    "title = :title, message_id = :mid, message_en = :men, last_at = :now, "
                    "times = times + 1, state = 'open', resolved_at = NULL "
                    "WHERE alert_key = :k"
                ),
                row,
            ).rowcount
            if not done:
                conn.execute(
                    sa.text(
                        "INSERT INTO ops.alerts (alert_key, kind, pipeline, dag_id, title, "
                        "message_id, message_en, first_at, last_at, times, state) VALUES "
                        "(:k, :kind, :p, :d, :title, :mid, :men, :now, :now, 1, 'open')"
                    ),
                    row,
                )

    try:
        with_warehouse(write, wait)
    except Exception as exc:  # noqa: BLE001 - never fails the task that alerts
        log.warning("alert not kept in ops.alerts: %s", type(exc).__name__)


def resolve(key: str, wait: float = 5.0) -> None:
    """Close the open alert ``key`` (e.g. the data is fresh again)."""
    import sqlalchemy as sa

    from simpul.orchestration.health import with_warehouse

    def write(wh: Any) -> None:
        with wh.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE ops.alerts SET state = 'resolved', resolved_at = :t "
                    "WHERE alert_key = :k AND state = 'open'"
                ),
                {"k": key, "t": datetime.now(UTC)},
            )

    try:
        with_warehouse(write, wait)
    except Exception as exc:  # noqa: BLE001
        log.warning("alert not resolved in ops.alerts: %s", type(exc).__name__)


def due(key: str, every: timedelta, now: datetime | None = None) -> bool:
    """True (and remembered) if no alert with ``key`` was sent within ``every``.

    Keeps the hourly freshness check from sending the same breach every hour. The state is in
    ``ops.alerts`` (one conditional UPDATE, or the INSERT of a new key: on PostgreSQL two
    workers cannot both win); only when the warehouse is unavailable does a file in
    ``SIMPUL_HOME/alerts`` stand in.
    """
    now = now or datetime.now(UTC)
    try:
        return _due_in_warehouse(key, every, now)
    except Exception as exc:  # noqa: BLE001
        log.warning("alert de-duplication falls back to a file: %s", type(exc).__name__)
    return _due_in_file(key, every, now)


def _due_in_warehouse(key: str, every: timedelta, now: datetime) -> bool:
    import sqlalchemy as sa

    from simpul.orchestration.health import with_warehouse

    def check(wh: Any) -> bool:
        with wh.begin() as conn:
            exists = conn.execute(
                sa.text("SELECT count(*) FROM ops.alerts WHERE alert_key = :k"), {"k": key}
            ).scalar()
            if not exists:
                conn.execute(
                    sa.text(
                        "INSERT INTO ops.alerts (alert_key, kind, first_at, last_at, "
                        "last_sent_at, times, state) VALUES (:k, :kind, :t, :t, :t, 0, 'open')"
                    ),
                    {"k": key, "kind": key.split(":", 1)[0], "t": now},
                )
                return True
            return bool(
                conn.execute(
                    sa.text(
                        "UPDATE ops.alerts SET last_sent_at = :t WHERE alert_key = :k AND "
                        "(last_sent_at IS NULL OR last_sent_at <= :cut)"
                    ),
                    {"k": key, "t": now, "cut": now - every},
                ).rowcount
            )

    return with_warehouse(check, 10.0)


def _due_in_file(key: str, every: timedelta, now: datetime) -> bool:
    path = _state_file()
    try:
        state = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        state = {}
    last = state.get(key)
    if last and now - datetime.fromisoformat(last) < every:
        return False
    state[key] = now.isoformat()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return True


# --------------------------------------------------------------------------- builders


def held_alert(
    pipeline: str, result: dict[str, Any], dag_id: str | None = None, run_id: str | None = None
) -> Alert:
    """The quality gate held a delivery back: nothing was merged; an operator must review."""
    counts = {
        k: result[k]
        for k in ("rows_received", "rows_duplicate", "rows_warned", "error_rate")
        if isinstance(result.get(k), int | float)
    }
    load_id = result.get("load_id")
    return delivery_alert(
        "held",
        pipeline,
        load_id,
        "load",
        counts,
        (
            f"Kiriman {load_id} ditahan utuh: tingkat galat melampaui ambang pipeline "
            f"{pipeline}. Tidak ada baris yang digabung ke core. Tinjau laporan kualitas data, "
            f"lalu lepaskan dengan `simpul release {load_id}` atau minta kiriman ulang.",
            f"Delivery {load_id} was held back whole: its error rate is above the gate of "
            f"pipeline {pipeline}. Nothing was merged into core. Review the data-quality "
            f"report, then release it with `simpul release {load_id}` or ask for a new delivery.",
        ),
        dag_id,
        run_id,
    )


def freshness_alert(row: dict[str, Any]) -> Alert:
    """``row`` from :func:`simpul.orchestration.freshness.freshness_report`."""
    age = row.get("age_hours")
    age_txt = f"{age:.1f}" if isinstance(age, int | float) else "?"
    return Alert(
        kind="freshness",
        pipeline=row["pipeline"],
        dag_id=f"simpul_{row['pipeline']}",
        counts={
            "age_hours": round(age, 1) if isinstance(age, int | float) else -1,
            "cadence_hours": row["freshness_hours"],
        },
        message_id=(
            f"Pipeline {row['pipeline']} ({row.get('source')}) terakhir berhasil dimuat "
            f"{age_txt} jam lalu; batas {row['freshness_hours']} jam. Periksa DAG dan sumbernya."
        ),
        message_en=(
            f"Pipeline {row['pipeline']} ({row.get('source')}) last loaded successfully "
            f"{age_txt} hours ago; the limit is {row['freshness_hours']} hours. Check the DAG "
            f"and its source."
        ),
    )


def drift_alert(
    pipeline: str,
    load_id: str,
    added: list[str],
    dag_id: str | None = None,
    run_id: str | None = None,
) -> Alert:
    """New, unmapped source columns (additive drift): kept in raw, not mapped to core."""
    cols = ", ".join(c for c in added if c.isidentifier())[:300]
    return delivery_alert(
        "schema_drift",
        pipeline,
        load_id,
        "transform",
        {"new_columns": len(added)},
        (
            f"Kiriman {load_id} memuat kolom baru yang belum dipetakan: {cols}. Kolom disimpan "
            f"di lapisan raw; perbarui pemetaan bila perlu.",
            f"Delivery {load_id} has new columns the mapping does not use: {cols}. They are "
            f"kept in the raw layer; update the mapping if needed.",
        ),
        dag_id,
        run_id,
    )


def __getattr__(name: str) -> Any:
    """``SimpulNotifier`` lives in :mod:`simpul.orchestration.notifier`: importing Airflow
    costs seconds, which the CLI (``simpul status``) should not pay."""
    if name == "SimpulNotifier":
        from simpul.orchestration.notifier import SimpulNotifier

        return SimpulNotifier
    raise AttributeError(name)


__all__ = [
    "drift_alert",
    "due",
    "freshness_alert",
    "held_alert",
    "send_alert",
]

plug(send_alert, due)  # exchange and the ledger raise alerts through simpul.domain.alerts
