import pandas as pd
import pytest

from simpul.config import ConfigError
from simpul.mapping import FieldSpec, Mapper, MappingSpec, load_mapping
from tests.siak_rows import siak_row


def apply(rows):
    mapper = Mapper(load_mapping("siak_penduduk"))
    frame = pd.DataFrame(rows).astype("string")
    return mapper.apply(frame, pd.Series(range(1, len(rows) + 1)))


def test_labels_become_codes_and_text_is_normalised():
    table, issues = apply(
        [
            siak_row(
                "'1608014101900001\u200b",
                name=" siti\u00a0 contoh ",
                NO_KAB="8",
                NO_KEC="1",
                NO_RT="8.0",
                NO_RW="-",
                JENIS_KLMIN="Perempuan",
                GOL_DARAH="Tdk Th",
            )
        ]
    )
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
    table, issues = apply(
        [siak_row(), siak_row("1608014101900002", AGAMA="JEDI", TGL_LHR="31-02-1990")]
    )
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
        MappingSpec.model_validate(
            {
                "version": 1,
                "source": "s",
                "stream": "x",
                "entity": "penduduk",
                "fields": {"nik": {"from": "NIK", "code_list": "nope"}},
            }
        )


def test_village_names_become_codes_and_unmatched_names_are_reported():
    spec = load_mapping("siak_penduduk").model_copy(deep=True)
    spec.fields["kode_desa"] = FieldSpec.model_validate(
        {
            "from": "Desa/Kel",
            "transform": "village",
            "kecamatan_from": "Kecamatan",
            "kabupaten": "16.08",
        }
    )
    rows = [
        siak_row(**{"Desa/Kel": "Kota Baru Barat", "Kecamatan": "MARTAPURA"}),
        siak_row("1608014101900002", **{"Desa/Kel": "desa tanjung kemala", "Kecamatan": "160801"}),
        siak_row("1608014101900003", **{"Desa/Kel": "Narnia", "Kecamatan": "Martapura"}),
        siak_row("1608014101900004", **{"Desa/Kel": "Kota Baru Barat", "Kecamatan": "Atlantis"}),
    ]
    table, issues = Mapper(spec).apply(pd.DataFrame(rows).astype("string"), pd.Series([1, 2, 3, 4]))
    assert table.column("kode_desa").to_pylist() == ["16.08.01.2020", "16.08.01.2006", None, None]
    assert {(i.row, i.field, i.severity) for i in issues} == {
        (3, "kode_desa", "error"),
        (4, "kode_desa", "error"),
    }
    assert all("Narnia" not in i.problem_en for i in issues)


def test_fixed_kecamatan_for_a_village_name_column():
    f = FieldSpec.model_validate({"from": "DESA", "transform": "village", "kecamatan": "160801"})
    with pytest.raises(ValueError, match="exactly one"):
        FieldSpec.model_validate({"from": "DESA", "transform": "village"})
    with pytest.raises(ValueError, match="unknown kecamatan"):
        FieldSpec.model_validate({"from": "DESA", "transform": "village", "kecamatan": "99.99.99"})
    with pytest.raises(ValueError, match="need transform village"):
        FieldSpec.model_validate({"from": "DESA", "kecamatan": "16.08.01"})
    assert f.inputs == ["DESA"]


def test_village_name_disagreeing_with_the_code_is_a_warning_only():
    table, issues = apply(
        [
            siak_row(KEL_NAME="Desa Tanjung-Kemala"),  # a variant of the right name: fine
            siak_row("1608014101900002", KEL_NAME="KOTA BARU"),  # another village of Martapura
            siak_row("1608014101900003", KEL_NAME=None),  # nothing to compare
        ]
    )
    assert table.column("kode_desa").to_pylist() == ["16.08.01.2006"] * 3
    assert [(i.row, i.rule, i.severity) for i in issues] == [(2, "mapping_kode_desa_name", "warn")]
    failure = issues[0].as_failure()
    assert failure["rule"] == "mapping_kode_desa_name" and failure["severity"] == "warn"


def test_mapping_issue_as_failure_defaults_to_an_error_rule_per_field():
    _, issues = apply([siak_row(AGAMA="JEDI")])
    assert issues[0].as_failure() == {
        "row": 1,
        "rule": "mapping_agama",
        "severity": "error",
        "field": "agama",
        "reason_en": issues[0].problem_en,
        "reason_id": issues[0].problem_id,
    }


@pytest.mark.parametrize("label", ["perempuan", "PEREMPUAN", "Perempuan", " P "])
def test_labels_in_any_case_are_accepted(label):
    table, issues = apply([siak_row(JENIS_KLMIN=label)])
    assert issues == [] and table.column("jenis_kelamin").to_pylist() == ["2"]
