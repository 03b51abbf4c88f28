"""Fault switches over real HTTP, and the OSS simulator's OAuth2, cursors and 429s."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from simpul.simulators.faults import FaultConfig
from simpul.simulators.oss import create_app as create_oss
from simpul.simulators.runner import serve_all, serve_app
from simpul.simulators.siak import create_app as create_siak

from .conftest import CID, SECRET


def siak(world_dir: Path, faults: FaultConfig):
    return serve_app(
        create_siak(world_dir, client_id=CID, client_secret=SECRET, faults=faults, admin=True),
        "siak",
    )


def token(url: str) -> dict[str, str]:
    t = requests.post(
        f"{url}/api/v1/auth/token", json={"client_id": CID, "client_secret": SECRET}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {t}"}


@pytest.fixture
def server(world_dir: Path):
    h = siak(world_dir, FaultConfig())
    yield h
    h.stop()


def set_faults(url: str, **switches) -> None:
    assert requests.post(f"{url}/admin/faults", json=switches).status_code == 200


def test_error_burst_then_recovers(server) -> None:
    set_faults(server.url, error_burst=2)
    h = token(server.url)  # auth is never faulted
    codes = [requests.get(f"{server.url}/api/v1/penduduk", headers=h).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert requests.get(f"{server.url}/api/v1/keluarga", headers=h).status_code == 503  # per path


def test_timeout(server) -> None:
    set_faults(server.url, timeout_requests=1, timeout_s=1.5)
    h = token(server.url)
    with pytest.raises(requests.Timeout):
        requests.get(f"{server.url}/api/v1/penduduk", headers=h, timeout=0.3)
    assert requests.get(f"{server.url}/api/v1/penduduk", headers=h, timeout=5).status_code == 200


def test_truncated_page(server) -> None:
    set_faults(server.url, truncate_requests=1)
    h = token(server.url)
    r = requests.get(f"{server.url}/api/v1/penduduk", headers=h)
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    assert requests.get(f"{server.url}/api/v1/penduduk", headers=h).json()["data"]


def test_schema_change_and_latency(server) -> None:
    set_faults(
        server.url,
        rename_fields={"NAMA_LGKP": "NAMA_LENGKAP"},
        add_fields={"KODE_POS": "32181"},
        latency_s=0.05,
    )
    row = requests.get(f"{server.url}/api/v1/penduduk", headers=token(server.url)).json()["data"][0]
    assert "NAMA_LENGKAP" in row and "NAMA_LGKP" not in row and row["KODE_POS"] == "32181"


def test_duplicate_page(server) -> None:
    set_faults(server.url, duplicate_page=2)
    h = token(server.url)
    p1 = requests.get(f"{server.url}/api/v1/penduduk", headers=h, params={"per_page": 100}).json()
    p2 = requests.get(p1["links"]["next"], headers=h).json()
    assert p2["data"] == p1["data"] and p2["meta"]["page"] == 2
    p2b = requests.get(p1["links"]["next"], headers=h).json()  # only once
    assert p2b["data"] != p1["data"]


def test_bad_fault_switch_rejected(server) -> None:
    assert requests.post(f"{server.url}/admin/faults", json={"nope": 1}).status_code == 400


def test_oss_oauth_cursor_and_rate_limit(world_dir: Path) -> None:
    app = create_oss(world_dir, client_id="o", client_secret="s", rate_limit=5, rate_window_s=30)
    h = serve_app(app, "oss")
    try:
        bad = requests.post(
            f"{h.url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "o", "client_secret": "x"},
        )
        assert bad.status_code == 401
        assert (
            requests.post(
                f"{h.url}/oauth/token",
                data={"grant_type": "password", "client_id": "o", "client_secret": "s"},
            ).status_code
            == 400
        )
        t = requests.post(
            f"{h.url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "o", "client_secret": "s"},
        ).json()
        auth = {"Authorization": f"Bearer {t['access_token']}"}
        assert requests.get(f"{h.url}/api/v1/izin").status_code == 401  # counts as request 1
        seen, cursor = [], None
        for _ in range(3):
            params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
            body = requests.get(f"{h.url}/api/v1/izin", headers=auth, params=params).json()
            seen += [r["nomor_izin"] for r in body["data"]]
            cursor = body["next_cursor"]
        r = requests.get(f"{h.url}/api/v1/izin", headers=auth, params={"limit": 20})
        assert r.status_code == 200
        limited = requests.get(f"{h.url}/api/v1/izin", headers=auth)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 30
        assert len(seen) == len(set(seen)) == 30
    finally:
        h.stop()


def test_oss_pages_complete(world_dir: Path) -> None:
    import pyarrow.parquet as pq

    h = serve_all(world_dir, base_port=0, only=["oss"])["oss"]
    try:
        env = h.env()
        t = requests.post(
            f"{h.url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": env["SIMPUL_OSS_CLIENT_ID"],
                "client_secret": env["SIMPUL_OSS_CLIENT_SECRET"],
            },
        ).json()["access_token"]
        seen, cursor = [], None
        while True:
            params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            body = requests.get(
                f"{h.url}/api/v1/izin", params=params, headers={"Authorization": f"Bearer {t}"}
            ).json()
            seen += [r["nomor_izin"] for r in body["data"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        izin = pq.read_table(world_dir / "izin.parquet").column("nomor_izin").to_pylist()
        assert sorted(seen) == sorted(izin)
        kbli = body["data"][0]["kbli"] if body["data"] else "01121"
        assert len(kbli) == 5
    finally:
        h.stop()
