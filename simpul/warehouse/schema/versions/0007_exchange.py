"""0007 exchange: Exchange outbox, append-only evidence log and disclosure index (simpul.exchange).

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS ops.exchange_outbox (
        delivery_id VARCHAR PRIMARY KEY, agreement VARCHAR NOT NULL,
    agency VARCHAR NOT NULL,
        dataset VARCHAR NOT NULL, channel VARCHAR NOT NULL, status VARCHAR NOT NULL,
        "rows" BIGINT NOT NULL, manifest_sha256 VARCHAR NOT NULL,
    signature VARCHAR NOT NULL,
        path VARCHAR NOT NULL, attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP WITH TIME ZONE,
        last_error VARCHAR, created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    sent_at TIMESTAMP WITH TIME ZONE, receipt_sha256 VARCHAR,
        receipt_at TIMESTAMP WITH TIME ZONE, purged_at TIMESTAMP WITH TIME ZONE)""",
    """CREATE TABLE IF NOT EXISTS ops.exchange_log (
        event_id VARCHAR PRIMARY KEY, delivery_id VARCHAR NOT NULL,
    agreement VARCHAR NOT NULL,
        agency VARCHAR NOT NULL, dataset VARCHAR NOT NULL, purpose VARCHAR,
        legal_basis VARCHAR, "rows" BIGINT, manifest_sha256 VARCHAR, signature VARCHAR,
        status VARCHAR NOT NULL, attempt INTEGER, sent_at TIMESTAMP WITH TIME ZONE,
    receipt_sha256 VARCHAR,
        receipt_at TIMESTAMP WITH TIME ZONE, detail VARCHAR,
    logged_at TIMESTAMP WITH TIME ZONE NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS exchange_outbox_due
        ON ops.exchange_outbox (status, next_attempt_at)""",
    """CREATE INDEX IF NOT EXISTS exchange_log_delivery ON ops.exchange_log (delivery_id)""",
    """CREATE TABLE IF NOT EXISTS ops.exchange_disclosures (
        delivery_id VARCHAR NOT NULL, agreement VARCHAR NOT NULL,
    agency VARCHAR NOT NULL,
        dataset VARCHAR NOT NULL, subject_pseudonym VARCHAR NOT NULL,
    kunci_id VARCHAR NOT NULL,
        PRIMARY KEY (delivery_id, subject_pseudonym))""",
    """CREATE INDEX IF NOT EXISTS exchange_disclosures_subject
        ON ops.exchange_disclosures (subject_pseudonym, agency)""",
)

POSTGRESQL: tuple[str, ...] = (
    """CREATE OR REPLACE FUNCTION ops.exchange_log_append_only() RETURNS trigger
       LANGUAGE plpgsql AS $$ BEGIN
         RAISE EXCEPTION 'ops.exchange_log is append-only / log hanya boleh ditambah';
       END $$""",
    """CREATE TRIGGER exchange_log_append_only BEFORE UPDATE OR DELETE ON ops.exchange_log
       FOR EACH ROW EXECUTE FUNCTION ops.exchange_log_append_only()""",
)
TRIGGER_EXISTS = """SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'ops'
    AND c.relname = 'exchange_log' AND t.tgname = 'exchange_log_append_only'"""


def upgrade() -> None:
    bind = op.get_bind()
    for ddl in COMMON:
        bind.exec_driver_sql(ddl)
    if bind.dialect.name == "postgresql" and not bind.exec_driver_sql(TRIGGER_EXISTS).scalar():
        for ddl in POSTGRESQL:
            bind.exec_driver_sql(ddl)


def downgrade() -> None:
    raise NotImplementedError("restore the backup taken before the upgrade")
