"""``simpul status``: what ran, what was loaded, what is waiting in quarantine."""

from __future__ import annotations

from simpul.warehouse import open_warehouse
from simpul.warehouse.engine import qualified


def status_report(limit: int = 10) -> str:
    from simpul.cli import _table

    wh = open_warehouse()
    try:
        loads = wh.query(
            "select load_id, status, rows_received as received, rows_loaded as loaded, "
            "rows_quarantined as quarantined, rows_duplicate as duplicate, rows_warned as warned, "
            "cursor_to, loaded_at from ops.loads order by loaded_at desc limit :n",
            {"n": limit},
        )
        quarantine = wh.query(
            "select source, stream, status, count(*) as records from ops.quarantine "
            "group by source, stream, status order by source, stream, status"
        )
        rules = wh.query(
            "select rule, severity, count(*) as rows from ops.dq_findings "
            "group by rule, severity order by count(*) desc limit 15"
        )
        cores = wh.query(
            "select table_schema as sch, table_name as tbl from information_schema.tables "
            "where table_schema in ('core', 'ref') order by 1, 2"
        )
        counts = [
            {
                "table": f"{r['sch']}.{r['tbl']}",
                "rows": wh.scalar(f"select count(*) from {qualified(r['sch'], r['tbl'])}"),
            }
            for r in cores
        ]
        from simpul.exchange.service import status_rows

        exchange = status_rows(wh)
    finally:
        wh.dispose()
    return "\n\n".join(
        [
            f"Warehouse: {wh.url}",
            "Last loads / muatan terakhir\n" + _table(loads),
            "Tables / tabel\n" + _table(counts),
            "Quarantine / karantina\n" + _table(quarantine),
            "Data-quality findings / temuan kualitas data\n" + _table(rules),
            "Exchange deliveries waiting / kiriman menunggu\n" + _table(exchange),
        ]
    )
