"""Agreements as data: validation names file and key; default deny; formats and suppression."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from simpul.exchange.agreements import load_agreements, plan
from simpul.exchange.datasets import DATASETS
from simpul.exchange.errors import AgreementError
from simpul.exchange.formats import write_csv
from simpul.exchange.shaping import shape
from simpul.warehouse.disclosure import suppress_small_cells

from .conftest import agreements_for


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "agreements.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _base() -> dict:
    return agreements_for({}).model_dump(mode="json", exclude_none=True)


def test_shipped_agreements_are_valid_and_planned() -> None:
    agreements = load_agreements()
    rows = plan(agreements)
    assert {r["channel"] for r in rows} == {"rest", "folder", "ckan"}
    assert any(r["dataset"] == "penduduk_agregat" and r["channel"] == "ckan" for r in rows)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["agreements"]["dukcapil"]["datasets"]["penduduk_selisih_siak"][
                "columns"
            ].append("nama_ibu"),
            "agreements.dukcapil: datasets.penduduk_selisih_siak.columns: ['nama_ibu']",
        ),
        (
            lambda d: d["agreements"]["dukcapil"]["datasets"].update({"semua": {"columns": ["x"]}}),
            "unknown dataset",
        ),
        (lambda d: d["agreements"]["dukcapil"].pop("pks_reference"), "pks_reference"),
        (
            lambda d: d["agreements"]["dukcapil"].update(
                channel={"type": "rest", "url": "http://x", "token_env": "s3cr3t-value"}
            ),
            "agreements.dukcapil.channel.rest.token_env",
        ),
        (
            lambda d: d["agreements"]["dukcapil"]["datasets"]["penduduk_selisih_siak"].update(
                filter={"where": [{"column": "nama_ibu", "op": "eq", "value": "x"}]}
            ),
            "filter: column 'nama_ibu'",
        ),
        (
            lambda d: d["agreements"]["dukcapil"]["datasets"]["penduduk_selisih_siak"].update(
                filter={"sql": "1=1"}
            ),
            "sql",
        ),
        (
            lambda d: d["agreements"]["dukcapil"].update(
                channel={"type": "ckan", "url": "http://x", "owner_org": "o", "package_name": "pkg"}
            ),
            "may not go to a CKAN portal",
        ),
    ],
)
def test_invalid_agreements_name_file_and_key(tmp_path: Path, change, message: str) -> None:
    data = _base()
    change(data)
    path = _write(tmp_path, data)
    with pytest.raises(AgreementError) as err:
        load_agreements(path)
    text = str(err.value)
    assert str(path) in text
    assert message in text


def test_shape_sends_only_granted_columns_even_if_query_returns_more() -> None:
    ds = DATASETS["penduduk_selisih_siak"]
    table = pa.table(
        {
            "nik": ["1608014101900001", "1608020404900004"],
            "nama_lengkap": ["A", "B"],
            "kode_desa": ["16.08.01.2006", "16.08.02.2001"],
            "nama_ibu": ["IBU A", "IBU B"],  # a column the dataset may not even yield
            "no_kk": ["1", "2"],  # a dataset column that was not granted
        }
    )
    agreements = agreements_for({})
    grant = agreements.agreements["dukcapil"].datasets["penduduk_selisih_siak"]
    out = shape(ds, table, ["nik", "kode_desa"], grant.filter)
    assert out.column_names == ["nik", "kode_desa"]
    assert out.column("kode_desa").to_pylist() == ["16.08.01.2006"]


def test_csv_cells_that_look_like_formulas_are_neutralised(tmp_path: Path) -> None:
    evil = ['=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)", "\tx", "\rx", "ok", None]
    path = tmp_path / "x.csv"
    write_csv(pa.table({"v": evil, "n": list(range(len(evil)))}), path)
    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    assert [r["v"] for r in rows] == [
        '\'=HYPERLINK("http://evil")',
        "'+1+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "ok",
        "",
    ]
    assert [r["n"] for r in rows] == [str(i) for i in range(len(evil))]  # numbers untouched


def test_small_cells_are_suppressed_with_complementary_cell() -> None:
    table = pa.table(
        {
            "kode_desa": ["A", "A", "A", "B", "B"],
            "jk": ["1", "2", "3", "1", "2"],
            "jumlah": pa.array([3, 7, 20, 0, 50], pa.int64()),
        }
    )
    out = suppress_small_cells(table, "jumlah", 5, ["kode_desa"])
    # 3 < 5 masked; alone in its group, so the next smallest (7) is masked too; 0 stays
    assert out.column("jumlah").to_pylist() == [None, None, 20, 0, 50]
    assert out.column("disamarkan").to_pylist() == [True, True, False, False, False]


def test_aggregate_shape_sums_over_ungranted_dimensions() -> None:
    ds = DATASETS["penduduk_agregat"]
    table = pa.table(
        {
            "kode_desa": ["A", "A", "A"],
            "jenis_kelamin": ["1", "1", "2"],
            "agama": ["1", "2", "1"],
            "jumlah": pa.array([3, 4, 9], pa.int64()),
        }
    )
    out = shape(ds, table, ["kode_desa", "jenis_kelamin", "jumlah"], small_cell_threshold=5)
    assert out.column_names == ["kode_desa", "jenis_kelamin", "jumlah", "disamarkan"]
    # religion not granted: 3 + 4 = 7 is no longer small, 9 stays
    assert out.column("jumlah").to_pylist() == [7, 9]
