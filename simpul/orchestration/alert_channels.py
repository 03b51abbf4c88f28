"""The external alert channels: webhook and e-mail (through Airflow's SMTP provider, or stdlib
:mod:`smtplib` without Airflow). Each is optional; :func:`simpul.orchestration.alerts.send_alert`
uses those that are configured (see that module for the settings)."""

from __future__ import annotations

import json
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from simpul.domain.alerts import Alert

WEBHOOK_CONN_ID = "simpul_alert_webhook"
SMTP_CONN_ID = "simpul_alert_smtp"


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
    except Exception:  # noqa: BLE001 - no such connection, or not inside Airflow
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
    import requests

    data = json.dumps(alert.payload(), ensure_ascii=False).encode("utf-8")
    resp = requests.post(
        url,
        data=data,
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "simpul"},
        timeout=timeout,
    )
    if resp.status_code >= 300:
        raise RuntimeError(f"webhook refused: HTTP {resp.status_code}")


def airflow_email_settings() -> tuple[str, list[str], str | None] | None:
    """``(conn_id, recipients, sender)`` when e-mail goes through Airflow's SMTP provider."""
    to = [a.strip() for a in os.environ.get("SIMPUL_ALERT_EMAIL_TO", "").split(",") if a.strip()]
    if not to:
        return None
    if not (
        os.environ.get(f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}")
        or os.environ.get("AIRFLOW_CTX_DAG_ID")
    ):
        return None
    return SMTP_CONN_ID, to, os.environ.get("SIMPUL_ALERT_EMAIL_FROM") or None


def send_airflow_email(alert: Alert, conn_id: str, to: list[str], sender: str | None) -> None:
    """Through ``airflow.providers.smtp``'s notifier and the Airflow connection ``conn_id``."""
    import html

    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    notifier = SmtpNotifier(
        from_email=sender,
        to=to,
        subject=alert.title,
        html_content="<pre>" + html.escape(alert.text) + "</pre>",
        smtp_conn_id=conn_id,
    )
    notifier.notify({})


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


def external_channels() -> list[str]:
    """The configured external channels (webhook, e-mail), without contacting them."""
    out = []
    if os.environ.get("SIMPUL_ALERT_WEBHOOK_URL") or os.environ.get(
        f"AIRFLOW_CONN_{WEBHOOK_CONN_ID.upper()}"
    ):
        out.append("webhook")
    if (
        os.environ.get("SIMPUL_ALERT_EMAIL_TO")
        and os.environ.get(f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}")
    ) or SmtpSettings.from_env():
        out.append("email")
    return out
