"""Padan NIK against the warehouse: read agency and SIAK people, write ``core.padan``.

Sources are the *delivered* rows (``raw.*`` of the latest load), so records quarantined for a
NIK defect are linked too. Review decisions (``diterima``/``ditolak``) survive re-runs as long
as the best candidate stays the same. Nothing personal is logged: counts and ids only.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from simpul.padan.features import digits, prepare
from simpul.padan.model import link
from simpul.padan.sources import SOURCES, Source
from simpul.warehouse.engine import Warehouse

log = logging.getLogger(__name__)

LINKED = ("tertaut_otomatis", "diterima")  # decisions whose link the marts may use
REVIEWED = ("diterima", "ditolak")


PADAN_SCHEMA = pa.schema(
    [
        ("padan_id", pa.string()),
        ("sumber", pa.string()),
        ("load_id", pa.string()),
        ("baris", pa.int64()),
        ("jumlah_baris", pa.int64()),
        ("nik_sumber", pa.string()),
        ("kode_desa", pa.string()),
        ("status_nik", pa.string()),
        ("nik_siak", pa.string()),
        ("probabilitas", pa.float64()),
        ("bobot", pa.float64()),
        ("penjelasan_id", pa.string()),
        ("penjelasan_en", pa.string()),
        ("keputusan", pa.string()),
        ("model_versi", pa.string()),
        ("ditinjau_oleh", pa.string()),
        ("ditinjau_pada", pa.timestamp("us", tz="UTC")),
        ("dibuat_pada", pa.timestamp("us", tz="UTC")),
    ]
)


def siak_people(wh: Warehouse) -> pd.DataFrame:
    """The latest SIAK version of every person (the reference population)."""
    rows = wh.query(
        """SELECT nik AS record_id, nik, no_kk, nama_lengkap, tanggal_lahir, jenis_kelamin,
                  kode_desa, alamat FROM (
            SELECT v.*, ROW_NUMBER() OVER (PARTITION BY v.nik
                ORDER BY v.updated_at DESC, v._recorded_at DESC) AS rn
            FROM core.penduduk_versions v WHERE v._source = 'siak') x
           WHERE rn = 1 AND NOT COALESCE(_deleted, FALSE)"""
    )
    return pd.DataFrame(rows)


def agency_records(wh: Warehouse, src: Source) -> pd.DataFrame:
    """The latest delivery's person records of one agency (valid and quarantined rows)."""
    with wh.begin() as conn:
        if not wh.table_exists(conn, "raw", src.raw_table):
            return pd.DataFrame()
    table = f"raw.{src.raw_table}"
    latest = f"(SELECT MAX(_load_id) FROM {table})"
    inner = f"SELECT _load_id, _row, {_select(wh, src)} FROM {table} WHERE _load_id = {latest}"
    if src.group:
        sql = (
            "SELECT MIN(_load_id) AS load_id, MIN(_row) AS baris, COUNT(*) AS jumlah_baris, "
            "nik, no_kk, nama_lengkap, tanggal_lahir, jenis_kelamin, kode_desa, alamat "
            f"FROM ({inner}) t GROUP BY nik, no_kk, nama_lengkap, tanggal_lahir, "
            "jenis_kelamin, kode_desa, alamat"
        )
    else:
        sql = f"SELECT _load_id AS load_id, _row AS baris, 1 AS jumlah_baris, t.* FROM ({inner}) t"
    df = pd.DataFrame(wh.query(sql))
    if df.empty:
        return df
    df = df.drop(columns=[c for c in ("_load_id", "_row") if c in df.columns])
    df["record_id"] = [
        f"{src.name}:{lid}:{row}" for lid, row in zip(df.load_id, df.baris, strict=True)
    ]
    return df


def _select(wh: Warehouse, src: Source) -> str:
    """``src.select`` plus the optional columns this raw table has (NULL for the others), so
    every source yields all padan input columns. Column names come from code, not data."""
    if not src.optional:
        return src.select
    present = {  # lower-case name -> the name as stored (exports may shout: NAMA_PEMOHON)
        str(r["column_name"]).lower(): str(r["column_name"])
        for r in wh.query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = :t",
            {"t": src.raw_table},
        )
    }
    parts = [src.select]
    for col, candidates in src.optional:
        hit = next((present[c] for c in candidates if c in present), None)
        parts.append(f'CAST("{hit}" AS VARCHAR) AS {col}' if hit else f"NULL AS {col}")
    return ", ".join(parts)


def _status_nik(nik: str | None, siak_niks: set[str]) -> str:
    d = digits(nik)
    if d is None:
        return "kosong" if not (nik or "").strip("0 ") else "tidak_valid"
    return "ada_di_siak" if d in siak_niks else "tidak_di_siak"


def _padan_id(sumber: str, rec: Any, key: bytes) -> str:
    """A stable id for a person record across reloads (keyed hash; no identity in clear)."""
    from simpul.warehouse.pseudonym import pseudonymise

    parts = "|".join(
        str(getattr(rec, c) or "")
        for c in ("nik", "no_kk", "nama_lengkap", "tanggal_lahir", "kode_desa")
    )
    return (pseudonymise(f"{sumber}|{parts}", key, "padan") or "")[:24]


