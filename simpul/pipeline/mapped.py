"""The landed delivery mapped to the canonical model, batch by batch, with what mapping and
the file readers found on the way, and which rows are exact copies of an earlier one."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from connectors.base.files import ROW_PROBLEM, ROW_WARNING, SOURCE_FILE, SOURCE_ROW
from simpul import atrest
from simpul.landing import Manifest
from simpul.mapping import Mapper, MappingIssue, Severity
from simpul.pipeline.common import BATCH_ROWS


@dataclass
class MappedDelivery:
    """``frame``: mapped rows with their delivery row number ``_row``; ``issues``: mapping and
    reader findings; ``duplicate``: exact copies of an earlier row; ``origin``: file and line
    of each row (file drops only)."""

    frame: pd.DataFrame
    issues: list[MappingIssue]
    duplicate: np.ndarray
    origin: pd.Series | None


def types_mapper(t: pa.DataType) -> pd.StringDtype | None:
    """Arrow strings read back as pandas' string dtype (what the mapping and checks expect)."""
    if pa.types.is_string(t):
        return pd.StringDtype()
    return None


def map_delivery(manifest: Manifest, mapper: Mapper, missing: list[str]) -> MappedDelivery:
    """Map every landed batch; a column in ``missing`` (schema_drift: warn) reads as empty."""
    mapped_parts: list[pa.Table] = []
    issues: list[MappingIssue] = []
    raw_hash_parts: list[pd.Series] = []
    origin_parts: list[pd.Series] = []
    offset = 0
    pf = atrest.parquet_file(manifest.file)
    con = duckdb.connect()  # hashes each batch's raw rows (content_hash)
    for batch in pf.iter_batches(batch_size=BATCH_ROWS):
        frame = batch.to_pandas(types_mapper=pd.ArrowDtype).astype("string")
        for col in missing:  # schema_drift: warn -> a vanished mapped column reads as empty
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="string")
        rows = pd.Series(range(offset + 1, offset + 1 + len(frame)), index=frame.index)
        table, batch_issues = mapper.apply(frame, rows)
        mapped_parts.append(table.append_column("_row", pa.array(rows, pa.int64())))
        issues.extend(batch_issues)
        issues.extend(row_notes(frame, rows))
        issues.extend(length_issues(table, rows))
        # an exact copy is the same content, wherever in the file it stands
        lineage = (SOURCE_FILE, SOURCE_ROW, ROW_PROBLEM, ROW_WARNING)
        raw = frame.drop(columns=[*missing, *(c for c in lineage if c in frame)])
        raw_hash_parts.append(content_hash(raw, con))
        if SOURCE_FILE in frame.columns:  # file drops: where a person finds the row
            origin_parts.append(frame[SOURCE_FILE] + ", baris/row " + frame[SOURCE_ROW])
        offset += len(frame)
    con.close()
    entity_schema = mapper.entity.schema.append(pa.field("_row", pa.int64()))
    mapped = pa.concat_tables(mapped_parts) if mapped_parts else entity_schema.empty_table()
    frame = mapped.to_pandas(types_mapper=types_mapper)
    # exact copies of an earlier row in the same delivery (e.g. a page served twice)
    raw_hash = (
        pd.concat(raw_hash_parts, ignore_index=True)
        if raw_hash_parts
        else pd.Series([], dtype="uint64")
    )
    origin = None
    if origin_parts:
        origin = pd.concat(origin_parts, ignore_index=True)
        origin.index = frame["_row"].to_numpy()
    return MappedDelivery(frame, issues, raw_hash.duplicated(keep="first").to_numpy(), origin)


def content_hash(raw: pd.DataFrame, con: duckdb.DuckDBPyConnection) -> pd.Series:
    """A 64-bit hash of each row's content (null apart from every text), by DuckDB: hashing
    in pandas turns every value into a Python object first (1.3 s of a 650,000-row transform)."""
    if not len(raw.columns):
        return pd.Series(np.zeros(len(raw), dtype="uint64"))
    columns = ", ".join('"' + c.replace('"', '""') + '"' for c in raw.columns)
    con.register("raw_rows", pa.Table.from_pandas(raw, preserve_index=False))
    try:
        hashes = con.sql(f"SELECT hash({columns}) AS h FROM raw_rows").fetchnumpy()["h"]
    finally:
        con.unregister("raw_rows")
    return pd.Series(np.asarray(hashes, dtype="uint64"))


def row_notes(frame: pd.DataFrame, rows: pd.Series) -> list[MappingIssue]:
    """Problems a file reader attached to rows (ragged row, broken quote: errors) and its
    warnings (a long number typed as a number cell), as findings naming file and line."""
    out: list[MappingIssue] = []
    notes_of: tuple[tuple[str, Severity, str], ...] = (
        (ROW_PROBLEM, "error", "row_malformed"),
        (ROW_WARNING, "warn", "number_cell"),
    )
    for col, severity, rule in notes_of:
        if col not in frame.columns:
            continue
        notes = frame[col]
        for idx in notes.index[notes.notna()]:
            text = str(notes[idx])
            en, _, idn = text.partition(" / ")
            field = en.split(":", 1)[0] if rule == "number_cell" else "row"
            out.append(
                MappingIssue(
                    row=int(rows[idx]),
                    field=field,
                    source_column=col,
                    problem_en=en,
                    problem_id=idn or en,
                    severity=severity,
                    rule=rule,
                )
            )
    return out


def length_issues(table: pa.Table, rows: pd.Series) -> list[MappingIssue]:
    """Text longer than the column's maximum (``simpul.model.max_length``): an error, so a
    32,000-character address never loads unnoticed."""
    import pyarrow.compute as pc

    from simpul.model import max_length

    out: list[MappingIssue] = []
    numbers = rows.to_numpy()
    for field in table.schema:
        if not pa.types.is_string(field.type):
            continue
        limit = max_length(field.name)
        lengths = pc.fill_null(pc.utf8_length(table.column(field.name)), 0)
        too_long = pc.greater(lengths, limit).to_numpy(zero_copy_only=False)
        for i in too_long.nonzero()[0]:
            out.append(
                MappingIssue(
                    row=int(numbers[i]),
                    field=field.name,
                    source_column=field.name,
                    problem_en=f"longer than {limit} characters",
                    problem_id=f"lebih dari {limit} karakter",
                    rule="max_length",
                )
            )
    return out
