"""The set-based path for records a new source joins: the survivorship of
:mod:`simpul.warehouse.survivorship` evaluated in SQL, for every such record at once.

When OpenSID or a SIAK export first delivers the residents SIAK already delivered, every one of
them has stored versions from other sources and a first version from the delivering one. The
per-record path (:func:`~simpul.warehouse.merge.versions.apply_dicts`) fetched each record's
versions, core, history and conflicts into Python and merged them record by record: most of a
demo's minute. Here the class of records whose versions are *one live version per source*
(nothing deleted, the delivering source new to the record) is merged by the engine:

* the merged record's *states* start at every distinct version time; a state holds every
  version from no later (one per source, so no source is superseded within the class);
* per state and column, the winner is the newest source with a value (ties: ``tie_break``,
  then the source name), or for a ``priority`` group the first listed source with a value in
  the group, then the newest other; the winner's value is kept, every other source's different
  value is a conflict, recorded once at its first state;
* history periods start where the tracked columns change; the core row is the last state.

Rows are then written as the per-record path writes them: a record whose rows did not change is
not rewritten, and an unchanged row keeps its load-time stamps. ``test_merge_joined`` compares
both paths on random versions, on both engines.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pyarrow as pa
from sqlalchemy.engine import Connection

from simpul.model import Entity
from simpul.warehouse.engine import Warehouse, qualified
from simpul.warehouse.engine import quote_ident as _q
from simpul.warehouse.merge.columnwise import store_versions
from simpul.warehouse.merge.keys import key_sql
from simpul.warehouse.merge.shapes import CONFLICTS, KEYS_TABLE, TRACKED, TS, S
from simpul.warehouse.pseudonym import hashing_key, value_hash
from simpul.warehouse.survivorship import EntityRules

JOIN_KEYS = "_simpul_join_keys"
VERSIONS = "_simpul_join_versions"
STATES = "_simpul_join_states"
MEMBERS = "_simpul_join_members"
MERGED = "_simpul_join_merged"
NEW_CORE = "_simpul_join_core"
NEW_HISTORY = "_simpul_join_history"
NEW_CONFLICTS = "_simpul_join_conflicts"


def supported(ent: Entity) -> bool:
    """Text and date columns only: their SQL text equals :func:`canonical`, which the conflict
    hashes and the per-record comparisons use."""
    return all(
        pa.types.is_string(f.type) or pa.types.is_date32(f.type)
        for f in ent.schema
        if f.name != "updated_at"
    )


def _rank(values: list[str], column: str = "_source", other: str | None = None) -> str:
    """Each value's position in ``values`` (Python's order, not the database collation's);
    any other value gets ``other`` (default: one past the last)."""
    other = other or str(len(values))
    if not values:
        return other
    quoted = [v.replace("'", "''") for v in values]
    whens = " ".join(f"WHEN '{v}' THEN {i}" for i, v in enumerate(quoted))
    return f"CASE {column} {whens} ELSE {other} END"


def join_sources(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    rows: pa.Table,
    keys: pa.Array,
    *,
    rules: EntityRules,
    load_id: str,
    now: datetime,
) -> int:
    """Store the incoming versions of records a new source joins and recompute their core row,
    history and conflicts in SQL; returns the number of core rows rewritten."""
    wh.bulk_insert(conn, KEYS_TABLE, pa.table({"_record_key": keys}))
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {JOIN_KEYS}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {JOIN_KEYS} (_record_key VARCHAR)")
    wh.bulk_insert(conn, JOIN_KEYS, pa.table({"_record_key": keys}))
    store_versions(conn, wh, ent, rows, now)
    data_cols = [c for c in ent.column_names if c not in ent.key and c != "updated_at"]
    _states(conn, ent, rules)
    _merged(conn, ent, rules, data_cols)
    merged = _write_core(conn, ent, data_cols, now)
    _write_history(conn, ent, now)
    _write_conflicts(conn, wh, ent, data_cols, load_id, now)
    for t in (JOIN_KEYS, VERSIONS, STATES, MEMBERS, MERGED):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}")
    return merged


def _as(conn: Connection, name: str, select: str) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {name} AS {select}")


def _states(conn: Connection, ent: Entity, rules: EntityRules) -> None:
    """Every version of the records (stored and incoming), the states they start, and each
    state's members ranked newest first."""
    t_versions = qualified("core", f"{ent.name}_versions")
    sources = sorted(
        r[0]
        for r in conn.exec_driver_sql(
            f"SELECT DISTINCT v._source FROM {t_versions} v "
            f"WHERE {key_sql(ent, 'v')} IN (SELECT _record_key FROM {JOIN_KEYS})"
        )
    )
    tie = list(rules.tie_break)
    _as(
        conn,
        VERSIONS,
        f"SELECT {key_sql(ent, 'v')} AS _rk, v.*, "
        f"COALESCE(v.updated_at, v._extracted_at) AS _at, "
        f"{_rank(sources, 'v._source')} AS _srank, {_rank(tie, 'v._source')} AS _tie "
        f"FROM {t_versions} v WHERE {key_sql(ent, 'v')} IN (SELECT _record_key FROM {JOIN_KEYS})",
    )
    # a state starts at each distinct time; its lineage is the first version starting then
    # (versions ordered by time, then source)
    _as(
        conn,
        STATES,
        "SELECT _rk, _at AS _state_at, _source AS _l_source, _load_id AS _l_load_id, "
        "_extracted_at AS _l_extracted_at FROM (SELECT _rk, _at, _source, _load_id, "
        "_extracted_at, row_number() OVER (PARTITION BY _rk, _at ORDER BY _srank) AS _n "
        f"FROM {VERSIONS}) x WHERE _n = 1",
    )
    cols = ", ".join(f"v.{_q(c)}" for c in ent.column_names)
    _as(
        conn,
        MEMBERS,
        f"SELECT s._rk, s._state_at, v._source, v._srank, {cols}, "
        "row_number() OVER (PARTITION BY s._rk, s._state_at "
        "ORDER BY v._at DESC, v._tie, v._srank) AS _ord "
        f"FROM {STATES} s JOIN {VERSIONS} v ON v._rk = s._rk AND v._at <= s._state_at",
    )


