# The project's own image: Airflow 3.3.2 (Celery and FAB providers included) and Simpul, from the
# pinned lock file (uv.lock). One image for every Airflow component and the `simpul` CLI.
# Everything the DAGs open at run time lives under /opt/simpul (PROJECT_ROOT: the project is
# installed editable): simpul.yaml, exchange/agreements.yaml, mappings/, expectations/ and the
# data files inside simpul/ (reference CSVs, ops.yaml, survivorship.yaml);
# tests/test_compose.py checks these COPY lines against what the code opens.
FROM python:3.11-slim-bookworm
ENV UV_PYTHON_PREFERENCE=only-system UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy \
    PATH=/opt/simpul/.venv/bin:$PATH AIRFLOW_HOME=/opt/airflow PYTHONUNBUFFERED=1 \
    TZ=Asia/Jakarta
RUN pip install --no-cache-dir uv==0.13.8 && useradd -m -u 50000 -g 0 airflow && \
    apt-get update && apt-get install -y --no-install-recommends curl tzdata && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /opt/simpul
# dependencies first (cached layer), then the project itself
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY simpul simpul
COPY connectors connectors
COPY mappings mappings
COPY expectations expectations
COPY exchange exchange
COPY dags dags
COPY docs docs
COPY simpul.yaml ./
RUN uv sync --frozen --no-dev && \
    mkdir -p var /opt/airflow/logs && \
    chown -R airflow:0 var /opt/airflow && chmod -R g+rwX var /opt/airflow
USER airflow
ENTRYPOINT ["airflow"]
