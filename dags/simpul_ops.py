"""Simpul operations DAGs for Airflow: ``simpul_ops_marts`` (on core asset updates),
``simpul_ops_padan`` (after SIAK and agency loads) and ``simpul_ops_freshness`` (hourly).
See :mod:`simpul.orchestration.ops_dags`.

With an invalid config this file registers nothing: ``simpul_pipelines.py`` shows the error.
"""

from simpul.config import ConfigError
from simpul.orchestration.ops_dags import build_ops_dags

try:
    _dags = build_ops_dags()
except ConfigError:
    _dags = {}

globals().update(_dags)
