"""Exchange tables in ``ops``: the outbox, the append-only evidence log, the disclosure index.

Created by the schema revisions 0007 and 0019 (frozen DDL, DuckDB and PostgreSQL), never at run
time. ``ops.exchange_log`` is only ever inserted into; on PostgreSQL a trigger refuses UPDATE,
DELETE and TRUNCATE. The disclosure index holds the keyed NIK pseudonym (HMAC,
:mod:`simpul.warehouse.pseudonym`), never the NIK.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.warehouse.engine import Warehouse


def ensure_exchange_schema(wh: Warehouse) -> None:
    """Nothing to create: revisions 0007 and 0019 (``simpul db upgrade``) hold the exchange
    tables, and :func:`simpul.warehouse.open_warehouse` refuses a warehouse not at head. Kept
    so callers need not know."""
    del wh


def now_utc() -> datetime:
    return datetime.now(UTC)


def log_event(conn: Connection, status: str, delivery: dict[str, Any], **extra: Any) -> None:
    """Append one evidence row (``queued``, ``attempt_failed``, ``sent``, ``receipted``)."""
    row = {
        "event_id": str(uuid.uuid4()),
        "delivery_id": delivery["delivery_id"],
        "agreement": delivery["agreement"],
        "agency": delivery["agency"],
        "dataset": delivery["dataset"],
        "purpose": delivery.get("purpose"),
        "legal_basis": delivery.get("legal_basis"),
        "rows": delivery.get("rows"),
        "manifest_sha256": delivery.get("manifest_sha256"),
        "signature": delivery.get("signature"),
        "status": status,
        "attempt": extra.get("attempt"),
        "sent_at": extra.get("sent_at"),
        "receipt_sha256": extra.get("receipt_sha256"),
        "receipt_at": extra.get("receipt_at"),
        "detail": extra.get("detail"),
        "logged_at": now_utc(),
    }
    cols = list(row)
    conn.execute(
        sa.text(
            f"INSERT INTO ops.exchange_log ({', '.join(_q(c) for c in cols)}) "
            f"VALUES ({', '.join(':' + c for c in cols)})"
        ),
        row,
    )


def _q(col: str) -> str:
    return f'"{col}"' if col == "rows" else col


OUTBOX_COLUMNS = (
    "delivery_id",
    "agreement",
    "agency",
    "dataset",
    "channel",
    "status",
    "rows",
    "manifest_sha256",
    "signature",
    "path",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "sent_at",
    "receipt_sha256",
    "receipt_at",
    "purged_at",
    "content_sha256",
    "part",
)


def outbox(wh: Warehouse, status: str | None = None) -> list[dict[str, Any]]:
    """Outbox rows, newest first (optionally one status)."""
    cols = ", ".join(_q(c) for c in OUTBOX_COLUMNS)
    where = "WHERE status = :status" if status else ""
    return wh.query(
        f"SELECT {cols} FROM ops.exchange_outbox {where} ORDER BY created_at DESC, delivery_id",
        {"status": status} if status else {},
    )


DISCLOSURES_SQL = """
SELECT d.delivery_id, d.agreement, d.agency, d.dataset, d.kunci_id,
    MIN(l.purpose) AS purpose, MIN(l.legal_basis) AS legal_basis,
    MIN(l.manifest_sha256) AS manifest_sha256,
    MIN(CASE WHEN l.status = 'sent' THEN l.sent_at END) AS sent_at,
    MAX(CASE WHEN l.status = 'receipted' THEN l.receipt_at END) AS receipt_at,
    MAX(CASE WHEN l.status = 'receipted' THEN l.receipt_sha256 END) AS receipt_sha256
FROM ops.exchange_disclosures d
JOIN ops.exchange_log l ON l.delivery_id = d.delivery_id AND l.status IN ('sent', 'receipted')
WHERE d.subject_pseudonym = :pseudonym {agency}
GROUP BY d.delivery_id, d.agreement, d.agency, d.dataset, d.kunci_id
ORDER BY sent_at, d.delivery_id
"""


def disclosures_by_pseudonym(
    wh: Warehouse, pseudonym: str, agency: str | None = None
) -> list[dict[str, Any]]:
    """What did ``agency`` (or any agency) receive about the person with this pseudonym, when,
    under which agreement: only deliveries actually sent count."""
    params: dict[str, Any] = {"pseudonym": pseudonym}
    if agency:
        params["agency"] = agency
    sql = DISCLOSURES_SQL.format(agency="AND d.agency = :agency" if agency else "")
    return wh.query(sql, params)


def disclosures_for_nik(wh: Warehouse, nik: str, agency: str | None = None) -> list[dict]:
    """The same, from a NIK: pseudonymised with the current key, the NIK itself not stored."""
    from simpul.warehouse.pseudonym import pseudonym_key, pseudonymise

    return disclosures_by_pseudonym(wh, pseudonymise(nik, pseudonym_key(), "nik") or "", agency)


def deliveries_to(wh: Warehouse, agency: str) -> list[dict[str, Any]]:
    """Every delivery queued for an agency with its latest state (from the outbox)."""
    cols = ", ".join(_q(c) for c in OUTBOX_COLUMNS if c not in ("signature", "path"))
    return wh.query(
        f"SELECT {cols} FROM ops.exchange_outbox WHERE agency = :agency "
        "ORDER BY created_at, delivery_id",
        {"agency": agency},
    )
