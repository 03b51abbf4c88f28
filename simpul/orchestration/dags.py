"""Generate the Airflow DAGs from the validated config.

* one DAG per pipeline (``simpul_<pipeline>``): extract -> transform -> load, whose load emits
  the asset ``simpul://warehouse/core/<entity>`` with the load's counts as extra;
* ``simpul_ops_marts``: data-aware, runs when any core asset is updated, rebuilds the marts;
* ``simpul_ops_padan``: data-aware, runs when SIAK or an agency source padan reads is loaded,
  links the agencies' people to SIAK (``core.padan``) and emits its own asset, which the marts
  DAG also listens to (accepted links feed the reconciliation marts);
* ``simpul_ops_freshness``: hourly, alerts when a pipeline's last successful load is too old;
* ``simpul_config_error``: registered *instead* of all of them when ``simpul.yaml`` is invalid,
  so the UI shows the bilingual reason rather than an opaque import error.

Task bodies import the pipeline code lazily, so parsing a DAG file stays fast (GX alone takes
~6 s to import). Tasks pass ids, paths and counts through XCom, never data frames. Only the
tasks that write the warehouse (load, marts) share the pool of one slot (DuckDB allows a
single writer); extract and transform run in parallel and wait briefly for the file when they
read a cursor. Every try is recorded in ``ops.task_runs`` by the task callbacks
(:mod:`simpul.orchestration.health`), and every task alerts on its final failure
(:class:`~simpul.orchestration.alerts.SimpulNotifier`).

Schedules are cron expressions in Western Indonesia Time (``Asia/Jakarta``, WIB): every DAG's
``start_date`` carries that time zone, so ``"0 1 * * *"`` runs at 01:00 WIB.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetAny, task

from simpul.config import ConfigError, PipelineSettings, SimpulConfig, load_config
from simpul.orchestration.health import on_task_failure, on_task_retry, on_task_success
from simpul.orchestration.notifier import SimpulNotifier
from simpul.orchestration.secrets import with_airflow_connections

log = logging.getLogger(__name__)

TIMEZONE = "Asia/Jakarta"
#: every DAG starts here, in WIB: cron schedules are read in Asia/Jakarta, not UTC
START_DATE = pendulum.datetime(2026, 1, 1, tz=TIMEZONE)
WAREHOUSE_POOL = os.environ.get("SIMPUL_WAREHOUSE_POOL", "simpul_warehouse")
#: the task callbacks that record every try in ops.task_runs (status without Airflow's DB)
TASK_CALLBACKS: dict[str, Any] = {
    "on_success_callback": [on_task_success],
    "on_retry_callback": [on_task_retry],
    "on_failure_callback": [SimpulNotifier(), on_task_failure],
}
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "simpul",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    **TASK_CALLBACKS,
}
CONFIG_ERROR_DAG_ID = "simpul_config_error"
MARTS_ASSET = Asset("simpul://warehouse/marts", extra={"layer": "marts"})
PADAN_DAG_ID = "simpul_ops_padan"


def core_asset(entity: str) -> Asset:
    return Asset(f"simpul://warehouse/core/{entity}", extra={"layer": "core"})


PADAN_ASSET = core_asset("padan")


def _pool() -> str | None:
    return WAREHOUSE_POOL if _pool_enabled() else None


def _pool_enabled() -> bool:
    return os.environ.get("SIMPUL_WAREHOUSE_POOL", "simpul_warehouse") != ""


def _serializable(result: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in result.items()}


def after_load(name: str, result: dict[str, Any], context: dict[str, Any]) -> None:
    """Alert the operator when files of the drop were rejected, and when the quality gate held
    a delivery back (status ``held``)."""
    from simpul.ledger import rejected_alert
    from simpul.orchestration.alerts import held_alert, send_alert

    dag = context.get("dag")
    rejected = rejected_alert(name, result.get("load_id"), getattr(dag, "dag_id", None),
                              context.get("run_id"))  # fmt: skip
    if rejected is not None:
        send_alert(rejected)
    if result.get("status") != "held":
        return
    send_alert(
        held_alert(
            name,
            result,
            dag_id=getattr(dag, "dag_id", None),
            run_id=context.get("run_id"),
        )
    )


def check_drift(
    name: str, p: PipelineSettings, result: dict[str, Any], context: dict[str, Any]
) -> None:
    """Alert once per new column set when a delivery carries columns the mapping ignores.

    Uses the drift ``transform`` already computed against the last *loaded* delivery
    (:func:`simpul.pipeline.schema_drift`): nothing on a first load, and the hub's own lineage
    columns (``_source_file``/``_source_row``) never count. Missing columns fail ``transform``
    itself (and its failure alert says "schema drift").
    """
    from simpul.mapping import load_mapping
    from simpul.orchestration.alerts import drift_alert, due, send_alert
    from simpul.pipeline.drift import unmapped_additions

    added = unmapped_additions(result.get("schema_drift"), load_mapping(p.mapping).source_columns)
    if not added:
        return
    key = f"schema_drift:{name}:{','.join(added)}"
    if due(key, timedelta(days=365)):
        dag = context.get("dag")
        alert = drift_alert(
            name, result["load_id"], added, getattr(dag, "dag_id", None), context.get("run_id")
        )
        alert.key = key
        send_alert(alert)


def drift_columns(drift: dict[str, Any] | None, mapped: set[str]) -> list[str]:
    """Added columns worth an alert: not mapped, not the connector's lineage columns."""
    from connectors.base.files import SOURCE_FILE, SOURCE_ROW

    if not drift:
        return []
    ignore = {SOURCE_FILE, SOURCE_ROW, "_file_mtime"}  # lineage the drop connectors add
    return sorted(c for c in drift.get("added") or [] if c not in mapped and c not in ignore)


