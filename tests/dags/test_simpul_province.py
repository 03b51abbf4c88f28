"""The province DAG parses and maps one task per kabupaten export (``.expand()``)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from connectors.base.contract import rows_to_batch
from simpul.orchestration import province
from tests.siak_rows import person

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "simpul_province.py"


def test_the_dag_maps_one_task_per_partition(airflow_home, simpul_home, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    folder = tmp_path / "provinsi"
    folder.mkdir()
    for name, people in (("16.08.parquet", (1, 2)), ("16.09.parquet", (3,))):
        pq.write_table(pa.Table.from_batches([rows_to_batch([person(i) for i in people])]),
                       folder / name)  # fmt: skip
    monkeypatch.setenv("SIMPUL_PROVINCE_DIR", str(folder))
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    dag = bag.dags["simpul_province"]
    assert dag.max_active_runs == 1 and "simpul" in dag.tags
    assert {t.task_id for t in dag.tasks} == {"list_partitions", "partition", "marts"}
    mapped = dag.get_task("partition")
    assert type(mapped).__name__.endswith("MappedOperator")
    assert mapped.pool == "simpul_warehouse"  # DuckDB: one writer at a time
    listed = dag.get_task("list_partitions").python_callable()
    assert (
        [p["kabupaten"] for p in listed]
        == ["16.08", "16.09"]
        == [p["kabupaten"] for p in province.partitions()]
    )


def test_no_province_folder_no_dag(airflow_home, simpul_home, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.delenv("SIMPUL_PROVINCE_DIR", raising=False)
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    assert "simpul_province" not in bag.dags  # a kecamatan install has no province folder
