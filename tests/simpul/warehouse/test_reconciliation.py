"""The reconciliation marts find exactly the cross-agency defects the simulators injected."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simpul.synth import WorldConfig, generate_world

KEY = "reconciliation-test-pseudonym-key-0123456789"


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory: pytest.TempPathFactory):
    from simpul.simulators.dinsos import write_dinsos_drop
    from simpul.simulators.opensid import write_opensid_drops
    from simpul.simulators.runner import serve_all

    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("recon")
    world, home = root / "world", root / "home"
    generate_world(WorldConfig(seed=7, population=2500)).write(world)
    mp.setenv("SIMPUL_HOME", str(home))
    mp.delenv("SIMPUL_WAREHOUSE_URL", raising=False)
    mp.setenv("SIMPUL_PSEUDONYM_KEY", KEY)
    write_opensid_drops(world, home / "drops/opensid", seed=7, village_diff_rate=0.02)
    write_dinsos_drop(world, home / "drops/dinsos", defect_rate=0.05, seed=7)
    # SIAK clean (the reference), OSS with defects
    servers = {
        **serve_all(world, base_port=0, only=["siak"], seed=7),
        **serve_all(world, base_port=0, only=["oss"], defect_rate=0.05, seed=7),
    }
    try:
        for h in servers.values():
            for k, v in h.env().items():
                mp.setenv(k, v)
        from simpul.pipeline import run

        for name in ("siak_penduduk", "opensid_penduduk", "oss_izin", "dinsos_penerima_bantuan"):
            assert run(name)["status"] == "loaded"
    finally:
        for h in servers.values():
            h.stop()
    from simpul.warehouse import open_warehouse
    from simpul.warehouse.reconciliation import build_reconciliation

    wh = open_warehouse()
    build_reconciliation(wh)
    found = wh.query("select temuan, pseudonim, kolom from marts.rekonsiliasi")
    alive = {r["nik"] for r in wh.query("select nik from core.penduduk where status_dasar = '1'")}
    wh.dispose()
    yield found, world, alive
    mp.undo()


def truth(world: Path, name: str):
    return pq.read_table(world / "ground_truth" / f"{name}.parquet").to_pylist()


def pseudonyms(niks) -> set[str]:
    from simpul.warehouse.pseudonym import pseudonym_key, pseudonymise

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIMPUL_PSEUDONYM_KEY", KEY)
        key = pseudonym_key()
    return {pseudonymise(n, key, "nik") for n in niks}


def found_set(found, temuan, kolom=None) -> set[str]:
    return {f["pseudonim"] for f in found if f["temuan"] == temuan and f["kolom"] == kolom}


def test_village_records_against_disdukcapil(reconciled):
    found, world, alive = reconciled
    gt = truth(world, "opensid_penduduk")
    missing = {t["nik"] for t in gt if t["kind"] == "village_vs_siak_missing"} & alive
    assert missing and found_set(found, "siak_tidak_di_desa") == pseudonyms(missing)
    for kind, kolom in (
        ("village_vs_siak_rt", "rt"),
        ("village_vs_siak_status_dasar", "status_dasar"),
    ):
        expected = {t["nik"] for t in gt if t["kind"] == kind}
        assert expected and found_set(found, "desa_siak_berbeda", kolom) == pseudonyms(expected)
    assert found_set(found, "desa_tidak_di_siak") == set()


def test_deceased_still_receiving_assistance(reconciled):
    found, world, _ = reconciled
    # the injector puts a deceased resident's NIK on a recipient row: the delivered value
    expected = {
        t["delivered_value"]
        for t in truth(world, "dinsos_penerima_bantuan")
        if t["kind"] == "deceased_receiving_assistance"
    }
    assert expected
    assert found_set(found, "meninggal_masih_menerima_bantuan") == pseudonyms(expected)


def test_permits_whose_applicant_is_unknown(reconciled):
    found, world, _ = reconciled
    expected = {
        t["delivered_value"]
        for t in truth(world, "oss_izin")
        if t["field"] == "nik_pemohon" and t["kind"] in ("permit_unknown_nik", "nik_excel_zeroed")
    }
    assert found_set(found, "izin_nik_tidak_dikenal") == pseudonyms(expected)


def test_marts_carry_no_nik(reconciled):
    found, _, _ = reconciled
    assert all(len(f["pseudonim"]) > 16 and not f["pseudonim"].isdigit() for f in found)
