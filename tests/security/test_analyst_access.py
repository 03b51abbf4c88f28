"""Analysts never touch the loading warehouse: every attack from issue 13, on both engines.

DuckDB: ``simpul sql`` reads the published analyst database (marts, ref) read-only with external
access, extensions and configuration changes off. PostgreSQL: ``simpul sql`` connects as its
own analyst login (a role in ``simpul_analyst``) and refuses a role that could see more.
Each attack is refused and leaves no trace: no file written, no row changed, no NIK returned.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from simpul.cli import main
from simpul.warehouse import open_warehouse
from simpul.warehouse.analyst import _locked_duckdb, analyst_db_path
from simpul.warehouse.marts import build_marts
from simpul.warehouse.sql_guard import SqlRefused, check_statement
from tests.siak_rows import person
from tests.simpul.warehouse.helpers import load, stage

KEY = "analyst-test-pseudonym-key-0123456789abcdef"
# same sex and birth year: one class of the declared quasi-identifiers, so disclosure control
# (k = 5) publishes them all (tests/security/test_disclosure.py covers the suppression)
IDS = [2 + 40 * j for j in range(10)]
NIK = person(IDS[0])["NIK"]
SECRET = "SIGNING-KEY-MATERIAL-0123456789"


def _login_url(url: str, user: str) -> str:
    u = sa.engine.make_url(url)
    return u.set(username=user, password=None).render_as_string(hide_password=False)


@pytest.fixture
def hub(warehouse_url: str, simpul_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """A loaded warehouse with marts, a signing key file, and the analyst/operator logins."""
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("SIMPUL_ANALYST_URL", raising=False)
    monkeypatch.delenv("SIMPUL_OPERATOR_URL", raising=False)
    load(stage([person(i) for i in IDS[:7]]))
    wh = open_warehouse()
    build_marts(wh)
    keyfile = simpul_home / "keys" / "exchange_ed25519.key"
    keyfile.parent.mkdir(exist_ok=True)
    keyfile.write_text(SECRET)
    logins: list[str] = []
    info = {"url": warehouse_url, "dialect": wh.dialect, "key": keyfile, "home": simpul_home}
    if wh.dialect == "postgresql":
        suffix = uuid.uuid4().hex[:8]
        with wh.begin() as conn:
            for role, parent in (("analyst", "simpul_analyst"), ("operator", "simpul_operator")):
                login = f"t_{role}_{suffix}"
                conn.exec_driver_sql(f'CREATE ROLE "{login}" LOGIN IN ROLE {parent}')
                logins.append(login)
                info[role] = _login_url(warehouse_url, login)
        monkeypatch.setenv("SIMPUL_ANALYST_URL", info["analyst"])
        monkeypatch.setenv("SIMPUL_OPERATOR_URL", info["operator"])
    wh.dispose()  # DuckDB: the CLI opens the file itself (one process, one configuration)
    try:
        yield info
    finally:
        if logins:
            wh = open_warehouse()
            with wh.begin() as conn:
                for login in logins:
                    conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{login}"')
            wh.dispose()


def _sql(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["sql", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def _state(hub: dict) -> dict[str, int]:
    wh = open_warehouse()
    try:
        return {
            t: wh.scalar(f"select count(*) from {t}")
            for t in ("core.penduduk", "marts.penduduk", "ops.loads", "ops.quarantine")
        }
    finally:
        wh.dispose()


def _mart(hub: dict) -> str:
    """Where analysts read marts.penduduk: the analyst database's marts (DuckDB), or the
    schema analyst (PostgreSQL, where marts itself is out of their reach)."""
    return "marts.penduduk" if hub["dialect"] == "duckdb" else "analyst.penduduk"


def test_analyst_reads_marts_and_nothing_else(hub, capsys):
    code, out = _sql(capsys, f"select count(*) as n from {_mart(hub)}")
    assert code == 0 and "7" in out
    code, out = _sql(capsys, "select nik from core.penduduk")
    assert code != 0 and NIK not in out
    if hub["dialect"] == "postgresql":  # unprotected marts: not for analysts
        code, out = _sql(capsys, "select count(*) from marts.penduduk")
        assert code != 0
    code, out = _sql(capsys, f"select * from {_mart(hub)}", "--json")
    assert code == 0 and NIK not in out and len(json.loads(out)) == 7


ATTACKS = [
    "select * from read_csv('/etc/passwd')",
    "select * from '/etc/passwd'",
    "from '{key}'",
    "select pg_read_file('/etc/passwd')",
    "select * from read_text('{key}')",
    "select pg_read_file('{key}')",
    "select * from read_blob('{key}')",
    "copy (select 1) to '{out}'",
    "copy (select 1) to program 'touch {out}'",
    "copy marts.penduduk to '{out}'",
    "attach '{wh}' as w",
    "install httpfs",
    "load httpfs",
    "drop table marts.penduduk",
    "delete from marts.penduduk",
    "delete from marts.penduduk; commit",
    "update marts.penduduk set kode_desa = 'x'",
    "update marts.penduduk set kode_desa = 'x'; commit;",
    "truncate marts.penduduk",
    "truncate ops.exchange_log; commit",
    "delete from ops.quarantine; commit",
    "select 1; select 2",
    "select 1; drop table marts.penduduk",
    "select 1 /* hide */ ; delete from marts.penduduk",
    "select 1 -- comment\n; delete from marts.penduduk",
    "/* a comment first */ delete from marts.penduduk",
    "set role postgres",
    "set role simpul_writer; select 1",
    "reset role",
    "set enable_external_access = true",
    "with x as (delete from marts.penduduk returning *) select * from x",
    "select * into marts.copy from marts.penduduk",
    "explain analyze delete from marts.penduduk",
    "select * from query('delete from marts.penduduk')",
    "select * from glob('/etc/*')",
    "pragma database_list",
    "call pragma_version()",
    "checkpoint",
    "export database '{out}'",
    "select set_config('role', 'postgres', false)",
    "select lo_import('/etc/passwd')",
    "select * from dblink('dbname=postgres', 'select 1') as t(a int)",
]


def test_every_attack_is_refused(hub, capsys, tmp_path):
    """One warehouse, every attack in turn (each must leave the warehouse as it was)."""
    out_file = tmp_path / "stolen.csv"
    wh_path = hub["url"].removeprefix("duckdb:///") if hub["dialect"] == "duckdb" else "x"
    before = _state(hub)
    for attack in ATTACKS:
        sql = attack.format(key=hub["key"], out=out_file, wh=wh_path)
        code, out = _sql(capsys, sql)
        assert code != 0, (attack, out)
        assert "ditolak" in out or "error" in out, (attack, out)
        assert len(out.strip().splitlines()) == 1, (attack, out)  # one line, no trace
        assert not out_file.exists(), attack
        assert SECRET not in out and "root:" not in out and NIK not in out, attack
    assert _state(hub) == before


def test_refusal_is_bilingual_and_says_what_is_allowed(hub, capsys):
    code, out = _sql(capsys, "delete from marts.penduduk")
    assert code == 3
    assert "ditolak" in out and "refused" in out and "SELECT" in out


def test_classifier_allows_read_statements():
    for sql in (
        "select 1",
        "SELECT kode_desa, count(*) FROM marts.penduduk GROUP BY 1;",
        "with a as (select 1 as x) select * from a",
        "describe marts.penduduk",
        "show tables",
        "summarize marts.penduduk",
        "explain select 1",
        "from marts.penduduk limit 3",
        "select 'delete; drop' as text_not_code",
        'select "update" from (select 1 as "update") t',
        "select case when 1 = 1 then 'a' else 'b' end",
        "select $$; delete from x$$ as dollar_text",
    ):
        assert check_statement(sql, "duckdb")


@pytest.mark.parametrize(
    "sql",
    ["", ";", "select 'unterminated", "select 1 /* open", "select $$ open", "grant all on x to y"],
)
def test_classifier_refuses_odd_text(sql):
    with pytest.raises(SqlRefused):
        check_statement(sql, "postgresql")


def test_duckdb_engine_guard_holds_even_past_the_classifier(hub):
    """Defence in depth: the connection itself cannot read files, write, or attach."""
    if hub["dialect"] != "duckdb":
        pytest.skip("DuckDB connection settings")
    con = _locked_duckdb(analyst_db_path())
    try:
        for sql in (
            f"select * from read_text('{hub['key']}')",
            "copy (select 1) to '/tmp/simpul-should-not-exist.csv'",
            f"attach '{hub['url'].removeprefix('duckdb:///')}' as w",
            "install httpfs",
            "load httpfs",
            "set enable_external_access = true",
            "delete from marts.penduduk",
            "create table marts.x (a int)",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(sql)
        schemas = con.execute("select table_schema from information_schema.tables").fetchall()
        assert {r[0] for r in schemas} <= {"marts", "ref"}
    finally:
        con.close()
    assert not Path("/tmp/simpul-should-not-exist.csv").exists()


def test_analyst_database_holds_no_nik_and_never_blocks_a_load(hub):
    if hub["dialect"] != "duckdb":
        pytest.skip("the analyst database is DuckDB's")
    path = analyst_db_path()
    assert NIK.encode() not in path.read_bytes()
    assert path.stat().st_mode & 0o077 == 0
    con = _locked_duckdb(path)
    try:  # disclosure control: age band and desa, never birth year or dusun
        cols = {r[0] for r in con.execute("describe marts.penduduk").fetchall()}
    finally:
        con.close()
    assert "kelompok_umur" in cols and not {"tahun_lahir", "dusun"} & cols
    reader = _locked_duckdb(path)  # an analyst keeps a connection open...
    try:
        load(stage([person(i) for i in IDS[7:]]))  # ...a load and a rebuild still run
        wh = open_warehouse()
        try:
            build_marts(wh)
        finally:
            wh.dispose()
        assert reader.execute("select count(*) from marts.penduduk").fetchone()[0] == 7
    finally:
        reader.close()
    fresh = _locked_duckdb(path)
    try:
        assert fresh.execute("select count(*) from marts.penduduk").fetchone()[0] == 10
    finally:
        fresh.close()


def test_out_file_is_written_by_the_cli_and_neutralised(hub, capsys, tmp_path):
    target = tmp_path / "hasil.csv"
    code, _ = _sql(capsys, "select '=HYPERLINK(1)' as rumus, 2 as n", "--out", str(target))
    assert code == 0
    text = target.read_text()
    assert "'=HYPERLINK(1)" in text and target.stat().st_mode & 0o077 == 0
    for ext in ("parquet", "json"):
        code, _ = _sql(
            capsys,
            f"select kode_desa from {_mart(hub)}",
            "--out",
            str(target.with_suffix(f".{ext}")),
        )
        assert code == 0 and target.with_suffix(f".{ext}").stat().st_size > 0
    code, out = _sql(capsys, "select 1", "--out", str(tmp_path / "x.sh"))
    assert code == 3


def test_operator_reads_core_and_is_audited(hub, capsys):
    code, out = _sql(capsys, "--operator", "budi.s", "select nik from core.penduduk order by 1")
    assert code == 0 and NIK in out, out
    entry = json.loads((hub["home"] / "audit" / "operator.jsonl").read_text().splitlines()[-1])
    assert entry["operator"] == "budi.s" and entry["command"] == "sql"
    assert entry["args"]["rows"] == 7 and len(entry["args"]["statement_sha256"]) == 64
    assert NIK not in json.dumps(entry)
    before = _state(hub)
    code, out = _sql(capsys, "--operator", "budi.s", "delete from core.penduduk; commit")
    assert code == 3 and _state(hub) == before


@pytest.mark.postgres
def test_pg_analyst_url_with_too_much_power_is_refused(hub, capsys, monkeypatch):
    if hub["dialect"] != "postgresql":
        pytest.skip("PostgreSQL roles")
    monkeypatch.setenv("SIMPUL_ANALYST_URL", hub["url"])  # the hub's own (superuser) account
    code, out = _sql(capsys, "select 1")
    assert code == 3 and "superuser" in out
    wh = open_warehouse()
    login = f"t_wide_{uuid.uuid4().hex[:8]}"
    try:
        with wh.begin() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{login}" LOGIN IN ROLE simpul_analyst')
            conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA core TO "{login}"')
        monkeypatch.setenv("SIMPUL_ANALYST_URL", _login_url(hub["url"], login))
        code, out = _sql(capsys, "select 1")
        assert code == 3 and "core" in out
        with wh.begin() as conn:
            conn.exec_driver_sql(f'REVOKE USAGE ON SCHEMA core FROM "{login}"')
            conn.exec_driver_sql(f'ALTER SCHEMA marts OWNER TO "{login}"')
        code, out = _sql(capsys, "select 1")
        assert code == 3 and "owns" in out
    finally:
        with wh.begin() as conn:
            conn.exec_driver_sql("ALTER SCHEMA marts OWNER TO current_user")
            conn.exec_driver_sql(f'REVOKE ALL ON SCHEMA core FROM "{login}"')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{login}"')
        wh.dispose()


@pytest.mark.postgres
def test_pg_append_only_tables_refuse_update_delete_truncate_for_the_owner(hub):
    if hub["dialect"] != "postgresql":
        pytest.skip("PostgreSQL triggers")
    from simpul.orchestration import audit

    wh = open_warehouse()
    try:
        audit.record("test", outcome="ok", wh=wh)
        for sql in (
            "TRUNCATE ops.exchange_log",
            "TRUNCATE ops.audit",
            "DELETE FROM ops.audit",
            "UPDATE ops.audit SET outcome = 'x'",
            "DELETE FROM ops.exchange_log",
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                with wh.begin() as conn:  # the owner, here even a superuser
                    conn.exec_driver_sql(sql)
        assert wh.scalar("select count(*) from ops.audit") == 1
    finally:
        wh.dispose()


@pytest.mark.postgres
def test_pg_roles_exist_after_migration_alone(hub):
    """A fresh database has the grants: the analyst role is no longer a function nobody calls."""
    if hub["dialect"] != "postgresql":
        pytest.skip("PostgreSQL roles")
    wh = open_warehouse()
    try:
        rows = wh.query(
            "select has_schema_privilege('simpul_analyst', 'analyst', 'USAGE') as analyst, "
            "has_schema_privilege('simpul_analyst', 'marts', 'USAGE') as marts, "
            "has_schema_privilege('simpul_analyst', 'core', 'USAGE') as core, "
            "has_table_privilege('simpul_analyst', 'analyst.penduduk', 'SELECT') as sel, "
            "has_table_privilege('simpul_operator', 'core.penduduk', 'SELECT') as op"
        )
        assert rows == [{"analyst": True, "marts": False, "core": False, "sel": True, "op": True}]
    finally:
        wh.dispose()
