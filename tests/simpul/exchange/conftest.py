"""Fixtures for the exchange: signing and pseudonym keys, a seeded warehouse, agreements."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simpul.exchange.agreements import AgreementsFile
from tests.simpul.orchestration.receivers import webhook  # noqa: F401 - fixture

PSEUDONYM_KEY = "test-pseudonym-key-0123456789-abcdefghijkl"
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)

# synthetic NIKs (not real people)
NIK_ONLY_DESA = "1608014101900001"  # village reports, SIAK lacks
NIK_SAME = "1608010202900002"  # both agree
NIK_DIFF = "1608010303900003"  # both, names differ
NIK_OUTSIDE = "1608020404900004"  # another kecamatan: filtered out
NIK_GAP = "1608010707900007"  # village lacks no_kk: not a disagreement
NIK_DEAD = "1608010505500005"  # deceased, still on PKH
NIK_ALIVE = "1608010606600006"  # alive, on PKH


@pytest.fixture
def signing_key(monkeypatch: pytest.MonkeyPatch) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    monkeypatch.setenv("SIMPUL_EXCHANGE_SIGNING_KEY", base64.b64encode(raw).decode())
    monkeypatch.delenv("SIMPUL_EXCHANGE_SIGNING_KEY_FILE", raising=False)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", PSEUDONYM_KEY)
    return key


def _insert(conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    cols = list(rows[0])
    conn.execute(
        sa.text(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
        ),
        rows,
    )


def _version(nik: str, source: str, **kw: Any) -> dict[str, Any]:
    row = {
        "nik": nik,
        "no_kk": "1608010101200001",
        "nama_lengkap": "WARGA " + nik[-4:],
        "jenis_kelamin": "1",
        "tanggal_lahir": date(1990, 1, 1),
        "kode_desa": "16.08.01.2006",
        "dusun": "DUSUN I",
        "rw": "001",
        "rt": "002",
        "status_dasar": "1",
        "updated_at": T0,
        "_load_id": f"load-{source}",
        "_source": source,
        "_extracted_at": T0,
        "_last_seen_at": T0,
        "_row_hash": "x",
        "_deleted": False,
        "_recorded_at": T0,
    }
    row.update(kw)
    return row


def seed(wh: Any) -> None:
    """A small warehouse: versions from two sources, deaths, an assistance list, aggregates,
    quarantine rows."""
    versions = [
        _version(NIK_ONLY_DESA, "opensid", nama_lengkap='=HYPERLINK("http://x")'),
        _version(NIK_SAME, "opensid"),
        _version(NIK_SAME, "siak"),
        _version(NIK_DIFF, "opensid", nama_lengkap="SITI AMINAH"),
        _version(NIK_DIFF, "siak", nama_lengkap="SITI AMINAH BINTI ALI"),
        _version(NIK_OUTSIDE, "opensid", kode_desa="16.08.02.2001"),
        _version(NIK_GAP, "opensid", no_kk=None),
        _version(NIK_GAP, "siak"),
    ]
    # residents both sides agree on: the findings stay a plausible share of the population
    for i in range(20):
        nik = f"16080111119{i:05d}"
        versions += [_version(nik, "opensid"), _version(nik, "siak")]
    people = [
        {
            k: v
            for k, v in _version(n, "siak", status_dasar=s).items()
            if k not in ("_last_seen_at", "_row_hash", "_deleted", "_recorded_at")
        }
        for n, s in ((NIK_DEAD, "2"), (NIK_ALIVE, "1"))
    ]
    bantuan = [
        {
            "nik": n,
            "no_kk": "1608010101200009",
            "program": "PKH",
            "periode": "2026-Q3",
            "kode_desa": "16.08.01.2006",
            "nominal": 750000,
            "updated_at": T0,
            "_load_id": "load-dinsos",
            "_source": "dinsos",
            "_extracted_at": T0,
        }
        for n in (NIK_DEAD, NIK_ALIVE)
    ]
    bulanan = []
    for desa, nama in (("16.08.01.2006", "TANJUNG KEMALA"), ("16.08.01.1001", "PAKU SENGKUNYIT")):
        for umur, low, jk, n in (
            ("0-4", 0, "1", 3),
            ("0-4", 0, "2", 7),
            ("5-9", 5, "1", 12),
            ("5-9", 5, "2", 20),
        ):
            bulanan.append(
                {
                    "akhir_bulan": date(2026, 10, 31),
                    "kode_desa": desa,
                    "nama_desa": nama,
                    "kelompok_umur": umur,
                    "umur_min": low,
                    "jenis_kelamin": jk,
                    "agama": "1",
                    "pendidikan": "1",
                    "jumlah": n,
                }
            )
    quarantine = [
        {
            "load_id": "L1",
            "source": "siak",
            "stream": "penduduk",
            "entity": "penduduk",
            "row_number": i,
            "record_key": f"16080101019000{i:02d}",
            "rules": "nik_format",
            "reasons_en": "bad NIK",
            "reasons_id": "NIK salah",
            "record_json": "{}",
            "status": "resolved" if i < 2 else "open",
            "quarantined_at": T0,
            "resolved_at": datetime(2026, 10, 2, 8 + i, tzinfo=UTC) if i < 2 else None,
        }
        for i in range(3)
    ] + [
        {
            "load_id": "L2",
            "source": "opensid",
            "stream": "penduduk",
            "entity": "penduduk",
            "row_number": 1,
            "record_key": "x",
            "rules": "tanggal",
            "reasons_en": "bad date",
            "reasons_id": "tanggal salah",
            "record_json": '{"_kode_desa": "16.08.01.2006"}',
            "status": "open",
            "quarantined_at": T0,
            "resolved_at": None,
        }
    ]
    with wh.begin() as conn:
        _insert(conn, "ops.loads", loads_for(LOADED_PIPELINES))
        _insert(conn, "core.penduduk_versions", versions)
        _insert(conn, "core.penduduk", people)
        _insert(conn, "core.penerima_bantuan", bantuan)
        _insert(conn, "marts.penduduk_bulanan", bulanan)
        _insert(conn, "ops.quarantine", quarantine)


def _pipelines() -> list[str]:
    from simpul.config import load_config

    return sorted(load_config().pipelines)


LOADED_PIPELINES = _pipelines()


def loads_for(
    pipelines: list[str], status: str = "loaded", at: datetime | None = None
) -> list[dict[str, Any]]:
    """``ops.loads`` rows saying each pipeline loaded successfully (readiness)."""
    at = at or datetime.now(UTC)
    return [
        {
            "load_id": f"ready-{p}-{status}-{at.timestamp():.0f}",
            "pipeline": p,
            "source": p.split("_")[0],
            "status": status,
            "loaded_at": at,
            "extracted_at": at,
        }
        for p in pipelines
    ]


@pytest.fixture
def wh(warehouse_url: str, signing_key: Ed25519PrivateKey) -> Iterator[Any]:
    from simpul.config import home
    from simpul.warehouse import open_warehouse

    for name in ("dukcapil", "dinsos"):  # the agencies' drop shares, "mounted"
        (home() / "drop" / name).mkdir(parents=True, exist_ok=True)
    w = open_warehouse(warehouse_url)
    seed(w)
    try:
        yield w
    finally:
        w.dispose()


SELISIH_COLUMNS = ["nik", "nama_lengkap", "kode_desa", "jenis_selisih", "kolom_berbeda"]


def agreements_for(channels: dict[str, dict[str, Any]], **overrides: Any) -> AgreementsFile:
    """Agreements like exchange/agreements.yaml with the channels the test provides."""
    base: dict[str, Any] = {
        "hub_id": "simpul-test",
        "agreements": {
            "dukcapil": {
                "agency": "disdukcapil",
                "agency_name": "Disdukcapil OKU Timur",
                "purpose": "pemutakhiran data kependudukan",
                "legal_basis": "UU 24/2013; PKS",
                "pks_reference": "PKS 1/2026",
                "channel": channels.get("dukcapil", {"type": "folder", "url": "drop/dukcapil"}),
                "format": "csv",
                "retention_days": 30,
                "datasets": {
                    "penduduk_selisih_siak": {
                        "columns": SELISIH_COLUMNS,
                        "filter": {"kode_desa_prefix": "16.08.01"},
                    }
                },
            },
            "dinsos": {
                "agency": "dinsos",
                "agency_name": "Dinas Sosial",
                "purpose": "pemutakhiran penerima bantuan",
                "legal_basis": "Permensos 3/2021; PKS",
                "pks_reference": "PKS 2/2026",
                "channel": channels.get("dinsos", {"type": "folder", "url": "drop/dinsos"}),
                "format": "parquet",
                "retention_days": 30,
                "datasets": {
                    "meninggal_penerima_bantuan": {"columns": ["nik", "program", "periode"]}
                },
            },
        },
    }
    if "satudata" in channels:
        base["agreements"]["satudata"] = {
            "agency": "diskominfo",
            "agency_name": "Diskominfo OKU Timur",
            "producer": "Kecamatan Martapura",
            "purpose": "publikasi data terbuka Satu Data",
            "legal_basis": "Perpres 39/2019",
            "channel": channels["satudata"],
            "format": "csv",
            "retention_days": 365,
            "datasets": {
                "penduduk_agregat": {
                    "columns": [
                        "akhir_bulan",
                        "kode_desa",
                        "kelompok_umur",
                        "jenis_kelamin",
                        "jumlah",
                    ]
                }
            },
        }
    for path, value in overrides.items():
        base["agreements"][path].update(value)
    return AgreementsFile.model_validate(base)


def drop_root(home: Path, name: str) -> Path:
    return home / "drop" / name
