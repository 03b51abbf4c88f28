"""CKAN simulator driven by the real ``ckanapi`` client over a real uvicorn server."""

from __future__ import annotations

import json
from pathlib import Path

import ckanapi
import pytest
import requests

from simpul.simulators.ckan import CKAN_VERSION, create_app
from simpul.simulators.runner import serve_app

TOKEN = "portal-token"


@pytest.fixture
def portal(tmp_path: Path):
    h = serve_app(create_app(tmp_path, api_token=TOKEN), "ckan")
    yield h, tmp_path
    h.stop()


def test_status_and_auth(portal) -> None:
    h, _ = portal
    anon = ckanapi.RemoteCKAN(h.url)
    assert anon.action.status_show()["ckan_version"] == CKAN_VERSION
    r = requests.get(f"{h.url}/api/3/action/status_show", timeout=5)
    assert r.json()["success"] is True and "help" in r.json()
    with pytest.raises(ckanapi.NotAuthorized):
        anon.action.package_create(name="jumlah-penduduk")
    bad = ckanapi.RemoteCKAN(h.url, apikey="nope")
    with pytest.raises(ckanapi.NotAuthorized):
        bad.action.package_create(name="jumlah-penduduk")
    r = requests.post(f"{h.url}/api/3/action/package_create", json={"name": "x1"}, timeout=5)
    assert r.status_code == 403
    assert r.json()["success"] is False and r.json()["error"]["__type"] == "Authorization Error"
    with pytest.raises(ckanapi.NotFound):
        anon.action.package_show(id="missing")
    r = requests.get(f"{h.url}/api/3/action/no_such_action", timeout=5)
    assert r.status_code == 400 and r.json()["success"] is False


def test_packages_resources_datastore(portal, tmp_path: Path) -> None:
    h, store = portal
    ckan = ckanapi.RemoteCKAN(h.url, apikey=TOKEN)
    org = ckan.action.organization_create(name="kecamatan-martapura", title="Kecamatan Martapura")
    pkg = ckan.action.package_create(
        name="penduduk-per-desa-martapura",
        title="Jumlah Penduduk per Desa",
        owner_org=org["name"],
        tags=[{"name": "kependudukan"}],
        extras=[{"key": "kode_wilayah", "value": "16.08.01"}],
    )
    assert pkg["owner_org"] == org["id"] and pkg["num_resources"] == 0
    with pytest.raises(ckanapi.ValidationError):
        ckan.action.package_create(name="penduduk-per-desa-martapura")
    with pytest.raises(ckanapi.ValidationError):
        ckan.action.package_create(name="Bad Name!")
    patched = ckan.action.package_patch(id=pkg["name"], notes="Agregat, tanpa data pribadi")
    assert patched["notes"].startswith("Agregat") and patched["title"] == pkg["title"]

    csv = tmp_path / "penduduk.csv"
    csv.write_text("kode_desa,jumlah\n16.08.01.2006,812\n")
    with csv.open("rb") as fh:
        up = ckan.action.resource_create(
            package_id=pkg["id"], name="penduduk.csv", upload=fh, format="CSV"
        )
    assert up["url_type"] == "upload" and up["size"] == csv.stat().st_size
    assert requests.get(up["url"], timeout=5).content == csv.read_bytes()
    link = ckan.action.resource_create(package_id=pkg["id"], url="https://example.org/a.csv")
    assert link["url"] == "https://example.org/a.csv"

    ds = ckan.action.datastore_create(
        resource={"package_id": pkg["id"], "name": "penduduk (tabel)"},
        fields=[{"id": "kode_desa", "type": "text"}, {"id": "jumlah", "type": "int"}],
        primary_key=["kode_desa"],
    )
    rid = ds["resource_id"]
    ckan.action.datastore_upsert(
        resource_id=rid,
        method="upsert",
        records=[
            {"kode_desa": "16.08.01.2006", "jumlah": 800},
            {"kode_desa": "16.08.01.1007", "jumlah": "95"},
        ],
    )
    ckan.action.datastore_upsert(
        resource_id=rid, method="upsert", records=[{"kode_desa": "16.08.01.2006", "jumlah": 812}]
    )
    with pytest.raises(ckanapi.ValidationError):
        ckan.action.datastore_upsert(
            resource_id=rid, method="insert", records=[{"kode_desa": "16.08.01.2006", "jumlah": 1}]
        )
    with pytest.raises(ckanapi.ValidationError):
        ckan.action.datastore_upsert(resource_id=rid, records=[{"kode_desa": "x", "nope": 1}])
    with pytest.raises(ckanapi.NotFound):
        ckan.action.datastore_upsert(resource_id="missing", records=[])
    found = ckan.action.datastore_search(resource_id=rid, sort="kode_desa")
    assert found["total"] == 2
    assert [(r["kode_desa"], r["jumlah"]) for r in found["records"]] == [
        ("16.08.01.1007", 95),
        ("16.08.01.2006", 812),
    ]
    one = requests.get(
        f"{h.url}/api/3/action/datastore_search",
        params={"resource_id": rid, "filters": json.dumps({"kode_desa": "16.08.01.2006"})},
        timeout=5,
    ).json()["result"]
    assert one["total"] == 1 and one["records"][0]["jumlah"] == 812

    shown = ckanapi.RemoteCKAN(h.url).action.package_show(id=pkg["name"])
    assert shown["num_resources"] == 3
    assert {r["id"] for r in shown["resources"] if r["datastore_active"]} == {rid}

    saved = json.loads((store / "ckan.json").read_text())
    assert saved["datastore"][rid]["primary_key"] == ["kode_desa"]
    assert len(saved["datastore"][rid]["records"]) == 2
    h.stop()  # restart on the same store: state survives
    again = serve_app(create_app(store, api_token=TOKEN), "ckan2")
    try:
        s = ckanapi.RemoteCKAN(again.url).action.datastore_search(resource_id=rid)
        assert s["total"] == 2
    finally:
        again.stop()
