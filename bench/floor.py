"""The floor: the SIAK penduduk delivery handled by hand-written DuckDB SQL, rule for rule.

What the hub does to a landed ``siak/penduduk`` delivery, written the way a competent engineer
would write it for this one source with nothing but DuckDB: map the agency's columns
(``mappings/siak_penduduk.yaml``), apply every rule the hub applies with the same severity
(the mapping findings, ``max_length`` and all 26 checks of ``expectations/penduduk.py``: 43 rule
kinds in all), drop exact copies and rows equal to the current record, then in one transaction
keep the raw rows, the findings, the quarantined rows, merge the valid ones into the current
table by NIK with SCD2 history (a new history row when a tracked column changes), lineage
(load id and source row on every row) and a load record.

Only lookup *data* comes from Python: the code lists and the mapping's aliases (a script would
read the same reference CSV), and the village-name check, resolved once per distinct
(kecamatan, name) pair by ``simpul.domain.regions.match_village`` (fuzzy matching has no SQL
equivalent; there are a few hundred pairs). The benchmark checks that the findings equal the
hub's, pair by pair (``compare``), so the floor measures the same work.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from simpul.domain.text import DIGIT_NOISE, NONPRINTING, WHITESPACE_RUN

KABUPATEN = "16.08"
SOURCE = "siak"
# canonical columns of penduduk, in the entity's order
COLUMNS = (
    "nik no_kk nama_lengkap jenis_kelamin tempat_lahir tanggal_lahir agama status_perkawinan "
    "shdk pendidikan pekerjaan golongan_darah nik_ayah nama_ayah nik_ibu nama_ibu kode_desa "
    "dusun rw rt alamat status_dasar updated_at"
).split()
TRACKED = (
    "no_kk kode_desa dusun rw rt alamat status_perkawinan shdk status_dasar pendidikan pekerjaan"
).split()
# field -> (source column, code list) of the label-mapped fields
CODED = {
    "jenis_kelamin": ("JENIS_KLMIN", "jenis_kelamin"),
    "agama": ("AGAMA", "agama"),
    "status_perkawinan": ("STATUS_KAWIN", "status_perkawinan_f101_2019"),
    "shdk": ("STAT_HBKEL", "status_hubungan_dalam_keluarga"),
    "pendidikan": ("PDDK_AKH", "pendidikan_dalam_kk"),
    "pekerjaan": ("JENIS_PKRJN", "jenis_pekerjaan"),
    "golongan_darah": ("GOL_DARAH", "golongan_darah"),
    "status_dasar": ("STATUS", None),
}
# the suite's code rules: field -> (code list, required)
CODE_RULES = {
    "jenis_kelamin": ("jenis_kelamin", True),
    "agama": ("agama", False),
    "status_perkawinan": ("status_perkawinan_f101_2019", False),
    "shdk": ("status_hubungan_dalam_keluarga", False),
    "pendidikan": ("pendidikan_dalam_kk", False),
    "pekerjaan": ("jenis_pekerjaan", False),
    "golongan_darah": ("golongan_darah", False),
    "status_dasar": ("status_dasar_opensid", True),
}
S = WHITESPACE_RUN[1:-2]  # the whitespace class without [ ]+
SPACES = f"[{S}]"
# a value clean_text leaves as it is (apart from '' and '-' becoming null) matches none of these:
# a non-printing character, leading whitespace or apostrophe, trailing whitespace, a run of
# whitespace, whitespace other than a plain space. Only the others take the five-pass chain.
DIRTY = f"{NONPRINTING}|^[{S}'`’]|{SPACES}$|{SPACES}{SPACES}|[{S.replace(' ', '')}]"


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _macros() -> str:
    strip = _q(f"^{SPACES}+|{SPACES}+$")
    return f"""
CREATE OR REPLACE TEMP MACRO clean_text_slow(x) AS nullif(nullif(regexp_replace(regexp_replace(
  regexp_replace(regexp_replace(regexp_replace(x, {_q(NONPRINTING)}, ' ', 'g'), {strip}, '', 'g'),
  {_q("^['`’]+")}, ''), {strip}, '', 'g'), {_q(WHITESPACE_RUN)}, ' ', 'g'), ''), '-');
