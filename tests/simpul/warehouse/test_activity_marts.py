"""Event, permit and PATEN-turnaround marts: same answers on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

from simpul.model import entity
from simpul.warehouse import open_warehouse


def insert(wh, name: str, rows: list[dict]) -> None:
    schema = entity(name).schema
    with wh.begin() as conn:
        wh.bulk_insert(conn, f"core.{name}", pa.Table.from_pylist(rows, schema=schema))


def test_activity_marts(warehouse_url):
    wh = open_warehouse()
    t0 = datetime(2026, 10, 1, 8, tzinfo=UTC)
    insert(
        wh,
        "peristiwa",
        [
            {
                "id_peristiwa": str(i),
                "nik": f"{i:016d}",
                "kode_peristiwa": k,
                "tanggal_peristiwa": date(2026, 10, 1 + i),
                "kode_desa": "16.08.01.2006",
                "updated_at": t0,
            }
            for i, k in enumerate(["1", "1", "2", "5"])
        ],
    )
    insert(
        wh,
        "permohonan_layanan",
        [
            {
                "id_permohonan": f"P{i}",
                "jenis_layanan": "SKTM",
                "status": "terbit",
                "tanggal_diterima": t0,
                "tanggal_selesai": t0 + timedelta(days=d),
                "updated_at": t0,
            }
            for i, d in enumerate([1, 2, 3, 4, 10])
        ]
        + [
            {
                "id_permohonan": "P9",
                "jenis_layanan": "SKTM",
                "status": "verifikasi",
                "tanggal_diterima": t0,
                "updated_at": t0,
            }
        ],
    )
    insert(
        wh,
        "izin",
        [
            {
                "nomor_izin": "1",
                "nib": "1" * 13,
                "kbli": "01112",
                "tingkat_risiko": "rendah",
                "status": "terbit",
                "kode_desa": "16.08.01.2006",
                "updated_at": t0,
            },
        ],
    )
    events = wh.query("select peristiwa, jumlah from marts.peristiwa_bulanan order by 1")
    assert events == [
        {"peristiwa": "lahir", "jumlah": 2},
        {"peristiwa": "mati", "jumlah": 1},
        {"peristiwa": "pindah masuk", "jumlah": 1},
    ]
    paten = wh.query("select selesai, median_hari, p90_hari from marts.paten_waktu_layanan")[0]
    assert paten["selesai"] == 5 and float(paten["median_hari"]) == 3.0
    assert abs(float(paten["p90_hari"]) - 7.6) < 1e-9
    assert wh.scalar("select kbli from marts.izin_kbli") == "01112"
    wh.dispose()
