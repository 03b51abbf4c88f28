"""The outbox: where a delivery's files wait (``SIMPUL_HOME/outbox`` or shared storage) and
the state of its row in ``ops.exchange_outbox`` (pending, sent, receipted, ...), each change
recorded with its evidence row in ``ops.exchange_log`` in the same transaction."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from simpul.config import home
from simpul.exchange.agreements import Agreement
from simpul.exchange.outgoing import SendResult
from simpul.exchange.signing import SIGNATURE
from simpul.exchange.store import log_event
from simpul.redact import redact
from simpul.warehouse.engine import Warehouse

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=6)
LEASE = timedelta(minutes=10)  # a claimed row is retried after this if its sender died
DEAD = ("superseded", "cancelled", "tampered", "rejected")


def outbox_dir() -> Path:
    """The outbox folder this process writes (``SIMPUL_OUTBOX_URL``: its local working copy
    when the outbox is in shared storage, see :mod:`simpul.storage`)."""
    from simpul.storage import OUTBOX_URL_ENV, store

    return store("outbox").local if os.environ.get(OUTBOX_URL_ENV) else home() / "outbox"


def outbox_copy(row: dict[str, Any]) -> Path:
    """The delivery's folder on this host: in shared storage, fetched (signature last) by a
    dispatcher on another host than the one that built it."""
    from simpul.storage import store

    st = store("outbox")
    if not st.remote:
        return Path(row["path"])
    st.fetch(row["delivery_id"], SIGNATURE)
    return st.local / row["delivery_id"]


def outbox_remove(row: dict[str, Any]) -> None:
    """A delivery's folder gone from this host and from shared storage."""
    from simpul.storage import store

    shutil.rmtree(row["path"], ignore_errors=True)
    st = store("outbox")
    if st.remote:
        st.remove(row["delivery_id"])


def backoff(attempt: int) -> timedelta:
    """Delay before attempt ``attempt + 1``: 30 s, 1 min, 2 min, ... capped at 6 h."""
    return min(BACKOFF_BASE * (2 ** max(attempt - 1, 0)), BACKOFF_MAX)


def release_lock(wh: Warehouse) -> None:
    """Close the pooled connections so DuckDB's single-writer file lock is not held while a
    channel waits on the network (they reopen on the next query); PostgreSQL needs nothing."""
    if wh.dialect == "duckdb":
        wh.engine.dispose()


def latest(
    wh: Warehouse, agreement_id: str, dataset: str, part: str | None
) -> dict[str, Any] | None:
    """The last delivery of this agreement, dataset and partition that is or may be received."""
    rows = wh.query(
        "SELECT delivery_id, status, content_sha256, created_at, sent_at, path, attempts "
        "FROM ops.exchange_outbox WHERE agreement = :a AND dataset = :d "
        + ("AND part = :p " if part is not None else "AND part IS NULL ")
        + f"AND status NOT IN ({', '.join(repr(s) for s in DEAD)}) "
        "ORDER BY created_at DESC, delivery_id DESC LIMIT 1",
        {"a": agreement_id, "d": dataset, "p": part},
    )
    return rows[0] if rows else None


def quote_column(col: str) -> str:
    return f'"{col}"' if col == "rows" else col


def evidence(row: dict[str, Any], agreement: Agreement) -> dict[str, Any]:
    return {**row, "purpose": agreement.purpose, "legal_basis": agreement.legal_basis}


def short_error(exc: Exception) -> str:
    """An exception as one redacted line: safe for the outbox row, the log and evidence."""
    return redact(f"{type(exc).__name__}: {exc}", 300)


# --------------------------------------------------------------------------- state changes


def claim(wh: Warehouse, row: dict[str, Any], now: datetime) -> bool:
    """Take the row for this dispatcher (attempts + 1, lease); False if someone else did."""
    with wh.begin() as conn:
        res = conn.execute(
            sa.text(
                "UPDATE ops.exchange_outbox SET attempts = attempts + 1, next_attempt_at = :lease "
                "WHERE delivery_id = :id AND attempts = :attempts AND status = 'pending'"
            ),
            {"lease": now + LEASE, "id": row["delivery_id"], "attempts": row["attempts"]},
        )
        return res.rowcount == 1


def record_success(
    wh: Warehouse,
    row: dict[str, Any],
    agreement: Agreement,
    result: SendResult,
    now: datetime,
) -> str:
    """Mark a sent delivery and append its evidence (sent, and receipted when there is one)."""
    status = "receipted" if result.receipt is not None else "sent"
    ev = evidence(row, agreement)
    with wh.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE ops.exchange_outbox SET status = :status, sent_at = :now, "
                "next_attempt_at = NULL, last_error = NULL, receipt_sha256 = :rsha, "
                "receipt_at = :rat WHERE delivery_id = :id"
            ),
            {
                "status": status,
                "now": now,
                "rsha": result.receipt_sha256,
                "rat": now if result.receipt is not None else None,
                "id": row["delivery_id"],
            },
        )
        log_event(
            conn, "sent", ev, attempt=row["attempts"] + 1, sent_at=now, detail=result.detail[:500]
        )
        if result.receipt is not None:
            log_event(
                conn,
                "receipted",
                ev,
                attempt=row["attempts"] + 1,
                sent_at=now,
                receipt_sha256=result.receipt_sha256,
                receipt_at=now,
            )
    return status


def record_failure(
    wh: Warehouse, row: dict[str, Any], agreement: Agreement, exc: Exception, now: datetime
) -> timedelta:
    attempt = row["attempts"] + 1
    delay = backoff(attempt)
    reason = short_error(exc)
    with wh.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE ops.exchange_outbox SET next_attempt_at = :next, last_error = :err "
                "WHERE delivery_id = :id"
            ),
            {"next": now + delay, "err": reason, "id": row["delivery_id"]},
        )
        log_event(conn, "attempt_failed", evidence(row, agreement), attempt=attempt, detail=reason)
    return delay


def cancel(wh: Warehouse, row: dict[str, Any], reason: str, status: str = "cancelled") -> None:
    with wh.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE ops.exchange_outbox SET status = :s, last_error = :r, "
                "next_attempt_at = NULL WHERE delivery_id = :id"
            ),
            {"s": status, "r": reason, "id": row["delivery_id"]},
        )
        log_event(conn, status, row, detail=reason)


def refuse_receipt(wh: Warehouse, row: dict[str, Any], agreement: Agreement, reason: str) -> None:
    seen = wh.scalar(
        "SELECT count(*) FROM ops.exchange_log WHERE delivery_id = :id "
        "AND status = 'receipt_refused'",
        {"id": row["delivery_id"]},
    )
    log.error("exchange: receipt for %s refused: %s", row["delivery_id"], reason)
    if not seen:
        with wh.begin() as conn:
            log_event(conn, "receipt_refused", evidence(row, agreement), detail=reason[:300])


def mark(
    wh: Warehouse,
    row: dict[str, Any],
    agreement: Agreement,
    status: str,
    now: datetime,
    result: SendResult | None = None,
    detail: str | None = None,
) -> None:
    with wh.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE ops.exchange_outbox SET status = :s, receipt_sha256 = :r, "
                "receipt_at = :t, last_error = :d WHERE delivery_id = :id"
            ),
            {
                "s": status,
                "r": result.receipt_sha256 if result else None,
                "t": now if result else None,
                "d": detail,
                "id": row["delivery_id"],
            },
        )
        log_event(
            conn,
            status,
            evidence(row, agreement),
            receipt_sha256=result.receipt_sha256 if result else None,
            receipt_at=now if result else None,
            detail=detail,
        )