CREATE OR REPLACE TEMP MACRO clean_text(x) AS CASE WHEN regexp_matches(x, {_q(DIRTY)})
  THEN clean_text_slow(x) ELSE nullif(nullif(x, ''), '-') END;
CREATE OR REPLACE TEMP MACRO clean_digits(x) AS CASE WHEN regexp_full_match(x, '[0-9]*')
  THEN nullif(x, '') ELSE nullif(regexp_replace(regexp_replace(
  regexp_replace(x, {_q(NONPRINTING)}, '', 'g'), '\\.0$', ''), {_q(DIGIT_NOISE)}, '', 'g'), '')
  END;
CREATE OR REPLACE TEMP MACRO label_key(x) AS
  upper(regexp_replace(x, {_q(WHITESPACE_RUN)}, '', 'g'));
CREATE OR REPLACE TEMP MACRO zfill(x, w) AS CASE WHEN length(x) < w THEN lpad(x, w, '0') ELSE x END;
CREATE OR REPLACE TEMP MACRO days_in(y, m) AS
  day(last_day(make_date(y, greatest(least(m, 12), 1), 1)));
CREATE OR REPLACE TEMP MACRO nik_structure_ok(n) AS n IS NULL OR (
  regexp_full_match(n, '[0-9]{{16}}')
  AND substr(n, 1, 2) IN (SELECT code FROM _prov)
  AND (try_cast(substr(n, 7, 2) AS INT) BETWEEN 1 AND 31
       OR try_cast(substr(n, 7, 2) AS INT) BETWEEN 41 AND 71)
  AND try_cast(substr(n, 9, 2) AS INT) BETWEEN 1 AND 12
  AND substr(n, 13, 4) <> '0000'
  AND (try_cast(substr(n, 7, 2) AS INT) % 40) <= days_in(2000 + try_cast(substr(n, 11, 2) AS INT),
       try_cast(substr(n, 9, 2) AS INT)));
CREATE OR REPLACE TEMP MACRO kk_structure_ok(n) AS n IS NULL OR (
  regexp_full_match(n, '[0-9]{{16}}')
  AND substr(n, 1, 2) IN (SELECT code FROM _prov)
  AND substr(n, 13, 4) <> '0000'
  AND try_cast(substr(n, 9, 2) AS INT) BETWEEN 1 AND 12
  AND try_cast(substr(n, 7, 2) AS INT) BETWEEN 1 AND 31
  AND try_cast(substr(n, 7, 2) AS INT) <= days_in(2000 + try_cast(substr(n, 11, 2) AS INT),
       try_cast(substr(n, 9, 2) AS INT)));
CREATE OR REPLACE TEMP MACRO nik_judged(n, born, sex) AS
  regexp_full_match(n, '[0-9]{{16}}') AND born IS NOT NULL AND sex IS NOT NULL;
CREATE OR REPLACE TEMP MACRO nik_agrees(n, born, sex) AS coalesce(
  try_cast(substr(n, 7, 2) AS INT) = day(born) + CASE WHEN sex = '2' THEN 40 ELSE 0 END
  AND try_cast(substr(n, 9, 2) AS INT) = month(born)
  AND try_cast(substr(n, 11, 2) AS INT) = year(born) % 100, false);
