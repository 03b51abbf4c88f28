"""Operator alerts: task failure, freshness breach, quality gate held, schema drift.

An alert is a small, fixed set of fields (kind, pipeline, DAG/task/run ids, load id, counts and
a short bilingual message, Bahasa Indonesia first). It never carries record values: free text
that comes from an exception passes through :func:`redact`, which removes NIK/KK-like digit runs,
quoted values, e-mail addresses, URL credentials and anything that looks like a token or secret.

Channels, each optional (an unconfigured channel is skipped, a failing one is logged and never
breaks the task that raised the alert):

* webhook: ``SIMPUL_ALERT_WEBHOOK_URL`` or the Airflow connection ``simpul_alert_webhook``
  (JSON POST of :meth:`Alert.payload`);
* e-mail: ``SIMPUL_ALERT_SMTP_HOST``, ``_PORT`` (25), ``_FROM``, ``_TO`` (comma-separated),
  optional ``_USER`` / ``_PASSWORD`` and ``_STARTTLS=1`` (stdlib :mod:`smtplib`).

:class:`SimpulNotifier` is the Airflow 3 notifier (``BaseNotifier``) wired as
``on_failure_callback`` on every generated DAG.
"""

from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

Kind = Literal["failure", "freshness", "held", "schema_drift", "test"]
WEBHOOK_CONN_ID = "simpul_alert_webhook"

TITLES: dict[str, tuple[str, str]] = {
    "failure": ("Tugas gagal", "Task failed"),
    "freshness": ("Data tidak mutakhir", "Data is stale"),
    "held": ("Kiriman ditahan gerbang kualitas", "Delivery held by the quality gate"),
    "schema_drift": ("Skema sumber berubah", "Source schema changed"),
    "test": ("Uji peringatan", "Alert test"),
}

_REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    # credentials in URLs: scheme://user:password@host (also an empty user, or / in the password)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]*:[^\s@]*@"), r"\1[rahasia]@"),
    # JSON Web Tokens (header.payload.signature, base64url)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[rahasia]"),
    # NAME=value settings whose name says secret: SIMPUL_PSEUDONYM_KEY=..., DB_PASS=...
    (
        re.compile(
            r"(?i)\b([a-z0-9_.-]*(?:key|token|secret|pass|pwd|credential|auth|signature)"
            r"[a-z0-9_.-]*)(\s*[:=]\s*)([\"']?)[^\s,;&\"'}]+"
        ),
        r"\1\2\3[rahasia]",
    ),
    # bare base64 / base64url keys: 32+ characters mixing upper, lower case and digits
    (
        re.compile(
            r"(?<![\w+/=-])(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Z])"
            r"(?=[A-Za-z0-9+/_-]*[a-z])[A-Za-z0-9+/_-]{32,}={0,2}(?![\w+/=-])"
        ),
        "[rahasia]",
    ),
    # Authorization headers and bearer tokens
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [rahasia]"),
    # key=value / key: value secrets (token, secret, password, api key, client id/secret)
    (
        re.compile(
            r"(?i)\b([a-z_]*(?:token|secret|password|passwd|pwd|api[_-]?key|client[_-]?id|"
            r"authorization|cookie|session)[a-z_]*)([\"']?\s*[:=]\s*)([\"']?)[^\s,;&\"'}]+"
        ),
        r"\1\2\3[rahasia]",
    ),
    # e-mail addresses
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "[surel]"),
    # quoted values (a name, an address, a record): keep the quotes, drop the content
    (re.compile(r"'[^'\n]{1,200}'"), "'…'"),
    (re.compile(r"\"[^\"\n]{1,200}\""), '"…"'),
    # NIK / KK (16 digits), phone numbers and any other long digit run, with separators
    (re.compile(r"(?<![\w.])\+?\d(?:[\d .-]{8,}\d)(?![\w])"), "[angka disamarkan]"),
    (re.compile(r"\d{10,}"), "[angka disamarkan]"),
]
MAX_TEXT = 300


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str, keep_newlines: bool = False) -> str:
    """Control characters (ANSI escapes, CR, NUL; newlines unless kept) as visible ``\\xNN``:
    a file name cannot forge log lines or repaint an operator's terminal."""
    out = _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return out if keep_newlines else out.replace("\n", "\\n")


