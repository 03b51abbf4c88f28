"""Generic SQL source against a real database (the session's PostgreSQL, and SQLite)."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from connectors.base.contract import ReadResult
from connectors.sql import SqlConnector, SqlStream


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def source_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agency.db'}"
    return request.getfixturevalue("pg_url")


def test_incremental_by_watermark_with_hostile_values(source_url):
    engine = sa.create_engine(source_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS izin_agency")
        conn.exec_driver_sql(
            "CREATE TABLE izin_agency (nomor VARCHAR(40) PRIMARY KEY, nama VARCHAR(200), "
            "diubah TIMESTAMP)"
        )
        table = sa.Table("izin_agency", sa.MetaData(), autoload_with=conn)
        hostile = "x'); DROP TABLE izin_agency; --"
        conn.execute(
            table.insert(),
            [
                {
                    "nomor": f"IZ-{i:03d}",
                    "diubah": datetime(2026, 10, i, 8, 0),
                    "nama": hostile if i == 2 else f"U{i}",
                }
                for i in range(1, 6)
            ],
        )
    connector = SqlConnector(
        source_url, [SqlStream("izin", "izin_agency", ("nomor",), "diubah")], batch_rows=2
    )
    first = ReadResult()
    batches = list(connector.read("izin", since=None, result=first))
    assert [b.num_rows for b in batches] == [2, 2, 1]
    assert first.cursor_max == "2026-10-05T08:00:00"
    rows = [r for b in batches for r in b.to_pylist()]
    assert rows[1]["nama"].startswith("x');")
    again = ReadResult()
    rows = [
        r
        for b in connector.read("izin", since="2026-10-04T08:00:00", result=again)
        for r in b.to_pylist()
    ]
    assert [r["nomor"] for r in rows] == ["IZ-004", "IZ-005"]  # inclusive boundary
    connector.close()
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM izin_agency").scalar() == 5
        conn.exec_driver_sql("DROP TABLE izin_agency")
    engine.dispose()