"""


def _lookups(con: duckdb.DuckDBPyConnection) -> None:
    """Code lists and the mapping's aliases as tables (data, not logic)."""
    from simpul.domain.regions import code_lists, province_codes
    from simpul.mapping import load_mapping

    lists = code_lists()
    spec = load_mapping("siak_penduduk")
    rows = []
    for field, (_, code_list) in CODED.items():
        f = spec.fields[field]
        table: dict[str, str] = {}
        if code_list:
            table = {k.upper(): k for k in lists[code_list]}
            for code, label in lists[code_list].items():
                table["".join(label.upper().split())] = code
            for alias, code in f.aliases.items():
                table["".join(alias.upper().split())] = code
        else:
            table = {"".join(k.upper().split()): v for k, v in (f.values or {}).items()}
        rows += [(field, k, v) for k, v in table.items()]
    con.register("_lk", pd.DataFrame(rows, columns=["field", "k", "code"]))
    con.execute("CREATE OR REPLACE TEMP TABLE _lookup AS SELECT * FROM _lk")
    sets = [(f, c) for f, (lst, _) in CODE_RULES.items() for c in lists[lst]]
    con.register("_cs", pd.DataFrame(sets, columns=["field", "code"]))
    con.execute("CREATE OR REPLACE TEMP TABLE _codeset AS SELECT * FROM _cs")
    con.register("_pv", pd.DataFrame({"code": sorted(province_codes())}))
    con.execute("CREATE OR REPLACE TEMP TABLE _prov AS SELECT * FROM _pv")
    con.unregister("_lk")
    con.unregister("_cs")
    con.unregister("_pv")


def _date_sql(x: str) -> str:
    """``tanggal_lahir``: three formats in order, then an Excel serial."""
    return f"""(coalesce(
      CASE WHEN regexp_full_match({x}, '[0-9]{{1,2}}-[0-9]{{1,2}}-[0-9]{{4}}')
           THEN try_strptime({x}, '%d-%m-%Y')::DATE END,
      CASE WHEN regexp_full_match({x}, '[0-9]{{1,2}}/[0-9]{{1,2}}/[0-9]{{4}}')
           THEN try_strptime({x}, '%d/%m/%Y')::DATE END,
      CASE WHEN regexp_full_match({x}, '[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}')
           THEN try_strptime({x}, '%Y-%m-%d')::DATE END,
      CASE WHEN regexp_full_match({x}, '[0-9]{{4,5}}(\\.0+)?')
           THEN DATE '1899-12-30' + CAST(floor(CAST({x} AS DOUBLE)) AS INT) END))"""


ISO = (
    "[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?)?"
    "(Z|[+-][0-9]{2}:?[0-9]{2})?"
)


def _ts_sql(x: str) -> str:
    """``updated_at``: ISO 8601, as UTC."""
    return f"""CASE WHEN regexp_full_match({x},
        '{ISO}')
        THEN try_cast({x} AS TIMESTAMPTZ) END"""


def _map_sql(kode_kab: str) -> str:
    """Landed text -> canonical columns, with the raw presence each mapping finding needs."""
    coded, joins = [], []
    for field, (col, _) in CODED.items():
        coded.append(f"l_{field}.code AS {field}, clean_text(r.{col}) IS NOT NULL AS {field}__p")
        joins.append(
            f"LEFT JOIN _lookup l_{field} ON l_{field}.field = '{field}' "
            f"AND l_{field}.k = label_key(clean_text(r.{col}))"
        )
    return f"""
CREATE OR REPLACE TEMP TABLE _mapped AS
WITH r AS (SELECT * FROM _unique),
m AS (SELECT r._row,
  clean_digits(r.NIK) AS nik, clean_text(r.NIK) IS NOT NULL AS nik__p,
  clean_digits(r.NO_KK) AS no_kk, clean_text(r.NO_KK) IS NOT NULL AS no_kk__p,
  upper(clean_text(r.NAMA_LGKP)) AS nama_lengkap,
  upper(clean_text(r.TMPT_LHR)) AS tempat_lahir,
  clean_text(r.TGL_LHR) AS tanggal_lahir__t,
  clean_digits(r.NIK_AYAH) AS nik_ayah, clean_text(r.NIK_AYAH) IS NOT NULL AS nik_ayah__p,
  upper(clean_text(r.NAMA_LGKP_AYAH)) AS nama_ayah,
  clean_digits(r.NIK_IBU) AS nik_ibu, clean_text(r.NIK_IBU) IS NOT NULL AS nik_ibu__p,
  upper(clean_text(r.NAMA_LGKP_IBU)) AS nama_ibu,
  zfill(clean_digits(r.NO_PROP), 2) || '.' || zfill(clean_digits(r.NO_KAB), 2) || '.'
    || zfill(clean_digits(r.NO_KEC), 2) || '.' || zfill(clean_digits(r.NO_KEL), 4) AS kode_desa,
  clean_text(r.KEL_NAME) AS kel_name,
  upper(clean_text(r.DUSUN)) AS dusun,
  upper(clean_text(r.ALAMAT)) AS alamat,
  clean_text(r.NO_RW) AS rw__t, clean_text(r.NO_RT) AS rt__t,
  clean_text(r.UPDATED_AT) AS updated_at__t,
  {", ".join(coded)}
  FROM r {" ".join(joins)}),
d AS (SELECT *, {_date_sql("tanggal_lahir__t")} AS tanggal_lahir,
  {_ts_sql("updated_at__t")} AS updated_at,
  CASE WHEN regexp_replace(rw__t, '\\.0$', '') IN ('-', '0', '00', '000') THEN NULL
       WHEN regexp_full_match(regexp_replace(rw__t, '\\.0$', ''), '[0-9]{{1,3}}')
       THEN lpad(regexp_replace(rw__t, '\\.0$', ''), 3, '0') END AS rw,
  CASE WHEN regexp_replace(rt__t, '\\.0$', '') IN ('-', '0', '00', '000') THEN NULL
       WHEN regexp_full_match(regexp_replace(rt__t, '\\.0$', ''), '[0-9]{{1,3}}')
       THEN lpad(regexp_replace(rt__t, '\\.0$', ''), 3, '0') END AS rt
  FROM m)
SELECT * FROM d
"""


