"""OpenDK push receiver on a real uvicorn server, with the village-side client."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from connectors.base.contract import ReadResult
from connectors.opensid.connector import OpenSidDropConnector
from simpul.simulators.faults import FaultConfig
from simpul.simulators.opendk import (
    OpenDkPushError,
    create_opendk_app,
    inner_file_name,
    opendk_zip,
    push_opendk,
)
from simpul.simulators.opensid import write_opensid_drops
from simpul.simulators.runner import serve_app

TOKEN = "village-token"
DESA = "16.08.01.2006"


@pytest.fixture(scope="module")
def workbook(world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    import shutil

    world = tmp_path_factory.mktemp("w") / "world"
    shutil.copytree(world_dir, world)
    drop = tmp_path_factory.mktemp("src")
    write_opensid_drops(world, drop, seed=1)
    return (drop / f"penduduk_{DESA}.xlsx").read_bytes()


@pytest.fixture
def receiver(tmp_path: Path):
    drop = tmp_path / "drop"
    h = serve_app(create_opendk_app(drop, token=TOKEN, admin=True), "opendk")
    yield h, drop
    h.stop()


def test_push_round_trip(receiver, workbook: bytes) -> None:
    h, drop = receiver
    receipt = push_opendk(h.url, TOKEN, DESA, workbook, on=date(2026, 10, 31))
    data = receipt["data"]
    assert receipt["status"] == "success" and not data["duplicate"]
    assert data["desa_id"] == DESA and data["inner_file"] == "penduduk_31_10_2026_opendk.xlsx"
    stored = drop / data["file"]
    assert stored.name.startswith(f"opendk_{DESA}_") and stored.suffix == ".zip"
    assert [p.name for p in drop.iterdir()] == [stored.name]  # no temp files left
    c = OpenSidDropConnector(str(drop), kecamatan="16.08.01")
    table = pa.Table.from_batches(list(c.read("penduduk", since=None, result=ReadResult())))
    assert table.num_rows == data["rows"] > 0
    assert set(table.column("_kode_desa").to_pylist()) == {DESA}
    assert table.column("_source_file")[0].as_py() == f"{stored.name}!{data['inner_file']}"
    again = push_opendk(h.url, TOKEN, DESA.replace(".", ""), workbook, on=date(2026, 10, 31))
    assert again["data"]["duplicate"] and again["data"]["file"] == stored.name
    assert len(list(drop.iterdir())) == 1


def _post(url: str, token: str, desa: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/penduduk/storedata",
        headers={"Authorization": f"Bearer {token}"},
        data={"desa_id": desa},
        files={"file": ("x.zip", body, "application/zip")},
    )


def test_rejections_store_nothing(receiver, workbook: bytes) -> None:
    h, drop = receiver
    good = opendk_zip(workbook, date(2026, 10, 31))
    with pytest.raises(OpenDkPushError) as exc:
        push_opendk(h.url, "wrong", DESA, workbook)
    assert exc.value.status == 401
    assert _post(h.url, TOKEN, "16.08.99.9999", good).status_code == 422
    assert _post(h.url, TOKEN, DESA, b"not a zip").status_code == 422
    wrong_name = io.BytesIO()
    with zipfile.ZipFile(wrong_name, "w") as zf:
        zf.writestr("data.xlsx", workbook)
    assert _post(h.url, TOKEN, DESA, wrong_name.getvalue()).status_code == 422
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "Data Penduduk"
    wb.active.append(["nik", "nama"])
    buf = io.BytesIO()
    wb.save(buf)
    r = _post(h.url, TOKEN, DESA, opendk_zip(buf.getvalue(), date(2026, 1, 2)))
    assert r.status_code == 422 and r.json()["error"] == "invalid_template"
    no_file = httpx.post(
        f"{h.url}/api/v1/penduduk/storedata",
        headers={"Authorization": f"Bearer {TOKEN}"},
        data={"desa_id": DESA},
    )
    assert no_file.status_code in (400, 422)
    assert list(drop.iterdir()) == []
    assert inner_file_name(date(2026, 1, 2)) == "penduduk_02_01_2026_opendk.xlsx"


def test_client_retries_outage(receiver, workbook: bytes) -> None:
    h, drop = receiver
    cfg = FaultConfig(error_burst=2)
    assert httpx.post(f"{h.url}/admin/faults", json=cfg.to_dict()).status_code == 200
    receipt = push_opendk(h.url, TOKEN, DESA, workbook, retries=3)
    assert receipt["status"] == "success" and len(list(drop.glob("*.zip"))) == 1
