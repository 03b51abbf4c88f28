"""Exchange tables in ``ops``: the outbox, the append-only evidence log, the disclosure index.

Created idempotently by :func:`ensure_exchange_schema` (portable DDL, DuckDB and PostgreSQL)
until a numbered migration takes them over (see ``EXCHANGE_DDL``). ``ops.exchange_log`` is only
ever inserted into; on PostgreSQL a trigger refuses UPDATE and DELETE. The disclosure index
holds the keyed NIK pseudonym (HMAC, :mod:`simpul.warehouse.pseudonym`), never the NIK.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.warehouse.engine import Warehouse

TS = "TIMESTAMP WITH TIME ZONE"
EXCHANGE_DDL: tuple[str, ...] = (
    f"""CREATE TABLE IF NOT EXISTS ops.exchange_outbox (
        delivery_id VARCHAR PRIMARY KEY, agreement VARCHAR NOT NULL, agency VARCHAR NOT NULL,
        dataset VARCHAR NOT NULL, channel VARCHAR NOT NULL, status VARCHAR NOT NULL,
        "rows" BIGINT NOT NULL, manifest_sha256 VARCHAR NOT NULL, signature VARCHAR NOT NULL,
        path VARCHAR NOT NULL, attempts INTEGER NOT NULL, next_attempt_at {TS},
        last_error VARCHAR, created_at {TS} NOT NULL, sent_at {TS}, receipt_sha256 VARCHAR,
        receipt_at {TS}, purged_at {TS})""",
    f"""CREATE TABLE IF NOT EXISTS ops.exchange_log (
        event_id VARCHAR PRIMARY KEY, delivery_id VARCHAR NOT NULL, agreement VARCHAR NOT NULL,
        agency VARCHAR NOT NULL, dataset VARCHAR NOT NULL, purpose VARCHAR,
        legal_basis VARCHAR, "rows" BIGINT, manifest_sha256 VARCHAR, signature VARCHAR,
        status VARCHAR NOT NULL, attempt INTEGER, sent_at {TS}, receipt_sha256 VARCHAR,
        receipt_at {TS}, detail VARCHAR, logged_at {TS} NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS exchange_outbox_due
        ON ops.exchange_outbox (status, next_attempt_at)""",
    """CREATE INDEX IF NOT EXISTS exchange_log_delivery ON ops.exchange_log (delivery_id)""",
    """CREATE TABLE IF NOT EXISTS ops.exchange_disclosures (
        delivery_id VARCHAR NOT NULL, agreement VARCHAR NOT NULL, agency VARCHAR NOT NULL,
        dataset VARCHAR NOT NULL, subject_pseudonym VARCHAR NOT NULL, kunci_id VARCHAR NOT NULL,
        PRIMARY KEY (delivery_id, subject_pseudonym))""",
    """CREATE INDEX IF NOT EXISTS exchange_disclosures_subject
        ON ops.exchange_disclosures (subject_pseudonym, agency)""",
)
# migration 19: what a delivery contains (for "once per change") and which partition it is
# (e.g. one village's share of a partitioned agreement)
EXCHANGE_DDL_V19: tuple[str, ...] = (
    "ALTER TABLE ops.exchange_outbox ADD COLUMN IF NOT EXISTS content_sha256 VARCHAR",
    "ALTER TABLE ops.exchange_outbox ADD COLUMN IF NOT EXISTS part VARCHAR",
    """CREATE INDEX IF NOT EXISTS exchange_outbox_latest
        ON ops.exchange_outbox (agreement, dataset, created_at)""",
)
PG_APPEND_ONLY = (
    """CREATE OR REPLACE FUNCTION ops.exchange_log_append_only() RETURNS trigger
       LANGUAGE plpgsql AS $$ BEGIN
         RAISE EXCEPTION 'ops.exchange_log is append-only / log hanya boleh ditambah';
       END $$""",
    """CREATE TRIGGER exchange_log_append_only BEFORE UPDATE OR DELETE ON ops.exchange_log
       FOR EACH ROW EXECUTE FUNCTION ops.exchange_log_append_only()""",
)


def ensure_exchange_schema(wh: Warehouse) -> None:
    """Create the exchange tables if missing (idempotent; migration 7 does the same)."""
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS ops")
        create_exchange_tables(conn)
        add_content_columns(conn)


def add_content_columns(conn: Connection) -> None:
    """Migration 19's columns (idempotent)."""
    for ddl in EXCHANGE_DDL_V19:
        conn.exec_driver_sql(ddl)


def create_exchange_tables(conn: Connection) -> None:
    """The DDL and, on PostgreSQL, the append-only trigger; safe to run again."""
    for ddl in EXCHANGE_DDL:
        conn.exec_driver_sql(ddl)
    if conn.dialect.name == "postgresql":
        has = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'ops' "
                "AND c.relname = 'exchange_log' AND t.tgname = 'exchange_log_append_only'"
            )
        ).scalar()
        if not has:
            for ddl in PG_APPEND_ONLY:
                conn.exec_driver_sql(ddl)


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