def run_padan(
    wh: Warehouse,
    *,
    sources: tuple[str, ...] | None = None,
    model_dir: Path | None = None,
    model_path: Path | None = None,
) -> dict[str, Any]:
    """Link every configured agency's people to SIAK and rewrite ``core.padan``.

    Trains a model per run on this data (saved, versioned, with its report, under
    ``$SIMPUL_HOME/padan/models``) unless ``model_path`` names a trained one.
    """
    import json

    from simpul.config import home
    from simpul.warehouse.pseudonym import pseudonym_key

    started = time.monotonic()
    key = pseudonym_key()  # fail before linking, not after
    siak_raw = siak_people(wh)
    if siak_raw.empty:
        return {"status": "no_siak", "counts": {}, "seconds": 0.0}
    siak = prepare(siak_raw)
    siak_niks = set(siak_raw["nik"])
    model = json.loads(Path(model_path).read_text()) if model_path else None
    records = _agency_people(wh, sources)
    if records is None:
        return {"status": "no_agency_records", "counts": {}, "seconds": 0.0}
    result, trained = link(prepare(records), siak, model=model)
    version = "given:" + Path(model_path).parent.name if model_path else None
    if trained is not None:
        saved = trained.save(model_dir or home() / "padan" / "models")
        version = trained.version
        log.info("padan model %s saved to %s", version, saved)
    merged = records.merge(result, left_on="record_id", right_on="unique_id", how="left")
    table = _padan_table(merged, _prior_reviews(wh), key, siak_niks, version)
    with wh.begin() as conn:
        conn.exec_driver_sql("DELETE FROM core.padan")
        wh.bulk_insert(conn, "core.padan", table)
    counts = summary(wh)
    seconds = round(time.monotonic() - started, 2)
    log.info("padan: %d records linked in %.1fs (model %s)", table.num_rows, seconds, version)
    return {"status": "ok", "model_version": version, "counts": counts, "seconds": seconds}


def _agency_people(wh: Warehouse, sources: tuple[str, ...] | None) -> pd.DataFrame | None:
    """The person records of every chosen agency source, each marked with its ``sumber``;
    None when there are none."""
    frames = []
    for src in SOURCES:
        if sources is not None and src.name not in sources:
            continue
        recs = agency_records(wh, src)
        if not recs.empty:
            recs["sumber"] = src.name
            frames.append(recs)
    return pd.concat(frames, ignore_index=True) if frames else None


def _padan_table(
    merged: pd.DataFrame,
    prior: dict[str, tuple[str | None, str, str, Any]],
    key: bytes,
    siak_niks: set[str],
    version: str | None,
) -> pa.Table:
    """The rows of ``core.padan``: one per person record (a record delivered twice in one
    load is one row), a reviewer's earlier decision kept while the candidate is the same."""
    now = datetime.now(UTC)
    cols: dict[str, list[Any]] = {n: [] for n in PADAN_SCHEMA.names}
    for rec in merged.itertuples(index=False):
        pid = _padan_id(rec.sumber, rec, key)
        keputusan, by, at = rec.keputusan, None, None
        if pid in prior and prior[pid][0] == _none(rec.siak_id):
            keputusan, by, at = prior[pid][1], prior[pid][2], prior[pid][3]
        row = {
            "padan_id": pid,
            "sumber": rec.sumber,
            "load_id": rec.load_id,
            "baris": int(rec.baris),
            "jumlah_baris": int(rec.jumlah_baris),
            "nik_sumber": digits(rec.nik) or (str(rec.nik) if _none(rec.nik) else None),
            "kode_desa": _none(rec.kode_desa),
            "status_nik": _status_nik(_none(rec.nik), siak_niks),
            "nik_siak": _none(rec.siak_id),
            "probabilitas": _float(rec.match_probability),
            "bobot": _float(rec.match_weight),
            "penjelasan_id": rec.penjelasan_id,
            "penjelasan_en": rec.penjelasan_en,
            "keputusan": keputusan,
            "model_versi": version,
            "ditinjau_oleh": by,
            "ditinjau_pada": at,
            "dibuat_pada": now,
        }
        for name, value in row.items():
            cols[name].append(value)
    table = pa.table(cols, schema=PADAN_SCHEMA)
    seen: set[str] = set()
    keep = [not (p in seen or seen.add(p)) for p in cols["padan_id"]]  # type: ignore[func-returns-value]
    return table.filter(pa.array(keep))


