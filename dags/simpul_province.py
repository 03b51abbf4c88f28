"""The province of Sumatera Selatan as per-kabupaten partitions (issue 18 item 6): one mapped
task per kabupaten export (``.expand()``), spread over the Celery workers, then the marts once.
The task functions live in :mod:`simpul.orchestration.province`.

On DuckDB the partitions share the warehouse pool of one slot (one writer); on PostgreSQL (the
shared warehouse of several workers) they run side by side.

Registered only when ``SIMPUL_PROVINCE_DIR`` is set (a kecamatan install has no province
folder) and the config is valid (``simpul_pipelines.py`` shows a config error).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

from simpul.config import ConfigError, load_config, warehouse_url
from simpul.orchestration import province
from simpul.orchestration.dags import DEFAULT_ARGS


def _province_dag() -> DAG:
    pool = "simpul_warehouse" if warehouse_url().startswith("duckdb") else "default_pool"
    with DAG(
        dag_id="simpul_province",
        description=(
            "Provinsi per kabupaten: land, transform, load tiap partisi lalu marts / "
            "the province per kabupaten: land, transform, load each partition, then the marts"
        ),
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "retries": 1, "retry_delay": timedelta(minutes=1)},
        tags=["simpul", "province"],
        doc_md=(
            "Satu tugas per berkas `*.parquet` di `SIMPUL_PROVINCE_DIR` (ekspor SIAK satu "
            "kabupaten), dipetakan dengan `.expand()`; marts dibangun sekali sesudahnya.\n\n"
            "One task per `*.parquet` in `SIMPUL_PROVINCE_DIR` (one kabupaten's SIAK export), "
            "mapped with `.expand()`; the marts are built once after all of them."
        ),
    ) as dag:

        @task
        def list_partitions() -> list[dict[str, str]]:
            return province.partitions()

        @task(pool=pool)
        def partition(partition: dict[str, str]) -> dict[str, Any]:
            return province.run_partition(partition)

        @task(pool=pool)
        def marts(results: list[dict[str, Any]]) -> dict[str, Any]:
            return province.build_marts_after(list(results))

        marts(partition.expand(partition=list_partitions()))
    return dag


if province.province_dir() is not None:
    try:
        load_config()
    except ConfigError:
        pass  # simpul_pipelines.py registers simpul_config_error with the reason
    else:
        simpul_province = _province_dag()
