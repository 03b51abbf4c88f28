# The project's own image: Airflow 3.3.2 (CeleryExecutor provider included) and Simpul, from the
# pinned lock file (uv.lock). One image for every Airflow component and the `simpul` CLI.
FROM python:3.11-slim-bookworm
ENV UV_PYTHON_PREFERENCE=only-system UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy \
    PATH=/opt/simpul/.venv/bin:$PATH AIRFLOW_HOME=/opt/airflow PYTHONUNBUFFERED=1 \
    TZ=UTC
RUN pip install --no-cache-dir uv==0.13.8 && useradd -m -u 50000 -g 0 airflow && \
    apt-get update && apt-get install -y --no-install-recommends curl && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /opt/simpul
# dependencies first (cached layer), then the project itself
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY simpul simpul
COPY connectors connectors
COPY mappings mappings
COPY expectations expectations
COPY dags dags
COPY simpul.yaml ./
RUN uv sync --frozen --no-dev && \
    mkdir -p var /opt/airflow/logs /opt/airflow/auth && \
    chown -R airflow:0 var /opt/airflow && chmod -R g+rwX var /opt/airflow
USER airflow
ENTRYPOINT ["airflow"]
