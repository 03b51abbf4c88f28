"""SIAK simulator contract: auth, complete pagination, updated_since, defects, advancing time."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from fastapi.testclient import TestClient

from simpul.simulators.runner import serve_app
from simpul.simulators.siak import create_app

from .conftest import CID, SECRET


def login(c, base: str = "") -> dict[str, str]:
    r = c.post(f"{base}/api/v1/auth/token", json={"client_id": CID, "client_secret": SECRET})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    return {"Authorization": f"Bearer {body['access_token']}"}


@pytest.fixture(scope="module")
def live(world_dir: Path):
    """A real uvicorn server on a free localhost port."""
    app = create_app(world_dir, client_id=CID, client_secret=SECRET)
    h = serve_app(app, "siak")
    yield h
    h.stop()


def pull(url: str, headers: dict, **params) -> list[dict]:
    """Follow links.next like the connector does."""
    rows: list[dict] = []
    r = requests.get(f"{url}/api/v1/penduduk", headers=headers, params=params, timeout=10)
    while True:
        assert r.status_code == 200
        body = r.json()
        rows += body["data"]
        if not body["links"]["next"]:
            return rows
        r = requests.get(body["links"]["next"], headers=headers, timeout=10)


def test_auth(live) -> None:
    s = requests.Session()
    assert s.get(f"{live.url}/health").json() == {"status": "ok"}
    bad = s.post(f"{live.url}/api/v1/auth/token", json={"client_id": CID, "client_secret": "x"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert s.get(f"{live.url}/api/v1/penduduk").status_code == 401
    assert (
        s.get(f"{live.url}/api/v1/penduduk", headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    for path in ("/api/v1/keluarga", "/api/v1/peristiwa", "/api/v1/penduduk/deleted"):
        assert s.get(f"{live.url}{path}").status_code == 401
    assert s.post(f"{live.url}/admin/advance").status_code == 404  # admin off by default


def test_pagination_complete_and_ordered(live, world_dir: Path) -> None:
    h = login(requests, live.url)
    rows = pull(live.url, h, per_page=333, kode_kecamatan="16.08.01")
    truth = pq.read_table(world_dir / "penduduk.parquet")
    assert len(rows) == truth.num_rows
    niks = [r["NIK"] for r in rows]
    assert sorted(niks) == sorted(truth.column("nik").to_pylist())
    keys = [(r["UPDATED_AT"], r["NIK"]) for r in rows]
    assert keys == sorted(keys)
    r = requests.get(f"{live.url}/api/v1/penduduk", headers=h, params={"per_page": 5000}).json()
    assert r["meta"]["per_page"] == 1000
    assert r["meta"]["total_pages"] == -(-truth.num_rows // 1000)
    other = requests.get(
        f"{live.url}/api/v1/penduduk", headers=h, params={"kode_kecamatan": "16.08.02"}
    ).json()
    assert other["meta"]["total"] == 0 and other["data"] == []


def test_row_format(live) -> None:
    h = login(requests, live.url)
    row = requests.get(f"{live.url}/api/v1/penduduk", headers=h, params={"per_page": 1}).json()[
        "data"
    ][0]
    assert row["JENIS_KLMIN"] in {"LAKI-LAKI", "PEREMPUAN"}
    assert row["STATUS"] in {"HIDUP", "MATI", "PINDAH"}
    assert row["NO_PROP"] == "16" and row["NO_KAB"] == "08" and row["NO_KEC"] == "01"
    assert len(row["NO_KEL"]) == 4 and len(row["NO_RT"]) == 3 and len(row["NO_RW"]) == 3
    d, m, y = row["TGL_LHR"].split("-")
    assert len(d) == 2 and len(m) == 2 and len(y) == 4
    assert row["UPDATED_AT"].endswith("Z") and "T" in row["UPDATED_AT"]
    assert row["KEC_NAME"] == "MARTAPURA" and row["KAB_NAME"] == "OGAN KOMERING ULU TIMUR"


def test_updated_since_is_inclusive(live) -> None:
    h = login(requests, live.url)
    rows = pull(live.url, h, per_page=1000)
    pivot = sorted(r["UPDATED_AT"] for r in rows)[len(rows) // 2]
    since = pull(live.url, h, per_page=200, updated_since=pivot)
    assert {r["NIK"] for r in since} == {r["NIK"] for r in rows if r["UPDATED_AT"] >= pivot}
    assert any(r["UPDATED_AT"] == pivot for r in since)
    bad = requests.get(
        f"{live.url}/api/v1/penduduk", headers=h, params={"updated_since": "yesterday"}
    )
    assert bad.status_code == 400


def test_keluarga_and_peristiwa_pages(live, world_dir: Path) -> None:
    h = login(requests, live.url)
    for stream, key, table in (
        ("keluarga", "NO_KK", "keluarga"),
        ("peristiwa", "ID_PERISTIWA", "peristiwa"),
    ):
        seen: list[str] = []
        url = f"{live.url}/api/v1/{stream}?per_page=250"
        while url:
            body = requests.get(url, headers=h, timeout=10).json()
            seen += [r[key] for r in body["data"]]
            url = body["links"]["next"]
        assert len(seen) == len(set(seen)) == pq.read_table(world_dir / f"{table}.parquet").num_rows


def test_defects_served_and_recorded(fresh_world: Path) -> None:
    app = create_app(fresh_world, client_id=CID, client_secret=SECRET, defect_rate=0.05, seed=3)
    c = TestClient(app)
    h = login(c)
    truth = pq.read_table(fresh_world / "ground_truth" / "siak_penduduk.parquet")
    assert truth.num_rows == round(0.05 * 2500)
    body = c.get("/api/v1/penduduk", headers=h, params={"per_page": 1000}).json()
    total = body["meta"]["total"]
    dups = sum(k == "duplicate_nik" for k in truth.column("kind").to_pylist())
    assert total == 2500 + dups
    again = create_app(fresh_world, client_id=CID, client_secret=SECRET, defect_rate=0.05, seed=3)
    assert pq.read_table(fresh_world / "ground_truth" / "siak_penduduk.parquet").equals(truth)
    assert again is not app


def test_advance_time(fresh_world: Path) -> None:
    app = create_app(fresh_world, client_id=CID, client_secret=SECRET, admin=True)
    c = TestClient(app)
    h = login(c)
    before = c.get("/api/v1/penduduk", headers=h).json()["meta"]["total"]
    assert (
        c.get(
            "/api/v1/penduduk", headers=h, params={"updated_since": "2026-11-01T00:00:00Z"}
        ).json()["meta"]["total"]
        == 0
    )
    out = c.post("/admin/advance", params={"days": 30}).json()
    ch = out["changes"]
    assert out["as_of"] == "2026-12-01T00:00:00Z"
    assert ch["born"] >= 1 and ch["died"] >= 1 and ch["deleted"] >= 1
    changed = c.get(
        "/api/v1/penduduk",
        headers=h,
        params={"updated_since": "2026-11-01T00:00:00Z", "per_page": 1000},
    ).json()
    statuses = [r["STATUS"] for r in changed["data"]]
    assert statuses.count("MATI") == ch["died"]
    assert changed["meta"]["total"] >= ch["born"] + ch["died"]
    after = c.get("/api/v1/penduduk", headers=h).json()["meta"]["total"]
    assert after == before + ch["born"] - ch["deleted"]
    deleted = c.get(
        "/api/v1/penduduk/deleted", headers=h, params={"since": "2026-11-01T00:00:00Z"}
    ).json()["data"]
    assert len(deleted) == ch["deleted"] and all(d["DELETED_AT"] >= "2026-11" for d in deleted)
    ev = c.get(
        "/api/v1/peristiwa", headers=h, params={"updated_since": "2026-11-01T00:00:00Z"}
    ).json()["data"]
    assert {e["JENIS_PERISTIWA"] for e in ev} >= {"LAHIR", "MATI"}
    # deterministic: a second simulator on the same world makes the same changes
    c2 = TestClient(create_app(fresh_world, client_id=CID, client_secret=SECRET, admin=True))
    assert c2.post("/admin/advance", params={"days": 30}).json() == out
    h2 = login(c2)
    rows2 = c2.get(
        "/api/v1/penduduk",
        headers=h2,
        params={"updated_since": "2026-11-01T00:00:00Z", "per_page": 1000},
    ).json()
    assert rows2["data"] == changed["data"]
