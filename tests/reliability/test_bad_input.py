"""The bad-input corpus (``corpus/make.py``) through the real drop connectors, the pipeline and
the CLI: each file is rejected on its own with a reason naming it (the run is "partial", exit
4, no traceback) or loads with every row loaded or quarantined — never a crash, never a lost
row."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from simpul import pipeline
from simpul.cli import main
from simpul.warehouse import open_warehouse

from .corpus.make import HOSTILE, OPENSID_NAME, dinsos_cases, huge_field_csv, opensid_cases

DINSOS = dinsos_cases()
OPENSID = opensid_cases()


def _dinsos_params():
    for case in sorted(DINSOS):
        yield pytest.param(case, id=case)


def _drop(home: Path, kind: str, name: str, data: bytes) -> Path:
    d = home / "drops" / kind
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)
    return d / name


def _cli_error(capsys, pipe: str, file_name: str) -> str:
    assert main(["run", pipe]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and " WARNING " not in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("simpul: error: ") and file_name in lines[0], lines[0]
    return lines[0]


def _cli_rejected(capsys, pipe: str, file_name: str) -> str:
    """The file is rejected alone: exit 4 (partial), its name and a bilingual reason shown,
    nothing loaded from it, no traceback."""
    assert main(["run", pipe]) == 4
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    assert file_name in text and "ditolak" in text, text
    wh = open_warehouse()
    try:
        rows = wh.query(
            "select status, reason_en, reason_id from ops.files where name = :n", {"n": file_name}
        )
    finally:
        wh.dispose()
    assert rows and rows[-1]["status"] == "rejected" and rows[-1]["reason_id"]
    return text


def _assert_nothing_lost(result: dict, expected_rows: int, stream: str) -> None:
    assert result["rows_received"] == expected_rows
    assert (
        result["rows_loaded"] + result["rows_quarantined"] + result["rows_duplicate"]
        == expected_rows
    ) or result["status"] == "held"
    wh = open_warehouse()
    try:
        if expected_rows:
            assert wh.scalar(f"select count(*) from raw.{stream}") == expected_rows
        q = wh.scalar(
            "select count(*) from ops.quarantine where load_id = :i", {"i": result["load_id"]}
        )
        assert q == result["rows_quarantined"]
        assert not wh.scalar(
            "select count(*) from ops.quarantine where load_id = :i and "
            "(reasons_en = '' or reasons_id = '' or rules = '')",
            {"i": result["load_id"]},
        )
    finally:
        wh.dispose()


@pytest.mark.parametrize("case", list(_dinsos_params()))
def test_dinsos_corpus(case, simpul_home, capsys):
    data, expect, rows = DINSOS[case]
    _drop(simpul_home, "dinsos", case, data)
    if expect == "error":
        _cli_rejected(capsys, "dinsos_penerima_bantuan", case)
        return
    result = pipeline.run("dinsos_penerima_bantuan")
    _assert_nothing_lost(result, rows, "dinsos_penerima_bantuan")


@pytest.mark.parametrize("case", sorted(OPENSID))
def test_opensid_corpus(case, simpul_home, capsys):
    data, expect, rows = OPENSID[case]
    name = f"{case}__{OPENSID_NAME}"
    if case.startswith("zip_"):
        name = name.removesuffix(".xlsx") + ".zip"
    _drop(simpul_home, "opensid", name, data)
    if expect == "error":
        _cli_rejected(capsys, "opensid_penduduk", name)
        return
    result = pipeline.run("opensid_penduduk")
    _assert_nothing_lost(result, rows, "opensid_penduduk")


def test_dinsos_values_arrive_exactly_as_sent(simpul_home):
    """Encodings decode to the same text; hostile text is stored verbatim, not executed."""
    for case in ("cp1252.csv", "sql_and_quotes.csv", "control_chars.csv"):
        _drop(simpul_home, "dinsos", case, DINSOS[case][0])
    pipeline.run("dinsos_penerima_bantuan")
    wh = open_warehouse()
    try:
        names = {r["NAMA"] for r in wh.query('select "NAMA" from raw.dinsos_penerima_bantuan')}
        assert "JOSÉ ÑUÑEZ ÇAG" in names
        assert set(HOSTILE) <= names
        assert "SITI\x00AMINAH" in names or "SITI\ufffdAMINAH" in names
        assert wh.scalar("select count(*) from ops.loads") >= 1  # the tables are all there
    finally:
        wh.dispose()


def test_a_100_mb_field_is_a_quarantined_row_naming_file_and_row(simpul_home):
    data = huge_field_csv()
    _drop(simpul_home, "dinsos", "huge.csv", data)
    del data
    started = time.monotonic()
    result = pipeline.run("dinsos_penerima_bantuan")
    assert result["rows_received"] == 2  # one good row, one broken: 50 % errors, so held
    assert result["rows_held"] + result["rows_loaded"] + result["rows_quarantined"] == 2
    wh = open_warehouse()
    try:
        reason = wh.scalar(
            "select reason_en from ops.dq_findings where row_number = 2 and rule = 'row_malformed'"
        )
    finally:
        wh.dispose()
    assert "row 3" in reason and "field" in reason
    assert time.monotonic() - started < 30


@pytest.mark.postgres
@pytest.mark.parametrize("case", ["control_chars.csv", "sql_and_quotes.csv"])
def test_hostile_text_on_postgres(case, simpul_home, pg_url, monkeypatch):
    monkeypatch.setenv("SIMPUL_WAREHOUSE_URL", pg_url)
    data, _, rows = DINSOS[case]
    _drop(simpul_home, "dinsos", case, data)
    result = pipeline.run("dinsos_penerima_bantuan")
    _assert_nothing_lost(result, rows, "dinsos_penerima_bantuan")
