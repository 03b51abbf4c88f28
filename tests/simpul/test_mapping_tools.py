"""Mapping tools (simpul/mapping_tools.py) and the mapping features issue 14 needed: absent
fields, Excel serial timestamps, the generated reference and ``simpul mapping check``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from simpul.cli import main
from simpul.config import PROJECT_ROOT
from simpul.mapping import FieldSpec, Mapper, MappingSpec, load_mapping
from simpul.mapping_tools import mapping_json_schema, mapping_markdown
from tests.connectors.siak_export.test_connector import rows, xlsx


def test_generated_reference_is_committed_and_current() -> None:
    assert (PROJECT_ROOT / "docs" / "mappings.md").read_text() == mapping_markdown()
    committed = json.loads((PROJECT_ROOT / "docs" / "mapping.schema.json").read_text())
    assert committed == json.loads(json.dumps(mapping_json_schema()))


def test_every_mapping_validates_against_the_json_schema() -> None:
    import jsonschema
    import yaml

    schema = mapping_json_schema()
    for path in sorted((PROJECT_ROOT / "mappings").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_absent_fields_are_declared_not_faked() -> None:
    assert FieldSpec.model_validate({"absent": True}).inputs == []
    with pytest.raises(ValueError, match="absent"):
        FieldSpec.model_validate({"absent": True, "from": "X"})
    spec = load_mapping("siak_export_penduduk")
    assert spec.fields["dusun"].absent and "dusun" not in spec.source_columns


def test_excel_serial_timestamps_map_instead_of_crashing() -> None:
    spec = load_mapping("siak_export_penduduk")
    frame = pd.DataFrame({c: pd.Series([None, None, None], dtype="string")
                          for c in spec.source_columns})  # fmt: skip
    frame["Tgl Ubah"] = pd.Series(["46300.5", "46300", "2026-10-05T08:00:00Z"], dtype="string")
    table, issues = Mapper(spec).apply(frame, pd.Series([1, 2, 3]))
    got = [v.isoformat() for v in table.column("updated_at").to_pylist()]
    assert got == ["2026-10-05T12:00:00+00:00", "2026-10-05T00:00:00+00:00",
                   "2026-10-05T08:00:00+00:00"]  # fmt: skip
    assert not [i for i in issues if i.field == "updated_at"]


def test_mapping_check_shows_columns_and_what_would_be_quarantined(tmp_path: Path, capsys) -> None:
    data = rows(4)
    data[1]["Kelamin"] = "Entah"
    sample = tmp_path / "sample.xlsx"
    sample.write_bytes(xlsx(data))
    assert main(["mapping", "check", "siak_export_penduduk", str(sample)]) == 1
    out = capsys.readouterr().out
    assert "mapping_jenis_kelamin (error)" in out and "(absent)" in out
    assert "would quarantine / akan dikarantina: 1 of 4" in out
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx(rows(2)))
    assert main(["mapping", "check", "siak_export_penduduk", str(good)]) == 0
    assert main(["mapping", "check", "siak_export_penduduk", str(tmp_path / "no.xlsx")]) == 2


def test_mapping_spec_rejects_an_unknown_key() -> None:
    with pytest.raises(ValueError):
        MappingSpec.model_validate({"version": 1, "source": "x", "stream": "y",
                                    "entity": "penduduk", "fields": {}, "bogus": 1})  # fmt: skip
