"""Airflow DAGs for the exchange: one per agreement, thin, heavy imports inside the tasks.

An agreement with ``schedule: marts`` runs whenever the marts are rebuilt (asset
``simpul://warehouse/marts``, emitted by ``simpul_ops_marts``); a cron or preset runs on its
own; null is manual. Each DAG prepares the agreement's deliveries into the outbox, then
dispatches the outbox (retries of earlier deliveries included) and collects receipts.
``simpul_exchange_outbox`` drains the outbox every 15 minutes, so a delivery that failed
during an agency outage goes out soon after the agency is back.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Asset, task

from simpul.config import SimpulConfig
from simpul.orchestration import alerts  # noqa: F401 - plugs the sender exchange alerts use
from simpul.orchestration.secrets import with_airflow_connections

log = logging.getLogger(__name__)
MARTS_ASSET = Asset("simpul://warehouse/marts", extra={"layer": "marts"})
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "simpul",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
}


def _pool() -> str | None:
    from simpul.orchestration.dags import _pool as warehouse_pool

    return warehouse_pool()


def run_agreement(agreement_id: str) -> dict[str, Any]:
    """Task body: prepare and dispatch one agreement (XCom gets ids and counts only).

    The task state says what happened: green only when a delivery was sent or deliberately
    queued; skipped (with the reason in the log) when nothing was ready or nothing changed;
    failed at once, without retries, on a configuration error (the message names the
    variable to set); failed and retried with backoff while the channel is down (the delivery
    waits in the outbox and is never queued twice)."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from simpul.config import ConfigError
    from simpul.exchange.agreements import load_agreements
    from simpul.exchange.errors import ChannelUnavailable
    from simpul.exchange.service import run
    from simpul.warehouse import open_warehouse

    try:
        agreements = load_agreements()
        wh = open_warehouse()
        try:
            result = run(wh, agreements, agreement_id=agreement_id)
        finally:
            wh.dispose()
    except ConfigError as exc:
        raise AirflowFailException(
            f"Konfigurasi pertukaran data salah, tidak dicoba ulang / exchange configuration "
            f"error, not retried: {exc}"
        ) from None
    summary = summarise(result)
    for line in summary["log"]:
        log.info("%s", line)
    if summary["config_error"]:
        raise AirflowFailException(
            "Konfigurasi pertukaran data salah, tidak dicoba ulang / exchange configuration "
            f"error, not retried: {summary['config_error']}"
        )
    if summary["undelivered"]:
        raise ChannelUnavailable(
            f"belum terkirim, tetap di kotak keluar dan dicoba lagi / not sent, kept in the "
            f"outbox and retried: {summary['undelivered']}"
        )
    if not summary["delivered"]:
        raise AirflowSkipException(
            " | ".join(summary["log"])
            or "tidak ada baris untuk dikirim (mis. tidak ada baris dikarantina) / nothing to "
            "deliver: no rows (e.g. nothing quarantined)"
        )
    return {
        "queued": [q["delivery_id"] for q in result["queued"]],
        "rows": sum(q["rows"] for q in result["queued"]),
        "outcomes": [a.outcome for a in result["attempts"]],
    }


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """What a run did, in the words the task log and the CLI use (bilingual, no values)."""
    lines: list[str] = []
    delivered: list[str] = []
    for a in result["attempts"]:
        if a.outcome in ("sent", "receipted"):
            word = "terkirim / sent" if a.outcome == "sent" else "terkirim+tanda terima / receipted"
            lines.append(f"{word}: {a.delivery_id} ({a.agency}, {a.dataset})")
            delivered.append(a.delivery_id)
    for q in result["queued"]:
        if q["delivery_id"] not in delivered:
            lines.append(f"antre di kotak keluar / queued in the outbox: {q['delivery_id']}")
    for u in result.get("unchanged", []):
        lines.append(f"tidak dikirim ulang / not sent again ({u['dataset']}): {u['reason']}")
    for n in result.get("not_ready", []):
        lines.append(f"tidak dikirim ({n['dataset']}): {n['reason_id']}")
        lines.append(f"not delivered ({n['dataset']}): {n['reason_en']}")
    undelivered = [
        f"{u['delivery_id']} ({u['agency']}, {u['dataset']}): {u['last_error']}"
        for u in result.get("undelivered", [])
    ]
    lines += [f"belum terkirim / not sent: {u}" for u in undelivered]
    config = [a.detail for a in result["attempts"] if a.outcome == "config_error"]
    return {
        "log": lines,
        "delivered": delivered,
        "undelivered": undelivered,
        "config_error": "; ".join(config),
    }