def summary_line(name: str, result: dict[str, Any], seconds: float) -> str:
    """The one readable line a load task log ends with (instead of the returned dict)."""
    status = result.get("status")
    line = (
        f"{name}: {status} | diterima/received {result.get('rows_received', 0)}, "
        f"dimuat/loaded {result.get('rows_loaded', 0)}, "
        f"karantina/quarantined {result.get('rows_quarantined', 0)}, "
        f"duplikat/duplicate {result.get('rows_duplicate', 0)}, "
        f"ditahan/held {result.get('rows_received', 0) if status == 'held' else 0} "
        f"| {seconds:.1f} s"
    )
    return line


def held_message(name: str, result: dict[str, Any]) -> str:
    """Why a held delivery fails its task, and how to release it: ``English / Indonesian``
    (the order :func:`simpul.orchestration.causes.describe` reads), no record values."""
    load_id = result.get("load_id")
    why = str(result.get("message") or "").split("; ")[0]
    why_en, _, why_id = why.partition(" / ")
    why_en = why_en.removeprefix("held: ").strip() or "quality gate"
    why_id = why_id.removeprefix("ditahan: ").strip() or "gerbang kualitas"
    return (
        f"Delivery {load_id} of pipeline {name} is HELD by the quality gate ({why_en}); "
        f"nothing was merged into core. Review the quarantine report, then release it with "
        f"`simpul release {load_id} --reviewer NAME` or ask the agency for a new delivery. "
        f"/ Kiriman {load_id} pipeline {name} DITAHAN gerbang kualitas ({why_id}); tidak ada "
        f"baris yang digabung ke core. Tinjau laporan karantina, lalu lepaskan dengan "
        f"`simpul release {load_id} --reviewer NAMA` atau minta kiriman ulang ke instansi."
    )


def fail_held(name: str, result: dict[str, Any]) -> None:
    """A held delivery ends its task *failed* without retries (a retry would hold it again),
    so the DAG run is red like the CLI's exit code 3, and the failure callbacks record it in
    ``ops.task_runs``. The held alert was already sent by :func:`after_load`, so the exception
    is marked for :class:`~simpul.orchestration.notifier.SimpulNotifier` not to send a second."""
    from airflow.sdk.exceptions import AirflowFailException

    if result.get("status") != "held":
        return
    exc = AirflowFailException(held_message(name, result))
    exc.simpul_held = True  # type: ignore[attr-defined]
    raise exc


