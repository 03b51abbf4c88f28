"""0011 roles: PostgreSQL roles: loader (the migrating role, owner), simpul_operator (reads every
layer), simpul_analyst (USAGE/SELECT on marts and ref only), simpul_writer. Without the
CREATEROLE privilege the roles are left to an administrator (``ensure_roles``), logged.

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = ()
SCHEMA: tuple[str, ...] = ()

POSTGRESQL: tuple[str, ...] = (
    """DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'simpul_analyst') THEN
    CREATE ROLE "simpul_analyst" NOLOGIN; END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$""",
    """DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'simpul_operator') THEN
    CREATE ROLE "simpul_operator" NOLOGIN; END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$""",
    """DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'simpul_writer') THEN
    CREATE ROLE "simpul_writer" NOLOGIN; END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$""",
    'GRANT USAGE, CREATE ON SCHEMA "ref" TO simpul_writer',
    'GRANT ALL ON ALL TABLES IN SCHEMA "ref" TO simpul_writer',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA "ref" GRANT ALL ON TABLES TO simpul_writer',
    'GRANT USAGE ON SCHEMA "ref" TO simpul_operator',
    'GRANT SELECT ON ALL TABLES IN SCHEMA "ref" TO simpul_operator',
    """ALTER DEFAULT PRIVILEGES IN SCHEMA "ref" GRANT SELECT ON TABLES TO simpul_operator""",
    'GRANT USAGE ON SCHEMA "ref" TO simpul_analyst',
    'GRANT SELECT ON ALL TABLES IN SCHEMA "ref" TO simpul_analyst',
    """ALTER DEFAULT PRIVILEGES IN SCHEMA "ref" GRANT SELECT ON TABLES TO simpul_analyst""",
    'GRANT USAGE, CREATE ON SCHEMA "raw" TO simpul_writer',
    'GRANT ALL ON ALL TABLES IN SCHEMA "raw" TO simpul_writer',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA "raw" GRANT ALL ON TABLES TO simpul_writer',
    'GRANT USAGE ON SCHEMA "raw" TO simpul_operator',
    'GRANT SELECT ON ALL TABLES IN SCHEMA "raw" TO simpul_operator',
    """ALTER DEFAULT PRIVILEGES IN SCHEMA "raw" GRANT SELECT ON TABLES TO simpul_operator""",
    """ALTER DEFAULT PRIVILEGES IN SCHEMA "raw" REVOKE ALL ON TABLES FROM simpul_analyst""",
    'REVOKE ALL ON ALL TABLES IN SCHEMA "raw" FROM simpul_analyst',
    'REVOKE ALL ON SCHEMA "raw" FROM simpul_analyst',
    'GRANT USAGE, CREATE ON SCHEMA "core" TO simpul_writer',
    'GRANT ALL ON ALL TABLES IN SCHEMA "core" TO simpul_writer',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA "core" GRANT ALL ON TABLES TO simpul_writer',
    'GRANT USAGE ON SCHEMA "core" TO simpul_operator',
    'GRANT SELECT ON ALL TABLES IN SCHEMA "core" TO simpul_operator',
    """ALTER DEFAULT PRIVILEGES IN SCHEMA "core" GRANT SELECT ON TABLES TO simpul_operator""",
    """ALTER DEFAULT PRIVILEGES IN SCHEMA "core" REVOKE ALL ON TABLES FROM simpul_analyst""",
    'REVOKE ALL ON ALL TABLES IN SCHEMA "core" FROM simpul_analyst',
    'REVOKE ALL ON SCHEMA "core" FROM simpul_analyst',
    'GRANT USAGE, CREATE ON SCHEMA "marts" TO simpul_writer',
    'GRANT ALL ON ALL TABLES IN SCHEMA "marts" TO simpul_writer',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA "marts" GRANT ALL ON TABLES TO simpul_writer',
    'GRANT USAGE ON SCHEMA "marts" TO simpul_operator',
    'GRANT SELECT ON ALL TABLES IN SCHEMA "marts" TO simpul_operator',
    """ALTER DEFAULT PRIVILEGES IN SCHEMA "marts" GRANT SELECT ON TABLES TO simpul_operator""",
    """ALTER DEFAULT PRIVILEGES IN SCHEMA "marts" REVOKE ALL ON TABLES FROM simpul_analyst""",
    'REVOKE ALL ON ALL TABLES IN SCHEMA "marts" FROM simpul_analyst',
    'REVOKE ALL ON SCHEMA "marts" FROM simpul_analyst',
    'GRANT USAGE, CREATE ON SCHEMA "ops" TO simpul_writer',
    'GRANT ALL ON ALL TABLES IN SCHEMA "ops" TO simpul_writer',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA "ops" GRANT ALL ON TABLES TO simpul_writer',
    'GRANT USAGE ON SCHEMA "ops" TO simpul_operator',
    'GRANT SELECT ON ALL TABLES IN SCHEMA "ops" TO simpul_operator',
    """ALTER DEFAULT PRIVILEGES IN SCHEMA "ops" GRANT SELECT ON TABLES TO simpul_operator""",
    """ALTER DEFAULT PRIVILEGES IN SCHEMA "ops" REVOKE ALL ON TABLES FROM simpul_analyst""",
    'REVOKE ALL ON ALL TABLES IN SCHEMA "ops" FROM simpul_analyst',
    'REVOKE ALL ON SCHEMA "ops" FROM simpul_analyst',
)


def _schema_of(ddl: str) -> str | None:
    """The schema a grant is about (grants skip a schema that does not exist)."""
    marker = 'SCHEMA "'
    if marker not in ddl:
        return None
    return ddl.split(marker, 1)[1].split('"', 1)[0]


def upgrade() -> None:
    bind = op.get_bind()
    for ddl in COMMON:
        bind.exec_driver_sql(ddl)
    if bind.dialect.name != "postgresql":
        return
    for ddl in SCHEMA:
        bind.exec_driver_sql(ddl)
    existing = {r[0] for r in bind.exec_driver_sql("select nspname from pg_namespace")}
    try:
        with bind.begin_nested():
            for ddl in POSTGRESQL:
                schema = _schema_of(ddl)
                if schema is None or schema in existing:
                    bind.exec_driver_sql(ddl)
    except sa.exc.ProgrammingError as exc:
        logging.getLogger(__name__).warning(
            "roles not granted (the loader lacks CREATEROLE): %s", type(exc.orig).__name__
        )


def downgrade() -> None:
    raise NotImplementedError("restore the backup taken before the upgrade")
