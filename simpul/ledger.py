"""The file ledger and the "nothing new" checks that replace modification-time cursors.

- :func:`known_files`: SHA-256 -> load id of every file content a loaded delivery took, so a
  file drop skips what it already loaded whatever the file's name or mtime.
- :func:`record_files`: the ledger entries of one delivery (``ops.files``), written inside the
  delivery's transaction: a crash leaves neither the rows nor the "already loaded" mark.
- :func:`current_duplicates`: which rows of a delivery are identical to the record's current
  version in core (a boundary record the inclusive SQL/API cursor reads again, a full list
  sent again): they count as duplicates, never as loaded rows, and never trip
  ``min_row_ratio``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.domain.alerts import Alert, delivery_alert
from simpul.warehouse.engine import Warehouse, qualified, quote_ident

FILES_SIDECAR = "_files.json"
FILE_COLUMNS = (
    "path",
    "name",
    "size",
    "mtime",
    "sha256",
    "status",
    "rows",
    "previous_load_id",
    "reason_en",
    "reason_id",
)


def known_files(wh: Warehouse, source: str, stream: str) -> dict[str, str]:
    """SHA-256 -> load id for every file content a *loaded* delivery of (source, stream) took
    (a held delivery's files are read again on the next run)."""
    if not wh.scalar(
        "select count(*) from information_schema.tables "
        "where table_schema = 'ops' and table_name = 'files'"
    ):
        return {}
    rows = wh.query(
        "select f.sha256, f.load_id from ops.files f join ops.loads l on l.load_id = f.load_id "
        "where f.source = :s and f.stream = :t and f.status = 'loaded' and l.status = 'loaded' "
        "and f.sha256 is not null order by l.loaded_at",
        {"s": source, "t": stream},
    )
    return {r["sha256"]: r["load_id"] for r in rows}


def write_sidecar(folder: Path, files: list[dict[str, Any]]) -> None:
    """The ledger entries of a landed delivery, beside its manifest (read by the load)."""
    tmp = folder / (FILES_SIDECAR + ".partial")
    tmp.write_text(json.dumps(files, indent=2, ensure_ascii=False))
    tmp.replace(folder / FILES_SIDECAR)


def read_sidecar(landed_file: str | Path) -> list[dict[str, Any]] | None:
    path = Path(landed_file).parent / FILES_SIDECAR
    if not path.exists():
        return None
    return json.loads(path.read_text())


def record_files(
    conn: Connection,
    *,
    load_id: str,
    source: str,
    stream: str,
    files: list[dict[str, Any]] | None,
    held: bool,
    now: datetime | None = None,
) -> None:
    """Write the delivery's ledger entries; a file read into it is 'loaded' (or 'held')."""
    conn.execute(sa.text("DELETE FROM ops.files WHERE load_id = :id"), {"id": load_id})
    if not files:
        return
    now = now or datetime.now(UTC)
    rows = []
    for f in files:
        status = f.get("status")
        if status == "new":
            status = "held" if held else "loaded"
        rows.append(
            {
                "load_id": load_id,
                "source": source,
                "stream": stream,
                **{c: f.get(c) for c in FILE_COLUMNS},
                "status": status,
                "recorded_at": now,
            }
        )
    cols = list(rows[0])
    conn.execute(
        sa.text(
            f"INSERT INTO ops.files ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
        ),
        rows,
    )


def rejected(files: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [f for f in files or [] if f.get("status") == "rejected"]


def current_duplicates(
    wh: Warehouse, entity_name: str, frame: pd.DataFrame, candidates: pd.Series, source: str
) -> pd.Series:
    """True for rows of ``frame`` (canonical columns) among ``candidates`` whose every
    canonical column but ``updated_at`` equals the current version *this source* delivered
    of the same key (a file drop's ``updated_at`` is the file's mtime; the merge ignores it for
    equal content too). Another source's agreeing record is not a duplicate: it is evidence
    the reconciliation needs."""
    from simpul.model import entity

    out = pd.Series(False, index=frame.index)
    if not candidates.any():
        return out
    ent = entity(entity_name)
    versions = f"{ent.name}_versions"
    if _table_exists(wh, "core", versions):
        table = qualified("core", versions)
        order = "updated_at DESC, _recorded_at DESC"
        gone = "_deleted"
    elif _table_exists(wh, "core", ent.name):
        table = qualified("core", ent.name)
        order = "updated_at DESC"
        has_deleted = _has_column(wh, "core", ent.name, "_deleted_at")
        gone = "_deleted_at IS NOT NULL" if has_deleted else "FALSE"
    else:
        return out
    cols = [c for c in ent.column_names if c != "updated_at"]
    key_cols = list(ent.key)
    if not wh.scalar(f"SELECT count(*) FROM {table} WHERE _source = :src", {"src": source}):
        return out  # the source's first delivery: nothing to compare with
    sub = frame.loc[candidates.to_numpy(), cols]
    mine = _canonical_columns(sub, cols)
    if mine is None:  # a column type whose text form Arrow does not share with canonical()
        return _current_duplicates_per_row(wh, table, order, gone, ent, frame, candidates, source)
    keys = _key_text(mine, key_cols)
    key_sql = (
        quote_ident(key_cols[0])
        if len(key_cols) == 1
        else " || '|' || ".join(f"CAST({quote_ident(k)} AS VARCHAR)" for k in key_cols)
    )
    theirs_frame = _stored_versions(
        wh, table, cols, gone, key_sql, sorted(set(keys)), source, order
    )
    theirs = _canonical_columns(theirs_frame[cols], cols)
    if theirs is None:
        return _current_duplicates_per_row(wh, table, order, gone, ent, frame, candidates, source)
    theirs["_key"] = _key_text(theirs, key_cols)
    theirs["_gone"] = theirs_frame["_gone"].astype(object).fillna(False).astype(bool).to_numpy()
    # the newest version of this source per key (rows come newest first)
    theirs = theirs.drop_duplicates("_key", keep="first").set_index("_key")
    found = theirs.reindex(keys)
    same = found["_gone"].eq(False).to_numpy(dtype=bool).copy()  # deleted: never equal
    for c in cols:
        a = mine[c].to_numpy(dtype=object)
        b = found[c].to_numpy(dtype=object)
        a_null, b_null = pd.isna(a), pd.isna(b)
        equal = (a_null & b_null) | (~a_null & ~b_null & (a == b))
        same = same & equal
    out.iloc[candidates.to_numpy().nonzero()[0]] = same
    return out


def _stored_versions(
    wh: Warehouse,
    table: str,
    cols: list[str],
    gone: str,
    key_sql: str,
    keys: list[str],
    source: str,
    order: str,
) -> pd.DataFrame:
    """The versions ``source`` delivered of ``keys``, newest first: the keys go to a temporary
    table the engine joins with, and DuckDB hands the rows back as Arrow."""
    import pyarrow as pa

    select = ", ".join(f"t.{quote_ident(c)}" for c in cols)
    with wh.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS _simpul_dup_keys")
        conn.exec_driver_sql("CREATE TEMP TABLE _simpul_dup_keys (_record_key VARCHAR)")
        wh.bulk_insert(
            conn, "_simpul_dup_keys", pa.table({"_record_key": pa.array(keys, pa.string())})
        )
        sql = (
            f"SELECT {select}, {gone} AS _gone FROM {table} t JOIN _simpul_dup_keys k "
            f"ON {key_sql} = k._record_key WHERE t._source = {{src}} ORDER BY {order}"
        )
        raw: Any = conn.connection.driver_connection  # the DBAPI connection, never None here
        if wh.dialect == "duckdb":
            got = raw.sql(sql.format(src="?"), params=[source]).to_arrow_table()
            out = got.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t))
        else:
            with raw.cursor() as cur:
                cur.execute(sql.format(src="%s"), [source])
                rows = cur.fetchall()
            out = pd.DataFrame.from_records(rows, columns=[*cols, "_gone"])
        conn.exec_driver_sql("DROP TABLE _simpul_dup_keys")
    out.columns = [*cols, "_gone"]
    return out


