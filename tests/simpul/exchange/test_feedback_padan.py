"""The per-agency padan rate in the data-quality feedback: an aggregate, never a NIK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from simpul.exchange import service
from simpul.exchange.errors import NotReady
from simpul.exchange.signing import MANIFEST

from .conftest import T0, agreements_for

NIK_TYPO = "1608014506900013"
NIK_TRUE = "1608014506900003"


def _padan_rows(wh: Any) -> None:
    rows = [  # Dinas Sosial: 3 records, 2 NIKs padan, 1 linked despite a typo
        ("p1", "dinsos", "1608010101800001", "ada_di_siak", "1608010101800001", "tertaut_otomatis"),
        ("p2", "dinsos", "1608010202800002", "ada_di_siak", "1608010202800002", "tertaut_otomatis"),
        ("p3", "dinsos", NIK_TYPO, "tidak_di_siak", NIK_TRUE, "tertaut_otomatis"),
        ("p4", "opensid", "1608010303800003", "tidak_di_siak", None, "tidak_cocok"),
    ]
    with wh.begin() as conn:
        conn.exec_driver_sql("DELETE FROM core.padan")
        for pid, sumber, nik, status, siak, keputusan in rows:
            conn.exec_driver_sql(
                "INSERT INTO core.padan (padan_id, sumber, nik_sumber, status_nik, nik_siak, "
                f"keputusan) VALUES ('{pid}', '{sumber}', '{nik}', '{status}', "
                f"{repr(siak) if siak else 'NULL'}, '{keputusan}')"
            )


def _agreements(columns: list[str]) -> Any:
    return agreements_for(
        {},
        dinsos={
            "datasets": {
                "meninggal_penerima_bantuan": {"columns": ["nik", "program", "periode"]},
                "padan_nik_mutu": {"columns": columns, "params": {"source": "dinsos"}},
            }
        },
    )


def test_padan_rate_goes_back_to_its_agency_as_an_aggregate(wh: Any) -> None:
    agreements = _agreements(["sumber", "catatan", "nik_padan", "persen_padan"])
    # padan NIK has not run: nothing to send yet, said so
    with wh.begin() as conn:
        conn.exec_driver_sql("DELETE FROM core.padan")
    with pytest.raises(NotReady):
        service.prepare(wh, agreements, "dinsos", "padan_nik_mutu", now=T0)
    _padan_rows(wh)
    row = service.prepare(wh, agreements, "dinsos", "padan_nik_mutu", now=T0)
    folder = Path(row["path"])
    manifest = json.loads((folder / MANIFEST).read_bytes())
    data = folder / manifest["files"][0]["name"]
    rows = pq.read_table(data).to_pylist()  # Dinas Sosial's agreement delivers parquet
    # its own source only, granted columns only (the rest of the whitelist stays home)
    assert rows == [{"sumber": "dinsos", "catatan": 3, "nik_padan": 2, "persen_padan": 66.7}]
    assert manifest["files"][1:] == []  # nothing attached
    text = (folder / MANIFEST).read_text()
    for nik in (NIK_TYPO, NIK_TRUE, "1608010101800001"):
        assert nik not in text


def test_padan_rate_cannot_be_granted_with_personal_columns() -> None:
    with pytest.raises(ValueError, match="nik_sumber"):
        _agreements(["sumber", "persen_padan", "nik_sumber"])


def test_time_to_fix_report_shows_the_padan_rate(wh: Any) -> None:
    from simpul.exchange.feedback import time_to_fix, time_to_fix_report

    _padan_rows(wh)
    rows = {r["source"]: r for r in time_to_fix(wh, now=T0)}
    assert rows["opensid"]["persen_padan"] == 0.0  # its one record's NIK is no SIAK NIK
    assert rows["siak"]["persen_padan"] is None  # the reference itself is not linked
    report = time_to_fix_report(list(rows.values()))
    assert "persen_padan" in report and NIK_TYPO not in report
