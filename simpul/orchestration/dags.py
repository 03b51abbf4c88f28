"""Generate one Airflow DAG per pipeline from the validated config.

Task bodies import the pipeline code lazily, so parsing a DAG file stays fast (GX alone takes
~6 s to import). Tasks pass ids, paths and counts through XCom, never data frames. The warehouse
tasks share a pool of one slot because DuckDB allows a single writer.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Asset, task

from simpul.config import PipelineSettings, SimpulConfig, load_config

WAREHOUSE_POOL = os.environ.get("SIMPUL_WAREHOUSE_POOL", "simpul_warehouse")
DEFAULT_ARGS = {
    "owner": "simpul",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
}


def core_asset(entity: str) -> Asset:
    return Asset(f"simpul://warehouse/core/{entity}", extra={"layer": "core"})


def pipeline_dag(name: str, p: PipelineSettings, cfg: SimpulConfig) -> DAG:
    source = cfg.sources[p.source]
    pool = WAREHOUSE_POOL if _pool_enabled() else None
    with DAG(
        dag_id=f"simpul_{name}",
        description=f"{source.agency}: {p.stream} -> core.{p.entity}",
        schedule=p.schedule,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["simpul", f"source:{p.source}", *p.tags],
        doc_md=(
            f"Pulls **{p.stream}** from {source.agency} ({p.source}), maps it with "
            f"`mappings/{p.mapping}.yaml`, validates it with suite `{p.suite}`, quarantines "
            f"failing rows and merges the rest into `core.{p.entity}`."
        ),
    ) as dag:
        asset = core_asset(p.entity)

        @task(pool=pool)
        def extract() -> dict[str, Any]:
            from simpul.pipeline import extract as run_extract

            return run_extract(name)

        @task(retries=0)
        def transform(landed: dict[str, Any]) -> dict[str, Any]:
            from simpul.pipeline import transform as run_transform

            return run_transform(name, landed["load_id"])

        @task(pool=pool, outlets=[asset])
        def load(staged: dict[str, Any], **context: Any) -> dict[str, Any]:
            from simpul.pipeline import load as run_load

            result = run_load(name, staged["load_id"])
            context["outlet_events"][asset].extra = {
                k: result[k]
                for k in (
                    "load_id",
                    "status",
                    "rows_received",
                    "rows_loaded",
                    "rows_quarantined",
                    "rows_duplicate",
                )
            }
            return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in result.items()}

        load(transform(extract()))
    return dag


def _pool_enabled() -> bool:
    return os.environ.get("SIMPUL_WAREHOUSE_POOL", "simpul_warehouse") != ""


def build_dags(cfg: SimpulConfig | None = None) -> dict[str, DAG]:
    cfg = cfg or load_config()
    dags = {}
    for name, p in cfg.pipelines.items():
        dag = pipeline_dag(name, p, cfg)
        dags[dag.dag_id] = dag
    return dags
