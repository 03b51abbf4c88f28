"""Store and forward, one run: build every granted delivery that is ready and changed into the
outbox (:mod:`simpul.exchange.build`), send what is due (:mod:`simpul.exchange.send`), collect
receipts and flag overdue ones. The delivery id is the idempotency key every channel honours,
so a resend (e.g. after a crash between sending and recording) reaches the agency once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from simpul.config import ConfigError
from simpul.domain import alerts
from simpul.domain.alerts import Alert
from simpul.exchange.agreements import Agreement, AgreementsFile
from simpul.exchange.build import preflight, prepare, prepare_deliveries
from simpul.exchange.errors import ExchangeConfigError, NotReady
from simpul.exchange.outbox import backoff, record_success, release_lock
from simpul.exchange.send import collect_receipts, dispatch, purge
from simpul.exchange.store import ensure_exchange_schema, log_event, now_utc
from simpul.warehouse.engine import Warehouse

log = logging.getLogger(__name__)


def run(
    wh: Warehouse,
    agreements: AgreementsFile,
    *,
    agreement_id: str | None = None,
    now: datetime | None = None,
    reviewed_by: str | None = None,
) -> dict[str, Any]:
    """Prepare every granted dataset of the (enabled) agreements that is ready and changed,
    then dispatch the outbox without holding the warehouse lock.

    With ``agreement_id`` a configuration error is raised (the caller must fail at once);
    otherwise it is reported in ``errors`` and the other agreements go ahead."""
    ids = (
        [agreement_id]
        if agreement_id
        else [a for a, ag in agreements.agreements.items() if ag.enabled]
    )
    out: dict[str, list[dict[str, Any]]] = {
        "queued": [],
        "errors": [],
        "not_ready": [],
        "unchanged": [],
    }
    for aid in ids:
        agreement = agreements.get(aid)
        if not agreement.enabled:
            raise ExchangeConfigError(f"agreement {aid!r} is disabled / perjanjian dinonaktifkan")
        try:
            preflight(agreement)
        except ConfigError as exc:
            if agreement_id:
                raise
            log.error("exchange: %s not run: %s", aid, exc)
            out["errors"].append(
                {"agreement": aid, "dataset": "*", "error": str(exc)[:300], "kind": "config"}
            )
            continue
        _prepare_agreement(wh, agreements, agreement, aid, out, now, reviewed_by, agreement_id)
    for u in out["unchanged"]:
        log.info("exchange: %s/%s not sent again: %s", u["agreement"], u["dataset"], u["reason"])
    release_lock(wh)
    attempts = dispatch(wh, agreements, now=now, agreement_id=agreement_id)
    receipts = collect_receipts(wh, agreements, now=now)
    overdue = overdue_receipts(wh, agreements, now=now, agreement_id=agreement_id)
    undelivered = _undelivered(wh, agreement_id, ids)
    release_lock(wh)
    return {
        "queued": out["queued"],
        "attempts": attempts,
        "receipts": receipts,
        "errors": out["errors"],
        "not_ready": out["not_ready"],
        "unchanged": out["unchanged"],
        "undelivered": undelivered,
        "overdue": overdue,
    }


def _undelivered(wh: Warehouse, agreement_id: str | None, ids: list[str]) -> list[dict[str, Any]]:
    """Deliveries of these agreements that failed to send and wait for a retry."""
    return [
        r
        for r in wh.query(
            "SELECT delivery_id, agreement, agency, dataset, attempts, next_attempt_at, "
            "last_error FROM ops.exchange_outbox WHERE status = 'pending' AND attempts > 0"
            + (" AND agreement = :a" if agreement_id else ""),
            {"a": agreement_id},
        )
        if agreement_id or r["agreement"] in ids
    ]


def _prepare_agreement(
    wh: Warehouse,
    agreements: AgreementsFile,
    agreement: Agreement,
    aid: str,
    out: dict[str, list[dict[str, Any]]],
    now: datetime | None,
    reviewed_by: str | None,
    only: str | None,
) -> None:
    """Prepare each dataset the agreement grants, collecting into ``out``: one failing dataset
    does not stop the others (unless ``only`` this agreement runs: then it raises)."""
    for dataset in agreement.datasets:
        try:
            q, u = prepare_deliveries(
                wh, agreements, aid, dataset, now=now, reviewed_by=reviewed_by
            )
            out["queued"] += q
            out["unchanged"] += u
        except NotReady as exc:
            entry = {
                "agreement": aid,
                "agency": agreement.agency,
                "dataset": dataset,
                "review": exc.review,
                "reason_id": exc.reason_id,
                "reason_en": exc.reason_en,
            }
            out["not_ready"].append(entry)
            log.warning("exchange: %s/%s not delivered: %s", aid, dataset, exc)
            if exc.review:
                _alert_held(entry)
        except Exception as exc:  # one failing dataset must not stop the others
            if only:
                raise
            log.error("exchange: %s/%s not prepared: %s", aid, dataset, type(exc).__name__)
            out["errors"].append(
                {"agreement": aid, "dataset": dataset, "error": type(exc).__name__}
            )


def _alert_held(entry: dict[str, Any]) -> None:
    """A reconciliation held for review: tell the operator (once a day per dataset)."""
    if not alerts.due(
        f"exchange-held:{entry['agreement']}:{entry['dataset']}", timedelta(hours=24)
    ):
        return
    alerts.send(
        Alert(
            kind="held",
            message_id=f"Pertukaran {entry['agreement']}/{entry['dataset']} ditahan untuk "
            f"ditinjau: {entry['reason_id']}. Setelah diperiksa, kirim dengan "
            "`simpul exchange run --agreement ... --reviewed-by NAMA`.",
            message_en=f"Exchange {entry['agreement']}/{entry['dataset']} held for review: "
            f"{entry['reason_en']}. Once checked, send it with "
            "`simpul exchange run --agreement ... --reviewed-by NAME`.",
            dag_id=f"simpul_exchange_{entry['agreement']}",
        )
    )


def overdue_receipts(
    wh: Warehouse,
    agreements: AgreementsFile,
    *,
    now: datetime | None = None,
    agreement_id: str | None = None,
) -> list[dict[str, Any]]:
    """Sent deliveries whose receipt is later than the agreement's ``receipt_deadline_hours``.

    The first time one is seen overdue an evidence row ``receipt_overdue`` is appended and an
    alert sent; it stays in the list (and in ``simpul status``) until the receipt comes."""
    ensure_exchange_schema(wh)
    now = now or now_utc()
    rows = wh.query(
        'SELECT delivery_id, agreement, agency, dataset, "rows", sent_at, manifest_sha256 '
        "FROM ops.exchange_outbox WHERE status = 'sent' AND sent_at IS NOT NULL"
        + (" AND agreement = :a" if agreement_id else ""),
        {"a": agreement_id},
    )
    if not rows:
        return []
    flagged = {
        r["delivery_id"]
        for r in wh.query(
            "SELECT DISTINCT delivery_id FROM ops.exchange_log WHERE status = 'receipt_overdue'"
        )
    }
    out = []
    for r in rows:
        agreement = agreements.agreements.get(r["agreement"])
        hours = agreement.receipt_deadline_hours if agreement else 72
        if r["sent_at"] + timedelta(hours=hours) > now:
            continue
        r["due_at"] = r["sent_at"] + timedelta(hours=hours)
        out.append(r)
        if r["delivery_id"] in flagged:
            continue
        with wh.begin() as conn:
            log_event(conn, "receipt_overdue", r, detail=f"deadline {hours} h")
        _alert_overdue(r, hours)
    return out


def _alert_overdue(row: dict[str, Any], hours: float) -> None:
    alerts.send(
        Alert(
            kind="failure",
            message_id=f"Tanda terima kiriman {row['delivery_id']} ({row['agency']}, "
            f"{row['dataset']}) belum datang setelah {hours:g} jam. Periksa folder/penerima "
            "instansi.",
            message_en=f"No receipt for delivery {row['delivery_id']} ({row['agency']}, "
            f"{row['dataset']}) after {hours:g} h. Check the agency's drop folder/receiver.",
            dag_id=f"simpul_exchange_{row['agreement']}",
        )
    )


def status_rows(wh: Warehouse, now: datetime | None = None) -> list[dict[str, Any]]:
    """For ``simpul status``: deliveries not yet sent, and sent ones still waiting for a
    receipt, with their receipt deadline and whether it has passed."""
    from simpul.exchange.agreements import load_agreements

    ensure_exchange_schema(wh)
    now = now or now_utc()
    try:
        deadlines = {k: a.receipt_deadline_hours for k, a in load_agreements().agreements.items()}
    except Exception:  # noqa: BLE001 - the status page works without the agreements file
        deadlines = {}
    out = []
    for r in wh.query(
        "SELECT delivery_id, agreement, agency, dataset, part, status, attempts, sent_at, "
        "last_error FROM ops.exchange_outbox WHERE status IN ('pending', 'sent') "
        "ORDER BY created_at"
    ):
        due = None
        if r["sent_at"] is not None:
            due = r["sent_at"] + timedelta(hours=deadlines.get(r["agreement"], 72))
        state = r["status"]
        if state == "sent":
            state = "receipt overdue / terlambat" if due and due <= now else "awaiting receipt"
        elif r["attempts"]:
            state = "not sent, retrying / belum terkirim"
        out.append(
            {
                "delivery_id": r["delivery_id"],
                "agency": r["agency"] + (f"/{r['part']}" if r["part"] else ""),
                "dataset": r["dataset"],
                "state": state,
                "receipt_due": due,
                "last_error": (r["last_error"] or "")[:80],
            }
        )
    return out


__all__ = [
    "backoff",
    "collect_receipts",
    "dispatch",
    "overdue_receipts",
    "prepare",
    "purge",
    "record_success",
    "run",
    "status_rows",
]
