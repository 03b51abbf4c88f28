"""Which delivered tables padan reads (no heavy imports: the DAG generator needs them too).

Padan links each agency's people from its raw table (the latest load, valid and quarantined
rows) against SIAK's ``core.penduduk_versions``; the Airflow DAG re-links after a load of any of
these pipelines (``simpul.orchestration.ops_dags.padan_dag``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: the pipeline that loads the reference population (SIAK residents)
SIAK_PIPELINE = "siak_penduduk"


@dataclass(frozen=True)
class Source:
    """How one agency's delivered rows map onto the padan input columns."""

    name: str
    raw_table: str
    select: str  # SQL expressions -> nik, no_kk, nama_lengkap, tanggal_lahir, ...
    group: bool = False  # one person per distinct (nik, kk, name, village): aid lists repeat
    # padan input column -> raw columns that may carry it (first present wins, else NULL):
    # applicant records carry fewer fields and their exports differ; missing ones compare null
    optional: tuple[tuple[str, tuple[str, ...]], ...] = ()


_APPLICANT_OPTIONAL = (
    ("no_kk", ("no_kk_pemohon", "no_kk")),
    ("nama_lengkap", ("nama_pemohon", "nama_lengkap", "nama")),
    ("tanggal_lahir", ("tanggal_lahir_pemohon", "tgl_lahir_pemohon", "tanggal_lahir")),
    ("jenis_kelamin", ("jenis_kelamin_pemohon", "jenis_kelamin")),
    ("alamat", ("alamat_pemohon", "alamat")),
)


SOURCES = (
    Source(
        "dinsos",
        "dinsos_penerima_bantuan",
        '"NIK" AS nik, "NO_KK" AS no_kk, "NAMA" AS nama_lengkap, NULL AS tanggal_lahir, '
        'NULL AS jenis_kelamin, "KODE_DESA" AS kode_desa, NULL AS alamat',
        group=True,
    ),
    Source(
        "opensid",
        "opensid_penduduk",
        "nik, no_kk, nama AS nama_lengkap, tanggallahir AS tanggal_lahir, sex AS jenis_kelamin, "
        "_kode_desa AS kode_desa, alamat",
    ),
    # permit (OSS-RBA) and PATEN applicants: often only the NIK and a village; one person per
    # distinct applicant (several permits or applications are one record). ``name`` equals the
    # rows' ``_source`` so the marts can match a permit to its own padan link.
    Source(
        "oss",
        "oss_izin",
        "nik_pemohon AS nik, kode_desa",
        group=True,
        optional=_APPLICANT_OPTIONAL,
    ),
    Source(
        "paten",
        "paten_permohonan",
        "nik_pemohon AS nik, kode_desa",
        group=True,
        optional=_APPLICANT_OPTIONAL,
    ),
)


def padan_pipelines() -> tuple[str, ...]:
    """Pipelines whose loads change padan's input: SIAK and every agency source (raw table
    name = pipeline name)."""
    return (SIAK_PIPELINE, *(s.raw_table for s in SOURCES))
