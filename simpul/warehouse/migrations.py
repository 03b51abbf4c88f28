"""Versioned schema migrations: the only way the warehouse schema changes.

Each migration is a function applied once, in order, inside a transaction, and recorded in
``ops.schema_migrations``. Canonical tables are generated from :mod:`simpul.model`, so DDL never
drifts from what mappings produce. Add a new migration; never edit an applied one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simpul.model import ENTITIES, LINEAGE, PENDUDUK, Entity
from simpul.warehouse.engine import Warehouse, qualified, quote_ident, sql_type

SCHEMAS = ("ref", "raw", "core", "marts", "ops")


def _create_entity(conn: Connection, ent: Entity) -> None:
    cols = [f"{quote_ident(c.name)} {sql_type(c.type)}" for c in ent.columns]
    cols += [f"{quote_ident(f.name)} {sql_type(f.type)}" for f in LINEAGE]
    cols.append(f"{quote_ident('_merged_at')} TIMESTAMP WITH TIME ZONE")
    cols.append(f"PRIMARY KEY ({', '.join(quote_ident(k) for k in ent.key)})")
    conn.exec_driver_sql(f"CREATE TABLE {qualified('core', ent.name)} ({', '.join(cols)})")


def m0001_base(conn: Connection) -> None:
    """Layers, ops tables (loads, cursors, findings, quarantine) and reference tables."""
    ts = "TIMESTAMP WITH TIME ZONE"
    for ddl in (
        f"""CREATE TABLE ops.loads (
            load_id VARCHAR PRIMARY KEY, pipeline VARCHAR, source VARCHAR, stream VARCHAR,
            entity VARCHAR, status VARCHAR NOT NULL, extracted_at {ts}, loaded_at {ts},
            cursor_from VARCHAR, cursor_to VARCHAR, rows_received BIGINT, rows_loaded BIGINT,
            rows_quarantined BIGINT, rows_duplicate BIGINT, rows_warned BIGINT,
            sha256 VARCHAR, landed_file VARCHAR, message VARCHAR)""",
        f"""CREATE TABLE ops.cursors (
            source VARCHAR, stream VARCHAR, cursor_value VARCHAR, load_id VARCHAR,
            updated_at {ts}, PRIMARY KEY (source, stream))""",
        f"""CREATE TABLE ops.dq_findings (
            load_id VARCHAR, row_number BIGINT, rule VARCHAR, severity VARCHAR, field VARCHAR,
            reason_en VARCHAR, reason_id VARCHAR, found_at {ts},
            PRIMARY KEY (load_id, row_number, rule))""",
        f"""CREATE TABLE ops.quarantine (
            load_id VARCHAR, source VARCHAR, stream VARCHAR, entity VARCHAR, row_number BIGINT,
            record_key VARCHAR, rules VARCHAR, reasons_en VARCHAR, reasons_id VARCHAR,
            record_json VARCHAR, status VARCHAR, quarantined_at {ts}, resolved_at {ts},
            PRIMARY KEY (load_id, row_number))""",
        """CREATE TABLE ref.wilayah (
            kode VARCHAR PRIMARY KEY, tingkat VARCHAR NOT NULL, kode_induk VARCHAR,
            nama VARCHAR NOT NULL)""",
        """CREATE TABLE ref.kode (
            daftar VARCHAR, kode VARCHAR, label VARCHAR, sumber VARCHAR,
            PRIMARY KEY (daftar, kode))""",
        f"""CREATE TABLE ref.versions (name VARCHAR PRIMARY KEY, sha256 VARCHAR, loaded_at {ts})""",
    ):
        conn.exec_driver_sql(ddl)


def m0002_core_penduduk(conn: Connection) -> None:
    """core.penduduk and its raw landing table (all source values as delivered, as text)."""
    _create_entity(conn, PENDUDUK)


def _columns_ddl(schema: pa.Schema) -> str:
    return ", ".join(f"{quote_ident(f.name)} {sql_type(f.type)}" for f in schema)


def m0003_penduduk_history(conn: Connection) -> None:
    """Source versions, SCD2 history, merge conflicts and soft deletes for penduduk.

    Existing core rows become their own first version and history row, so a warehouse loaded
    before this migration continues without a reload.
    """
    from simpul.warehouse import merge

    ent = PENDUDUK
    keys = ", ".join(quote_ident(k) for k in ent.key)
    conn.exec_driver_sql(
        f"ALTER TABLE {qualified('core', ent.name)} "
        f"ADD COLUMN {quote_ident('_deleted_at')} TIMESTAMP WITH TIME ZONE"
    )
    conn.exec_driver_sql(
        f"CREATE TABLE {qualified('core', ent.name + '_versions')} "
        f"({_columns_ddl(merge.versions_schema(ent))})"
    )
    conn.exec_driver_sql(
        f"CREATE INDEX penduduk_versions_key ON {qualified('core', ent.name + '_versions')} "
        f"({keys})"
    )
    conn.exec_driver_sql(
        f"CREATE TABLE {qualified('core', ent.name + '_history')} "
        f"({_columns_ddl(merge.history_schema(ent))}, PRIMARY KEY ({keys}, valid_from))"
    )
    conn.exec_driver_sql(f"CREATE TABLE ops.merge_conflicts ({_columns_ddl(merge.CONFLICTS)})")
    conn.exec_driver_sql(
        "CREATE INDEX merge_conflicts_key ON ops.merge_conflicts (entity, record_key)"
    )
    rows = [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM core.{ent.name}"))]
    if not rows:
        return
    now = datetime.now(UTC)
    versions = []
    for r in rows:
        v = {c: r[c] for c in ent.column_names + [f.name for f in LINEAGE]}
        v.update(_last_seen_at=r["_extracted_at"], _deleted=False, _recorded_at=now)
        v["_row_hash"] = merge.row_hash(ent, v, False)
        versions.append(v)
    cols = merge.versions_schema(ent).names
    conn.execute(
        sa.text(
            f"INSERT INTO {qualified('core', ent.name + '_versions')} "
            f"({', '.join(map(quote_ident, cols))}) VALUES ({', '.join(':' + c for c in cols)})"
        ),
        versions,
    )
    tracked = ", ".join(quote_ident(c) for c in merge.TRACKED[ent.name])
    conn.execute(
        sa.text(
            f"INSERT INTO {qualified('core', ent.name + '_history')} "
            f"({keys}, valid_from, valid_to, is_current, {tracked}, _source, _load_id, "
            f"_recorded_at) SELECT {keys}, COALESCE(updated_at, _extracted_at), NULL, TRUE, "
            f"{tracked}, _source, _load_id, :now FROM {qualified('core', ent.name)}"
        ),
        {"now": now},
    )


def m0004_marts_penduduk(conn: Connection) -> None:
    """Marts tables (rebuilt by simpul.warehouse.marts.build_marts; created here so that
    grants to the analyst role survive rebuilds)."""
    from simpul.warehouse import marts

    for name, schema in marts.TABLES.items():
        conn.exec_driver_sql(f"CREATE TABLE {qualified('marts', name)} ({_columns_ddl(schema)})")


def m0005_core_other_entities(conn: Connection) -> None:
    """core tables of the other canonical entities (keluarga, peristiwa, izin, ...), generated
    from the model like core.penduduk; merged by natural key (newest updated_at wins)."""
    for ent in ENTITIES.values():
        if ent.name != PENDUDUK.name:
            _create_entity(conn, ent)


def m0006_schema_changes(conn: Connection) -> None:
    """ops.schema_changes: every column a delivery added or dropped compared with the last
    loaded delivery of the same (source, stream), and what the pipeline did about it."""
    conn.exec_driver_sql(
        """CREATE TABLE ops.schema_changes (
            load_id VARCHAR, pipeline VARCHAR, source VARCHAR, stream VARCHAR,
            change VARCHAR, column_name VARCHAR, mapped BOOLEAN, action VARCHAR,
            previous_load_id VARCHAR, schema_hash_before VARCHAR, schema_hash_after VARCHAR,
            detected_at TIMESTAMP WITH TIME ZONE,
            PRIMARY KEY (load_id, change, column_name))"""
    )


def m0007_exchange(conn: Connection) -> None:
    """Exchange outbox, append-only evidence log and disclosure index (simpul.exchange)."""
    from simpul.exchange.store import create_exchange_tables

    create_exchange_tables(conn)


def m0008_ops_audit(conn: Connection) -> None:
    """Operator audit trail (release, backfill, replay), mirrored from the JSONL file."""
    from simpul.orchestration.audit import AUDIT_DDL

    conn.exec_driver_sql(
        AUDIT_DDL.replace("CREATE TABLE ops.audit", "CREATE TABLE IF NOT EXISTS ops.audit")
    )


def m0009_marts_rekonsiliasi(conn: Connection) -> None:
    """Cross-agency reconciliation findings (simpul.warehouse.reconciliation)."""
    from simpul.warehouse.reconciliation import SCHEMA

    conn.exec_driver_sql(f"CREATE TABLE marts.rekonsiliasi ({_columns_ddl(SCHEMA)})")


ACTIVITY_VIEWS = {
    # births, deaths and moves per desa and month (kode_peristiwa per OpenSID's list)
    "peristiwa_bulanan": """
        SELECT CAST(date_trunc('month', tanggal_peristiwa) AS DATE) AS bulan, kode_desa,
               kode_peristiwa,
               CASE kode_peristiwa WHEN '1' THEN 'lahir' WHEN '2' THEN 'mati'
                    WHEN '3' THEN 'pindah keluar' WHEN '4' THEN 'hilang'
                    WHEN '5' THEN 'pindah masuk' WHEN '6' THEN 'pergi' END AS peristiwa,
               COUNT(*) AS jumlah
        FROM core.peristiwa WHERE tanggal_peristiwa IS NOT NULL
        GROUP BY 1, 2, 3""",
    # business permits by KBLI and risk level
    "izin_kbli": """
        SELECT kbli, judul_kbli, tingkat_risiko, status, kode_desa, COUNT(*) AS jumlah
        FROM core.izin GROUP BY 1, 2, 3, 4, 5""",
    # PATEN turnaround per service: the figure the camat promises to cut from days to hours
    "paten_waktu_layanan": """
        SELECT jenis_layanan, COUNT(*) AS selesai,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY hari) AS median_hari,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY hari) AS p90_hari
        FROM (SELECT jenis_layanan,
                     EXTRACT(EPOCH FROM (tanggal_selesai - tanggal_diterima)) / 86400.0 AS hari
              FROM core.permohonan_layanan
              WHERE tanggal_selesai IS NOT NULL AND status IN ('terbit', 'ditolak')) t
        GROUP BY 1""",
}


def m0010_marts_activity(conn: Connection) -> None:
    """Views over core for events, permits and PATEN turnaround (always current)."""
    for name, sql in ACTIVITY_VIEWS.items():
        conn.exec_driver_sql(f"CREATE VIEW {qualified('marts', name)} AS {sql}")


def m0011_roles(conn: Connection) -> None:
    """PostgreSQL roles: loader (the migrating role, owner), simpul_operator (reads every
    layer), simpul_analyst (USAGE/SELECT on marts and ref only), simpul_writer. Without the
    CREATEROLE privilege the roles are left to an administrator (``ensure_roles``), logged."""
    if conn.dialect.name != "postgresql":
        return
    import logging

    from simpul.warehouse.roles import grant_roles

    try:
        with conn.begin_nested():
            grant_roles(conn)
    except sa.exc.ProgrammingError as exc:
        logging.getLogger(__name__).warning(
            "roles not created (the loader lacks CREATEROLE): %s", type(exc.orig).__name__
        )


APPEND_ONLY_TABLES = ("exchange_log", "audit")


def m0012_append_only(conn: Connection) -> None:
    """ops.exchange_log and ops.audit reject UPDATE, DELETE and TRUNCATE for every role
    (PostgreSQL triggers). Maintenance path: the owner, in a recorded maintenance window,
    ``ALTER TABLE ... DISABLE TRIGGER simpul_append_only`` (see SECURITY.md)."""
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql(
        """CREATE OR REPLACE FUNCTION ops.simpul_append_only() RETURNS trigger
           LANGUAGE plpgsql AS $$ BEGIN
             RAISE EXCEPTION USING MESSAGE = TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME
               || ' is append-only (' || TG_OP || ') / hanya boleh ditambah';
           END $$"""
    )
    for table in APPEND_ONLY_TABLES:
        exists = conn.execute(
            sa.text("select to_regclass(:t) is not null"), {"t": f"ops.{table}"}
        ).scalar()
        if not exists:
            continue
        # per statement: refused even when no row matches, and TRUNCATE has no rows at all
        conn.exec_driver_sql(
            f"CREATE TRIGGER simpul_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            f"ON ops.{table} FOR EACH STATEMENT EXECUTE FUNCTION ops.simpul_append_only()"
        )


def m0015_ops_files(conn: Connection) -> None:
    """The file ledger: every file a drop offered, by path, size and SHA-256, with what became
    of it (loaded, held, skipped as already loaded, rejected with a reason, waiting)."""
    ts = "TIMESTAMP WITH TIME ZONE"
    conn.exec_driver_sql(
        f"""CREATE TABLE ops.files (
            load_id VARCHAR NOT NULL, source VARCHAR, stream VARCHAR, path VARCHAR NOT NULL,
            name VARCHAR, size BIGINT, mtime VARCHAR, sha256 VARCHAR, status VARCHAR NOT NULL,
            rows BIGINT, previous_load_id VARCHAR, reason_en VARCHAR, reason_id VARCHAR,
            recorded_at {ts}, PRIMARY KEY (load_id, path))"""
    )


def m0016_loads_rows_held(conn: Connection) -> None:
    """``received = loaded + quarantined + duplicate + held``: held rows get their own count."""
    conn.exec_driver_sql("ALTER TABLE ops.loads ADD COLUMN rows_held BIGINT DEFAULT 0")
    conn.exec_driver_sql(
        "UPDATE ops.loads SET rows_held = rows_received - rows_duplicate WHERE status = 'held'"
    )


def m0019_exchange_content(conn: Connection) -> None:
    """Exchange outbox: content hash (deliver once per change) and partition (per village)."""
    from simpul.exchange.store import add_content_columns

    add_content_columns(conn)


def m0023_ops_health(conn: Connection) -> None:
    """ops.task_runs (every try of every task, written by the DAG callbacks, so status works
    without Airflow's database) and ops.alerts (alert de-duplication and open alerts)."""
    ts = "TIMESTAMP WITH TIME ZONE"  # frozen DDL: a migration never imports live code
    conn.exec_driver_sql(
        f"""CREATE TABLE IF NOT EXISTS ops.task_runs (
        dag_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL, task_id VARCHAR NOT NULL,
        try_number INTEGER NOT NULL, pipeline VARCHAR, state VARCHAR NOT NULL,
        max_tries INTEGER, error_id VARCHAR, error_en VARCHAR, recorded_at {ts} NOT NULL,
        PRIMARY KEY (dag_id, run_id, task_id, try_number))"""
    )
    conn.exec_driver_sql(
        f"""CREATE TABLE IF NOT EXISTS ops.alerts (
        alert_key VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, pipeline VARCHAR,
        dag_id VARCHAR, title VARCHAR, message_id VARCHAR, message_en VARCHAR,
        first_at {ts}, last_at {ts}, last_sent_at {ts}, times INTEGER NOT NULL,
        state VARCHAR NOT NULL, resolved_at {ts})"""
    )


def m0027_loads_transfer(conn: Connection) -> None:
    """Network cost per load: body bytes received and how many runs the pull took (a pull
    resumed after an outage spans several), so a metered line's use shows in status."""
    conn.exec_driver_sql("ALTER TABLE ops.loads ADD COLUMN bytes_transferred BIGINT")
    conn.exec_driver_sql("ALTER TABLE ops.loads ADD COLUMN pull_runs INTEGER")


def m0031_core_padan(conn: Connection) -> None:
    """Padan NIK: per agency person record, the best SIAK candidate and the decision."""
    ts = "TIMESTAMP WITH TIME ZONE"
    conn.exec_driver_sql(
        f"""CREATE TABLE core.padan (
            padan_id VARCHAR PRIMARY KEY, sumber VARCHAR NOT NULL, load_id VARCHAR,
            baris BIGINT, jumlah_baris BIGINT, nik_sumber VARCHAR, kode_desa VARCHAR,
            status_nik VARCHAR, nik_siak VARCHAR, probabilitas DOUBLE PRECISION,
            bobot DOUBLE PRECISION, penjelasan_id VARCHAR, penjelasan_en VARCHAR,
            keputusan VARCHAR NOT NULL, model_versi VARCHAR, ditinjau_oleh VARCHAR,
            ditinjau_pada {ts}, dibuat_pada {ts})"""
    )


def m0032_consumed_loads(conn: Connection) -> None:
    """Which loads a successful marts build (or padan run) included, so those DAGs run once per
    batch of loads and never skip a load no run has seen (simpul.orchestration.batches)."""
    conn.exec_driver_sql(
        """CREATE TABLE ops.consumed_loads (
            consumer VARCHAR NOT NULL, load_id VARCHAR NOT NULL, build_id VARCHAR NOT NULL,
            build_started_at TIMESTAMP WITH TIME ZONE, PRIMARY KEY (consumer, load_id))"""
    )


def m0013_analyst_schema(conn: Connection) -> None:
    """PostgreSQL: schema ``analyst`` (the marts after disclosure control, rebuilt by every
    marts build); simpul_analyst reads analyst and ref, no longer marts itself."""
    if conn.dialect.name != "postgresql":
        return
    import logging

    from simpul.warehouse.roles import grant_roles

    conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS analyst")
    try:
        with conn.begin_nested():
            grant_roles(conn)
    except sa.exc.ProgrammingError as exc:
        logging.getLogger(__name__).warning(
            "roles not granted (the loader lacks CREATEROLE): %s", type(exc.orig).__name__
        )


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "base", m0001_base),
    (2, "core_penduduk", m0002_core_penduduk),
    (3, "penduduk_history", m0003_penduduk_history),
    (4, "marts_penduduk", m0004_marts_penduduk),
    (5, "core_other_entities", m0005_core_other_entities),
    (6, "schema_changes", m0006_schema_changes),
    (7, "exchange", m0007_exchange),
    (8, "ops_audit", m0008_ops_audit),
    (9, "marts_rekonsiliasi", m0009_marts_rekonsiliasi),
    (10, "marts_activity", m0010_marts_activity),
    (11, "roles", m0011_roles),
    (12, "append_only", m0012_append_only),
    (13, "analyst_schema", m0013_analyst_schema),
    (15, "ops_files", m0015_ops_files),
    (16, "loads_rows_held", m0016_loads_rows_held),
    (19, "exchange_content", m0019_exchange_content),
    (23, "ops_health", m0023_ops_health),
    (27, "loads_transfer", m0027_loads_transfer),
    (31, "core_padan", m0031_core_padan),
    (32, "consumed_loads", m0032_consumed_loads),
]


