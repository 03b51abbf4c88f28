"""Disdukcapil's SIAK 37-column Excel export (docs/FORMATS.md §1), the file a kecamatan is handed.

Unlike the REST simulator this is what arrives on a flash disk or WhatsApp: one sheet, header on
row 1, labels not codes, every date an Excel serial number (some already turned into text like
"34703.0"), RT/RW as numbers (some "8.0"), Kecamatan and Desa/Kel as names, NIK sometimes a
number cell. Labels are SIAK's mixed case ("Perempuan", "Kawin", "SLTA/Sederajat", "Tdk Th"),
so the hub's mapping needs aliases for: Kawin -> 2, Cerai Hidup -> 4, Tdk Th -> 13,
Status Hidup/Mati/Pindah/Hilang/Pergi -> status_dasar 1/2/3/4/6.

Defects (``defect_rate``) and truth: ``<world_dir>/ground_truth/siak_export.parquet``.
"""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

from simpul.simulators.filedrop import (
    delivered_with_defects,
    drop_time,
    excel_serial,
    in_kecamatan,
    located,
    nik_number_cell,
    replace_truth,
    rng_for,
    sub_seed,
    write_atomic,
    write_truth,
)
from simpul.simulators.xlsx_writer import xlsx_bytes
from simpul.synth.codes import code_lists, regions
from simpul.synth.defects import PERSON_KINDS
from simpul.synth.world import load_world

SHEET = "Penduduk"
SIAK_EXPORT_COLUMNS = [
    "Nomor KK",
    "NIK",
    "Nama Penduduk",
    "Status",
    "Tempat Lahir",
    "Tanggal Lahir",
    "Kelamin",
    "NIK Ayah",
    "Ayah",
    "NIK Ibu",
    "Ibu",
    "Status Kawin",
    "SHDK",
    "Agama",
    "Kecamatan",
    "Desa/Kel",
    "Alamat",
    "RW",
    "RT",
    "Pendidikan",
    "Pekerjaan",
    "Deskripsi Pekerjaan",
    "Gol. Darah",
    "Cacat",
    "Cetak KTP",
    "Ganti KTP",
    "KTP Berakhir",
    "Nomor Paspor",
    "Nomor Akta Lahir",
    "Nomor Akta Kawin",
    "Tanggal Kwn",
    "Nomor Akta Cerai",
    "Tgl Cerai",
    "Petugas Registrasi",
    "Tgl Ubah",
    "Petugas Entri",
    "Tgl Entri",
]
# every person-record defect but Excel serial dates (the export is CSV)
SIAK_EXPORT_KINDS = tuple(k for k in PERSON_KINDS if k != "excel_serial_date")
STATUS = {"1": "Hidup", "2": "Mati", "3": "Pindah", "4": "Hilang", "6": "Pergi"}
KAWIN = {
    "1": "Belum Kawin",
    "2": "Kawin",
    "3": "Kawin Belum Tercatat",
    "4": "Cerai Hidup",
    "5": "Cerai Hidup Belum Tercatat",
    "6": "Cerai Mati",
}
LISTS = {
    "jenis_kelamin": "jenis_kelamin",
    "agama": "agama",
    "shdk": "status_hubungan_dalam_keluarga",
    "pendidikan": "pendidikan_dalam_kk",
    "pekerjaan": "jenis_pekerjaan",
    "golongan_darah": "golongan_darah",
}
UPPER_WORDS = {"SD", "SLTP", "SLTA", "PNS", "TNI", "POLRI", "RI", "BUMN", "BUMD", "DPR", "DPRD"}
UPPER_WORDS |= {"DPD", "BPK", "II", "III", "IV", "YME", "A", "B", "AB", "O", "S.", "S"}
OFFICERS = ("OPR_DUKCAPIL_01", "OPR_DUKCAPIL_04", "OPR_KEC_MARTAPURA", "ADMIN_SIAK")


def siak_case(label: str) -> str:
    """'SLTA / SEDERAJAT' -> 'SLTA/Sederajat', 'BELUM/TIDAK BEKERJA' -> 'Belum/Tidak Bekerja'."""
    text = " ".join(label.replace(" / ", "/").replace("/ ", "/").split())

    def word(w: str) -> str:
        return "/".join(
            p if p.upper() in UPPER_WORDS or p.startswith("(") else p.capitalize()
            for p in w.split("/")
        )

    return " ".join(word(w) for w in text.split(" "))


def siak_label(column: str, code: str | None) -> str | None:
    """Canonical code -> the label SIAK prints; an unknown (defective) code passes through."""
    if code is None:
        return None
    if column == "status_perkawinan":
        return KAWIN.get(code, code)
    if column == "golongan_darah" and code == "13":
        return "Tdk Th"
    known = code_lists()[LISTS[column]]
    return siak_case(known[code]) if code in known else code


def _serial_cell(value: str | None, r: random.Random) -> Any:
    """An ISO date as Excel serial (a number, or now and then the text '34703.0')."""
    if not value:
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        return value  # a defect (dd/mm/yyyy text) stays as text
    s = excel_serial(d)
    return f"{s}.0" if r.random() < 0.05 else s


def _rtrw_cell(value: str | None, r: random.Random) -> Any:
    if not value or not value.isdigit():
        return value
    return f"{int(value)}.0" if r.random() < 0.1 else int(value)


def _alamat(value: str | None, r: random.Random) -> str | None:
    """Operators type addresses in any case: 'Dusun II' / 'DUSUN II' / 'dusun II'."""
    if not value:
        return value
    u = r.random()
    if u < 0.5:
        return value
    if u < 0.85:
        return " ".join(
            w if w in UPPER_WORDS or w.isdigit() else w.capitalize() for w in value.split()
        )
    return value.lower()


