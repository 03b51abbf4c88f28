"""``simpul status``: health per pipeline and exchange, what was loaded, what waits in quarantine.

Status never fails because a load holds the DuckDB file: it waits a few seconds, then reads a
copy taken now and says so (:func:`simpul.orchestration.health.read_warehouse`).
``simpul status --check`` prints one bilingual line per problem and exits 1 when there is any.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simpul.console import bilingual, table
from simpul.domain.clock import WIB
from simpul.warehouse.engine import qualified


def wib(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM WIB`` (operators read Western Indonesia Time)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")


def health_tables(h: Any) -> list[str]:
    """The health picture as text tables (pipelines, exchanges, open alerts)."""
    pipes = [
        {
            "pipeline": p["pipeline"],
            "instansi/agency": p["agency"],
            "run": p["run_state"] or "-",
            "gagal/failed tries": p["failed_tries"],
            "muatan/load": p["load_status"] or "-",
            "dimuat/loaded (WIB)": wib(p["loaded_at"]),
            "ditahan/held": p["held"],
            "kemutakhiran/freshness": p["freshness"],
        }
        for p in h.pipelines
    ]
    ex = [
        {
            "perjanjian/agreement": a["agreement"],
            "instansi/agency": a.get("agency") or "",
            "outbox": ", ".join(f"{k} {v}" for k, v in sorted(a["statuses"].items())) or "-",
            "diulang/retrying": a.get("retrying", 0),
            "run": a.get("run_state") or "-",
        }
        for a in h.exchanges
    ]
    alerts = [
        {
            "jenis/kind": a["kind"],
            "pipeline": a.get("pipeline") or a.get("dag_id") or "",
            "terakhir/last (WIB)": wib(a.get("last_at")),
            "kali/times": a.get("times"),
            "pesan/message": (a.get("message_id") or "")[:90],
        }
        for a in h.alerts
    ]
    return [
        "Kesehatan pipeline / pipeline health\n" + table(pipes),
        "Pertukaran data / exchange\n" + table(ex),
        "Peringatan terbuka / open alerts\n" + table(alerts),
    ]


def status_check() -> tuple[int, str]:
    """``(exit code, text)`` for ``simpul status --check``: 0 and "OK" or 1 and the problems."""
    from simpul.orchestration.alerts import external_channels
    from simpul.orchestration.health import collect, problems, read_warehouse

    with read_warehouse() as (wh, src):
        lines = problems(collect(wh))
    notes = [f"({bilingual(src.note_id, src.note_en)})"] if src.note_en else []
    if not external_channels():
        notes.append(
            "(catatan: belum ada saluran peringatan eksternal / note: no external alert channel)"
        )
    if not lines:
        return 0, "\n".join(["OK: tidak ada masalah / no problems", *notes])
    return 1, "\n".join([*lines, *notes])


def status_report(limit: int = 10) -> str:
    """The operator's overview: what needs attention first, then the tables behind it."""
    from simpul.config import paths
    from simpul.exchange.service import status_rows
    from simpul.landing_resume import partial_deliveries
    from simpul.orchestration.alerts import NO_CHANNEL_WARNING, alert_log_file, external_channels
    from simpul.orchestration.health import collect, problems, read_warehouse

    with read_warehouse() as (wh, src):
        h = collect(wh)
        loads = _recent_loads(wh, limit)
        files = _files_not_loaded(wh)
        quarantine = wh.query(
            "select source, stream, status, count(*) as records from ops.quarantine "
            "group by source, stream, status order by source, stream, status"
        )
        rules = wh.query(
            "select rule, severity, count(*) as rows from ops.dq_findings "
            "group by rule, severity order by count(*) desc limit 15"
        )
        counts = _table_counts(wh)
        exchange = status_rows(wh)
        url = wh.url
    partial = partial_deliveries(paths().landing)
    for r in partial:
        r["bytes"] = human_bytes(r["bytes"])
    head = [f"Warehouse: {url}"]
    if src.note_en:
        head.append(f"({bilingual(src.note_id, src.note_en)})")
    found = problems(h)
    attention = (
        "Perlu perhatian / needs attention\n" + "\n".join(f"- {line}" for line in found)
        if found
        else "Perlu perhatian / needs attention\n(tidak ada / none)"
    )
    tail = []
    if not external_channels():
        tail.append(NO_CHANNEL_WARNING.format(log=alert_log_file()))
    return "\n\n".join(
        [
            "\n".join(head),
            attention,
            *health_tables(h),
            "Last loads / muatan terakhir\n" + table(loads),
            *(
                [
                    "Pulls waiting to resume (not loaded yet) / penarikan menunggu dilanjutkan "
                    "(belum dimuat)\n" + table(partial)
                ]
                if partial
                else []
            ),
            "Tables / tabel\n" + table(counts),
            "Quarantine / karantina\n" + table(quarantine),
            "Files rejected or waiting (last run) / berkas ditolak atau menunggu\n" + table(files),
            "Data-quality findings / temuan kualitas data\n" + table(rules),
            "Exchange deliveries waiting / kiriman menunggu\n" + table(exchange),
            *tail,
        ]
    )


def _recent_loads(wh: Any, limit: int) -> list[dict[str, Any]]:
    """The latest ``limit`` loads, with what each pull cost on the (metered) line."""
    loads: list[dict[str, Any]] = wh.query(
        "select load_id, status, rows_received as received, rows_loaded as loaded, "
        "rows_quarantined as quarantined, rows_duplicate as duplicate, rows_warned as warned, "
        "bytes_transferred, pull_runs, cursor_to, loaded_at from ops.loads "
        "order by loaded_at desc limit :n",
        {"n": limit},
    )
    for r in loads:  # what the pull cost on the (metered) line, over how many runs
        r["transferred"] = human_bytes(r.pop("bytes_transferred"))
        r["runs"] = r.pop("pull_runs")
        r["loaded_at"] = wib(r["loaded_at"])
    return loads


def _files_not_loaded(wh: Any) -> list[dict[str, Any]]:
    """Files the last run of each stream rejected or left waiting."""
    try:
        files: list[dict[str, Any]] = wh.query(
            "select name, status, rows, reason_en, reason_id, load_id from ops.files "
            "where status in ('rejected', 'waiting') and recorded_at = (select max("
            "recorded_at) from ops.files g where g.source = ops.files.source "
            "and g.stream = ops.files.stream) order by name"
        )
    except Exception:  # noqa: BLE001 - a warehouse not yet migrated has no ledger
        files = []
    return files


def _table_counts(wh: Any) -> list[dict[str, Any]]:
    """Rows in every core and reference table."""
    cores = wh.query(
        "select table_schema as sch, table_name as tbl from information_schema.tables "
        "where table_schema in ('core', 'ref') order by 1, 2"
    )
    return [
        {
            "table": f"{r['sch']}.{r['tbl']}",
            "rows": wh.scalar(f"select count(*) from {qualified(r['sch'], r['tbl'])}"),
        }
        for r in cores
    ]


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