def migrate(wh: Warehouse) -> list[int]:
    """Apply pending migrations; returns the versions applied now.

    On PostgreSQL a session advisory lock serialises concurrent callers (two Airflow workers
    opening the warehouse at once); DuckDB already allows one writer process only.
    """
    if wh.dialect != "postgresql":
        return _migrate(wh)
    with wh.engine.connect() as guard:
        guard.exec_driver_sql("SELECT pg_advisory_lock(hashtext('simpul_migrate'))")
        guard.commit()
        try:
            return _migrate(wh)
        finally:
            guard.exec_driver_sql("SELECT pg_advisory_unlock(hashtext('simpul_migrate'))")
            guard.commit()


def _migrate(wh: Warehouse) -> list[int]:
    applied_now: list[int] = []
    with wh.begin() as conn:
        for schema in SCHEMAS:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS ops.schema_migrations (version INTEGER PRIMARY KEY, "
            "name VARCHAR, applied_at TIMESTAMP WITH TIME ZONE)"
        )
        done = {r[0] for r in conn.execute(sa.text("select version from ops.schema_migrations"))}
    for version, name, fn in MIGRATIONS:
        if version in done:
            continue
        with wh.begin() as conn:
            fn(conn)
            conn.execute(
                sa.text("insert into ops.schema_migrations values (:v, :n, :t)"),
                {"v": version, "n": name, "t": datetime.now(UTC)},
            )
        applied_now.append(version)
    return applied_now