def fail_fast(exc: BaseException) -> None:
    """Configuration errors and sources that refuse for good fail at once (no retries)."""
    from airflow.sdk.exceptions import AirflowFailException

    from simpul.orchestration.causes import SourceError

    if isinstance(exc, ConfigError) or (isinstance(exc, SourceError) and not exc.transient):
        raise AirflowFailException(str(exc)) from None


def pipeline_dag(name: str, p: PipelineSettings, cfg: SimpulConfig) -> DAG:
    source = cfg.sources[p.source]
    pool = _pool()
    with DAG(
        dag_id=f"simpul_{name}",
        description=f"{source.agency}: {p.stream} -> core.{p.entity}",
        schedule=p.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["simpul", f"source:{p.source}", *p.tags],
        doc_md=(
            f"Menarik **{p.stream}** dari {source.agency} ({p.source}), memetakan dengan "
            f"`mappings/{p.mapping}.yaml`, memvalidasi dengan suite `{p.suite}`, mengarantina "
            f"baris yang gagal dan menggabungkan sisanya ke `core.{p.entity}`.\n\n"
            f"Pulls **{p.stream}** from {source.agency} ({p.source}), maps it with "
            f"`mappings/{p.mapping}.yaml`, validates it with suite `{p.suite}`, quarantines "
            f"failing rows and merges the rest into `core.{p.entity}`. A delivery whose error "
            f"rate exceeds {p.max_error_rate:.0%} is held back whole and alerted; its load "
            f"task then fails (no retry) until released with `simpul release`."
        ),
    ) as dag:
        asset = core_asset(p.entity)

        @task(show_return_value_in_logs=False)  # network: no warehouse slot
        @with_airflow_connections
        def extract() -> dict[str, Any]:
            import time

            from simpul.pipeline import extract as run_extract

            started = time.monotonic()
            try:
                landed = run_extract(name)
            except Exception as exc:
                fail_fast(exc)
                raise
            log.info(
                "%s: diterima/received %s baris/rows (dihapus/deleted %s) | %.1f s",
                name,
                landed.get("rows"),
                landed.get("deleted", 0),
                time.monotonic() - started,
            )
            return landed

        @task(retries=0, show_return_value_in_logs=False)  # CPU (GX); reads the warehouse
        @with_airflow_connections
        def transform(landed: dict[str, Any], **context: Any) -> dict[str, Any]:
            import time

            from simpul.pipeline import transform as run_transform

            started = time.monotonic()
            result = run_transform(name, landed["load_id"])
            try:
                check_drift(name, p, result, context)
            except Exception as exc:  # noqa: BLE001 - the drift check never fails a run
                log.warning("schema drift check skipped: %s", type(exc).__name__)
            log.info(
                "%s: sah/valid %s, karantina/quarantined %s, duplikat/duplicate %s%s | %.1f s",
                name,
                result.get("valid"),
                result.get("quarantined"),
                result.get("duplicate"),
                " | DITAHAN/HELD" if result.get("held") else "",
                time.monotonic() - started,
            )
            return {k: result.get(k) for k in ("pipeline", "load_id", "held", "error_rate")}

        @task(pool=pool, outlets=[asset], show_return_value_in_logs=False)
        @with_airflow_connections
        def load(staged: dict[str, Any], **context: Any) -> dict[str, Any]:
            import time

            from simpul.pipeline import load as run_load

            started = time.monotonic()
            result = run_load(name, staged["load_id"])
            context["outlet_events"][asset].extra = {
                k: result.get(k)
                for k in (
                    "load_id",
                    "status",
                    "rows_received",
                    "rows_loaded",
                    "rows_quarantined",
                    "rows_duplicate",
                )
            }
            after_load(name, result, context)
            log.info("%s", summary_line(name, result, time.monotonic() - started))
            fail_held(name, result)  # held: the task ends failed, no retry (exit code 3 in CLI)
            return _serializable(result)

        load(transform(extract()))
    return dag