def redact(text: str | None, limit: int = MAX_TEXT) -> str:
    """Free text made safe for an alert: no personal data, no secrets, at most ``limit`` chars."""
    if not text:
        return ""
    out = escape_controls(str(text), keep_newlines=True)
    for pattern, repl in _REDACTIONS:
        out = pattern.sub(repl, out)
    out = " ".join(out.split())
    return out if len(out) <= limit else out[: limit - 1] + "…"


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
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        self.message_id = redact(self.message_id, 600)
        self.message_en = redact(self.message_en, 600)
        self.counts = {
            k: v for k, v in self.counts.items() if isinstance(v, int | float) and k.isidentifier()
        }

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
        lines.append(f"waktu / time (UTC): {self.at}")
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """The webhook JSON: fixed keys plus ``text`` (Slack/Mattermost/Rocket.Chat read it)."""
        body = asdict(self)
        body["title"] = self.title
        body["text"] = self.text
        body["source"] = "simpul"
        return body


# --------------------------------------------------------------------------- channels


def webhook_url() -> str | None:
    """``SIMPUL_ALERT_WEBHOOK_URL``, else the Airflow connection ``simpul_alert_webhook``."""
    url = os.environ.get("SIMPUL_ALERT_WEBHOOK_URL")
    if url:
        return url
    if not (
        os.environ.get(f"AIRFLOW_CONN_{WEBHOOK_CONN_ID.upper()}")
        or os.environ.get("AIRFLOW_CTX_DAG_ID")  # inside a running Airflow task
    ):
        # e.g. the CLI: do not reach for Airflow's metadata database
        return None
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(WEBHOOK_CONN_ID)
    except Exception:  # no such connection, or not inside Airflow
        return None
    extra = conn.extra_dejson or {}
    if extra.get("url"):
        return str(extra["url"])
    if not conn.host:
        return None
    if conn.host.startswith(("http://", "https://")):
        return conn.host
    scheme = conn.conn_type if conn.conn_type in ("http", "https") else "https"
    port = f":{conn.port}" if conn.port else ""
    path = f"/{conn.schema.lstrip('/')}" if conn.schema else ""
    return f"{scheme}://{conn.host}{port}{path}"


def send_webhook(alert: Alert, url: str, timeout: float = 10.0) -> None:
    data = json.dumps(alert.payload(), ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "simpul"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - operator URL
        if resp.status >= 300:
            raise urllib.error.HTTPError(url, resp.status, "webhook refused", resp.headers, None)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    recipients: list[str]
    user: str | None = None
    password: str | None = None
    starttls: bool = False

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        host = os.environ.get("SIMPUL_ALERT_SMTP_HOST")
        to = [a.strip() for a in os.environ.get("SIMPUL_ALERT_SMTP_TO", "").split(",") if a.strip()]
        if not host or not to:
            return None
        return cls(
            host=host,
            port=int(os.environ.get("SIMPUL_ALERT_SMTP_PORT") or 25),
            sender=os.environ.get("SIMPUL_ALERT_SMTP_FROM") or "simpul@localhost",
            recipients=to,
            user=os.environ.get("SIMPUL_ALERT_SMTP_USER") or None,
            password=os.environ.get("SIMPUL_ALERT_SMTP_PASSWORD") or None,
            starttls=os.environ.get("SIMPUL_ALERT_SMTP_STARTTLS", "").lower() in ("1", "true"),
        )


def email_message(alert: Alert, settings: SmtpSettings) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = alert.title
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.recipients)
    msg["X-Simpul-Alert"] = alert.kind
    msg.set_content(alert.text)
    return msg


