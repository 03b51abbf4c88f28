"""PATEN applications at the kecamatan and OSS-RBA business permits.

The service list and KBLI sample are data (DOMAIN.md: which services apply is a per-kabupaten
regulation), so a kabupaten's own list can replace them without code changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Layanan:
    kode: str
    nama: str
    kategori: str  # perizinan | nonperizinan | adminduk
    sla_hari: int
    bobot: float  # relative frequency


LAYANAN_PATEN: tuple[Layanan, ...] = (
    Layanan("SKTM", "Surat Keterangan Tidak Mampu", "nonperizinan", 1, 22),
    Layanan("SKD", "Surat Keterangan Domisili", "nonperizinan", 1, 14),
    Layanan("SKDU", "Surat Keterangan Domisili Usaha", "nonperizinan", 2, 8),
    Layanan("SKAW", "Surat Keterangan Ahli Waris", "nonperizinan", 5, 4),
    Layanan("LEGAL", "Legalisasi Dokumen", "nonperizinan", 1, 12),
    Layanan("REKOM_KERAMAIAN", "Rekomendasi Izin Keramaian", "nonperizinan", 2, 5),
    Layanan("IMB_KECIL", "Izin Mendirikan Bangunan Kecil / PBG sederhana", "perizinan", 10, 3),
    Layanan("REKLAME", "Izin Reklame", "perizinan", 5, 2),
    Layanan(
        "PENGANTAR_KK", "Pengantar Penerbitan/Perubahan KK (ke Disdukcapil)", "adminduk", 3, 18
    ),
    Layanan("PENGANTAR_KTP", "Pengantar KTP-el (ke Disdukcapil)", "adminduk", 3, 12),
)
STATUS_OPEN = ("diterima", "verifikasi", "perlu_perbaikan")

# KBLI 2020 (5-digit string, leading zeros kept) with a typical OSS-RBA risk level
KBLI: tuple[tuple[str, str, str, float], ...] = (
    ("01111", "Pertanian jagung", "rendah", 5),
    ("01121", "Pertanian padi", "rendah", 14),
    ("01262", "Perkebunan buah kelapa sawit", "menengah rendah", 8),
    ("01291", "Perkebunan karet", "menengah rendah", 6),
    ("01411", "Budidaya sapi potong", "menengah rendah", 3),
    ("01461", "Budidaya ayam ras pedaging", "menengah tinggi", 3),
    ("03221", "Pembesaran ikan air tawar", "rendah", 2),
    ("10710", "Industri produk roti dan kue", "menengah rendah", 4),
    ("10612", "Penggilingan padi", "menengah rendah", 3),
    ("47111", "Perdagangan eceran di minimarket", "menengah rendah", 3),
    ("47112", "Perdagangan eceran bukan di minimarket (toko kelontong)", "rendah", 20),
    ("47300", "Perdagangan eceran bahan bakar kendaraan", "tinggi", 1),
    ("56101", "Restoran", "menengah rendah", 3),
    ("56102", "Rumah/warung makan", "rendah", 10),
    ("45405", "Reparasi sepeda motor", "rendah", 5),
    ("96021", "Salon kecantikan", "rendah", 3),
    ("41011", "Konstruksi gedung hunian", "menengah tinggi", 2),
    ("08102", "Penggalian pasir", "tinggi", 1),
)
IZIN_STATUS = ("terbit", "dicabut", "diterima", "verifikasi", "perlu_perbaikan", "ditolak")


def _dates(
    rng: np.random.Generator, start: np.datetime64, end: np.datetime64, n: int
) -> np.ndarray:
    span = max(1, int((end - start).astype(int)))
    return start + rng.integers(0, span, n).astype("timedelta64[D]")


def _stamp(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    sec = rng.integers(3_600, 9 * 3_600, len(days)).astype("timedelta64[s]")
    return days.astype("datetime64[us]") + sec.astype("timedelta64[us]")


def make_permohonan(
    rng: np.random.Generator,
    adults: pd.DataFrame,
    as_of: np.datetime64,
    years: int,
    per_person_year: float = 0.06,
) -> pd.DataFrame:
    """PATEN applications by living adults; turnaround ~ lognormal around the service SLA."""
    n = int(round(len(adults) * per_person_year * years))
    start = as_of - np.timedelta64(int(years * 365.25), "D")
    w = np.array([x.bobot for x in LAYANAN_PATEN])
    svc = rng.choice(len(LAYANAN_PATEN), n, p=w / w.sum())
    sla = np.array([x.sla_hari for x in LAYANAN_PATEN])[svc]
    who = rng.integers(0, len(adults), n)
    received = np.sort(_dates(rng, start, as_of, n))
    turnaround = np.maximum(0, np.round(sla * rng.lognormal(0.0, 0.6, n))).astype(int)
    done = received + turnaround.astype("timedelta64[D]")
    finished = done < as_of
    status = np.where(rng.random(n) < 0.94, "terbit", "ditolak").astype(object)
    status[~finished] = np.asarray(STATUS_OPEN, dtype=object)[rng.integers(0, 3, (~finished).sum())]
    selesai = pd.array(done, dtype="datetime64[s]")
    selesai[~finished] = pd.NaT
    updated = _stamp(rng, np.where(finished, done, received))
    years_ = pd.DatetimeIndex(received).year
    return pd.DataFrame(
        {
            "id_permohonan": [f"PTN-{y}-{i:06d}" for i, y in enumerate(years_, start=1)],
            "nik_pemohon": adults["nik"].to_numpy()[who],
            "jenis_layanan": np.array([x.kode for x in LAYANAN_PATEN], dtype=object)[svc],
            "kode_desa": adults["kode_desa"].to_numpy()[who],
            "tanggal_diterima": received,
            "tanggal_selesai": selesai,
            "status": status,
            "updated_at": updated,
        }
    )


def make_izin(
    rng: np.random.Generator, owners: pd.DataFrame, as_of: np.datetime64, per_owner: float = 0.08
) -> pd.DataFrame:
    """OSS-RBA permits: NIB 13 digits, KBLI kept as 5-character strings, risk per KBLI.

    ``owners`` are adults in trade/farming/self-employment (~25% of people), so about 2% of
    residents hold a permit.
    """
    n = min(int(round(len(owners) * per_owner)), len(owners))
    w = np.array([k[3] for k in KBLI])
    k = rng.choice(len(KBLI), n, p=w / w.sum())
    who = rng.choice(len(owners), n, replace=False)
    nib_num = rng.choice(10**10, n, replace=False)
    nib = np.array([f"912{x:010d}" for x in nib_num], dtype=object)
    issued = np.sort(_dates(rng, np.datetime64("2019-01-01"), as_of, n))
    status = rng.choice(len(IZIN_STATUS), n, p=[0.88, 0.03, 0.03, 0.03, 0.02, 0.01])
    status_s = np.asarray(IZIN_STATUS, dtype=object)[status]
    risk = np.array([x[2] for x in KBLI], dtype=object)[k]
    terbit = pd.array(issued, dtype="datetime64[s]")
    issued_mask = np.isin(status_s, ("terbit", "dicabut"))
    terbit[~issued_mask] = pd.NaT
    until = pd.array(issued + np.timedelta64(5 * 365 + 1, "D"), dtype="datetime64[s]")
    until[~issued_mask | (risk == "rendah")] = pd.NaT  # low risk: valid while the business runs
    y = pd.DatetimeIndex(issued).year
    return pd.DataFrame(
        {
            "nomor_izin": [f"503/{i:05d}/DPMPTSP/{yy}" for i, yy in enumerate(y, start=1)],
            "nib": nib,
            "kbli": np.array([x[0] for x in KBLI], dtype=object)[k],
            "judul_kbli": np.array([x[1] for x in KBLI], dtype=object)[k],
            "tingkat_risiko": risk,
            "status": status_s,
            "nik_pemohon": owners["nik"].to_numpy()[who],
            "kode_desa": owners["kode_desa"].to_numpy()[who],
            "tanggal_terbit": terbit,
            "tanggal_berlaku_sampai": until,
            "updated_at": _stamp(rng, issued),
        }
    )
