"""Merging source versions into core: the current record, its SCD2 history and the conflicts.

Every distinct version a source delivers is kept in ``core.<entity>_versions``. For each record a
delivery touches, the current row, the history and the conflicts are recomputed from that set
(see :mod:`simpul.warehouse.survivorship`) and only rows that differ are rewritten. So the result
depends on which versions arrived, never on the order or how often, and an unchanged record
keeps its load-time stamps (``_merged_at``, ``_recorded_at``). All of it runs inside the
caller's transaction, together with the rest of the delivery.

Entities without history (keluarga, peristiwa, izin, ...) take the simpler :func:`upsert`: one
current row per natural key, the newest ``updated_at`` wins, equal content is left untouched.
"""

from __future__ import annotations

import hashlib
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.model import LINEAGE, Entity
from simpul.model import entity as get_entity
from simpul.warehouse.engine import Warehouse, qualified, quote_ident
from simpul.warehouse.pseudonym import canonical, hashing_key, value_hash
from simpul.warehouse.survivorship import EntityRules, Version, last_known, load_rules, timeline

# Columns whose changes open a new history row; others are kept as of the latest version.
TRACKED: dict[str, tuple[str, ...]] = {
    "penduduk": (
        "no_kk",
        "kode_desa",
        "dusun",
        "rw",
        "rt",
        "alamat",
        "status_perkawinan",
        "shdk",
        "status_dasar",
        "pendidikan",
        "pekerjaan",
    ),
}

TS = pa.timestamp("us", tz="UTC")
S = pa.string()
VERSION_EXTRA = pa.schema(
    [
        pa.field("_last_seen_at", TS),
        pa.field("_row_hash", S),
        pa.field("_deleted", pa.bool_()),
        pa.field("_recorded_at", TS),
    ]
)
CONFLICTS = pa.schema(
    [
        pa.field("entity", S),
        pa.field("record_key", S),
        pa.field("column_name", S),
        pa.field("observed_at", TS),
        pa.field("kept_source", S),
        pa.field("kept_hash", S),
        pa.field("rejected_source", S),
        pa.field("rejected_hash", S),
        pa.field("load_id", S),
        pa.field("detected_at", TS),
    ]
)
KEYS_TABLE = "_simpul_keys"


def versions_schema(ent: Entity) -> pa.Schema:
    return pa.schema(list(ent.schema) + list(LINEAGE) + list(VERSION_EXTRA))


def core_schema(ent: Entity) -> pa.Schema:
    return pa.schema(
        list(ent.schema) + list(LINEAGE) + [pa.field("_merged_at", TS), pa.field("_deleted_at", TS)]
    )


def history_schema(ent: Entity) -> pa.Schema:
    types = {f.name: f.type for f in ent.schema}
    return pa.schema(
        [pa.field(k, types[k]) for k in ent.key]
        + [pa.field("valid_from", TS), pa.field("valid_to", TS), pa.field("is_current", pa.bool_())]
        + [pa.field(c, types[c]) for c in TRACKED[ent.name]]
        + [pa.field("_source", S), pa.field("_load_id", S), pa.field("_recorded_at", TS)]
    )


def record_key(ent: Entity, row: dict[str, Any]) -> str:
    return "|".join(str(row[k]) for k in ent.key)