def _findings_sql(max_len: dict[str, int], suite: bool = True) -> str:
    """Every rule as one SELECT of (row, rule, severity, field); null values are not judged by
    the value rules (Great Expectations' map expectations skip them), as in the hub."""
    f: list[str] = []

    def add(rule: str, sev: str, field: str, cond: str, src: str = "_mapped") -> None:
        f.append(f"SELECT _row, '{rule}', '{sev}', '{field}' FROM {src} WHERE {cond}")

    # mapping: a value present in the source that cannot be read
    for field in ("nik", "no_kk", "nik_ayah", "nik_ibu", *CODED):
        add(f"mapping_{field}", "error", field, f"{field}__p AND {field} IS NULL")
    add("mapping_tanggal_lahir", "error", "tanggal_lahir",
        "tanggal_lahir__t IS NOT NULL AND tanggal_lahir IS NULL")  # fmt: skip
    add("mapping_updated_at", "error", "updated_at",
        "updated_at__t IS NOT NULL AND updated_at IS NULL")  # fmt: skip
    for c in ("rw", "rt"):
        add(f"mapping_{c}", "error", c, f"{c}__t IS NOT NULL AND {c} IS NULL")
    add("mapping_kode_desa_name", "warn", "kode_desa",
        "kel_name IS NOT NULL AND kode_desa IS NOT NULL AND "
        "(v.code IS NULL OR v.code <> kode_desa)",
        "_mapped LEFT JOIN _villages v ON v.kec = substr(kode_desa, 1, 8) "
        "AND v.name = kel_name")  # fmt: skip
    for c, limit in max_len.items():
        add("max_length", "error", c, f"length({c}) > {limit}")
    if not suite:  # mapping findings only (the dlt peer checks the suite with pandera)
        return (
            "CREATE OR REPLACE TEMP TABLE _findings AS SELECT * FROM (\n"
            + "\nUNION ALL ".join(f)
            + "\n) t(row, rule, severity, field)"
        )
    # the suite (expectations/penduduk.py)
    add("nik_required", "error", "nik", "nik IS NULL")
    add("nik_structure", "error", "nik", "NOT nik_structure_ok(nik)")
    add("nik_birth_agreement", "error", "nik",
        "nik_judged(nik, tanggal_lahir, jenis_kelamin) "
        "AND NOT nik_agrees(nik, tanggal_lahir, jenis_kelamin)")  # fmt: skip
    add("nik_unique", "error", "nik", "dup AND NOT (owner AND owners = 1)", "_nik_dups")
    add("nik_excel_truncated", "error", "nik",
        "regexp_full_match(nik, '[0-9]{15}0') AND substr(nik, 1, 15) IN "
        "(SELECT substr(ref, 1, 15) FROM _dangling)")  # fmt: skip
    add("nik_region", "warn", "nik", f"NOT starts_with(nik, '{KABUPATEN.replace('.', '')}')")
    add("nik_temporary", "warn", "nik",
        "nik = '0' OR (regexp_full_match(nik, '0[0-9]{15}') "
        "AND substr(nik, 2, 1) <> '0')")  # fmt: skip
    add("no_kk_structure", "error", "no_kk", "NOT regexp_full_match(no_kk, '[0-9]{16}')")
    add("no_kk_parts", "warn", "no_kk", "NOT kk_structure_ok(no_kk)")
    add("tanggal_lahir_range", "error", "tanggal_lahir",
        "tanggal_lahir > getvariable('today_wib') "
        "OR tanggal_lahir < DATE '1900-01-01'")  # fmt: skip
    before_birthday = (
        "CASE WHEN strftime(tanggal_lahir, '%m%d') > strftime(getvariable('today_local'), "
        "'%m%d') THEN 1 ELSE 0 END"
    )
    add("shdk_age", "warn", "shdk",
        "shdk IN ('1', '2', '3', '5', '8') AND year(getvariable('today_local')) "
        f"- year(tanggal_lahir) - {before_birthday} < 15")  # fmt: skip
    add("no_kk_excel_zeroed", "warn", "no_kk",
        "regexp_full_match(no_kk, '[0-9]{15}0') AND coalesce(kode_desa, '') || '|' || "
        "substr(no_kk, 1, 15) IN (SELECT k FROM _kk_full)")  # fmt: skip
    add("nama_required", "error", "nama_lengkap", "nama_lengkap IS NULL")
    add("tanggal_lahir_required", "error", "tanggal_lahir", "tanggal_lahir IS NULL")
    add("kode_desa_format", "error", "kode_desa",
        "NOT regexp_full_match(kode_desa, "
        "'[0-9]{2}\\.[0-9]{2}\\.[0-9]{2}\\.[12][0-9]{3}')")  # fmt: skip
    add("kode_desa_in_kabupaten", "warn", "kode_desa",
        f"NOT starts_with(kode_desa, '{KABUPATEN}')")  # fmt: skip
    for field, (_, required) in CODE_RULES.items():
        add(f"{field}_code", "error", field,
            f"{field} NOT IN (SELECT code FROM _codeset WHERE field = '{field}')")  # fmt: skip
        if required:
            add(f"{field}_required", "error", field, f"{field} IS NULL")
    return (
        "CREATE OR REPLACE TEMP TABLE _findings AS SELECT * FROM (\n"
        + "\nUNION ALL ".join(f)
        + "\n) t(row, rule, severity, field)"
    )


