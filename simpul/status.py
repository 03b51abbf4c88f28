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
            "bytes_transferred, pull_runs, cursor_to, loaded_at from ops.loads "
            "order by loaded_at desc limit :n",
            {"n": limit},
        )
        for r in loads:  # what the pull cost on the (metered) line, over how many runs
            r["transferred"] = human_bytes(r.pop("bytes_transferred"))
            r["runs"] = r.pop("pull_runs")
        try:
            files = wh.query(
                "select name, status, rows, reason_en, reason_id, load_id from ops.files "
                "where status in ('rejected', 'waiting') and recorded_at = (select max("
                "recorded_at) from ops.files g where g.source = ops.files.source "
                "and g.stream = ops.files.stream) order by name"
            )
        except Exception:  # noqa: BLE001 - a warehouse not yet migrated has no ledger
            files = []
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
    finally:
        wh.dispose()
    from simpul.config import paths
    from simpul.landing_resume import partial_deliveries

    partial = partial_deliveries(paths().landing)
    for r in partial:
        r["bytes"] = human_bytes(r["bytes"])
    return "\n\n".join(
        [
            f"Warehouse: {wh.url}",
            "Last loads / muatan terakhir\n" + _table(loads),
            *(
                [
                    "Pulls waiting to resume (not loaded yet) / penarikan menunggu dilanjutkan "
                    "(belum dimuat)\n" + _table(partial)
                ]
                if partial
                else []
            ),
            "Tables / tabel\n" + _table(counts),
            "Quarantine / karantina\n" + _table(quarantine),
            "Files rejected or waiting (last run) / berkas ditolak atau menunggu\n"
            + _table(files),
            "Data-quality findings / temuan kualitas data\n" + _table(rules),
        ]
    )


def human_bytes(n: int | None) -> str | None:
    """1234567 -> '1.2 MB' (None stays None: not an HTTP pull, or loaded before it was counted)."""
    if n is None:
        return None
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return None