def marts_dag(cfg: SimpulConfig) -> DAG | None:
    """Rebuild the marts whenever a core table changes (Airflow 3 data-aware scheduling)."""
    entities = sorted({p.entity for p in cfg.pipelines.values()})
    if not entities:
        return None
    assets = [core_asset(e) for e in entities]
    if padan_inputs(cfg):
        assets.append(PADAN_ASSET)
    with DAG(
        dag_id="simpul_ops_marts",
        description="Bangun ulang marts saat core berubah / rebuild marts when core changes",
        schedule=AssetAny(*assets),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["simpul", "ops", "marts"],
        doc_md=(
            "Dijalankan oleh event aset `simpul://warehouse/core/<entitas>` dari tugas load. "
            "Event dari kiriman yang ditahan (held) atau sudah dimuat dilewati.\n\n"
            "Triggered by the `simpul://warehouse/core/<entity>` asset events of the load tasks; "
            "calls `simpul.warehouse.marts.build_marts(wh)`. Events of held or already-loaded "
            "deliveries do not rebuild anything.\n\n"
            "Sekali per batch: tugas `settle` (tanpa slot pool) menunggu sampai tidak ada muatan "
            "selesai selama `SIMPUL_MARTS_QUIET_SECONDS` (60 s; paling lama "
            "`SIMPUL_MARTS_MAX_WAIT_SECONDS`, 600 s); run yang semua muatannya sudah termasuk "
            "build sebelumnya dilewati. Run manual membangun seketika.\n\n"
            "Once per batch: the `settle` task (no pool slot) waits until no load finished for "
            "`SIMPUL_MARTS_QUIET_SECONDS` (60 s; at most `SIMPUL_MARTS_MAX_WAIT_SECONDS`, "
            "600 s); a run whose loads an earlier build already included is skipped. A manual "
            "run builds at once."
        ),
    ) as dag:

        @task(pool=_pool(), outlets=[MARTS_ASSET])
        @with_airflow_connections
        def build_marts(**context: Any) -> dict[str, Any]:
            events = context.get("triggering_asset_events") or {}
            changed = new_loads(events)
            return run_build_marts(changed, only_if_uncovered=bool(events))

        settle_task() >> build_marts()
    return dag


def settle_task() -> Any:
    """The ``settle`` sensor of a DAG that runs once per batch of loads (marts, padan): it
    waits in reschedule mode, holding no pool slot, until the batch has settled."""
    from airflow.sdk import BaseSensorOperator

    class SettleSensor(BaseSensorOperator):
        def poke(self, context: Any) -> Any:
            return settle_batch(dict(context))

    return SettleSensor(
        task_id="settle", mode="reschedule", poke_interval=15, timeout=batch_timeout()
    )


def batch_timeout() -> float:
    """The sensor's own timeout: past the settle limit, so the limit (not a timeout) decides."""
    from simpul.orchestration.batches import max_wait_seconds

    return max_wait_seconds() + 300


def settle_batch(context: dict[str, Any]) -> Any:
    """The settle sensor's body: a manual run builds at once; an asset-triggered one waits
    until no load finished for the quiet interval (bounded by the wait limit)."""
    from datetime import UTC, datetime

    from airflow.sdk import PokeReturnValue

    from simpul.orchestration.batches import settle
    from simpul.warehouse import open_warehouse
    from simpul.warehouse.engine import WarehouseBusyError

    if not context.get("triggering_asset_events"):
        log.info("dijalankan manual: mulai sekarang / manual run: starting now")
        return PokeReturnValue(is_done=True)
    run = context.get("dag_run")
    started = getattr(run, "start_date", None) or getattr(run, "queued_at", None)
    now = datetime.now(UTC)
    waited = (now - started).total_seconds() if started else float("inf")
    try:
        wh = open_warehouse(wait=5)
    except WarehouseBusyError:
        log.info(
            "gudang data sedang dipakai muatan: menunggu / a load holds the warehouse: waiting"
        )
        return PokeReturnValue(is_done=False)
    try:
        state = settle(wh, waited=waited, now=now)
    finally:
        wh.dispose()
    log.info(state.message)
    return PokeReturnValue(is_done=state.done)


