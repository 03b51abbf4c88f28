"""PostgreSQL roles: an analyst reads analyst (the protected marts) and ref, and is refused
raw, core and marts itself. Roles are
cluster-wide, so the tests accept roles left by earlier runs or other sessions."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from simpul.warehouse import open_warehouse
from simpul.warehouse.roles import ANALYST, OPERATOR, WRITER, agency_role, ensure_roles
from tests.siak_rows import person
from tests.simpul.warehouse.helpers import load, stage


def test_roles_are_a_no_op_on_duckdb(simpul_home):
    wh = open_warehouse()
    assert wh.dialect == "duckdb" and ensure_roles(wh, ["dinsos"]) == []
    wh.dispose()


@pytest.mark.postgres
def test_analyst_reads_marts_and_ref_but_not_core_or_raw(pg_url, simpul_home, monkeypatch):
    monkeypatch.setenv("SIMPUL_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "k" * 40)
    load(stage([person(1)]))
    wh = open_warehouse()
    from simpul.warehouse.marts import build_marts

    build_marts(wh)
    roles = ensure_roles(wh, ["dinsos"])
    expected = [ANALYST, OPERATOR, WRITER, "simpul_agency_dinsos"]
    assert ensure_roles(wh, ["dinsos"]) == roles == expected
    with wh.engine.connect() as conn:
        conn.exec_driver_sql(f"SET ROLE {ANALYST}")
        # one person is a class smaller than k: published marts, but not to analysts
        assert conn.exec_driver_sql("select count(*) from analyst.penduduk").scalar() == 0
        conn.exec_driver_sql("select count(*) from ref.wilayah").scalar()
        for table in (
            "core.penduduk",
            "core.penduduk_history",
            "raw.siak_penduduk",
            "ops.merge_conflicts",
            "marts.penduduk",
        ):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.exec_driver_sql(f"select count(*) from {table}")
            conn.rollback()
            conn.exec_driver_sql(f"SET ROLE {ANALYST}")
        conn.rollback()
    with wh.engine.connect() as conn:
        conn.exec_driver_sql(f"SET ROLE {agency_role('dinsos')}")
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.exec_driver_sql("select count(*) from marts.penduduk")
        conn.rollback()
    with wh.engine.connect() as conn:  # the writer can write every layer
        conn.exec_driver_sql(f"SET ROLE {WRITER}")
        conn.exec_driver_sql("update core.penduduk set rt = rt")
        conn.exec_driver_sql("delete from marts.penduduk")
        conn.rollback()
    wh.dispose()


def test_agency_codes_are_checked():
    assert agency_role("disdukcapil") == "simpul_agency_disdukcapil"
    with pytest.raises(ValueError):
        agency_role("x; drop role postgres")
