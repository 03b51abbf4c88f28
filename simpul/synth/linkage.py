"""Linkage ground truth: agency person records whose true SIAK person is known.

Why: padan NIK must be measured, not asserted. Each record copies a SIAK resident and then
suffers the corruptions agencies' files really show (NIK typo or transposition, Excel-zeroed
16th digit, missing NIK, name variants, swapped birth day/month, Excel serial dates, a move to
another village); a share of records belong to nobody in SIAK. ``truth`` names the true NIK.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa

from simpul.synth.injector import EXCEL_EPOCH

CORRUPTIONS = (
    "nik_typo",
    "nik_transposition",
    "nik_excel_zeroed",
    "nik_missing",
    "name_variant",
    "date_day_month_swap",
    "date_excel_serial",
    "moved_village",
)
_GELAR_BEFORE = ("H.", "HJ.", "DRS.", "IR.", "DR.")
_GELAR_AFTER = (", S.PD", ", S.KOM", ", A.MD", ", SE", " S.Pd.I")
_SWAPS = (
    ("MUHAMMAD", "M."),
    ("MUHAMMAD", "MOH."),
    ("MUHAMMAD", "MUHAMAD"),
    ("ABDUL", "ABD."),
    ("SITI", "SITTI"),
    ("NUR ", "NUR"),
    ("U", "OE"),
    ("J", "DJ"),
    ("C", "TJ"),
)


def _name_variant(r: random.Random, name: str) -> str:
    options = []
    for a, b in _SWAPS:
        if a in name:
            options.append(name.replace(a, b, 1))
    options.append(f"{r.choice(_GELAR_BEFORE)} {name}")
    options.append(f"{name}{r.choice(_GELAR_AFTER)}")
    options.append(name.title())
    if len(name) > 5:  # one keying error
        i = r.randrange(1, len(name) - 1)
        options.append(name[:i] + name[i + 1 :])
    return r.choice(options)


def _typo(r: random.Random, nik: str) -> str:
    i = r.randrange(len(nik))
    return nik[:i] + r.choice([d for d in "0123456789" if d != nik[i]]) + nik[i + 1 :]


def _transpose(r: random.Random, nik: str) -> str:
    for _ in range(20):
        i = r.randrange(len(nik) - 1)
        if nik[i] != nik[i + 1]:
            return nik[:i] + nik[i + 1] + nik[i] + nik[i + 2 :]
    return _typo(r, nik)


def make_linkage_records(
    penduduk: pa.Table,
    *,
    n: int,
    corruption_rate: float = 0.3,
    unlinkable_rate: float = 0.05,
    seed: int = 42,
    agency: str = "dinsos",
    deceased_share: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` agency records (all text, as delivered) and their truth.

    truth: record_id, true_nik (None: nobody in SIAK), corruptions (comma-separated).
    """
    r = random.Random(f"{seed}:{agency}:linkage")
    p = penduduk.select(
        [
            "nik",
            "no_kk",
            "nama_lengkap",
            "tanggal_lahir",
            "jenis_kelamin",
            "kode_desa",
            "alamat",
            "status_dasar",
        ]
    ).to_pandas()
    # plain dicts, not DataFrame rows: drawing every resident of a kabupaten stays fast
    alive = p[p["status_dasar"] == "1"].to_dict("records")
    dead = p[p["status_dasar"] == "2"].to_dict("records")
    villages = sorted(p["kode_desa"].dropna().unique())
    n_unlink = int(round(n * unlinkable_rate))
    n_dead = min(len(dead), int(round(n * deceased_share)))
    picks = [alive[i] for i in r.sample(range(len(alive)), min(len(alive), n - n_unlink - n_dead))]
    picks += [dead[i] for i in r.sample(range(len(dead)), n_dead)]
    records, truth = [], []
    for k, row in enumerate(picks):
        rec = _agency_record(f"{agency}-{k:07d}", row)
        kinds: list[str] = []
        if r.random() < corruption_rate:
            kinds = r.sample(CORRUPTIONS, 1 if r.random() < 0.7 else 2)
        kinds = _corrupt(r, rec, kinds, villages)
        records.append(rec)
        truth.append(
            {"record_id": rec["record_id"], "true_nik": row["nik"], "corruptions": ",".join(kinds)}
        )
    known = set(p["nik"])
    for k in range(n_unlink):
        rec = _unknown_person(r, f"{agency}-x{k:06d}", alive, known)
        records.append(rec)
        truth.append(
            {"record_id": rec["record_id"], "true_nik": None, "corruptions": "not_in_siak"}
        )
    return pd.DataFrame(records), pd.DataFrame(truth)