def _first(expr: str, order: str, where: str) -> str:
    """The first ``expr`` by ``order`` among the rows where ``where`` (NULL if none)."""
    return f"(array_agg({expr} ORDER BY {order}) FILTER (WHERE {where}))[1]"


def _merged(conn: Connection, ent: Entity, rules: EntityRules, data_cols: list[str]) -> None:
    """Per state: every column's value and winning source (``_w_<column>``)."""
    grouped = {c: g for g in rules.groups.values() for c in g.columns if c in data_cols}
    aggs: list[str] = []
    for c in data_cols:
        if c in grouped:
            continue
        aggs.append(f"{_first(_q(c), '_ord', f'{_q(c)} IS NOT NULL')} AS {_q(c)}")
        aggs.append(f"{_first('_source', '_ord', f'{_q(c)} IS NOT NULL')} AS {_q('_w_' + c)}")
    groups = [(n, g) for n, g in rules.groups.items() if any(c in data_cols for c in g.columns)]
    for name, g in groups:
        cols = [c for c in g.columns if c in data_cols]
        order = _rank(g.sources, other="1000 + _ord")
        has = " OR ".join(f"{_q(c)} IS NOT NULL" for c in cols)
        aggs.append(f"{_first('_source', order, has)} AS {_q('_g_' + name)}")
    _as(
        conn,
        "_simpul_join_winners",
        f"SELECT _rk, _state_at, {', '.join(aggs)} FROM {MEMBERS} GROUP BY _rk, _state_at",
    )
    select = ["w.*"]
    joins = []
    for i, (name, g) in enumerate(groups):
        alias = f"g{i}"
        for c in g.columns:
            if c in data_cols:
                select.append(f"{alias}.{_q(c)} AS {_q(c)}")
                select.append(f"w.{_q('_g_' + name)} AS {_q('_w_' + c)}")
        joins.append(
            f"LEFT JOIN {MEMBERS} {alias} ON {alias}._rk = w._rk "
            f"AND {alias}._state_at = w._state_at AND {alias}._source = w.{_q('_g_' + name)}"
        )
    _as(
        conn,
        MERGED,
        f"SELECT {', '.join(select)}, s._l_source, s._l_load_id, s._l_extracted_at, "
        "row_number() OVER (PARTITION BY w._rk ORDER BY w._state_at) AS _n, "
        "count(*) OVER (PARTITION BY w._rk) AS _states "
        f"FROM _simpul_join_winners w JOIN {STATES} s "
        f"ON s._rk = w._rk AND s._state_at = w._state_at {' '.join(joins)}",
    )
    conn.exec_driver_sql("DROP TABLE _simpul_join_winners")


