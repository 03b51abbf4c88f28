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
from connectors.base.files import SOURCE_FILE, SOURCE_ROW, list_drop, open_bytes, read_csv

COLUMNS = ["NIK", "NO_KK", "NAMA", "PROGRAM", "PERIODE", "KODE_DESA", "NOMINAL"]
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
                yield _conform(batch, f.mtime)
            result.observe([f.mtime])


def _conform(batch: pa.RecordBatch, mtime: str) -> pa.RecordBatch:
    """Every file to one column set (header names upper-cased), so a delivery has one schema."""
    by_upper = {n.strip().upper(): n for n in batch.schema.names}
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
