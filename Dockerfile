# The project's own image: Airflow and Simpul from the pinned lock file (uv.lock).
FROM python:3.11-slim-bookworm
ENV UV_PYTHON_PREFERENCE=only-system UV_COMPILE_BYTECODE=1 PATH=/opt/simpul/.venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow
RUN pip install --no-cache-dir uv==0.13.8 && useradd -m -u 50000 airflow && \
    apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/simpul
COPY pyproject.toml uv.lock README.md ./
COPY simpul simpul
COPY connectors connectors
COPY mappings mappings
COPY expectations expectations
COPY dags dags
COPY simpul.yaml ./
RUN uv sync --frozen --no-dev && mkdir -p var /opt/airflow && chown -R airflow var /opt/airflow
USER airflow
ENTRYPOINT ["airflow"]
