"""The raw baseline: what a hand-written script would do with the same landed rows.

Read the landed Parquet, convert the few columns the rules need and check them with the same
``simpul.domain`` rules in plain vectorised pandas (no Great Expectations, no mapping engine,
no reports), then bulk-load the valid rows into one table of the same engine: DuckDB from
Arrow, PostgreSQL by COPY. No lineage, no raw layer, no history, no merge, no quarantine
table: it is the floor the hub's costs are measured against.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from simpul.domain import nik as rules
from simpul.domain.regions import code_lists
from simpul.domain.text import clean_digits, clean_text

TABLE = "bench_baseline"


def _codes(s: pd.Series, code_list: str) -> pd.Series:
    table = {
        "".join(label.upper().split()): code for code, label in code_lists()[code_list].items()
    }
    table.update({code.upper(): code for code in code_lists()[code_list]})
    return s.astype("string").str.upper().str.replace(r"\s+", "", regex=True).map(table)


def _date(s: pd.Series, fmt: str) -> pd.Series:
    return pd.to_datetime(clean_text(s), format=fmt, errors="coerce")


def check_penduduk(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    nik = clean_digits(df["NIK"])
    kk = clean_digits(df["NO_KK"])
    born = _date(df["TGL_LHR"], "%d-%m-%Y")
    sex = _codes(df["JENIS_KLMIN"], "jenis_kelamin")
    desa = clean_digits(df["NO_PROP"]).str.zfill(2)
    for col, width in (("NO_KAB", 2), ("NO_KEC", 2), ("NO_KEL", 4)):
        desa = desa + "." + clean_digits(df[col]).str.zfill(width)
    out = pd.DataFrame(
        {
            "nik": nik,
            "no_kk": kk,
            "nama_lengkap": clean_text(df["NAMA_LGKP"]).str.upper(),
            "jenis_kelamin": sex,
            "tanggal_lahir": born.dt.date,
            "kode_desa": desa,
            "alamat": clean_text(df["ALAMAT"]).str.upper(),
            "updated_at": pd.to_datetime(
                df["UPDATED_AT"], utc=True, errors="coerce", format="ISO8601"
            ),
        }
    )
    today = pd.Timestamp.now().normalize()
    ok = (
        nik.notna()
        & rules.structure_ok(nik)
        & rules.agrees_with_birth(nik, out["tanggal_lahir"], sex)
        & rules.unique_or_owner(nik, out["tanggal_lahir"], sex)
        & rules.excel_truncated_nik(nik, clean_digits(df["NIK_AYAH"]), clean_digits(df["NIK_IBU"]))
        & kk.str.fullmatch(r"\d{16}").fillna(False)
        & born.notna()
        & (born <= today).fillna(False)
        & sex.notna()
        & desa.str.fullmatch(r"\d{2}\.\d{2}\.\d{2}\.[12]\d{3}").fillna(False)
    )
    # warnings are computed as the hub does, and only counted
    warned = ~rules.in_region(nik, "1608") | ~rules.kk_structure_ok(kk).fillna(True)
    out["_warned"] = warned.to_numpy()
    return out, ok.fillna(False).astype(bool)


def check_keluarga(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    kk = clean_digits(df["NO_KK"])
    out = pd.DataFrame(
        {
            "no_kk": kk,
            "nik_kepala": clean_digits(df["NIK_KEPALA"]),
            "alamat": clean_text(df["ALAMAT"]).str.upper(),
            "updated_at": pd.to_datetime(
                df["UPDATED_AT"], utc=True, errors="coerce", format="ISO8601"
            ),
        }
    )
    ok = kk.str.fullmatch(r"\d{16}").fillna(False) & ~kk.duplicated(keep=False)
    out["_warned"] = (~rules.kk_structure_ok(kk).fillna(True)).to_numpy()
    return out, ok.astype(bool)


def check_izin(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    nik = clean_digits(df["nik_pemohon"])
    terbit = pd.to_datetime(clean_text(df["tanggal_terbit"]), format="%Y-%m-%d", errors="coerce")
    out = pd.DataFrame(
        {
            "nomor_izin": clean_text(df["nomor_izin"]).str.upper(),
            "nib": clean_digits(df["nib"]),
            "kbli": clean_digits(df["kbli"]),
            "nik_pemohon": nik,
            "tanggal_terbit": terbit.dt.date,
            "updated_at": pd.to_datetime(
                df["updated_at"], utc=True, errors="coerce", format="ISO8601"
            ),
        }
    )
    ok = (
        out["nomor_izin"].notna()
        & ~out["nomor_izin"].duplicated(keep=False)
        & rules.structure_ok(nik)
        & out["kbli"].str.fullmatch(r"\d{5}").fillna(False)
        & terbit.notna()
    )
    out["_warned"] = False
    return out, ok.fillna(False).astype(bool)


CHECKS = {"penduduk": check_penduduk, "keluarga": check_keluarga, "izin": check_izin}


def bulk_load(url: str, table: pa.Table) -> None:
    """Replace ``bench_baseline`` with ``table``: DuckDB from Arrow, PostgreSQL COPY."""
    if url.startswith("duckdb:///"):
        import duckdb

        con = duckdb.connect(url.removeprefix("duckdb:///"))
        try:
            con.execute(f"DROP TABLE IF EXISTS {TABLE}")
            con.register("_arrow", table)
            con.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM _arrow")
            con.unregister("_arrow")
        finally:
            con.close()
        return
    import psycopg

    from simpul.warehouse.engine import copy_arrow, sql_type

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    cols = ", ".join(f'"{f.name}" {sql_type(f.type)}' for f in table.schema)
    with psycopg.connect(dsn) as con, con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cur.execute(f"CREATE TABLE {TABLE} ({cols})")
        copy_arrow(cur, TABLE, table)


def run(a: dict[str, Any]) -> dict[str, Any]:
    """Read ``a['file']``, check with ``a['entity']``'s rules, load the valid rows."""
    import time

    timings = {}
    t = time.monotonic()
    df = pq.read_table(a["file"]).to_pandas(types_mapper=pd.ArrowDtype).astype("string")
    timings["read_s"] = time.monotonic() - t
    t = time.monotonic()
    out, ok = CHECKS[a["entity"]](df)
    warned = out["_warned"].sum()
    timings["check_s"] = time.monotonic() - t
    t = time.monotonic()
    # the typed, checked columns plus every landed column as text (what a script would keep)
    keep = ok.to_numpy()
    out = out.drop(columns=["_warned"]).join(df.add_prefix("src_"))
    valid = pa.Table.from_pandas(out[keep], preserve_index=False)
    bulk_load(a.get("url") or os.environ["SIMPUL_WAREHOUSE_URL"], valid)
    timings["load_s"] = time.monotonic() - t
    return {
        "rows": len(df),
        "valid": int(ok.sum()),
        "warned": int(warned),
        **{k: round(v, 2) for k, v in timings.items()},
    }
