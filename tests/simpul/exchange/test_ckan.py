"""Publishing aggregates to the Satu Data portal through ckanapi, against the CKAN simulator."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ckanapi
import pytest

from simpul.exchange import send, service
from simpul.exchange.store import outbox

from .conftest import T0, agreements_for


@pytest.fixture
def ckan(simpul_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from simpul.simulators.runner import serve_all

    handles = serve_all(simpul_home / "world", base_port=0, only=["ckan"], admin=False)
    env = handles["ckan"].env()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    try:
        yield env
    finally:
        handles["ckan"].stop()


def _channel(**kw: Any) -> dict[str, Any]:
    return {
        "type": "ckan",
        "url_env": "SIMPUL_CKAN_URL",
        "token_env": "SIMPUL_CKAN_TOKEN",
        "owner_org": "kecamatan-martapura",
        "package_name": "jumlah-penduduk-martapura",
        "tags": ["kependudukan"],
        **kw,
    }


def test_publish_aggregates_with_metadata_and_suppression(
    wh: Any, ckan: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    agreements = agreements_for({"satudata": _channel()})
    result = service.run(wh, agreements, agreement_id="satudata", now=T0)
    (attempt,) = result["attempts"]
    assert attempt.outcome == "receipted"
    portal = ckanapi.RemoteCKAN(ckan["SIMPUL_CKAN_URL"])
    pkg = portal.action.package_show(id="jumlah-penduduk-martapura")
    extras = {e["key"]: e["value"] for e in pkg["extras"]}
    assert pkg["license_id"] == "cc-by" and pkg["title"].startswith("Jumlah penduduk")
    assert extras["produsen_data"] == "Kecamatan Martapura"
    assert extras["periode"] == "2026-10-31/2026-10-31"
    assert extras["kode_wilayah"] == "16.08.01.1001,16.08.01.2006"
    (res,) = pkg["resources"]
    delivery_id = result["queued"][0]["delivery_id"]
    assert res["simpul_delivery_id"] == delivery_id
    import requests

    body = requests.get(res["url"], timeout=10).content.decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    # 3 (< 5) is masked, and 7 with it (complementary); religion/education summed away
    counts = {(r["kode_desa"], r["kelompok_umur"], r["jenis_kelamin"]): r for r in rows}
    small = counts[("16.08.01.2006", "0-4", "1")]
    assert small["jumlah"] == "" and small["disamarkan"] == "true"
    assert counts[("16.08.01.2006", "0-4", "2")]["jumlah"] == ""
    assert counts[("16.08.01.2006", "5-9", "2")]["jumlah"] == "20"
    assert "3" not in {r["jumlah"] for r in rows}

    # a resend of the same delivery (e.g. after a crash) does not add a second resource
    from simpul.exchange import channels

    row = outbox(wh)[0]
    again = channels.send(agreements.agreements["satudata"], send.outgoing(row))
    assert "deduplicated" in again.detail
    assert len(portal.action.package_show(id="jumlah-penduduk-martapura")["resources"]) == 1
    # unchanged marts (rebuilt from an unchanged load): nothing is published again
    again = service.run(wh, agreements, agreement_id="satudata", now=T0)
    assert again["queued"] == [] and again["attempts"] == []
    assert again["unchanged"][0]["delivery_id"] == delivery_id
    assert len(portal.action.package_show(id="jumlah-penduduk-martapura")["resources"]) == 1
    # changed content: the same resource gets a new version in place
    with wh.begin() as conn:
        conn.exec_driver_sql("UPDATE marts.penduduk_bulanan SET jumlah = jumlah + 10")
    changed = service.run(wh, agreements, agreement_id="satudata", now=T0)
    (newer,) = changed["queued"]
    (res2,) = portal.action.package_show(id="jumlah-penduduk-martapura")["resources"]
    assert res2["id"] == res["id"] and res2["simpul_delivery_id"] == newer["delivery_id"]
    assert res2["last_modified"] and res2["last_modified"] >= res["last_modified"]
    body = requests.get(res2["url"], timeout=10).content.decode()
    assert "30" in {r["jumlah"] for r in csv.DictReader(io.StringIO(body))}


def test_publish_to_datastore_is_idempotent(wh: Any, ckan: dict[str, str]) -> None:
    agreements = agreements_for({"satudata": _channel(publish="datastore")})
    service.run(wh, agreements, agreement_id="satudata", now=T0)
    service.run(wh, agreements, agreement_id="satudata", now=T0)
    portal = ckanapi.RemoteCKAN(ckan["SIMPUL_CKAN_URL"])
    (res,) = portal.action.package_show(id="jumlah-penduduk-martapura")["resources"]
    found = portal.action.datastore_search(resource_id=res["id"], limit=1000)
    assert found["total"] == 8  # 2 villages x 2 age groups x 2 sexes, upserted, not doubled
    assert {r["jumlah"] for r in found["records"]} >= {20, None}


def test_portal_down_is_retried(wh: Any, simpul_home: Path, monkeypatch) -> None:
    monkeypatch.setenv("SIMPUL_CKAN_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("SIMPUL_CKAN_TOKEN", "x")
    agreements = agreements_for({"satudata": _channel()})
    result = service.run(wh, agreements, agreement_id="satudata", now=T0)
    assert [a.outcome for a in result["attempts"]] == ["retry"]
    assert outbox(wh)[0]["status"] == "pending"


def test_demo_delivers_every_shipped_agreement(
    wh: Any, ckan: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from simpul.exchange.demo import run_exchange_demo

    for name in (
        "SIMPUL_EXCHANGE_DISDUKCAPIL_URL",
        "SIMPUL_EXCHANGE_DISDUKCAPIL_TOKEN",
        "SIMPUL_EXCHANGE_DISDUKCAPIL_RECEIPT_KEY",
        "SIMPUL_EXCHANGE_DINSOS_RECEIPT_KEY",
        "SIMPUL_EXCHANGE_DESA_RECEIPT_KEY",
    ):
        monkeypatch.setenv(name, "")  # restored after the test; the demo fills them
    with wh.begin() as conn:  # padan NIK has run (the demo runs it before the exchange)
        conn.exec_driver_sql(
            "INSERT INTO core.padan (padan_id, sumber, kode_desa, nik_sumber, status_nik, "
            "nik_siak, keputusan) VALUES "
            "('d1', 'dinsos', '16.08.01.2006', '1608010101900001', 'ada_di_siak', "
            "'1608010101900001', 'tertaut_otomatis'), "
            "('o1', 'opensid', '16.08.01.2006', '1608010101900002', 'tidak_di_siak', "
            "'1608010101900003', 'tertaut_otomatis')"
        )
    rows = run_exchange_demo(wh)
    assert {r["agency"].split("/")[0] for r in rows} == {
        "disdukcapil",
        "dinsos",
        "diskominfo",
        "pemdes",
    }
    assert "pemdes/16.08.01.2006" in {r["agency"] for r in rows}  # the village's own share
    # the padan NIK rate goes back to Dinas Sosial and to each village, counts only
    sent = {(r["agency"], r["dataset"]) for r in rows}
    assert {("dinsos", "padan_nik_mutu"), ("pemdes/16.08.01.2006", "padan_nik_mutu")} <= sent
    assert {r["status"] for r in rows} == {"receipted"}
