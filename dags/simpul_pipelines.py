"""Simpul pipelines for Airflow: one DAG per entry of ``simpul.yaml`` (generated, never
copy-pasted). The factory lives in :mod:`simpul.orchestration.dags`."""

from simpul.orchestration.dags import build_dags

globals().update(build_dags())