def drain_outbox() -> dict[str, Any]:
    """Task body: send everything due, collect folder receipts, alert on overdue receipts,
    purge expired copies."""
    from simpul.exchange.agreements import load_agreements
    from simpul.exchange.service import (
        collect_receipts,
        dispatch,
        overdue_receipts,
        purge,
        release_lock,
    )
    from simpul.warehouse import open_warehouse

    agreements = load_agreements()
    wh = open_warehouse()
    try:
        release_lock(wh)
        attempts = dispatch(wh, agreements)
        receipts = collect_receipts(wh, agreements)
        overdue = overdue_receipts(wh, agreements)
        purged = purge(wh, agreements)
    finally:
        wh.dispose()
    for a in attempts:
        log.info("%s: %s (%s, %s) %s", a.outcome, a.delivery_id, a.agency, a.dataset, a.detail)
    return {
        "attempts": [a.outcome for a in attempts],
        "receipts": len(receipts),
        "overdue": len(overdue),
        "purged": purged,
    }


def build_exchange_dags(cfg: SimpulConfig | None = None) -> dict[str, DAG]:
    """One DAG per enabled agreement, plus the outbox drain (``cfg`` is accepted for symmetry
    with :func:`simpul.orchestration.dags.build_dags`; agreements come from their own file)."""
    from simpul.exchange.agreements import load_agreements
    from simpul.orchestration.dags import TASK_CALLBACKS

    del cfg
    agreements = load_agreements()
    args = {**DEFAULT_ARGS, **TASK_CALLBACKS}  # alerts + every try in ops.task_runs
    dags: dict[str, DAG] = {}
    for aid, a in agreements.agreements.items():
        if not a.enabled:
            continue
        schedule: Any = [MARTS_ASSET] if a.schedule == "marts" else a.schedule
        with DAG(
            dag_id=f"simpul_exchange_{aid}",
            description=f"{a.agency_name}: {', '.join(a.datasets)} via {a.channel.type}"[:500],
            schedule=schedule,
            catchup=False,
            max_active_runs=1,
            default_args=args,
            tags=["simpul", "exchange", f"agency:{a.agency}"],
            doc_md=(
                f"Kirim {', '.join(a.datasets)} ke {a.agency_name} lewat {a.channel.type}. "
                f"Tujuan: {a.purpose}\n\nDasar hukum / legal basis: {a.legal_basis}"
            ),
        ) as dag:

            @task(task_id="deliver", pool=_pool())
            @with_airflow_connections
            def deliver(agreement_id: str = aid) -> dict[str, Any]:
                return run_agreement(agreement_id)

            deliver()
        dags[dag.dag_id] = dag
    with DAG(
        dag_id="simpul_exchange_outbox",
        description="Kirim ulang kotak keluar / retry the exchange outbox",
        schedule=timedelta(minutes=15),
        catchup=False,
        max_active_runs=1,
        default_args=args,
        tags=["simpul", "exchange", "ops"],
    ) as dag:

        @task(task_id="drain", pool=_pool())
        @with_airflow_connections
        def drain() -> dict[str, Any]:
            return drain_outbox()

        drain()
    dags[dag.dag_id] = dag
    return dags
