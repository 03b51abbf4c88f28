"""Operations: Airflow wiring generated from ``simpul.yaml`` (``dags``), health, alerts, freshness
and the operator commands. The top layer with the CLI (see ``.importlinter``); ``audit`` and
``causes`` sit lower, with the warehouse and the pipeline that use them."""
