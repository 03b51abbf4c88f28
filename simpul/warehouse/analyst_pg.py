"""PostgreSQL: publish the marts as analysts may see them into schema ``analyst``.

The DuckDB analyst database gets the same treatment in :mod:`simpul.warehouse.analyst`. Here
every marts build rebuilds ``analyst.<table>`` in one transaction (PostgreSQL DDL is
transactional: an analyst reads the old tables until the commit, never a half-built set).
Person-level tables are k-anonymised and aggregates have small cells suppressed, exactly as in
the DuckDB analyst database; ``simpul_analyst`` reads ``analyst`` and ``ref``, not ``marts``.
"""

from __future__ import annotations

import logging

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from simpul.warehouse.engine import Warehouse, qualified, quote_ident, sql_type

log = logging.getLogger(__name__)
SCHEMA = "analyst"


# where the analyst copy's column type differs from the warehouse's (sql_type)
_PG_TYPE_OVERRIDES = (
    (pa.types.is_decimal, "NUMERIC"),
    (pa.types.is_integer, "BIGINT"),
    (pa.types.is_null, "VARCHAR"),
)


def _pg_type(t: pa.DataType) -> str:
    """The PostgreSQL type of a protected table's column."""
    return next((pg for test, pg in _PG_TYPE_OVERRIDES if test(t)), None) or sql_type(t)


_ARROW_OF_PG = {
    "smallint": pa.int64(),
    "integer": pa.int64(),
    "bigint": pa.int64(),
    "date": pa.date32(),
    "boolean": pa.bool_(),
    "double precision": pa.float64(),
    "real": pa.float64(),
}


def _typed(conn: sa.Connection, table: str, frame: pd.DataFrame) -> pa.Table:
    """Arrow table of a marts frame; a column pandas saw only NULLs in gets its PostgreSQL
    type (else Arrow infers the null type and disclosure control cannot cast it)."""
    out = pa.Table.from_pandas(frame, preserve_index=False)
    types: dict[str, str] = dict(
        conn.execute(
            sa.text(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'marts' and table_name = :t"
            ),
            {"t": table},
        ).all()
    )
    for i, field in enumerate(out.schema):
        if pa.types.is_null(field.type):
            wanted = _ARROW_OF_PG.get(types.get(field.name, ""), pa.string())
            out = out.set_column(i, field.name, out.column(i).cast(wanted))
    return out


def publish_analyst_schema(wh: Warehouse) -> dict[str, dict[str, int]] | None:
    """Rebuild schema analyst from marts (PostgreSQL only); returns the disclosure statistics
    per protected table."""
    if wh.dialect != "postgresql":
        return None
    from simpul.warehouse.disclosure import needs_protection, protect
    from simpul.warehouse.roles import ANALYST

    stats: dict[str, dict[str, int]] = {}
    with wh.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        marts = _tables(conn, "marts")
        for table in _tables(conn, SCHEMA):  # a mart that no longer exists is not published either
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {qualified(SCHEMA, table)}")
        for table in marts:
            target = qualified(SCHEMA, table)
            if not needs_protection(table):
                conn.exec_driver_sql(
                    f"CREATE TABLE {target} AS SELECT * FROM {qualified('marts', table)}"
                )
                continue
            frame = pd.read_sql(sa.text(f"SELECT * FROM {qualified('marts', table)}"), conn)
            protected, stats[table] = protect(table, _typed(conn, table, frame))
            cols = ", ".join(f"{quote_ident(f.name)} {_pg_type(f.type)}" for f in protected.schema)
            conn.exec_driver_sql(f"CREATE TABLE {target} ({cols})")
            wh.bulk_insert(conn, target, protected)
            log.info("analyst.%s: disclosure control %s", table, stats[table])
        role = conn.execute(
            sa.text("select 1 from pg_roles where rolname = :r"), {"r": ANALYST}
        ).scalar()
        if role:
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {ANALYST}")
            conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {ANALYST}")
    return stats


def _tables(conn: sa.Connection, schema: str) -> list[str]:
    """The tables of ``schema``, by name."""
    rows = conn.execute(
        sa.text(
            "select table_name from information_schema.tables where table_schema = :s order by 1"
        ),
        {"s": schema},
    )
    return [str(r[0]) for r in rows]
