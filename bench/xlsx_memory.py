"""Peak memory reading a large SIAK export workbook: calamine (whole sheet) vs the streaming
.xlsx reader (connectors.base.xlsx_stream), each in its own subprocess through the real
``read_excel`` (peak RSS: VmHWM, reset before reading).

    uv run --frozen python -m bench.xlsx_memory --rows 300000

The workbook is written directly as XML (openpyxl would take minutes for 300k x 37 cells):
shared strings for text (unique NIK, KK, names and address per row, so the shared-strings part
grows with the file as in a real export), number cells for Excel serial dates, one
date-formatted column.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from connectors.siak_export.connector import SIAK_EXPORT_COLUMNS

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_FIXED = {
    "Status": "HIDUP", "Kelamin": "LAKI-LAKI", "Status Kawin": "KAWIN", "SHDK": "KEPALA KELUARGA",
    "Agama": "ISLAM", "Kecamatan": "BELITANG", "Desa/Kel": "SUMBER JAYA", "Pendidikan": "SLTA",
    "Pekerjaan": "PETANI/PEKEBUN", "Gol. Darah": "TIDAK TAHU", "Cacat": "-", "Cetak KTP": "SUDAH",
    "Ganti KTP": "-", "Tempat Lahir": "MARTAPURA", "Petugas Registrasi": "OPERATOR",
    "Petugas Entri": "OPERATOR",
}  # fmt: skip
_UNIQUE = ("Nomor KK", "NIK", "Nama Penduduk", "NIK Ayah", "Ayah", "NIK Ibu", "Ibu", "Alamat")


def _col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def write_siak_xlsx(path: Path, rows: int) -> Path:
    """A SIAK-like export of ``rows`` rows (title row, header on row 3), written fast."""
    strings: dict[str, int] = {}
    sst: list[str] = []

    def sid(text: str) -> int:
        i = strings.get(text)
        if i is None:
            i = strings[text] = len(sst)
            sst.append(text)
        return i

    cols = [_col(i) for i in range(len(SIAK_EXPORT_COLUMNS))]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats'
            '-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml'
            '.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application'
            '/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override '
            'PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument'
            '.spreadsheetml.styles+xml"/></Types>',
        )
        zf.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        zf.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0"?><workbook {NS} xmlns:r="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships"><sheets><sheet name="Data Penduduk" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>',
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
            'Target="styles.xml"/></Relationships>',
        )
        zf.writestr(
            "xl/styles.xml",
            f'<?xml version="1.0"?><styleSheet {NS}><numFmts count="1"><numFmt numFmtId="164" '
            'formatCode="dd/mm/yyyy hh:mm"/></numFmts><cellXfs count="2"><xf numFmtId="0"/>'
            '<xf numFmtId="164"/></cellXfs></styleSheet>',
        )
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            last = rows + 3
            out.write(
                f'<?xml version="1.0"?><worksheet {NS}><dimension ref="A1:{cols[-1]}{last}"/>'
                f'<sheetData><row r="1"><c r="A1" t="s"><v>{sid("DATA PENDUDUK KECAMATAN")}'
                "</v></c></row>".encode()
            )
            head = "".join(
                f'<c r="{c}3" t="s"><v>{sid(h)}</v></c>'
                for c, h in zip(cols, SIAK_EXPORT_COLUMNS, strict=True)
            )
            out.write(f'<row r="3">{head}</row>'.encode())
            buf: list[str] = []
            for i in range(rows):
                r = i + 4
                cells = []
                for c, h in zip(cols, SIAK_EXPORT_COLUMNS, strict=True):
                    if h in _UNIQUE:
                        v = f"{1608010000000000 + i * 7 + _UNIQUE.index(h)}"
                        if h in ("Nama Penduduk", "Ayah", "Ibu", "Alamat"):
                            v = f"{h.upper()} WARGA NOMOR {i}"
                        cells.append(f'<c r="{c}{r}" t="s"><v>{sid(v)}</v></c>')
                    elif h in _FIXED:
                        cells.append(f'<c r="{c}{r}" t="s"><v>{sid(_FIXED[h])}</v></c>')
                    elif h == "Tgl Ubah":
                        cells.append(f'<c r="{c}{r}" s="1"><v>{45900 + i % 300}.5</v></c>')
                    elif h.startswith("T") or h == "KTP Berakhir":  # Excel serial dates
                        cells.append(f'<c r="{c}{r}"><v>{20000 + i % 20000}</v></c>')
                    elif h in ("RW", "RT"):
                        cells.append(f'<c r="{c}{r}"><v>{1 + i % 9}</v></c>')
                buf.append(f'<row r="{r}">{"".join(cells)}</row>')
                if len(buf) >= 2000:
                    out.write("".join(buf).encode())
                    buf = []
            out.write(("".join(buf) + "</sheetData></worksheet>").encode())
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
            n = len(sst)
            out.write(f'<?xml version="1.0"?><sst {NS} count="{n}" uniqueCount="{n}">'.encode())
            for k in range(0, len(sst), 5000):
                out.write(
                    "".join(f"<si><t>{escape(s)}</t></si>" for s in sst[k : k + 5000]).encode()
                )
            out.write(b"</sst>")
    return path


SCRIPT = """
import json, time
import connectors.base.files as files
import pyarrow, python_calamine, lxml.etree, openpyxl.styles.numbers, defusedxml  # imported


def status(key):
    text = open("/proc/self/status").read()
    return int(text.split(key + ":")[1].split()[0]) // 1024


try:  # reset the high-water mark (exec keeps the parent's in ru_maxrss; imports peak too)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
files.STREAM_XLSX_BYTES = {threshold}
before = status("VmRSS")
started = time.monotonic()
first = None
rows = 0
with open({path!r}, "rb") as fh:
    for b in files.read_excel(fh, "siak_export.xlsx", expect=("NIK", "Nama Penduduk")):
        rows += b.num_rows
        first = first or round(time.monotonic() - started, 1)
print(json.dumps({{"rows": rows, "rss_before_mb": before, "peak_mb": status("VmHWM"),
                  "growth_mb": status("VmHWM") - before, "first_batch_s": first,
                  "seconds": round(time.monotonic() - started, 1)}}))
"""


def measure(path: Path, streaming: bool) -> dict:
    """Peak RSS (VmHWM, MB) of reading ``path`` with ``read_excel`` in a fresh process."""
    script = SCRIPT.format(threshold=0 if streaming else 1 << 62, path=str(path))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True, text=True, check=True, timeout=3600,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--file", type=Path, help="an existing workbook instead of a generated one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        f = args.file
        if f is None:
            started = time.monotonic()
            f = write_siak_xlsx(Path(tmp) / "siak_export.xlsx", args.rows)
            print(f"{args.rows} rows written in {time.monotonic() - started:.0f} s")
        print(f"{f.name}: {f.stat().st_size / 1024**2:.1f} MB")
        for label, streaming in (("calamine", False), ("streaming", True)):
            print(label, measure(f, streaming), flush=True)


if __name__ == "__main__":
    main()
