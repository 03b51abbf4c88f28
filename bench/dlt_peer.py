"""The peer: dlt loading into DuckDB, the suite's checks as pandera checks.

dlt has no mapping engine, so the agency columns are mapped by the floor's SQL (``bench.floor``,
with its mapping findings: unreadable values, ``max_length``, the village-name check). The 26
checks of ``expectations/penduduk.py`` run as pandera checks, lazily (every failure collected),
errors and warnings in two schemas; the NIK/KK rules call the same ``simpul.domain`` functions
the hub's custom expectations wrap. Rows with an error go to a ``quarantine`` table, findings to
``findings``, the valid rows are merged by NIK: ``strategy`` ``upsert`` (dlt merge with a
primary key) or ``scd2`` (dlt's SCD2 with ``merge_key`` NIK, so a partial delivery retires only
the records it carries). Requires the ``bench`` dependency group.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bench import floor

KODE_DESA_REGEX = r"^\d{2}\.\d{2}\.\d{2}\.[12]\d{3}$"


def _schemas() -> tuple[Any, Any]:
    """(errors, warnings) as pandera DataFrameSchemas; each check is named after its rule."""
    import pandera.pandas as pa

    from simpul.domain import nik as rules
    from simpul.domain.regions import code_lists

    lists = code_lists()
    today_wib = pd.Timestamp.now(tz="Asia/Jakarta").tz_localize(None).normalize()

    def col(*checks: Any) -> Any:
        return pa.Column(nullable=True, checks=list(checks), coerce=False, required=True)

    def required(rule: str) -> Any:
        return pa.Check(lambda s: s.notna(), name=rule, ignore_na=False)

    def born_range(s: pd.Series) -> pd.Series:
        d = pd.to_datetime(s, errors="coerce")
        return ((d <= today_wib) & (d >= pd.Timestamp("1900-01-01"))) | d.isna()

    def shdk_age(df: pd.DataFrame) -> pd.Series:
        age = rules.age_on(df["tanggal_lahir"], pd.Timestamp.now().normalize())
        adult = df["shdk"].astype("string").isin(["1", "2", "3", "5", "8"])
        return (~(adult & (age < 15))).fillna(True).astype(bool)

    errors: dict[str, list[Any]] = {
        "nik": [
            required("nik_required"),
            pa.Check(rules.structure_ok, name="nik_structure"),
        ],
        "no_kk": [pa.Check.str_matches(r"^\d{16}$", name="no_kk_structure")],
        "tanggal_lahir": [
            pa.Check(born_range, name="tanggal_lahir_range"),
            required("tanggal_lahir_required"),
        ],
        "nama_lengkap": [required("nama_required")],
        "kode_desa": [pa.Check.str_matches(KODE_DESA_REGEX, name="kode_desa_format")],
    }
    for field, (code_list, req) in floor.CODE_RULES.items():
        checks = [pa.Check.isin(sorted(lists[code_list]), name=f"{field}_code")]
        if req:
            checks.append(required(f"{field}_required"))
        errors[field] = checks
    frame_errors = [
        pa.Check(
            lambda df: rules.agrees_with_birth(df["nik"], df["tanggal_lahir"], df["jenis_kelamin"]),
            name="nik_birth_agreement",
        ),
        pa.Check(
            lambda df: rules.unique_or_owner(df["nik"], df["tanggal_lahir"], df["jenis_kelamin"]),
            name="nik_unique",
        ),
        pa.Check(
            lambda df: rules.excel_truncated_nik(df["nik"], df["nik_ayah"], df["nik_ibu"]),
            name="nik_excel_truncated",
        ),
    ]
    prefix = floor.KABUPATEN.replace(".", "")
    warns: dict[str, list[Any]] = {
        "nik": [
            pa.Check(lambda s: rules.in_region(s, prefix), name="nik_region"),
            pa.Check(lambda s: ~rules.is_temporary_nik(s).fillna(False), name="nik_temporary"),
        ],
        "no_kk": [pa.Check(rules.kk_structure_ok, name="no_kk_parts")],
        "kode_desa": [
            pa.Check.str_startswith(floor.KABUPATEN, name="kode_desa_in_kabupaten"),
        ],
    }
    frame_warns = [
        pa.Check(shdk_age, name="shdk_age"),
        pa.Check(
            lambda df: rules.excel_truncated_kk(df["no_kk"], df["kode_desa"]),
            name="no_kk_excel_zeroed",
        ),
    ]
    err = pa.DataFrameSchema(
        {c: col(*cs) for c, cs in errors.items()}, checks=frame_errors, strict=False
    )
    warn = pa.DataFrameSchema(
        {c: col(*cs) for c, cs in warns.items()}, checks=frame_warns, strict=False
    )
    return err, warn


FIELD = {  # the field a frame-wide check reports, as the hub's suite does
    "nik_birth_agreement": "nik",
    "nik_unique": "nik",
    "nik_excel_truncated": "nik",
    "shdk_age": "shdk",
    "no_kk_excel_zeroed": "no_kk",
}


def _failures(schema: Any, df: pd.DataFrame, rows: pd.Series, severity: str) -> pd.DataFrame:
    import pandera.errors as pe

    try:
        schema.validate(df, lazy=True)
        return pd.DataFrame(columns=["row", "rule", "severity", "field"])
    except pe.SchemaErrors as exc:
        fc = exc.failure_cases
    fc = fc[fc["index"].notna()]
    out = pd.DataFrame(
        {
            "row": rows.to_numpy()[fc["index"].astype("int64").to_numpy()],
            "rule": fc["check"].astype("string").to_numpy(),
            "severity": severity,
            "field": [FIELD.get(r, c) for r, c in zip(fc["check"], fc["column"], strict=True)],
        }
    )
    # a frame-wide check reports one failure case per column of the row: keep one per row
    return out.drop_duplicates(ignore_index=True)


def run(a: dict[str, Any]) -> dict[str, Any]:
    """Worker stage: map (floor SQL), check (pandera), load (dlt ``a['strategy']``)."""
    import os

    # arrow rows get dlt's row hash (``_dlt_id``) only on request; SCD2 needs it
    os.environ["NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID"] = "true"
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no network calls
    import dlt

    t = time.monotonic()
    con = duckdb.connect()  # mapping only: in memory
    floor_counts = floor.transform(con, Path(a["file"]), suite=False)
    cols = ", ".join(floor.COLUMNS)
    mapped = con.execute(f"SELECT _row, {cols} FROM _mapped ORDER BY _row").df()
    mapping = con.execute("SELECT row, rule, severity, field FROM _findings").df()
    con.close()
    for c in mapped.columns:
        if mapped[c].dtype == object and c != "tanggal_lahir":
            mapped[c] = mapped[c].astype("string")
    mapped["tanggal_lahir"] = pd.to_datetime(mapped["tanggal_lahir"]).dt.date
    rows = mapped["_row"]
    frame = mapped.drop(columns=["_row"]).reset_index(drop=True)
    err_schema, warn_schema = _schemas()
    findings = pd.concat(
        [
            mapping,
            _failures(err_schema, frame, rows, "error"),
            _failures(warn_schema, frame, rows, "warn"),
        ],
        ignore_index=True,
    ).astype({"row": "int64"})
    bad = set(findings.loc[findings["severity"] == "error", "row"])
    is_bad = rows.isin(bad).to_numpy()
    warned = len(set(findings.loc[findings["severity"] == "warn", "row"]) - bad)
    check_s = time.monotonic() - t
    t = time.monotonic()
    load_id = a["load_id"]
    valid = mapped[~is_bad].sort_values(["nik", "updated_at"]).drop_duplicates("nik", keep="last")
    valid = valid.assign(_load_id=load_id)
    quarantine = mapped[is_bad].assign(_load_id=load_id)
    strategy = a.get("strategy", "upsert")
    pipe = dlt.pipeline(
        pipeline_name=f"simpul_bench_{strategy}",
        destination=dlt.destinations.duckdb(a["db"]),
        dataset_name="siak",
        pipelines_dir=a["pipelines_dir"],
    )
    disposition: dict[str, Any] = {"disposition": "merge", "strategy": strategy}
    hints: dict[str, Any] = {"primary_key": "nik"} if strategy == "upsert" else {"merge_key": "nik"}
    pipe.run(
        [
            dlt.resource(valid, name="penduduk", write_disposition=disposition, **hints),
            dlt.resource(quarantine, name="quarantine", write_disposition="append"),
            dlt.resource(findings.assign(load_id=load_id), name="findings",
                         write_disposition="append"),
        ],
        loader_file_format="parquet",
    )  # fmt: skip
    load_s = time.monotonic() - t
    if a.get("findings"):
        findings.to_parquet(a["findings"])
    return {
        "rows": floor_counts["received"],
        "received": floor_counts["received"],
        "valid": int((~is_bad).sum()),
        "quarantined": int(is_bad.sum()),
        "warned": warned,
        "transform_s": round(check_s, 3),
        "load_s": round(load_s, 3),
        "_seconds": check_s + load_s,
    }