def padan_inputs(cfg: SimpulConfig) -> list[str]:
    """The configured pipelines padan reads; empty (no padan DAG) without SIAK or without any
    agency source to link."""
    from simpul.padan.sources import SIAK_PIPELINE, padan_pipelines

    names = [n for n in padan_pipelines() if n in cfg.pipelines]
    return names if SIAK_PIPELINE in names and len(names) > 1 else []


def padan_dag(cfg: SimpulConfig) -> DAG | None:
    """Re-link agency people to SIAK after a load of SIAK or of an agency source padan reads."""
    inputs = padan_inputs(cfg)
    if not inputs:
        return None
    assets = [core_asset(e) for e in sorted({cfg.pipelines[n].entity for n in inputs})]
    with DAG(
        dag_id=PADAN_DAG_ID,
        description="Padan NIK: tautkan orang antar-instansi ke SIAK / link people to SIAK",
        schedule=AssetAny(*assets),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "retries": 1},
        tags=["simpul", "ops", "padan"],
        doc_md=(
            "Dijalankan oleh event aset core dari tugas load "
            f"({', '.join(inputs)}). Menautkan orang di data instansi ke penduduk SIAK "
            "(model dilatih ulang dari data ini, disimpan berversi) dan menulis `core.padan`; "
            "keputusan tinjauan operator dipertahankan. Event dari kiriman yang ditahan atau "
            "sudah dimuat dilewati.\n\n"
            f"Triggered by the core asset events of the loads of {', '.join(inputs)}. Links "
            "the agencies' people to the SIAK population (model retrained on this data, saved "
            "and versioned) and rewrites `core.padan`, keeping operators' review decisions; "
            "emits `simpul://warehouse/core/padan`, which rebuilds the marts. Events of held "
            "or already-loaded deliveries do not re-link."
        ),
    ) as dag:

        @task(pool=_pool(), outlets=[PADAN_ASSET], execution_timeout=timedelta(hours=1))
        @with_airflow_connections
        def link_people(**context: Any) -> dict[str, Any]:
            events = context.get("triggering_asset_events") or {}
            changed = new_loads(events)
            result = run_padan_task(changed, only_if_uncovered=bool(events))
            context["outlet_events"][PADAN_ASSET].extra = {
                "status": "loaded" if result["status"] == "ok" else result["status"],
                "load_id": f"padan:{result.get('model_version')}",
            }
            return result

        settle_task() >> link_people()
    return dag


def run_padan_task(
    load_ids: list[str] | None = None, *, only_if_uncovered: bool = False
) -> dict[str, Any]:
    """Run padan on the warehouse; returns counts per agency and the model version (XCom-safe:
    no names, no NIKs). ``only_if_uncovered``: skip when an earlier run included every one of
    ``load_ids`` (:mod:`simpul.orchestration.batches`)."""
    from simpul.padan.store import run_padan

    result = once_per_batch(
        "padan", load_ids, only_if_uncovered, run_padan, done=lambda r: r["status"] == "ok"
    )
    counts = [  # PostgreSQL's ROUND gives Decimal: XCom wants JSON
        {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}
        for row in result.get("counts") or []
    ]
    log.info(
        "padan: %s, model %s, %s s, %s",
        result["status"],
        result.get("model_version"),
        result.get("seconds"),
        "; ".join(f"{c['sumber']} {c['tertaut']}/{c['catatan']} tertaut/linked" for c in counts),
    )
    return {
        "status": result["status"],
        "model_version": result.get("model_version"),
        "seconds": result.get("seconds"),
        "counts": counts,
        "triggered_by": load_ids or [],
    }