def _write_core(conn: Connection, ent: Entity, data_cols: list[str], now: datetime) -> int:
    """The last state of each record as its core row."""
    t_core = qualified("core", ent.name)
    keys = [f"v.{_q(k)}" for k in ent.key]
    select = (
        [f"{k} AS {_q(c)}" for k, c in zip(keys, ent.key, strict=True)]
        + [f"m.{_q(c)}" for c in data_cols]
        + ["m._state_at AS updated_at", "m._l_load_id AS _load_id", "m._l_source AS _source"]
        + ["m._l_extracted_at AS _extracted_at"]
    )
    _as(
        conn,
        NEW_CORE,
        f"SELECT m._rk, {', '.join(select)}, {_stamp(now)} AS _merged_at, "
        f"CAST(NULL AS TIMESTAMPTZ) AS _deleted_at FROM {MERGED} m JOIN {_key_values(ent)} v "
        "ON v._rk = m._rk WHERE m._n = m._states",
    )
    return _sync(conn, t_core, lambda a: key_sql(ent, a), NEW_CORE, ["_merged_at"])


def _stamp(now: datetime) -> str:
    return f"CAST('{now.isoformat()}' AS TIMESTAMPTZ)"


def _key_values(ent: Entity) -> str:
    """The key columns of each record (from its versions)."""
    return f"(SELECT DISTINCT _rk, {', '.join(_q(k) for k in ent.key)} FROM {VERSIONS})"


def _write_history(conn: Connection, ent: Entity, now: datetime) -> None:
    """SCD2 periods: a new one at each state whose tracked columns differ from the state
    before (the first state always opens one)."""
    tracked = TRACKED[ent.name]
    moved = " OR ".join(f"m.{_q(c)} IS DISTINCT FROM p.{_q(c)}" for c in tracked)
    keys = ", ".join(f"v.{_q(k)}" for k in ent.key)
    _as(
        conn,
        "_simpul_join_runs",
        f"SELECT m.* FROM {MERGED} m LEFT JOIN {MERGED} p ON p._rk = m._rk AND p._n = m._n - 1 "
        f"WHERE m._n = 1 OR {moved}",
    )
    cols = ", ".join(f"r.{_q(c)}" for c in tracked)
    _as(
        conn,
        NEW_HISTORY,
        f"SELECT r._rk, {keys}, r._state_at AS valid_from, "
        "lead(r._state_at) OVER (PARTITION BY r._rk ORDER BY r._state_at) AS valid_to, "
        "lead(r._state_at) OVER (PARTITION BY r._rk ORDER BY r._state_at) IS NULL AS is_current, "
        f"{cols}, r._l_source AS _source, r._l_load_id AS _load_id, "
        f"{_stamp(now)} AS _recorded_at "
        f"FROM _simpul_join_runs r JOIN {_key_values(ent)} v ON v._rk = r._rk",
    )
    conn.exec_driver_sql("DROP TABLE _simpul_join_runs")
    _sync(
        conn, qualified("core", f"{ent.name}_history"), lambda a: key_sql(ent, a), NEW_HISTORY,
        ["_recorded_at"],
    )  # fmt: skip


