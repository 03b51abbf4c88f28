"""0015 ops_files: The file ledger: every file a drop offered, by path, size and SHA-256, with what
became of it (loaded, held, skipped as already loaded, rejected with a reason, waiting).

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE TABLE ops.files (
            load_id VARCHAR NOT NULL, source VARCHAR, stream VARCHAR,
    path VARCHAR NOT NULL,
            name VARCHAR, size BIGINT, mtime VARCHAR, sha256 VARCHAR,
    status VARCHAR NOT NULL,
            rows BIGINT, previous_load_id VARCHAR, reason_en VARCHAR, reason_id VARCHAR,
            recorded_at TIMESTAMP WITH TIME ZONE, PRIMARY KEY (load_id, path))""",
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
