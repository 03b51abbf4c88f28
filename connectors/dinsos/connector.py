"""Assistance-recipient CSVs dropped in a folder (encoding and delimiter detected per file).

Files are taken by content through the file ledger (:mod:`connectors.base.drop`), whatever
their modification time; a file that cannot be read is rejected on its own. Each row carries
its file and line number, so a quarantined row can be found again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa

from connectors.base.contract import StreamSpec
from connectors.base.drop import FILE_MTIME, DropConnector, FileOutcome, header_names, to_columns
from connectors.base.files import (
    ROW_PROBLEM,
    ROW_WARNING,
    SOURCE_FILE,
    SOURCE_ROW,
    FileFormatError,
)
from connectors.base.text_files import read_csv

COLUMNS = ["NIK", "NO_KK", "NAMA", "PROGRAM", "PERIODE", "KODE_DESA", "NOMINAL"]
KEY_COLUMNS = ("NIK", "PROGRAM", "PERIODE")
OUTPUT_COLUMNS = [*COLUMNS, SOURCE_FILE, SOURCE_ROW, FILE_MTIME, ROW_PROBLEM, ROW_WARNING]


class DinsosDropConnector(DropConnector):
    id = "dinsos"
    streams: dict[str, StreamSpec] = {
        "penerima_bantuan": StreamSpec(
            "penerima_bantuan", ("NIK", "PROGRAM", "PERIODE"), FILE_MTIME
        ),
    }

    default_patterns = ("*.csv", "*.CSV")

    def read_file(self, f: FileOutcome, fh: BinaryIO) -> Iterator[pa.RecordBatch]:
        for batch in read_csv(fh, f.name):
            yield _conform(batch, f.mtime, f.name)


def _conform(batch: pa.RecordBatch, mtime: str, name: str = "") -> pa.RecordBatch:
    """Every file to one column set (header names upper-cased), so a delivery has one schema.

    A header that lacks a key column (a title row above it, another delimiter) or names a
    column twice in different case is a FileFormatError naming the file: guessing would load
    every row empty or take the wrong column.
    """
    by_upper: dict[str, str] = {}
    for n in header_names(batch):
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
    return to_columns(batch, OUTPUT_COLUMNS, by_upper, {FILE_MTIME: mtime})
