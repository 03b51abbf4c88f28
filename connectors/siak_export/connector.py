"""Disdukcapil's SIAK export (docs/FORMATS.md §1): the 37-column workbook a kecamatan is handed
on a flash disk or over WhatsApp, as .xlsx, .xls (Excel 97-2003), .csv or inside a .zip.

The header is looked for below title rows and merged cells (the row holding ``NIK`` and
``Nama Penduduk``); header labels are matched without regard to case and spacing, with the
aliases real exports use ("No. KK", "Tgl Lahir", "Jenis Kelamin", ...), so every file of a
delivery lands with the 37 documented column names. Files are taken through the file ledger
(:mod:`connectors.base.drop`): by content, complete, one bad file rejected on its own.
"""

from __future__ import annotations

import logging
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
    read_excel,
)
from connectors.base.text_files import read_csv
from connectors.base.zip_drop import file_or_members

log = logging.getLogger(__name__)

SIAK_EXPORT_COLUMNS = [
    "Nomor KK", "NIK", "Nama Penduduk", "Status", "Tempat Lahir", "Tanggal Lahir", "Kelamin",
    "NIK Ayah", "Ayah", "NIK Ibu", "Ibu", "Status Kawin", "SHDK", "Agama", "Kecamatan",
    "Desa/Kel", "Alamat", "RW", "RT", "Pendidikan", "Pekerjaan", "Deskripsi Pekerjaan",
    "Gol. Darah", "Cacat", "Cetak KTP", "Ganti KTP", "KTP Berakhir", "Nomor Paspor",
    "Nomor Akta Lahir", "Nomor Akta Kawin", "Tanggal Kwn", "Nomor Akta Cerai", "Tgl Cerai",
    "Petugas Registrasi", "Tgl Ubah", "Petugas Entri", "Tgl Entri",
]  # fmt: skip
OUTPUT_COLUMNS = [
    *SIAK_EXPORT_COLUMNS,
    SOURCE_FILE,
    SOURCE_ROW,
    FILE_MTIME,
    ROW_PROBLEM,
    ROW_WARNING,
]
# header labels other SIAK versions and hand-edited exports use for the same columns
ALIASES = {
    "No KK": "Nomor KK",
    "No. KK": "Nomor KK",
    "NO_KK": "Nomor KK",
    "Nama": "Nama Penduduk",
    "Nama Lengkap": "Nama Penduduk",
    "Status Dasar": "Status",
    "Tgl Lahir": "Tanggal Lahir",
    "Tanggal Lhr": "Tanggal Lahir",
    "Jenis Kelamin": "Kelamin",
    "Nama Ayah": "Ayah",
    "Nama Ibu": "Ibu",
    "Status Perkawinan": "Status Kawin",
    "Hubungan Keluarga": "SHDK",
    "Stat Hbkel": "SHDK",
    "Desa": "Desa/Kel",
    "Kelurahan": "Desa/Kel",
    "Desa/Kelurahan": "Desa/Kel",
    "Golongan Darah": "Gol. Darah",
    "Gol Darah": "Gol. Darah",
    "Pendidikan Terakhir": "Pendidikan",
    "Tanggal Ubah": "Tgl Ubah",
    "Tgl. Ubah": "Tgl Ubah",
    "Tanggal Entri": "Tgl Entri",
}
REQUIRED = ("NIK", "Nama Penduduk")
SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")


def _key(label: str) -> str:
    return "".join(label.split()).casefold()


_CANON = {_key(c): c for c in SIAK_EXPORT_COLUMNS} | {_key(a): c for a, c in ALIASES.items()}


class SiakExportConnector(DropConnector):
    id = "siak_export"
    streams: dict[str, StreamSpec] = {
        "penduduk": StreamSpec("penduduk", ("NIK",), FILE_MTIME),
    }

    default_patterns = tuple(f"*{s}" for s in (*SUFFIXES, ".zip"))

    def read_file(self, f: FileOutcome, fh: BinaryIO) -> Iterator[pa.RecordBatch]:
        for inner_name, inner in file_or_members(f.name, fh, SUFFIXES, self.limits):
            label = f.name if inner_name == f.name else f"{f.name}!{inner_name}"
            if inner_name.lower().endswith(".csv"):
                batches = read_csv(inner, label, expect=REQUIRED)
            else:
                batches = read_excel(inner, label, expect=REQUIRED)
            for batch in batches:
                yield conform(batch, label, f.mtime)


def conform(batch: pa.RecordBatch, label: str, mtime: str) -> pa.RecordBatch:
    """Every file to the 37 documented columns (labels matched without case/spacing, aliases
    applied), so one delivery has one schema; a file without NIK is a FileFormatError."""
    by_canon: dict[str, str] = {}
    for n in header_names(batch):
        canon = _CANON.get(_key(n))
        if canon is None:
            continue
        if canon in by_canon:
            raise FileFormatError(
                f"{label}: columns {by_canon[canon]!r} and {n!r} are both {canon!r} / kolom "
                f"{by_canon[canon]!r} dan {n!r} sama-sama {canon!r}"
            )
        by_canon[canon] = n
    missing = [c for c in REQUIRED if c not in by_canon]
    if missing:
        raise FileFormatError(
            f"{label}: no column {missing} in the header / kolom {missing} tidak ada di judul"
        )
    extra = [n for n in header_names(batch) if n not in by_canon.values()]
    if extra:
        log.warning("%s: %d columns outside the SIAK export layout ignored", label, len(extra))
    return to_columns(batch, OUTPUT_COLUMNS, by_canon, {FILE_MTIME: mtime})
