"""Analyst access: what ``simpul sql`` may run, against which database, as whom.

Analysts never touch the loading warehouse:

* DuckDB (embedded default): every marts build publishes ``analyst.duckdb`` beside the
  warehouse (marts, ref and the reconciliation findings only: pseudonymised, no raw, core or
  ops), written aside and renamed into place, so an open analyst connection never blocks a load
  and a load never breaks an analyst. ``simpul sql`` opens it read-only with external access,
  extension install/load and configuration changes disabled.
* PostgreSQL: ``simpul sql`` connects with its own URL (``SIMPUL_ANALYST_URL``) and refuses to
  run when that role is a superuser, owns a warehouse schema, or can read ``core``/``raw``/``ops``.

Every statement passes :func:`check_statement` first: one statement, and only SELECT, WITH,
DESCRIBE, SHOW, EXPLAIN, SUMMARIZE (or FROM ..., DuckDB's short SELECT). The engine's own
guard (read-only file, read-only transaction, grants) still holds if this check is ever wrong.

Reading core (raw NIK) is an operator action: ``simpul sql --operator NAME`` runs against the
warehouse itself (DuckDB: opened read-only with the same restrictions; PostgreSQL:
``SIMPUL_OPERATOR_URL``) and is recorded in the audit trail (who, when, statement hash, rows).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from simpul.config import ConfigError
from simpul.warehouse.sql_guard import SqlRefused as SqlRefused  # run_analyst raises it
from simpul.warehouse.sql_guard import check_statement, statement_hash

log = logging.getLogger(__name__)

ANALYST_URL_ENV = "SIMPUL_ANALYST_URL"
OPERATOR_URL_ENV = "SIMPUL_OPERATOR_URL"
ANALYST_DB_ENV = "SIMPUL_ANALYST_DB"
PUBLISHED_SCHEMAS = ("marts", "ref")
RESTRICTED_SCHEMAS = ("raw", "core", "ops")
PG_ANALYST_SCHEMAS = ("analyst",)  # PostgreSQL: the marts after disclosure control


# ---------------------------------------------------------------- the analyst database (DuckDB)


def analyst_db_path() -> Path:
    """``SIMPUL_ANALYST_DB`` or ``analyst.duckdb`` beside the DuckDB warehouse file."""
    from simpul.config import home, warehouse_url

    if os.environ.get(ANALYST_DB_ENV):
        return Path(os.environ[ANALYST_DB_ENV])
    url = warehouse_url()
    if url.startswith("duckdb:///"):
        return Path(url.removeprefix("duckdb:///")).parent / "analyst.duckdb"
    return home() / "analyst.duckdb"


def publish_analyst_db(wh: Any) -> Path | None:
    """Copy marts and ref (views materialised) into a fresh file and rename it into place.

    Only on DuckDB; returns the path. The file is written beside the target and replaced with
    ``os.replace``: a reader holding the old file keeps reading it until it reconnects.
    """
    if wh.dialect != "duckdb":
        return None
    from simpul.securefs import secure_dir, secure_file
    from simpul.warehouse.disclosure import QUASI_IDENTIFIERS, needs_protection, protect
    from simpul.warehouse.disclosure_sql import WORK, k_anonymise_duckdb

    target = analyst_db_path()
    secure_dir(target.parent)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    with wh.engine.connect() as conn:
        objects = conn.execute(
            sa.text(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('marts', 'ref') and table_catalog = current_database() "
                "order by 1, 2"
            )
        ).all()
        conn.commit()
        raw = conn.connection.driver_connection
        alias = "simpul_analyst_out"
        raw.execute(f"ATTACH '{_sql_text(str(tmp))}' AS {alias}")
        try:
            for schema in PUBLISHED_SCHEMAS:
                raw.execute(f'CREATE SCHEMA IF NOT EXISTS {alias}."{schema}"')
            for schema, table in objects:
                source = f'"{schema}"."{table}"'
                if schema == "marts" and table in QUASI_IDENTIFIERS:
                    # person-level: k-anonymity in the engine, not in a whole-table frame
                    query, stats = k_anonymise_duckdb(raw, source, table)
                    log.info("analyst marts.%s: disclosure control %s", table, stats)
                    raw.execute(f'CREATE TABLE {alias}."{schema}"."{table}" AS {query}')
                    raw.execute(f"DROP TABLE {WORK}")
                    continue
                if schema == "marts" and needs_protection(table):
                    protected, stats = protect(
                        table, raw.sql(f"SELECT * FROM {source}").to_arrow_table()
                    )
                    raw.register("_simpul_protected", protected)
                    source = "_simpul_protected"
                    log.info("analyst marts.%s: disclosure control %s", table, stats)
                raw.execute(f'CREATE TABLE {alias}."{schema}"."{table}" AS SELECT * FROM {source}')
                if source == "_simpul_protected":
                    raw.unregister("_simpul_protected")
        finally:
            raw.execute(f"DETACH {alias}")
    secure_file(tmp)
    os.replace(tmp, target)
    _fsync_dir(target.parent)
    return target


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _locked_duckdb(path: Path, key: str | None = None) -> Any:
    import duckdb

    if key:  # the encrypted warehouse (operator path): attach it, then lock down the same way
        from simpul.atrest import duckdb_key, secure_crypto_available

        con = duckdb.connect(
            ":memory:",
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "allow_community_extensions": False,
            },
        )
        try:
            if not secure_crypto_available(con):
                con.execute("SET force_mbedtls_unsafe = true")
            literal = str(path).replace("'", "''")
            con.execute(
                f"ATTACH '{literal}' AS warehouse (READ_ONLY, ENCRYPTION_KEY '{duckdb_key(key)}')"
            )
            con.execute("USE warehouse")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except BaseException:
            con.close()
            raise
        return con
    return duckdb.connect(
        str(path),
        read_only=True,
        config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "lock_configuration": True,
        },
    )


# --------------------------------------------------------------------------- running a query


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    source: str  # what was queried, for the operator (never a password)


def _pg_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def check_analyst_role(conn: Any) -> None:
    """Refuse a PostgreSQL role that could see or change more than marts and ref."""
    row = conn.execute(
        sa.text(
            "select r.rolsuper, r.rolbypassrls, current_user, "
            "  exists (select 1 from pg_namespace n where n.nspname = any(:all) "
            "          and pg_has_role(current_user, n.nspowner, 'MEMBER')) as owns, "
            "  exists (select 1 from pg_namespace n where n.nspname = any(:restricted) "
            "          and has_schema_privilege(current_user, n.oid, 'USAGE')) as restricted, "
            "  exists (select 1 from pg_roles s where s.rolname in "
            "          ('pg_read_server_files', 'pg_write_server_files', "
            "           'pg_execute_server_program', 'pg_read_all_data', 'pg_write_all_data') "
            "          and pg_has_role(current_user, s.oid, 'MEMBER')) as server_roles "
            "from pg_roles r where r.rolname = current_user"
        ),
        {
            "all": list(PUBLISHED_SCHEMAS + RESTRICTED_SCHEMAS + PG_ANALYST_SCHEMAS),
            # on PostgreSQL marts are unprotected: analysts read the analyst schema instead
            "restricted": list(RESTRICTED_SCHEMAS + ("marts",)),
        },
    ).one()
    superuser, bypass, user, owns, restricted, server_roles = row
    problems = []
    if superuser or bypass:
        problems.append(("adalah superuser", "is a superuser"))
    if owns:
        problems.append(("memiliki skema gudang data", "owns a warehouse schema"))
    if restricted:
        problems.append(("dapat membaca core/raw/ops", "can read core/raw/ops"))
    if server_roles:
        problems.append(
            ("memegang peran berkas/program server", "holds a server file/program role")
        )
    if problems:
        raise SqlRefused(
            f"peran analis {user!r} {', '.join(p[0] for p in problems)}: beri login dalam peran "
            f"simpul_analyst saja / analyst role {user!r} {', '.join(p[1] for p in problems)}: "
            "use a login role in simpul_analyst only"
        )


def _run_pg(url: str, sql: str, *, analyst: bool, limit: int | None) -> QueryResult:
    engine = sa.create_engine(_pg_url(url), future=True, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if analyst:
                check_analyst_role(conn)
            else:
                su = conn.execute(
                    sa.text("select rolsuper from pg_roles where rolname = current_user")
                ).scalar()
                if su:
                    raise SqlRefused(
                        "peran operator adalah superuser: gunakan login dalam simpul_operator / "
                        "operator role is a superuser: use a login role in simpul_operator"
                    )
            conn.rollback()
            conn.exec_driver_sql("START TRANSACTION READ ONLY")
            conn.exec_driver_sql("SET LOCAL statement_timeout = '300s'")
            result = conn.exec_driver_sql(sql)
            columns = list(result.keys()) if result.returns_rows else []
            rows = [tuple(r) for r in (result.fetchmany(limit) if limit else result.fetchall())]
            conn.rollback()
        return QueryResult(columns, rows, engine.url.render_as_string(hide_password=True))
    finally:
        engine.dispose()


def _run_duckdb(path: Path, sql: str, limit: int | None, key: str | None = None) -> QueryResult:
    con = _locked_duckdb(path, key)
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in (cur.description or [])]
        rows = cur.fetchmany(limit) if limit else cur.fetchall()
    finally:
        con.close()
    return QueryResult(columns, [tuple(r) for r in rows], str(path))


def run_analyst(sql: str, limit: int | None = None) -> QueryResult:
    """Run one read statement as an analyst: the analyst database, or ``SIMPUL_ANALYST_URL``."""
    from simpul.config import warehouse_url

    url = os.environ.get(ANALYST_URL_ENV)
    if url:
        return _run_pg(url, check_statement(sql, "postgresql"), analyst=True, limit=limit)
    if not warehouse_url().startswith("duckdb"):
        raise ConfigError(
            f"isi {ANALYST_URL_ENV} dengan URL login analis (peran simpul_analyst) / "
            f"set {ANALYST_URL_ENV} to an analyst login URL (a role in simpul_analyst)"
        )
    path = analyst_db_path()
    if not path.exists():  # a fresh install: publish what there is (ref, empty marts) once
        from simpul.warehouse import warehouse

        with warehouse() as wh:
            publish_analyst_db(wh)
    if not path.exists():  # pragma: no cover - publish_analyst_db always writes on DuckDB
        raise ConfigError(
            f"basis data analis belum ada ({path}): jalankan pembangunan marts / analyst "
            f"database not published yet ({path}): build the marts (simpul demo, simpul_ops_marts)"
        )
    return _run_duckdb(path, check_statement(sql, "duckdb"), limit)


def run_operator(sql: str, name: str, limit: int | None = None) -> QueryResult:
    """Run one read statement against the warehouse (core with NIK) and audit it."""
    from simpul.config import warehouse_url
    from simpul.orchestration import audit

    if not re.fullmatch(r"[\w.@-]{2,64}", name or ""):
        raise SqlRefused(
            "nama operator tidak valid (2-64 huruf/angka) / invalid operator name (2-64 letters)"
        )
    url = warehouse_url()
    dialect = "duckdb" if url.startswith("duckdb") else "postgresql"
    statement = check_statement(sql, dialect)
    digest = statement_hash(statement)
    try:
        if dialect == "duckdb":
            from simpul.atrest import encryption_key

            result = _run_duckdb(
                Path(url.removeprefix("duckdb:///")), statement, limit, encryption_key()
            )
        else:
            result = _run_pg(os.environ.get(OPERATOR_URL_ENV) or url, statement, analyst=False,
                             limit=limit)  # fmt: skip
    except Exception as exc:
        audit.record(
            "sql", outcome="failed", args={"statement_sha256": digest, "rows": 0},
            detail=type(exc).__name__, operator_name=name,
        )  # fmt: skip
        raise
    audit.record(
        "sql", outcome="ok", args={"statement_sha256": digest, "rows": len(result.rows)},
        operator_name=name,
    )  # fmt: skip
    return result


# ------------------------------------------------------------------------------ writing results

OUT_FORMATS = (".csv", ".parquet", ".json")


def result_table(result: QueryResult) -> Any:
    """The rows as an Arrow table (a column Arrow cannot type is written as text)."""
    import pyarrow as pa

    arrays = []
    for i, _ in enumerate(result.columns):
        values = [r[i] for r in result.rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.Table.from_arrays(arrays, names=list(result.columns))


def check_out_path(path: Path) -> str:
    """The output format from the extension; refused before any query runs."""
    suffix = path.suffix.lower()
    if suffix not in OUT_FORMATS:
        raise SqlRefused(
            f"--out {path.name}: pakai .csv, .parquet atau .json / use .csv, .parquet or .json"
        )
    return suffix


def write_result(result: QueryResult, path: Path) -> Path:
    """CSV (formula cells neutralised), Parquet or JSON, chosen by the file's extension; the
    file is written by the CLI (owner-only), never by the database engine."""
    import json

    import pyarrow.parquet as pq

    from simpul.exchange.formats import write_csv

    suffix = check_out_path(path)
    table = result_table(result)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    old = os.umask(0o077)
    try:
        if suffix == ".csv":
            write_csv(table, tmp)
        elif suffix == ".parquet":
            pq.write_table(table, tmp, compression="zstd")
        else:
            rows = [dict(zip(result.columns, r, strict=True)) for r in result.rows]
            tmp.write_text(json.dumps(rows, default=str, ensure_ascii=False, indent=1), "utf-8")
        os.replace(tmp, path)
    finally:
        os.umask(old)
        tmp.unlink(missing_ok=True)
    return path