def _akta_lahir(born: date | None, r: random.Random) -> str | None:
    if born is None or born.year < 1990 or r.random() < 0.25:
        return None
    return f"1608-LT-{born:%d%m%Y}-{r.randint(1, 9999):04d}"


def write_siak_export(
    world_dir: Path | str,
    out_path: Path | str,
    *,
    defect_rate: float = 0.0,
    seed: int = 42,
    kecamatan: str | None = None,
) -> Path:
    """The world's penduduk (optionally one kecamatan) as SIAK's 37-column export."""
    world = load_world(world_dir)
    clean = in_kecamatan(world.penduduk, kecamatan)
    delivered, truth = delivered_with_defects(
        clean,
        world,
        rate=defect_rate,
        seed=sub_seed(seed, "siak-export"),
        kinds=SIAK_EXPORT_KINDS,
        entity="penduduk",
    )
    r = rng_for(seed, "siak-export-cells")
    rows = delivered.to_pylist()
    truth_rows = truth.to_pylist()
    defective = {t["row_index"] for t in truth_rows}
    number_cells = {
        (t["row_index"], t["field"]) for t in truth_rows if t["kind"] == "nik_excel_zeroed"
    }
    for t in truth_rows:
        if t["kind"] == "mixed_date_format" and r.random() < 0.5:
            v = t["delivered_value"].replace("/", "-")
            rows[t["row_index"]][t["field"]] = v
            replace_truth(truth_rows, t["row_index"], t["kind"], delivered_value=v)
    if defect_rate > 0:
        free = [p for p, x in enumerate(rows) if p not in defective and (x["nik"] or "").isdigit()]
        k = min(len(free), round(len(rows) * defect_rate / len(SIAK_EXPORT_KINDS)))
        for p in sorted(r.sample(free, k)):
            number_cells.add((p, "nik"))
            truth_rows.append(nik_number_cell(p, rows[p]["nik"]))

    when = drop_time(world.config.as_of)
    kec_names = {k: v.upper() for k, v in regions().sumsel_districts.items()}
    cells = (_row(p, x, r, number_cells, kec_names, world.config.as_of) for p, x in enumerate(rows))
    sheet = itertools.chain([SIAK_EXPORT_COLUMNS], cells)
    out = Path(out_path)
    write_atomic(out, xlsx_bytes([(SHEET, sheet)], when), when)
    truth_out = located(truth_rows, source="siak_export", file_name=out.name, first_row=2)
    for t, x in zip(truth_out, [rows[t["row_index"]] for t in truth_rows], strict=True):
        t["kode_desa"] = x["kode_desa"]
    write_truth(world_dir, "siak_export", truth_out)
    return out


def _row(
    p: int,
    x: dict[str, Any],
    r: random.Random,
    number_cells: set[tuple[int, str]],
    kec_names: dict[str, str],
    as_of: date,
) -> list[Any]:
    def ident(field: str) -> Any:
        v = x[field]
        return int(v) if (p, field) in number_cells and v and v.isdigit() else v

    try:
        born = date.fromisoformat(x["tanggal_lahir"] or "")
    except ValueError:
        born = None
    updated = datetime.fromisoformat(x["updated_at"].replace("Z", "+00:00")).date()
    entered = date.fromordinal(max(born.toordinal() if born else 0, updated.toordinal() - 900))
    adult = born is not None and (as_of - born).days >= 17 * 365.25
    kode = x["kode_desa"] or ""
    rec = {
        "Nomor KK": ident("no_kk"),
        "NIK": ident("nik"),
        "Nama Penduduk": x["nama_lengkap"],
        "Status": STATUS.get(x["status_dasar"], x["status_dasar"]),
        "Tempat Lahir": x["tempat_lahir"],
        "Tanggal Lahir": _serial_cell(x["tanggal_lahir"], r),
        "Kelamin": siak_label("jenis_kelamin", x["jenis_kelamin"]),
        "NIK Ayah": x["nik_ayah"],
        "Ayah": x["nama_ayah"],
        "NIK Ibu": x["nik_ibu"],
        "Ibu": x["nama_ibu"],
        "Status Kawin": siak_label("status_perkawinan", x["status_perkawinan"]),
        "SHDK": siak_label("shdk", x["shdk"]),
        "Agama": siak_label("agama", x["agama"]),
        "Kecamatan": kec_names.get(kode[:8]),
        "Desa/Kel": x.get("nama_desa"),
        "Alamat": _alamat(x["alamat"], r),
        "RW": _rtrw_cell(x["rw"], r),
        "RT": _rtrw_cell(x["rt"], r),
        "Pendidikan": siak_label("pendidikan", x["pendidikan"]),
        "Pekerjaan": siak_label("pekerjaan", x["pekerjaan"]),
        "Gol. Darah": siak_label("golongan_darah", x["golongan_darah"]),
        "Cetak KTP": excel_serial(entered) if adult else None,
        "Ganti KTP": (1 if r.random() < 0.1 else 0) if adult else None,
        "KTP Berakhir": "Seumur Hidup" if adult else None,
        "Nomor Akta Lahir": _akta_lahir(born, r),
        "Petugas Registrasi": OFFICERS[r.randrange(len(OFFICERS))],
        "Tgl Ubah": excel_serial(updated),
        "Petugas Entri": OFFICERS[r.randrange(len(OFFICERS))],
        "Tgl Entri": excel_serial(entered),
    }
    return [rec.get(c) for c in SIAK_EXPORT_COLUMNS]


__all__ = ["SIAK_EXPORT_COLUMNS", "SIAK_EXPORT_KINDS", "siak_label", "write_siak_export"]
