"""Padan NIK in the warehouse: a deceased aid recipient whose NIK the list mistyped is caught
only through linkage; review decisions are audited and feed the marts; logs stay clean."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simpul.synth import WorldConfig, generate_world

KEY = "padan-store-test-pseudonym-key-0123456789"


def _mistype(nik: str, known: set[str]) -> str:
    for pos in (13, 12, 14):
        for d in "0123456789":
            cand = nik[:pos] + d + nik[pos + 1 :]
            if cand != nik and cand not in known:
                return cand
    raise AssertionError("no free typo")


def _mistype_applicant(
    path: Path, known: set[str], names: dict[str, str] | None = None
) -> tuple[str, str]:
    """Mistype one applicant's NIK (all their rows) in a world table; returns (true, typo).
    ``names``: also give every applicant their name (``nama_pemohon``), as real OSS exports do."""
    import pyarrow as pa

    table = pq.read_table(path)
    niks = table.column("nik_pemohon").to_pylist()
    true = next(n for n in niks if n in known)
    typo = _mistype(true, known)
    fixed = [typo if n == true else n for n in niks]
    i = table.schema.get_field_index("nik_pemohon")
    table = table.set_column(i, "nik_pemohon", pa.array(fixed, table.schema.field(i).type))
    if names is not None:
        table = table.append_column("nama_pemohon", pa.array([names.get(n) for n in niks]))
    pq.write_table(table, path, compression="zstd")
    return true, typo


@pytest.fixture(scope="module")
def padan_home(tmp_path_factory: pytest.TempPathFactory):
    from simpul.simulators.dinsos import write_dinsos_drop
    from simpul.simulators.opensid import write_opensid_drops
    from simpul.simulators.paten import write_paten_db
    from simpul.simulators.runner import serve_all

    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("padan")
    world, home = root / "world", root / "home"
    w = generate_world(WorldConfig(seed=7, population=1500))
    w.write(world)
    mp.setenv("SIMPUL_HOME", str(home))
    mp.delenv("SIMPUL_WAREHOUSE_URL", raising=False)
    mp.setenv("SIMPUL_PSEUDONYM_KEY", KEY)
    write_opensid_drops(world, home / "drops/opensid", seed=7, village_diff_rate=0.02)
    csv_path = write_dinsos_drop(world, home / "drops/dinsos", defect_rate=0.05, seed=7)
    truth = pq.read_table(world / "ground_truth" / "dinsos_penerima_bantuan.parquet").to_pylist()
    dead = sorted(
        {t["delivered_value"] for t in truth if t["kind"] == "deceased_receiving_assistance"}
    )
    assert dead, "the drop must list a deceased recipient"
    # the aid list mistypes one digit of the deceased recipient's NIK: the exact join misses it
    known = set(w.penduduk.column("nik").to_pylist())
    victim = dead[0]
    typo = _mistype(victim, known)
    st = csv_path.stat()
    csv_path.write_bytes(csv_path.read_bytes().replace(victim.encode(), typo.encode()))
    os.utime(csv_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    # an OSS permit and a PATEN application whose applicant NIK has one mistyped digit
    names = dict(
        zip(
            w.penduduk.column("nik").to_pylist(),
            w.penduduk.column("nama_lengkap").to_pylist(),
            strict=True,
        )
    )
    applicant, applicant_typo = _mistype_applicant(world / "izin.parquet", known, names)
    pemohon, pemohon_typo = _mistype_applicant(world / "permohonan_layanan.parquet", known)
    write_paten_db(world, home / "drops/paten/paten.sqlite")
    servers = serve_all(world, base_port=0, only=["siak", "oss"], seed=7)
    try:
        for h in servers.values():
            for k, v in h.env().items():
                mp.setenv(k, v)
        from simpul.pipeline import run

        for name in (
            "siak_penduduk",
            "opensid_penduduk",
            "dinsos_penerima_bantuan",
            "oss_izin",
            "paten_permohonan",
        ):
            assert run(name)["status"] == "loaded"
    finally:
        for h in servers.values():
            h.stop()
    yield {
        "home": home,
        "victim": victim,
        "typo": typo,
        "dead": dead,
        "applicant": applicant,
        "applicant_typo": applicant_typo,
        "pemohon": pemohon,
        "pemohon_typo": pemohon_typo,
    }
    mp.undo()


def _deceased_found(wh, nik: str) -> list[dict]:
    from simpul.warehouse.pseudonym import pseudonym_key, pseudonymise
    from simpul.warehouse.reconciliation import build_reconciliation

    build_reconciliation(wh)
    p = pseudonymise(nik, pseudonym_key(), "nik")
    return wh.query("select temuan, sumber from marts.rekonsiliasi where pseudonim = :p", {"p": p})


def test_only_linkage_finds_the_deceased_recipient_with_a_mistyped_nik(padan_home, caplog):
    from simpul.padan.store import run_padan
    from simpul.warehouse import open_warehouse

    wh = open_warehouse()
    try:
        before = _deceased_found(wh, padan_home["victim"])
        assert not [f for f in before if f["temuan"] == "meninggal_masih_menerima_bantuan"]
        with caplog.at_level(logging.DEBUG):
            result = run_padan(wh)
        assert result["status"] == "ok"
        row = wh.query("select * from core.padan where nik_sumber = :n", {"n": padan_home["typo"]})[
            0
        ]
        assert row["nik_siak"] == padan_home["victim"]
        assert row["keputusan"] == "tertaut_otomatis" and row["status_nik"] == "tidak_di_siak"
        assert "NIK beda satu angka" in row["penjelasan_id"]
        assert "NIK differs in one digit" in row["penjelasan_en"]
        after = _deceased_found(wh, padan_home["victim"])
        assert {"temuan": "meninggal_masih_menerima_bantuan", "sumber": "padan:dinsos"} in after
        assert {"temuan": "nik_tidak_padan", "sumber": "padan:dinsos"} in after
        summary = {r["sumber"]: r for r in result["counts"]}
        assert set(summary) == {"dinsos", "opensid", "oss", "paten"}
        assert summary["dinsos"]["tertaut"] >= summary["dinsos"]["nik_padan"]
        assert 0 < float(summary["dinsos"]["persen_padan"]) < 100  # the typo is not padan
        # the model is saved, versioned, with its training report
        d = padan_home["home"] / "padan" / "models" / result["model_version"]
        assert (d / "model.json").exists() and (d / "training_report.json").exists()
    finally:
        wh.dispose()
    logged = caplog.text
    assert padan_home["victim"] not in logged and padan_home["typo"] not in logged


def test_review_accept_is_audited_and_feeds_the_marts(padan_home, capsys):
    from simpul.cli import main
    from simpul.orchestration import audit
    from simpul.padan.store import review_queue
    from simpul.warehouse import open_warehouse

    wh = open_warehouse()
    try:
        # a borderline score: the same link waits in the review queue instead
        with wh.begin() as conn:
            conn.exec_driver_sql(
                "update core.padan set keputusan = 'tinjau' "
                f"where nik_sumber = '{padan_home['typo']}'"
            )
        found = _deceased_found(wh, padan_home["victim"])
        assert not [f for f in found if f["temuan"] == "meninggal_masih_menerima_bantuan"]
        queue = review_queue(wh)
        item = next(q for q in queue if q["nik_siak"].strip("*"))
        pid = item["padan_id"]
        # masked except the differing digit(s)
        assert item["nik_sumber"].count("*") == 15 and item["nik_siak"].count("*") == 15
    finally:
        wh.dispose()
    assert main(["padan", "review"]) == 0
    listing = capsys.readouterr().out
    assert pid in listing and padan_home["victim"] not in listing
    assert main(["padan", "review", "--accept", pid, "--operator", "Petugas Dinsos A"]) == 0
    assert "diterima" in capsys.readouterr().out
    entry = audit.read(5)[-1]
    assert entry["command"] == "padan review" and entry["outcome"] == "diterima"
    assert entry["operator"] == "Petugas Dinsos A" and entry["args"]["padan_id"] == pid
    assert padan_home["victim"] not in json.dumps(entry)
    wh = open_warehouse()
    try:
        rows = wh.query("select * from ops.audit where command = 'padan review'")
        assert rows and rows[-1]["operator"] == "Petugas Dinsos A"
        row = wh.query("select * from core.padan where padan_id = :p", {"p": pid})[0]
        assert row["keputusan"] == "diterima" and row["ditinjau_oleh"] == "Petugas Dinsos A"
        assert row["ditinjau_pada"] is not None
        found = _deceased_found(wh, padan_home["victim"])
        assert {"temuan": "meninggal_masih_menerima_bantuan", "sumber": "padan:dinsos"} in found
    finally:
        wh.dispose()
    # a decided link is no longer in the queue: a second decision is refused, exit code 2
    assert main(["padan", "review", "--reject", pid]) == 2
    assert "not in the review queue" in capsys.readouterr().err


def test_review_decisions_survive_a_rerun_and_reject_removes_the_link(padan_home):
    from simpul.padan.store import decide_review, run_padan
    from simpul.warehouse import open_warehouse

    models = sorted((Path(padan_home["home"]) / "padan" / "models").iterdir())
    wh = open_warehouse()
    try:
        run_padan(wh, model_path=models[-1] / "model.json")
        row = wh.query("select * from core.padan where nik_sumber = :n", {"n": padan_home["typo"]})[
            0
        ]
        assert row["keputusan"] == "diterima"  # kept: same candidate as reviewed
        with wh.begin() as conn:
            conn.exec_driver_sql(
                f"update core.padan set keputusan = 'tinjau' where padan_id = '{row['padan_id']}'"
            )
        decide_review(wh, row["padan_id"], accept=False, operator="Petugas B")
        found = _deceased_found(wh, padan_home["victim"])
        assert not [f for f in found if f["sumber"] == "padan:dinsos"]
    finally:
        wh.dispose()


def test_permit_applicant_with_a_mistyped_nik_is_linked_not_unknown(padan_home, caplog):
    """Applicants carry fewer fields (OSS: NIK, name, village; PATEN: NIK and village): the
    missing ones compare as null, and linkage still resolves a mistyped NIK where there is
    evidence, so "permit applicant unknown to SIAK" becomes "NIK not padan" (to correct at the
    source); where the NIK is all there is, only an exact SIAK NIK links."""
    from simpul.padan.store import run_padan
    from simpul.warehouse import open_warehouse
    from simpul.warehouse.pseudonym import pseudonym_key, pseudonymise
    from simpul.warehouse.reconciliation import build_reconciliation

    def findings(wh, nik: str) -> list[dict]:
        p = pseudonymise(nik, pseudonym_key(), "nik")
        sql = "select temuan, sumber from marts.rekonsiliasi where pseudonim = :p"
        return wh.query(sql, {"p": p})

    wh = open_warehouse()
    try:
        with wh.begin() as conn:
            conn.exec_driver_sql("delete from core.padan")
        build_reconciliation(wh)
        # before linkage: the exact join calls the applicant unknown to SIAK
        assert {"temuan": "izin_nik_tidak_dikenal", "sumber": "oss"} in findings(
            wh, padan_home["applicant_typo"]
        )
        with caplog.at_level(logging.DEBUG):
            assert run_padan(wh)["status"] == "ok"
        # OSS exports the applicant's name: name + a NIK one digit off -> the person
        rows = wh.query(
            "select * from core.padan where sumber = 'oss' and nik_sumber = :n",
            {"n": padan_home["applicant_typo"]},
        )
        assert len(rows) == 1  # one person record however many permits
        row = rows[0]
        assert row["nik_siak"] == padan_home["applicant"], row
        assert row["keputusan"] == "tertaut_otomatis", row
        assert "NIK differs in one digit" in row["penjelasan_en"]
        assert "nama sama" in row["penjelasan_id"]  # from the export's nama_pemohon
        # missing family card and address compare as null, never as agreement
        assert "kk: tidak ada di salah satu data" in row["penjelasan_id"]
        assert "alamat: missing on one side" in row["penjelasan_en"]
        # PATEN carries only the NIK: a SIAK NIK links directly, a NIK one digit off a
        # resident is no evidence of who it is (it could be a stranger's): never auto-linked
        paten = wh.query("select * from core.padan where sumber = 'paten'")
        exact = [r for r in paten if r["status_nik"] == "ada_di_siak"]
        assert exact and all(
            r["keputusan"] == "tertaut_otomatis" and r["nik_siak"] == r["nik_sumber"] for r in exact
        )
        assert "the record carries only a NIK" in exact[0]["penjelasan_en"]
        (typo_row,) = [r for r in paten if r["nik_sumber"] == padan_home["pemohon_typo"]]
        assert typo_row["keputusan"] != "tertaut_otomatis"
        build_reconciliation(wh)
        assert not findings(wh, padan_home["applicant_typo"])  # no longer "unknown"
        assert {"temuan": "nik_tidak_padan", "sumber": "padan:oss"} in findings(
            wh, padan_home["applicant"]
        )
        assert not [f for f in findings(wh, padan_home["pemohon"]) if f["sumber"] == "padan:paten"]
    finally:
        wh.dispose()
    logged = caplog.text
    for nik in (padan_home["applicant"], padan_home["applicant_typo"], padan_home["pemohon_typo"]):
        assert nik not in logged


def test_applicant_columns_are_read_when_the_export_has_them(warehouse_url):
    """An OSS export that also carries the applicant's name (in capitals, as exports do) feeds
    it to linkage; the columns it lacks come back NULL; several permits are one person."""
    from simpul.padan.store import SOURCES, agency_records
    from simpul.warehouse import open_warehouse

    wh = open_warehouse(warehouse_url)
    try:
        with wh.begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS raw")
            conn.exec_driver_sql(
                "CREATE TABLE raw.oss_izin (_load_id VARCHAR, _row BIGINT, nomor_izin VARCHAR, "
                'nik_pemohon VARCHAR, kode_desa VARCHAR, "NAMA_PEMOHON" VARCHAR)'
            )
            conn.exec_driver_sql(
                "INSERT INTO raw.oss_izin VALUES "
                "('L1', 1, 'A', '1608014506900003', '1608012001', 'Hj. Siti Aminah'), "
                "('L1', 2, 'B', '1608014506900003', '1608012001', 'Hj. Siti Aminah')"
            )
        oss = next(s for s in SOURCES if s.name == "oss")
        recs = agency_records(wh, oss)
    finally:
        wh.dispose()
    assert len(recs) == 1 and int(recs.iloc[0]["jumlah_baris"]) == 2
    rec = recs.iloc[0]
    assert rec["nama_lengkap"] == "Hj. Siti Aminah" and rec["nik"] == "1608014506900003"
    assert rec["tanggal_lahir"] is None and rec["alamat"] is None and rec["no_kk"] is None