def transform(con: duckdb.DuckDBPyConnection, landed: Path, suite: bool = True) -> dict[str, Any]:
    """Map and check a landed delivery into temp tables ``_mapped``, ``_findings``, ``_status``.

    ``suite=False``: mapping and its findings only (``_mapped``, ``_findings``)."""
    from simpul.domain.regions import match_village
    from simpul.model import max_length

    con.execute(_macros())
    _lookups(con)
    now_wib = pd.Timestamp.now(tz="Asia/Jakarta").tz_localize(None).normalize()
    con.execute(f"SET VARIABLE today_wib = DATE '{now_wib.date()}'")
    con.execute(f"SET VARIABLE today_local = DATE '{pd.Timestamp.now().date()}'")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _landed AS SELECT *, file_row_number + 1 AS _row "
        f"FROM read_parquet({_q(str(landed))}, file_row_number = true)"
    )
    cols = [
        r[0]
        for r in con.execute("DESCRIBE _landed").fetchall()
        if r[0] not in ("file_row_number", "_row")
    ]
    part = ", ".join(f'"{c}"' for c in cols)
    # exact copies of an earlier row of the same delivery are duplicates, not checked
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _unique AS SELECT * EXCLUDE (file_row_number) FROM _landed "
        f"QUALIFY row_number() OVER (PARTITION BY {part} ORDER BY _row) = 1"
    )
    con.execute(_map_sql(KABUPATEN))
    # the village-name check, once per distinct (kecamatan, name)
    pairs = con.execute(
        "SELECT DISTINCT substr(kode_desa, 1, 8) AS kec, kel_name AS name FROM _mapped "
        "WHERE kel_name IS NOT NULL AND kode_desa IS NOT NULL"
    ).fetchall()
    villages = pd.DataFrame(
        [(k, n, match_village(n, k)) for k, n in pairs], columns=["kec", "name", "code"]
    ).astype("string")
    con.register("_vl", villages)
    con.execute("CREATE OR REPLACE TEMP TABLE _villages AS SELECT * FROM _vl")
    con.unregister("_vl")
    strings = [c for c in COLUMNS if c not in ("tanggal_lahir", "updated_at")]
    if not suite:
        con.execute(_findings_sql({c: max_length(c) for c in strings}, suite=False))
        return {"received": con.execute("SELECT count(*) FROM _landed").fetchone()[0]}
    # set-wise inputs of the NIK/KK rules
    con.execute("""
      CREATE OR REPLACE TEMP TABLE _nik_dups AS
      SELECT _row, dup, owner, sum(owner::INT) OVER (PARTITION BY nik) AS owners FROM (
        SELECT _row, nik, count(*) OVER (PARTITION BY nik) > 1 AS dup,
          nik_judged(nik, tanggal_lahir, jenis_kelamin)
            AND nik_agrees(nik, tanggal_lahir, jenis_kelamin) AS owner
        FROM _mapped WHERE nik IS NOT NULL);
      CREATE OR REPLACE TEMP TABLE _dangling AS
      SELECT ref FROM (SELECT nik_ayah AS ref FROM _mapped UNION ALL SELECT nik_ibu FROM _mapped)
      WHERE regexp_full_match(ref, '[0-9]{15}[1-9]')
        AND ref NOT IN (SELECT nik FROM _mapped WHERE nik IS NOT NULL);
      CREATE OR REPLACE TEMP TABLE _kk_full AS
      SELECT DISTINCT coalesce(kode_desa, '') || '|' || substr(no_kk, 1, 15) AS k FROM _mapped
      WHERE regexp_full_match(no_kk, '[0-9]{16}') AND NOT ends_with(no_kk, '0');
    """)
    con.execute(_findings_sql({c: max_length(c) for c in strings}))
    # status: quarantine (an error), duplicate (equal to the current record), valid
    has_core = _has_core(con)
    same = (
        f"EXISTS (SELECT 1 FROM core_penduduk c WHERE c.nik = m.nik "
        f"AND c._content_hash = {_content_hash('m')})"
        if has_core
        else "false"
    )
    con.execute(f"""
      CREATE OR REPLACE TEMP TABLE _status AS
      SELECT m._row, CASE WHEN e._row IS NOT NULL THEN 'quarantine'
                          WHEN {same} THEN 'duplicate' ELSE 'valid' END AS status
      FROM _mapped m LEFT JOIN (SELECT DISTINCT row AS _row FROM _findings
                                WHERE severity = 'error') e USING (_row)
    """)
    received = con.execute("SELECT count(*) FROM _landed").fetchone()[0]
    counts = dict(con.execute("SELECT status, count(*) FROM _status GROUP BY ALL").fetchall())
    warned = con.execute(
        "SELECT count(DISTINCT row) FROM _findings WHERE severity = 'warn' AND row NOT IN "
        "(SELECT row FROM _findings WHERE severity = 'error')"
    ).fetchone()[0]
    return {
        "received": received,
        "valid": counts.get("valid", 0),
        "quarantined": counts.get("quarantine", 0),
        "duplicate": received - counts.get("valid", 0) - counts.get("quarantine", 0),
        "warned": warned,
    }


