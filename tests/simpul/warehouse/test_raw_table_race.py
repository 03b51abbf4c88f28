"""Two loads of a fresh PostgreSQL warehouse (province partitions on two Celery workers) both
find ``raw.<source>_<stream>`` missing, or both bring the same new column: the second must wait
for the first, not fail with ``UniqueViolation`` on ``pg_type_typname_nsp_index`` (or
``DuplicateColumn``) (issue 18 item 6)."""

from __future__ import annotations

import threading

import pytest

from simpul.warehouse import open_warehouse
from simpul.warehouse.engine import Warehouse
from simpul.warehouse.ops.raw import ensure_raw_table

pytestmark = pytest.mark.postgres


def _two_loads_at_once(wh: Warehouse, first_cols: list[str], second_cols: list[str]) -> set[str]:
    """The second load looks while the first has created/altered the table but not committed;
    returns the raw table's columns afterwards; re-raises what either load raised."""
    first_done = threading.Event()
    errors: list[Exception] = []

    def first() -> None:
        try:
            with wh.begin() as conn:
                ensure_raw_table(conn, wh, "siak_penduduk", first_cols)
                first_done.set()
                conn.exec_driver_sql("SELECT pg_sleep(0.8)")  # the rest of its load
        except Exception as exc:  # noqa: BLE001 - re-raised by the test thread
            errors.append(exc)
        finally:
            first_done.set()

    def second() -> None:
        first_done.wait(10)
        try:
            with wh.begin() as conn:
                ensure_raw_table(conn, wh, "siak_penduduk", second_cols)
        except Exception as exc:  # noqa: BLE001 - re-raised by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if errors:
        raise errors[0]
    with wh.begin() as conn:
        return {
            r[0]
            for r in conn.exec_driver_sql(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = 'siak_penduduk'"
            )
        }


def test_two_loads_create_the_same_raw_table_at_once(pg_url: str) -> None:
    wh = open_warehouse(pg_url)
    try:
        cols = _two_loads_at_once(wh, ["NIK", "NAMA_LGKP"], ["NIK", "NAMA_LGKP", "AGAMA"])
        assert {"NIK", "NAMA_LGKP", "AGAMA", "_load_id", "_row", "_source"} <= cols
    finally:
        wh.dispose()


def test_two_loads_add_the_same_column_at_once(pg_url: str) -> None:
    wh = open_warehouse(pg_url)
    try:
        with wh.begin() as conn:
            ensure_raw_table(conn, wh, "siak_penduduk", ["NIK"])
        cols = _two_loads_at_once(wh, ["NIK", "BARU"], ["NIK", "BARU"])
        assert {"NIK", "BARU"} <= cols
    finally:
        wh.dispose()
