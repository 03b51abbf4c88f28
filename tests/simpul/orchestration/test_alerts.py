"""Alerts: bilingual, redacted, delivered to a real local webhook and SMTP server."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta

import pytest

from simpul.domain.alerts import Alert
from simpul.orchestration import alert_channels, alerts
from simpul.orchestration.alerts import held_alert, send_alert
from simpul.orchestration.notifier import failure_alert
from simpul.redact import redact

NIK = "1608014507900001"
KK = "1608010101090002"
NAME = "Siti Aminah binti Rahman"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.abc123XYZ"
SECRET = "s3cr3t-client-secret"
PERSONAL = (NIK, KK, NAME, "Siti", "Aminah", TOKEN, SECRET, "081234567890", "siti@example.id")


def _assert_clean(text: str) -> None:
    for value in PERSONAL:
        assert value not in text, f"{value!r} leaked into an alert"


class FakeTI:
    dag_id = "simpul_siak_penduduk"
    task_id = "load"
    run_id = "manual__2026-01-01"
    try_number = 3
    log_url = "http://localhost:8080/dags/simpul_siak_penduduk/runs/x/tasks/load"


def _context(exc: BaseException) -> dict:
    return {"ti": FakeTI(), "run_id": FakeTI.run_id, "exception": exc}


def _nasty_exception() -> Exception:
    return ValueError(
        f"row 12: NIK {NIK} (KK {KK}) nama '{NAME}' failed; Authorization: Bearer {TOKEN} "
        f"client_secret={SECRET} phone +62 812-3456-7890 081234567890 mail siti@example.id "
        f"url https://user:pw@siak.example/api"
    )


def test_redact_removes_personal_data_and_secrets():
    text = redact(str(_nasty_exception()))
    _assert_clean(text)
    assert "user:pw@" not in text
    assert "row 12" in text  # the useful part stays


def test_redact_keeps_ids_and_counts():
    load_id = "siak.penduduk.20260101T010000.ab12cd34"
    assert redact(f"load {load_id} quarantined 1250 of 40000 rows") == (
        f"load {load_id} quarantined 1250 of 40000 rows"
    )


def test_failure_alert_is_bilingual_indonesian_first_and_clean():
    alert = failure_alert(_context(_nasty_exception()))
    assert alert.kind == "failure"
    assert alert.pipeline == "siak_penduduk"
    assert alert.title.startswith("[Simpul] Tugas gagal / Task failed")
    text = alert.text
    assert text.index("gagal setelah semua percobaan") < text.index("failed after all retries")
    _assert_clean(text)
    _assert_clean(str(alert.payload()))


def test_a_missing_column_failure_is_classified_as_schema_drift():
    exc = RuntimeError("delivery lacks columns ['nik'] that mapping needs (schema changed?)")
    assert failure_alert(_context(exc)).kind == "schema_drift"


def test_held_alert_names_the_release_command_and_keeps_counts_only():
    result = {
        "load_id": "siak.penduduk.20260101T010000.ab12cd34",
        "status": "held",
        "rows_received": 100,
        "rows_duplicate": 2,
        "error_rate": 0.4,
        "message": f"held {NIK}",
        "nama": NAME,
    }
    alert = held_alert("siak_penduduk", result)
    assert "simpul release siak.penduduk.20260101T010000.ab12cd34" in alert.message_id
    assert alert.counts == {"rows_received": 100, "rows_duplicate": 2, "error_rate": 0.4}
    _assert_clean(str(alert.payload()))


@pytest.fixture(autouse=True)
def _isolated_home(simpul_home):
    """Every alert is written to the alert log and ops.alerts under SIMPUL_HOME."""
    return simpul_home


def test_webhook_receives_json(webhook):
    out = send_alert(failure_alert(_context(_nasty_exception())))
    assert out == {"log": "written", "webhook": "sent"}
    (body,) = webhook.received
    assert body["kind"] == "failure" and body["source"] == "simpul"
    assert body["dag_id"] == "simpul_siak_penduduk" and body["task_id"] == "load"
    assert body["text"].startswith("[Simpul] Tugas gagal / Task failed")
    _assert_clean(webhook.raw[0].decode())


def test_email_is_sent_with_bilingual_subject(mailbox):
    alert = held_alert(
        "siak_penduduk", {"load_id": "siak.penduduk.20260101T010000.ab12cd34", "rows_received": 10}
    )
    assert send_alert(alert) == {"log": "written", "email": "sent"}
    (msg,) = mailbox.messages
    assert msg["to"] == ["<operator@kabupaten.example>", "<it@kabupaten.example>"]
    parsed = email.message_from_bytes(msg["data"], policy=email.policy.default)
    assert parsed["Subject"].startswith("[Simpul] Kiriman ditahan gerbang kualitas / Delivery held")
    body = parsed.get_content()
    assert body.index("ditahan utuh") < body.index("held back whole")


def test_no_channel_and_a_dead_channel_never_raise(monkeypatch):
    monkeypatch.delenv("SIMPUL_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("SIMPUL_ALERT_SMTP_HOST", raising=False)
    alert = Alert(kind="test", message_id="uji", message_en="test")
    assert send_alert(alert) == {"log": "written"}  # the alert log always works
    monkeypatch.setenv("SIMPUL_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/nothing-listens")
    assert send_alert(alert)["webhook"].startswith("error:")


def test_webhook_url_from_an_airflow_connection(monkeypatch):
    monkeypatch.delenv("SIMPUL_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIMPUL_ALERT_WEBHOOK",
        '{"conn_type": "https", "host": "chat.kab.example", "schema": "hooks/x"}',
    )
    assert alert_channels.webhook_url() == "https://chat.kab.example/hooks/x"


def test_due_deduplicates_within_the_interval(simpul_home):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert alerts.due("freshness:x", timedelta(hours=6), now)
    assert not alerts.due("freshness:x", timedelta(hours=6), now + timedelta(hours=5))
    assert alerts.due("freshness:x", timedelta(hours=6), now + timedelta(hours=7))
    assert alerts.due("freshness:y", timedelta(hours=6), now)


@pytest.mark.parametrize("kind", ["failure", "freshness", "held", "schema_drift", "test"])
def test_every_kind_has_a_bilingual_title(kind):
    alert = Alert(kind=kind, message_id="a", message_en="b", dag_id="d")
    assert " / " in alert.title


def test_email_through_the_airflow_smtp_provider_and_connection(mailbox, monkeypatch):
    """The Airflow connection simpul_alert_smtp + SIMPUL_ALERT_EMAIL_TO: the SMTP provider's
    notifier sends it (the stdlib SIMPUL_ALERT_SMTP_* path is not used then)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIMPUL_ALERT_SMTP",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": mailbox.host,
                "port": mailbox.port,
                "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "s@kab.example"},
            }
        ),
    )
    monkeypatch.setenv("SIMPUL_ALERT_EMAIL_TO", "operator@kabupaten.example")
    alert = held_alert("siak_penduduk", {"load_id": "siak.penduduk.x", "rows_received": 10})
    assert send_alert(alert) == {"log": "written", "email": "sent"}
    (msg,) = mailbox.messages
    parsed = email.message_from_bytes(msg["data"], policy=email.policy.default)
    assert parsed["Subject"].startswith("[Simpul] Kiriman ditahan gerbang kualitas")
    body = parsed.get_body(("html", "plain")).get_content()
    assert body.index("ditahan utuh") < body.index("held back whole")
