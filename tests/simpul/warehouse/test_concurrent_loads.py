"""Two loads at once on a fresh PostgreSQL warehouse (province partitions on two Celery
workers): both find ``raw.<source>_<stream>`` missing, or both bring the same new column, or
both move the stream's cursor. The second must wait for the first, not fail with
``UniqueViolation`` on ``pg_type_typname_nsp_index`` (or ``DuplicateColumn``), and the cursor
never goes back (issue 18 item 6)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Connection

from simpul.landing import Manifest
from simpul.warehouse import open_warehouse
from simpul.warehouse.engine import Warehouse
from simpul.warehouse.ops.raw import ensure_raw_table
from simpul.warehouse.ops.records import advance_cursor, get_cursor

pytestmark = pytest.mark.postgres

Step = Callable[[Connection], None]


def _two_loads_at_once(wh: Warehouse, first: Step, second: Step) -> None:
    """``second`` runs while ``first`` has done its step but not committed (the rest of its
    load takes a while); re-raises what either raised."""
    first_done = threading.Event()
    errors: list[Exception] = []

    def run_first() -> None:
        try:
            with wh.begin() as conn:
                first(conn)
                first_done.set()
                conn.exec_driver_sql("SELECT pg_sleep(0.8)")  # the rest of its load
        except Exception as exc:  # noqa: BLE001 - re-raised by the test thread
            errors.append(exc)
        finally:
            first_done.set()

    def run_second() -> None:
        first_done.wait(10)
        try:
            with wh.begin() as conn:
                second(conn)
        except Exception as exc:  # noqa: BLE001 - re-raised by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (run_first, run_second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if errors:
        raise errors[0]


def _raw_columns(wh: Warehouse) -> set[str]:
    with wh.begin() as conn:
        return {
            r[0]
            for r in conn.exec_driver_sql(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = 'siak_penduduk'"
            )
        }


def _raw(wh: Warehouse, columns: list[str]) -> Step:
    return lambda conn: ensure_raw_table(conn, wh, "siak_penduduk", columns)


def test_two_loads_create_the_same_raw_table_at_once(pg_url: str) -> None:
    wh = open_warehouse(pg_url)
    try:
        _two_loads_at_once(wh, _raw(wh, ["NIK", "NAMA"]), _raw(wh, ["NIK", "NAMA", "AGAMA"]))
        assert {"NIK", "NAMA", "AGAMA", "_load_id", "_row", "_source"} <= _raw_columns(wh)
    finally:
        wh.dispose()


def test_two_loads_add_the_same_column_at_once(pg_url: str) -> None:
    wh = open_warehouse(pg_url)
    try:
        with wh.begin() as conn:
            ensure_raw_table(conn, wh, "siak_penduduk", ["NIK"])
        _two_loads_at_once(wh, _raw(wh, ["NIK", "BARU"]), _raw(wh, ["NIK", "BARU"]))
        assert {"NIK", "BARU"} <= _raw_columns(wh)
    finally:
        wh.dispose()


def _cursor(load_id: str, cursor_to: str) -> Step:
    m = Manifest(
        load_id=load_id,
        source="siak",
        stream="penduduk",
        extracted_at="2026-11-30T00:00:00+00:00",
        row_count=0,
        sha256="",
        schema_hash="",
        columns=[],
        cursor_from=None,
        cursor_to=cursor_to,
        file="",
    )
    return lambda conn: advance_cursor(conn, m, datetime.now(UTC))


def test_the_cursor_never_goes_back_when_two_partitions_commit_at_once(pg_url: str) -> None:
    """Partition 16.08 (newest change 10:00) commits after 16.09 (09:00) has read the cursor:
    the cursor stays at 10:00."""
    wh = open_warehouse(pg_url)
    try:
        newer, older = "2026-11-30T10:00:00Z", "2026-11-30T09:00:00Z"
        _two_loads_at_once(wh, _cursor("a", newer), _cursor("b", older))
        assert get_cursor(wh, "siak", "penduduk") == newer
    finally:
        wh.dispose()
