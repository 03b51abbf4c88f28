"""File writers for deliveries: Parquet and CSV, the CSV safe to open in a spreadsheet.

A cell starting with ``= + - @`` (or a tab / carriage return) is a formula to Excel and
LibreOffice: a delivered value such as ``=HYPERLINK(...)`` would run on the agency's desk
(CSV injection). Such text cells are prefixed with ``'`` so they stay text.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Prefix text that a spreadsheet would read as a formula with ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(neutralise(value) if isinstance(value, str) else value)


def write_csv(table: pa.Table, path: Path) -> None:
    """UTF-8 CSV with a header; text cells neutralised against formula injection."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; quotes CR and LF
    writer.writerow([neutralise(c) for c in table.column_names])
    for row in table.to_pylist():
        writer.writerow([_cell(row[c]) for c in table.column_names])
    path.write_bytes(buf.getvalue().encode("utf-8"))


def write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")


def write(table: pa.Table, path_stem: Path, fmt: str) -> Path:
    """Write ``table`` as ``<stem>.<fmt>``; returns the path."""
    path = path_stem.with_suffix(f".{fmt}")
    (write_csv if fmt == "csv" else write_parquet)(table, path)
    return path