def new_loads(events: Any) -> list[str]:
    """The loaded load ids of an asset-triggered run's events; skip (with the bilingual reason)
    when the events are only of held or already-loaded deliveries. Empty for a manual run."""
    from airflow.sdk.exceptions import AirflowSkipException

    changed = changed_loads(events)
    if events and not changed:
        raise AirflowSkipException(
            "tidak ada muatan baru (hanya held/already_loaded) / "
            "no new load (only held or already-loaded deliveries)"
        )
    return changed


def changed_loads(events: Any) -> list[str]:
    """Load ids of triggering asset events that actually changed core (status ``loaded``)."""
    out = []
    for evs in dict(events).values():
        for ev in evs:
            extra = getattr(ev, "extra", None) or {}
            if extra.get("status") == "loaded" and extra.get("load_id"):
                out.append(str(extra["load_id"]))
    return out


def skip_if_covered(wh: Any, consumer: str, load_ids: list[str]) -> None:
    """Skip (bilingual reason) when an earlier run of ``consumer`` included every load."""
    from airflow.sdk.exceptions import AirflowSkipException

    from simpul.orchestration.batches import uncovered

    if not uncovered(wh, consumer, load_ids):
        raise AirflowSkipException(
            f"{len(load_ids)} muatan pemicu sudah termasuk dalam {consumer} sebelumnya / the "
            f"{len(load_ids)} triggering load(s) are already in an earlier {consumer} run"
        )


def once_per_batch(
    consumer: str,
    load_ids: list[str] | None,
    only_if_uncovered: bool,
    work: Callable[[Any], Any],
    done: Callable[[Any], bool] = lambda result: True,
) -> Any:
    """Run ``work(wh)`` for ``consumer`` (marts, padan) once per batch of loads: skip when an
    earlier run included every one of ``load_ids``; after ``work`` (and ``done(result)``),
    record the loads that were committed before it started (:mod:`simpul.orchestration.batches`)."""
    from datetime import UTC, datetime

    from simpul.orchestration import batches
    from simpul.warehouse import warehouse

    with warehouse() as wh:
        if only_if_uncovered and load_ids:
            skip_if_covered(wh, consumer, load_ids)
        started = datetime.now(UTC)
        included = batches.committed_loads(wh)
        result = work(wh)
        if done(result):
            batches.record_build(wh, consumer, included, started)
    return result


def run_build_marts(
    load_ids: list[str] | None = None, *, only_if_uncovered: bool = False
) -> dict[str, Any]:
    """Call ``simpul.warehouse.marts.build_marts(wh)``; skip clearly if it does not exist yet.

    ``only_if_uncovered`` (asset-triggered runs): skip when an earlier build already included
    every one of ``load_ids`` (:mod:`simpul.orchestration.batches`). After a successful
    build the loads committed before it started are recorded as included.
    """
    import importlib

    from airflow.sdk.exceptions import AirflowSkipException

    try:
        marts = importlib.import_module("simpul.warehouse.marts")
    except ModuleNotFoundError as exc:
        if exc.name != "simpul.warehouse.marts":
            raise
        raise AirflowSkipException(
            "simpul.warehouse.marts belum tersedia: marts dilewati / "
            "simpul.warehouse.marts is not available: marts skipped"
        ) from None

    result = once_per_batch("marts", load_ids, only_if_uncovered, marts.build_marts)
    out: dict[str, Any] = {"triggered_by": load_ids or []}
    if isinstance(result, dict):
        out.update({str(k): v for k, v in result.items()})
    elif result is not None:
        out["result"] = str(result)
    return out


