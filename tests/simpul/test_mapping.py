import pandas as pd
import pytest

from simpul.config import ConfigError
from simpul.mapping import Mapper, MappingSpec, load_mapping
from tests.siak_rows import siak_row


def apply(rows):
    mapper = Mapper(load_mapping("siak_penduduk"))
    frame = pd.DataFrame(rows).astype("string")
    return mapper.apply(frame, pd.Series(range(1, len(rows) + 1)))


def test_labels_become_codes_and_text_is_normalised():
    table, issues = apply([siak_row(
        "'1608014101900001\u200b", name=" siti\u00a0 contoh ", NO_KAB="8", NO_KEC="1",
        NO_RT="8.0", NO_RW="-", JENIS_KLMIN="Perempuan", GOL_DARAH="Tdk Th",
    )])
    row = table.to_pylist()[0]
    assert issues == []
    assert row["nik"] == "1608014101900001"
    assert row["nama_lengkap"] == "SITI CONTOH"
    assert row["jenis_kelamin"] == "2"
    assert row["golongan_darah"] == "13"
    assert row["kode_desa"] == "16.08.01.2006"
    assert row["rt"] == "008" and row["rw"] is None
    assert str(row["tanggal_lahir"]) == "1990-01-01"


@pytest.mark.parametrize("value", ["01-01-1990", "01/01/1990", "1990-01-01", "32874", "32874.0"])
def test_dates_in_every_format_agencies_send(value):
    table, issues = apply([siak_row(TGL_LHR=value)])
    assert issues == []
    assert str(table.column("tanggal_lahir")[0]) == "1990-01-01"


def test_unmappable_values_are_reported_with_row_and_field_not_value():
    table, issues = apply([siak_row(), siak_row("1608014101900002", AGAMA="JEDI",
                                                TGL_LHR="31-02-1990")])
    assert {(i.row, i.field) for i in issues} == {(2, "agama"), (2, "tanggal_lahir")}
    issue = next(i for i in issues if i.field == "agama")
    assert "AGAMA" in issue.problem_en and "JEDI" not in issue.problem_en
    assert "daftar kode" in issue.problem_id
    assert table.column("agama").to_pylist() == ["1", None]


def test_schema_drift_is_detected():
    mapper = Mapper(load_mapping("siak_penduduk"))
    cols = [c for c in siak_row() if c != "NIK"] + ["NIK_BARU"]
    assert mapper.check_columns(cols) == ["NIK"]


def test_mapping_file_is_validated(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "version: 1\nsource: s\nstream: x\nentity: penduduk\nfields:\n  nik: {from: NIK}\n"
    )
    with pytest.raises(ConfigError, match="missing"):
        load_mapping("bad", tmp_path)
    with pytest.raises(ValueError, match="unknown code_list"):
        MappingSpec.model_validate({
            "version": 1, "source": "s", "stream": "x", "entity": "penduduk",
            "fields": {"nik": {"from": "NIK", "code_list": "nope"}},
        })