def _content_hash(alias: str, cols: list[str] | None = None) -> str:
    cols = cols or [c for c in COLUMNS if c != "updated_at"]
    parts = ", ".join(f"coalesce(CAST({alias}.{c} AS VARCHAR), '\\0')" for c in cols)
    return f"md5(concat_ws('|', {parts}))"


def _has_core(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'core_penduduk' "
            "AND NOT temporary"
        ).fetchone()[0]
    )


DDL = f"""
CREATE TABLE IF NOT EXISTS raw_penduduk AS SELECT * EXCLUDE (file_row_number, _row),
  ''::VARCHAR AS _load_id, 0::BIGINT AS _row FROM _landed WHERE false;
CREATE TABLE IF NOT EXISTS findings (load_id VARCHAR, row BIGINT, rule VARCHAR,
  severity VARCHAR, field VARCHAR);
CREATE TABLE IF NOT EXISTS quarantine AS SELECT {", ".join(COLUMNS)}, ''::VARCHAR AS _load_id,
  0::BIGINT AS _row FROM _mapped WHERE false;
CREATE TABLE IF NOT EXISTS core_penduduk AS SELECT {", ".join(COLUMNS)},
  ''::VARCHAR AS _content_hash, ''::VARCHAR AS _tracked_hash, ''::VARCHAR AS _source,
  ''::VARCHAR AS _load_id, 0::BIGINT AS _row, now()::TIMESTAMPTZ AS _merged_at
  FROM _mapped WHERE false;
CREATE TABLE IF NOT EXISTS penduduk_history AS SELECT {", ".join(COLUMNS)},
  ''::VARCHAR AS _tracked_hash, updated_at AS _valid_from, updated_at AS _valid_to,
  ''::VARCHAR AS _load_id, 0::BIGINT AS _row FROM _mapped WHERE false;
CREATE TABLE IF NOT EXISTS load_record (load_id VARCHAR, source VARCHAR, stream VARCHAR,
  received BIGINT, valid BIGINT, quarantined BIGINT, duplicate BIGINT, warned BIGINT,
  inserted BIGINT, changed BIGINT, loaded_at TIMESTAMPTZ);
"""


