"""OpenSID village drops: one import-template workbook per desa, as village operators send them.

Each file is ``penduduk_<kode desa dotted>.xlsx`` (the template itself carries no village code,
so the hub takes it from the name) with sheet "Data Penduduk" (the 43 template columns) and a
sheet "Kode Data" listing the codes. Quirks from docs/FORMATS.md §2, chosen per file from the
seed: coded fields as OpenSID ids, or as labels in some villages; rt/rw as zero-padded text,
"-" in desa that keep no RW; tanggallahir as a real date cell or an ISO string; status_kawin in
the 4-code list; kk_level = SHDK code.

``defect_rate`` injects the defects of ``simpul.synth.defects`` plus file-level ones (NIK stored
as a number cell, the Excel-zeroed 16th digit as a number, dd/mm/yyyy *and* dd-mm-yyyy dates).
Villages also differ a little from Disdukcapil, as real ones do: residents not (yet) in the
village register, another RT, a death not recorded (``village_vs_siak_*`` kinds). Everything
goes to ``<world_dir>/ground_truth/opensid_penduduk.parquet`` with file name and Excel row.
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from simpul.domain.opensid import SHEET, TEMPLATE_COLUMNS
from simpul.simulators.filedrop import (
    delivered_with_defects,
    drop_time,
    located,
    nik_number_cell,
    replace_truth,
    rng_for,
    sub_seed,
    write_atomic,
    write_truth,
)
from simpul.simulators.opensid_village import village_differences
from simpul.simulators.xlsx_writer import xlsx_bytes
from simpul.synth.codes import code_lists
from simpul.synth.defects import PERSON_KINDS
from simpul.synth.world import World, load_world

CODES_SHEET = "Kode Data"
# template column -> (canonical column, code list the template uses)
CODED = {
    "sex": ("jenis_kelamin", "jenis_kelamin"),
    "agama_id": ("agama", "agama"),
    "pendidikan_kk_id": ("pendidikan", "pendidikan_dalam_kk"),
    "pekerjaan_id": ("pekerjaan", "jenis_pekerjaan"),
    "status_kawin": ("status_perkawinan", "status_perkawinan_opensid"),
    "kk_level": ("shdk", "status_hubungan_dalam_keluarga"),
    "warganegara_id": ("kewarganegaraan", "kewarganegaraan"),
    "golongan_darah_id": ("golongan_darah", "golongan_darah"),
    "status_dasar": ("status_dasar", "status_dasar_opensid"),
}
CODE_SHEET_LISTS = {
    **{col: lst for col, (_, lst) in CODED.items()},
    "cacat_id": "penyandang_cacat",
    "status_rekam": "status_rekam_ktpel_opensid",
}
# F-1.01 (6 codes) -> OpenSID's older 4-code list (tercatat or not is not kept)
KAWIN_6_TO_4 = {"1": "1", "2": "2", "3": "2", "4": "3", "5": "3", "6": "4"}
# every person-record defect but the village-name variant (the file name carries the desa)
OPENSID_KINDS = tuple(k for k in PERSON_KINDS if k != "village_name_variant")
FILE_KINDS = ("nik_number_cell",)
VILLAGE_KINDS = (
    "village_vs_siak_missing",
    "village_vs_siak_rt",
    "village_vs_siak_status_dasar",
    "village_vs_siak_no_rw",
)
DEFAULT_VILLAGE_DIFF_RATE = 0.005
MIN_ROWS_FOR_DEFECTS = 10


def drop_file_name(kode_desa: str) -> str:
    return f"penduduk_{kode_desa}.xlsx"


def _code_out(code: str | None, code_list: str, labels: bool) -> Any:
    """An OpenSID id as a number cell, or its label; unknown (defective) codes stay text."""
    if code is None:
        return None
    known = code_lists()[code_list]
    if code not in known:
        return code
    if labels:
        return known[code]
    return int(code) if code.isdigit() else code


def _iso_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None


class _Village:
    """One desa's file: which rows, in which style, with which differences and defects."""

    def __init__(self, world: World, kode: str, index: int, seed: int, rate: float, diff: float):
        self.kode = kode
        self.file_name = drop_file_name(kode)
        self.when = drop_time(world.config.as_of, minutes=7 * index)
        self.as_of = world.config.as_of
        self.r = rng_for(seed, "opensid", kode)
        self.labels = self.r.random() < 0.25
        self.date_cells = self.r.random() < 0.6
        is_desa = kode.split(".")[-1].startswith("2")
        self.no_rw = diff > 0 and is_desa and self.r.random() < 0.35
        self.seed = sub_seed(seed, "opensid-defects", kode)
        self.rate = rate
        self.diff = diff
        self.world = world
        self.truth: list[dict[str, Any]] = []

    def differ(self, clean: pa.Table) -> tuple[pa.Table, list[tuple[int | None, dict]]]:
        """The village's table and per-row truth of how it differs from Disdukcapil's."""
        return village_differences(self.r, clean, self.diff, self.no_rw)

    # -- the workbook -----------------------------------------------------------------------------
    def build(self, clean: pa.Table) -> bytes:
        village, notes = self.differ(clean)
        delivered, truth = delivered_with_defects(
            village,
            self.world,
            rate=self.rate,
            seed=self.seed,
            kinds=OPENSID_KINDS,
            entity="penduduk",
            min_rows=MIN_ROWS_FOR_DEFECTS,
        )
        rows = delivered.to_pylist()
        truth_rows = truth.to_pylist()
        dup_pos = {t["row_index"] for t in truth_rows if t["kind"] == "duplicate_nik"}
        originals = [p for p in range(len(rows)) if p not in dup_pos]
        for pos, note in notes:
            note["row_index"] = None if pos is None else originals[pos]
            truth_rows.append(note)
        kinds_at: dict[int, set[str]] = {}
        for t in truth_rows:
            if t["row_index"] is not None:
                kinds_at.setdefault(t["row_index"], set()).add(t["kind"])

        number_cells = self._number_cells(rows, truth_rows, kinds_at)
        for t in truth_rows:  # half the "mixed" dates use dashes instead of slashes
            if t["kind"] == "mixed_date_format" and self.r.random() < 0.5:
                v = t["delivered_value"].replace("/", "-")
                rows[t["row_index"]][t["field"]] = v
                replace_truth(truth_rows, t["row_index"], t["kind"], delivered_value=v)
        self.truth = located(
            truth_rows, source="opensid", file_name=self.file_name, first_row=2, kode_desa=self.kode
        )
        return self._workbook(rows, number_cells)

    def _number_cells(
        self, rows: list[dict], truth_rows: list[dict], kinds_at: dict[int, set[str]]
    ) -> set[tuple[int, str]]:
        """(row, column) written as a number: Excel-zeroed values, plus some intact NIKs."""
        cells = {
            (t["row_index"], t["field"]) for t in truth_rows if t["kind"] == "nik_excel_zeroed"
        }
        if self.rate <= 0 or len(rows) < MIN_ROWS_FOR_DEFECTS:
            return cells
        clean = [
            p
            for p, x in enumerate(rows)
            if p not in kinds_at and x["nik"] and len(x["nik"]) == 16 and x["nik"].isdigit()
        ]
        k = min(len(clean), round(len(rows) * self.rate / len(OPENSID_KINDS)))
        for p in sorted(self.r.sample(clean, k)):
            cells.add((p, "nik"))
            truth_rows.append(nik_number_cell(p, rows[p]["nik"]))
        return cells

    def _tanggal(self, value: str | None) -> Any:
        d = _iso_date(value)
        if d is not None:
            return d if self.date_cells else value
        if value and value.isdigit():
            return int(value)  # an Excel serial stored as a plain number
        return value

    def _workbook(self, rows: list[dict], number_cells: set[tuple[int, str]]) -> bytes:
        lists = code_lists()
        codes = [
            [col, int(code) if code.isdigit() else code, label]
            for col, lst in CODE_SHEET_LISTS.items()
            for code, label in lists[lst].items()
        ]
        people = (self._template_row(p, x, number_cells) for p, x in enumerate(rows))
        return xlsx_bytes(
            [
                (SHEET, itertools.chain([TEMPLATE_COLUMNS], people)),
                (CODES_SHEET, [["kolom", "kode", "keterangan"], *codes]),
            ],
            self.when,
        )

    def _template_row(self, p: int, x: dict, number_cells: set[tuple[int, str]]) -> list[Any]:
        def num(field: str) -> Any:
            v = x[field]
            if (p, field) in number_cells and v and v.isdigit():
                return int(v)
            return v

        kawin = x["status_perkawinan"]
        coded = {
            col: _code_out(
                KAWIN_6_TO_4.get(kawin, kawin) if src == "status_perkawinan" else x[src],
                lst,
                self.labels,
            )
            for col, (src, lst) in CODED.items()
        }
        born = _iso_date(x["tanggal_lahir"])
        adult = born is not None and (self.as_of - born).days >= 17 * 365.25
        rec = {
            "alamat": x["alamat"],
            "dusun": x["dusun"],
            "rw": "-" if self.no_rw else x["rw"],
            "rt": x["rt"],
            "nama": x["nama_lengkap"],
            "no_kk": num("no_kk"),
            "nik": num("nik"),
            "tempatlahir": x["tempat_lahir"],
            "tanggallahir": self._tanggal(x["tanggal_lahir"]),
            "ayah_nik": x["nik_ayah"],
            "nama_ayah": x["nama_ayah"],
            "ibu_nik": x["nik_ibu"],
            "nama_ibu": x["nama_ibu"],
            "status_rekam": None if born is None else (3 if adult else 1),
            **coded,
        }
        return [rec.get(c) for c in TEMPLATE_COLUMNS]


