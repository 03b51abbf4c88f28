"""Upgrades that keep the data: a warehouse made by the released runner (before Alembic) is
stamped and upgraded in place on DuckDB and PostgreSQL; revisions hold frozen DDL only.

``data/released_schema.json`` is the DDL the old runner executed (captured once, per engine,
per version), so these tests build exactly what users' warehouses hold today.
"""

from __future__ import annotations

import ast
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from simpul.cli import main
from simpul.warehouse import migrations, open_warehouse
from simpul.warehouse.engine import Warehouse, WarehouseNotUpgradedError, auto_migrate
from tests.conftest import PG_ADMIN_URL
from tests.siak_rows import person
from tests.simpul.warehouse.helpers import load, stage

RELEASED = json.loads((Path(__file__).parent / "data" / "released_schema.json").read_text())
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


def _engine_key(wh: Warehouse) -> str:
    return "duckdb" if wh.dialect == "duckdb" else "postgresql"


def build_released(wh: Warehouse, upto: int) -> None:
    """The warehouse the old runner left at version ``upto`` (its DDL and its ledger)."""
    ddl = RELEASED[_engine_key(wh)]
    with wh.begin() as conn:
        for stmt in ddl["0"]:
            conn.exec_driver_sql(stmt)
        for version, name in RELEASED["versions"]:
            if version > upto:
                break
            for stmt in ddl.get(str(version), []):  # PostgreSQL only: 11, 12, 13
                conn.exec_driver_sql(stmt)
            conn.execute(
                sa.text("insert into ops.schema_migrations values (:v, :n, :t)"),
                {"v": version, "n": name, "t": T0},
            )


def load_data(wh: Warehouse, upto: int) -> None:
    """Rows in core, ops (incl. the append-only tables) and ref, as a running hub has them."""
    with wh.begin() as conn:
        conn.execute(
            sa.text(
                "insert into core.penduduk (nik, nama_lengkap, kode_desa, rt, updated_at, "
                "_load_id, _source, _extracted_at) values "
                "('1608014101900001', 'WARGA SATU', '16.08.01.2006', '001', :t, 'l1', 'siak', :t)"
            ),
            {"t": T0},
        )
        conn.execute(
            sa.text(
                "insert into ops.loads (load_id, pipeline, status, rows_received, rows_loaded, "
                "rows_quarantined, rows_duplicate, rows_warned) values "
                "('l1', 'siak_penduduk', 'loaded', 1, 1, 0, 0, 0), "
                "('l2', 'siak_penduduk', 'held', 10, 0, 0, 2, 0)"
            )
        )
        conn.exec_driver_sql(
            "insert into ref.wilayah values ('16.08.01.2006', 'desa', '16.08.01', 'DESA UJI')"
        )
        conn.execute(
            sa.text(
                "insert into ops.exchange_log (event_id, delivery_id, agreement, agency, "
                "dataset, status, logged_at) values ('e1', 'd1', 'a1', 'dinsos', 'penduduk', "
                "'queued', :t)"
            ),
            {"t": T0},
        )
        conn.execute(
            sa.text(
                "insert into ops.exchange_outbox (delivery_id, agreement, agency, dataset, "
                'channel, status, "rows", manifest_sha256, signature, path, attempts, '
                "created_at) values ('d1', 'a1', 'dinsos', 'penduduk', 'sftp', 'queued', 1, "
                "'m', 's', 'outbox/d1', 0, :t)"
            ),
            {"t": T0},
        )
        conn.execute(
            sa.text(
                "insert into ops.audit (audit_id, audited_at, operator, command, outcome) "
                "values ('x1', :t, 'nip.1987', 'release', 'ok')"
            ),
            {"t": T0},
        )


def schema_of(wh: Warehouse) -> dict[str, list]:
    """Columns (with type and nullability) and primary/unique keys of the warehouse layers."""
    layers = "('ref', 'raw', 'core', 'marts', 'ops', 'analyst')"
    cols = wh.query(
        "select table_schema, table_name, column_name, data_type, is_nullable, column_default "
        f"from information_schema.columns where table_schema in {layers} "
        "order by 1, 2, column_name"
    )
    keys = wh.query(
        "select tc.table_schema, tc.table_name, tc.constraint_type, kcu.column_name "
        "from information_schema.table_constraints tc join information_schema.key_column_usage "
        "kcu on kcu.constraint_name = tc.constraint_name and kcu.table_schema = tc.table_schema "
        "and kcu.table_name = tc.table_name "
        f"where tc.table_schema in {layers} and tc.constraint_type in ('PRIMARY KEY', 'UNIQUE') "
        "order by 1, 2, 3, 4"
    )
    return {"columns": cols, "keys": keys}


