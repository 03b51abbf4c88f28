"""Dinas Sosial CSV drops as they come: BOM or cp1252, ';' or ',', codes with or without dots."""

from __future__ import annotations

import pytest

from simpul import pipeline
from simpul.warehouse import open_warehouse

HEADER = "NIK;NO_KK;NAMA;PROGRAM;PERIODE;KODE_DESA;NOMINAL"


def row(i: int, **over: str) -> str:
    values = {
        "NIK": f"1608011301{90 + i % 10:02d}{i:04d}",
        "NO_KK": "1608010101100001",
        "NAMA": "Ñama",
        "PROGRAM": "PKH",
        "PERIODE": "2026-Q3",
        "KODE_DESA": "1608012006",
        "NOMINAL": "750000",
    }
    values.update(over)
    return ";".join(values[c] for c in HEADER.split(";"))


@pytest.fixture
def drop(simpul_home):
    folder = simpul_home / "drops" / "dinsos"
    folder.mkdir(parents=True)
    return folder


def test_recipients_load_and_defects_are_quarantined(drop):
    lines = (
        [HEADER]
        + [row(i) for i in range(1, 20)]
        + [
            row(20, KODE_DESA="16.08.01.2009"),  # dotted is fine too
            row(1),  # exact copy: dropped as a duplicate
            row(21, PROGRAM="ZZZ"),
            row(1, NOMINAL="700000"),  # same person, programme and period, other amount
        ]
    )
    (drop / "bantuan_cp1252.csv").write_bytes("\r\n".join(lines).encode("cp1252"))
    result = pipeline.run("dinsos_penerima_bantuan")
    assert result["rows_received"] == 23
    assert (result["rows_loaded"], result["rows_quarantined"], result["rows_duplicate"]) == (
        19,
        3,
        1,
    )
    wh = open_warehouse()
    assert wh.scalar("select count(distinct kode_desa) from core.penerima_bantuan") == 2
    assert wh.scalar("select sum(nominal) from core.penerima_bantuan") == 19 * 750000
    rules = {r["rules"] for r in wh.query("select rules from ops.quarantine")}
    assert rules == {"recipient_unique", "program_known"}
    wh.dispose()


def test_a_suspiciously_short_list_is_held_until_released(drop):
    import os

    full = drop / "bantuan_2026_q3.csv"
    full.write_text("\n".join([HEADER] + [row(i) for i in range(1, 41)]), encoding="utf-8")
    os.utime(full, (1_700_000_000, 1_700_000_000))
    assert pipeline.run("dinsos_penerima_bantuan")["rows_loaded"] == 40
    full.unlink()  # the drop folder keeps only the newest list
    short = drop / "bantuan_2026_q4.csv"
    short.write_text(
        "\n".join([HEADER] + [row(i, PERIODE="2026-Q4") for i in range(1, 11)]), encoding="utf-8"
    )
    held = pipeline.run("dinsos_penerima_bantuan")
    assert held["status"] == "held" and held["rows_loaded"] == 0
    assert "10 rows against 40" in held["message"] and "ditahan" in held["message"]
    released = pipeline.release("dinsos_penerima_bantuan", held["load_id"], "operator")
    assert released["status"] == "loaded" and released["rows_loaded"] == 10
