"""The datasets the hub can deliver: SQL in code, parameters bound, columns from a whitelist.

A dataset's ``schema`` is the whitelist of columns it may ever yield; an agreement grants a
subset of it, and :func:`shape` keeps exactly the granted columns (default deny), whatever the
query returned. Row filters are structured (:class:`~simpul.exchange.agreements.RowFilter`)
and applied on the Arrow table (:func:`simpul.exchange.shaping.apply_filter`): no SQL ever
comes from configuration.

Aggregate datasets (``measure`` set) are re-aggregated over the granted dimensions and their
small cells suppressed before anything leaves the hub (:mod:`simpul.exchange.shaping`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from simpul.model import TS  # the one UTC timestamp type of the canonical model
from simpul.warehouse.engine import Warehouse
from simpul.warehouse.marts import TABLES as MARTS_TABLES

S = pa.string()
INT = pa.int64()
# SUPPRESSED_FLAG: added next to a suppressed measure (true = value masked); disclosure control
# lives in the warehouse layer, which the analyst database shares with the open-data channel.


@dataclass
class DatasetResult:
    """What a dataset build returns: the rows, notes for the manifest, optional attachments."""

    table: pa.Table
    notes: list[str] = field(default_factory=list)
    attachments: list[Path] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    """One deliverable dataset. ``personal``: individual data, needs a PKS reference."""

    name: str
    title: str
    description: str
    schema: pa.Schema
    build: Callable[[Warehouse, dict[str, Any]], DatasetResult]
    personal: bool
    subject_column: str | None = None  # NIK column indexed (pseudonymised) per disclosure
    measure: str | None = None  # aggregate datasets: the count column, summed and suppressed
    params: dict[str, Any] = field(default_factory=dict)  # allowed parameters and defaults
    # the pipelines it is built from (``{param}`` filled from the grant, globs allowed):
    # delivered only when each has a successful load this cycle (simpul.exchange.readiness)
    pipelines: tuple[str, ...] = ()
    reconciliation: bool = False  # compares two sources: refuse an empty side or a flood
    empty_means_not_ready: bool = False  # e.g. aggregates before the marts are built

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)


def _arrow_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema)


def _exists(wh: Warehouse, schema: str, table: str) -> bool:
    with wh.engine.connect() as conn:
        return wh.table_exists(conn, schema, table)


# --------------------------------------------------------------------------- (a) Disdukcapil

SELISIH_SCHEMA = pa.schema(
    [
        ("nik", S),
        ("no_kk", S),
        ("nama_lengkap", S),
        ("jenis_kelamin", S),
        ("tanggal_lahir", pa.date32()),
        ("kode_desa", S),
        ("dusun", S),
        ("rw", S),
        ("rt", S),
        ("status_dasar", S),
        ("jenis_selisih", S),  # tidak_ada_di_siak | berbeda
        ("kolom_berbeda", S),  # comma-separated column names (no values)
        ("diperbarui_desa", TS),
    ]
)
COMPARED = ("no_kk", "nama_lengkap", "jenis_kelamin", "tanggal_lahir", "kode_desa", "status_dasar")

# a value one side lacks is not a disagreement: only two different known values are
_DIFFERS = {c: f"(o.{c} IS NOT NULL AND s.{c} IS NOT NULL AND o.{c} <> s.{c})" for c in COMPARED}
_DIFF_FLAGS = ", ".join(f"CASE WHEN {e} THEN 1 ELSE 0 END AS d_{c}" for c, e in _DIFFERS.items())
SELISIH_SQL = f"""
WITH v AS (
    SELECT nik, _source, no_kk, nama_lengkap, jenis_kelamin, tanggal_lahir, kode_desa, dusun,
        rw, rt, status_dasar, updated_at, _deleted,
        ROW_NUMBER() OVER (PARTITION BY nik, _source
                           ORDER BY updated_at DESC NULLS LAST, _recorded_at DESC) AS rn
    FROM core.penduduk_versions
    WHERE _source IN (:village_source, :register_source)
)
SELECT o.nik, o.no_kk, o.nama_lengkap, o.jenis_kelamin, o.tanggal_lahir, o.kode_desa, o.dusun,
    o.rw, o.rt, o.status_dasar, o.updated_at AS diperbarui_desa,
    CASE WHEN s.nik IS NULL THEN 1 ELSE 0 END AS missing,
    {_DIFF_FLAGS}
