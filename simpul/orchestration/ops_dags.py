"""The operations DAGs, each run once per batch of loads or on a clock:

* ``simpul_ops_marts``: data-aware, runs when any core asset is updated, rebuilds the marts;
* ``simpul_ops_padan``: data-aware, runs when SIAK or an agency source padan reads is loaded,
  links the agencies' people to SIAK (``core.padan``) and emits its own asset, which the marts
  DAG also listens to (accepted links feed the reconciliation marts);
* ``simpul_ops_freshness``: hourly, alerts when a pipeline's last successful load is too old.

A ``settle`` sensor (no pool slot) lets a batch of loads finish before marts or padan run, and a
run whose loads an earlier run already included is skipped (:mod:`simpul.orchestration.batches`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from airflow.sdk import DAG, AssetAny, task

from simpul.config import SimpulConfig, load_config
from simpul.orchestration.dags import (
    DEFAULT_ARGS,
    MARTS_ASSET,
    PADAN_ASSET,
    PADAN_DAG_ID,
    START_DATE,
    _pool,
    _serializable,
    core_asset,
)
from simpul.orchestration.secrets import with_airflow_connections

log = logging.getLogger(__name__)


def ops_dag(dag_id: str, description: str, schedule: Any, retries: int | None, doc_md: str) -> DAG:
    """An operations DAG: one run at a time, no catch-up, tagged ``ops`` and its topic."""
    args = DEFAULT_ARGS if retries is None else {**DEFAULT_ARGS, "retries": retries}
    return DAG(
        dag_id=dag_id,
        description=description,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=args,
        tags=["simpul", "ops", dag_id.removeprefix("simpul_ops_")],
        doc_md=doc_md,
    )


def marts_dag(cfg: SimpulConfig) -> DAG | None:
    """Rebuild the marts whenever a core table changes (Airflow 3 data-aware scheduling)."""
    entities = sorted({p.entity for p in cfg.pipelines.values()})
    if not entities:
        return None
    assets = [core_asset(e) for e in entities]
    if padan_inputs(cfg):
        assets.append(PADAN_ASSET)
    with ops_dag(
        "simpul_ops_marts",
        "Bangun ulang marts saat core berubah / rebuild marts when core changes",
        AssetAny(*assets),
        None,
        (
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
    with ops_dag(
        PADAN_DAG_ID,
        "Padan NIK: tautkan orang antar-instansi ke SIAK / link people to SIAK",
        AssetAny(*assets),
        1,
        (
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


def skip_if_covered(
    wh: Any, consumer: str, load_ids: list[str], also: tuple[str, ...] = ()
) -> None:
    """Skip (bilingual reason) when an earlier run of ``consumer`` included every load (and
    recorded the markers ``also``)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from simpul.orchestration.batches import uncovered

    if not uncovered(wh, consumer, [*load_ids, *also]):
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
    recorded_by_work: tuple[str, ...] | None = None,
) -> Any:
    """Run ``work(wh)`` for ``consumer`` (marts, padan) once per batch of loads: skip when an
    earlier run included every one of ``load_ids``; after ``work`` (and ``done(result)``),
    record the loads that were committed before it started (:mod:`simpul.orchestration.batches`).
    ``recorded_by_work`` (the marts, which record what they include in their own transaction):
    record nothing here; a skip also needs these markers."""
    from datetime import UTC, datetime

    from simpul.orchestration import batches
    from simpul.warehouse import warehouse

    with warehouse() as wh:
        if only_if_uncovered and load_ids:
            skip_if_covered(wh, consumer, load_ids, recorded_by_work or ())
        started = datetime.now(UTC)
        included = batches.committed_loads(wh) if recorded_by_work is None else []
        result = work(wh)
        if recorded_by_work is None and done(result):
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

    from simpul.warehouse.marts_changes import CONSUMER, PUBLISHED

    result = once_per_batch(
        CONSUMER, load_ids, only_if_uncovered, marts.build_marts, recorded_by_work=(PUBLISHED,)
    )
    out: dict[str, Any] = {"triggered_by": load_ids or []}
    if isinstance(result, dict):
        out.update({str(k): v for k, v in result.items()})
    elif result is not None:
        out["result"] = str(result)
    return out


def freshness_dag(cfg: SimpulConfig) -> DAG:
    with ops_dag(
        "simpul_ops_freshness",
        "Cek kemutakhiran data per sumber / data freshness per source",
        "@hourly",
        1,
        (
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


def build_ops_dags(cfg: SimpulConfig | None = None) -> dict[str, DAG]:
    """The operations DAGs (marts on core assets, padan after its inputs' loads, hourly
    freshness)."""
    cfg = cfg or load_config()
    dags = {}
    for dag in (marts_dag(cfg), padan_dag(cfg), freshness_dag(cfg)):
        if dag is not None:
            dags[dag.dag_id] = dag
    return dags
