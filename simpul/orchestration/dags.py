"""Generate the Airflow DAGs from the validated config.

* one DAG per pipeline (``simpul_<pipeline>``): extract -> transform -> load, whose load emits
  the asset ``simpul://warehouse/core/<entity>`` with the load's counts as extra;
* the operations DAGs (marts, padan, freshness): :mod:`simpul.orchestration.ops_dags`;
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
import time
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, task

from simpul.config import ConfigError, PipelineSettings, SimpulConfig, load_config
from simpul.orchestration.notifier import SimpulNotifier
from simpul.orchestration.secrets import with_airflow_connections
from simpul.orchestration.task_runs import on_task_failure, on_task_retry, on_task_success

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
    """The DAG of one pipeline: extract -> transform -> load (the task bodies are below)."""
    source = cfg.sources[p.source]
    with DAG(
        dag_id=f"simpul_{name}",
        description=f"{source.agency}: {p.stream} -> core.{p.entity}",
        schedule=p.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["simpul", f"source:{p.source}", *p.tags],
        doc_md=_pipeline_doc(p, source.agency),
    ) as dag:
        asset = core_asset(p.entity)

        @task(show_return_value_in_logs=False)  # network: no warehouse slot
        @with_airflow_connections
        def extract() -> dict[str, Any]:
            return extract_task(name)

        @task(retries=0, show_return_value_in_logs=False)  # CPU (GX); reads the warehouse
        @with_airflow_connections
        def transform(landed: dict[str, Any], **context: Any) -> dict[str, Any]:
            return transform_task(name, p, landed, context)

        @task(pool=_pool(), outlets=[asset], show_return_value_in_logs=False)
        @with_airflow_connections
        def load(staged: dict[str, Any], **context: Any) -> dict[str, Any]:
            return load_task(name, asset, staged, context)

        landed: Any = extract()  # XComArgs: Airflow passes the values at run time
        staged: Any = transform(landed)
        load(staged)
    return dag


def _pipeline_doc(p: PipelineSettings, agency: str) -> str:
    return (
        f"Menarik **{p.stream}** dari {agency} ({p.source}), memetakan dengan "
        f"`mappings/{p.mapping}.yaml`, memvalidasi dengan suite `{p.suite}`, mengarantina "
        f"baris yang gagal dan menggabungkan sisanya ke `core.{p.entity}`.\n\n"
        f"Pulls **{p.stream}** from {agency} ({p.source}), maps it with "
        f"`mappings/{p.mapping}.yaml`, validates it with suite `{p.suite}`, quarantines "
        f"failing rows and merges the rest into `core.{p.entity}`. A delivery whose error "
        f"rate exceeds {p.max_error_rate:.0%} is held back whole and alerted; its load "
        f"task then fails (no retry) until released with `simpul release`."
    )


def extract_task(name: str) -> dict[str, Any]:
    """The extract task's body: land the source's rows (configuration errors fail at once)."""
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


def transform_task(
    name: str, p: PipelineSettings, landed: dict[str, Any], context: dict[str, Any]
) -> dict[str, Any]:
    """The transform task's body: map and validate, then alert on additive schema drift."""
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


def load_task(
    name: str, asset: Asset, staged: dict[str, Any], context: dict[str, Any]
) -> dict[str, Any]:
    """The load task's body: merge into core, emit the asset with the load's counts, alert."""
    from simpul.ledger import load_summary
    from simpul.pipeline import load as run_load

    started = time.monotonic()
    result = run_load(name, staged["load_id"])
    context["outlet_events"][asset].extra = load_summary(result)
    after_load(name, result, context)
    log.info("%s", summary_line(name, result, time.monotonic() - started))
    fail_held(name, result)  # held: the task ends failed, no retry (exit code 3 in CLI)
    return _serializable(result)


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