FROM v o
LEFT JOIN v s ON s.nik = o.nik AND s._source = :register_source AND s.rn = 1 AND NOT s._deleted
WHERE o._source = :village_source AND o.rn = 1 AND NOT o._deleted
  AND (s.nik IS NULL OR {" OR ".join(_DIFFERS.values())})
ORDER BY o.nik
"""


def build_selisih(wh: Warehouse, params: dict[str, Any]) -> DatasetResult:
    """Residents a village reports (OpenSID) that SIAK lacks or records differently."""
    if not _exists(wh, "core", "penduduk_versions"):
        empty = {params["village_source"]: 0, params["register_source"]: 0}
        return DatasetResult(
            _arrow_table([], SELISIH_SCHEMA),
            ["core.penduduk_versions belum ada"],
            metadata={"populasi": empty},
        )
    rows = wh.query(SELISIH_SQL, params)
    sides = {
        params["village_source"]: 0,
        params["register_source"]: 0,
        **{
            r["_source"]: int(r["n"])
            for r in wh.query(
                "SELECT _source, count(DISTINCT nik) AS n FROM core.penduduk_versions "
                "WHERE _source IN (:village_source, :register_source) AND NOT _deleted "
                "GROUP BY _source",
                params,
            )
        },
    }
    out = []
    for r in rows:
        r["jenis_selisih"] = "tidak_ada_di_siak" if r["missing"] else "berbeda"
        r["kolom_berbeda"] = None if r["missing"] else ",".join(c for c in COMPARED if r[f"d_{c}"])
        out.append(r)
    notes = [] if out else ["tidak ada selisih / no differences in this run"]
    return DatasetResult(_arrow_table(out, SELISIH_SCHEMA), notes, metadata={"populasi": sides})


# --------------------------------------------------------------------------- (b) Dinas Sosial

BANTUAN_SCHEMA = pa.schema(
    [
        ("nik", S),
        ("no_kk", S),
        ("nama_lengkap", S),
        ("kode_desa", S),
        ("program", S),
        ("periode", S),
        ("nominal", INT),
        ("status_dasar", S),
        ("diperbarui_register", TS),
    ]
)

BANTUAN_SQL = """
SELECT p.nik, b.no_kk, p.nama_lengkap, b.kode_desa, b.program, b.periode, b.nominal,
    p.status_dasar, p.updated_at AS diperbarui_register
