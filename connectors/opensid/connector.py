"""OpenSID import-template workbooks ("Data Penduduk", 43 columns), one per desa, dropped in a
folder; OpenDK-style ZIPs (``penduduk_dd_mm_YYYY_opendk.xlsx`` inside) are read the same way.

The template carries no village code, so it comes from the file name: a Kemendagri code
(``16.08.01.2006`` or ``1608012006``) or a village name of the configured kecamatan. Files
are taken by content through the file ledger (:mod:`connectors.base.drop`): new content
loads whatever its modification time, content already loaded is skipped, and a file that
cannot be read is rejected on its own while the other villages load.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

import pyarrow as pa

from connectors.base.contract import StreamSpec
from connectors.base.drop import FILE_MTIME, DropConnector, FileOutcome, to_columns
from connectors.base.files import (
    ROW_PROBLEM,
    ROW_WARNING,
    SOURCE_FILE,
    SOURCE_ROW,
    FileFormatError,
    read_excel,
)
from connectors.base.zip_drop import file_or_members
from simpul.domain.opensid import SHEET, TEMPLATE_COLUMNS
from simpul.domain.regions import normalise_name, villages

log = logging.getLogger(__name__)
WORKBOOKS = (".xlsx", ".xlsm", ".xls")  # what a ZIP delivery may hold

KODE_DESA = "_kode_desa"
OUTPUT_COLUMNS = [
    *TEMPLATE_COLUMNS,
    SOURCE_FILE,
    SOURCE_ROW,
    "_kode_desa",
    "_file_mtime",
    ROW_PROBLEM,
    ROW_WARNING,
]
_CODE = re.compile(r"(\d{2})\.?(\d{2})\.?(\d{2})\.?([12]\d{3})")


def desa_from_name(file_name: str, kecamatan: str | None) -> str:
    """Village code from a drop file's name, or FileFormatError naming the file."""
    stem = PurePosixPath(file_name).stem
    m = _CODE.search(stem)
    if m:
        code = ".".join(m.groups())
        if code in villages():
            return code
    wanted = normalise_name(re.sub(r"(?i)^(penduduk|data|export|opensid)[_\- ]+", "", stem))
    for code, name in villages().items():
        if kecamatan and not code.startswith(kecamatan + "."):
            continue
        if normalise_name(name) == wanted:
            return code
    raise FileFormatError(
        f"{file_name}: cannot tell which desa this file is for (put the Kemendagri code in the "
        f"file name) / tidak dapat menentukan desa dari nama berkas (cantumkan kode Kemendagri)"
    )


class OpenSidDropConnector(DropConnector):
    id = "opensid"
    streams: dict[str, StreamSpec] = {
        "penduduk": StreamSpec("penduduk", ("nik",), FILE_MTIME),
    }

    default_patterns = ("*.xlsx", "*.xlsm", "*.xls", "*.zip")

    def read_file(self, f: FileOutcome, fh: BinaryIO) -> Iterator[pa.RecordBatch]:
        kode = desa_from_name(f.name, self.kecamatan)  # a ZIP is named for its desa too
        for inner_name, inner in file_or_members(f.name, fh, WORKBOOKS, self.limits):
            label = f.name if inner_name == f.name else f"{f.name}!{inner_name}"
            for batch in read_excel(inner, label, sheet=SHEET, expect=("nik",)):
                yield self._conform(batch, label, kode, f.mtime)

    @staticmethod
    def _conform(batch: pa.RecordBatch, label: str, kode: str, mtime: str) -> pa.RecordBatch:
        """Every file to the template's columns, so one delivery has one schema.

        A sheet without a ``nik`` column (a merged title row above the header, another
        template) is a FileFormatError naming the file: its rows would all load empty.
        """
        if "nik" not in batch.schema.names:
            found = [n for n in batch.schema.names if n not in (SOURCE_FILE, SOURCE_ROW)][:6]
            raise FileFormatError(
                f"{label}: sheet {SHEET!r} has no column 'nik'; found {found} / lembar "
                f"{SHEET!r} tidak memuat kolom 'nik'"
            )
        extra = sorted(set(batch.schema.names) - set(OUTPUT_COLUMNS))
        if extra:
            log.warning("%s: columns outside the OpenSID template ignored: %s", label, extra)
        delivered = {name: name for name in batch.schema.names}
        return to_columns(batch, OUTPUT_COLUMNS, delivered, {KODE_DESA: kode, FILE_MTIME: mtime})
