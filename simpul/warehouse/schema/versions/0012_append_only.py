"""0012 append_only: ops.exchange_log and ops.audit reject UPDATE, DELETE and TRUNCATE for every
role (PostgreSQL triggers). Maintenance path: the owner, in a recorded maintenance window,
``ALTER TABLE ... DISABLE TRIGGER simpul_append_only`` (see SECURITY.md).

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = ()

POSTGRESQL: tuple[str, ...] = (
    """CREATE OR REPLACE FUNCTION ops.simpul_append_only() RETURNS trigger
           LANGUAGE plpgsql AS $$ BEGIN
             RAISE EXCEPTION USING MESSAGE = TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME
               || ' is append-only (' || TG_OP || ') / hanya boleh ditambah';
           END $$""",
    """CREATE TRIGGER simpul_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON ops.exchange_log FOR EACH STATEMENT
    EXECUTE FUNCTION ops.simpul_append_only()""",
    """CREATE TRIGGER simpul_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON ops.audit FOR EACH STATEMENT
    EXECUTE FUNCTION ops.simpul_append_only()""",
)


def upgrade() -> None:
    bind = op.get_bind()
    for ddl in COMMON:
        bind.exec_driver_sql(ddl)
    if bind.dialect.name == "postgresql":
        for ddl in POSTGRESQL:
            bind.exec_driver_sql(ddl)


def downgrade() -> None:
    raise NotImplementedError("restore the backup taken before the upgrade")
