"""The canonical model: one definition per entity, used by mappings, the warehouse and docs.

Types are Arrow types; the warehouse DDL is derived from them so that DuckDB and PostgreSQL
tables never drift from what the mappings produce.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    meaning: str
    code_list: str | None = None
    personal: bool = False  # personal data: never logged, pseudonymised in marts


@dataclass(frozen=True)
class Entity:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


S = pa.string()

PENDUDUK = Entity(
    name="penduduk",
    key=("nik",),
    description="A resident as registered (UU 24/2013 Pasal 58 elements, minus protected ones).",
    columns=(
        Column(
            "nik", S, "Nomor Induk Kependudukan, 16 digits; the stable person key", personal=True
        ),
        Column(
            "no_kk",
            S,
            "Nomor Kartu Keluarga, 16 digits; changes when a family changes",
            personal=True,
        ),
        Column("nama_lengkap", S, "full name, upper case", personal=True),
        Column("jenis_kelamin", S, "sex", "jenis_kelamin"),
        Column("tempat_lahir", S, "place of birth, upper case", personal=True),
        Column("tanggal_lahir", pa.date32(), "date of birth", personal=True),
        Column("agama", S, "religion", "agama"),
        Column(
            "status_perkawinan",
            S,
            "marital status (6-code F-1.01 2019 list)",
            "status_perkawinan_f101_2019",
        ),
        Column("shdk", S, "status hubungan dalam keluarga", "status_hubungan_dalam_keluarga"),
        Column("pendidikan", S, "education in the KK", "pendidikan_dalam_kk"),
        Column("pekerjaan", S, "occupation", "jenis_pekerjaan"),
        Column("golongan_darah", S, "blood type", "golongan_darah"),
        Column("nik_ayah", S, "father's NIK", personal=True),
        Column("nama_ayah", S, "father's name", personal=True),
        Column("nik_ibu", S, "mother's NIK", personal=True),
        Column("nama_ibu", S, "mother's name", personal=True),
        Column("kode_desa", S, "Kemendagri village code, dotted (16.08.01.2006)"),
        Column("dusun", S, "dusun / lingkungan"),
        Column("rw", S, "RW, 3 digits"),
        Column("rt", S, "RT, 3 digits"),
        Column("alamat", S, "street address", personal=True),
        Column(
            "status_dasar",
            S,
            "1 hidup, 2 mati, 3 pindah, 4 hilang, 6 pergi",
            "status_dasar_opensid",
        ),
        Column("updated_at", pa.timestamp("us", tz="UTC"), "last change in the source system"),
    ),
)

ENTITIES: dict[str, Entity] = {e.name: e for e in (PENDUDUK,)}

# Lineage columns carried by every raw and core row (dbt-style).
LINEAGE = pa.schema(
    [
        pa.field("_load_id", S),
        pa.field("_source", S),
        pa.field("_extracted_at", pa.timestamp("us", tz="UTC")),
    ]
)


def entity(name: str) -> Entity:
    try:
        return ENTITIES[name]
    except KeyError:
        raise KeyError(f"unknown canonical entity {name!r}; known: {sorted(ENTITIES)}") from None