def _key_sql(ent: Entity, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    parts = [f"{prefix}{quote_ident(k)}" for k in ent.key]
    return parts[0] if len(parts) == 1 else " || '|' || ".join(parts)


def row_hash(ent: Entity, row: dict[str, Any], deleted: bool) -> str:
    """Identity of a version's content (key and updated_at are part of the version id)."""
    skip = set(ent.key) | {"updated_at"}
    text = "\x1f".join(
        "\x00" if (v := canonical(row.get(c))) is None else v
        for c in ent.column_names
        if c not in skip
    )
    return hashlib.sha256(f"{int(deleted)}\x1e{text}".encode()).hexdigest()[:32]


def _row_hashes(ent: Entity, rows: pa.Table) -> pa.Array | None:
    """:func:`row_hash` of every (not deleted) row, the text built by Arrow and hashed by an
    in-memory DuckDB (its ``sha256`` is the same SHA-256 of the same UTF-8 bytes, so the
    hashes stored by earlier versions stay valid; ``test_merge_paths`` compares the two).

    Only for text and date columns, whose Arrow string cast equals :func:`canonical` (``str`` /
    ``date.isoformat``); None for any other type (the caller falls back to :func:`row_hash`).
    """
    skip = set(ent.key) | {"updated_at"}
    parts = []
    for c in ent.column_names:
        if c in skip:
            continue
        col = rows.column(c)
        t = col.type
        if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_date32(t)):
            return None
        parts.append(pc.fill_null(col.cast(pa.string()), "\x00"))
    if not parts:
        return None
    text = pc.binary_join_element_wise(*parts, "\x1f")
    # a fresh DuckDB (and, on PostgreSQL, its import: 0.5 s) costs more than it saves on few rows
    if len(text) < (50_000 if "duckdb" in sys.modules else 300_000):
        sha = hashlib.sha256
        return pa.array([sha(f"0\x1e{t}".encode()).hexdigest()[:32] for t in text.to_pylist()], S)
    return _live_hashes(text)


