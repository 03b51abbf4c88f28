"""File-drop simulators: OpenSID workbooks, SIAK 37-column export, Dinas Sosial CSV.

Each is read back with the hub's own readers, and every ground-truth row is checked against
the cell it names (file + row), so the truth cannot drift from the files.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from connectors.base.contract import ReadResult
from connectors.base.files import read_xlsx
from connectors.base.text_files import read_csv
from connectors.opensid.connector import TEMPLATE_COLUMNS as CONNECTOR_COLUMNS
from connectors.opensid.connector import OpenSidDropConnector
from simpul.simulators.dinsos import DINSOS_COLUMNS, write_dinsos_drop
from simpul.simulators.opensid import (
    CODED,
    FILE_KINDS,
    KAWIN_6_TO_4,
    OPENSID_KINDS,
    TEMPLATE_COLUMNS,
    VILLAGE_KINDS,
    expected_rows,
    write_opensid_drops,
)
from simpul.simulators.siak_export import SIAK_EXPORT_COLUMNS, write_siak_export
from simpul.synth import load_world
from simpul.synth.codes import code_lists

DOCS = Path(__file__).resolve().parents[2] / "docs" / "FORMATS.md"
KEC = "16.08.01"
# canonical field in the truth -> template column
TEMPLATE_FIELD = {
    "nik": "nik",
    "no_kk": "no_kk",
    "nama_lengkap": "nama",
    "alamat": "alamat",
    "tanggal_lahir": "tanggallahir",
    "rt": "rt",
    "rw": "rw",
    **{src: col for col, (src, _) in CODED.items()},
}


def _read_drop(drop: Path) -> pa.Table:
    c = OpenSidDropConnector(str(drop), kecamatan=KEC)
    return pa.Table.from_batches(list(c.read("penduduk", since=None, result=ReadResult())))


def _as_code(field: str, value: str | None) -> str | None:
    """A template cell back to the canonical code the truth speaks in."""
    if value is None:
        return None
    col = TEMPLATE_FIELD[field]
    if col in CODED:
        lst = CODED[col][1]
        by_label = {v: k for k, v in code_lists()[lst].items()}
        value = by_label.get(value, value)
    if field == "tanggal_lahir":
        value = value.removesuffix("T00:00:00")
    return value


@pytest.fixture(scope="module")
def opensid(world_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    import shutil

    world = tmp_path_factory.mktemp("w") / "world"
    shutil.copytree(world_dir, world)
    drop = tmp_path_factory.mktemp("opensid")
    files = write_opensid_drops(world, drop, defect_rate=0.06, seed=3)
    truth = pq.read_table(world / "ground_truth" / "opensid_penduduk.parquet")
    return world, drop, files, truth


def test_template_columns_are_the_connectors() -> None:
    assert TEMPLATE_COLUMNS == CONNECTOR_COLUMNS and len(TEMPLATE_COLUMNS) == 43


def test_opensid_drops_read_by_connector(opensid) -> None:
    world_dir, drop, files, truth = opensid
    world = load_world(world_dir)
    villages = sorted(set(world.penduduk.column("kode_desa").to_pylist()))
    assert [f.name for f in files] == [f"penduduk_{v}.xlsx" for v in villages]
    table = _read_drop(drop)
    kinds = Counter(truth.column("kind").to_pylist())
    expected = world.penduduk.num_rows - kinds["village_vs_siak_missing"] + kinds["duplicate_nik"]
    assert table.num_rows == expected
    assert Counter(table.column("_source_file").to_pylist()) == expected_rows(world_dir)
    assert set(table.column("_kode_desa").to_pylist()) == set(villages)
    assert set(kinds) == set(OPENSID_KINDS) | set(FILE_KINDS) | set(VILLAGE_KINDS)


def test_every_truth_row_names_its_cell(opensid) -> None:
    world_dir, drop, _, truth = opensid
    table = _read_drop(drop)
    cells = {(r["_source_file"], int(r["_source_row"])): r for r in table.to_pylist()}
    world = load_world(world_dir)
    dead = set(
        pc.filter(world.penduduk["nik"], pc.equal(world.penduduk["status_dasar"], "2")).to_pylist()
    )
    for t in truth.to_pylist():
        if t["kind"] == "village_vs_siak_missing":
            assert t["source_row"] is None
            assert t["nik"] not in set(table.column("nik").to_pylist())
            continue
        row = cells[(t["source_file"], t["source_row"])]
        assert row["_kode_desa"] == t["kode_desa"]
        got = _as_code(t["field"], row[TEMPLATE_FIELD[t["field"]]])
        want = t["delivered_value"]
        if t["field"] == "status_perkawinan" and want in KAWIN_6_TO_4:
            want = KAWIN_6_TO_4[want]
        assert got == want, t["kind"]
        if t["kind"] == "village_vs_siak_status_dasar":
            assert t["nik"] in dead


def test_number_cells_and_date_styles(opensid) -> None:
    _, drop, _, truth = opensid
    numbers = [t for t in truth.to_pylist() if t["kind"] in ("nik_number_cell", "nik_excel_zeroed")]
    assert numbers
    col = {"nik": TEMPLATE_COLUMNS.index("nik") + 1, "no_kk": TEMPLATE_COLUMNS.index("no_kk") + 1}
    books: dict[str, openpyxl.Workbook] = {}
    date_cells = 0
    for t in numbers:
        wb = books.setdefault(t["source_file"], openpyxl.load_workbook(drop / t["source_file"]))
        cell = wb["Data Penduduk"].cell(t["source_row"], col[t["field"]])
        assert isinstance(cell.value, int)
    for f in sorted(drop.glob("*.xlsx")):
        wb = openpyxl.load_workbook(f, read_only=True)
        assert wb.sheetnames == ["Data Penduduk", "Kode Data"]
        row = next(wb["Data Penduduk"].iter_rows(min_row=2, max_row=2, values_only=True))
        date_cells += hasattr(row[TEMPLATE_COLUMNS.index("tanggallahir")], "year")
    assert 0 < date_cells < len(list(drop.glob("*.xlsx")))  # both styles occur
    dates = [t["delivered_value"] for t in truth.to_pylist() if t["kind"] == "mixed_date_format"]
    assert any("/" in d for d in dates) and any(re.fullmatch(r"\d\d-\d\d-\d{4}", d) for d in dates)


def test_clean_drops_match_siak_and_are_reproducible(fresh_world: Path, tmp_path: Path) -> None:
    a = write_opensid_drops(fresh_world, tmp_path / "a", seed=9)
    b = write_opensid_drops(fresh_world, tmp_path / "b", seed=9)
    assert [x.read_bytes() for x in a] == [x.read_bytes() for x in b]
    truth = pq.read_table(fresh_world / "ground_truth" / "opensid_penduduk.parquet")
    assert truth.num_rows == 0
    table = _read_drop(tmp_path / "a")
    world = load_world(fresh_world)
    assert sorted(table.column("nik").to_pylist()) == sorted(world.penduduk["nik"].to_pylist())
    rw = set(table.column("rw").to_pylist())
    assert all(re.fullmatch(r"\d{3}", v) for v in rw)


def _formats_siak_header() -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("## 1.")[1].split("Quirks")[0]
    body = " ".join(block.splitlines()[1:])
    return [c.strip() for c in body.split(",") if c.strip()]


def test_siak_export_matches_formats_md(fresh_world: Path, tmp_path: Path) -> None:
    out = write_siak_export(fresh_world, tmp_path / "siak.xlsx", defect_rate=0.05, seed=4)
    assert SIAK_EXPORT_COLUMNS == _formats_siak_header() and len(SIAK_EXPORT_COLUMNS) == 37
    wb = openpyxl.load_workbook(out, read_only=True)
    assert len(wb.sheetnames) == 1
    header = next(wb.worksheets[0].iter_rows(max_row=1, values_only=True))
    assert list(header) == SIAK_EXPORT_COLUMNS
    table = pa.Table.from_batches(list(read_xlsx(out.read_bytes(), out.name)))
    rows = table.to_pylist()
    truth = pq.read_table(fresh_world / "ground_truth" / "siak_export.parquet").to_pylist()
    kinds = Counter(t["kind"] for t in truth)
    world = load_world(fresh_world)
    assert len(rows) == world.penduduk.num_rows + kinds["duplicate_nik"]
    assert {r["Status"] for r in rows} <= {"Hidup", "Mati", "Pindah", "Hilang", "Pergi"}
    assert {"Laki-laki", "Perempuan"} == {r["Kelamin"] for r in rows} - {"0", "99", "X", "77"}
    serials = [r["Tanggal Lahir"] for r in rows]
    assert sum(bool(re.fullmatch(r"\d{4,5}", s or "")) for s in serials) > 0.9 * len(rows)
    assert any(re.fullmatch(r"\d{4,5}\.0", s or "") for s in serials)
    assert any((r["RT"] or "").endswith(".0") for r in rows)
    assert {r["Kecamatan"] for r in rows} == {"MARTAPURA"}
    by_row = {int(r["_source_row"]): r for r in rows}
    field_col = {
        "nik": "NIK",
        "no_kk": "Nomor KK",
        "nama_lengkap": "Nama Penduduk",
        "tanggal_lahir": "Tanggal Lahir",
        "nama_desa": "Desa/Kel",
        "alamat": "Alamat",
    }
    for t in truth:
        if t["field"] in field_col and t["kind"] not in ("future_date",):
            got = by_row[t["source_row"]][field_col[t["field"]]]
            if t["field"] == "alamat":
                got, want = got.upper(), t["delivered_value"].upper()
            else:
                want = t["delivered_value"]
            assert got == want, t["kind"]


def test_dinsos_csv(fresh_world: Path, tmp_path: Path) -> None:
    out = write_dinsos_drop(fresh_world, tmp_path, defect_rate=0.05, seed=4)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + ";".join(DINSOS_COLUMNS).encode() + b"\r\n")
    table = pa.Table.from_batches(list(read_csv(raw, out.name)))
    assert table.schema.names[:7] == DINSOS_COLUMNS
    world = load_world(fresh_world)
    truth = pq.read_table(fresh_world / "ground_truth" / "dinsos_penerima_bantuan.parquet")
    kinds = Counter(truth.column("kind").to_pylist())
    assert kinds["deceased_receiving_assistance"] >= 1
    assert table.num_rows == world.penerima_bantuan.num_rows + kinds["duplicate_nik"]
    rows = {int(r["_source_row"]): r for r in table.to_pylist()}
    status = dict(
        zip(
            world.penduduk["nik"].to_pylist(),
            world.penduduk["status_dasar"].to_pylist(),
            strict=True,
        )
    )
    col = {"nik": "NIK", "no_kk": "NO_KK", "nama_lengkap": "NAMA"}
    for t in truth.to_pylist():
        assert rows[t["source_row"]][col[t["field"]]] == t["delivered_value"]
        if t["kind"] == "deceased_receiving_assistance":
            assert status[t["delivered_value"]] == "2"
    assert all(re.fullmatch(r"\d{10}", r["KODE_DESA"]) for r in rows.values())