def load(
    con: duckdb.DuckDBPyConnection, load_id: str, counts: dict[str, Any], guarantees: bool = True
) -> dict[str, int]:
    """Raw rows, findings, quarantine, merge by NIK with SCD2 history, load record: one
    transaction. ``guarantees=False`` (the bare floor) keeps no raw rows, findings or load
    record: only quarantine, merge and history."""
    lid = _q(load_id)
    con.execute(DDL)
    cols = ", ".join(COLUMNS)
    content = _content_hash("m")
    tracked = _content_hash("m", TRACKED)
    con.execute("BEGIN")
    try:
        if guarantees:
            con.execute(f"""
              INSERT INTO raw_penduduk SELECT * EXCLUDE (file_row_number, _row), {lid}, _row
                FROM _landed;
              INSERT INTO findings SELECT {lid}, row, rule, severity, field FROM _findings;
            """)
        con.execute(f"""
          INSERT INTO quarantine SELECT {cols}, {lid}, _row FROM _mapped
            JOIN _status USING (_row) WHERE status = 'quarantine';
          CREATE OR REPLACE TEMP TABLE _v AS
            SELECT m.*, {content} AS _content_hash, {tracked} AS _tracked_hash FROM _mapped m
            JOIN _status USING (_row) WHERE status = 'valid'
            QUALIFY row_number() OVER (PARTITION BY nik ORDER BY updated_at DESC, _row DESC) = 1;
          CREATE OR REPLACE TEMP TABLE _changed AS
            SELECT v.nik, v._tracked_hash <> c._tracked_hash AS moved FROM _v v
            JOIN core_penduduk c USING (nik)
            WHERE v._content_hash <> c._content_hash
              AND v.updated_at >= coalesce(c.updated_at, v.updated_at);
        """)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _new AS SELECT nik FROM _v "
            "WHERE nik NOT IN (SELECT nik FROM core_penduduk)"
        )
        inserted = con.execute(f"""
          INSERT INTO core_penduduk SELECT {cols}, _content_hash, _tracked_hash, '{SOURCE}',
            {lid}, _row, now() FROM _v WHERE nik IN (SELECT nik FROM _new)
        """).fetchone()[0]
        sets = ", ".join(f"{c} = v.{c}" for c in COLUMNS if c != "nik")
        changed = con.execute(f"""
          UPDATE core_penduduk c SET {sets}, _content_hash = v._content_hash,
            _tracked_hash = v._tracked_hash, _load_id = {lid}, _row = v._row, _merged_at = now()
          FROM _v v JOIN _changed x USING (nik) WHERE c.nik = v.nik
        """).fetchone()[0]
        # SCD2: a tracked change closes the open history row and opens a new one; an untracked
        # change rewrites the open row in place
        con.execute(f"""
          UPDATE penduduk_history h SET _valid_to = v.updated_at
          FROM _v v JOIN _changed x USING (nik)
          WHERE h.nik = v.nik AND x.moved AND h._valid_to IS NULL;
          UPDATE penduduk_history h SET {sets}, _load_id = {lid}, _row = v._row
          FROM _v v JOIN _changed x USING (nik)
          WHERE h.nik = v.nik AND NOT x.moved AND h._valid_to IS NULL;
          INSERT INTO penduduk_history SELECT {cols}, _tracked_hash, updated_at, NULL, {lid}, _row
          FROM _v WHERE nik IN (SELECT nik FROM _new)
            OR nik IN (SELECT nik FROM _changed WHERE moved);
        """)
        if guarantees:
            con.execute(
                f"INSERT INTO load_record VALUES ({lid}, 'siak', 'penduduk', "
                "?, ?, ?, ?, ?, ?, ?, now())",
                [counts["received"], counts["valid"], counts["quarantined"], counts["duplicate"],
                 counts["warned"], inserted, changed],
            )  # fmt: skip
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return {"inserted": inserted, "changed": changed}


