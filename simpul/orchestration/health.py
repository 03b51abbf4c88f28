"""One view of health: every task try recorded in ``ops``, and what needs an operator now.

The generated DAGs' task callbacks (:mod:`simpul.orchestration.task_runs`) record every try in
``ops.task_runs``, so ``simpul status`` and the dashboard know about failed runs and failed
tries without Airflow's metadata database; a try that found the warehouse busy waits in the
spool file (:func:`spool_file`), which status reads too.

:func:`collect` builds the per-pipeline and per-exchange picture; :func:`problems` turns it
into one bilingual line per thing that needs attention (``simpul status --check``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from simpul.domain.clock import aware

log = logging.getLogger(__name__)

LOCK_WAIT_SECONDS = float(os.environ.get("SIMPUL_LOCK_WAIT_SECONDS", "20"))
T = TypeVar("T")


# --------------------------------------------------------------------------- the lock


class WarehouseBusy(Exception):
    """The DuckDB file is held by another process (a load) beyond the wait."""


def is_lock_error(exc: BaseException) -> bool:
    from simpul.warehouse.engine import is_lock_error as check

    return check(exc)


def with_warehouse(fn: Callable[[Any], T], wait: float = LOCK_WAIT_SECONDS) -> T:
    """Run ``fn(wh)`` on the warehouse, retrying while another process holds the DuckDB lock."""
    wh = _open_with_wait(wait)
    try:
        return fn(wh)
    finally:
        wh.dispose()


@dataclass
class ReadSource:
    """How status got its data: ``live``, ``waited`` (seconds) or ``snapshot`` (a copy)."""

    mode: str = "live"
    waited: float = 0.0
    note_id: str = ""
    note_en: str = ""


@contextmanager
def read_warehouse(wait: float | None = None) -> Iterator[tuple[Any, ReadSource]]:
    """The warehouse for reading: live; or after waiting up to ``wait`` seconds for a load to
    finish; or, on DuckDB, a copy of the file taken now (a snapshot) — never a lock error."""
    from simpul.config import warehouse_url
    from simpul.warehouse import open_warehouse

    wait = float(os.environ.get("SIMPUL_STATUS_WAIT_SECONDS", "5")) if wait is None else wait
    started = time.monotonic()
    src = ReadSource()
    busy = False
    try:
        try:
            wh = _open_with_wait(0)
        except WarehouseBusy:
            busy = True
            wh = _open_with_wait(wait)
    except WarehouseBusy:
        url = warehouse_url()
        if not url.startswith("duckdb:///"):
            raise
        snap = Path(tempfile.mkdtemp(prefix="simpul-status-"))
        try:
            db = Path(url.removeprefix("duckdb:///"))
            shutil.copy2(db, snap / db.name)
            if Path(f"{db}.wal").exists():
                shutil.copy2(f"{db}.wal", snap / f"{db.name}.wal")
            wh = open_warehouse(f"duckdb:///{snap / db.name}")
            src = ReadSource(
                "snapshot",
                round(time.monotonic() - started, 1),
                "gudang data sedang dipakai muatan; status dibaca dari salinan saat ini",
                "the warehouse is held by a load; status read from a copy taken now",
            )
            try:
                yield wh, src
            finally:
                wh.dispose()
        finally:
            shutil.rmtree(snap, ignore_errors=True)
        return
    waited = round(time.monotonic() - started, 1)
    if busy:
        src = ReadSource(
            "waited",
            waited,
            f"menunggu {waited} dtk sampai muatan selesai",
            f"waited {waited} s for a load to finish",
        )
    try:
        yield wh, src
    finally:
        wh.dispose()


def _open_with_wait(wait: float) -> Any:
    from simpul.warehouse import open_warehouse

    try:
        return open_warehouse(wait=wait)
    except Exception as exc:
        if is_lock_error(exc):
            raise WarehouseBusy(str(exc).splitlines()[0][:200]) from None
        raise


# --------------------------------------------------------------------------- the spool


def spool_file() -> Path:
    """Task tries that could not be written to ``ops.task_runs`` yet (the warehouse was busy)."""
    from simpul.config import home

    return home() / "ops" / "task_runs.jsonl"


def read_spool() -> list[dict[str, Any]]:
    """The spooled task tries (recorded_at parsed back to a datetime)."""
    path = spool_file()
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row.get("recorded_at"), str):
            row["recorded_at"] = datetime.fromisoformat(row["recorded_at"])
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- the picture


@dataclass
class Health:
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    source: ReadSource = field(default_factory=ReadSource)


def _rows(wh: Any, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A query that yields nothing when its table does not exist (an older warehouse)."""
    try:
        return wh.query(sql, params)
    except Exception as exc:  # noqa: BLE001
        log.debug("health query skipped: %s", type(exc).__name__)
        return []