def _none(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA else v


def _float(v: Any) -> float | None:
    v = _none(v)
    return None if v is None else float(v)


def _prior_reviews(wh: Warehouse) -> dict[str, tuple[str | None, str, str, Any]]:
    rows = wh.query(
        "SELECT padan_id, nik_siak, keputusan, ditinjau_oleh, ditinjau_pada FROM core.padan "
        "WHERE keputusan IN ('diterima', 'ditolak')"
    )
    return {
        r["padan_id"]: (r["nik_siak"], r["keputusan"], r["ditinjau_oleh"], r["ditinjau_pada"])
        for r in rows
    }


def summary(wh: Warehouse, *, per_desa: bool = False) -> list[dict[str, Any]]:
    """Per agency (and village, ``per_desa``): linked (auto + accepted), in review, unmatched,
    NIK already padan, linked despite a wrong NIK, and the padan rate (share of records whose
    NIK is a SIAK NIK)."""
    by = "sumber, kode_desa" if per_desa else "sumber"
    return wh.query(
        f"""SELECT {by},
                  COUNT(*) AS catatan,
                  SUM(CASE WHEN keputusan IN ('tertaut_otomatis', 'diterima') THEN 1 ELSE 0 END)
                      AS tertaut,
                  SUM(CASE WHEN keputusan = 'tinjau' THEN 1 ELSE 0 END) AS tinjau,
                  SUM(CASE WHEN keputusan IN ('tidak_cocok', 'ditolak') THEN 1 ELSE 0 END)
                      AS tidak_cocok,
                  SUM(CASE WHEN status_nik = 'ada_di_siak' THEN 1 ELSE 0 END) AS nik_padan,
                  SUM(CASE WHEN keputusan IN ('tertaut_otomatis', 'diterima')
                           AND COALESCE(nik_sumber, '') <> nik_siak THEN 1 ELSE 0 END)
                      AS tertaut_nik_salah,
                  ROUND(100.0 * SUM(CASE WHEN status_nik = 'ada_di_siak' THEN 1 ELSE 0 END)
                        / COUNT(*), 1) AS persen_padan
           FROM core.padan GROUP BY {by} ORDER BY {by}"""
    )


def mask_pair(source_nik: str | None, siak_nik: str | None) -> tuple[str, str]:
    """Both NIKs masked except the digits where they differ (all a reviewer needs to see)."""
    a, b = source_nik or "", siak_nik or ""
    if len(a) != len(b) or not a:
        return ("*" * len(a) if a else "-"), ("*" * len(b) if b else "-")
    ma = "".join(x if x != y else "*" for x, y in zip(a, b, strict=True))
    mb = "".join(y if x != y else "*" for x, y in zip(a, b, strict=True))
    return ma, mb


def review_queue(wh: Warehouse, limit: int = 50, sumber: str | None = None) -> list[dict]:
    where = "keputusan = 'tinjau'" + (" AND sumber = :s" if sumber else "")
    rows = wh.query(
        f"SELECT padan_id, sumber, baris, nik_sumber, nik_siak, kode_desa, probabilitas, "
        f"penjelasan_id, penjelasan_en FROM core.padan WHERE {where} "
        f"ORDER BY probabilitas DESC, padan_id LIMIT {int(limit)}",
        {"s": sumber} if sumber else None,
    )
    out = []
    for r in rows:
        ms, mk = mask_pair(r["nik_sumber"], r["nik_siak"])
        out.append(
            {
                "padan_id": r["padan_id"],
                "sumber": r["sumber"],
                "baris": r["baris"],
                "nik_sumber": ms,
                "nik_siak": mk,
                "desa": r["kode_desa"],
                "prob": f"{r['probabilitas']:.3f}",
                "penjelasan": r["penjelasan_id"],
            }
        )
    return out


class ReviewError(ValueError):
    """An operator's review decision that cannot be applied (unknown id, not in review)."""


def decide_review(wh: Warehouse, padan_id: str, accept: bool, operator: str | None = None) -> dict:
    """Record an operator's accept/reject on a queued link, audited with name and time."""
    import os

    from simpul.orchestration import audit

    if operator:
        os.environ["SIMPUL_OPERATOR"] = operator
    who = audit.operator()
    now = datetime.now(UTC)
    decision = "diterima" if accept else "ditolak"
    with wh.begin() as conn:
        import sqlalchemy as sa

        row = conn.execute(
            sa.text("SELECT keputusan, sumber FROM core.padan WHERE padan_id = :p"),
            {"p": padan_id},
        ).first()
        if row is None:
            raise ReviewError(f"padan_id {padan_id} tidak ditemukan / not found in core.padan")
        if row[0] != "tinjau":
            raise ReviewError(
                f"padan_id {padan_id} tidak dalam antrean tinjauan (keputusan {row[0]}) / "
                f"not in the review queue (decision {row[0]})"
            )
        conn.execute(
            sa.text(
                "UPDATE core.padan SET keputusan = :k, ditinjau_oleh = :o, ditinjau_pada = :t "
                "WHERE padan_id = :p"
            ),
            {"k": decision, "o": who, "t": now, "p": padan_id},
        )
    entry = audit.record(
        "padan review",
        outcome=decision,
        args={"padan_id": padan_id, "sumber": row[1]},
        wh=wh,
    )
    return {"padan_id": padan_id, "keputusan": decision, "operator": who, "at": entry["at"]}
