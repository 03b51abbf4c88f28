"""0023 ops_health: ops.task_runs (every try of every task, written by the DAG callbacks, so status
works without Airflow's database) and ops.alerts (alert de-duplication and open alerts).

Frozen DDL (rendered once from the old runner on DuckDB and PostgreSQL): a revision never
imports live model code.
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0019"
branch_labels = None
depends_on = None

COMMON: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS ops.task_runs (
        dag_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL, task_id VARCHAR NOT NULL,
        try_number INTEGER NOT NULL, pipeline VARCHAR, state VARCHAR NOT NULL,
        max_tries INTEGER, error_id VARCHAR, error_en VARCHAR,
    recorded_at TIMESTAMP WITH TIME ZONE NOT NULL,
        PRIMARY KEY (dag_id, run_id, task_id, try_number))""",
    """CREATE TABLE IF NOT EXISTS ops.alerts (
        alert_key VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, pipeline VARCHAR,
        dag_id VARCHAR, title VARCHAR, message_id VARCHAR, message_en VARCHAR,
        first_at TIMESTAMP WITH TIME ZONE, last_at TIMESTAMP WITH TIME ZONE,
    last_sent_at TIMESTAMP WITH TIME ZONE, times INTEGER NOT NULL,
        state VARCHAR NOT NULL, resolved_at TIMESTAMP WITH TIME ZONE)""",
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
