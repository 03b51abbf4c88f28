"""The kecamatan's PATEN application database through the generic SQL connector."""

from __future__ import annotations

from simpul import pipeline
from simpul.synth import WorldConfig, generate_world
from simpul.warehouse import open_warehouse


def test_paten_applications_sync_incrementally(simpul_home, monkeypatch):
    from simpul.simulators.paten import write_paten_db

    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "paten-test-pseudonym-key-0123456789abcd")
    world = simpul_home / "world"
    generate_world(WorldConfig(seed=3, population=1500)).write(world)
    write_paten_db(world, simpul_home / "drops" / "paten" / "paten.sqlite")  # simpul.yaml default
    first = pipeline.run("paten_permohonan")
    assert first["status"] == "loaded" and first["rows_loaded"] == first["rows_received"] > 50
    again = pipeline.run("paten_permohonan")
    assert again["rows_received"] <= 2  # only the inclusive boundary row(s)
    # the boundary record re-read is identical to the current version: a duplicate, not a load
    assert again["rows_duplicate"] == again["rows_received"] and again["rows_loaded"] == 0
    wh = open_warehouse()
    assert wh.scalar("select count(*) from core.permohonan_layanan") == first["rows_loaded"]
    turnaround = wh.query("select median_hari, p90_hari from marts.paten_waktu_layanan")
    assert turnaround and all(r["p90_hari"] >= r["median_hari"] >= 0 for r in turnaround)
    wh.dispose()