def freshness_dag(cfg: SimpulConfig) -> DAG:
    with DAG(
        dag_id="simpul_ops_freshness",
        description="Cek kemutakhiran data per sumber / data freshness per source",
        schedule="@hourly",
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "retries": 1},
        tags=["simpul", "ops", "freshness"],
        doc_md=(
            "Tiap jam: umur muatan sukses terakhir per pipeline dibanding batas "
            "`freshness_hours` (simpul/orchestration/ops.yaml, bawaan 26 jam). Pelanggaran "
            "dikirim sebagai peringatan (paling sering sekali per `alert_repeat_hours`).\n\n"
            "Hourly: the age of each pipeline's last successful load against its "
            "`freshness_hours` (simpul/orchestration/ops.yaml, default 26 h). Breaches are "
            "alerted (at most once per `alert_repeat_hours`)."
        ),
    ) as dag:

        @task
        @with_airflow_connections
        def check_freshness() -> list[dict[str, Any]]:
            return run_freshness_check()

        check_freshness()
    return dag


def run_freshness_check(cfg: SimpulConfig | None = None) -> list[dict[str, Any]]:
    """Compute freshness, alert on new or repeated breaches; returns the report (XCom-safe)."""
    from simpul.orchestration.alerts import due, freshness_alert, resolve, send_alert
    from simpul.orchestration.freshness import freshness_report, load_ops_settings
    from simpul.warehouse import open_warehouse

    cfg = cfg or load_config()
    settings = load_ops_settings()
    wh = open_warehouse()
    try:
        report = freshness_report(wh, cfg, settings)
    finally:
        wh.dispose()
    every = timedelta(hours=settings.alert_repeat_hours)
    for row in report:
        if row["state"] == "stale" and due(f"freshness:{row['pipeline']}", every):
            row["alerted"] = send_alert(freshness_alert(row))
        elif row["state"] == "ok":
            resolve(f"freshness:{row['pipeline']}")
        log.info(
            "freshness %s: %s (age %s h, limit %s h)",
            row["pipeline"],
            row["state"],
            row["age_hours"],
            row["freshness_hours"],
        )
    return [_serializable(r) for r in report]


def config_error_dag(exc: BaseException) -> dict[str, DAG]:
    """The one DAG shown when ``simpul.yaml`` is invalid: its docs and its task carry why."""
    detail = str(exc).strip() or type(exc).__name__
    message = (
        "Konfigurasi Simpul tidak valid; DAG pipeline tidak dibuat sampai diperbaiki.\n"
        "The Simpul configuration is invalid; no pipeline DAGs are generated until it is fixed.\n"
        f"\n{detail}"
    )
    first = detail.splitlines()[0]
    with DAG(
        dag_id=CONFIG_ERROR_DAG_ID,
        description=f"Konfigurasi tidak valid / invalid config: {first}"[:500],
        schedule=None,
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "retries": 0},
        tags=["simpul", "config-error"],
        doc_md=(
            "## Konfigurasi tidak valid / Invalid configuration\n\n"
            "Perbaiki `simpul.yaml` (atau berkas pada `SIMPUL_CONFIG`); DAG pipeline akan muncul "
            "lagi pada parse berikutnya.\n\nFix `simpul.yaml` (or the file in `SIMPUL_CONFIG`); "
            "the pipeline DAGs come back on the next parse.\n\n```\n" + detail + "\n```"
        ),
    ) as dag:

        @task
        def report_config_error() -> None:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(message)

        report_config_error()
    return {dag.dag_id: dag}


def build_dags(cfg: SimpulConfig | None = None) -> dict[str, DAG]:
    """One DAG per configured pipeline (raises :class:`ConfigError` on an invalid config)."""
    cfg = cfg or load_config()
    dags = {}
    for name, p in cfg.pipelines.items():
        dag = pipeline_dag(name, p, cfg)
        dags[dag.dag_id] = dag
    return dags


def build_ops_dags(cfg: SimpulConfig | None = None) -> dict[str, DAG]:
    """The operations DAGs (marts on core assets, padan after its inputs' loads, hourly
    freshness)."""
    cfg = cfg or load_config()
    dags = {}
    for dag in (marts_dag(cfg), padan_dag(cfg), freshness_dag(cfg)):
        if dag is not None:
            dags[dag.dag_id] = dag
    return dags
