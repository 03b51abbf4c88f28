"""Warehouse access: SQLAlchemy for connections and portable SQL, plus each engine's bulk path.

DuckDB takes Arrow tables directly; PostgreSQL gets COPY. Everything else (DDL, merges, ops
records) is the same SQL on both, so the same tests run against both engines.
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from simpul.config import warehouse_url

log = logging.getLogger(__name__)


DUCKDB_ROW_GROUP = 122_880  # rows per DuckDB row group


def quote_ident(name: str) -> str:
    """Quote one SQL identifier; names never come from data, but quote them all the same."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def upsert_sql(
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    rows: str,
    update: Sequence[str] | None = None,
) -> str:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` of ``rows`` (a ``VALUES`` list or a
    ``SELECT`` of ``columns``) into ``table``: one statement on both engines, never a delete and
    re-insert. ``keys`` must be the table's primary key; a row of only keys is left as it is.
    ``update``: the columns an existing row takes (default every non-key column)."""
    cols = ", ".join(quote_ident(c) for c in columns)
    updates = ", ".join(
        f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}"
        for c in (columns if update is None else update)
        if c not in keys
    )
    return (
        f"INSERT INTO {table} ({cols}) {rows} "
        f"ON CONFLICT ({', '.join(quote_ident(k) for k in keys)}) DO "
        + (f"UPDATE SET {updates}" if updates else "NOTHING")
    )


def sql_type(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_date32(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP WITH TIME ZONE" if t.tz else "TIMESTAMP"
    if pa.types.is_int64(t) or pa.types.is_int32(t):
        return "BIGINT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_floating(t):
        return "DOUBLE PRECISION"
    raise TypeError(f"no warehouse type for {t}")


class Warehouse:
    """A warehouse behind a SQLAlchemy engine; ``dialect`` is 'duckdb' or 'postgresql'."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect not in ("duckdb", "postgresql"):
            raise ValueError(f"unsupported warehouse engine {self.dialect!r}")

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execute(sa.text(sql), params or {})
            if not result.returns_rows:
                conn.commit()
                return []
            return [dict(r._mapping) for r in result]

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params or {}).scalar()

    def table_exists(self, conn: Connection, schema: str, table: str) -> bool:
        return bool(
            conn.execute(
                sa.text(
                    "select count(*) from information_schema.tables "
                    "where table_schema = :s and table_name = :t"
                ),
                {"s": schema, "t": table},
            ).scalar()
        )

    def bulk_insert(self, conn: Connection, target: str, table: pa.Table) -> int:
        """Append an Arrow table to quoted ``target`` in bulk, inside ``conn``'s transaction."""
        if table.num_rows == 0:
            return 0
        cols = ", ".join(quote_ident(c) for c in table.column_names)
        if self.dialect == "duckdb":
            raw: Any = conn.connection.driver_connection
            name = "_simpul_bulk"
            # A parallel insert of more than one row group leaves partly filled row groups,
            # which the *next* checkpoint merges: seconds of rewriting a 650,000-resident
            # warehouse in whatever small load comes next. One thread fills them whole (and
            # is no slower: the rows come from memory).
            big = table.num_rows > DUCKDB_ROW_GROUP
            threads = None
            if big:
                threads = conn.exec_driver_sql("SELECT current_setting('threads')").scalar()
                conn.exec_driver_sql("SET threads = 1")
            try:
                # a relation, not register(): a view dropped inside a transaction stays in the
                # catalog, its Arrow table with it, until commit (a delivery's every row at once)
                raw.from_arrow(table).query(
                    name, f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {name}"
                )
            finally:
                if threads is not None:
                    conn.exec_driver_sql(f"SET threads = {int(threads)}")
        else:
            pg: Any = conn.connection.driver_connection
            with pg.cursor() as cur:
                copy_arrow(cur, f"{target} ({cols})", table)
        return int(table.num_rows)

    def upsert_table(
        self, conn: Connection, target: str, table: pa.Table, keys: Sequence[str]
    ) -> int:
        """Insert or update ``table``'s rows (one per key) in quoted ``target``: staged in bulk,
        then one :func:`upsert_sql`, inside ``conn``'s transaction."""
        if table.num_rows == 0:
            return 0
        cols = ", ".join(quote_ident(c) for c in table.column_names)
        staged = "_simpul_upsert"
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {staged}")
        conn.exec_driver_sql(f"CREATE TEMP TABLE {staged} AS SELECT {cols} FROM {target} LIMIT 0")
        self.bulk_insert(conn, staged, table)
        update = None
        if self.dialect == "duckdb":
            update = _changed_columns(conn, target, staged, table.column_names, keys)
        conn.exec_driver_sql(
            upsert_sql(target, table.column_names, keys, f"SELECT {cols} FROM {staged}", update)
        )
        conn.exec_driver_sql(f"DROP TABLE {staged}")
        return int(table.num_rows)

    def dispose(self) -> None:
        self.engine.dispose()


def _changed_columns(
    conn: Connection, target: str, staged: str, columns: Sequence[str], keys: Sequence[str]
) -> list[str]:
    """The non-key columns in which any staged row differs from the stored row of its key.
    DuckDB's update costs per column it sets, over every vector holding an updated row (all of
    them for 1 % of a table): setting the 28 columns of 6,500 of 650,000 residents took 3.5 s,
    the 6 that changed 0.2 s, and this comparison 0.35 s. Setting only these gives the same
    rows: in every other column the stored value already equals the staged one."""
    rest = [c for c in columns if c not in keys]
    if not rest:
        return []
    on = " AND ".join(f"t.{quote_ident(k)} = s.{quote_ident(k)}" for k in keys)
    probe = ", ".join(
        f"bool_or(t.{quote_ident(c)} IS DISTINCT FROM s.{quote_ident(c)})" for c in rest
    )
    row = conn.exec_driver_sql(f"SELECT {probe} FROM {staged} s JOIN {target} t ON {on}").one()
    return [c for c, changed in zip(rest, row, strict=True) if changed]


def copy_arrow(cursor: Any, target: str, table: pa.Table) -> None:
    """PostgreSQL ``COPY target FROM STDIN`` of an Arrow table, as CSV in 50,000-row batches
    (an empty string is quoted, a null is not: COPY tells them apart)."""
    with cursor.copy(f"COPY {target} FROM STDIN WITH (FORMAT csv, HEADER false)") as copy:
        for batch in table.to_batches(max_chunksize=50_000):
            buf = io.BytesIO()
            pacsv.write_csv(
                pa.Table.from_batches([batch]),
                buf,
                pacsv.WriteOptions(include_header=False, quoting_style="needed"),
            )
            copy.write(buf.getvalue())


def is_lock_error(exc: BaseException) -> bool:
    """True for DuckDB's 'Could not set lock ... Conflicting lock' (another process has the
    file open: DuckDB allows one writer process)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        text = str(seen).lower()
        if "lock" in text and ("conflicting" in text or "could not set" in text):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


class WarehouseBusyError(RuntimeError):
    """The DuckDB file stayed locked by another process for the whole wait."""


def lock_wait_seconds() -> float:
    """How long opening the DuckDB file waits for another process (``SIMPUL_LOCK_WAIT_SECONDS``,
    default 120): extract and transform run outside the warehouse pool and wait here."""
    try:
        return float(os.environ.get("SIMPUL_LOCK_WAIT_SECONDS", "120"))
    except ValueError:
        return 120.0


def open_warehouse(
    url: str | None = None, wait: float | None = None, check: bool = True
) -> Warehouse:
    """Open the warehouse at ``url`` or the configured default, checked to be at the schema
    head (upgraded first for embedded DuckDB or ``SIMPUL_AUTO_MIGRATE=1``, see
    :func:`ensure_current`), with current reference tables.

    A DuckDB file held by another process is waited for up to ``wait`` seconds (default
    :func:`lock_wait_seconds`); after that the lock error is raised as it is. ``check=False``
    skips the schema check (``simpul db``, which upgrades or reports the schema itself).
    """
    url = url or warehouse_url()
    deadline = time.monotonic() + (lock_wait_seconds() if wait is None else wait)
    delay = 0.2
    while True:
        try:
            return _open(url, check)
        except Exception as exc:
            if not is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                first = (str(getattr(exc, "orig", exc)).splitlines() or [""])[0]
                raise WarehouseBusyError(
                    f"gudang data dipakai proses lain (muatan?) dan tidak lepas dalam waktu "
                    f"tunggu / the warehouse is held by another process (a load?) beyond the "
                    f"wait (SIMPUL_LOCK_WAIT_SECONDS): {first}"
                ) from None
            if delay == 0.2:
                log.info("warehouse held by another process (a load?): waiting")
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)


AUTO_MIGRATE_ENV = "SIMPUL_AUTO_MIGRATE"
_REFERENCE_CHECKED: set[str] = set()
# how often each step ran in this process (measured per pipeline run; see tests)
COUNTS = {"head_checks": 0, "upgrades": 0, "reference_checks": 0}


class WarehouseNotUpgradedError(RuntimeError):
    """The warehouse schema is behind this code and upgrading at open is off."""


class SchemaError(RuntimeError):
    """The warehouse schema is not what this code can upgrade (unknown or newer revision)."""


def auto_migrate(url: str) -> bool:
    """Upgrade at open? ``SIMPUL_AUTO_MIGRATE`` (1/0) when set; otherwise only for embedded
    DuckDB (the demo and a laptop need no extra command; a shared PostgreSQL is upgraded once
    per deployment by ``simpul db upgrade``)."""
    value = os.environ.get(AUTO_MIGRATE_ENV, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return url.startswith("duckdb:")


def _open(url: str, check: bool = True) -> Warehouse:
    if url.startswith("duckdb:///"):
        from pathlib import Path

        Path(url.removeprefix("duckdb:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    wh = Warehouse(_create_engine(url))
    if not check:
        return wh
    try:
        ensure_current(wh, auto=auto_migrate(url))
    except BaseException:
        wh.dispose()
        raise
    return wh


def forget_reference_check(wh: Warehouse) -> None:
    """The next open checks the reference tables again (called by every upgrade)."""
    _REFERENCE_CHECKED.discard(wh.url)


def ensure_current(wh: Warehouse, auto: bool) -> None:
    """Cheap check that the schema is at head (one query). Behind: upgrade when ``auto``,
    else refuse. Reference tables are checked after an upgrade and, with ``auto``, once per
    process (``simpul db upgrade`` loads them at deployment)."""
    from simpul.reference import load_reference
    from simpul.warehouse import migrations

    COUNTS["head_checks"] += 1
    at, head = migrations.current(wh), migrations.head()
    if at != head:
        if not auto:
            at = at or migrations.legacy_revision(wh)  # made by the runner before Alembic?
            raise WarehouseNotUpgradedError(
                f"skema gudang data belum mutakhir (revisi {at or 'kosong'}, kode perlu {head}): "
                f"jalankan `simpul db upgrade` (cadangkan dulu) / the warehouse schema is at "
                f"revision {at or 'none'}, this code needs {head}: run `simpul db upgrade` "
                f"(back up first)"
            )
        COUNTS["upgrades"] += 1
        migrations.upgrade(wh)
    if auto and wh.url not in _REFERENCE_CHECKED:
        COUNTS["reference_checks"] += 1
        load_reference(wh)
        _REFERENCE_CHECKED.add(wh.url)


DUCKDB_MEMORY_ENV = "SIMPUL_DUCKDB_MEMORY_LIMIT"
DEFAULT_DUCKDB_MEMORY_LIMIT = "1GB"


def duckdb_defaults(url: str) -> dict[str, str]:
    """DuckDB settings the URL leaves unset: ``memory_limit`` from ``SIMPUL_DUCKDB_MEMORY_LIMIT``
    (default :data:`DEFAULT_DUCKDB_MEMORY_LIMIT`; ``80%`` is DuckDB's own default). DuckDB would
    otherwise take up to 80 % of the machine's RAM in every task process; past the limit it
    spills to its temp directory (``<file>.tmp``), so a 2,000,000-resident load stays < 2 GB.
    A setting in the URL (``duckdb:///w.duckdb?memory_limit=4GB``) wins."""
    given = sa.engine.make_url(url).query
    defaults = {"memory_limit": os.environ.get(DUCKDB_MEMORY_ENV) or DEFAULT_DUCKDB_MEMORY_LIMIT}
    return {k: v for k, v in defaults.items() if k not in given}


def _apply_settings(engine: Engine, settings: dict[str, str]) -> None:
    """``SET GLOBAL`` the settings on every new DuckDB connection (plain and encrypted files
    alike: an encrypted file's in-memory database is re-created after ``dispose``)."""
    if not settings:
        return
    statements = [
        f"SET GLOBAL {name} = '{str(value).replace(chr(39), chr(39) * 2)}'"
        for name, value in settings.items()
    ]

    @sa.event.listens_for(engine, "connect")
    def _set(dbapi_connection: Any, _record: Any) -> None:
        for statement in statements:
            dbapi_connection.execute(statement)


def _create_engine(url: str) -> Engine:
    """The SQLAlchemy engine; a DuckDB file is opened encrypted when a key is configured."""
    from simpul.atrest import encrypted_duckdb_engine, encryption_key

    if not url.startswith("duckdb:"):
        return sa.create_engine(url, future=True)
    settings = duckdb_defaults(url)
    engine: Engine
    if url.startswith("duckdb:///") and url != "duckdb:///:memory:" and encryption_key():
        from pathlib import Path

        made = sa.engine.make_url(url)
        key = encryption_key() or ""
        path = Path(made.database or "")
        engine = encrypted_duckdb_engine(path, key)
        # spilled pages of an encrypted warehouse: encrypted, beside the file (not in the cwd)
        spill = {"temp_directory": f"{path}.tmp", "temp_file_encryption": "true"}
        settings = {**spill, **{k: str(v) for k, v in made.query.items()}, **settings}
    else:
        engine = sa.create_engine(url, future=True)
    _apply_settings(engine, settings)
    return engine
