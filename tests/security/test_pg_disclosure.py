"""Disclosure control for PostgreSQL analysts: what the simpul_analyst role can read is the
marts after disclosure control (schema ``analyst``): the share of records in classes smaller
than k is 0 for every person-level table it can read, and marts itself is out of its reach."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

from simpul.warehouse import open_warehouse
from simpul.warehouse.disclosure import QUASI_IDENTIFIERS, K, small_class_share
from simpul.warehouse.marts import build_marts
from tests.siak_rows import person
from tests.simpul.warehouse.helpers import load, stage

KEY = "pg-disclosure-test-pseudonym-key-0123456789"
# a mix: a large class (same sex and birth year) and many people alone in their class
IDS = [2 + 40 * j for j in range(8)] + list(range(3, 40, 3))


@pytest.fixture
def pg_hub(pg_url, simpul_home, monkeypatch):
    monkeypatch.setenv("SIMPUL_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", KEY)
    load(stage([person(i) for i in IDS]))
    wh = open_warehouse()
    build_marts(wh)
    login = f"t_analyst_{uuid.uuid4().hex[:8]}"
    with wh.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{login}" LOGIN IN ROLE simpul_analyst')
    url = sa.engine.make_url(pg_url).set(username=login, password=None)
    analyst = sa.create_engine(url.set(drivername="postgresql+psycopg"))
    try:
        yield wh, analyst
    finally:
        analyst.dispose()
        with wh.begin() as conn:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{login}"')
        wh.dispose()


@pytest.mark.postgres
def test_what_the_pg_analyst_reads_has_no_class_smaller_than_k(pg_hub):
    wh, analyst = pg_hub
    with analyst.connect() as conn:
        readable = {
            (s, t)
            for s, t in conn.execute(
                # by oid: a name-based has_table_privilege('ops.x') raises "permission denied
                # for schema ops" whenever the planner evaluates it before the view's own filter
                sa.text(
                    "select n.nspname, c.relname from pg_class c "
                    "join pg_namespace n on n.oid = c.relnamespace "
                    "where c.relkind in ('r', 'v', 'm', 'p', 'f') "
                    "and n.nspname not in ('pg_catalog', 'information_schema') "
                    "and n.nspname not like 'pg_toast%' "
                    "and has_schema_privilege(n.oid, 'USAGE') "
                    "and has_table_privilege(c.oid, 'SELECT')"
                )
            )
        }
        assert {s for s, _ in readable} <= {"analyst", "ref"}, readable
        assert ("analyst", "penduduk") in readable
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.execute(sa.text("select count(*) from marts.penduduk"))
        conn.rollback()
        measured = {}
        for schema, table in sorted(readable):
            if table not in QUASI_IDENTIFIERS:
                continue
            df = pd.read_sql(sa.text(f'select * from "{schema}"."{table}"'), conn)
            qi = [c for c in QUASI_IDENTIFIERS[table] if c in df.columns]
            measured[f"{schema}.{table}"] = (small_class_share(df, qi, K), len(df))
    print(measured)
    assert measured and all(share == 0.0 for share, _ in measured.values()), measured
    assert measured["analyst.penduduk"][1] > 0  # the large class is published
    # the control: marts as built does have records in classes smaller than k
    with wh.engine.connect() as conn:
        raw = pd.read_sql(sa.text("select * from marts.penduduk"), conn)
    qi = [c for c in QUASI_IDENTIFIERS["penduduk"] if c in raw.columns]
    assert small_class_share(raw, qi, K) > 0


@pytest.mark.postgres
def test_a_rebuild_replaces_the_analyst_tables(pg_hub):
    wh, analyst = pg_hub
    before = wh.scalar("select count(*) from analyst.penduduk")
    build_marts(wh)
    assert wh.scalar("select count(*) from analyst.penduduk") == before
    assert wh.scalar("select has_schema_privilege('simpul_analyst', 'marts', 'USAGE')") is False