def _agency_record(record_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """A resident as an agency file carries them (L/P sex, ISO birth date)."""
    return {
        "record_id": record_id,
        "nik": row["nik"],
        "no_kk": row["no_kk"],
        "nama_lengkap": row["nama_lengkap"],
        "tanggal_lahir": row["tanggal_lahir"].isoformat() if row["tanggal_lahir"] else None,
        "jenis_kelamin": ({"1": "L", "2": "P"}.get(row["jenis_kelamin"], row["jenis_kelamin"])),
        "kode_desa": row["kode_desa"],
        "alamat": row["alamat"],
    }


def _corrupt(
    r: random.Random, rec: dict[str, Any], kinds: list[str], villages: list[str]
) -> list[str]:
    """Apply ``kinds`` to ``rec`` in place; returns the kinds that really applied."""
    for kind in list(kinds):
        if kind.startswith("date_") and "-" not in (rec["tanggal_lahir"] or ""):
            kinds.remove(kind)  # one date defect per record
        elif kind.startswith("nik_") and not (rec["nik"] and len(rec["nik"]) == 16):
            kinds.remove(kind)  # one NIK defect per record keeps the truth exact
        elif kind == "nik_typo":
            rec["nik"] = _typo(r, rec["nik"])
        elif kind == "nik_transposition":
            rec["nik"] = _transpose(r, rec["nik"])
        elif kind == "nik_excel_zeroed":
            rec["nik"] = rec["nik"][:15] + ("0" if rec["nik"][15] != "0" else "1")
        elif kind == "nik_missing":
            rec["nik"] = r.choice([None, "", "0"])
        elif kind == "name_variant":
            rec["nama_lengkap"] = _name_variant(r, rec["nama_lengkap"])
        elif kind == "date_day_month_swap" and rec["tanggal_lahir"]:
            d = date.fromisoformat(rec["tanggal_lahir"])
            if d.day <= 12 and d.day != d.month:
                rec["tanggal_lahir"] = d.replace(month=d.day, day=d.month).isoformat()
            else:
                kinds.remove(kind)
        elif kind == "date_excel_serial" and rec["tanggal_lahir"]:
            d = date.fromisoformat(rec["tanggal_lahir"])
            rec["tanggal_lahir"] = str((d - EXCEL_EPOCH).days)
        elif kind == "moved_village":
            rec["kode_desa"] = r.choice([v for v in villages if v != rec["kode_desa"]] or villages)
            rec["alamat"] = None
            rec["no_kk"] = None
    return kinds


def _unknown_person(
    r: random.Random, record_id: str, alive: list[dict[str, Any]], known: set[str]
) -> dict[str, Any]:
    """Someone SIAK does not know (newcomer, unregistered): a hard negative that shares a real
    resident's birth date, sex, region and NIK prefix, with a name drawn from two others."""
    a, b, c = (alive[r.randrange(len(alive))] for _ in range(3))
    nik = a["nik"][:12] + f"{r.randrange(1, 10000):04d}"
    while nik in known:
        nik = a["nik"][:12] + f"{r.randrange(1, 10000):04d}"
    first = str(c["nama_lengkap"]).split()[0]
    last = str(b["nama_lengkap"]).split()[-1]
    return {
        "record_id": record_id,
        "nik": nik,
        "no_kk": None,
        "nama_lengkap": first if first == last else f"{first} {last}",
        "tanggal_lahir": a["tanggal_lahir"].isoformat() if a["tanggal_lahir"] else None,
        "jenis_kelamin": {"1": "L", "2": "P"}.get(a["jenis_kelamin"]),
        "kode_desa": b["kode_desa"],
        "alamat": None,
    }


def siak_records(penduduk: pa.Table) -> pd.DataFrame:
    """SIAK residents in the padan input layout (record_id = NIK)."""
    df = penduduk.select(
        ["nik", "no_kk", "nama_lengkap", "tanggal_lahir", "jenis_kelamin", "kode_desa", "alamat"]
    ).to_pandas()
    df.insert(0, "record_id", df["nik"])
    return df
