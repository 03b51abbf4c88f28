"""PostgreSQL least privilege beyond tests/simpul/warehouse/test_roles.py: the analyst cannot
read any restricted table (quarantine, loads, raw, core), and an agency role reads nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from simpul.warehouse import open_warehouse
from simpul.warehouse.roles import ANALYST, agency_role, ensure_roles

pytestmark = pytest.mark.postgres


def _tables(conn, schemas: tuple[str, ...]) -> list[str]:
    rows = conn.execute(
        sa.text(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema = any(:s) order by 1"
        ),
        {"s": list(schemas)},
    )
    return [r[0] for r in rows]


def _denied(conn, role: str, table: str) -> bool:
    conn.exec_driver_sql(f'SET ROLE "{role}"')
    try:
        conn.exec_driver_sql(f"select 1 from {table} limit 1")
        return False
    except sa.exc.ProgrammingError as exc:
        assert "permission denied" in str(exc)
        return True
    finally:
        conn.rollback()


def test_analyst_and_agency_roles_are_least_privilege(pg_url, simpul_home, monkeypatch):
    monkeypatch.setenv("SIMPUL_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "k" * 40)
    from tests.siak_rows import person
    from tests.simpul.warehouse.helpers import load, stage

    load(stage([person(1), person(2, NIK="1")]))  # one valid row, one quarantined
    wh = open_warehouse()
    try:
        from simpul.warehouse.marts import build_marts

        build_marts(wh)
        ensure_roles(wh, ["dinsos", "disdukcapil"])
        with wh.engine.connect() as conn:
            restricted = _tables(conn, ("raw", "core", "ops", "marts"))
            readable = _tables(conn, ("analyst", "ref"))
            assert "analyst.penduduk" in readable and "marts.penduduk" in restricted
            assert "ops.quarantine" in restricted and "core.penduduk" in restricted
            assert {t for t in restricted if _denied(conn, ANALYST, t)} == set(restricted)
            assert not any(_denied(conn, ANALYST, t) for t in readable)
            for agency in ("dinsos", "disdukcapil"):
                role = agency_role(agency)
                every = restricted + readable
                assert {t for t in every if _denied(conn, role, t)} == set(every)
            # nobody but the writer may change anything, not even the marts the analyst reads
            conn.exec_driver_sql(f'SET ROLE "{ANALYST}"')
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.exec_driver_sql("delete from analyst.penduduk")
            conn.rollback()
            conn.exec_driver_sql(f'SET ROLE "{ANALYST}"')
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.exec_driver_sql("create table marts.x (a int)")
            conn.rollback()
    finally:
        wh.dispose()