def _live_hashes(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``sha256(f"0\\x1e{t}").hexdigest()[:32]`` of every value (a live version's hash text),
    computed by DuckDB in row order."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("_simpul_text", pa.table({"t": text}))
        out = con.sql(
            "SELECT left(sha256(concat('0', chr(30), t)), 32) AS h FROM _simpul_text"
        ).to_arrow_table()
    finally:
        con.close()
    return out.column("h").combine_chunks().cast(S)


def version_table(ent: Entity, rows: pa.Table) -> pa.Table:
    """Version records from mapped rows carrying lineage (``_load_id``, ``_source``, ...), as
    the Arrow table :func:`apply_versions` takes."""
    table = rows.select(ent.column_names + [f.name for f in LINEAGE])
    hashes = _row_hashes(ent, table)
    if hashes is None:
        hashes = [row_hash(ent, r, False) for r in table.to_pylist()]
    table = table.append_column("_last_seen_at", table.column("_extracted_at"))
    table = table.append_column(
        "_row_hash", hashes if isinstance(hashes, pa.Array) else pa.array(hashes, S)
    )
    return table.append_column("_deleted", pa.repeat(pa.scalar(False), table.num_rows))


def _combine(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two deliveries of the same version: lineage of the first extraction, last seen of the
    last. Both are order-free (min/max), which keeps reloads deterministic."""
    first = min(a, b, key=lambda r: (r["_extracted_at"], r["_load_id"]))
    out = dict(first)
    out["_last_seen_at"] = max(a["_last_seen_at"], b["_last_seen_at"])
    out["_recorded_at"] = a.get("_recorded_at") or b.get("_recorded_at")
    return out


def _version_id(ent: Entity, r: dict[str, Any]) -> tuple:
    return (record_key(ent, r), r["_source"], canonical(r["updated_at"]), r["_row_hash"])


def _fetch(conn: Connection, table: str, key_expr: str, extra: str = "") -> list[dict]:
    sql = f"SELECT * FROM {table} WHERE {key_expr} IN (SELECT _record_key FROM {KEYS_TABLE})"
    return [dict(r._mapping) for r in conn.execute(sa.text(sql + extra))]


def _as_utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _effective(ent: Entity, rows: list[dict[str, Any]]) -> list[Version]:
    """One version per (source, time): a source that re-sent a changed record without a new
    updated_at is taken at its most recently seen content. Missing updated_at = first seen."""
    best: dict[tuple[str, datetime], dict[str, Any]] = {}
    for r in rows:
        at = _as_utc(r["updated_at"] or r["_extracted_at"])
        k = (r["_source"], at)
        if k not in best or (r["_last_seen_at"], r["_row_hash"]) > (
            best[k]["_last_seen_at"],
            best[k]["_row_hash"],
        ):
            best[k] = r
    return [
        Version(
            source=src,
            at=at,
            values={c: r[c] for c in ent.column_names},
            deleted=bool(r["_deleted"]),
            load_id=r["_load_id"],
            extracted_at=r["_extracted_at"],
        )
        for (src, at), r in best.items()
    ]


def _derive(
    ent: Entity, rules: EntityRules, rk: str, rows: list[dict[str, Any]], key: bytes
) -> tuple[dict | None, list[dict], list[dict]]:
    """Core row, history rows and conflict rows of one record from its stored versions."""
    if len(rows) == 1 and not rows[0]["_deleted"]:
        return _derive_one(ent, rows[0])
    versions = _effective(ent, rows)
    data_cols = [c for c in ent.column_names if c not in ent.key and c != "updated_at"]
    states = timeline(rules, data_cols, versions)
    keyvals = {k: rows[0][k] for k in ent.key}
    tracked = TRACKED[ent.name]

    history: list[dict] = []
    prev: Any = object()
    runs: list[tuple[Any, Any]] = []
    for st in states:
        cur = None if st.values is None else tuple(canonical(st.values[c]) for c in tracked)
        if cur != prev:
            runs.append((st, cur))
            prev = cur
    for i, (st, cur) in enumerate(runs):
        if cur is None:
            continue
        valid_to = runs[i + 1][0].at if i + 1 < len(runs) else None
        history.append(
            {
                **keyvals,
                "valid_from": st.at,
                "valid_to": valid_to,
                "is_current": valid_to is None,
                **{c: st.values[c] for c in tracked},  # type: ignore[index]
                "_source": st.lineage.source,
                "_load_id": st.lineage.load_id,
            }
        )

    conflicts: dict[tuple, dict] = {}
    for st in states:
        for c in st.conflicts:
            row = {
                "entity": ent.name,
                "record_key": rk,
                "column_name": c.column,
                "kept_source": c.kept_source,
                "kept_hash": value_hash(c.column, c.kept_value, key),
                "rejected_source": c.rejected_source,
                "rejected_hash": value_hash(c.column, c.rejected_value, key),
            }
            ident = tuple(row.values())
            if ident not in conflicts:  # states are in time order: first sighting wins
                conflicts[ident] = {**row, "observed_at": st.at}

    final = states[-1] if states else None
    core: dict | None = None
    if final is not None:
        values = final.values
        deleted_at = None
        if values is None:
            values = last_known(rules, data_cols, versions)
            deleted_at = final.at
            for st in reversed(states):  # deleted since the start of the trailing deleted run
                if st.values is not None:
                    break
                deleted_at = st.at
        if values is not None:
            alive = [s for s in states if s.values is not None]
            core = {
                **keyvals,
                **values,
                "updated_at": alive[-1].at if alive else final.at,
                "_load_id": final.lineage.load_id,
                "_source": final.lineage.source,
                "_extracted_at": final.lineage.extracted_at,
                "_deleted_at": deleted_at,
            }
    return core, history, list(conflicts.values())


def _derive_one(ent: Entity, r: dict[str, Any]) -> tuple[dict | None, list[dict], list[dict]]:
    """:func:`_derive` of a record with one stored, live version (most records of a snapshot).

    One source and one time give one state whose values are the version's own (a single source
    conflicts with nobody and is the winner of every column it fills), hence one current
    history period and no conflicts: the same rows the general path builds, without it.
    """
    at = _as_utc(r["updated_at"] or r["_extracted_at"])
    keyvals = {k: r[k] for k in ent.key}
    values = {c: r[c] for c in ent.column_names if c not in ent.key and c != "updated_at"}
    history = {
        **keyvals,
        "valid_from": at,
        "valid_to": None,
        "is_current": True,
        **{c: values[c] for c in TRACKED[ent.name]},
        "_source": r["_source"],
        "_load_id": r["_load_id"],
    }
    core = {
        **keyvals,
        **values,
        "updated_at": at,
        "_load_id": r["_load_id"],
        "_source": r["_source"],
        "_extracted_at": r["_extracted_at"],
        "_deleted_at": None,
    }
    return core, [history], []


def _same(a: dict, b: dict, cols: Iterable[str]) -> bool:
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


def _sync(
    conn: Connection,
    wh: Warehouse,
    table: str,
    key_expr: str,
    schema: pa.Schema,
    old: dict[str, list[dict]],
    new: dict[str, list[dict]],
    ident: Callable[[dict], tuple],
    stamps: dict[str, Any],
) -> int:
    """Rewrite the rows of the records whose rows changed; unchanged rows keep their stamps.

    ``stamps`` are load-time columns (set to the given value on new or changed rows only).
    """
    compare = [f.name for f in schema if f.name not in stamps]
    replace: list[str] = []
    rows_out: list[dict] = []
    for rk in set(old) | set(new):
        after = new.get(rk, [])
        if rk not in old:  # nothing stored yet: every row is new (the bulk of a first load)
            if after:
                replace.append(rk)
                rows_out.extend({**r, **stamps} for r in after)
            continue
        before = {ident(r): r for r in old[rk]}
        unchanged = len(before) == len(after) and all(
            ident(r) in before and _same(r, before[ident(r)], compare) for r in after
        )
        if unchanged:
            continue
        replace.append(rk)
        for r in after:
            prior = before.get(ident(r))
            same = prior is not None and _same(r, prior, compare)
            rows_out.append({**r, **{s: (prior[s] if same else v) for s, v in stamps.items()}})
    if not replace:
        return 0
    conn.exec_driver_sql("DROP TABLE IF EXISTS _simpul_replace")
    conn.exec_driver_sql("CREATE TEMP TABLE _simpul_replace (_record_key VARCHAR)")
    wh.bulk_insert(conn, "_simpul_replace", pa.table({"_record_key": pa.array(replace, S)}))
    conn.exec_driver_sql(
        f"DELETE FROM {table} WHERE {key_expr} IN (SELECT _record_key FROM _simpul_replace)"
    )
    conn.exec_driver_sql("DROP TABLE _simpul_replace")
    if rows_out:
        wh.bulk_insert(conn, table, pa.Table.from_pylist(rows_out, schema=schema))
    return len(replace)


def _group(ent: Entity, rows: Iterable[dict], by: Callable[[dict], str] | None = None) -> dict:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[by(r) if by else record_key(ent, r)].append(r)
    return out


def apply_versions(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    incoming: list[dict[str, Any]] | pa.Table,
    *,
    load_id: str,
    now: datetime,
    rules: EntityRules | None = None,
) -> int:
    """Store new versions and recompute the records they touch; returns core rows written.

    Leaves the temp table ``_simpul_keys`` (column ``_record_key``) for the caller's follow-up
    statements within the same transaction.
    """
    rules = rules or load_rules().for_entity(ent.name)
    if isinstance(incoming, pa.Table):
        return _apply_table(conn, wh, ent, incoming, load_id=load_id, now=now, rules=rules)
    keys = sorted({record_key(ent, r) for r in incoming})
    _key_table(conn, wh, keys)
    if not keys:
        return 0
    return _apply_dicts(conn, wh, ent, incoming, load_id=load_id, now=now, rules=rules)


def _key_table(conn: Connection, wh: Warehouse, keys: list[str] | pa.Array) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {KEYS_TABLE}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {KEYS_TABLE} (_record_key VARCHAR)")
    wh.bulk_insert(conn, KEYS_TABLE, pa.table({"_record_key": pa.array(keys, S)}))


def _record_keys(ent: Entity, table: pa.Table) -> pa.Array:
    """:func:`record_key` of every row, computed by Arrow."""
    parts = [table.column(k).cast(S) for k in ent.key]
    if len(parts) == 1:
        return pc.fill_null(parts[0], "None").combine_chunks()
    filled = [pc.fill_null(p, "None") for p in parts]
    return pc.binary_join_element_wise(*filled, "|").combine_chunks()


INCOMING_TABLE = "_simpul_incoming"


def _repeated(keys: pa.Array) -> pa.Array:
    """The keys that occur more than once in ``keys``."""
    counts = pc.value_counts(keys)
    return pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1)).cast(S)


def _first_seen(keys: pa.Array, stored: list[str], repeated: pa.Array) -> pa.Array:
    """Mask of the rows whose key is neither stored yet nor repeated in the delivery."""
    known = pa.concat_arrays([pa.array(stored, S), repeated])
    return pc.invert(pc.is_in(keys, value_set=known))


def _apply_table(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    incoming: pa.Table,
    *,
    load_id: str,
    now: datetime,
    rules: EntityRules,
) -> int:
    """:func:`apply_versions` of a delivery's versions as Arrow, in three classes of record.

    * *new*: no stored version and one incoming version (every record of a first snapshot):
      its one state is the version itself, so the version, core and history rows are built
      column-wise by Arrow and bulk-inserted;
    * *seen*: one stored live version equal to the incoming one (every unchanged record of a
      repeated full snapshot): only the version's ``_last_seen_at`` moves, in one UPDATE;
    * everything else (changes, several sources, deletions) goes through the per-record
      survivorship of :func:`_apply_dicts`.

    The three give exactly the rows the per-record path gives for the same input
    (``tests/simpul/warehouse/test_merge_paths.py``); only the per-record class costs Python
    per row, and only it is turned into dicts.
    """
    if incoming.num_rows == 0:
        _key_table(conn, wh, [])
        return 0
    keys = _record_keys(ent, incoming)
    t_versions = qualified("core", f"{ent.name}_versions")
    kx = _key_sql(ent, "v")
    # a first load (nothing stored yet) needs no comparison with stored versions
    anything = conn.exec_driver_sql(f"SELECT 1 FROM {t_versions} LIMIT 1").first()
    stored: list = []
    if anything is not None:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {INCOMING_TABLE}")
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {INCOMING_TABLE} (_record_key VARCHAR, _source VARCHAR, "
            "updated_at TIMESTAMP WITH TIME ZONE, _row_hash VARCHAR, "
            "_extracted_at TIMESTAMP WITH TIME ZONE, _load_id VARCHAR, "
            "_last_seen_at TIMESTAMP WITH TIME ZONE)"
        )
        wh.bulk_insert(
            conn,
            INCOMING_TABLE,
            pa.table(
                {
                    "_record_key": keys,
                    **{
                        c: incoming.column(c)
                        for c in (
                            "_source",
                            "updated_at",
                            "_row_hash",
                            "_extracted_at",
                            "_load_id",
                            "_last_seen_at",
                        )
                    },  # fmt: skip
                }
            ),
        )
        # per stored record: how many versions, and whether the one incoming version is the
        # stored one, first extracted no later (so its lineage stays) and not a deletion
        stored = conn.execute(
            sa.text(
                f"SELECT i._record_key, count(*) AS n, "
                f"max(CASE WHEN v._source = i._source "
                f"AND v.updated_at IS NOT DISTINCT FROM i.updated_at "
                f"AND v._row_hash = i._row_hash AND NOT v._deleted "
                f"AND (v._extracted_at < i._extracted_at OR (v._extracted_at = i._extracted_at "
                f"AND v._load_id <= i._load_id)) THEN 1 ELSE 0 END) AS same "
                f"FROM {t_versions} v JOIN {INCOMING_TABLE} i ON {kx} = i._record_key "
                f"GROUP BY i._record_key"
            )
        ).all()
    repeated = _repeated(keys)
    multi = set(repeated.to_pylist())
    seen = [r[0] for r in stored if r[1] == 1 and r[2] == 1 and r[0] not in multi]
    is_new = _first_seen(keys, [r[0] for r in stored], repeated)
    seen_arr = pa.array(seen, S)
    is_other = pc.invert(pc.or_(is_new, pc.is_in(keys, value_set=seen_arr)))

    other = incoming.filter(is_other)
    other_keys = sorted(set(pc.filter(keys, is_other).to_pylist()))
    _key_table(conn, wh, other_keys)
    merged = 0
    if other_keys:
        merged = _apply_dicts(
            conn, wh, ent, other.to_pylist(), load_id=load_id, now=now, rules=rules
        )
    if seen:
        conn.exec_driver_sql("DROP TABLE IF EXISTS _simpul_seen")
        conn.exec_driver_sql("CREATE TEMP TABLE _simpul_seen (_record_key VARCHAR)")
        wh.bulk_insert(conn, "_simpul_seen", pa.table({"_record_key": seen_arr}))
        conn.execute(
            sa.text(
                f"UPDATE {t_versions} AS v "
                f"SET _last_seen_at = i._last_seen_at, _recorded_at = :now "
                f"FROM (SELECT n.* FROM {INCOMING_TABLE} n JOIN _simpul_seen s "
                f"ON n._record_key = s._record_key) i "
                f"WHERE {kx} = i._record_key AND i._last_seen_at > v._last_seen_at"
            ),
            {"now": now},
        )
        conn.exec_driver_sql("DROP TABLE _simpul_seen")
        wh.bulk_insert(conn, KEYS_TABLE, pa.table({"_record_key": seen_arr}))
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {INCOMING_TABLE}")
    new = incoming.filter(is_new)
    if new.num_rows:
        wh.bulk_insert(conn, KEYS_TABLE, pa.table({"_record_key": pc.filter(keys, is_new)}))
        merged += _insert_new(conn, wh, ent, new, now)
    return merged


def _insert_new(conn: Connection, wh: Warehouse, ent: Entity, new: pa.Table, now: datetime) -> int:
    """Version, core and history rows of records seen for the first time: what
    :func:`_derive_one` builds per record, built per column."""
    n = new.num_rows
    stamp = pa.repeat(pa.scalar(now, TS), n)
    at = pc.coalesce(new.column("updated_at"), new.column("_extracted_at"))
    versions = new.append_column("_recorded_at", stamp)
    wh.bulk_insert(conn, qualified("core", f"{ent.name}_versions"), versions)
    core = {c: new.column(c) for c in ent.column_names}
    core["updated_at"] = at
    core.update({f.name: new.column(f.name) for f in LINEAGE})
    core["_merged_at"] = stamp
    core["_deleted_at"] = pa.nulls(n, TS)
    wh.bulk_insert(conn, qualified("core", ent.name), pa.table(core, schema=core_schema(ent)))
    history = {k: new.column(k) for k in ent.key}
    history.update(valid_from=at, valid_to=pa.nulls(n, TS), is_current=pa.repeat(True, n))
    history.update({c: new.column(c) for c in TRACKED[ent.name]})
    history.update(
        _source=new.column("_source"), _load_id=new.column("_load_id"), _recorded_at=stamp
    )
    wh.bulk_insert(
        conn,
        qualified("core", f"{ent.name}_history"),
        pa.table(history, schema=history_schema(ent)),
    )
    return n


def _apply_dicts(
    conn: Connection,
    wh: Warehouse,
    ent: Entity,
    incoming: list[dict[str, Any]],
    *,
    load_id: str,
    now: datetime,
    rules: EntityRules,
) -> int:
    """The per-record path: ``_simpul_keys`` holds exactly the keys of ``incoming``."""
    t_versions = qualified("core", f"{ent.name}_versions")
    t_core = qualified("core", ent.name)
    t_history = qualified("core", f"{ent.name}_history")
    kx = _key_sql(ent)

    old_versions = _fetch(conn, t_versions, kx)
    stored: dict[tuple, dict] = {_version_id(ent, r): r for r in old_versions}
    for r in incoming:
        vid = _version_id(ent, r)
        stored[vid] = _combine(stored[vid], r) if vid in stored else r
    versions = _group(ent, stored.values())

    key = hashing_key()
    new_core: dict[str, list[dict]] = {}
    new_history: dict[str, list[dict]] = {}
    new_conflicts: dict[str, list[dict]] = {}
    for rk, rows in versions.items():
        core, history, conflicts = _derive(ent, rules, rk, rows, key)
        new_core[rk] = [core] if core else []
        new_history[rk] = history
        new_conflicts[rk] = conflicts

    def vid_of(r: dict) -> tuple:
        return _version_id(ent, r)

    _sync(
        conn, wh, t_versions, kx, versions_schema(ent), _group(ent, old_versions), versions,
        vid_of, {"_recorded_at": now},
    )  # fmt: skip
    merged = _sync(
        conn, wh, t_core, kx, core_schema(ent), _group(ent, _fetch(conn, t_core, kx)), new_core,
        lambda r: (record_key(ent, r),), {"_merged_at": now},
    )  # fmt: skip
    _sync(
        conn, wh, t_history, kx, history_schema(ent), _group(ent, _fetch(conn, t_history, kx)),
        new_history, lambda r: (canonical(_as_utc(r["valid_from"])),), {"_recorded_at": now},
    )  # fmt: skip
    old_conflicts = _fetch(conn, "ops.merge_conflicts", "record_key", f" AND entity = '{ent.name}'")
    _sync(
        conn, wh, "ops.merge_conflicts", f"entity = '{ent.name}' AND record_key",
        CONFLICTS, _group(ent, old_conflicts, lambda r: r["record_key"]), new_conflicts,
        lambda r: tuple(canonical(r[c]) for c in CONFLICTS.names[:8] if c != "observed_at"),
        {"load_id": load_id, "detected_at": now},
    )  # fmt: skip
    return merged


def has_history(ent: Entity) -> bool:
    """Whether the entity is merged through versions/history (penduduk) or by :func:`upsert`."""
    return ent.name in TRACKED


def upsert_schema(ent: Entity) -> pa.Schema:
    return pa.schema(list(ent.schema) + list(LINEAGE) + [pa.field("_merged_at", TS)])


def _order(ent: Entity, r: dict[str, Any]) -> tuple:
    """Which of two rows of one key is newer: source time (else extraction time), then the
    later extraction (a source that re-sent a record without a new updated_at), then content
    (only to make the choice independent of load order)."""
    at = _as_utc(r["updated_at"] or r["_extracted_at"])
    return (at, _as_utc(r["_extracted_at"]), row_hash(ent, r, False))


def upsert(conn: Connection, wh: Warehouse, ent: Entity, rows: pa.Table, *, now: datetime) -> int:
    """Merge valid rows (with lineage) into ``core.<entity>`` by natural key; returns rows
    written. An older or identical row changes nothing, so reloads and replays are no-ops and
    ``_merged_at`` says when a record last really changed.

    Like :func:`apply_versions`, leaves the temp table ``_simpul_keys`` for the caller.
    """
    table = rows.select(ent.column_names + [f.name for f in LINEAGE])
    keys = _record_keys(ent, table)
    _key_table(conn, wh, pc.unique(keys))
    if table.num_rows == 0:
        return 0
    t_core = qualified("core", ent.name)
    kx = _key_sql(ent)
    # records not stored yet and delivered once (a first load, mostly) go straight in
    stored = conn.exec_driver_sql(
        f"SELECT k._record_key FROM {KEYS_TABLE} k WHERE k._record_key IN "
        f"(SELECT {kx} FROM {t_core})"
    ).all()
    is_new = _first_seen(keys, [r[0] for r in stored], _repeated(keys))
    new = table.filter(is_new)
    written = 0
    if new.num_rows:
        written = wh.bulk_insert(
            conn,
            t_core,
            new.append_column("_merged_at", pa.repeat(pa.scalar(now, TS), new.num_rows)),
        )
    best: dict[str, dict[str, Any]] = {}
    for r in table.filter(pc.invert(is_new)).to_pylist():
        rk = record_key(ent, r)
        if rk not in best or _order(ent, r) > _order(ent, best[rk]):
            best[rk] = r
    if not best:
        return written
    existing = {record_key(ent, r): r for r in _fetch(conn, t_core, kx)}
    out: list[dict[str, Any]] = []
    for rk, r in best.items():
        old = existing.get(rk)
        if old is not None and (
            _order(ent, r) <= _order(ent, old) or _same(r, old, ent.column_names)
        ):
            continue
        out.append({**r, "_merged_at": now})
    if not out:
        return written
    conn.exec_driver_sql("DROP TABLE IF EXISTS _simpul_replace")
    conn.exec_driver_sql("CREATE TEMP TABLE _simpul_replace (_record_key VARCHAR)")
    replace = pa.array([record_key(ent, r) for r in out], S)
    wh.bulk_insert(conn, "_simpul_replace", pa.table({"_record_key": replace}))
    conn.exec_driver_sql(
        f"DELETE FROM {t_core} WHERE {kx} IN (SELECT _record_key FROM _simpul_replace)"
    )
    conn.exec_driver_sql("DROP TABLE _simpul_replace")
    wh.bulk_insert(conn, t_core, pa.Table.from_pylist(out, schema=upsert_schema(ent)))
    return written + len(out)


def tombstones(
    ent: Entity, keys: Iterable[str | tuple], source: str, load_id: str, deleted_at: datetime
) -> list[dict[str, Any]]:
    """Deletion versions: the source no longer has these records from ``deleted_at`` on."""
    out = []
    for k in dict.fromkeys(keys):
        parts = k if isinstance(k, tuple) else (k,)
        if len(parts) != len(ent.key):
            raise ValueError(f"{ent.name}: a key has {len(ent.key)} part(s)")
        r: dict[str, Any] = {c: None for c in ent.column_names}
        r.update(dict(zip(ent.key, parts, strict=True)))
        r.update(
            updated_at=deleted_at,
            _load_id=load_id,
            _source=source,
            _extracted_at=deleted_at,
            _last_seen_at=deleted_at,
            _deleted=True,
        )
        r["_row_hash"] = row_hash(ent, r, True)
        out.append(r)
    return out


def soft_delete(
    wh: Warehouse,
    entity: str,
    keys: Iterable[str | tuple],
    source: str,
    load_id: str,
    deleted_at: datetime | dict[Any, datetime] | None = None,
    *,
    conn: Connection | None = None,
) -> int:
    """Record that ``source`` deleted these records (e.g. NIKs SIAK reports as deleted).

    Nothing is removed: the source's deletion is a version like any other, the history is
    closed at ``deleted_at`` and core rows get ``_deleted_at`` once no source still has the
    record. ``deleted_at`` is one time for all keys or a time per key. With ``conn`` it runs
    inside the caller's transaction (a delivery's load), else in its own. Returns the number
    of core rows changed.
    """
    ent = get_entity(entity)
    if not has_history(ent):
        raise ValueError(f"{ent.name}: soft deletes need versioned history (penduduk)")
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for k in dict.fromkeys(keys):
        at = deleted_at.get(k) if isinstance(deleted_at, dict) else deleted_at
        rows += tombstones(ent, [k], source, load_id, at or now)
    if conn is not None:
        changed = apply_versions(conn, wh, ent, rows, load_id=load_id, now=now)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {KEYS_TABLE}")
        return changed
    with wh.begin() as own:
        changed = apply_versions(own, wh, ent, rows, load_id=load_id, now=now)
        own.exec_driver_sql(f"DROP TABLE IF EXISTS {KEYS_TABLE}")
    return changed


# "Who lived in desa X on date D": the state at the end of day D (midnight WIB after it).
# docs/warehouse.md shows the same query with literals; tests run both.
RESIDENTS_ON = """
SELECT h.nik
FROM core.penduduk_history h
WHERE h.kode_desa = :kode_desa
  AND h.valid_from < :as_of
  AND (h.valid_to IS NULL OR h.valid_to >= :as_of)
  AND COALESCE(h.status_dasar, '1') = '1'
ORDER BY h.nik
"""


def end_of_day(day: date) -> datetime:
    """The instant a day in Martapura ends: midnight WIB (UTC+7) after it."""
    return datetime.combine(day + timedelta(days=1), time.min, timezone(timedelta(hours=7)))


def residents_on(wh: Warehouse, kode_desa: str, day: date) -> list[str]:
    """NIKs of the living residents of ``kode_desa`` at the end of ``day`` (restricted: core)."""
    rows = wh.query(RESIDENTS_ON, {"kode_desa": kode_desa, "as_of": end_of_day(day)})
    return [r["nik"] for r in rows]
