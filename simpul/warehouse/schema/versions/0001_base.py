"""0001 base: Layers, ops tables (loads, cursors, findings, quarantine) and reference tables.

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    'CREATE SCHEMA IF NOT EXISTS "ref"',
    'CREATE SCHEMA IF NOT EXISTS "raw"',
    'CREATE SCHEMA IF NOT EXISTS "core"',
    'CREATE SCHEMA IF NOT EXISTS "marts"',
    'CREATE SCHEMA IF NOT EXISTS "ops"',
    """CREATE TABLE IF NOT EXISTS ops.schema_migrations (version INTEGER PRIMARY KEY,
    name VARCHAR, applied_at TIMESTAMP WITH TIME ZONE)""",
    """CREATE TABLE ops.loads (
            load_id VARCHAR PRIMARY KEY, pipeline VARCHAR, source VARCHAR,
    stream VARCHAR,
            entity VARCHAR, status VARCHAR NOT NULL,
    extracted_at TIMESTAMP WITH TIME ZONE, loaded_at TIMESTAMP WITH TIME ZONE,
            cursor_from VARCHAR, cursor_to VARCHAR, rows_received BIGINT,
    rows_loaded BIGINT,
            rows_quarantined BIGINT, rows_duplicate BIGINT, rows_warned BIGINT,
            sha256 VARCHAR, landed_file VARCHAR, message VARCHAR)""",
    """CREATE TABLE ops.cursors (
            source VARCHAR, stream VARCHAR, cursor_value VARCHAR, load_id VARCHAR,
            updated_at TIMESTAMP WITH TIME ZONE, PRIMARY KEY (source, stream))""",
    """CREATE TABLE ops.dq_findings (
            load_id VARCHAR, row_number BIGINT, rule VARCHAR, severity VARCHAR,
    field VARCHAR,
            reason_en VARCHAR, reason_id VARCHAR, found_at TIMESTAMP WITH TIME ZONE,
            PRIMARY KEY (load_id, row_number, rule))""",
    """CREATE TABLE ops.quarantine (
            load_id VARCHAR, source VARCHAR, stream VARCHAR, entity VARCHAR,
    row_number BIGINT,
            record_key VARCHAR, rules VARCHAR, reasons_en VARCHAR, reasons_id VARCHAR,
            record_json VARCHAR, status VARCHAR, quarantined_at TIMESTAMP WITH TIME ZONE,
    resolved_at TIMESTAMP WITH TIME ZONE,
            PRIMARY KEY (load_id, row_number))""",
    """CREATE TABLE ref.wilayah (
            kode VARCHAR PRIMARY KEY, tingkat VARCHAR NOT NULL, kode_induk VARCHAR,
            nama VARCHAR NOT NULL)""",
    """CREATE TABLE ref.kode (
            daftar VARCHAR, kode VARCHAR, label VARCHAR, sumber VARCHAR,
            PRIMARY KEY (daftar, kode))""",
    """CREATE TABLE ref.versions (name VARCHAR PRIMARY KEY, sha256 VARCHAR,
    loaded_at TIMESTAMP WITH TIME ZONE)""",
)

POSTGRESQL: tuple[str, ...] = ()


def upgrade() -> None:
    bind = op.get_bind()
    for ddl in COMMON:
        bind.exec_driver_sql(ddl)
    if bind.dialect.name == "postgresql":
        for ddl in POSTGRESQL:
            bind.exec_driver_sql(ddl)


def downgrade() -> None:
    raise NotImplementedError("restore the backup taken before the upgrade")
