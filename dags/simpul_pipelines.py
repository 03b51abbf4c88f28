"""Simpul pipelines: one DAG per entry of ``simpul.yaml`` (generated, never copy-pasted)."""

from simpul.orchestration.dags import build_dags

globals().update(build_dags())