@pytest.fixture
def fresh_head(warehouse_url, tmp_path):
    """The schema a fresh warehouse gets from the revisions (a second, empty database)."""
    if warehouse_url.startswith("duckdb"):
        url, drop = f"duckdb:///{tmp_path / 'fresh.duckdb'}", None
    else:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"simpul_fresh_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url, drop = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, name
    wh = Warehouse(sa.create_engine(url))
    try:
        migrations.upgrade(wh)
        yield schema_of(wh)
    finally:
        wh.dispose()
        if drop:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
            admin.dispose()


@pytest.mark.parametrize("released", [31, 27, 12])
def test_released_warehouse_is_upgraded_in_place(released, warehouse_url, fresh_head, monkeypatch):
    wh = open_warehouse(check=False)
    build_released(wh, released)
    load_data(wh, released)
    assert migrations.current(wh) is None
    assert migrations.legacy_revision(wh) == f"{released:04d}"
    monkeypatch.setenv("SIMPUL_AUTO_MIGRATE", "0")
    with pytest.raises(WarehouseNotUpgradedError, match="simpul db upgrade") as refused:
        open_warehouse()
    assert f"revision {released:04d}" in str(refused.value)

    applied = migrations.upgrade(wh)

    expected = [f"{v:04d}" for v, _ in RELEASED["versions"] if v > released]
    last_released = max(v for v, _ in RELEASED["versions"])
    expected += sorted(r for r, _ in migrations.history() if int(r) > last_released)
    assert applied == expected
    assert migrations.current(wh) == migrations.head()
    # the schema is exactly a fresh warehouse's: columns, types, keys
    assert schema_of(wh) == fresh_head
    # the data survived (and revision 0016 counted the held rows of the old load)
    assert wh.query("select nik, nama_lengkap, rt from core.penduduk") == [
        {"nik": "1608014101900001", "nama_lengkap": "WARGA SATU", "rt": "001"}
    ]
    held = wh.query("select load_id, rows_held from ops.loads order by load_id")
    assert [r["load_id"] for r in held] == ["l1", "l2"]
    if released < 16:
        assert held[1]["rows_held"] == 8
    assert wh.scalar("select nama from ref.wilayah where kode = '16.08.01.2006'") == "DESA UJI"
    assert wh.scalar("select count(*) from ops.exchange_log") == 1
    assert wh.scalar("select status from ops.exchange_outbox") == "queued"
    assert wh.scalar("select operator from ops.audit") == "nip.1987"
    assert wh.query("select version from ops.schema_migrations order by version") == [
        {"version": v} for v, _ in RELEASED["versions"]
    ] + [{"version": int(r)} for r, _ in migrations.history() if int(r) > last_released]
    # primary keys still hold
    with pytest.raises(sa.exc.DBAPIError), wh.begin() as conn:
        conn.exec_driver_sql(
            "insert into core.penduduk (nik, _load_id) values ('1608014101900001', 'dup')"
        )
    if wh.dialect == "postgresql":
        _append_only_and_roles_hold(wh)
    # the upgraded warehouse opens without upgrading and takes a real load
    wh.dispose()
    assert open_warehouse().scalar("select 1") == 1  # at head: no refusal
    monkeypatch.setenv("SIMPUL_AUTO_MIGRATE", "1")  # reference tables checked at open
    wh = open_warehouse()
    assert migrations.upgrade(wh) == []
    result = load(stage([person(2), person(3)]))
    assert result["rows_loaded"] == 2
    assert wh.scalar("select count(*) from core.penduduk") == 3
    assert wh.scalar("select count(*) from core.penduduk_history") >= 2
    wh.dispose()


def _append_only_and_roles_hold(wh: Warehouse) -> None:
    for sql in (
        "update ops.exchange_log set status = 'x'",
        "delete from ops.audit",
        "truncate ops.audit",
        "truncate ops.exchange_log",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), wh.begin() as conn:
            conn.exec_driver_sql(sql)
    can = wh.query(
        "select has_table_privilege('simpul_analyst', 'core.penduduk', 'SELECT') as core, "
        "has_schema_privilege('simpul_analyst', 'analyst', 'USAGE') as analyst, "
        "has_table_privilege('simpul_operator', 'ops.loads', 'SELECT') as operator"
    )[0]
    assert can == {"core": False, "analyst": True, "operator": True}


def test_cli_upgrades_an_old_warehouse_and_reports(warehouse_url, monkeypatch, capsys):
    wh = open_warehouse(check=False)
    build_released(wh, 27)
    load_data(wh, 27)
    wh.dispose()
    monkeypatch.setenv("SIMPUL_AUTO_MIGRATE", "0")
    assert main(["db", "current"]) == 1
    assert "0027" in capsys.readouterr().out
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "simpul db upgrade" in err and "Traceback" not in err
    assert main(["db", "upgrade", "--to", "27"]) == 0  # stamps only
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert "0027 -> 0031" in out or f"0027 -> {migrations.head()}" in out
    assert main(["db", "current"]) == 0
    assert main(["db", "upgrade", "--to", "0012"]) == 0  # past it already: nothing to do
    assert "already at revision" in capsys.readouterr().out
    assert main(["db", "upgrade", "--to", "9999"]) == 2
    assert "9999" in capsys.readouterr().err
    assert main(["db", "history"]) == 0
    assert "0031" in capsys.readouterr().out