def _write_conflicts(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    data_cols: list[str],
    load_id: str,
    now: datetime,
) -> None:
    """Every other source's different value, per column, once at its first state; values
    only as keyed hashes (computed here, on the distinct disagreements)."""
    parts = [
        f"SELECT n._rk, '{c}' AS column_name, n._state_at, m.{_q('_w_' + c)} AS kept_source, "
        f"CAST(m.{_q(c)} AS VARCHAR) AS kept, n._source AS rejected_source, "
        f"CAST(n.{_q(c)} AS VARCHAR) AS rejected FROM {MEMBERS} n JOIN {MERGED} m "
        f"ON m._rk = n._rk AND m._state_at = n._state_at "
        f"WHERE n._source <> m.{_q('_w_' + c)} AND n.{_q(c)} IS NOT NULL "
        f"AND n.{_q(c)} IS DISTINCT FROM m.{_q(c)}"
        for c in data_cols
    ]
    rows = conn.exec_driver_sql(
        "SELECT _rk, column_name, min(_state_at), kept_source, kept, rejected_source, rejected "
        f"FROM ({' UNION ALL '.join(parts)}) x "
        "GROUP BY _rk, column_name, kept_source, kept, rejected_source, rejected"
    ).all()
    key = hashing_key()
    table = pa.table(
        {
            "_rk": pa.array([r[0] for r in rows], S),
            "entity": pa.array([ent.name] * len(rows), S),
            "record_key": pa.array([r[0] for r in rows], S),
            "column_name": pa.array([r[1] for r in rows], S),
            "observed_at": pa.array([r[2] for r in rows], TS),
            "kept_source": pa.array([r[3] for r in rows], S),
            "kept_hash": pa.array([value_hash(r[1], r[4], key) for r in rows], S),
            "rejected_source": pa.array([r[5] for r in rows], S),
            "rejected_hash": pa.array([value_hash(r[1], r[6], key) for r in rows], S),
            "load_id": pa.array([load_id] * len(rows), S),
            "detected_at": pa.array([now] * len(rows), TS),
        }
    )
    cols = ", ".join(_q(c) for c in CONFLICTS.names)
    _as(
        conn,
        NEW_CONFLICTS,
        f"SELECT CAST(NULL AS VARCHAR) AS _rk, {cols} FROM ops.merge_conflicts LIMIT 0",
    )
    wh.bulk_insert(conn, NEW_CONFLICTS, table)
    _sync(
        conn, "ops.merge_conflicts", lambda a: f"{a}.record_key", NEW_CONFLICTS,
        ["load_id", "detected_at"], lambda a: f" AND {a}.entity = '{ent.name}'",
    )  # fmt: skip


def _sync(
    conn: Connection,
    table: str,
    key: Callable[[str], str],
    new: str,
    stamps: list[str],
    where: Callable[[str], str] = lambda _alias: "",
) -> int:
    """Rewrite the rows of the records (``JOIN_KEYS``) whose rows differ from ``new``'s (a
    temp table: ``_rk`` and the target's columns); a new row equal to a stored one keeps the
    stored row's ``stamps``. Returns the number of records rewritten."""
    cols = list(conn.exec_driver_sql(f"SELECT * FROM {new} LIMIT 0").keys())[1:]
    compare = [c for c in cols if c not in stamps]
    conn.exec_driver_sql(f"ALTER TABLE {new} ADD COLUMN _matched BOOLEAN DEFAULT false")
    same = " AND ".join(f"o.{_q(c)} IS NOT DISTINCT FROM n.{_q(c)}" for c in compare)
    sets = ", ".join(f"{_q(s)} = o.{_q(s)}" for s in stamps)
    conn.exec_driver_sql(
        f"UPDATE {new} AS n SET _matched = true, {sets} FROM {table} o "
        f"WHERE {key('o')} = n._rk{where('o')} AND {same}"
    )
    stored = f"SELECT {key('o')} AS _rk FROM {table} o WHERE {key('o')} IN "
    stored += f"(SELECT _record_key FROM {JOIN_KEYS}){where('o')}"
    _as(
        conn,
        "_simpul_join_changed",
        f"SELECT k._record_key AS _rk FROM {JOIN_KEYS} k "
        f"LEFT JOIN (SELECT _rk, count(*) AS n, sum(CASE WHEN _matched THEN 1 ELSE 0 END) AS m "
        f"FROM {new} GROUP BY _rk) a ON a._rk = k._record_key "
        f"LEFT JOIN (SELECT _rk, count(*) AS n FROM ({stored}) s GROUP BY _rk) b "
        "ON b._rk = k._record_key "
        "WHERE COALESCE(a.n, 0) <> COALESCE(b.n, 0) OR COALESCE(a.m, 0) <> COALESCE(a.n, 0)",
    )
    changed = conn.exec_driver_sql("SELECT count(*) FROM _simpul_join_changed").scalar() or 0
    if changed:
        conn.exec_driver_sql(
            f"DELETE FROM {table} WHERE {key(table)} IN "
            f"(SELECT _rk FROM _simpul_join_changed){where(table)}"
        )
        names = ", ".join(_q(c) for c in cols)
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {new} "
            "WHERE _rk IN (SELECT _rk FROM _simpul_join_changed)"
        )
    conn.exec_driver_sql("DROP TABLE _simpul_join_changed")
    conn.exec_driver_sql(f"DROP TABLE {new}")
    return int(changed)