def _canonical_columns(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame | None:
    """:func:`~simpul.warehouse.pseudonym.canonical` of every value, column by column (Arrow
    casts to text): only for text, date and integer columns, whose Arrow text is ``str`` /
    ``date.isoformat``; None for any other type (the per-row path then compares)."""
    import pyarrow as pa

    out = {}
    for c in cols:
        col = frame[c]
        if isinstance(col.dtype, pd.ArrowDtype):  # as the engine returned it
            arr = pa.array(col)
        else:
            arr = pa.array(col.to_numpy(dtype=object), from_pandas=True)
        t = arr.type
        if not (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_date32(t)
            or pa.types.is_integer(t)
            or pa.types.is_null(t)
        ):
            return None
        out[c] = pd.Series(arr.cast(pa.string()).to_pandas(), dtype=object)
    return pd.DataFrame(out)


def _key_text(canon: pd.DataFrame, key_cols: list[str]) -> list[str]:
    """Record keys as ``key_of`` spells them: parts joined by '|', a null part as ''."""
    parts = [canon[k].where(canon[k].notna(), "").astype(str) for k in key_cols]
    joined = parts[0]
    for p in parts[1:]:
        joined = joined + "|" + p
    return joined.tolist()


def _current_duplicates_per_row(
    wh: Warehouse,
    table: str,
    order: str,
    gone: str,
    ent: Any,
    frame: pd.DataFrame,
    candidates: pd.Series,
    source: str,
) -> pd.Series:
    """:func:`current_duplicates` value by value in Python (any column type)."""
    from simpul.warehouse.pseudonym import canonical

    out = pd.Series(False, index=frame.index)
    cols = [c for c in ent.column_names if c != "updated_at"]
    key_cols = list(ent.key)

    def key_of(row: dict[str, Any]) -> str:
        return "|".join("" if row.get(k) is None else str(canonical(row[k])) for k in key_cols)

    sub = frame.loc[candidates.to_numpy(), cols]
    records = sub.astype(object).where(sub.notna(), None).to_dict("records")
    keys = [key_of(r) for r in records]
    key_sql = (
        quote_ident(key_cols[0])
        if len(key_cols) == 1
        else " || '|' || ".join(f"CAST({quote_ident(k)} AS VARCHAR)" for k in key_cols)
    )
    current: dict[str, tuple | None] = {}
    distinct = sorted(set(keys))
    select = ", ".join(quote_ident(c) for c in cols)
    chunks = [distinct] if len(distinct) > 5000 else [
        distinct[i : i + 1000] for i in range(0, len(distinct), 1000)
    ]  # fmt: skip
    for chunk in chunks:
        params: dict[str, Any] = {"src": source}
        where = ""
        if len(chunks) > 1 or len(distinct) <= 5000:
            params |= {f"k{j}": k for j, k in enumerate(chunk)}
            where = f" AND {key_sql} IN ({', '.join(':k' + str(j) for j in range(len(chunk)))})"
        rows = wh.query(
            f"SELECT {select}, {gone} AS _gone FROM {table} WHERE _source = :src{where} "
            f"ORDER BY {order}",
            params,
        )
        for r in rows:  # the newest version of this source; a deleted record is never equal
            current.setdefault(
                key_of(r), None if r["_gone"] else tuple(canonical(r[c]) for c in cols)
            )
    same = [
        current.get(k) == tuple(canonical(r[c]) for c in cols)
        for k, r in zip(keys, records, strict=True)
    ]
    out.iloc[candidates.to_numpy().nonzero()[0]] = same
    return out


def _table_exists(wh: Warehouse, schema: str, table: str) -> bool:
    return bool(
        wh.scalar(
            "select count(*) from information_schema.tables "
            "where table_schema = :s and table_name = :t",
            {"s": schema, "t": table},
        )
    )


def _has_column(wh: Warehouse, schema: str, table: str, column: str) -> bool:
    return bool(
        wh.scalar(
            "select count(*) from information_schema.columns "
            "where table_schema = :s and table_name = :t and column_name = :c",
            {"s": schema, "t": table, "c": column},
        )
    )


def rejected_alert(
    pipeline: str, load_id: str | None, dag_id: str | None = None, run_id: str | None = None
) -> Alert | None:
    """The alert for files of delivery ``load_id`` that were rejected (None if none were):
    file names and reasons only, never file content."""
    if not load_id:
        return None
    from simpul.warehouse import warehouse

    with warehouse() as wh:
        if not _table_exists(wh, "ops", "files"):
            return None
        rows = wh.query(
            "select name, reason_en, reason_id from ops.files where load_id = :id "
            "and status = 'rejected' order by name",
            {"id": load_id},
        )
    if not rows:
        return None
    return delivery_alert(
        "files_rejected",
        pipeline,
        load_id,
        "load",
        {"files_rejected": len(rows)},
        (
            f"{len(rows)} berkas ditolak pada {load_id} (berkas lain tetap dimuat): "
            + "; ".join(r["reason_id"] or "" for r in rows),
            f"{len(rows)} file(s) rejected in {load_id} (the other files loaded): "
            + "; ".join(r["reason_en"] or "" for r in rows),
        ),
        dag_id,
        run_id,
    )


def load_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The columns that summarise one load: what ``replay``, ``release`` and ``backfill``
    print, and what a load task's core asset event carries as extra."""
    keys = (
        "load_id",
        "status",
        "rows_received",
        "rows_loaded",
        "rows_quarantined",
        "rows_duplicate",
    )
    return {k: result.get(k) for k in keys}