FROM core.penduduk p
JOIN core.penerima_bantuan b ON b.nik = p.nik
WHERE p.status_dasar = :deceased AND p._deleted_at IS NULL
ORDER BY p.nik, b.program, b.periode
"""


def build_meninggal_bantuan(wh: Warehouse, params: dict[str, Any]) -> DatasetResult:
    """Deceased residents still on the assistance list: an empty result is still delivered."""
    if not _exists(wh, "core", "penerima_bantuan"):
        note = "core.penerima_bantuan belum tersedia / assistance list not loaded yet"
        return DatasetResult(_arrow_table([], BANTUAN_SCHEMA), [note])
    if not wh.scalar("select count(*) from core.penerima_bantuan"):
        note = "core.penerima_bantuan kosong / assistance list is empty"
        return DatasetResult(_arrow_table([], BANTUAN_SCHEMA), [note])
    rows = wh.query(BANTUAN_SQL, {"deceased": "2"})
    return DatasetResult(_arrow_table(rows, BANTUAN_SCHEMA))


# --------------------------------------------------------------------------- (c) Satu Data

AGREGAT_SCHEMA = MARTS_TABLES["penduduk_bulanan"]  # the open dataset is the mart, unchanged


def build_agregat(wh: Warehouse, params: dict[str, Any]) -> DatasetResult:
    """Population per month end, village, age group, sex, religion, education (marts)."""
    if params.get("period", "latest") == "latest":
        last = wh.scalar("select max(akhir_bulan) from marts.penduduk_bulanan")
        where, bound = "WHERE akhir_bulan = :last", {"last": last}
    else:
        where, bound = "", {}
    rows = wh.query(
        f"SELECT {', '.join(AGREGAT_SCHEMA.names)} FROM marts.penduduk_bulanan {where} "
        "ORDER BY akhir_bulan, kode_desa, umur_min, jenis_kelamin, agama, pendidikan",
        bound,
    )
    table = _arrow_table(rows, AGREGAT_SCHEMA)
    periods = sorted({str(r["akhir_bulan"]) for r in rows})
    meta = {
        "periode": f"{periods[0]}/{periods[-1]}" if periods else None,
        "kode_wilayah": sorted({r["kode_desa"] for r in rows if r["kode_desa"]}),
    }
    notes = [] if rows else ["marts.penduduk_bulanan kosong / no aggregates yet"]
    return DatasetResult(table, notes, metadata=meta)


# --------------------------------------------------------------------------- feedback

MUTU_SCHEMA = pa.schema(
    [
        ("load_id", S),
        ("baris", INT),
        ("kunci_data", S),  # the source's own record key (its NIK for penduduk)
        ("entitas", S),
        ("aturan", S),
        ("alasan", S),
        ("reason", S),
        ("status", S),
        ("dikarantina", TS),
        ("kode_desa", S),  # the village the record came from, when the source says (OpenSID)
    ]
)


def _kode_desa_of(record_json: str | None) -> str | None:
    """The village code inside a quarantined source record (OpenSID drops carry it)."""
    import json

    try:
        raw = json.loads(record_json or "{}")
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    value = raw.get("_kode_desa") or raw.get("kode_desa")
    return str(value) if value else None


def build_laporan_mutu(wh: Warehouse, params: dict[str, Any]) -> DatasetResult:
    """A source agency's own open quarantine rows with reasons, plus the per-load reports
    (HTML summary and row-level CSV, which are meant for that agency only) of its loads with
    open rows or loaded in the last ``since_days`` days."""
    from datetime import UTC, datetime, timedelta

    from simpul.config import paths

    source = params["source"]
    rows = wh.query(
        """SELECT load_id, row_number AS baris, record_key AS kunci_data, entity AS entitas,
            rules AS aturan, reasons_id AS alasan, reasons_en AS reason, status,
            quarantined_at AS dikarantina, record_json
        FROM ops.quarantine
        WHERE source = :source AND status = 'open'
        ORDER BY load_id, row_number""",
        {"source": source},
    )
    for r in rows:
        r["kode_desa"] = _kode_desa_of(r.pop("record_json"))
    since = datetime.now(UTC) - timedelta(days=int(params.get("since_days") or 7))
    recent = wh.query(
        "SELECT load_id FROM ops.loads WHERE source = :source AND loaded_at >= :since",
        {"source": source, "since": since},
    )
    attachments = []
    for load_id in sorted({r["load_id"] for r in rows} | {r["load_id"] for r in recent}):
        from simpul.storage import store

        store("reports").fetch(load_id)  # written on another host: shared storage
        for name in ("laporan_mutu_data.html", "laporan_mutu_data.csv"):
            path = paths().reports / load_id / name
            if path.exists():
                attachments.append(path)
    notes = [] if rows else ["tidak ada baris terkarantina / nothing in quarantine"]
    return DatasetResult(_arrow_table(rows, MUTU_SCHEMA), notes, attachments)


PADAN_MUTU_SCHEMA = pa.schema(
    [
        ("sumber", S),
        ("kode_desa", S),  # per_desa: the village the records came from; else empty
        ("per_tanggal", pa.date32()),
        ("catatan", INT),
        ("nik_padan", INT),
        ("persen_padan", pa.float64()),
        ("tertaut", INT),
        ("tertaut_nik_salah", INT),
        ("tinjau", INT),
        ("tidak_cocok", INT),
    ]
)


def build_padan_mutu(wh: Warehouse, params: dict[str, Any]) -> DatasetResult:
    """The source agency's padan rate from the latest padan NIK run: one aggregate row, or one
    per village (``per_desa``, for a grant partitioned by ``kode_desa``: each village gets its
    own records' rate). Counts only: no NIK, no name (the whitelist has no such column)."""
    from datetime import UTC, datetime

    from simpul.exchange.feedback import padan_rates

    today = datetime.now(UTC).date()
    rates = padan_rates(wh, params["source"], per_desa=bool(params.get("per_desa")))
    rows = [{**r, "per_tanggal": today} for r in rates]
    notes = [] if rows else ["padan NIK belum dijalankan / padan NIK has not run for this source"]
    return DatasetResult(_arrow_table(rows, PADAN_MUTU_SCHEMA), notes)


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="penduduk_selisih_siak",
            title="Selisih data penduduk desa terhadap SIAK",
            description=(
                "Penduduk yang dilaporkan desa (OpenSID) tetapi tidak ada atau berbeda di SIAK. "
                "Residents the villages report that SIAK lacks or records differently."
            ),
            schema=SELISIH_SCHEMA,
            build=build_selisih,
            personal=True,
            subject_column="nik",
            params={"village_source": "opensid", "register_source": "siak"},
            pipelines=("{village_source}_penduduk", "{register_source}_penduduk"),
            reconciliation=True,
        ),
        Dataset(
            name="meninggal_penerima_bantuan",
            title="Penduduk meninggal yang masih terdaftar penerima bantuan",
            description=(
                "Penduduk berstatus mati (status_dasar 2) yang masih ada di daftar penerima "
                "bantuan. Deceased residents still on the assistance list."
            ),
            schema=BANTUAN_SCHEMA,
            build=build_meninggal_bantuan,
            personal=True,
            subject_column="nik",
            pipelines=("siak_penduduk", "dinsos_penerima_bantuan"),
        ),
        Dataset(
            name="penduduk_agregat",
            title="Jumlah penduduk per desa, kelompok umur dan jenis kelamin",
            description=(
                "Agregat penduduk akhir bulan dari marts.penduduk_bulanan; sel kecil disamarkan. "
                "Month-end population aggregates; small cells suppressed."
            ),
            schema=AGREGAT_SCHEMA,
            build=build_agregat,
            personal=False,
            measure="jumlah",
            params={"period": "latest"},
            pipelines=("siak_penduduk",),
            empty_means_not_ready=True,
        ),
        Dataset(
            name="laporan_mutu_data",
            title="Laporan mutu data untuk sumber",
            description=(
                "Baris kiriman sumber yang dikarantina beserta alasannya, untuk diperbaiki. "
                "The source's quarantined rows and reasons, to fix at the source."
            ),
            schema=MUTU_SCHEMA,
            build=build_laporan_mutu,
            personal=True,
            params={"source": None, "since_days": 7},
            pipelines=("{source}_*",),
        ),
        Dataset(
            name="padan_nik_mutu",
            title="Tingkat padan NIK untuk sumber",
            description=(
                "Persentase catatan sumber yang NIK-nya padan dengan SIAK, dan berapa yang "
                "tertaut padan NIK walau NIK-nya salah (agregat, tanpa data pribadi). "
                "The share of the source's records whose NIK matches SIAK (aggregate only)."
            ),
            schema=PADAN_MUTU_SCHEMA,
            build=build_padan_mutu,
            personal=False,
            params={"source": None, "per_desa": False},
            pipelines=("{source}_*",),
            empty_means_not_ready=True,
        ),
    )
}
