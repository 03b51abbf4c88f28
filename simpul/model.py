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
TS = pa.timestamp("us", tz="UTC")
# every source entity carries the time of its last change, for incremental pulls
UPDATED_AT = Column("updated_at", TS, "last change in the source system")

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
        UPDATED_AT,
    ),
)


KELUARGA = Entity(
    name="keluarga",
    key=("no_kk",),
    description="A family card (Kartu Keluarga) and where the family lives.",
    columns=(
        Column("no_kk", S, "Nomor Kartu Keluarga, 16 digits", personal=True),
        Column("nik_kepala", S, "NIK of the head of family", personal=True),
        Column("kode_desa", S, "Kemendagri village code, dotted"),
        Column("dusun", S, "dusun / lingkungan"),
        Column("rw", S, "RW, 3 digits"),
        Column("rt", S, "RT, 3 digits"),
        Column("alamat", S, "street address", personal=True),
        UPDATED_AT,
    ),
)

PERISTIWA = Entity(
    name="peristiwa",
    key=("id_peristiwa",),
    description="A population event: birth, death, move out, missing, move in, gone.",
    columns=(
        Column("id_peristiwa", S, "the source's event id"),
        Column("nik", S, "the person the event is about", personal=True),
        Column("no_kk", S, "family card at the time of the event", personal=True),
        Column(
            "kode_peristiwa",
            S,
            "1 lahir, 2 mati, 3 pindah keluar, 4 hilang, 5 pindah masuk, 6 pergi",
            "peristiwa_opensid",
        ),
        Column("tanggal_peristiwa", pa.date32(), "date of the event"),
        Column("kode_desa", S, "village where it was registered"),
        Column("kode_wilayah_lain", S, "origin (moves in) or destination (moves out) region"),
        UPDATED_AT,
    ),
)

PERMOHONAN_LAYANAN = Entity(
    name="permohonan_layanan",
    key=("id_permohonan",),
    description="A PATEN service application at the kecamatan (Permendagri 4/2010).",
    columns=(
        Column("id_permohonan", S, "application number"),
        Column("nik_pemohon", S, "applicant's NIK", personal=True),
        Column("jenis_layanan", S, "service code from the kabupaten's PATEN service list"),
        Column("kode_desa", S, "applicant's village"),
        Column("tanggal_diterima", TS, "received"),
        Column("tanggal_selesai", TS, "decided (terbit or ditolak); null while open"),
        Column("status", S, "diterima, verifikasi, perlu_perbaikan, terbit, ditolak, dicabut"),
        UPDATED_AT,
    ),
)

IZIN = Entity(
    name="izin",
    key=("nomor_izin",),
    description="A business permit (OSS-RBA) held by a resident of the kecamatan.",
    columns=(
        Column("nomor_izin", S, "permit number"),
        Column("nib", S, "Nomor Induk Berusaha, 13 digits"),
        Column("kbli", S, "KBLI 2020 code, 5-digit string (leading zeros kept)"),
        Column("judul_kbli", S, "KBLI title"),
        Column("tingkat_risiko", S, "rendah, menengah rendah, menengah tinggi, tinggi"),
        Column("status", S, "permit status"),
        Column("nik_pemohon", S, "applicant's NIK", personal=True),
        Column("kode_desa", S, "business location village"),
        Column("tanggal_terbit", pa.date32(), "issued"),
        Column("tanggal_berlaku_sampai", pa.date32(), "valid until (null: no expiry)"),
        UPDATED_AT,
    ),
)

PENERIMA_BANTUAN = Entity(
    name="penerima_bantuan",
    key=("nik", "program", "periode"),
    description="A social-assistance recipient (DTKS-like) per programme and period.",
    columns=(
        Column("nik", S, "recipient's NIK", personal=True),
        Column("no_kk", S, "recipient's family card", personal=True),
        Column("program", S, "PKH, BPNT, BLT-DD, ..."),
        Column("periode", S, "period, e.g. 2026-Q3"),
        Column("kode_desa", S, "recipient's village"),
        Column("nominal", pa.int64(), "amount in rupiah per period"),
        UPDATED_AT,
    ),
)

ENTITIES: dict[str, Entity] = {
    e.name: e for e in (PENDUDUK, KELUARGA, PERISTIWA, PERMOHONAN_LAYANAN, IZIN, PENERIMA_BANTUAN)
}


def model_markdown() -> str:
    """The canonical model as one Markdown document (docs/canonical_model.md is generated)."""
    out = [
        "# Canonical model",
        "",
        "Generated from `simpul/model.py` by `simpul docs`; do not edit by hand.",
        "",
        "Every core table also carries `_load_id`, `_source`, `_extracted_at` (lineage) and "
        "`_merged_at`. Columns marked *personal* never appear in logs and are pseudonymised "
        "or left out in marts.",
        "",
    ]
    for e in ENTITIES.values():
        out += [
            f"## {e.name}",
            "",
            e.description,
            "",
            f"Key: {', '.join(f'`{k}`' for k in e.key)}",
            "",
            "| column | type | meaning | code list | personal |",
            "|---|---|---|---|---|",
        ]
        for c in e.columns:
            out.append(
                f"| `{c.name}` | {c.type} | {c.meaning} | {c.code_list or ''} | "
                f"{'yes' if c.personal else ''} |"
            )
        out.append("")
    return "\n".join(out)


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


# Longest text a canonical column holds (characters): SIAK's and OpenSID's field sizes with
# room to spare (SIAK NAMA_LGKP 60, OpenSID nama 100, alamat 200). Longer text is an error
# finding (rule ``max_length``), never silently loaded or cut.
MAX_LENGTH: dict[str, int] = {
    "nik": 16,
    "no_kk": 16,
    "nik_ayah": 16,
    "nik_ibu": 16,
    "nik_kepala": 16,
    "nik_pemohon": 16,
    "nama_lengkap": 100,
    "nama_ayah": 100,
    "nama_ibu": 100,
    "tempat_lahir": 100,
    "dusun": 100,
    "alamat": 255,
    "rt": 4,
    "rw": 4,
}
DEFAULT_MAX_LENGTH = 255


def max_length(column: str) -> int:
    return MAX_LENGTH.get(column, DEFAULT_MAX_LENGTH)
