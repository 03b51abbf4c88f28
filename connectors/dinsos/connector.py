"""Assistance-recipient CSVs dropped in a folder (encoding and delimiter detected per file).

Files are taken incrementally by modification time (inclusive; the merge de-duplicates by
key). Each row carries its file and line number, so a quarantined row can be found again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import ClassVar

import pyarrow as pa

from connectors.base.contract import Connector, ReadResult, StreamSpec
from connectors.base.files import (
    SOURCE_FILE,
    SOURCE_ROW,
    FileFormatError,
    list_drop,
    open_bytes,
    read_csv,
)

COLUMNS = ["NIK", "NO_KK", "NAMA", "PROGRAM", "PERIODE", "KODE_DESA", "NOMINAL"]
KEY_COLUMNS = ("NIK", "PROGRAM", "PERIODE")
FILE_MTIME = "_file_mtime"
OUTPUT_COLUMNS = [*COLUMNS, SOURCE_FILE, SOURCE_ROW, FILE_MTIME]


class DinsosDropConnector(Connector):
    id = "dinsos"
    streams: ClassVar[dict[str, StreamSpec]] = {
        "penerima_bantuan": StreamSpec(
            "penerima_bantuan", ("NIK", "PROGRAM", "PERIODE"), FILE_MTIME
        ),
    }

    def __init__(self, drop_url: str, patterns: tuple[str, ...] = ("*.csv", "*.CSV")):
        self.drop_url = drop_url
        self.patterns = patterns

    def read(
        self, stream: str, *, since: str | None, result: ReadResult
    ) -> Iterator[pa.RecordBatch]:
        self.stream(stream)
        for f in list_drop(self.drop_url, self.patterns):
            if since and f.mtime < since:
                continue
            name = PurePosixPath(f.path).name
            for batch in read_csv(open_bytes(f.path), name):
                yield _conform(batch, f.mtime, name)
            result.observe([f.mtime])


def _conform(batch: pa.RecordBatch, mtime: str, name: str = "") -> pa.RecordBatch:
    """Every file to one column set (header names upper-cased), so a delivery has one schema.

    A header that lacks a key column (a title row above it, another delimiter) or names a
    column twice in different case is a FileFormatError naming the file: guessing would load
    every row empty or take the wrong column.
    """
    by_upper: dict[str, str] = {}
    for n in batch.schema.names:
        if n in (SOURCE_FILE, SOURCE_ROW):
            continue
        key = n.strip().upper()
        if key in by_upper:
            raise FileFormatError(
                f"{name}: columns {by_upper[key]!r} and {n!r} in the header are the same column "
                f"/ kolom {by_upper[key]!r} dan {n!r} sama"
            )
        by_upper[key] = n
    missing = [c for c in KEY_COLUMNS if c not in by_upper]
    if missing:
        found = [n for n in batch.schema.names if n not in (SOURCE_FILE, SOURCE_ROW)][:8]
        raise FileFormatError(
            f"{name}: the header (first line) lacks columns {missing}; found {found} (a title "
            f"row above the header, or another delimiter?) / baris judul tidak memuat kolom "
            f"{missing}"
        )
    arrays = []
    for col in OUTPUT_COLUMNS:
        if col == FILE_MTIME:
            arrays.append(pa.array([mtime] * batch.num_rows, pa.string()))
        elif col in (SOURCE_FILE, SOURCE_ROW):
            arrays.append(batch.column(col))
        elif col in by_upper:
            arrays.append(batch.column(by_upper[col]))
        else:
            arrays.append(pa.nulls(batch.num_rows, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=OUTPUT_COLUMNS)
