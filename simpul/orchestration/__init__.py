"""Airflow wiring: DAGs generated from ``simpul.yaml``. Only imported by files in ``dags/``."""
