"""Generate the Airflow DAGs from the validated config.

* one DAG per pipeline (``simpul_<pipeline>``): extract -> transform -> load, whose load emits
  the asset ``simpul://warehouse/core/<entity>`` with the load's counts as extra;
* ``simpul_ops_marts``: data-aware, runs when any core asset is updated, rebuilds the marts;
* ``simpul_ops_freshness``: hourly, alerts when a pipeline's last successful load is too old;
* ``simpul_config_error``: registered *instead* of all of them when ``simpul.yaml`` is invalid,
  so the UI shows the bilingual reason rather than an opaque import error.

Task bodies import the pipeline code lazily, so parsing a DAG file stays fast (GX alone takes
~6 s to import). Tasks pass ids, paths and counts through XCom, never data frames. The warehouse
tasks share a pool of one slot because DuckDB allows a single writer. Every task alerts on its
final failure (:class:`~simpul.orchestration.alerts.SimpulNotifier`).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Asset, AssetAny, task

from simpul.config import ConfigError, PipelineSettings, SimpulConfig, load_config
from simpul.orchestration.alerts import SimpulNotifier
from simpul.orchestration.secrets import with_airflow_connections

log = logging.getLogger(__name__)

WAREHOUSE_POOL = os.environ.get("SIMPUL_WAREHOUSE_POOL", "simpul_warehouse")
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "simpul",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    "on_failure_callback": SimpulNotifier(),
}
CONFIG_ERROR_DAG_ID = "simpul_config_error"
MARTS_ASSET = Asset("simpul://warehouse/marts", extra={"layer": "marts"})


def core_asset(entity: str) -> Asset:
    return Asset(f"simpul://warehouse/core/{entity}", extra={"layer": "core"})


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


def check_drift(name: str, p: PipelineSettings, load_id: str, context: dict[str, Any]) -> None:
    """Alert once per new column set when a delivery carries columns the mapping ignores.

    Missing columns fail ``transform`` itself (and its failure alert says "schema drift").
    """
    from simpul.config import paths
    from simpul.landing import find_manifest
    from simpul.mapping import load_mapping
    from simpul.orchestration.alerts import drift_alert, due, send_alert

    manifest = find_manifest(paths().landing, load_id)
    spec = load_mapping(p.mapping)
    added = sorted(set(manifest.columns) - spec.source_columns)
    if not added or not manifest.row_count:
        return
    if due(f"drift:{name}:{','.join(added)}", timedelta(days=365)):
        dag = context.get("dag")
        send_alert(
            drift_alert(name, load_id, added, getattr(dag, "dag_id", None), context.get("run_id"))
        )


def pipeline_dag(name: str, p: PipelineSettings, cfg: SimpulConfig) -> DAG:
    source = cfg.sources[p.source]
    pool = _pool()
    with DAG(
        dag_id=f"simpul_{name}",
        description=f"{source.agency}: {p.stream} -> core.{p.entity}",
        schedule=p.schedule,
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
            f"rate exceeds {p.max_error_rate:.0%} is held back whole and alerted."
        ),
    ) as dag:
        asset = core_asset(p.entity)

        @task(pool=pool)
        @with_airflow_connections
        def extract() -> dict[str, Any]:
            from simpul.pipeline import extract as run_extract

            return run_extract(name)

        @task(retries=0, pool=pool)  # reads the last schema from the warehouse
        @with_airflow_connections
        def transform(landed: dict[str, Any], **context: Any) -> dict[str, Any]:
            from simpul.pipeline import transform as run_transform

            result = run_transform(name, landed["load_id"])
            try:
                check_drift(name, p, landed["load_id"], context)
            except Exception as exc:  # noqa: BLE001 - the drift check never fails a run
                log.warning("schema drift check skipped: %s", type(exc).__name__)
            return result

        @task(pool=pool, outlets=[asset])
        @with_airflow_connections
        def load(staged: dict[str, Any], **context: Any) -> dict[str, Any]:
            from simpul.pipeline import load as run_load

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
            return _serializable(result)

        load(transform(extract()))
    return dag


def marts_dag(cfg: SimpulConfig) -> DAG | None:
    """Rebuild the marts whenever a core table changes (Airflow 3 data-aware scheduling)."""
    entities = sorted({p.entity for p in cfg.pipelines.values()})
    if not entities:
        return None
    assets = [core_asset(e) for e in entities]
    with DAG(
        dag_id="simpul_ops_marts",
        description="Bangun ulang marts saat core berubah / rebuild marts when core changes",
        schedule=AssetAny(*assets),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["simpul", "ops", "marts"],
        doc_md=(
            "Dijalankan oleh event aset `simpul://warehouse/core/<entitas>` dari tugas load. "
            "Event dari kiriman yang ditahan (held) atau sudah dimuat dilewati.\n\n"
            "Triggered by the `simpul://warehouse/core/<entity>` asset events of the load tasks; "
            "calls `simpul.warehouse.marts.build_marts(wh)`. Events of held or already-loaded "
            "deliveries do not rebuild anything."
        ),
    ) as dag:

        @task(pool=_pool(), outlets=[MARTS_ASSET])
        @with_airflow_connections
        def build_marts(**context: Any) -> dict[str, Any]:
            from airflow.sdk.exceptions import AirflowSkipException

            changed = changed_loads(context.get("triggering_asset_events") or {})
            if context.get("triggering_asset_events") and not changed:
                raise AirflowSkipException(
                    "tidak ada muatan baru (hanya held/already_loaded) / "
                    "no new load (only held or already-loaded deliveries)"
                )
            return run_build_marts(changed)

        build_marts()
    return dag


def changed_loads(events: Any) -> list[str]:
    """Load ids of triggering asset events that actually changed core (status ``loaded``)."""
    out = []
    for evs in dict(events).values():
        for ev in evs:
            extra = getattr(ev, "extra", None) or {}
            if extra.get("status") == "loaded" and extra.get("load_id"):
                out.append(str(extra["load_id"]))
    return out


def run_build_marts(load_ids: list[str] | None = None) -> dict[str, Any]:
    """Call ``simpul.warehouse.marts.build_marts(wh)``; skip clearly if it does not exist yet."""
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
    from simpul.warehouse import open_warehouse

    wh = open_warehouse()
    try:
        result = marts.build_marts(wh)
    finally:
        wh.dispose()
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
    from simpul.orchestration.alerts import due, freshness_alert, send_alert
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
    """The operations DAGs (marts on core assets, hourly freshness)."""
    cfg = cfg or load_config()
    dags = {}
    for dag in (marts_dag(cfg), freshness_dag(cfg)):
        if dag is not None:
            dags[dag.dag_id] = dag
    return dags


def build_all() -> dict[str, DAG]:
    """Everything the ``dags/`` folder registers; an invalid config yields the error DAG only."""
    try:
        cfg = load_config()
        return {**build_dags(cfg), **build_ops_dags(cfg)}
    except ConfigError as exc:
        log.error("simpul config invalid: %s", exc)
        return config_error_dag(exc)