def _at(row: dict[str, Any]) -> datetime:
    """A task try's time, aware (every recorded try has one)."""
    return aware(row["recorded_at"]) or datetime.min.replace(tzinfo=UTC)


def last_runs(task_rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per DAG: its latest run's state (failed / retrying / success / running), failed tries
    and the last error, from task-try rows."""
    by_dag: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in task_rows:
        by_dag.setdefault(r["dag_id"], {}).setdefault(r["run_id"], []).append(r)
    out = {}
    for dag_id, runs in by_dag.items():
        run_id, rows = max(runs.items(), key=lambda kv: max(_at(r) for r in kv[1]))
        latest: dict[str, dict[str, Any]] = {}
        for r in sorted(rows, key=lambda r: (_at(r), r["try_number"])):
            latest[r["task_id"]] = r
        states = {r["state"] for r in latest.values()}
        if "failed" in states:
            state = "failed"
        elif "up_for_retry" in states:
            state = "retrying"
        else:
            state = "success"
        errors = [r for r in rows if r["state"] != "success"]
        last_err = max(errors, key=_at) if errors else None
        out[dag_id] = {
            "run_id": run_id,
            "state": state,
            "failed_tries": len(errors),
            "at": max(_at(r) for r in rows),
            "task_id": last_err["task_id"] if last_err else None,
            "error_id": last_err["error_id"] if last_err else None,
            "error_en": last_err["error_en"] if last_err else None,
        }
    return out


def collect(wh: Any, cfg: Any = None, now: datetime | None = None) -> Health:
    """Per pipeline and per exchange agreement: last run, last load, held deliveries,
    freshness; the outbox; open alerts."""
    from simpul.config import load_config

    cfg = cfg or load_config()
    now = now or datetime.now(UTC)
    tasks = (
        _rows(
            wh,
            "select * from ops.task_runs where recorded_at > :since",
            {"since": now - timedelta(days=30)},
        )
        + read_spool()
    )
    runs = last_runs(tasks)
    h = Health(pipelines=_pipelines(wh, cfg, runs, now), exchanges=_exchanges(wh, runs))
    h.alerts = _rows(
        wh,
        "select kind, pipeline, dag_id, title, message_id, message_en, first_at, last_at, "
        "times from ops.alerts where state = 'open' order by last_at desc",
    )
    return h


def _pipelines(
    wh: Any, cfg: Any, runs: dict[str, dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Per configured pipeline: its last run, its last load, held deliveries, freshness."""
    from simpul.orchestration.freshness import freshness_report

    fresh = {r["pipeline"]: r for r in freshness_report(wh, cfg, now=now)}
    loads = {
        r["pipeline"]: r
        for r in _rows(
            wh,
            "select l.pipeline, l.status, l.loaded_at, l.rows_received, l.rows_loaded, "
            "l.rows_quarantined, l.rows_duplicate, l.load_id from ops.loads l join "
            "(select pipeline, max(loaded_at) as m from ops.loads "
            "where right(stream, 8) <> '_deleted' group by pipeline) x "
            "on l.pipeline = x.pipeline and l.loaded_at = x.m "
            "where right(l.stream, 8) <> '_deleted'",
        )
    }
    held = {
        r["pipeline"]: r["n"]
        for r in _rows(
            wh,
            "select pipeline, count(*) as n from ops.loads where status = 'held' group by pipeline",
        )
    }
    out = []
    for name, p in sorted(cfg.pipelines.items()):
        run = runs.get(f"simpul_{name}") or {}
        load = loads.get(name) or {}
        f = fresh.get(name) or {}
        out.append(
            {
                "pipeline": name,
                "agency": cfg.sources[p.source].agency,
                "schedule": p.schedule,
                "run_state": run.get("state"),
                "run_at": run.get("at"),
                "failed_tries": run.get("failed_tries", 0),
                "failed_task": run.get("task_id"),
                "error_id": run.get("error_id"),
                "error_en": run.get("error_en"),
                "load_status": load.get("status"),
                "loaded_at": aware(load.get("loaded_at")),
                "rows_loaded": load.get("rows_loaded"),
                "held": held.get(name, 0),
                "freshness": f.get("state"),
                "age_hours": f.get("age_hours"),
                "freshness_hours": f.get("freshness_hours"),
            }
        )
    return out


def _exchanges(wh: Any, runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per exchange agreement: its outbox by status, retries waiting, its DAG's last run."""
    outbox = _rows(
        wh,
        'select agreement, agency, status, count(*) as n, sum("rows") as rows_total, '
        "max(attempts) as attempts, max(created_at) as last_created, "
        "max(last_error) as last_error from ops.exchange_outbox "
        "where purged_at is null or status <> 'receipted' group by agreement, agency, status",
    )
    by_agreement: dict[str, dict[str, Any]] = {}
    for r in outbox:
        a = by_agreement.setdefault(
            r["agreement"], {"agreement": r["agreement"], "agency": r["agency"], "statuses": {}}
        )
        a["statuses"][r["status"]] = int(r["n"])
        if r["status"] == "pending" and (r["attempts"] or 0) > 0 and r["last_error"]:
            a["retrying"] = int(r["n"])
            a["last_error"] = r["last_error"]
    for dag_id, run in runs.items():
        if dag_id.startswith("simpul_exchange_"):
            aid = dag_id.removeprefix("simpul_exchange_")
            a = by_agreement.setdefault(aid, {"agreement": aid, "agency": None, "statuses": {}})
            a["run_state"] = run["state"]
            a["failed_tries"] = run["failed_tries"]
            a["error_id"], a["error_en"] = run["error_id"], run["error_en"]
    return sorted(by_agreement.values(), key=lambda a: a["agreement"])


#: outbox statuses that are fine; anything else (cancelled, tampered, held, partial, failed)
#: needs an operator
OUTBOX_OK = {"pending", "sent", "receipted", "purged"}


def problems(h: Health) -> list[str]:
    """One line per thing that needs attention, Bahasa Indonesia first, then English."""
    out: list[str] = []
    for p in h.pipelines:
        name, agency = p["pipeline"], p["agency"]
        if p["run_state"] in ("failed", "retrying"):
            verb_id = "gagal" if p["run_state"] == "failed" else "sedang diulang"
            verb_en = "failed" if p["run_state"] == "failed" else "is being retried"
            cause_id = f": {p['error_id']}" if p.get("error_id") else ""
            cause_en = f": {p['error_en']}" if p.get("error_en") else ""
            out.append(
                f"[{name}] run terakhir {verb_id} ({p['failed_tries']} percobaan gagal, tugas "
                f"{p['failed_task']}){cause_id} / last run {verb_en} ({p['failed_tries']} "
                f"failed tries, task {p['failed_task']}){cause_en}"
            )
        if p["held"]:
            out.append(
                f"[{name}] {p['held']} kiriman ditahan gerbang kualitas, tinjau lalu `simpul "
                f"release` / {p['held']} deliveries held by the quality gate, review then "
                f"`simpul release`"
            )
        if p["freshness"] == "stale":
            out.append(
                f"[{name}] data {agency} tidak mutakhir: {p['age_hours']} jam sejak muatan "
                f"terakhir (batas {p['freshness_hours']:g} jam) / data from {agency} is stale: "
                f"{p['age_hours']} h since the last load (limit {p['freshness_hours']:g} h)"
            )
    for a in h.exchanges:
        bad = {s: n for s, n in a["statuses"].items() if s not in OUTBOX_OK}
        for s, n in sorted(bad.items()):
            out.append(
                f"[pertukaran {a['agreement']}] {n} kiriman berstatus {s} / "
                f"[exchange {a['agreement']}] {n} deliveries in status {s}"
            )
        if a.get("retrying"):
            out.append(
                f"[pertukaran {a['agreement']}] {a['retrying']} kiriman gagal dikirim dan "
                f"menunggu percobaan ulang / [exchange {a['agreement']}] {a['retrying']} "
                f"deliveries failed to send and wait for a retry"
            )
        if a.get("run_state") in ("failed", "retrying"):
            cause_id = f": {a['error_id']}" if a.get("error_id") else ""
            cause_en = f": {a['error_en']}" if a.get("error_en") else ""
            out.append(
                f"[pertukaran {a['agreement']}] run terakhir gagal{cause_id} / "
                f"[exchange {a['agreement']}] last run failed{cause_en}"
            )
    for al in h.alerts:
        if al["kind"] in ("failure", "freshness", "held"):
            continue  # already listed above from the state itself
        out.append(f"[peringatan/alert {al['kind']}] {al['message_id']} / {al['message_en']}")
    return out