def run(a: dict[str, Any]) -> dict[str, Any]:
    """Worker stage: transform + load ``a['file']`` (landed) into the floor warehouse ``a['db']``;
    findings also written to ``a['findings']`` (Parquet) for the equality check."""
    t = time.monotonic()
    con = duckdb.connect(a["db"])
    try:
        counts = transform(con, Path(a["file"]))
        transform_s = time.monotonic() - t
        if a.get("findings"):
            con.execute(
                f"COPY (SELECT row, rule, severity, field FROM _findings) TO {_q(a['findings'])} "
                "(FORMAT parquet)"
            )
        t = time.monotonic()
        merged = load(con, a["load_id"], counts, guarantees=a.get("guarantees", True))
        load_s = time.monotonic() - t
        current = con.execute("SELECT count(*) FROM core_penduduk").fetchone()[0]
        history = con.execute("SELECT count(*) FROM penduduk_history").fetchone()[0]
    finally:
        con.close()
    return {
        "rows": counts["received"],
        **counts,
        **merged,
        "core_rows": current,
        "history_rows": history,
        "transform_s": round(transform_s, 3),
        "load_s": round(load_s, 3),
        "_seconds": transform_s + load_s,
    }


def compare(hub: pd.DataFrame, floor: pd.DataFrame) -> dict[str, Any]:
    """(row, rule, severity, field) multisets of the hub's and the floor's findings."""
    key = ["row", "rule", "severity", "field"]

    def bag(df: pd.DataFrame) -> pd.Series:
        d = df[key].astype({"row": "int64"}).astype({c: "string" for c in key[1:]})
        return d.value_counts()

    h, f = bag(hub), bag(floor)
    both = h.index.union(f.index)
    h, f = h.reindex(both, fill_value=0), f.reindex(both, fill_value=0)
    only_hub = h[h > f]
    only_floor = f[f > h]
    by_rule: dict[str, list[int]] = {}
    for (_, rule, _, _), n in (h - f).items():
        if n:
            by_rule.setdefault(rule, [0, 0])[0 if n > 0 else 1] += abs(int(n))
    return {
        "equal": only_hub.empty and only_floor.empty,
        "hub": int(h.sum()),
        "floor": int(f.sum()),
        "only_hub": int((h - f).clip(lower=0).sum()),
        "only_floor": int((f - h).clip(lower=0).sum()),
        "by_rule": by_rule,  # rule -> [hub-only, floor-only]
        "examples": [
            tuple(map(str, i)) for i in list(only_hub.index[:3]) + list(only_floor.index[:3])
        ],
    }
