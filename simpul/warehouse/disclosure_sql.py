"""k-anonymity of a person-level marts table inside DuckDB (the analyst copy's publish).

The same ladder as :func:`simpul.warehouse.disclosure.k_anonymise`, step for step, but as SQL
over the table where it lies: the pandas version holds the whole table (and a copy per step)
in Python, which at province scale (9 M residents) peaked at 9 GB in the marts task; here
DuckDB does the class counts within its memory limit and spills. Both give the same rows and
the same statistics (``tests/security/test_disclosure_sql.py`` compares them).
"""

from __future__ import annotations

from typing import Any

from simpul.warehouse.disclosure import DROPPED, LADDER, QUASI_IDENTIFIERS, SUPPRESSED, K

WORK = "_simpul_kanon"  # the temporary table the ladder rewrites


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _wide_band(col: str) -> str:
    """SQL of disclosure._wide_band: a five-year band to a life stage (0-14 ... 60+)."""
    c = _q(col)
    low = f"CAST(split_part(rtrim({c}, '+'), '-', 1) AS INTEGER)"
    start = f"({low} // 15 * 15)"
    return (
        f"CASE WHEN {c} IS NULL OR NOT (contains({c}, '-') OR ends_with({c}, '+')) THEN {c} "
        f"WHEN {low} >= 60 THEN '60+' "
        f"ELSE CAST({start} AS VARCHAR) || '-' || CAST({start} + 14 AS VARCHAR) END"
    )


def _small(qi: list[str], k: int) -> str:
    """Whether a row's quasi-identifier class has fewer than k rows (NULL is one value)."""
    return f"count(*) OVER (PARTITION BY {', '.join(_q(c) for c in qi)}) < {int(k)}"


def _step_columns(step: list[str], columns: list[str]) -> dict[str, str]:
    """The replacement expression of every column a ladder step widens for small classes."""
    out: dict[str, str] = {}
    for c in step:
        if c not in columns:
            continue
        if c == "kelompok_umur":
            out[c] = _wide_band(c)
            if "umur_min" in columns:
                out["umur_min"] = "NULL"
        else:
            out[c] = f"'{SUPPRESSED}'"
            if c == "kode_desa" and "nama_desa" in columns:
                out["nama_desa"] = f"'{SUPPRESSED}'"
    return out


def k_anonymise_duckdb(con: Any, source: str, table: str, k: int = K) -> tuple[str, dict[str, int]]:
    """Run the ladder over ``source`` (a DuckDB relation name) on the DuckDB connection ``con``;
    returns a SELECT of the protected rows (valid until the next call) and the statistics."""
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    kept = [c for c in columns if c not in DROPPED.get(table, [])]
    qi = [c for c in QUASI_IDENTIFIERS[table] if c in kept]
    select = ", ".join(_q(c) for c in kept)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {WORK} AS "
        f"SELECT {select}, row_number() OVER () AS _simpul_row, FALSE AS _simpul_small "
        f"FROM {source}"
    )
    result = f"SELECT {select} FROM {WORK} ORDER BY _simpul_row"
    stats: dict[str, int] = {}
    if not qi or not con.execute(f"SELECT count(*) FROM {WORK}").fetchall()[0][0]:
        return result, stats
    cast = ", ".join(f"CAST({_q(c)} AS VARCHAR) AS {_q(c)}" for c in qi)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {WORK} AS SELECT * REPLACE ({cast}) FROM {WORK}")
    for step in LADDER[table]:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {WORK} AS SELECT * REPLACE "
            f"({_small(qi, k)} AS _simpul_small) FROM {WORK}"
        )
        small = con.execute(f"SELECT count(*) FROM {WORK} WHERE _simpul_small").fetchall()[0][0]
        if not small:
            break
        widen = ", ".join(
            f"CASE WHEN _simpul_small THEN {expr} ELSE {_q(c)} END AS {_q(c)}"
            for c, expr in _step_columns(step, kept).items()
        )
        if widen:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {WORK} AS SELECT * REPLACE ({widen}) FROM {WORK}"
            )
        stats["+".join(step)] = int(small)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {WORK} AS SELECT * REPLACE "
        f"({_small(qi, k)} AS _simpul_small) FROM {WORK}"
    )
    stats["suppressed"] = int(
        con.execute(f"SELECT count(*) FROM {WORK} WHERE _simpul_small").fetchall()[0][0]
    )
    con.execute(f"DELETE FROM {WORK} WHERE _simpul_small")
    return result, stats
