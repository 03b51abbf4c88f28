"""One record of what the marts include (``ops.consumed_loads``, consumer ``marts``): revision
0033 moves the incremental marts' former ``marts_rows`` rows there, keeping the next build
incremental (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from simpul.warehouse import migrations
from simpul.warehouse.engine import Warehouse, _create_engine

T = datetime(2026, 11, 1, tzinfo=UTC)


def _consumed(wh: Warehouse) -> set[tuple[str, str, str]]:
    with wh.begin() as conn:
        rows = conn.exec_driver_sql("select consumer, load_id, build_id from ops.consumed_loads")
        return {tuple(r) for r in rows}  # type: ignore[misc]


def test_0033_moves_the_marts_rows_records_to_marts(warehouse_url):
    wh = Warehouse(_create_engine(warehouse_url))
    try:
        migrations.upgrade(wh, "0032")
        with wh.begin() as conn:
            conn.execute(
                sa.text("insert into ops.consumed_loads values (:c, :l, :b, :t)"),
                [
                    {"c": c, "l": lid, "b": b, "t": T}
                    for c, lid, b in (
                        ("marts_rows", "l1", "marts_rows"),
                        ("marts_rows", "l2", "marts_rows"),
                        ("marts_rows", "@end:2026-11-01", "marts_rows"),
                        ("marts", "l2", "b-orch"),  # both recorded l2: the older row stays
                        ("marts", "l3", "b-orch"),  # a load without versions
                        ("padan", "l1", "b-padan"),
                    )
                ],
            )
        assert "0033" in migrations.upgrade(wh)
        assert _consumed(wh) == {
            ("marts", "l1", "marts_rows"),
            ("marts", "l2", "b-orch"),
            ("marts", "@end:2026-11-01", "marts_rows"),
            ("marts", "l3", "b-orch"),
            ("padan", "l1", "b-padan"),
        }
    finally:
        wh.dispose()