def test_unknown_old_versions_are_refused(warehouse_url):
    wh = open_warehouse(check=False)
    build_released(wh, 13)
    with wh.begin() as conn:  # a version from a branch this release never had
        conn.exec_driver_sql("insert into ops.schema_migrations values (14, 'other', null)")
    with pytest.raises(migrations.SchemaError, match="14"):
        migrations.upgrade(wh)
    wh.dispose()


def test_auto_migrate_default_is_embedded_only(monkeypatch):
    monkeypatch.delenv("SIMPUL_AUTO_MIGRATE", raising=False)
    assert auto_migrate("duckdb:////srv/simpul/warehouse.duckdb")
    assert not auto_migrate("postgresql+psycopg://loader@db/simpul")
    monkeypatch.setenv("SIMPUL_AUTO_MIGRATE", "1")
    assert auto_migrate("postgresql+psycopg://loader@db/simpul")
    monkeypatch.setenv("SIMPUL_AUTO_MIGRATE", "0")
    assert not auto_migrate("duckdb:////srv/simpul/warehouse.duckdb")


ALLOWED_IMPORTS = {
    "__future__",
    "alembic",
    "sqlalchemy",
    "hashlib",
    "datetime",
    "typing",
    "logging",
}


@pytest.mark.parametrize(
    "path",
    sorted((migrations.SCRIPT_DIR / "versions").glob("*.py")) + [migrations.SCRIPT_DIR / "env.py"],
    ids=lambda p: p.name,
)
def test_a_revision_imports_no_live_code(path):
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            imported.add((node.module or "").split(".")[0])
    assert imported <= ALLOWED_IMPORTS, f"{path.name} imports {imported - ALLOWED_IMPORTS}"


def test_revisions_form_one_line_numbered_like_the_old_runner():
    revs = [r for r, _ in migrations.history()]
    assert revs[: len(migrations.LEGACY_VERSIONS)] == [
        f"{v:04d}" for v in migrations.LEGACY_VERSIONS
    ]
    assert [v for v, _ in RELEASED["versions"]] == list(migrations.LEGACY_VERSIONS)
    assert migrations.head() == revs[-1]


def test_open_checks_once_and_loads_reference_once_per_process(simpul_home):
    from simpul.warehouse import engine

    before = dict(engine.COUNTS)
    for _ in range(4):
        open_warehouse().dispose()
    done = {k: engine.COUNTS[k] - before[k] for k in before}
    assert done == {"head_checks": 4, "upgrades": 1, "reference_checks": 1}


def test_the_frozen_schema_still_holds_every_column_the_code_writes(tmp_path):
    """A column added to the model (or a marts/merge schema) without a revision fails here,
    instead of silently missing from every upgraded warehouse."""
    from simpul.model import ENTITIES, LINEAGE, PENDUDUK
    from simpul.warehouse import marts, merge
    from simpul.warehouse.reconciliation import SCHEMA as REKONSILIASI

    wh = Warehouse(sa.create_engine(f"duckdb:///{tmp_path / 'head.duckdb'}"))
    migrations.upgrade(wh)

    def columns(schema: str, table: str) -> set[str]:
        return {
            r["column_name"]
            for r in wh.query(
                "select column_name from information_schema.columns "
                "where table_schema = :s and table_name = :t",
                {"s": schema, "t": table},
            )
        }

    wanted = {("marts", "rekonsiliasi"): set(REKONSILIASI.names)}
    for ent in ENTITIES.values():
        wanted[("core", ent.name)] = set(ent.column_names) | {f.name for f in LINEAGE}
    wanted[("core", "penduduk_versions")] = set(merge.versions_schema(PENDUDUK).names)
    wanted[("core", "penduduk_history")] = set(merge.history_schema(PENDUDUK).names)
    wanted[("ops", "merge_conflicts")] = set(merge.CONFLICTS.names)
    for name, schema in marts.TABLES.items():
        wanted[("marts", name)] = set(schema.names)
    missing = {t: sorted(cols - columns(*t)) for t, cols in wanted.items() if cols - columns(*t)}
    wh.dispose()
    assert not missing, f"add a revision for {missing}"


def test_head_without_alembic_equals_alembics():
    """The head read from the revision files (no Alembic import at open) is Alembic's."""
    import subprocess
    import sys

    assert migrations._heads() == tuple(migrations.script().get_heads())
    code = (
        "import sys; from simpul.warehouse import migrations; migrations.head(); "
        "print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
