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
NIK_DESA = "1608010404800004"


def _padan_rows(wh: Any) -> None:
    rows = [  # Dinas Sosial: 3 records, 2 NIKs padan, 1 linked despite a typo
        ("p1", "dinsos", "1608010101800001", "ada_di_siak", "1608010101800001", "tertaut_otomatis"),
        ("p2", "dinsos", "1608010202800002", "ada_di_siak", "1608010202800002", "tertaut_otomatis"),
        ("p3", "dinsos", NIK_TYPO, "tidak_di_siak", NIK_TRUE, "tertaut_otomatis"),
        ("p4", "opensid", "1608010303800003", "tidak_di_siak", None, "tidak_cocok"),
        # two villages' OpenSID registers: 2001 has one record linked despite a typo
        ("p5", "opensid", NIK_DESA, "ada_di_siak", NIK_DESA, "tertaut_otomatis"),
        ("p6", "opensid", NIK_TYPO, "tidak_di_siak", NIK_TRUE, "tertaut_otomatis"),
    ]
    desa = {"p4": "16.08.01.2002", "p5": "16.08.01.2001", "p6": "16.08.01.2001"}
    with wh.begin() as conn:
        conn.exec_driver_sql("DELETE FROM core.padan")
        for pid, sumber, nik, status, siak, keputusan in rows:
            kode = f"'{desa[pid]}'" if pid in desa else "NULL"
            conn.exec_driver_sql(
                "INSERT INTO core.padan (padan_id, sumber, nik_sumber, status_nik, nik_siak, "
                f"keputusan, kode_desa) VALUES ('{pid}', '{sumber}', '{nik}', '{status}', "
                f"{repr(siak) if siak else 'NULL'}, '{keputusan}', {kode})"
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


def test_each_village_gets_the_padan_rate_of_its_own_register(wh: Any, simpul_home: Path) -> None:
    """The shipped grant to the villages: one delivery per village (partition ``kode_desa``),
    each with its own records' counts only, never a NIK."""
    root = simpul_home / "drop" / "desa"
    root.mkdir(parents=True)
    agreements = agreements_for(
        {},
        dinsos={
            "agency": "pemdes",
            "channel": {"type": "folder", "url": str(root)},
            "format": "csv",
            "datasets": {
                "padan_nik_mutu": {
                    "columns": ["sumber", "kode_desa", "catatan", "nik_padan", "tertaut_nik_salah"],
                    "params": {"source": "opensid", "per_desa": True},
                    "partition_by": "kode_desa",
                }
            },
        },
    )
    _padan_rows(wh)
    result = service.run(wh, agreements, agreement_id="dinsos", now=T0)
    assert sorted(q["part"] for q in result["queued"]) == ["16.08.01.2001", "16.08.01.2002"]
    got = {}
    for q in result["queued"]:
        folder = root / q["part"] / q["delivery_id"]
        text = (folder / "padan_nik_mutu.csv").read_text()
        got[q["part"]] = text.splitlines()
        for nik in (NIK_TYPO, NIK_TRUE, NIK_DESA):
            assert nik not in text + (folder / MANIFEST).read_text()
    assert got["16.08.01.2001"] == [
        "sumber,kode_desa,catatan,nik_padan,tertaut_nik_salah",
        "opensid,16.08.01.2001,2,1,1",
    ]
    assert got["16.08.01.2002"][1:] == ["opensid,16.08.01.2002,1,0,0"]
    # nothing changed: no village gets it again
    assert service.run(wh, agreements, agreement_id="dinsos", now=T0)["queued"] == []


def test_padan_rate_cannot_be_granted_with_personal_columns() -> None:
    with pytest.raises(ValueError, match="nik_sumber"):
        _agreements(["sumber", "persen_padan", "nik_sumber"])


def test_time_to_fix_report_shows_the_padan_rate(wh: Any) -> None:
    from simpul.exchange.feedback import time_to_fix, time_to_fix_report

    _padan_rows(wh)
    rows = {r["source"]: r for r in time_to_fix(wh, now=T0)}
    assert rows["opensid"]["persen_padan"] == 33.3  # one of its three NIKs is a SIAK NIK
    assert rows["siak"]["persen_padan"] is None  # the reference itself is not linked
    report = time_to_fix_report(list(rows.values()))
    assert "persen_padan" in report and NIK_TYPO not in report
