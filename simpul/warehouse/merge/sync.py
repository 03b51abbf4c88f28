"""Writing derived rows back: only the records whose rows changed are rewritten, and a row
that did not change keeps its load-time stamps (``_merged_at``, ``_recorded_at``, ...)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.model import Entity
from simpul.warehouse.engine import Warehouse
from simpul.warehouse.merge.keys import record_key
from simpul.warehouse.merge.shapes import KEYS_TABLE, S
from simpul.warehouse.pseudonym import canonical

Row = dict[str, Any]


def fetch(conn: Connection, table: str, key_expr: str, extra: str = "") -> list[Row]:
    """The rows of ``table`` whose ``key_expr`` is in the merge's key table."""
    sql = f"SELECT * FROM {table} WHERE {key_expr} IN (SELECT _record_key FROM {KEYS_TABLE})"
    return [dict(r._mapping) for r in conn.execute(sa.text(sql + extra))]


def group(
    ent: Entity, rows: Iterable[Row], by: Callable[[Row], str] | None = None
) -> dict[str, list[Row]]:
    """Rows by record key (or by ``by``)."""
    out: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        out[by(r) if by else record_key(ent, r)].append(r)
    return out


def same(a: Row, b: Row, cols: Iterable[str]) -> bool:
    """Equal canonical text in every column. Two values of one type that compare equal have
    the same canonical text (str of equal values; the same UTC instant), so only the others
    are turned into text: most columns of a changed record are unchanged."""
    for c in cols:
        x, y = a.get(c), b.get(c)
        if type(x) is type(y) and x == y:
            continue
        if canonical(x) != canonical(y):
            return False
    return True


def sync(
    conn: Connection,
    wh: Warehouse,
    table: str,
    key_expr: str,
    schema: pa.Schema,
    old: dict[str, list[Row]],
    new: dict[str, list[Row]],
    ident: Callable[[Row], tuple[Any, ...]],
    stamps: dict[str, Any],
) -> int:
    """Rewrite the rows of the records whose rows changed; unchanged rows keep their stamps.

    ``stamps`` are load-time columns (set to the given value on new or changed rows only).
    Returns the number of records rewritten.
    """
    compare = [f.name for f in schema if f.name not in stamps]
    replace: list[str] = []
    rows_out: list[Row] = []
    for rk in set(old) | set(new):
        after = new.get(rk, [])
        if rk not in old:  # nothing stored yet: every row is new (the bulk of a first load)
            if after:
                replace.append(rk)
                rows_out.extend({**r, **stamps} for r in after)
            continue
        before = {ident(r): r for r in old[rk]}
        unchanged = len(before) == len(after) and all(
            ident(r) in before and same(r, before[ident(r)], compare) for r in after
        )
        if unchanged:
            continue
        replace.append(rk)
        for r in after:
            prior = before.get(ident(r))
            if prior is not None and same(r, prior, compare):
                rows_out.append({**r, **{s: prior[s] for s in stamps}})
            else:
                rows_out.append({**r, **stamps})
    if replace:
        _replace(conn, wh, table, key_expr, replace)
    if rows_out:
        wh.bulk_insert(conn, table, pa.Table.from_pylist(rows_out, schema=schema))
    return len(replace)


def _replace(conn: Connection, wh: Warehouse, table: str, key_expr: str, keys: list[str]) -> None:
    """Delete the rows of these records (a record's row set is rewritten as a whole)."""
    conn.exec_driver_sql("DROP TABLE IF EXISTS _simpul_replace")
    conn.exec_driver_sql("CREATE TEMP TABLE _simpul_replace (_record_key VARCHAR)")
    wh.bulk_insert(conn, "_simpul_replace", pa.table({"_record_key": pa.array(keys, S)}))
    conn.exec_driver_sql(
        f"DELETE FROM {table} WHERE {key_expr} IN (SELECT _record_key FROM _simpul_replace)"
    )
    conn.exec_driver_sql("DROP TABLE _simpul_replace")