def send_email(alert: Alert, settings: SmtpSettings, timeout: float = 15.0) -> None:
    with smtplib.SMTP(settings.host, settings.port, timeout=timeout) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(email_message(alert, settings))


def send_alert(alert: Alert) -> dict[str, str]:
    """Send to every configured channel; returns ``{channel: "sent" | "error: ..."}``.

    Never raises: an alert channel being down must not fail (or re-fail) a pipeline task.
    """
    outcome: dict[str, str] = {}
    url = webhook_url()
    if url:
        try:
            send_webhook(alert, url)
            outcome["webhook"] = "sent"
        except Exception as exc:  # noqa: BLE001 - reported, never raised
            outcome["webhook"] = f"error: {type(exc).__name__}"
    smtp = SmtpSettings.from_env()
    if smtp:
        try:
            send_email(alert, smtp)
            outcome["email"] = "sent"
        except Exception as exc:  # noqa: BLE001
            outcome["email"] = f"error: {type(exc).__name__}"
    if not outcome:
        log.warning("alert %s (%s): no channel configured", alert.kind, alert.dag_id or "")
    for channel, result in outcome.items():
        level = logging.INFO if result == "sent" else logging.WARNING
        log.log(level, "alert %s via %s: %s", alert.kind, channel, result)
    return outcome


# --------------------------------------------------------------------------- de-duplication


def _state_file() -> Path:
    from simpul.config import home

    return home() / "alerts" / "sent.json"


def due(key: str, every: timedelta, now: datetime | None = None) -> bool:
    """True (and remembered) if no alert with ``key`` was sent within ``every``.

    Keeps the hourly freshness check from sending the same breach every hour.
    """
    now = now or datetime.now(UTC)
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


def failure_alert(context: dict[str, Any]) -> Alert:
    """An Airflow task-failure context turned into a redacted alert."""
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None)
    task_id = getattr(ti, "task_id", None)
    exc = context.get("exception")
    first = str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else ""
    kind: Kind = "failure"
    reason = f"{type(exc).__name__}: {first}" if exc is not None else "(no exception)"
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
            f"Penyebab: {reason}. Periksa log tugas."
        ),
        message_en=(
            f"Task {task_id} of DAG {dag_id} failed after all retries. "
            f"Cause: {reason}. Check the task log."
        ),
    )


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
    return Alert(
        kind="held",
        pipeline=pipeline,
        dag_id=dag_id,
        task_id="load",
        run_id=run_id,
        load_id=load_id,
        counts=counts,
        message_id=(
            f"Kiriman {load_id} ditahan utuh: tingkat galat melampaui ambang pipeline "
            f"{pipeline}. Tidak ada baris yang digabung ke core. Tinjau laporan kualitas data, "
            f"lalu lepaskan dengan `simpul release {load_id}` atau minta kiriman ulang."
        ),
        message_en=(
            f"Delivery {load_id} was held back whole: its error rate is above the gate of "
            f"pipeline {pipeline}. Nothing was merged into core. Review the data-quality "
            f"report, then release it with `simpul release {load_id}` or ask for a new delivery."
        ),
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
    return Alert(
        kind="schema_drift",
        pipeline=pipeline,
        dag_id=dag_id,
        task_id="transform",
        run_id=run_id,
        load_id=load_id,
        counts={"new_columns": len(added)},
        message_id=(
            f"Kiriman {load_id} memuat kolom baru yang belum dipetakan: {cols}. Kolom disimpan "
            f"di lapisan raw; perbarui pemetaan bila perlu."
        ),
        message_en=(
            f"Delivery {load_id} has new columns the mapping does not use: {cols}. They are "
            f"kept in the raw layer; update the mapping if needed."
        ),
    )


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
        alert = failure_alert(dict(context))
        if self.kind != "failure":
            alert.kind = self.kind
        send_alert(alert)


__all__ = [
    "Alert",
    "SimpulNotifier",
    "drift_alert",
    "due",
    "failure_alert",
    "freshness_alert",
    "held_alert",
    "redact",
    "send_alert",
]
