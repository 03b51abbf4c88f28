"""Simpul pipelines for Airflow: one DAG per entry of ``simpul.yaml`` (generated, never
copy-pasted). The factory lives in :mod:`simpul.orchestration.dags`.

An invalid config registers the single DAG ``simpul_config_error`` whose description, docs and
failing task carry the bilingual reason, instead of an opaque import error.
"""

from simpul.config import ConfigError
from simpul.orchestration.dags import build_dags, config_error_dag

try:
    _dags = build_dags()
except ConfigError as _exc:
    _dags = config_error_dag(_exc)

globals().update(_dags)