def village_codes(world: World, kecamatan: str | None = None) -> list[str]:
    """Desa codes present in the world (optionally of one kecamatan), sorted."""
    codes = sorted(set(world.penduduk.column("kode_desa").to_pylist()) - {None})
    return [c for c in codes if not kecamatan or c.startswith(kecamatan + ".")]


def write_opensid_drops(
    world_dir: Path | str,
    drop_dir: Path | str,
    *,
    defect_rate: float = 0.0,
    seed: int = 42,
    kecamatan: str | None = None,
    village_diff_rate: float | None = None,
) -> list[Path]:
    """One OpenSID workbook per desa into ``drop_dir``; ground truth next to the world.

    ``village_diff_rate`` (default 0.005 when ``defect_rate > 0``, else 0: a clean run matches
    SIAK exactly) sets how many residents/households differ from Disdukcapil.
    """
    world = load_world(world_dir)
    diff = (
        village_diff_rate
        if village_diff_rate is not None
        else (DEFAULT_VILLAGE_DIFF_RATE if defect_rate > 0 else 0.0)
    )
    out: list[Path] = []
    truth: list[dict[str, Any]] = []
    desa_col = world.penduduk.column("kode_desa")
    for i, kode in enumerate(village_codes(world, kecamatan)):
        clean = world.penduduk.filter(pc.equal(desa_col, kode))
        v = _Village(world, kode, i, seed, defect_rate, diff)
        data = v.build(clean)
        out.append(write_atomic(Path(drop_dir) / v.file_name, data, v.when))
        truth += v.truth
    write_truth(world_dir, "opensid_penduduk", truth)
    return out


def expected_rows(world_dir: Path | str, kecamatan: str | None = None) -> dict[str, int]:
    """Rows each drop file should hold per the ground truth (for tests and the demo check)."""
    import pyarrow.parquet as pq

    world = load_world(world_dir)
    truth = pq.read_table(Path(world_dir) / "ground_truth" / "opensid_penduduk.parquet")
    kinds = truth.column("kind").to_pylist()
    files = truth.column("source_file").to_pylist()
    counts: dict[str, int] = {}
    for kode in village_codes(world, kecamatan):
        n = int(pc.sum(pc.equal(world.penduduk.column("kode_desa"), kode)).as_py() or 0)
        counts[drop_file_name(kode)] = n
    for kind, f in zip(kinds, files, strict=True):
        if f in counts and kind == "village_vs_siak_missing":
            counts[f] -= 1
        elif f in counts and kind == "duplicate_nik":
            counts[f] += 1
    return counts


__all__ = [
    "FILE_KINDS",
    "OPENSID_KINDS",
    "TEMPLATE_COLUMNS",
    "VILLAGE_KINDS",
    "drop_file_name",
    "expected_rows",
    "village_codes",
    "write_opensid_drops",
]
