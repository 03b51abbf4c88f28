"""The exchange as an always-on Airflow service, end to end with ``dag.test()``: from an empty
warehouse through unpause, loads and marts, every agency receives exactly the deliveries it
should: none early, none twice, none broader than its agreement."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from simpul.synth import WorldConfig, generate_world

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("world")
    generate_world(WorldConfig(seed=5, population=1200)).write(path)
    return path


def _dags() -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    return bag.dags


def _run(dag: Any) -> dict[str, str]:
    for t in dag.tasks:
        t.retries = 0  # a retry would only repeat the same outcome here
    run = dag.test()
    return {t.task_id: t.state for t in run.get_task_instances()}


def _exchange_ids(dags: dict[str, Any]) -> list[str]:
    return sorted(d for d in dags if d.startswith("simpul_exchange_") and not d.endswith("outbox"))


def test_deliveries_from_an_empty_warehouse_through_loads_and_marts(
    world: Path,
    simpul_home: Path,
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import ckanapi

    from simpul.exchange.agreements import load_agreements
    from simpul.exchange.demo import DEMO_TOKEN, _agency_keys
    from simpul.exchange.receiver import RestReceiver, process_drop_folder
    from simpul.exchange.signing import generate_key_file, load_signing_key, public_key_b64
    from simpul.simulators.runner import prepare_drops, serve_all
    from simpul.warehouse import open_warehouse

    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
    monkeypatch.setenv("SIMPUL_EXCHANGE_SIGNING_KEY_FILE", str(generate_key_file(tmp_path / "h")))
    monkeypatch.delenv("SIMPUL_EXCHANGE_SIGNING_KEY", raising=False)
    for name in (
        "SIMPUL_EXCHANGE_DISDUKCAPIL_RECEIPT_KEY",
        "SIMPUL_EXCHANGE_DINSOS_RECEIPT_KEY",
        "SIMPUL_EXCHANGE_DESA_RECEIPT_KEY",
    ):
        monkeypatch.setenv(name, "")
    keys = _agency_keys(simpul_home, load_agreements())  # each agency's own key pair
    hub = public_key_b64(load_signing_key().public_key())
    for k, v in prepare_drops(world, simpul_home, 0.02, 5).env().items():
        monkeypatch.setenv(k, v)
    dinsos_root = simpul_home / "exchange" / "dinsos"
    desa_root = simpul_home / "exchange" / "desa"
    for root in (dinsos_root, desa_root):
        root.mkdir(parents=True)  # the agencies' shares, mounted
    servers = serve_all(world, base_port=0, defect_rate=0.02, seed=5, home_dir=simpul_home)
    receiver = RestReceiver(
        hub, token=DEMO_TOKEN, addressee="disdukcapil", key=keys["disdukcapil"], name="dukcapil"
    ).start()
    try:
        for server in servers.values():
            for k, v in server.env().items():
                monkeypatch.setenv(k, v)
        monkeypatch.setenv("SIMPUL_EXCHANGE_DISDUKCAPIL_URL", receiver.url)
        monkeypatch.setenv("SIMPUL_EXCHANGE_DISDUKCAPIL_TOKEN", DEMO_TOKEN)
        dags = _dags()
        exchanges = _exchange_ids(dags)
        assert len(exchanges) == 5

        # 1. everything unpaused on an empty warehouse: nothing goes out, each says why
        for dag_id in exchanges:
            assert _run(dags[dag_id]) == {"deliver": "skipped"}, dag_id

        # 2. only the villages' OpenSID is loaded, and the marts rebuilt: only the villages'
        # own feedback (built from OpenSID alone) may go; no reconciliation against an empty
        # SIAK, no aggregates, nothing for Dinas Sosial
        desa = "simpul_exchange_desa_umpan_balik_mutu"
        assert set(_run(dags["simpul_opensid_penduduk"]).values()) == {"success"}
        _run(dags["simpul_ops_marts"])
        for dag_id in exchanges:
            want = "success" if dag_id == desa else "skipped"
            assert _run(dags[dag_id]) == {"deliver": want}, dag_id

        # 3. every pipeline loaded, marts rebuilt: each other agreement delivers once
        for name in sorted(d for d in dags if not d.startswith(("simpul_exchange", "simpul_ops"))):
            if name != "simpul_opensid_penduduk":
                assert set(_run(dags[name]).values()) == {"success"}, name
        # padan NIK after the loads it reads (asset-triggered in production), then the marts
        assert _run(dags["simpul_ops_padan"]) == {"settle": "success", "link_people": "success"}
        assert _run(dags["simpul_ops_marts"]) == {"settle": "success", "build_marts": "success"}
        for dag_id in exchanges:
            got = _run(dags[dag_id])
            if dag_id == desa:
                # SIAK's load resolved some villages' quarantined rows: only those villages
                # get their changed feedback again
                assert got["deliver"] in ("success", "skipped")
            else:
                assert got == {"deliver": "success"}, dag_id

        # 4. marts rebuilt from unchanged loads, every exchange again: nothing new is sent
        _run(dags["simpul_ops_marts"])
        for dag_id in exchanges:
            assert _run(dags[dag_id]) == {"deliver": "skipped"}, dag_id
        assert _run(dags["simpul_exchange_outbox"]) == {"drain": "success"}

        portal = ckanapi.RemoteCKAN(os.environ["SIMPUL_CKAN_URL"])
        pkg = portal.action.package_show(id="jumlah-penduduk-kecamatan-martapura")
    finally:
        receiver.stop()
        for server in servers.values():
            server.stop()

    # what each agency received, exactly
    wh = open_warehouse()
    try:
        rows = wh.query(
            "select delivery_id, agency, dataset, part, status, content_sha256 from "
            "ops.exchange_outbox order by agency, dataset, part, created_at"
        )
        padan_villages = {
            r["kode_desa"]
            for r in wh.query("select distinct kode_desa from core.padan where sumber = 'opensid'")
            if r["kode_desa"]
        }
        villages = {
            r["source"]: {
                json.loads(q["record_json"]).get("_kode_desa")
                for q in wh.query(
                    "select record_json from ops.quarantine where source = 'opensid' "
                    "and status = :s",
                    {"s": r["source"]},
                )
            }
            for r in ({"source": "open"}, {"source": "resolved"})
        }
    finally:
        wh.dispose()
    by_agency: dict[str, list[str]] = {}
    for r in rows:
        by_agency.setdefault(r["agency"], []).append(r["dataset"])
    assert sorted(by_agency["disdukcapil"]) == ["laporan_mutu_data", "penduduk_selisih_siak"]
    # Dinas Sosial: its deceased recipients and the padan NIK rate of its list (counts only)
    assert by_agency["dinsos"] == ["meninggal_penerima_bantuan", "padan_nik_mutu"]
    assert by_agency["diskominfo"] == ["penduduk_agregat"]
    # never the same content twice to the same recipient
    seen = [(r["agency"], r["dataset"], r["part"], r["content_sha256"]) for r in rows]
    assert len(seen) == len(set(seen))
    assert {r["status"] for r in rows} <= {"sent", "receipted"}  # nothing pending or lost
    # the villages: every village with open findings got its own delivery, and only villages
    # that ever had findings got one
    parts = sorted({r["part"] for r in rows if r["agency"] == "pemdes"})
    mutu = {r["part"] for r in rows if r["dataset"] == "laporan_mutu_data" and r["part"]}
    assert {v for v in villages["open"] if v} <= mutu
    assert mutu <= villages["open"] | villages["resolved"]
    # every village with OpenSID records gets the padan NIK rate of its own register, once
    padan = [r["part"] for r in rows if (r["agency"], r["dataset"]) == ("pemdes", "padan_nik_mutu")]
    assert sorted(padan) == sorted(padan_villages) and len(padan) > 1
    assert set(parts) == mutu | set(padan)
    assert sorted(receiver.accepted) == sorted(
        r["delivery_id"] for r in rows if r["agency"] == "disdukcapil"
    )
    assert receiver.duplicates == 0
    (resource,) = pkg["resources"]  # one resource, not one per run
    assert resource["simpul_delivery_id"] in {r["delivery_id"] for r in rows}
    dinsos_dirs = [p for p in dinsos_root.iterdir() if not p.name.startswith(("_", "."))]
    assert len(dinsos_dirs) == 2
    for part in parts:
        sent = [r for r in rows if r["part"] == part]
        folders = [p for p in (desa_root / part).iterdir() if not p.name.startswith("_")]
        assert sorted(p.name for p in folders) == sorted(r["delivery_id"] for r in sent)
        for folder in folders:
            manifest = json.loads((folder / "manifest.json").read_text())
            assert manifest["addressee"] == f"pemdes/{part}"
        receipts = process_drop_folder(
            desa_root / part, hub, part, addressee=f"pemdes/{part}", key=keys["pemdes"]
        )
        assert {r["status"] for r in receipts} == {"accepted"}
    receipts = process_drop_folder(dinsos_root, hub, "dinsos", addressee="dinsos")
    assert [r["status"] for r in receipts] == ["accepted", "accepted"]
    assert {r["status"] for r in rows if r["agency"] in ("disdukcapil", "diskominfo")} == {
        "receipted"
    }
