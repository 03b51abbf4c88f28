"""The dashboard's first section: what needs attention, each pipeline's last run, the
exchange outbox and the alert log."""

from __future__ import annotations

from typing import Any

from simpul.dashboard.markup import (
    RUN_STATES,
    STATE_LABELS,
    e,
    heading,
    html_table,
    pill,
    wib_text,
)


def health_section(data: dict) -> str:
    """Health first: what needs attention, each pipeline's last run, the outbox, the alerts."""
    from simpul.orchestration.health import problems

    h = data.get("health")
    parts = [heading("Kesehatan", "Health")]
    if not data.get("alert_channels"):
        parts.append(
            '<p class="warn">Belum ada saluran peringatan eksternal: peringatan hanya ditulis '
            "ke log peringatan di SIMPUL_HOME. / No external alert channel: alerts only go to "
            "the alert log in SIMPUL_HOME.</p>"
        )
    if h is None:
        parts.append('<p class="muted">konfigurasi tidak valid / invalid configuration</p>')
        return "<section>" + "".join(parts) + "</section>"
    found = problems(h)
    parts.append("<h3>Perlu perhatian / Needs attention</h3>")
    if found:
        parts.append('<ul class="problems">' + "".join(f"<li>{e(x)}</li>" for x in found) + "</ul>")
    else:
        parts.append('<p class="ok">Tidak ada masalah / No problems</p>')
    parts.append(_pipeline_runs(h))
    parts.append("<h3>Pertukaran data (outbox) / Data exchange (outbox)</h3>")
    parts.append(_outbox(h))
    parts.append("<h3>Log peringatan / Alert log</h3>")
    parts.append(_alert_log(data.get("alert_log") or []))
    return "<section>" + "".join(parts) + "</section>"


def _pipeline_runs(h: Any) -> str:
    """One row per pipeline: its last run, load, held loads and freshness."""
    rows = []
    for p in h.pipelines:
        label, color = RUN_STATES.get(p["run_state"], (str(p["run_state"]), "#57606a"))
        fl, fc = STATE_LABELS.get(p["freshness"] or "never", ("?", "#57606a"))
        rows.append(
            {
                **p,
                "run_html": pill(label, color),
                "fresh_html": pill(fl, fc),
                "cause": p.get("error_id") or "",
            }
        )
    return html_table(
        rows,
        [
            ("pipeline", "pipeline"),
            ("agency", "instansi / agency"),
            ("run_html", "run terakhir / last run"),
            ("failed_tries", "percobaan gagal / failed tries"),
            ("load_status", "muatan / load"),
            ("loaded_at", "dimuat / loaded"),
            ("held", "ditahan / held"),
            ("fresh_html", "kemutakhiran / freshness"),
            ("cause", "penyebab / cause"),
        ],
        num={"failed_tries", "held"},
    )


def _outbox(h: Any) -> str:
    """One row per exchange agreement: its outbox statuses and last run."""
    ex_rows = [
        {
            "agreement": a["agreement"],
            "agency": a.get("agency") or "",
            "outbox": ", ".join(f"{k}: {v}" for k, v in sorted(a["statuses"].items())) or "-",
            "retrying": a.get("retrying", 0),
            "run": RUN_STATES.get(a.get("run_state"), (str(a.get("run_state")), ""))[0],
        }
        for a in h.exchanges
    ]
    return html_table(
        ex_rows,
        [
            ("agreement", "perjanjian / agreement"),
            ("agency", "instansi / agency"),
            ("outbox", "status outbox"),
            ("retrying", "menunggu ulang / retrying"),
            ("run", "run terakhir / last run"),
        ],
        num={"retrying"},
    )


def _alert_log(alerts: list[dict]) -> str:
    """The latest alerts as written to the alert log."""
    log_rows = [
        {
            "at": wib_text(a.get("at")),
            "kind": a.get("kind"),
            "subject": a.get("pipeline") or a.get("dag_id") or "",
            "message_id": a.get("message_id"),
            "message_en": a.get("message_en"),
        }
        for a in alerts
    ]
    return html_table(
        log_rows,
        [
            ("at", "waktu / time"),
            ("kind", "jenis / kind"),
            ("subject", "pipeline / DAG"),
            ("message_id", "pesan"),
            ("message_en", "message"),
        ],
    )
