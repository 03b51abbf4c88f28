"""run_suite: failing rows by position only, Data Docs without personal data, cross-source keys."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from simpul.mapping import Mapper, load_mapping
from simpul.validate import FAILURE_COLUMNS, Severity, build_data_docs, run_suite
from tests.siak_rows import person


# A check no pipeline runs yet (survivorship decides between sources); kept here, with its test,
# until a pipeline needs it.
def cross_source_duplicates(
    frame: pd.DataFrame,
    existing_keys: set[str],
    rows: pd.Series,
    *,
    key: str = "nik",
    severity: Severity = "warn",
) -> pd.DataFrame:
    """Rows whose ``key`` another source already delivered (e.g. NIKs in core from OpenSID).

    The same person in SIAK and in a village's OpenSID is expected, so the default is a
    warning that survivorship (``warehouse/survivorship.yaml``) decides between them; pass
    ``severity="error"`` for entities that must come from one source only. Vectorised: a set
    lookup over the column, no row loop. Returns failures in ``FAILURE_COLUMNS`` form.
    """
    values = frame[key].astype("string")
    hit = values.isin(existing_keys).fillna(False).to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "row": rows.to_numpy(dtype="int64")[hit],
            "rule": f"{key}_cross_source",
            "severity": severity,
            "field": key,
            "reason_en": f"this {key} was already delivered by another source",
            "reason_id": f"{key} ini sudah dikirim oleh sumber lain",
        },
        columns=FAILURE_COLUMNS,
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rows = [person(i) for i in range(1, 9)] + [person(9, AGAMA="JEDI", NO_KK="123")]
    table, _ = Mapper(load_mapping("siak_penduduk")).apply(
        pd.DataFrame(rows).astype("string"), pd.Series(range(1, 10))
    )
    return table.to_pandas()


@pytest.fixture(scope="module")
def validated(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    docs = tmp_path_factory.mktemp("stage") / "load-1"
    rows = pd.Series(range(101, 110))  # row numbers in the delivery differ from positions
    failures, summary = run_suite(frame, "penduduk", rows, docs_dir=docs, kabupaten="16.08")
    return failures, summary, docs


def test_failures_name_delivery_rows_and_rules(validated):
    failures, summary, _ = validated
    assert list(failures.columns) == FAILURE_COLUMNS
    assert set(failures.loc[failures["rule"] == "no_kk_structure", "row"]) == {109}
    counts = {c["rule"]: c["failed_rows"] for c in summary["checks"]}
    assert counts["no_kk_structure"] == 1 and counts["nik_structure"] == 0


def test_data_docs_are_built_without_personal_data(validated, frame: pd.DataFrame):
    _, _, docs = validated
    assert not (docs / "data_docs").exists()  # deferred (the default): built on demand
    index = build_data_docs(docs)
    assert index == docs / "data_docs" / "index.html"
    assert index.exists()
    pages = list((docs / "data_docs").rglob("*.html"))
    assert any("validations" in p.parts for p in pages)
    html = " ".join(p.read_text(encoding="utf-8") for p in pages)
    assert "no_kk_structure" in html or "no_kk" in html
    for value in [*frame["nik"].dropna(), *frame["no_kk"].dropna(), *frame["nama_lengkap"]]:
        assert value not in html
    for stored in ("validation.json", "validation_result.json"):
        text = (docs / stored).read_text()
        assert not any(v in text for v in [*frame["nik"].dropna(), *frame["nama_lengkap"]])


def test_data_docs_inline_setting_builds_them_in_the_run(
    frame: pd.DataFrame, tmp_path, monkeypatch
):
    monkeypatch.setenv("SIMPUL_DATA_DOCS", "inline")
    run_suite(frame, "penduduk", pd.Series(range(1, 10)), docs_dir=tmp_path, kabupaten="16.08")
    assert (tmp_path / "data_docs" / "index.html").exists()


def test_gx_result_holds_positions_not_values(frame: pd.DataFrame, monkeypatch):
    """Where GX validates (``engine="gx"``, and checks the vectorised pass leaves to it), the
    result it hands back carries indices only (no unexpected values, no index query)."""
    from great_expectations.datasource.fluent.interfaces import Batch

    from simpul import validate

    seen: list = []
    real = Batch.validate

    def spy(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        seen.append(result)
        return result

    monkeypatch.setattr(Batch, "validate", spy)
    validate.run_suite(frame, "penduduk", pd.Series(range(1, 10)), engine="gx", kabupaten="16.08")
    payload = str(seen[0].to_json_dict())
    assert "unexpected_list" not in payload and "unexpected_index_query" not in payload
    assert "unexpected_index_list" in payload
    for value in frame["nik"].dropna():
        assert value not in payload


def test_cross_source_duplicates_pass_and_fail(frame: pd.DataFrame):
    rows = pd.Series(range(1, len(frame) + 1))
    assert cross_source_duplicates(frame, set(), rows).empty
    known = {frame["nik"].iloc[2], "1608014101900999"}
    hits = cross_source_duplicates(frame, known, rows)
    assert list(hits.columns) == FAILURE_COLUMNS
    assert hits[["row", "rule", "severity"]].to_dict("records") == [
        {"row": 3, "rule": "nik_cross_source", "severity": "warn"}
    ]
    assert frame["nik"].iloc[2] not in " ".join(hits["reason_en"])
    strict = cross_source_duplicates(frame, known, rows, severity="error")
    assert strict["severity"].tolist() == ["error"]


def test_empty_failures_keep_their_columns(frame: pd.DataFrame, tmp_path: Path):
    good = frame.iloc[:3]
    failures, _ = run_suite(good, "penduduk", pd.Series([1, 2, 3]), kabupaten="16.08")
    assert failures.empty and list(failures.columns) == FAILURE_COLUMNS
